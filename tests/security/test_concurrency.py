"""No lost update: two people (or two tabs) saving the same thing from the same starting point.

The second save is refused with a clear message and the first one's values stay; the audit log
records only the change that was kept. One test races two real threads on the same row.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from tests.demo_figures import settle_demo_figures
from workbench.accounts.models import OrganisationKind, Role, User
from workbench.audit.models import AuditEntry
from workbench.core.scoring import LeafInput
from workbench.db import db
from workbench.experts import services as experts
from workbench.experts.models import PanelMember, SheetScore
from workbench.scoring import services as scoring
from workbench.scoring.models import IndicatorInput

from ..conftest import PASSWORD

VERSION = re.compile(r'name="version"[^>]*value="(\d*)"|value="(\d*)"[^>]*name="version"')


def version_in(page: str) -> str:
    match = VERSION.search(page)
    assert match, "the form carries no version field"
    return match.group(1) if match.group(1) is not None else match.group(2)


def login(client, user) -> None:
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def audit(session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by("id"))
    )


@pytest.fixture
def world(app, session, make_org, make_user, make_engagement):
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    system = scoring.instantiate(
        session, lead, engagement, scoring.bundled_templates()["project-2020"]
    )
    expert = experts.create_expert(session, lead, name="甲专家")
    member, token = experts.invite(session, lead, engagement, expert, ["D11"])
    experts.declare(session, member, has_conflict=False, text="", confidentiality=True)
    session.commit()
    return {
        "engagement": engagement,
        "lead": lead,
        "admin": make_user(Role.ADMIN),
        "system": system,
        "member": member,
        "token": token,
    }


def stored_input(session, engagement_id: int, code: str) -> IndicatorInput | None:
    session.expire_all()
    return session.scalar(
        sa.select(IndicatorInput).where(
            IndicatorInput.engagement_id == engagement_id, IndicatorInput.code == code
        )
    )


# --- an indicator score, two logged-in people ------------------------------------------------


@pytest.mark.parametrize("already_scored", [True, False], ids=["edit", "first-entry"])
def test_second_save_of_the_same_score_form_is_refused_and_the_first_kept(
    app, session, world, already_scored
):
    eid, url = world["engagement"].id, f"/engagements/{world['engagement'].id}/scores/A12"
    if already_scored:
        scoring.save_input(
            session, world["lead"], world["engagement"], "A12", LeafInput(met=(True, False, False))
        )
        session.commit()
    before = len(audit(session, "score.update"))
    first, second = app.test_client(), app.test_client()
    login(first, world["lead"])
    login(second, world["admin"])
    seen_first = version_in(first.get(url).get_data(as_text=True))
    seen_second = version_in(second.get(url).get_data(as_text=True))
    assert seen_first == seen_second

    saved = first.post(url, data={"version": seen_first, "met": ["0", "1"]})
    assert saved.status_code == 302 and "/scores" in saved.headers["Location"]
    refused = second.post(url, data={"version": seen_second, "met": ["2"]}, follow_redirects=True)

    page = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Someone else saved this indicator after you opened it" in page
    row = stored_input(session, eid, "A12")
    assert row.data["met"] == [True, True, False]  # the first save, untouched
    entries = audit(session, "score.update")[before:]
    assert len(entries) == 1
    assert entries[0].user_id == world["lead"].id
    assert entries[0].changes["data"]["after"]["met"] == [True, True, False]
    # the page shown after the refusal holds the current values and version: saving again works
    assert version_in(page) == str(row.version)
    assert second.post(url, data={"version": str(row.version), "met": ["2"]}).status_code == 302


# --- the expert sheet, the same expert in two tabs ------------------------------------------


def sheet_form(page: str) -> dict[str, str]:
    return {"version": version_in(page)}


def test_expert_sheet_saved_in_another_tab_refuses_the_stale_tab(app, session, world):
    token = world["token"]
    tab_a, tab_b = app.test_client(), app.test_client()
    form_a = sheet_form(tab_a.get(f"/x/{token}").get_data(as_text=True))
    form_b = sheet_form(tab_b.get(f"/x/{token}").get_data(as_text=True))

    saved = tab_a.post(
        f"/x/{token}/sheet",
        data={**form_a, "score-D11": "12", "comment-D11": "甲的理由"},
    )
    assert saved.status_code == 302
    refused = tab_b.post(
        f"/x/{token}/sheet/submit",
        data={**form_b, "score-D11": "5", "comment-D11": "乙窗口"},
    )

    page = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "changed in another window" in page
    assert 'value="12"' in page and "甲的理由" in page  # the stored values are shown
    session.expire_all()
    score = session.scalar(sa.select(SheetScore).where(SheetScore.indicator_code == "D11"))
    assert (score.score, score.comment) == (D(12), "甲的理由")
    assert session.get(PanelMember, world["member"].id).submitted_round1_at is None
    assert audit(session, "panel.submit") == []  # the refused submission left no trace

    # tab B, reloaded, submits; now exactly one submission is recorded, with B's value
    form_b = sheet_form(page)
    done = tab_b.post(
        f"/x/{token}/sheet/submit",
        data={**form_b, "score-D11": "5", "comment-D11": "乙窗口"},
    )
    assert done.status_code == 302
    entries = audit(session, "panel.submit")
    assert len(entries) == 1 and entries[0].changes["D11.r1"]["after"] == "5"


def test_expert_autosave_from_a_stale_tab_is_refused_and_reports_the_new_version(
    app, session, world
):
    token = world["token"]
    tab_a, tab_b = app.test_client(), app.test_client()
    form_a = sheet_form(tab_a.get(f"/x/{token}").get_data(as_text=True))
    form_b = sheet_form(tab_b.get(f"/x/{token}").get_data(as_text=True))

    first = tab_a.post(f"/x/{token}/draft", data={**form_a, "score-D11": "12", "comment-D11": "甲"})
    assert first.status_code == 200 and first.json["ok"] is True
    assert first.json["version"] == int(form_a["version"]) + 1  # the tab keeps saving with it
    second = tab_b.post(f"/x/{token}/draft", data={**form_b, "score-D11": "3", "comment-D11": "乙"})
    assert second.status_code == 409
    assert second.json["ok"] is False and "changed in another window" in second.json["error"]
    again = tab_a.post(
        f"/x/{token}/draft",
        data={"version": str(first.json["version"]), "score-D11": "13", "comment-D11": "甲"},
    )
    assert again.status_code == 200
    session.expire_all()
    score = session.scalar(sa.select(SheetScore).where(SheetScore.indicator_code == "D11"))
    assert score.score == D(13)


# --- two threads, two connections, the same row and the same expected version ---------------


def race(app, work) -> list[str]:
    """Run ``work(session)`` in two threads, each in its own app context (its own session and
    connection); both load first, then both write. Outcomes: 'ok' or the exception's name."""
    loaded = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        with app.app_context():
            try:
                work(db.session, n, loaded)
                db.session.commit()
                outcome = "ok"
            except Exception as exc:
                db.session.rollback()
                outcome = type(exc).__name__ + (f":{exc}" if str(exc) == "stale" else "")
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(outcomes)


