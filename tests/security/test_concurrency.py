"""No lost update: two people (or two tabs) saving the same thing from the same starting point.

The second save is refused with a clear message and the first one's values stay; the audit log
records only the change that was kept. One test races two real threads on the same row.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from workbench.accounts.models import OrganisationKind, Role
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
        data={**form_a, "score-D11": "12", "comment-D11": "甲的理由", "action": "draft"},
    )
    assert saved.status_code == 302
    refused = tab_b.post(
        f"/x/{token}/sheet",
        data={**form_b, "score-D11": "5", "comment-D11": "乙窗口", "action": "submit"},
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
        f"/x/{token}/sheet",
        data={**form_b, "score-D11": "5", "comment-D11": "乙窗口", "action": "submit"},
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
