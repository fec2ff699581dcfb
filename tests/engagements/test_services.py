from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from workbench.accounts.models import OrganisationKind, Role
from workbench.audit import AuditLogIsAppendOnly
from workbench.audit.models import AuditEntry
from workbench.core.budget import Denominator, FundSource
from workbench.core.errors import InvalidTransition
from workbench.core.goals import GoalNature, GoalRow
from workbench.core.workflow import EngagementState
from workbench.engagements import services
from workbench.engagements.models import Engagement, GoalIndicator, MemberRole


def entries(session, engagement, action=None):
    stmt = sa.select(AuditEntry).where(AuditEntry.engagement_id == engagement.id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return session.scalars(stmt.order_by(AuditEntry.id)).all()


def test_creator_becomes_lead_and_creation_is_audited(session, make_engagement, make_user):
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead)
    assert engagement.state is EngagementState.SETUP
    assert engagement.member_role(lead) is MemberRole.LEAD
    created = entries(session, engagement, "engagement.create")
    assert len(created) == 1
    assert created[0].user_id == lead.id
    assert created[0].changes["title"] == {"before": None, "after": engagement.title}


def test_edit_records_before_and_after(session, make_engagement, make_org):
    engagement = make_engagement(fiscal_year=2024)
    lead = engagement.members[0].user
    unit = make_org(OrganisationKind.EVALUATED, name="某县水利局")
    services.update_engagement(
        session,
        lead,
        engagement,
        expected_version=engagement.version,
        fiscal_year=2025,
        evaluated_units=[unit],
        fee=D("1000.50"),
    )
    session.commit()
    update = entries(session, engagement, "engagement.update")[-1]
    assert update.changes["fiscal_year"] == {"before": 2024, "after": 2025}
    assert update.changes["evaluated_units"] == {"before": [], "after": ["某县水利局"]}
    assert update.changes["fee"] == {"before": None, "after": "1000.5"}
    assert "title" not in update.changes


