"""The data revision (issue #14): every write the evaluated result depends on bumps the
engagement's ``data_revision`` in its own transaction, and nothing else does.

Each kind of write is run three ways on a world with a bit of everything (an indicator system,
a panel, a survey with responses, funds, goals, findings): rolled back (the revision is as
before and the remembered survey screening is still used), then in an open transaction (+1 for
this session only), then committed (+1 for everyone, and the screening is recomputed once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from workbench.accounts.models import OrganisationKind, Role
from workbench.core.budget import Denominator, FundSource
from workbench.core.goals import GoalNature, GoalRow
from workbench.core.panel import Aggregation
from workbench.core.scoring import LeafInput, QualitativeLevel
from workbench.core.workflow import EngagementState
from workbench.db import db, utcnow
from workbench.engagements import revision
from workbench.engagements import services as engagements
from workbench.engagements.models import Engagement, GoalIndicator, MemberRole
from workbench.evaluation import result_of
from workbench.experts import services as experts
from workbench.experts.models import Conflict, PanelMember
from workbench.reports import services as reports
from workbench.reports.models import Finding, Recommendation, WorkPhase
from workbench.scoring import services as scoring
from workbench.surveys import builder, collect, jobs
from workbench.surveys import services as surveys
from workbench.surveys.models import ImportJob, Survey, SurveyResponse
from workbench.workpapers import services as workpapers

LEVEL_MAP = {"非常满意": "非常满意", "满意": "满意", "一般": "一般", "不满意": "不满意"}


@dataclass
class World:
    engagement_id: int
    lead_id: int
    colleague_id: int  # staff, not on the team
    survey_id: int  # open, with 4 web responses, feeding D12
    draft_id: int  # no responses: its questions may change
    submitted_id: int  # panel seat: declared, round 1 submitted
    declared_id: int  # declared, nothing submitted
    invited_id: int  # invited only
    goal_id: int
    finding_id: int
    recommendation_id: int
    phase_id: int
    responses: int = 0

    # the objects, loaded in the session at hand (a rollback expires them, nothing more)
    @property
    def engagement(self) -> Engagement:
        return db.session.get(Engagement, self.engagement_id)

    @property
    def lead(self) -> Any:
        from workbench.accounts.models import User

        return db.session.get(User, self.lead_id)

    @property
    def system(self) -> Any:
        return scoring.system_of(db.session, self.engagement)

    @property
    def survey(self) -> Survey:
        return db.session.get(Survey, self.survey_id)

    def member(self, member_id: int) -> PanelMember:
        return db.session.get(PanelMember, member_id)


def _submit(session: Any, world: World, answer: str = "满意") -> SurveyResponse:
    world.responses += 1
    n = world.responses
    response, errors = collect.submit(
        session,
        world.survey,
        {"q1": [answer]},
        started_at=None,
        ip_hash=f"ip-{n}",
        ua_hash="ua",
        device_hash=f"device-{n}",
    )
    assert response is not None, errors
    return response


@pytest.fixture
def world(session, make_org, make_user, make_engagement) -> World:
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    scoring.instantiate(session, lead, engagement, scoring.bundled_templates()["project-2020"])
    template = scoring.template_of(scoring.system_of(session, engagement))
    seats = []
    for name in ("甲专家", "乙专家", "丙专家"):
        expert = experts.create_expert(session, lead, name=name)
        seats.append(experts.invite(session, lead, engagement, expert, ["D11"])[0])
    for seat in seats[:2]:
        experts.declare(session, seat, has_conflict=False, text="", confidentiality=True)
    experts.save_sheet(
        session, seats[0], template, {"D11": ("18", "理由")}, round_no=1, submit=True
    )
    survey = builder.create_form(
        session, lead, engagement, title="满意度", group="", population=None, start_from=None
    )
    builder.publish(
        session,
        lead,
        survey,
        status="open",
        opens_at=None,
        closes_at=None,
        target_n=None,
        distributed=None,
        require_token=False,
        group_column=None,
        group_targets={},
    )
    draft = builder.create_form(
        session, lead, engagement, title="草稿", group="", population=None, start_from=None
    )
    engagements.save_budget(
        session,
        lead,
        engagement,
        lines={FundSource.FISCAL: {"initial": D(100), "adjusted": D(100), "available": D(90)}},
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.ADJUSTED,
        expected_version=None,
    )
    goal = engagements.add_goal(session, lead, engagement, **GOAL)
    finding = reports.save_finding(
        session, lead, engagement, None, kind="problem", title="台账不全", text="", cause="缺人"
    )
    recommendation = reports.save_recommendation(
        session, lead, engagement, None, text="补齐台账", problem_ids=[finding.id]
    )
    phase = reports.save_phase(
        session, lead, engagement, None, kind="preparation", start=dt.date(2026, 3, 2)
    )
    session.commit()
    made = World(
        engagement_id=engagement.id,
        lead_id=lead.id,
        colleague_id=make_user(Role.EVALUATOR).id,
        survey_id=survey.id,
        draft_id=draft.id,
        submitted_id=seats[0].id,
        declared_id=seats[1].id,
        invited_id=seats[2].id,
        goal_id=goal.id,
        finding_id=finding.id,
        recommendation_id=recommendation.id,
        phase_id=phase.id,
    )
    for answer in ("满意", "非常满意", "一般", "不满意"):
        _submit(session, made, answer)
    surveys.save_mapping(
        session,
        lead,
        survey,
        columns=survey.satisfaction_columns,
        level_map=LEVEL_MAP,
        leaf_code="D12",
    )
    session.commit()
    return made


GOAL = {
    "level1": "产出指标",
    "level2": "数量指标",
    "name": "受益户数",
    "nature": "ge",
    "target_value": "100",
    "unit": "户",
    "actual_value": "98",
}


def _first_response(world: World) -> SurveyResponse:
    return db.session.scalars(
        sa.select(SurveyResponse)
        .where(SurveyResponse.survey_id == world.survey_id)
        .order_by(SurveyResponse.id)
    ).first()


def _recused(member: Any) -> Any:
    """The seat as a recused expert's (set directly: the declaration is a write of its own)."""
    member.conflict, member.conflict_text, member.declared_at = Conflict.DECLARED, "亲属", utcnow()
    return member