def test_two_threads_saving_the_same_score_with_the_same_version_one_wins(app, session, world):
    engagement, lead = world["engagement"], world["lead"]
    scoring.save_input(session, lead, engagement, "A12", LeafInput(met=(True, False, False)))
    session.commit()
    seen = stored_input(session, engagement.id, "A12").version
    before = len(audit(session, "score.update"))
    eid, uid = engagement.id, lead.id

    def work(s, n, loaded) -> None:
        from workbench.accounts.models import User
        from workbench.engagements.models import Engagement

        actor, target = s.get(User, uid), s.get(Engagement, eid)
        row = s.scalar(sa.select(IndicatorInput).where(IndicatorInput.code == "A12"))
        assert row.version == seen
        loaded.wait()  # both have read the same version before either writes
        met = (True, n == 1, n == 2)
        scoring.save_input(s, actor, target, "A12", LeafInput(met=met), expected_version=seen)

    outcomes = race(app, work)

    assert outcomes == ["StaleDataError", "ok"], outcomes
    row = stored_input(session, eid, "A12")
    assert row.version == seen + 1
    entries = audit(session, "score.update")[before:]
    assert len(entries) == 1
    assert entries[0].changes["data"]["after"]["met"] == row.data["met"]
    assert row.data["met"] in ([True, True, False], [True, False, True])


