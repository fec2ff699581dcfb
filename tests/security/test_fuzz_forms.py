"""Hostile values in every state-changing form: never a 500, nothing written on a refusal,
and every echoed payload HTML-escaped.

Each target names a page and which of its POST forms to fuzz. The forms are read from the page
as a browser would see them, so a new field is fuzzed without touching this file. Hypothesis
keeps, drops or replaces each field with a hostile value (control characters, NUL, 100 kB
text, HTML/JS, formula-injection strings, huge/negative/NaN numbers, malformed dates).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.security._fuzz_world import (
    DROP,
    FUZZ,
    IMG,
    KEEP,
    SCRIPT,
    FormSpec,
    Fuzz,
    assert_escaped,
    changed_tables,
    danger_flashes,
    failed,
    field_action,
    fuzz_fixture,  # noqa: F401  (fixture)
    hostile,
    placeholder_docx,
    post_forms,
    row_counts,
    world_template,  # noqa: F401  (fixture)
)
from workbench.db import db

# examples per form: small enough for `make test` on 2 shared cores; FUZZ_EXAMPLES=200 digs deeper
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


@dataclass(frozen=True)
class Target:
    name: str
    actor: str | None  # 'lead', 'admin', 'client' or anonymous
    page: str  # formatted with the world: {e}, {w}
    action: str  # regex on the form's action
    #: tables a refused request may still write (a failed login is audited)
    may_write_on_failure: frozenset[str] = frozenset()
    #: buttons never pressed (their success path is destructive and tested elsewhere)
    skip_buttons: tuple[str, ...] = ()
    #: also post the same fields to these URLs
    also: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


#: a value that survives only if NUL and control characters are cleaned before PostgreSQL
NUL_AND_CONTROLS = "a\x00b\x01\x1b\x85\u2028c"

E = "/engagements/{e}"
S = E + "/surveys/{w.survey_id}"
R = E + "/report/"
TARGETS = [
    Target("login", None, "/login", r"^/login$", frozenset({"audit_entries"})),
    Target("engagement_new", "lead", "/engagements/new", r"/engagements/new$"),
    Target("engagement_edit", "lead", E + "/edit", r"/edit$"),
    Target("members", "lead", E, r"/members$"),
    Target("transition", "lead", E, r"/transition$"),
    Target("budget", "lead", E + "/budget", r"/budget$"),
    Target("goal_texts", "lead", E + "/goals", r"/goals$"),
    Target("goal_new", "lead", E + "/goals/new", r"/goals/new$"),
    Target("goal_edit", "lead", E + "/goals/{w.goal_id}/edit", r"/edit$"),
    Target("indicator_edit", "lead", E + "/indicators/D11/edit", r"/edit$"),
    Target("indicator_add_child", "lead", E + "/indicators/D1/edit", r"/children$"),
    Target("weights_children", "lead", E + "/indicators/D1/weights", r"/weights/direct$"),
    Target("weights_children_ahp", "lead", E + "/indicators/D1/weights", r"/weights/ahp$"),
    Target("weights_group_ahp", "lead", E + "/indicators/D1/weights", r"/weights/group-ahp$"),
    Target("weights_entropy", "lead", E + "/indicators/D1/weights", r"/weights/entropy$"),
    Target("weights_top", "lead", E + "/indicators/weights", r"/weights/direct$"),
    Target("score_checklist", "lead", E + "/scores/A11", r"/scores/A11$"),
    Target("score_ratio", "lead", E + "/scores/C11", r"/scores/C11$"),
    Target("score_qualitative", "lead", E + "/scores/C41", r"/scores/C41$"),
    Target("score_deduction", "lead", E + "/scores/B13", r"/scores/B13$"),
    Target(
        "findings",
        "lead",
        E + "/report/findings",
        r"/(findings|recommendations)/(add|update)$",
        skip_buttons=("delete",),
    ),
    Target("rectification", "lead", E + "/report/rectification", r"/rectification$"),
    # the review of the report: every step has a version on the page (see _review_versions)
    Target("report_build", "lead", R, r"/report/build$"),
    Target("report_submit", "lead", R, r"/submit$"),
    Target("report_sign", "lead", R, r"/sign$"),
    Target("report_consult", "lead", R, r"/consult$"),
    Target("report_comment", "lead", R, r"/comments$"),
    Target("report_respond", "lead", R, r"/respond$"),
    Target("report_issue", "lead", R, r"/issue$"),
    Target("report_client_comment", "client", E, r"/client-comment$"),
    Target("report_template_upload", "lead", E + "/report/templates", r"/templates$"),
    Target("rectification_client", "client", E + "/report/rectification", r"/rectification$"),
    Target("portfolio_rules", "client", "/portfolio/rules", r"/rules$"),
    Target("expert_new", "lead", "/experts/new", r"/experts/new$"),
    Target("expert_edit", "lead", "/experts/{w.expert_id}", r"/experts/\d+$"),
    Target("expert_declare", None, "/x/{w.expert_token}", r"/declare$"),
    Target(
        "expert_sheet",
        None,
        "/x/{w.extra[sheet_token]}",
        r"/sheet(/submit)?$",
        also=("/x/{w.extra[sheet_token]}/draft",),
    ),
    Target("panel_settings", "lead", E + "/panel", r"/settings$"),
    Target("panel_reopen", "lead", E + "/panel", r"/reopen$"),
    Target("public_survey", None, "/s/{w.public_token}", r"^/s/"),
    Target("survey_new", "lead", E + "/surveys/", r"/surveys/new$"),
    Target(
        "survey_builder",
        "lead",
        E + "/surveys/{w.extra[draft_survey_id]}/build",
        r"/build/(add|\d+/(save|up|down|delete))$",
        extra={"new_type": "single"},
    ),
    Target("survey_publish", "lead", S + "/publish", r"/publish$"),
    Target("survey_tokens", "lead", S + "/publish", r"/tokens$"),
    Target("survey_cleaning", "lead", S + "/cleaning", r"/cleaning$"),
    Target("survey_override", "lead", S + "/cleaning", r"/override$"),
    Target("survey_mapping", "lead", S + "/mapping", r"/mapping(/save)?$"),
    # every form of the page but the upload (its own importer fuzzes it: test_fuzz_imports)
    Target("workpapers", "lead", E + "/workpapers/", r"/workpapers/(?!evidence)[a-z/-]+$"),
    Target("user_new", "admin", "/admin/users/new", r"/users/new$"),
    Target("user_edit", "admin", "/admin/users/{w.user_id}/edit", r"/edit$"),
    Target("org_new", "admin", "/admin/organisations/new", r"/organisations/new$"),
    Target("org_edit", "admin", "/admin/organisations/{w.organisation_id}/edit", r"/edit$"),
    Target("change_password", "lead", "/account/password", r"/account/password$"),
]


def _forms(client: Any, url: str, target: Target) -> list[FormSpec]:
    page = client.get(url)
    assert page.status_code == 200, f"{target.name}: GET {url} gave {page.status_code}"
    assert_escaped(page.data, url)
    pattern = re.compile(target.action)
    return [f for f in post_forms(page.get_data(as_text=True), url) if pattern.search(f.action)]


def _draw_data(
    data: st.DataObject, form: FormSpec, target: Target, current: dict[tuple[str, str], str]
) -> dict[str, Any]:
    post: dict[str, list[str]] = {}
    for name, value in [*form.fields, *target.extra.items()]:
        if name == "csrf_token":
            continue
        choice = data.draw(field_action, label=name)
        if choice is DROP:
            continue
        kept = current.get((form.action, name), value)
        post.setdefault(name, []).append(kept if choice is KEEP else choice)
    for name, values in form.choices.items():
        picked = data.draw(st.one_of(st.sampled_from(values), st.just(DROP), hostile), label=name)
        if picked is not DROP:
            post.setdefault(name, []).append(picked)
    buttons = [b for b in form.buttons if not any(s in b[1] for s in target.skip_buttons)]
    if buttons:
        name, value = data.draw(st.sampled_from(buttons), label="button")
        if data.draw(st.booleans(), label="hostile button"):
            value = data.draw(hostile, label="button value")
        post[name] = [value]
    if data.draw(st.booleans(), label="unexpected field"):
        post[data.draw(st.sampled_from(["id", "action", "x", "version"]))] = [
            data.draw(hostile, label="unexpected value")
        ]
    return post


def check_post(client: Any, url: str, post: dict[str, Any], target: Target) -> bool:
    """Post once and check the three properties; True when the post was refused."""
    danger_flashes(client, clear=True)  # not yet shown flashes of the previous example
    before = row_counts()
    response = client.post(url, data=post)
    assert response.status_code < 500, f"{target.name}: {url} gave {response.status_code}"
    if response.mimetype == "text/html":
        assert_escaped(response.data, url)
    refused = failed(response, client)
    if refused:
        changed = changed_tables(before, row_counts())
        unexpected = {k: v for k, v in changed.items() if k not in target.may_write_on_failure}
        assert not unexpected, (
            f"{target.name}: refused ({response.status_code}, {danger_flashes(client)}) "
            f"but wrote {unexpected}"
        )
    markup = any("<" in v for values in post.values() for v in values)
    if markup and response.status_code in (302, 303) and response.location.startswith("/"):
        shown = client.get(response.location)  # the page that shows the flash and the data
        assert shown.status_code < 500, f"{target.name}: {response.location} after the post"
        assert_escaped(shown.data, response.location)
    return refused


def _values(forms: list[FormSpec]) -> dict[tuple[str, str], str]:
    """Current value of each (form action, field), to keep hidden versions up to date."""
    return {(f.action, n): v for f in forms for n, v in f.fields}


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_hostile_form_values_never_break_a_form(
    fuzz: Fuzz, target: Target, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.ERROR)
    # report builds (build, issue) store a placeholder: rendering the template takes seconds
    monkeypatch.setattr("workbench.reports.services.render", placeholder_docx)
    client = fuzz.client(target.actor)
    url = target.page.format(e=fuzz.world.engagement_id, w=fuzz.world)
    # the forms are read once: hypothesis needs the same choices in every example
    forms = _forms(client, url, target)
    assert forms, f"{target.name}: no form matches {target.action}"
    _markup_everywhere(client, forms, target)
    _markup_everywhere(client, forms, target, payload=NUL_AND_CONTROLS, last=True)
    current = _values(_forms(client, url, target))
    also = [a.format(e=fuzz.world.engagement_id, w=fuzz.world) for a in target.also]

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        form = data.draw(st.sampled_from(forms), label="form")
        post = _draw_data(data, form, target, current)
        action = data.draw(st.sampled_from([form.action, *also]), label="url")
        if not check_post(client, action, post, target):
            # a save bumps hidden versions: keep them current for the next example
            current.update(_values(_forms(client, url, target)))

    run()
    assert "unhandled error" not in caplog.text


def _markup_everywhere(
    client: Any,
    forms: list[FormSpec],
    target: Target,
    payload: str = SCRIPT + IMG,
    last: bool = False,
) -> None:
    """Every text field at once carries ``payload`` (markup; or NUL and control characters,
    which PostgreSQL refuses): never a 500, the answer and the page after it escape it.
    ``last`` picks the last radio/checkbox value and button instead of the first."""
    for form in forms[:2]:
        post: dict[str, list[str]] = {}
        for name, value in form.fields:
            if name in ("csrf_token", "version", "id"):
                post.setdefault(name, []).append(value)
            elif re.fullmatch(r"-?\d+(\.\d+)?", value or "0") and value:
                post.setdefault(name, []).append(value)  # keep numbers valid: reach the save
            else:
                post.setdefault(name, []).append(payload)
        for name, values in form.choices.items():
            post[name] = [values[-1 if last else 0]]
        buttons = [b for b in form.buttons if not any(s in b[1] for s in target.skip_buttons)]
        if buttons:
            button = buttons[-1 if last else 0]
            post[button[0]] = [button[1]]
        check_post(client, form.action, post, target)


# regressions of the defects the fuzzing found, pinned so that they cannot come back unnoticed


def test_out_of_range_ids_are_not_found(fuzz: Fuzz) -> None:
    """A posted id beyond INTEGER overflowed the driver (500); now a plain 404."""
    client = fuzz.client("lead")
    e = fuzz.world.engagement_id
    for huge in ("2147483648", "9" * 30):
        for url, data in (
            (f"{E}/report/rectification", {"id": huge, "status": "open"}),
            (f"{E}/report/findings/update", {"id": huge, "kind": "other", "title": "t"}),
            (f"{E}/workpapers/requests/received", {"id": huge, "received": "1"}),
        ):
            before = row_counts()
            response = client.post(url.format(e=e), data=data)
            assert response.status_code == 404, (url, huge, response.status_code)
            assert not changed_tables(before, row_counts())


def test_integer_too_large_for_a_float_is_a_validation_error(fuzz: Fuzz) -> None:
    """WTForms' NumberRange overflowed on 10**400 (500); now the form refuses it."""
    client = fuzz.client("lead")
    url = f"/engagements/{fuzz.world.engagement_id}/surveys/{fuzz.world.survey_id}/tokens"
    before = row_counts()
    response = client.post(url, data={"count": "9" * 400})
    assert response.status_code == 302
    assert danger_flashes(client) and not changed_tables(before, row_counts())
    response = client.post("/engagements/new", data={"title": "t", "fiscal_year": "9" * 400})
    assert response.status_code == 200 and not changed_tables(before, row_counts())