#: every kind of write the evaluated result depends on (the writers of issue #14)
WRITES: dict[str, Callable[[Any, World], Any]] = {
    # survey responses and screening
    "survey.submit (public)": lambda s, w: _submit(s, w),
    "survey.override": lambda s, w: surveys.set_override(
        s, w.lead, _first_response(w), "exclude", "电话回访：非本村村民"
    ),
    "survey.cleaning": lambda s, w: surveys.save_cleaning(s, w.lead, w.survey, {"min_seconds": 5}),
    "survey.mapping": lambda s, w: surveys.save_mapping(
        s,
        w.lead,
        w.survey,
        columns=w.survey.satisfaction_columns,
        level_map={**LEVEL_MAP, "一般": "满意"},
        leaf_code="D12",
    ),
    "survey.publish (groups, 发放数)": lambda s, w: builder.publish(
        s,
        w.lead,
        w.survey,
        status="open",
        opens_at=None,
        closes_at=None,
        target_n=None,
        distributed=40,
        require_token=False,
        group_column=None,
        group_targets={},
    ),
    "survey.tokens": lambda s, w: builder.issue_tokens(s, w.lead, w.survey, count=3, labels=[]),
    "survey.questions": lambda s, w: builder.set_questions(
        s,
        w.lead,
        s.get(Survey, w.draft_id),
        [*builder.questions_of(s.get(Survey, w.draft_id))] * 2,
        "add",
    ),
    "survey.create": lambda s, w: builder.create_form(
        s, w.lead, w.engagement, title="第二轮", group="", population=500, start_from=None
    ),
    # indicator inputs and the tree
    "score.update": lambda s, w: scoring.save_input(
        s,
        w.lead,
        w.engagement,
        "C41",
        LeafInput(level=QualitativeLevel.ACHIEVED, score=D("6.5"), reason="超支"),
    ),
    "score.not_applicable": lambda s, w: scoring.save_input(
        s, w.lead, w.engagement, "C41", LeafInput(), not_applicable=True
    ),
    "indicators.instantiate": lambda s, w: scoring.instantiate(
        s, w.lead, w.engagement, scoring.bundled_templates()["project-2020"], replace=True
    ),
    "indicators.update": lambda s, w: scoring.update_node(
        s, w.lead, w.system, "C41", {"name": "群众反映问题处理"}
    ),
    "indicators.weights": lambda s, w: scoring.set_child_weights(
        s, w.lead, w.system, "D1", {"D11": D(15), "D12": D(15)}
    ),
    "indicators.add": lambda s, w: scoring.add_leaf(
        s, w.lead, w.system, "C4", "C42", "长效机制", D(2), "C41"
    ),
    "indicators.remove": lambda s, w: scoring.remove_node(s, w.lead, w.system, "A12", "A11"),
    # the expert panel
    "panel.invite": lambda s, w: experts.invite(
        s, w.lead, w.engagement, experts.create_expert(s, w.lead, name="丁专家"), ["D11"]
    ),
    "panel.reissue (weight)": lambda s, w: experts.invite(
        s, w.lead, w.engagement, w.member(w.invited_id).expert, ["D11"], weight=D(2)
    ),
    "panel.declare (recusal)": lambda s, w: experts.declare(
        s, w.member(w.invited_id), has_conflict=True, text="项目单位亲属", confidentiality=True
    ),
    "panel.submit": lambda s, w: experts.save_sheet(
        s,
        w.member(w.declared_id),
        scoring.template_of(w.system),
        {"D11": ("15", "台账不全")},
        round_no=1,
        submit=True,
    ),
    "panel.reopen": lambda s, w: experts.reopen(s, w.lead, w.member(w.submitted_id), 1, "录错"),
    "panel.round2": lambda s, w: experts.open_round2(s, w.lead, w.engagement),
    "panel.settings": lambda s, w: experts.save_settings(
        s, w.lead, w.engagement, aggregation=Aggregation.MEDIAN, trim_min_n=5, step=D("0.5")
    ),
    "panel.expert_info": lambda s, w: experts.save_expert_info(
        s, w.lead, w.engagement, named_in_report=False, deadline=None, contact=""
    ),
    "panel.undo_recusal": lambda s, w: experts.undo_recusal(
        s, w.lead, _recused(w.member(w.invited_id)), "专家误选，经核实无利益冲突"
    ),
    # funds, goals
    "budget.update (figures)": lambda s, w: engagements.save_budget(
        s,
        w.lead,
        w.engagement,
        lines={FundSource.FISCAL: {"initial": D(100), "adjusted": D(100), "available": D(95)}},
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.ADJUSTED,
        expected_version=None,
    ),
    "budget.update (denominator)": lambda s, w: engagements.save_budget(
        s,
        w.lead,
        w.engagement,
        lines={FundSource.FISCAL: {"initial": D(100), "adjusted": D(100), "available": D(90)}},
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.AVAILABLE,
        expected_version=None,
    ),
    "goals.update_text": lambda s, w: engagements.save_goal_texts(
        s, w.lead, w.engagement, overall_goal="饮水安全", annual_goal=None, expected_version=None
    ),
    "goal.create": lambda s, w: engagements.add_goal(s, w.lead, w.engagement, **GOAL),
    "goal.update": lambda s, w: engagements.update_goal(
        s, w.lead, s.get(GoalIndicator, w.goal_id), **{**GOAL, "actual_value": "101"}
    ),
    "goal.delete": lambda s, w: engagements.delete_goal(s, w.lead, s.get(GoalIndicator, w.goal_id)),
    "goals.import": lambda s, w: engagements.import_goals(
        s,
        w.lead,
        w.engagement,
        [GoalRow("效益指标", "社会效益", "水质达标率", GoalNature.GE, "95", "%", "97", "")],
        replace=False,
        filename="goals.xlsx",
    ),
    # findings and recommendations
    "finding.save": lambda s, w: reports.save_finding(
        s, w.lead, w.engagement, None, kind="experience", title="群众参与", text="村民理事会"
    ),
    "finding.delete": lambda s, w: reports.delete_finding(s, w.lead, s.get(Finding, w.finding_id)),
    # the work phases (工作过程) the report is written from
    "phase.save": lambda s, w: reports.save_phase(
        s, w.lead, w.engagement, None, kind="fieldwork", start=dt.date(2026, 3, 23), place="乡镇"
    ),
    "phase.delete": lambda s, w: reports.delete_phase(s, w.lead, s.get(WorkPhase, w.phase_id)),
    "recommendation.save": lambda s, w: reports.save_recommendation(
        s, w.lead, w.engagement, None, text="建立巡检制度", problem_ids=[w.finding_id]
    ),
    "recommendation.delete": lambda s, w: reports.delete_recommendation(
        s, w.lead, s.get(Recommendation, w.recommendation_id)
    ),
}


