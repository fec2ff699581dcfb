"""Every route of the URL map, requested by every actor, against an explicit expected outcome.

``EXPECTED`` maps ``"<METHOD> <endpoint>"`` to one outcome class per actor (see
:func:`tests.security.conftest.classify`). A route in the URL map without an entry fails the
test, and so does an entry whose route no longer exists. Actors who must not learn that an
object exists get 404, never 403. POSTs are sent with CSRF checks off (as in all view tests);
every POST that got past the permission checks is undone by restoring the world's snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.security.conftest import (
    ACTORS,
    ANONYMOUS_ACTORS,
    Snapshot,
    World,
    classify,
    login_client,
)

LOGGED_IN = tuple(a for a in ACTORS if a not in ANONYMOUS_ACTORS)
TEAM = ("lead", "member", "reviewer", "admin")  # on the engagement's team (admins see all)
LEADS = ("lead", "admin")  # manage the team, the workflow and the expert panel
STAFF = ("lead", "member", "reviewer", "outsider", "admin")  # the evaluation firm's users
EVALUATORS = ("lead", "member", "outsider", "admin")  # admin and evaluator roles
CLIENTS = ("client", "other_client")
EXPERTS = ("expert_a", "expert_b")
SKIPPED_ENDPOINTS = {"static", "bootstrap.static"}  # files, no permission


def expect(
    ok: tuple[str, ...] = (),
    forbidden: tuple[str, ...] = (),
    anonymous: str = "login",
    others: str = "404",
) -> dict[str, str]:
    """Outcome per actor: ``ok`` → "ok", ``forbidden`` → "403", the actors without an account
    → ``anonymous`` (the login page by default), everyone else → ``others`` (404)."""
    out = {}
    for actor in ACTORS:
        if actor in ok:
            out[actor] = "ok"
        elif actor in forbidden:
            out[actor] = "403"
        elif actor in ANONYMOUS_ACTORS:
            out[actor] = anonymous
        else:
            out[actor] = others
    return out


EVERYONE = expect(ok=ACTORS)
ANY_USER = expect(ok=LOGGED_IN)
ADMIN_ONLY = expect(ok=("admin",))
STAFF_ONLY = expect(ok=STAFF)
EVALUATORS_ONLY = expect(ok=EVALUATORS)
BUREAUS_ONLY = expect(ok=CLIENTS)  # a finance bureau's own settings
VIEW = expect(ok=(*TEAM, "client"))  # engagement pages the commissioning bureau sees too
EDIT = expect(ok=TEAM, forbidden=("client",))  # the bureau sees the page but may not change it
INTERNAL = expect(ok=TEAM)  # the firm's working pages: unknown to clients
MANAGE = expect(ok=LEADS, forbidden=("member", "reviewer"))  # the lead's, clients: 404
EXPERT_LINK = expect(ok=EXPERTS, anonymous="404")  # only a valid personal link opens it
PUBLIC_LINK = expect(ok=("respondent",), anonymous="404")  # only a valid public link
NOBODY = expect()  # every account 404 (objects of another engagement)

EXPECTED: dict[str, dict[str, str]] = {
    # accounts
    "GET accounts.index": EVERYONE,  # a redirect to the engagement list
    "GET accounts.login": EVERYONE,
    "POST accounts.login": EVERYONE,
    "POST accounts.logout": ANY_USER,
    "POST accounts.set_language": EVERYONE,
    "GET accounts.change_password": ANY_USER,
    "POST accounts.change_password": ANY_USER,
    "GET accounts.users": ADMIN_ONLY,
    "GET accounts.user_new": ADMIN_ONLY,
    "POST accounts.user_new": ADMIN_ONLY,
    "GET accounts.user_edit": ADMIN_ONLY,
    "POST accounts.user_edit": ADMIN_ONLY,
    "POST accounts.user_end_sessions": ADMIN_ONLY,
    "GET accounts.organisations": STAFF_ONLY,
    "GET accounts.organisation_new": EVALUATORS_ONLY,
    "POST accounts.organisation_new": EVALUATORS_ONLY,
    "GET accounts.organisation_edit": ADMIN_ONLY,
    "POST accounts.organisation_edit": ADMIN_ONLY,
    # engagements
    "GET engagements.list": ANY_USER,
    "GET engagements.new": EVALUATORS_ONLY,
    "POST engagements.new": EVALUATORS_ONLY,
    "GET engagements.detail": VIEW,
    "GET engagements.edit": EDIT,
    "POST engagements.edit": EDIT,
    "POST engagements.transition": MANAGE,
    "POST engagements.add_member": MANAGE,
    "POST engagements.remove_member": MANAGE,
    "GET engagements.budget": EDIT,
    "POST engagements.budget": EDIT,
    "GET engagements.budget_xlsx": VIEW,
    "GET engagements.goals": VIEW,
    "POST engagements.goals": EDIT,
    "GET engagements.goal_new": EDIT,
    "POST engagements.goal_new": EDIT,
    "GET engagements.goal_edit": EDIT,
    "POST engagements.goal_edit": EDIT,
    "POST engagements.goal_delete": EDIT,
    "POST engagements.goal_import": EDIT,
    "GET engagements.goal_template": ANY_USER,  # an empty form, no data
    "GET engagements.goals_xlsx": VIEW,
    "GET engagements.audit": INTERNAL,
    "GET engagements.archive_package": INTERNAL,  # of the archived engagement
    "GET engagements.archive_progress": INTERNAL,  # the package build's progress (JSON)
    # expert registry and panel
    "GET experts.registry": STAFF_ONLY,
    "GET experts.expert_new": EVALUATORS_ONLY,
    "POST experts.expert_new": EVALUATORS_ONLY,
    "GET experts.expert_edit": STAFF_ONLY,
    "POST experts.expert_edit": expect(ok=EVALUATORS, forbidden=("reviewer",)),
    "GET experts.panel": INTERNAL,
    "GET experts.panel_xlsx": INTERNAL,
    "GET experts.offline_sheet": INTERNAL,
    "GET experts.issued": MANAGE,
    "POST experts.invite": MANAGE,
    "POST experts.reissue": MANAGE,
    "POST experts.revoke": MANAGE,
    "POST experts.reopen": MANAGE,
    "POST experts.settings": MANAGE,
    "POST experts.round2": MANAGE,
    "POST experts.offline_upload": MANAGE,
    # the expert's own pages (personal link)
    "GET experts.sheet": EXPERT_LINK,
    "POST experts.declare": EXPERT_LINK,
    "POST experts.save": EXPERT_LINK,
    "POST experts.submit": EXPERT_LINK,
    "POST experts.draft": EXPERT_LINK,
    "GET experts.saved": EXPERT_LINK,
    "GET experts.document": EXPERT_LINK,  # a document shared with the expert's own panel
    "POST experts.expert_info": MANAGE,
    "POST experts.undo_recusal": MANAGE,
    # portfolio
    "GET portfolio.index": ANY_USER,
    "GET portfolio.export": ANY_USER,
    "GET portfolio.rules": BUREAUS_ONLY,
    "GET portfolio.my_work": ANY_USER,  # 我的待办: each user's own items only
    "GET portfolio.my_work_xlsx": ANY_USER,
    "POST portfolio.rules": BUREAUS_ONLY,
    # the public questionnaire
    "GET public_survey.answer": PUBLIC_LINK,
    "POST public_survey.answer": PUBLIC_LINK,
    "GET public_survey.thanks": PUBLIC_LINK,
    # reports
    "GET reports.index": INTERNAL,
    "POST reports.build": INTERNAL,
    "GET reports.download": VIEW,  # the 征求意见稿 (variants below: draft, issued)
    "POST reports.submit": INTERNAL,
    "POST reports.sign": INTERNAL,
    "POST reports.consult": INTERNAL,
    "POST reports.comment": INTERNAL,
    "POST reports.client_comment": expect(ok=("client",)),  # the bureau's own comment
    "POST reports.respond": INTERNAL,
    "POST reports.issue": INTERNAL,
    "GET reports.findings": INTERNAL,
    "POST reports.add_finding": INTERNAL,
    "POST reports.update_finding": INTERNAL,
    "POST reports.delete_finding": INTERNAL,
    "POST reports.add_recommendation": INTERNAL,
    "POST reports.update_recommendation": INTERNAL,
    "POST reports.delete_recommendation": INTERNAL,
    "GET reports.phases": INTERNAL,
    "GET reports.phases_xlsx": INTERNAL,
    "POST reports.add_phase": INTERNAL,
    "POST reports.update_phase": INTERNAL,
    "POST reports.delete_phase": INTERNAL,
    "GET reports.rectification": VIEW,
    "POST reports.rectification": VIEW,  # the bureau follows up its rectification too
    "GET reports.rectification_xlsx": VIEW,
    "POST reports.rectification_attach": VIEW,  # the bureau attaches its evidence too
    "GET reports.rectification_file": VIEW,
    "GET reports.bundled": INTERNAL,
    "GET reports.templates": INTERNAL,
    "POST reports.templates": MANAGE,  # the lead and admins (firm-wide: admins only)
    # indicator system and scores
    "GET scoring.system": INTERNAL,
    "POST scoring.instantiate": INTERNAL,
    "POST scoring.upload": INTERNAL,
    "GET scoring.download_system": INTERNAL,
    "GET scoring.edit_node": INTERNAL,
    "POST scoring.edit_node": INTERNAL,
    "POST scoring.add_child": INTERNAL,
    "POST scoring.remove": INTERNAL,
    "GET scoring.weights": INTERNAL,
    "POST scoring.weights_direct": INTERNAL,
    "POST scoring.weights_ahp": INTERNAL,
    "POST scoring.weights_group_ahp": INTERNAL,
    "POST scoring.weights_entropy": INTERNAL,
    "GET scoring.scores": INTERNAL,
    "GET scoring.scores_xlsx": INTERNAL,
    "GET scoring.score_input": INTERNAL,
    "POST scoring.score_input": INTERNAL,
    # the firm's template library
    "GET templates_library.index": STAFF_ONLY,
    "POST templates_library.upload_library": EVALUATORS_ONLY,
    "POST templates_library.retire": EVALUATORS_ONLY,
    "GET templates_library.download_bundled": STAFF_ONLY,
    # surveys (team side)
    "GET surveys.index": INTERNAL,
    "POST surveys.new": INTERNAL,
    "POST surveys.start_import": INTERNAL,
    "GET surveys.job": INTERNAL,
    "POST surveys.job": INTERNAL,
    "GET surveys.job_progress": INTERNAL,
    "POST surveys.discard_job": INTERNAL,
    "GET surveys.build": INTERNAL,
    "POST surveys.upload_questionnaire": INTERNAL,
    "POST surveys.add_question": INTERNAL,
    "POST surveys.save_question": INTERNAL,
    "POST surveys.delete_question": INTERNAL,
    "POST surveys.move_question_up": INTERNAL,
    "POST surveys.move_question_down": INTERNAL,
    "GET surveys.questionnaire_yaml": INTERNAL,
    "GET surveys.preview": INTERNAL,
    "GET surveys.publish": INTERNAL,
    "POST surveys.publish": INTERNAL,
    "GET surveys.qr_code": INTERNAL,
    "POST surveys.tokens": INTERNAL,
    "GET surveys.tokens_xlsx": INTERNAL,
    "GET surveys.tokens_print": INTERNAL,
    "GET surveys.mapping": INTERNAL,
    "POST surveys.mapping": INTERNAL,
    "POST surveys.save_mapping": INTERNAL,
    "GET surveys.results": INTERNAL,
    "GET surveys.results_xlsx": INTERNAL,
    "GET surveys.raw_xlsx": INTERNAL,
    "GET surveys.cleaning": INTERNAL,
    "POST surveys.cleaning": INTERNAL,
    "POST surveys.override": INTERNAL,
    # working papers
    "GET workpapers.index": INTERNAL,
    "POST workpapers.standard_list": INTERNAL,
    "POST workpapers.add_request": INTERNAL,
    "POST workpapers.received": INTERNAL,
    "POST workpapers.upload": INTERNAL,
    "POST workpapers.save_paper": INTERNAL,
    "POST workpapers.review": expect(ok=("reviewer", "admin"), forbidden=("lead", "member")),
    "GET workpapers.download": INTERNAL,
    "POST workpapers.share": INTERNAL,
}

Params = Callable[[World], dict[str, Any]]

#: URL parameters that differ from ``World.params`` for one endpoint
PARAMS: dict[str, Params] = {
    "engagements.remove_member": lambda w: {"member_id": w.ids["spare_seat"]},
    "engagements.archive_package": lambda w: {"engagement_id": w.archived_engagement_id},
    "scoring.weights": lambda w: {"code": "D1"},
    "scoring.weights_direct": lambda w: {"code": "D1"},
    "scoring.weights_ahp": lambda w: {"code": "D1"},
    "scoring.weights_group_ahp": lambda w: {"code": "D1"},
    "scoring.weights_entropy": lambda w: {"code": "D1"},
    "scoring.download_system": lambda w: {"fmt": "yaml"},
    "experts.offline_sheet": lambda w: {"fmt": "xlsx"},
    "surveys.qr_code": lambda w: {"fmt": "svg"},
    "surveys.save_question": lambda w: {"index": 0},
    "surveys.delete_question": lambda w: {"index": 0},
    "surveys.move_question_up": lambda w: {"index": 0},
    "surveys.move_question_down": lambda w: {"index": 0},
    "templates_library.retire": lambda w: {"code": "sec-custom"},
    "templates_library.download_bundled": lambda w: {"code": "sec-custom", "fmt": "yaml"},
}

#: form data that takes a request past validation to the permission check behind it
DATA: dict[str, Params] = {
    "POST engagements.transition": lambda w: {
        "target": "fieldwork",
        "version": str(w.ids["engagement_version"]),
    },
    "POST experts.expert_edit": lambda w: {"name": "改名的专家"},
    "POST workpapers.received": lambda w: {"id": w.ids["request_item"], "received": "1"},
    "POST workpapers.save_paper": lambda w: {"code": "D11", "problems": "无"},
    "POST workpapers.review": lambda w: {"id": w.ids["paper"]},
    "POST workpapers.share": lambda w: {"id": w.ids["evidence"], "shared": "0"},
    "POST experts.expert_info": lambda w: {"named_in_report": "anonymous", "contact": "x"},
    "POST experts.undo_recusal": lambda w: {"reason": "误选"},
    "POST accounts.set_language": lambda w: {"lang": "en"},
    "POST reports.rectification": lambda w: {"id": w.ids["rectification"], "status": "progress"},
    "POST reports.client_comment": lambda w: {"text": "意见"},
    "POST reports.rectification_attach": lambda w: {"id": w.ids["rectification"]},
    "POST reports.update_finding": lambda w: {
        "id": w.ids["finding"],
        "kind": "other",
        "title": "改",
    },
    "POST reports.delete_finding": lambda w: {"id": w.ids["finding"]},
    "POST reports.update_recommendation": lambda w: {"id": w.ids["recommendation"], "text": "改"},
    "POST reports.delete_recommendation": lambda w: {"id": w.ids["recommendation"]},
    "POST reports.add_phase": lambda w: {"kind": "analysis", "start": "2026-04-01"},
    "POST reports.update_phase": lambda w: {
        "id": w.ids["phase"],
        "kind": "fieldwork",
        "start": "2026-03-23",
    },
    "POST reports.delete_phase": lambda w: {"id": w.ids["phase"]},
}


def _archived(w: World) -> dict[str, Any]:
    return {"engagement_id": w.archived_engagement_id}


def _other(w: World) -> dict[str, Any]:
    """The URL of another engagement of the same team and bureau, the ids of the world's."""
    return {"engagement_id": w.other_engagement_id}