def test_panel_score_step_beyond_its_column_is_a_validation_error(fuzz: Fuzz) -> None:
    """A step over NUMERIC(6, 3) overflowed on PostgreSQL (500); now the form refuses it."""
    client = fuzz.client("lead")
    url = f"/engagements/{fuzz.world.engagement_id}/panel/settings"
    before = row_counts()
    for step in ("123456789", "0", "-1"):
        response = client.post(url, data={"aggregation": "mean", "trim_min_n": "5", "step": step})
        assert response.status_code < 500
        assert not changed_tables(before, row_counts())


def test_junk_in_the_method_fields_is_refused(fuzz: Fuzz) -> None:
    """The method was YAML once (deep nesting raised RecursionError, a 500); now its fields are
    a form per method and junk in them is a form error."""
    client = fuzz.client("lead")
    url = f"/engagements/{fuzz.world.engagement_id}/indicators/D11/edit"
    before = row_counts()
    response = client.post(
        url,
        data={"name": "社会效益", "m-type": "[" * 3000, "m-full_score_at": "[" * 3000},
    )
    assert response.status_code == 200
    assert not changed_tables(before, row_counts())


def test_nul_in_expert_comments_and_override_notes_is_removed(fuzz: Fuzz) -> None:
    """Raw form values with NUL reached PostgreSQL (500); they are cleaned first now."""
    from workbench.experts.models import SheetScore
    from workbench.surveys.models import SurveyResponse

    w = fuzz.world
    expert = fuzz.client()
    response = expert.post(
        f"/x/{w.extra['sheet_token']}/draft",
        data={"score-D11": "8", "comment-D11": "a\x00b\x1bc", "action": "draft"},
    )
    assert response.status_code < 500
    comments = db.session.scalars(
        sa.select(SheetScore.comment).where(SheetScore.member_id == w.extra["sheet_member_id"])
    ).all()
    assert "abc" in comments and not any("\x00" in c for c in comments)

    client = fuzz.client("lead")
    response = client.post(
        f"/engagements/{w.engagement_id}/surveys/{w.survey_id}/responses/{w.response_id}/override",
        data={"decision": "exclude", "note": "重复\x00作答"},
    )
    assert response.status_code == 302
    assert db.session.get(SurveyResponse, w.response_id).override_note == "重复作答"