@pytest.fixture
def screens(monkeypatch) -> list[int]:
    """The survey screenings actually computed (memo misses)."""
    calls: list[int] = []
    real = surveys._screen

    def counting(session: Any, survey: Survey) -> Any:
        calls.append(survey.id)
        return real(session, survey)

    monkeypatch.setattr(surveys, "_screen", counting)
    return calls


def _committed(engagement_id: int) -> int:
    """The revision another connection sees (what is committed)."""
    with db.engine.connect() as other:
        return other.execute(
            sa.select(Engagement.data_revision).where(Engagement.id == engagement_id)
        ).scalar_one()


def _screen(world: World) -> None:
    db.session.expire_all()  # a new request
    surveys.screened(db.session.get(Survey, world.survey_id))


@pytest.mark.parametrize("kind", list(WRITES))
def test_each_kind_of_write_bumps_the_revision_in_its_own_transaction(
    kind, world, session, screens
):
    write = WRITES[kind]
    before = revision.current(session, world.engagement_id)
    _screen(world)
    _screen(world)
    assert len(screens) == 1  # remembered

    write(session, world)
    session.rollback()
    assert revision.current(session, world.engagement_id) == before  # rolled back with it
    _screen(world)
    assert len(screens) == 1  # nothing changed: still remembered

    write(session, world)
    assert revision.current(session, world.engagement_id) == before + 1  # once
    assert _committed(world.engagement_id) == before  # not before the commit
    session.commit()
    assert _committed(world.engagement_id) == before + 1
    _screen(world)
    _screen(world)
    assert len(screens) == 2  # recomputed once, then remembered again