def test_two_threads_saving_the_same_expert_sheet_with_the_same_version_one_wins(
    app, session, world
):
    member_id = world["member"].id
    template = scoring.template_of(world["system"])
    seen = session.get(PanelMember, member_id).version

    def work(s, n, loaded) -> None:
        member = s.get(PanelMember, member_id)
        assert member.version == seen
        experts.scores_of(member, 1)  # load the sheet as the page does
        loaded.wait()
        experts.save_sheet(
            s,
            member,
            template,
            {"D11": (str(10 + n), f"thread {n}")},
            round_no=1,
            submit=False,
            expected_version=seen,
        )

    outcomes = race(app, work)

    # the seat's row is updated (version checked) before the score rows are inserted
    assert outcomes == ["StaleDataError", "ok"], outcomes
    session.expire_all()
    scores = session.scalars(sa.select(SheetScore)).all()
    assert len(scores) == 1
    winner = int(scores[0].comment.removeprefix("thread "))
    assert scores[0].score == 10 + winner
    assert session.get(PanelMember, member_id).version == seen + 1


def test_a_stale_write_is_refused_by_the_database_even_without_the_service_check(
    app, session, world
):
    """The version column itself guards the row: a raw ORM write from an old read fails."""
    engagement, lead = world["engagement"], world["lead"]
    scoring.save_input(session, lead, engagement, "A12", LeafInput(met=(True, False, False)))
    session.commit()
    with sa.orm.Session(db.engine) as other:  # a second connection, read before the save
        old = other.scalar(sa.select(IndicatorInput).where(IndicatorInput.code == "A12"))
        old_version = old.version
        scoring.save_input(session, lead, engagement, "A12", LeafInput(met=(False, True, False)))
        session.commit()
        old.not_applicable = True
        with pytest.raises(StaleDataError):
            other.commit()
    row = stored_input(session, engagement.id, "A12")
    assert row.version == old_version + 1 and row.not_applicable is False


# --- races the database settles: a group quota, a review level, issuing ----------------------


def quota_survey(session, world, quota: int, already: int):
    """An open questionnaire whose 甲镇 group has ``quota`` answers and ``already`` of them."""
    from workbench.surveys import builder
    from workbench.surveys.models import Survey, SurveyResponse

    survey = builder.create_form(
        session,
        world["lead"],
        world["engagement"],
        title="受益群众满意度调查",
        group="",
        population=None,
        start_from=builder.questionnaire_library()["beneficiary"],
    )
    town = next(c for c in survey.columns if "乡镇" in c)
    survey.status, survey.public_token, survey.group_column = "open", "quota-race", town
    survey.group_targets = {"甲镇": {"quota": quota}}
    for _ in range(already):
        session.add(SurveyResponse(survey_id=survey.id, source="web", answers={town: "甲镇"}))
    session.commit()
    assert isinstance(session.get(Survey, survey.id), Survey)
    return survey.id, town


def test_two_submissions_racing_for_the_last_place_of_a_quota_store_one(
    app, session, world, monkeypatch
):
    from workbench.surveys import collect
    from workbench.surveys.models import Survey, SurveyResponse

    from ..surveys.test_forms import answers_for

    sid, town = quota_survey(session, world, quota=5, already=4)
    form = {k: [v] for k, v in answers_for(session.get(Survey, sid), town="甲镇").items()}
    # each submission counts the group, then waits (a moment at most) for the other to count
    # too: without a lock both see 4 of 5 and both insert; with it the second cannot count
    # before the first has committed
    counted = threading.Barrier(2, timeout=1.5)
    count = collect.group_counts

    def group_counts(s, survey):  # type: ignore[no-untyped-def]
        counts = count(s, survey)
        with contextlib.suppress(threading.BrokenBarrierError):
            counted.wait()
        return counts

    monkeypatch.setattr(collect, "group_counts", group_counts)

    def work(s, n, loaded) -> None:
        survey = s.get(Survey, sid)
        loaded.wait()
        collect.submit(
            s, survey, form, started_at=None, ip_hash="", ua_hash="", device_hash=f"phone-{n}"
        )

    outcomes = race(app, work)

    assert outcomes == ["SurveyError", "ok"], outcomes
    session.expire_all()
    stored = session.scalars(
        sa.select(SurveyResponse.answers).where(SurveyResponse.survey_id == sid)
    ).all()
    assert len(stored) == 5 and all(a[town] == "甲镇" for a in stored)


def signed_for_review(session, tmp_path):
    """The demo engagement's report, built and waiting for its first (lead's) sign-off."""
    from workbench.demo import DEMO_TITLE, load_demo
    from workbench.engagements.models import Engagement
    from workbench.reports import services as reports

    load_demo(session)
    session.commit()
    settle_demo_figures(session)  # the demo's report, free of blocking QA problems
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    users = {u.username: u for u in session.scalars(sa.select(User))}
    choice = reports.template_choices(session, engagement, tmp_path)[0]
    version = reports.build(session, users["zhang.wei"], engagement, choice, tmp_path)
    reports.submit_for_review(session, users["zhang.wei"], version)
    session.commit()
    return engagement, users, choice, version


