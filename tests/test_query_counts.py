"""SQL statements per page stay bounded: no page runs a query per row (no N+1).

A realistic world (the demo data plus extra engagements, goals, experts, survey responses,
findings, users and evidence) is built at size 1, every main page is requested and its SQL
statements are counted with a ``before_cursor_execute`` listener; then every listed thing is
doubled and the counts must not change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from workbench.db import db

#: Extra rows added per growth step, on top of the demo data.
STEP = {
    "engagements": 15,
    "goals": 20,
    "experts": 8,
    "responses": 100,
    "findings": 5,
    "users": 10,
    "evidence": 6,
    "versions": 2,
}

#: The most statements any page may run (a generous ceiling; growth is checked separately).
CEILING = 60

#: Pages allowed to grow, and by how many statements per added engagement that has an
#: indicator system and no issued report: the team's portfolio reads each such engagement's
#: live result with ``workbench.evaluation.result_of``, cached by data revision: one
#: statement (the revision key) once the result is cached, as it is after the warm-up.
PER_LIVE_SCORE = {"portfolio": 1}


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    """Collect the SQL of every statement sent to ``engine`` inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


class World:
    """The demo data and handles on the objects whose pages are counted."""

    def __init__(self) -> None:
        session = db.session
        from workbench.accounts.models import User
        from workbench.demo import DEMO_TITLE, load_demo
        from workbench.engagements.models import Engagement
        from workbench.experts.models import PanelMember
        from workbench.experts.services import hash_token
        from workbench.surveys.models import Survey

        load_demo(session)
        engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
        surveys = session.scalars(
            sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
        ).all()
        self.engagement_id = engagement.id
        self.lead_id = session.scalar(sa.select(User.id).where(User.username == "zhang.wei"))
        self.survey_id = next(s.id for s in surveys if s.kind == "form")
        self.public_token = next(s.public_token for s in surveys if s.kind == "form")
        # a known token for the first expert's seat (invite shows the token only once)
        self.expert_token = "query-count-expert-token-0123456789"
        seat = session.scalars(
            sa.select(PanelMember)
            .where(PanelMember.engagement_id == engagement.id)
            .order_by(PanelMember.id)
        ).first()
        seat.token_hash = hash_token(self.expert_token)
        self.steps = 0
        session.commit()

    @property
    def session(self) -> Any:
        return db.session

    @property
    def lead(self) -> Any:
        from workbench.accounts.models import User

        return self.session.get(User, self.lead_id)

    @property
    def engagement(self) -> Any:
        from workbench.engagements.models import Engagement

        return self.session.get(Engagement, self.engagement_id)

    def grow(self) -> None:
        """Add one step of every listed thing (see ``STEP``)."""
        self.steps += 1
        k = self.steps
        self._engagements(k)
        self._goals(k)
        self._experts(k)
        self._responses(k)
        self._findings(k)
        self._users(k)
        self._evidence(k)
        self._versions(k)
        self.session.commit()

    def _engagements(self, k: int) -> None:
        """Engagements led by the demo lead, with funds, goals, a team and (every other one)
        an indicator system with scores, on the demo client's books."""
        from workbench.accounts.models import Organisation, User
        from workbench.core.budget import FundSource
        from workbench.core.goals import GoalNature, GoalRow
        from workbench.core.scoring import LeafInput
        from workbench.demo import CLIENT, UNIT
        from workbench.engagements import services as engagements
        from workbench.engagements.models import CommissionScope, EvaluationKind, MemberRole
        from workbench.scoring import services as scoring

        session = self.session
        client = session.scalar(sa.select(Organisation).where(Organisation.name == CLIENT))
        unit = session.scalar(sa.select(Organisation).where(Organisation.name == UNIT))
        member = session.scalar(sa.select(User).where(User.username == "li.na"))
        template = scoring.bundled_templates()["project-2020"]
        for i in range(STEP["engagements"]):
            e = engagements.create_engagement(
                session,
                self.lead,
                title=f"第{k}批第{i}号项目支出绩效评价",
                client=client,
                evaluated_units=[unit],
                project_name=f"项目{k}-{i}",
                kind=EvaluationKind.PROJECT,
                scope=CommissionScope.EVALUATION,
                fiscal_year=2021 + i % 5,
            )
            engagements.add_member(session, self.lead, e, member, MemberRole.MEMBER)
            engagements.save_budget(
                session,
                self.lead,
                e,
                lines={
                    FundSource.FISCAL: dict(
                        zip(
                            engagements.BUDGET_FIELDS,
                            (Decimal(100 + i), Decimal(110 + i), Decimal(105), Decimal(99)),
                            strict=True,
                        )
                    )
                },
                funding_denominator=e.funding_denominator,
                execution_denominator=e.execution_denominator,
                expected_version=None,
            )
            engagements.import_goals(
                session,
                self.lead,
                e,
                [
                    GoalRow("产出指标", "数量指标", f"指标{j}", GoalNature.GE, "10", "个", "11", "")
                    for j in range(3)
                ],
                replace=True,
                filename="query-counts",
            )
            if i % 2 == 0:
                scoring.instantiate(session, self.lead, e, template)
                scoring.save_input(
                    session, self.lead, e, "A11", LeafInput(met=(True, True, True, True, True))
                )

    def _goals(self, k: int) -> None:
        from workbench.core.goals import GoalNature
        from workbench.engagements import services as engagements

        for i in range(STEP["goals"]):
            engagements.add_goal(
                self.session,
                self.lead,
                self.engagement,
                level1="产出指标",
                level2="数量指标",
                name=f"新增指标{k}-{i}",
                nature=GoalNature.GE,
                target_value="10",
                unit="个",
                actual_value="12",
            )

    def _experts(self, k: int) -> None:
        """Experts in the registry, each seated on the demo panel with a submitted sheet."""
        from workbench.experts import services as panel
        from workbench.scoring import services as scoring

        system = scoring.system_of(self.session, self.engagement)
        template = scoring.template_of(system)
        for i in range(STEP["experts"]):
            expert = panel.create_expert(
                self.session,
                self.lead,
                name=f"专家{k}-{i}",
                title="高级工程师",
                organisation="某研究院",
                field="水利",
            )
            seat, _token = panel.invite(
                self.session, self.lead, self.engagement, expert, ["D11", "D13", "D14"]
            )
            panel.declare(self.session, seat, has_conflict=False, text="", confidentiality=True)
            scores = {"D11": ("9", "良好"), "D13": ("3.5", "一般"), "D14": ("4", "较好")}
            panel.save_sheet(self.session, seat, template, scores, round_no=1, submit=True)

    def _responses(self, k: int) -> None:
        """Web responses to the public questionnaire: copies of the demo's answers."""
        from workbench.surveys.models import Survey, SurveyResponse

        survey = self.session.get(Survey, self.survey_id)
        answers = self.session.scalars(
            sa.select(SurveyResponse.answers)
            .where(SurveyResponse.survey_id == survey.id)
            .order_by(SurveyResponse.id)
            .limit(20)
        ).all()
        start = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
        rows = [
            {
                "survey_id": survey.id,
                "row_no": f"Q{k}-{n}",
                "source": "web",
                "started_at": start + dt.timedelta(minutes=n, seconds=-200),
                "submitted_at": start + dt.timedelta(minutes=n),
                "duration_s": 200.0,
                "channel": "",
                "ip_hash": hashlib.sha256(f"{k}-{n}".encode()).hexdigest(),
                "ua_hash": "",
                "device_hash": hashlib.sha256(f"d{k}-{n}".encode()).hexdigest(),
                "answers": answers[n % len(answers)],
                "override_note": "",
            }
            for n in range(STEP["responses"])
        ]
        self.session.execute(sa.insert(SurveyResponse), rows)
        self.session.expire(survey, ["responses"])

    def _findings(self, k: int) -> None:
        from workbench.reports import services as reports

        for i in range(STEP["findings"]):
            finding = reports.save_finding(
                self.session,
                self.lead,
                self.engagement,
                None,
                kind="problem",
                title=f"问题{k}-{i}",
                text="部分资料不全。",
                cause="管理不到位。",
                indicator_codes=["B13"],
                evidence="现场核查记录",
            )
            reports.save_recommendation(
                self.session,
                self.lead,
                self.engagement,
                None,
                text=f"建议{k}-{i}",
                problem_ids=[finding.id],
            )

    def _users(self, k: int) -> None:
        from workbench.accounts.models import Organisation, Role
        from workbench.accounts.services import create_user
        from workbench.demo import CLIENT

        client = self.session.scalar(sa.select(Organisation).where(Organisation.name == CLIENT))
        for i in range(STEP["users"]):
            create_user(
                self.session,
                None,
                username=f"user-{k}-{i}",
                display_name=f"用户{k}-{i}",
                password="correct-horse-42",
                role=Role.CLIENT if i % 3 == 0 else Role.EVALUATOR,
                organisation=client if i % 3 == 0 else None,
            )

    def _evidence(self, k: int) -> None:
        """Request-list items, evidence files and working papers (rows only; no files)."""
        from workbench.workpapers import services as workpapers
        from workbench.workpapers.models import EvidenceFile, WorkingPaper

        codes = [f"{d}{j}{k}" for d in "ABC" for j in (1, 2, 3) for k in (1, 2)]  # 18 codes
        for i in range(STEP["evidence"]):
            item = workpapers.add_request(
                self.session, self.lead, self.engagement, f"资料{k}-{i}", [codes[i]]
            )
            self.session.add(
                EvidenceFile(
                    engagement_id=self.engagement.id,
                    indicator_code=codes[i],
                    request_item_id=item.id,
                    filename=f"证据{k}-{i}.pdf",
                    kind="pdf",
                    version=1,
                    sha256=hashlib.sha256(f"{k}-{i}".encode()).hexdigest(),
                    size=1000,
                    uploaded_by_id=self.lead.id,
                )
            )
            code = codes[(k - 1) * STEP["evidence"] + i]
            self.session.add(
                WorkingPaper(
                    engagement_id=self.engagement.id,
                    indicator_code=code,
                    checked_object="项目资料",
                    data_source="项目单位",
                    problems="",
                    scoring_note="",
                )
            )

    def _versions(self, k: int) -> None:
        """Draft report versions (rows only; the report index lists them)."""
        from workbench.reports.models import ReportVersion

        top = self.session.scalar(
            sa.select(sa.func.max(ReportVersion.number)).where(
                ReportVersion.engagement_id == self.engagement.id
            )
        )
        for i in range(STEP["versions"]):
            self.session.add(
                ReportVersion(
                    engagement_id=self.engagement.id,
                    number=(top or 0) + i + 1,
                    template="project",
                    stored_as=f"none-{k}-{i}.docx",
                    sha256="0" * 64,
                    size=0,
                    total="85.00",
                    grade="良",
                    created_by_id=self.lead.id,
                )
            )

    def pages(self) -> dict[str, tuple[str, str]]:
        """Page name → (who asks, URL)."""
        e, s = self.engagement_id, self.survey_id
        return {
            "engagement list": ("zhang.wei", "/engagements/"),
            "engagement detail": ("zhang.wei", f"/engagements/{e}"),
            "budget": ("zhang.wei", f"/engagements/{e}/budget"),
            "goals": ("zhang.wei", f"/engagements/{e}/goals"),
            "indicators": ("zhang.wei", f"/engagements/{e}/indicators"),
            "scores": ("zhang.wei", f"/engagements/{e}/scores"),
            "panel": ("zhang.wei", f"/engagements/{e}/panel"),
            "survey index": ("zhang.wei", f"/engagements/{e}/surveys/"),
            "survey results": ("zhang.wei", f"/engagements/{e}/surveys/{s}/results"),
            "cleaning": ("zhang.wei", f"/engagements/{e}/surveys/{s}/cleaning"),
            "report index": ("zhang.wei", f"/engagements/{e}/report/"),
            "findings": ("zhang.wei", f"/engagements/{e}/report/findings"),
            "portfolio": ("zhang.wei", "/portfolio/"),
            "portfolio (client)": ("czj.liu", "/portfolio/"),
            "workpapers": ("zhang.wei", f"/engagements/{e}/workpapers/"),
            "expert registry": ("zhang.wei", "/experts/"),
            "admin users": ("admin", "/admin/users"),
            "expert sheet": ("", f"/x/{self.expert_token}"),
            "public survey": ("", f"/s/{self.public_token}"),
        }