#: audited actions that change nothing the evaluated result reads (accounts, the firm's
#: template library, the report's workflow and files, work papers, the team, the parties)
NOT_DATA_ACTIONS = {
    "auth.login",
    "auth.login_failed",
    "auth.logout",
    "user.create",
    "user.update",
    "user.password",
    "user.sessions",
    "organisation.create",
    "organisation.update",
    "organisation.result_rules",  # the portfolio's grading of results, per organisation
    "template.upload",  # the library: an engagement scores on its own copy
    "template.retire",
    "expert.create",
    "expert.update",
    "engagement.create",  # revision 0
    "engagement.update",
    "engagement.transition",
    "engagement.archive_package",
    "member.add",
    "member.update",
    "member.remove",
    "panel.revoke",  # the link only: the seat and its scores stay
    "survey.import_discard",  # a job that stored nothing
    "report.build",
    "report.submit",
    "report.review",
    "report.consult",
    "report.comment",
    "report.respond",
    "report.issue",
    "report.template",
    "rectification.update",
    "rectification.attach",  # a rectification file feeds no score
    "workpapers.evidence",  # evidence files feed no score
    "workpapers.paper",
    "workpapers.review",
    "workpapers.request",
    "workpapers.request_list",
    "workpapers.received",
    "workpapers.share",  # which documents the experts may read: no score reads it
}


def _audited_actions() -> set[str]:
    """The action names the application writes to the audit log (read from its source)."""
    import re

    root = Path(__file__).resolve().parents[2] / "workbench"
    found: set[str] = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"\b(?:record|_save_tree)\(", text):
            found.update(re.findall(r'"([a-z]+\.[a-z_]+)"', text[call.end() : call.end() + 250]))
        for line in re.findall(r"\baction = (.+)", text):
            found.update(re.findall(r'"([a-z]+\.[a-z_]+)"', line))
    return found


