"""The low-severity holes of issue #13: the expert registry's engagement titles, the client
bureau changed by a team member, and archived engagements still taking answers, scores and
rectification entries."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import sqlalchemy as sa

from tests.security.conftest import World, login_client, row_counts
from workbench.audit.models import AuditEntry
from workbench.core.workflow import EngagementState
from workbench.db import db
from workbench.engagements.models import Engagement
from workbench.reports.models import RectificationItem

# --- the expert registry ------------------------------------------------------------------------


def test_an_experts_entry_names_only_engagements_the_viewer_may_open(app, world: World) -> None:
    title = db.session.get(Engagement, world.engagement_id).title
    url = f"/experts/{world.ids['expert_a']}"
    outsider = login_client(app, world, "outsider").get(url).get_data(as_text=True)
    assert title not in outsider
    assert "1 other engagements you cannot open." in outsider
    member = login_client(app, world, "member").get(url).get_data(as_text=True)
    assert title in member
    assert "other engagements you cannot open" not in member


# --- the commissioning parties ------------------------------------------------------------------


def _form(engagement: Engagement, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": engagement.title,
        "client_id": str(engagement.client_id),
        "evaluated_unit_ids": [str(o.id) for o in engagement.evaluated_units],
        "project_name": engagement.project_name,
        "kind": engagement.kind.value,
        "scope": engagement.scope.value,
        "fiscal_year": str(engagement.fiscal_year),
        "version": str(engagement.version),
    }
    data.update(over)
    return data


def _client_of(engagement_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Engagement, engagement_id).client_id


def test_a_team_member_cannot_move_an_engagement_to_another_bureau(app, world: World) -> None:
    eid = world.other_engagement_id  # no report yet
    engagement = db.session.get(Engagement, eid)
    before = engagement.client_id
    other_bureau = str(world.ids["other_org"])
    member = login_client(app, world, "member")
    page = member.get(f"/engagements/{eid}/edit").get_data(as_text=True)
    assert "Only the engagement lead or an administrator can change the client" in page
    response = member.post(
        f"/engagements/{eid}/edit", data=_form(engagement, client_id=other_bureau)
    )
    assert response.status_code == 200
    assert (
        "Only the engagement lead or an administrator can change the client"
        in response.get_data(as_text=True)
    )
    assert _client_of(eid) == before
    # the member still edits the other facts; the disabled field is simply not posted
    data = _form(engagement, title="改名后的评价")
    del data["client_id"], data["evaluated_unit_ids"]
    assert member.post(f"/engagements/{eid}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Engagement, eid).title == "改名后的评价"

    engagement = db.session.get(Engagement, eid)
    lead = login_client(app, world, "lead")
    response = lead.post(f"/engagements/{eid}/edit", data=_form(engagement, client_id=other_bureau))
    assert response.status_code == 302
    assert _client_of(eid) == world.ids["other_org"]
    entry = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.action == "engagement.update", AuditEntry.engagement_id == eid)
        .order_by(AuditEntry.id.desc())
    ).first()
    assert "client_id" in entry.changes


def test_nobody_changes_the_bureau_once_a_report_has_gone_to_it(app, world: World) -> None:
    eid = world.engagement_id  # has an issued report
    engagement = db.session.get(Engagement, eid)
    before = engagement.client_id
    for actor in ("lead", "admin"):
        client = login_client(app, world, actor)
        response = client.post(
            f"/engagements/{eid}/edit",
            data=_form(engagement, client_id=str(world.ids["other_org"])),
        )
        assert response.status_code == 200, actor
        assert "can no longer be changed: a report has been sent" in response.get_data(as_text=True)
        assert _client_of(eid) == before
        engagement = db.session.get(Engagement, eid)


# --- archived engagements ----------------------------------------------------------------------


def _archive(world: World) -> None:
    engagement = db.session.get(Engagement, world.engagement_id)
    engagement.state = EngagementState.ARCHIVED
    db.session.commit()


def test_an_archived_engagements_survey_is_closed_and_stores_nothing(app, world: World) -> None:
    _archive(world)
    before = row_counts()
    phone = app.test_client()
    url = f"/s/{world.tokens['public']}?t={world.tokens['code']}"
    page = phone.get(url)
    assert page.status_code == 410
    assert "This questionnaire is closed" in page.get_data(as_text=True)
    answer = phone.post(url, data={"q1": "满意", "q2": "满意"})
    assert answer.status_code == 410
    assert row_counts() == before


def test_an_archived_engagements_expert_links_take_nothing(app, world: World) -> None:
    _archive(world)
    lead = login_client(app, world, "lead")  # (a login is audited: before counting)
    before = row_counts()
    expert = app.test_client()
    token = world.tokens["expert_a"]
    assert expert.get(f"/x/{token}").status_code == 410
    assert expert.post(f"/x/{token}/declare", data={"conflict": "none"}).status_code == 410
    assert expert.post(f"/x/{token}/sheet", data={"score-D11": "8"}).status_code == 410
    assert expert.post(f"/x/{token}/sheet/submit", data={"score-D11": "8"}).status_code == 410
    assert expert.post(f"/x/{token}/draft", data={"score-D11": "8"}).status_code == 410
    # the paper sheet entered by the lead
    book = openpyxl.Workbook()
    book.active.append(["编码", "得分", "理由"])
    book.active.append(["D11", 8, "x"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = lead.post(
        f"/engagements/{world.engagement_id}/panel/{world.ids['seat_a']}/sheet-upload",
        data={"file": (io.BytesIO(buffer.getvalue()), "sheet.xlsx"), "paper_declaration": "y"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403
    assert row_counts() == before


def test_an_archived_engagements_rectification_is_closed_to_the_bureau(app, world: World) -> None:
    _archive(world)
    item_id = world.ids["rectification"]
    bureau = login_client(app, world, "client")
    url = f"/engagements/{world.engagement_id}/report/rectification"
    page = bureau.get(url)
    assert page.status_code == 200  # still readable
    response = bureau.post(url, data={"id": item_id, "status": "done", "note": "已整改"})
    assert response.status_code == 403
    assert "archived" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(RectificationItem, item_id).status != "done"