PASSWORDS = {
    "zhang.wei": "demo-evaluator-2026",
    "czj.liu": "demo-client-2026",
    "admin": "demo-admin-2026",
}


def measure(app: Flask, world: World) -> dict[str, int]:
    """Statements per page, each page asked once after one warm-up request."""
    clients: dict[str, FlaskClient] = {}
    counts = {}
    for page, (who, url) in world.pages().items():
        if who not in clients:
            clients[who] = app.test_client()
            if who:
                response = clients[who].post(
                    "/login", data={"username": who, "password": PASSWORDS[who]}
                )
                assert response.status_code == 302, who
        client = clients[who]
        assert client.get(url).status_code == 200, page  # warm-up: caches, session, CSRF
        db.session.remove()  # nothing the test loaded may save the page a query
        with counting(db.engine) as statements:
            response = client.get(url)
        assert response.status_code == 200, page
        counts[page] = len(statements)
    return counts


def test_main_pages_run_a_bounded_number_of_queries(app: Flask) -> None:
    world = World()
    world.grow()
    small = measure(app, world)
    world.grow()
    large = measure(app, world)

    live_scored = len(range(0, STEP["engagements"], 2))  # see World._engagements
    growth = {page: large[page] - small[page] for page in small}
    fixed = {page: n for page, n in growth.items() if page not in PER_LIVE_SCORE}
    assert fixed == dict.fromkeys(fixed, 0)
    for page, per_engagement in PER_LIVE_SCORE.items():
        assert 0 <= growth[page] <= per_engagement * live_scored, page
    too_many = {page: n for page, n in small.items() if n > CEILING}
    assert too_many == {}


def test_the_counter_sees_a_query_per_row_when_a_page_runs_one(app: Flask) -> None:
    """The listener does count statements: a loop over rows shows up as growth."""
    from workbench.experts.models import Expert

    world = World()
    with counting(db.engine) as statements:
        for expert in db.session.scalars(sa.select(Expert)).all():
            db.session.refresh(expert)
    before = len(statements)
    world._experts(1)
    db.session.commit()
    with counting(db.engine) as statements:
        for expert in db.session.scalars(sa.select(Expert)).all():
            db.session.refresh(expert)
    assert len(statements) == before + STEP["experts"]