def test_every_audited_write_is_either_a_data_writer_or_known_not_to_be():
    """A new audited write must be classified: a writer of result data (it bumps the revision
    and gets a line in WRITES) or not (NOT_DATA_ACTIONS)."""
    data = {kind.split(" ")[0] for kind in WRITES} | {"survey.import"}  # imports: own tests
    actions = _audited_actions()
    assert "survey.override" in actions and "indicators.weights" in actions  # the scan works
    assert actions - data - NOT_DATA_ACTIONS == set()
    assert data & NOT_DATA_ACTIONS == set()


#: writes the evaluated result does not depend on: no bump, the remembered results stay
NOT_DATA: dict[str, Callable[[Any, World], Any]] = {
    "engagement.update (title)": lambda s, w: engagements.update_engagement(
        s, w.lead, w.engagement, expected_version=None, title="新标题"
    ),
    "engagement.transition": lambda s, w: engagements.transition(
        s, w.lead, w.engagement, EngagementState.DESIGN
    ),
    "member.add": lambda s, w: engagements.add_member(
        s, w.lead, w.engagement, s.get(type(w.lead), w.colleague_id), MemberRole.MEMBER
    ),
    "panel.revoke": lambda s, w: experts.revoke(s, w.lead, w.member(w.invited_id)),
    "panel draft save": lambda s, w: experts.save_sheet(
        s,
        w.member(w.declared_id),
        scoring.template_of(w.system),
        {"D11": ("15", "")},
        round_no=1,
        submit=False,
    ),
    "workpapers.paper": lambda s, w: workpapers.save_paper(
        s,
        w.lead,
        w.engagement,
        "C41",
        checked_object="台账",
        data_source="项目单位",
        problems="",
        scoring_note="",
    ),
    "budget unchanged": lambda s, w: engagements.save_budget(
        s,
        w.lead,
        w.engagement,
        lines={FundSource.FISCAL: {"initial": D(100), "adjusted": D(100), "available": D(90)}},
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.ADJUSTED,
        expected_version=None,
    ),
}


@pytest.mark.parametrize("kind", list(NOT_DATA))
def test_writes_the_result_does_not_depend_on_leave_the_revision(kind, world, session, screens):
    before = revision.current(session, world.engagement_id)
    _screen(world)
    NOT_DATA[kind](session, world)
    session.commit()
    assert revision.current(session, world.engagement_id) == before
    _screen(world)
    assert len(screens) == 1


def test_reads_and_other_engagements_leave_the_screening_remembered(
    world, session, screens, make_engagement
):
    _screen(world)
    surveys.results(world.survey)
    result_of(session, world.engagement)
    surveys.survey_rates(session, world.engagement)
    other = make_engagement()
    engagements.add_goal(session, other.members[0].user, other, **GOAL)
    session.commit()
    assert revision.current(session, other.id) == 1
    _screen(world)
    assert len(screens) == 1


def test_a_public_submission_leaves_the_evaluators_forms_current(world, session):
    """Responses arrive while an evaluator has the budget form open: its version still holds."""
    engagement = world.engagement
    version, updated_at = engagement.version, engagement.updated_at
    _submit(session, world)
    session.commit()
    session.expire_all()
    engagement = world.engagement
    assert (engagement.version, engagement.updated_at) == (version, updated_at)
    assert engagement.data_revision == revision.current(session, world.engagement_id)
    engagements.save_budget(  # the form opened before the response: accepted
        session,
        world.lead,
        engagement,
        lines={FundSource.FISCAL: {"initial": D(100), "adjusted": D(100), "available": D(95)}},
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.ADJUSTED,
        expected_version=version,
    )
    session.commit()
    assert world.engagement.version == version + 1