#: the same routes with other objects: (label, method, endpoint, params, data, outcome)
VARIANTS: list[tuple[str, str, str, Params, Params | None, dict[str, str]]] = [
    (
        "a draft report is internal",
        "GET",
        "reports.download",
        lambda w: {"version_id": w.ids["draft"]},
        None,
        INTERNAL,
    ),
    (
        "an issued report reaches its bureau",
        "GET",
        "reports.download",
        lambda w: {"version_id": w.ids["issued"]},
        None,
        VIEW,
    ),
    (
        "an archived engagement is frozen",
        "GET",
        "engagements.edit",
        _archived,
        None,
        expect(forbidden=(*TEAM, "client")),
    ),
    (
        "an archived engagement's findings are frozen",
        "POST",
        "reports.add_finding",
        _archived,
        lambda w: {"kind": "other", "title": "新"},
        expect(forbidden=TEAM),
    ),
    (
        "an archived engagement's rectification is closed, to the bureau too",
        "POST",
        "reports.rectification",
        _archived,
        lambda w: {"id": w.ids["rectification"], "status": "progress"},
        expect(forbidden=(*TEAM, "client")),
    ),
    (
        "an archived engagement's rectification takes no file",
        "POST",
        "reports.rectification_attach",
        _archived,
        lambda w: {"id": w.ids["rectification"]},
        expect(forbidden=(*TEAM, "client")),
    ),
    (
        "an archived engagement is not managed any more",
        "POST",
        "experts.settings",
        _archived,
        None,
        expect(forbidden=TEAM),
    ),
    # ids of one engagement under another engagement's URL: 404 for everybody
    ("a survey of another engagement", "GET", "surveys.results", _other, None, NOBODY),
    ("an import of another engagement", "GET", "surveys.job_progress", _other, None, NOBODY),
    ("a report of another engagement", "GET", "reports.download", _other, None, NOBODY),
    ("a seat of another engagement", "GET", "experts.offline_sheet", _other, None, NOBODY),
    ("evidence of another engagement", "GET", "workpapers.download", _other, None, NOBODY),
    (
        "a rectification file of another engagement",
        "GET",
        "reports.rectification_file",
        _other,
        None,
        NOBODY,
    ),
    (
        "a document not shared with the panel",
        "GET",
        "experts.document",
        lambda w: {"evidence_id": w.ids["unshared_evidence"]},
        None,
        expect(anonymous="404"),
    ),
    (
        "a document shared with another engagement's panel",
        "GET",
        "experts.document",
        lambda w: {"evidence_id": w.ids["other_shared_evidence"]},
        None,
        expect(anonymous="404"),
    ),
    (
        "sharing evidence of another engagement",
        "POST",
        "workpapers.share",
        _other,
        lambda w: {"id": w.ids["evidence"], "shared": "0"},
        NOBODY,
    ),
    (
        "a goal of another engagement",
        "GET",
        "engagements.goal_edit",
        _other,
        None,
        expect(forbidden=("client",)),  # the bureau may not edit goals at all
    ),
    (
        "a comment of another engagement",
        "POST",
        "reports.respond",
        _other,
        lambda w: {"response": "x"},
        NOBODY,
    ),
    (
        "a response of another engagement",
        "POST",
        "surveys.override",
        _other,
        lambda w: {"decision": "keep", "note": "x"},
        NOBODY,
    ),
]