def test_nul_in_report_review_texts_is_removed(fuzz: Fuzz, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review comments, consultation comments and responses went raw into the audit summary:
    NUL there is a 500 on PostgreSQL. They are cleaned first now, and the texts stored clean."""
    from workbench.audit.models import AuditEntry
    from workbench.reports.models import ReportComment, ReportReview

    monkeypatch.setattr("workbench.reports.services.render", placeholder_docx)
    w = fuzz.world
    base = f"/engagements/{w.engagement_id}/report"
    lead, client = fuzz.client("lead"), fuzz.client("client")
    posts = [
        (lead, f"{base}/versions/{w.extra['report_v3']}/sign", {"decision": "reject"}, "comment"),
        (lead, f"{base}/versions/{w.extra['report_v5']}/comments", {"party": "unit"}, "text"),
        (client, f"{base}/versions/{w.extra['report_v5']}/client-comment", {}, "text"),
        (lead, f"{base}/comments/{w.extra['report_comment']}/respond", {}, "response"),
    ]
    for client_, url, data, name in posts:
        before = row_counts()
        response = client_.post(url, data={**data, name: "意见\x00a\x1bb", "author": "x\x00y"})
        assert response.status_code == 302, (url, response.status_code)
        assert not danger_flashes(client_, clear=True), url
        assert changed_tables(before, row_counts()), f"{url} saved nothing"
    texts = [
        *db.session.scalars(sa.select(ReportReview.comment)),
        *db.session.scalars(sa.select(ReportComment.text)),
        *db.session.scalars(sa.select(ReportComment.response)),
        *db.session.scalars(sa.select(ReportComment.author)),
        *db.session.scalars(sa.select(AuditEntry.summary).where(AuditEntry.summary.is_not(None))),
    ]
    assert texts.count("意见ab") >= 5 and "xy" in texts
    assert not any("\x00" in t or "\x1b" in t for t in texts)


def test_report_number_is_checked_as_stored(fuzz: Fuzz, monkeypatch: pytest.MonkeyPatch) -> None:
    """A report number longer than its column was checked for uniqueness in full but stored
    cut to 100 characters: a clash with an issued number broke the unique index (500)."""
    from workbench.reports.models import ReportVersion

    monkeypatch.setattr("workbench.reports.services.render", placeholder_docx)
    w = fuzz.world
    db.session.execute(
        sa.update(ReportVersion).where(ReportVersion.status == "issued").values(report_no="N" * 100)
    )
    db.session.commit()
    client = fuzz.client("lead")
    url = f"/engagements/{w.engagement_id}/report/versions/{w.extra['report_v6']}/issue"
    before = row_counts()
    response = client.post(url, data={"report_no": "N" * 100 + "-2"})
    assert response.status_code == 302 and danger_flashes(client, clear=True)
    assert not changed_tables(before, row_counts())
    response = client.post(url, data={"report_no": " 评字\x00第2号 " + "x" * 200})
    assert response.status_code == 302 and not danger_flashes(client)  # the success path
    issued = db.session.scalars(
        sa.select(ReportVersion.report_no).where(ReportVersion.status == "issued")
    ).all()
    assert sorted(issued) == sorted(["N" * 100, ("评字第2号 " + "x" * 200)[:100]])