def test_saving_unchanged_values_writes_no_entry(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    before = len(entries(session, engagement))
    services.update_engagement(
        session, lead, engagement, expected_version=engagement.version, title=engagement.title
    )
    session.commit()
    assert len(entries(session, engagement)) == before


def test_stale_form_is_refused_and_changes_nothing(session, make_engagement):
    engagement = make_engagement(title="原标题")
    lead = engagement.members[0].user
    seen_version = engagement.version
    services.update_engagement(
        session, lead, engagement, expected_version=seen_version, title="第一个人的修改"
    )
    session.commit()
    with pytest.raises(services.StaleEdit):
        services.update_engagement(
            session, lead, engagement, expected_version=seen_version, title="第二个人的修改"
        )
    session.rollback()
    assert session.get(Engagement, engagement.id).title == "第一个人的修改"


def test_self_commission_is_detected(make_engagement, make_org, session):
    client_org = make_org(OrganisationKind.CLIENT)
    engagement = make_engagement(client=client_org, evaluated_units=[client_org])
    assert services.self_commissioned(engagement)
    other = make_engagement(evaluated_units=[make_org(OrganisationKind.EVALUATED)])
    assert not services.self_commissioned(other)


def test_transitions_follow_the_workflow_and_are_audited(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    with pytest.raises(InvalidTransition):
        services.transition(session, lead, engagement, EngagementState.ISSUED)
    services.transition(session, lead, engagement, EngagementState.DESIGN, note="方案通过")
    session.commit()
    moved = entries(session, engagement, "engagement.transition")
    assert moved[-1].changes == {"state": {"before": "setup", "after": "design"}}
    assert moved[-1].summary == "方案通过"


def test_only_the_reviewer_issues_a_report(session, make_engagement, make_user):
    engagement = make_engagement()
    lead = engagement.members[0].user
    reviewer = make_user(Role.REVIEWER)
    services.add_member(session, lead, engagement, reviewer, MemberRole.REVIEWER)
    for state in [
        EngagementState.DESIGN,
        EngagementState.FIELDWORK,
        EngagementState.EXPERT_SCORING,
        EngagementState.DRAFTING,
        EngagementState.REVIEW,
    ]:
        services.transition(session, lead, engagement, state)
    with pytest.raises(services.EngagementError, match="reviewer_only"):
        services.transition(session, lead, engagement, EngagementState.ISSUED)
    services.transition(session, reviewer, engagement, EngagementState.ISSUED, issued_report=True)
    session.commit()
    assert engagement.state is EngagementState.ISSUED


def test_issued_cannot_be_set_by_hand_without_an_issued_report(session, make_engagement, make_user):
    engagement = make_engagement()
    lead = engagement.members[0].user
    for state in list(EngagementState)[1:6]:
        services.transition(session, lead, engagement, state)
    session.commit()
    version = engagement.version
    with pytest.raises(services.EngagementError, match="issued_needs_report"):
        services.transition(session, make_user(Role.ADMIN), engagement, EngagementState.ISSUED)
    session.rollback()
    assert engagement.state is EngagementState.REVIEW
    assert engagement.version == version


def test_mark_issued_moves_any_stage_and_is_audited(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    assert services.mark_issued(session, lead, engagement, note="报告出具：v1 X号")
    session.commit()
    assert engagement.state is EngagementState.ISSUED
    moved = entries(session, engagement, "engagement.transition")
    assert moved[-1].changes == {"state": {"before": "setup", "after": "issued"}}
    assert moved[-1].summary == "报告出具：v1 X号"
    assert not services.mark_issued(session, lead, engagement, note="again")


def test_team_rules(session, make_engagement, make_user):
    engagement = make_engagement()
    lead_member = engagement.members[0]
    lead = lead_member.user
    with pytest.raises(services.EngagementError, match="last_lead"):
        services.remove_member(session, lead, engagement, lead_member)
    with pytest.raises(services.EngagementError, match="member_not_staff"):
        services.add_member(session, lead, engagement, make_user(Role.CLIENT), MemberRole.MEMBER)
    with pytest.raises(services.EngagementError, match="reviewer_role_needed"):
        services.add_member(
            session, lead, engagement, make_user(Role.EVALUATOR), MemberRole.REVIEWER
        )
    member = services.add_member(
        session, lead, engagement, make_user(Role.EVALUATOR), MemberRole.MEMBER
    )
    services.remove_member(session, lead, engagement, member)
    session.commit()
    actions = [e.action for e in entries(session, engagement)]
    assert actions.count("member.add") == 2  # the lead on creation, then the member
    assert "member.remove" in actions


def test_budget_is_saved_with_full_precision_and_audited(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    table = services.save_budget(
        session,
        lead,
        engagement,
        lines={
            FundSource.FISCAL: {
                "initial": D("1200"),
                "adjusted": D("1350.123456"),
                "available": D("1350.123456"),
                "executed": D("1287.46"),
            }
        },
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.AVAILABLE,
        expected_version=engagement.version,
    )
    session.commit()
    session.expire_all()
    line = session.get(Engagement, engagement.id).budget_lines[0]
    assert line.adjusted == D("1350.123456")
    assert table.total.execution_rate == D("1287.46") / D("1350.123456")
    change = entries(session, engagement, "budget.update")[-1].changes
    assert change["财政拨款.executed"] == {"before": None, "after": "1287.46"}
    assert change["财政拨款.source"] == {"before": None, "after": "财政拨款"}
    assert change["execution_denominator"] == {"before": "adjusted", "after": "available"}


def test_goal_import_replaces_or_appends(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    row = GoalRow("产出指标", "数量指标", "管网长度", GoalNature.GE, "120", "公里", "", "")
    services.add_goal(
        session,
        lead,
        engagement,
        level1="产出指标",
        name="旧指标",
        nature="qualitative",
        target_value="好",
    )
    services.import_goals(session, lead, engagement, [row, row], replace=False, filename="a")
    assert len(engagement.goals) == 3
    services.import_goals(session, lead, engagement, [row], replace=True, filename="b.xlsx")
    session.commit()
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(GoalIndicator)
        .where(GoalIndicator.engagement_id == engagement.id)
    )
    assert count == 1
    assert entries(session, engagement, "goals.import")[-1].summary == "b.xlsx"


def test_audit_entries_cannot_be_changed_through_the_orm(session, make_engagement):
    engagement = make_engagement()
    entry = entries(session, engagement)[0]
    entry.action = "tampered"
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()
    session.rollback()
    session.delete(entries(session, engagement)[0])
    with pytest.raises(AuditLogIsAppendOnly):
        session.flush()
    session.rollback()


def test_audit_entries_cannot_be_changed_in_the_database(session, make_engagement):
    engagement = make_engagement()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        session.execute(sa.text("UPDATE audit_entries SET action = 'x'"))
    session.rollback()
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        session.execute(sa.text("DELETE FROM audit_entries"))
    session.rollback()
    assert len(entries(session, engagement)) >= 1