def test_a_submission_through_the_page_bumps_only_the_revision(world, session, client):
    before = revision.current(session, world.engagement_id)
    version = world.engagement.version
    token = world.survey.public_token
    client.get(f"/s/{token}")
    page = client.post(f"/s/{token}", data={"q1": "满意"})
    assert page.status_code == 303
    session.expire_all()
    assert revision.current(session, world.engagement_id) == before + 1
    assert world.engagement.version == version


def _table_job(session: Any, world: World, body: str) -> ImportJob:
    survey = world.survey
    job = jobs.create(
        session,
        world.lead,
        world.engagement,
        kind="table",
        data=body.encode("utf-8"),
        filename="paper.csv",
        options={},
        survey=survey,
    )
    job.options = {**job.options, "mapping": {"序号": "meta:row_no", "满意度": survey.columns[0]}}
    session.commit()
    return job


def test_an_import_bumps_the_revision_with_its_rows_and_a_failed_one_does_not(
    world, session, app, screens
):
    before = revision.current(session, world.engagement_id)
    _screen(world)
    bad = _table_job(session, world, "序号,满意度\n1,满意\n2,很满意呀\n")
    jobs.start(app, bad)
    session.expire_all()
    assert session.get(ImportJob, bad.id).status == "mapping"  # failed: nothing stored
    assert revision.current(session, world.engagement_id) == before
    _screen(world)
    assert len(screens) == 1

    good = _table_job(session, world, "序号,满意度\n1,满意\n2,一般\n3,非常满意\n")
    jobs.start(app, good)
    session.expire_all()
    assert session.get(ImportJob, good.id).status == "done"
    assert revision.current(session, world.engagement_id) == before + 1
    _screen(world)
    assert len(screens) == 2
    assert len(surveys.screened(world.survey)) == 4 + 3


def test_an_import_declared_dead_while_it_ran_keeps_neither_rows_nor_bump(
    world, session, app, monkeypatch
):
    """The job's last step finds it taken away: rows and bump are rolled back together."""
    before = revision.current(session, world.engagement_id)
    job = _table_job(session, world, "序号,满意度\n1,满意\n")
    job_id = job.id
    insert = jobs.insert_rows

    def reaped_meanwhile(s: Any, survey_id: int, rows: Any, tick: Any = lambda n: None) -> None:
        with db.engine.begin() as other:  # another request declared it dead
            table = ImportJob.__table__
            other.execute(sa.update(table).where(table.c.id == job_id).values(status="failed"))
        insert(s, survey_id, rows, tick)

    monkeypatch.setattr(jobs, "insert_rows", reaped_meanwhile)
    jobs.start(app, job)
    session.expire_all()
    assert session.get(ImportJob, job_id).status == "failed"
    assert len(surveys.screened(world.survey)) == 4
    assert revision.current(session, world.engagement_id) == before


def test_a_rolled_back_savepoint_does_not_serve_its_screening_later(world, session, screens):
    """A bump undone with a savepoint hands the number out again within the transaction:
    every bump carries its own marker, so the memo never matches the undone data."""
    _screen(world)
    nested = session.begin_nested()
    _submit(session, world, "不满意")
    assert surveys.results(world.survey).responses == 5
    nested.rollback()
    _submit(session, world, "非常满意")
    res = surveys.results(world.survey)
    assert (
        res.responses == 5
        and res.items[world.survey.satisfaction_columns[0]].counts["非常满意"] == 2
    )
    session.commit()
    assert surveys.results(world.survey).responses == 5


def test_revision_keys_read_several_engagements_in_one_statement(world, session, make_engagement):
    other = make_engagement()
    other_id = other.id
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        keys = revision.keys(session, [world.engagement_id, other_id, world.engagement_id])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert len(statements) == 1
    assert keys[other_id] == (0, None)
    assert keys[world.engagement_id][1] is None  # committed: no marker
    revision.bump(session, other_id)
    marked = revision.keys(session, [other_id])[other_id]
    assert marked[0] == 1 and marked[1] is not None
    revision.bump(session, other_id)
    again = revision.keys(session, [other_id])[other_id]
    assert again[0] == 2 and again[1] not in (None, marked[1])  # a marker per bump
    session.commit()
    assert revision.keys(session, [other_id])[other_id] == (2, None)