def routes(app: Flask) -> list[tuple[str, str, Any]]:
    """(key, method, rule) for every rule and method of the URL map."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((f"{method} {rule.endpoint}", method, rule))
    return out


def build_url(rule: Any, values: dict[str, Any], actor: str, world: World) -> str:
    wallet = world.wallet(actor)
    values = {**values, **{k: wallet[k] for k in ("token", "public_token")}}
    built = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule} from {values}"
    url = built[1]
    if rule.endpoint.startswith("public_survey.") and wallet["code"]:
        url += f"?t={wallet['code']}"
    return url


def params_for(endpoint: str, world: World) -> dict[str, Any]:
    """The URL parameters of ``endpoint`` in the world."""
    return {**world.params, **PARAMS.get(endpoint, lambda w: {})(world)}


def _cases(app: Flask, world: World) -> list[tuple[str, str, Any, dict[str, Any], Any, Any]]:
    """(label, method, rule, params, data factory or None, expected) for every request."""
    cases: list[Any] = []
    for key, method, rule in routes(app):
        params = params_for(rule.endpoint, world)
        cases.append((key, method, rule, params, DATA.get(key), EXPECTED.get(key)))
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    for label, method, endpoint, extra, data, outcome in VARIANTS:
        params = {**params_for(endpoint, world), **extra(world)}
        cases.append(
            (f"{method} {endpoint} ({label})", method, rules[endpoint], params, data, outcome)
        )
    return cases


def test_every_route_has_an_entry_and_every_entry_a_route(app):
    keys = {key for key, _method, _rule in routes(app)}
    missing = sorted(keys - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - keys)
    assert not missing, f"routes without an expected outcome in EXPECTED: {missing}"
    assert not stale, f"EXPECTED names routes that do not exist: {stale}"
    for key, outcome in EXPECTED.items():
        assert set(outcome) == set(ACTORS), key


def test_every_actor_gets_the_expected_outcome_on_every_route(
    app: Flask, world: World, world_snapshot: Snapshot, fast_render: None
) -> None:
    cases = _cases(app, world)
    failures = []
    for actor in ACTORS:
        client = login_client(app, world, actor)
        for label, method, rule, params, data, outcome in cases:
            if outcome is None:
                failures.append(f"{label}: no entry in EXPECTED")
                continue
            url = build_url(rule, params, actor, world)
            response = client.open(url, method=method, data=data(world) if data else None)
            got = classify(response)
            if got != outcome[actor]:
                failures.append(
                    f"{label} as {actor}: expected {outcome[actor]}, got {got} "
                    f"({response.status_code} {url})"
                )
            if method != "GET" and got == "ok":  # it may have changed the world: undo it
                world_snapshot.restore()
                if actor not in ANONYMOUS_ACTORS and rule.endpoint == "accounts.logout":
                    client = login_client(app, world, actor)
    assert not failures, f"{len(failures)} unexpected outcomes:\n" + "\n".join(failures)


@pytest.mark.parametrize("actor", ["expert_a", "expert_b"])
def test_an_expert_link_opens_only_its_own_sheet(app, world, actor_client, actor):
    own, other = ("a", "b") if actor == "expert_a" else ("b", "a")
    client = actor_client(actor)
    page = client.get(f"/x/{world.tokens[actor]}").get_data(as_text=True)
    assert f"{'甲' if own == 'a' else '乙'}·安全测试专家" in page
    assert f"{'乙' if own == 'a' else '甲'}·安全测试专家" not in page
    assert ("甲的理由" in page) is (actor == "expert_a")  # B never sees A's draft
    # the expert is not logged in: the staff pages of the panel send it to the login page
    seat = world.ids[f"seat_{other}"]
    response = client.get(f"/engagements/{world.engagement_id}/panel/{seat}/sheet.xlsx")
    assert classify(response) == "login"