def test_two_sign_offs_of_the_same_level_at_once_store_one(app, session, tmp_path):
    from workbench.engagements.models import Engagement
    from workbench.reports import services as reports
    from workbench.reports.models import ReportReview, ReportVersion

    engagement, users, _choice, version = signed_for_review(session, tmp_path)
    eid, vid = engagement.id, version.id
    signers = {1: users["zhang.wei"].id, 2: users["admin"].id}  # the lead, and an admin
    levels = reports.review_levels(None)
    codes: list[str] = []

    def work(s, n, loaded) -> None:
        actor, target = s.get(User, signers[n]), s.get(Engagement, eid)
        v = s.get(ReportVersion, vid)
        assert reports.next_level(v, levels) == 0
        loaded.wait()  # both see level 0 waiting before either signs
        try:
            reports.sign(s, actor, target, v, levels, approve=True, comment=f"thread {n}")
        except reports.ReportError as exc:
            codes.append(exc.code)
            raise

    outcomes = race(app, work)

    assert outcomes == ["ReportError", "ok"], outcomes
    assert codes == ["already_signed"]
    session.expire_all()
    reviews = session.scalars(sa.select(ReportReview).where(ReportReview.version_id == vid)).all()
    assert [r.level for r in reviews] == [0]
    assert len(audit(session, "report.review")) == 1


def test_the_database_refuses_a_second_sign_off_of_a_level(app, session, tmp_path):
    from workbench.reports.models import ReportReview

    _engagement, _users, _choice, version = signed_for_review(session, tmp_path)
    for n in range(2):
        session.add(
            ReportReview(
                version_id=version.id,
                level=0,
                level_name="项目负责人复核",
                reviewer=f"审核人{n}",
                decision="approve",
            )
        )
    with pytest.raises(sa.exc.IntegrityError):
        session.commit()
    session.rollback()


def test_two_simultaneous_issues_issue_once_and_the_other_is_told(
    app, session, tmp_path, monkeypatch
):
    from workbench.demo import DEMO_USERS
    from workbench.reports import services as reports
    from workbench.reports.models import ReportVersion

    engagement, users, _choice, version = signed_for_review(session, tmp_path)
    levels = reports.review_levels(None)
    reports.sign(session, users["zhang.wei"], engagement, version, levels, approve=True, comment="")
    reports.sign(session, users["wang.fang"], engagement, version, levels, approve=True, comment="")
    reports.send_for_comments(session, users["wang.fang"], version, levels)
    session.commit()
    # the pages keep reports in the instance folder: the built draft goes there too
    instance_reports = Path(app.instance_path) / "reports"
    instance_reports.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / version.stored_as, instance_reports / version.stored_as)
    eid, vid = engagement.id, version.id
    passwords = {name: password for name, _n, _r, _o, password in DEMO_USERS}
    # both requests have checked the version is out for comments before either builds
    both_checked = threading.Barrier(2, timeout=30)
    build = reports.build

    def checked_then_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("draft") is False:
            both_checked.wait()
        return build(*args, **kwargs)

    monkeypatch.setattr(reports, "build", checked_then_build)
    pages: list[str] = []

    def issue(username: str) -> None:
        tab = app.test_client()
        tab.post("/login", data={"username": username, "password": passwords[username]})
        page = tab.post(
            f"/engagements/{eid}/report/versions/{vid}/issue",
            data={"report_no": "临财绩评〔2026〕17号"},
            follow_redirects=True,
        )
        pages.append(f"{page.status_code} {page.get_data(as_text=True)}")

    threads = [threading.Thread(target=issue, args=(u,)) for u in ("zhang.wei", "wang.fang")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert sorted(p[:3] for p in pages) == ["200", "200"], [p[:200] for p in pages]
    assert sum("issued (v" in p for p in pages) == 1
    assert sum("has just been issued by someone else" in p for p in pages) == 1
    session.expire_all()
    issued = session.scalars(sa.select(ReportVersion).where(ReportVersion.status == "issued"))
    assert [v.report_no for v in issued] == ["临财绩评〔2026〕17号"]
    assert len(audit(session, "report.issue")) == 1
