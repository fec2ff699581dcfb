"""Shared fixtures of the security tests: one populated world, its actors, and a snapshot.

Stable interface (other security tests import these; keep the names):

* ``ACTORS``: every actor of the access matrix, in a fixed order.
* ``world`` (fixture): a :class:`World` built on the demo engagement (scored, with a panel,
  two surveys and findings) plus everything the routes need: an issued report, a 征求意见稿
  with a client comment, a draft, rectification items, evidence, a request item, a working
  paper, a survey import waiting for its mapping, a one-time survey code, two experts with
  personal links, a custom scoring template, an archived engagement with its package, another
  (empty) engagement of the same team and bureau, and users for every actor. ``world.params`` fills
  URL parameters; ``world.wallet(actor)`` holds the links an actor has (expert token, public
  survey token and code). Report files are placeholders (rendering takes seconds);
  ``fast_render`` (fixture) keeps report builds made during a test just as fast.
* ``world_snapshot`` (fixture): a :class:`Snapshot` taken right after the world was built;
  ``world_snapshot.restore()`` puts the database (SQLite file or PostgreSQL tables) and the
  instance folder back, so a test may change the world and undo it.
* ``actor_client(actor)`` (fixture, a factory): a test client logged in as ``actor``
  (anonymous actors get a plain client); :func:`login_client` does the same for another app
  (for instance one made by ``app_with(WTF_CSRF_ENABLED=True)``); :func:`csrf_token` reads
  a form's token from a page.
* :func:`classify`: a response as an outcome class: ``"ok"`` (2xx, a 3xx that is not the
  "please log in" redirect, or a 400/409/413/422 validation answer: the request got past the
  permission checks), ``"login"``, ``"403"``, ``"404"``, ``"405"``, ``"410"``, ``"429"``,
  ``"500"``.
* :func:`row_counts`: the number of rows of every table (to prove a request changed nothing).
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD
from tests.demo_figures import settle_demo_figures
from workbench.accounts.models import Organisation, Role, User
from workbench.db import db

#: Not logged in: nobody, a survey respondent (public link + one-time code), two experts
#: (personal links). Logged in: the engagement's lead, a team member and the 复核人, an
#: evaluator who is not on the team, a user of the commissioning bureau, a user of another
#: bureau, an administrator.
ACTORS = (
    "anonymous",
    "respondent",
    "expert_a",
    "expert_b",
    "lead",
    "member",
    "reviewer",
    "outsider",
    "client",
    "other_client",
    "admin",
)
#: actors without an account (they never log in)
ANONYMOUS_ACTORS = ("anonymous", "respondent", "expert_a", "expert_b")
#: a token no link was ever issued for
BOGUS_TOKEN = "no-such-link-0000000000000000000000"


@dataclass
class World:
    """Ids, tokens and logins of the populated world (plain values, safe across sessions)."""

    engagement_id: int
    archived_engagement_id: int
    other_engagement_id: int
    usernames: dict[str, str]
    passwords: dict[str, str]
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def wallet(self, actor: str) -> dict[str, str]:
        """The links ``actor`` holds: ``token`` (expert), ``public_token`` and ``code``."""
        held = {"token": BOGUS_TOKEN, "public_token": BOGUS_TOKEN, "code": ""}
        if actor == "expert_a":
            held["token"] = self.tokens["expert_a"]
        elif actor == "expert_b":
            held["token"] = self.tokens["expert_b"]
        elif actor == "respondent":
            held["public_token"] = self.tokens["public"]
            held["code"] = self.tokens["code"]
        return held

    @property
    def params(self) -> dict[str, Any]:
        """Default values for URL parameters (endpoint-specific ones are chosen by the test)."""
        return {
            "engagement_id": self.engagement_id,
            "survey_id": self.ids["survey"],
            "version_id": self.ids["consultation"],
            "member_id": self.ids["seat_a"],
            "goal_id": self.ids["goal"],
            "job_id": self.ids["job"],
            "response_id": self.ids["response"],
            "comment_id": self.ids["comment"],
            "evidence_id": self.ids["evidence"],
            "file_id": self.ids["rectification_file"],
            "user_id": self.ids["spare_user"],
            "organisation_id": self.ids["other_org"],
            "expert_id": self.ids["expert_a"],
            "code": "D11",
            "name": "project",
            "fmt": "docx",
        }


def classify(response: Any) -> str:
    """The outcome class of a response (see the module docstring)."""
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        path = location.split("://", 1)[-1]
        path = path[path.find("/") :] if "://" in location else path
        # Flask-Login's redirect carries ?next=; logging out also ends on /login, without it
        return "login" if path.startswith("/login?next=") else "ok"
    if status < 300 or status in (400, 409, 413, 422):
        return "ok"
    return str(status)


def row_counts() -> dict[str, int]:
    """Rows per table, read on a fresh connection."""
    with db.engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables
        }


class Snapshot:
    """The database and the instance folder as they were; :meth:`restore` brings them back."""

    SCHEMA = "security_snapshot"

    def __init__(self, app: Flask, work: Path) -> None:
        self.app = app
        self.work = work
        self.instance = Path(app.instance_path)
        self.url = db.engine.url
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self.tables = [t.name for t in db.metadata.sorted_tables]
        work.mkdir(parents=True, exist_ok=True)
        self._release()
        if self.sqlite:
            self.db_file = Path(self.url.database or "")
            shutil.copyfile(self.db_file, work / "snapshot.db")
        else:
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE"))
                conn.execute(sa.text(f"CREATE SCHEMA {self.SCHEMA}"))
                for name in self.tables:
                    conn.execute(
                        sa.text(f'CREATE TABLE {self.SCHEMA}."{name}" AS TABLE public."{name}"')
                    )
        shutil.copytree(self.instance, work / "instance", dirs_exist_ok=True)

    def _release(self) -> None:
        """Close every connection (SQLite: fold the WAL into the main file first)."""
        db.session.remove()
        if self.url.get_backend_name() == "sqlite":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.engine.dispose()

    def restore(self) -> None:
        self._release()
        if self.sqlite:
            for suffix in ("-wal", "-shm"):
                Path(f"{self.db_file}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.work / "snapshot.db", self.db_file)
        else:
            with db.engine.begin() as conn:
                # replica: no foreign-key or append-only triggers (DELETE is much faster than
                # TRUNCATE on these small tables)
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                for name in reversed(self.tables):
                    conn.execute(sa.text(f'DELETE FROM public."{name}"'))
                for name in self.tables:
                    conn.execute(
                        sa.text(f'INSERT INTO public."{name}" SELECT * FROM {self.SCHEMA}."{name}"')
                    )
            db.engine.dispose()
        shutil.rmtree(self.instance, ignore_errors=True)
        shutil.copytree(self.work / "instance", self.instance)

    def drop(self) -> None:
        if not self.sqlite:
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE"))


def _issue_report(session: Any, users: dict[str, User], engagement: Any, folder: Path) -> dict:
    """v1 issued as v2 (正式稿, with rectification items), v3 out for comments with a client
    comment, v4 a draft."""
    from workbench.reports import services as reports

    choice = reports.template_choices(session, engagement, folder)[0]
    levels = reports.review_levels(None)
    lead, reviewer = users["lead"], users["reviewer"]

    def signed_and_out(version: Any) -> None:
        reports.submit_for_review(session, lead, version)
        for signer in (lead, reviewer):
            reports.sign(session, signer, engagement, version, levels, approve=True, comment="")
        reports.send_for_comments(session, reviewer, version, levels)

    first = reports.build(session, lead, engagement, choice, folder)
    signed_and_out(first)
    issued = reports.issue(
        session, reviewer, engagement, first, choice, folder, levels, report_no="安全-001"
    )
    consultation = reports.build(session, lead, engagement, choice, folder)
    signed_and_out(consultation)
    comment = reports.add_comment(
        session, users["client"], consultation, party="client", author="绩效科", text="请补充依据"
    )
    draft = reports.build(session, lead, engagement, choice, folder)
    return {
        "issued": issued.id,
        "consultation": consultation.id,
        "draft": draft.id,
        "comment": comment.id,
    }


def _archived_engagement(session: Any, users: dict[str, User], client_org: Any, app: Flask):
    """A small engagement of the same team, taken through the workflow and archived."""
    from workbench import archive
    from workbench.core.workflow import EngagementState
    from workbench.engagements import services as engagements
    from workbench.engagements.models import CommissionScope, EvaluationKind, MemberRole

    lead = users["lead"]
    engagement = engagements.create_engagement(
        session,
        lead,
        title="已归档的评价",
        project_name="已归档项目",
        client=client_org,
        kind=EvaluationKind.PROJECT,
        scope=CommissionScope.EVALUATION,
        fiscal_year=2024,
    )
    engagements.add_member(session, lead, engagement, users["member"], MemberRole.MEMBER)
    engagements.add_member(session, lead, engagement, users["reviewer"], MemberRole.REVIEWER)
    for state in ("design", "fieldwork", "expert_scoring", "drafting", "review"):
        engagements.transition(session, lead, engagement, EngagementState(state))
    engagements.transition(
        session, users["reviewer"], engagement, EngagementState.ISSUED, issued_report=True
    )
    engagements.transition(session, lead, engagement, EngagementState.ARCHIVED)
    instance = Path(app.instance_path)
    archive.build_package(session, engagement, instance / "archives", instance / "reports")
    return engagement


_PLACEHOLDER_DOCX: list[bytes] = []


def placeholder_docx(*_args: Any, **_kwargs: Any) -> bytes:
    """A small valid .docx standing in for a rendered report (rendering takes seconds)."""
    if not _PLACEHOLDER_DOCX:
        from docx import Document

        document = Document()
        document.add_paragraph("placeholder report (security tests)")
        buffer = io.BytesIO()
        document.save(buffer)
        _PLACEHOLDER_DOCX.append(buffer.getvalue())
    return _PLACEHOLDER_DOCX[0]


@pytest.fixture
def fast_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Report builds store a placeholder .docx instead of rendering the template."""
    monkeypatch.setattr("workbench.reports.services.render", placeholder_docx)


def build_world(app: Flask, session: Any) -> World:
    """Populate the database (see the module docstring) and return its ids and tokens.

    Report files are placeholders (see :func:`placeholder_docx`): these tests are about who
    reaches what, not about the report's content.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("workbench.reports.services.render", placeholder_docx)
        return _build_world(app, session)


def _build_world(app: Flask, session: Any) -> World:
    from workbench.accounts.services import create_user
    from workbench.demo import CLIENT, DEMO_TITLE, DEMO_USERS, OTHER_CLIENT, load_demo
    from workbench.engagements import services as engagements
    from workbench.engagements.models import Engagement, EngagementMember, MemberRole
    from workbench.experts import services as panel
    from workbench.scoring import services as scoring
    from workbench.surveys import builder, jobs
    from workbench.surveys.models import Survey, SurveyResponse
    from workbench.workpapers import services as workpapers

    load_demo(session)
    session.flush()
    settle_demo_figures(session, commit=False)  # its report goes through review and issue
    demo_logins = {u: p for u, _n, _r, _o, p in DEMO_USERS}
    by_name = {u.username: u for u in session.scalars(sa.select(User))}
    orgs = {o.name: o for o in session.scalars(sa.select(Organisation))}
    users = {
        "lead": by_name["zhang.wei"],
        "member": by_name["li.na"],
        "reviewer": by_name["wang.fang"],
        "client": by_name["czj.liu"],
        "admin": by_name["admin"],
    }
    for actor, role, org in (
        ("outsider", Role.EVALUATOR, None),
        ("other_client", Role.CLIENT, orgs[OTHER_CLIENT]),
        ("spare", Role.EVALUATOR, None),
    ):
        users[actor] = create_user(
            session,
            None,
            username=f"sec.{actor}",
            display_name=f"Sec {actor}",
            password=PASSWORD,
            role=role,
            organisation=org,
        )
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    lead = users["lead"]
    engagements.add_member(session, lead, engagement, users["spare"], MemberRole.MEMBER)
    instance = Path(app.instance_path)
    ids: dict[str, int] = {}
    ids.update(_issue_report(session, users, engagement, instance / "reports"))
    from workbench.reports.models import RectificationItem

    ids["rectification"] = session.scalar(
        sa.select(RectificationItem.id).where(RectificationItem.engagement_id == engagement.id)
    )
    from workbench.reports import services as report_services

    ids["rectification_file"] = report_services.attach_rectification(
        session,
        lead,
        session.get(RectificationItem, ids["rectification"]),
        instance / "rectification",
        b"%PDF-1.4 rectified",
        "整改.pdf",
    ).id
    from workbench.reports.models import Finding, Recommendation, WorkPhase

    for key, model in (
        ("finding", Finding),
        ("recommendation", Recommendation),
        ("phase", WorkPhase),
    ):
        ids[key] = session.scalar(
            sa.select(model.id).where(model.engagement_id == engagement.id).order_by(model.id)
        )

    # two experts with personal links, both declared; A has saved a draft score
    template = scoring.template_of(scoring.system_of(session, engagement))
    tokens: dict[str, str] = {}
    for actor, name in (("expert_a", "甲·安全测试专家"), ("expert_b", "乙·安全测试专家")):
        expert = panel.create_expert(session, lead, name=name)
        seat, tokens[actor] = panel.invite(session, lead, engagement, expert, ["D11", "D13"])
        panel.declare(session, seat, has_conflict=False, text="", confidentiality=True)
        ids[actor] = expert.id
        ids["seat_" + actor[-1]] = seat.id
    seat_a = session.get(type(seat), ids["seat_a"])
    panel.save_sheet(
        session, seat_a, template, {"D11": ("7.5", "甲的理由")}, round_no=1, submit=False
    )
    panel.settings_of(session, engagement)

    # the public questionnaire now needs a one-time code
    survey = session.scalar(
        sa.select(Survey).where(Survey.engagement_id == engagement.id, Survey.kind == "form")
    )
    survey.require_token = True
    code = builder.issue_tokens(session, lead, survey, count=2, labels=[])[0]
    tokens["public"], tokens["code"] = survey.public_token, code.code
    ids["survey"] = survey.id
    ids["response"] = session.scalar(
        sa.select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id).limit(1)
    )
    job = jobs.create(
        session,
        lead,
        engagement,
        kind="table",
        data="满意度,乡镇\n满意,临川镇\n".encode(),
        filename="import.csv",
        options={"title": "导入", "group": "", "population": None},
        survey=None,
    )
    ids["job"] = job.id

    # working papers: evidence, a paper to review, a goal, a custom scoring template
    evidence = workpapers.upload_evidence(
        session, lead, engagement, instance / "evidence", b"%PDF-1.4 evidence", "证据.pdf"
    )
    ids["evidence"] = evidence.id
    workpapers.set_shared(session, lead, evidence, True)  # the experts may download it
    ids["unshared_evidence"] = workpapers.upload_evidence(
        session, lead, engagement, instance / "evidence", b"%PDF-1.4 internal", "内部底稿.pdf"
    ).id
    ids["request_item"] = workpapers.add_request(session, lead, engagement, "资料", ["D11"]).id
    ids["paper"] = workpapers.save_paper(
        session,
        lead,
        engagement,
        "D11",
        checked_object="x",
        data_source="x",
        problems="",
        scoring_note="x",
    ).id
    ids["goal"] = engagement.goals[0].id
    custom = scoring.bundled_templates()["project-2020"].model_copy(
        update={"code": "sec-custom", "name": "安全测试模板"}
    )
    scoring.add_custom_template(session, lead, custom)

    ids["spare_user"] = users["spare"].id
    ids["spare_seat"] = session.scalar(
        sa.select(EngagementMember.id).where(
            EngagementMember.engagement_id == engagement.id,
            EngagementMember.user_id == users["spare"].id,
        )
    )
    ids["other_org"] = orgs[OTHER_CLIENT].id
    archived = _archived_engagement(session, users, orgs[CLIENT], app)
    other = engagements.create_engagement(
        session,
        lead,
        title="同一团队的另一项评价",
        project_name="另一项目",
        client=orgs[CLIENT],
        kind=engagement.kind,
        scope=engagement.scope,
        fiscal_year=2025,
    )
    for actor, role in (("member", MemberRole.MEMBER), ("reviewer", MemberRole.REVIEWER)):
        engagements.add_member(session, lead, other, users[actor], role)
    # a document shared with the other engagement's panel: not for this engagement's experts
    other_doc = workpapers.upload_evidence(
        session, lead, other, instance / "evidence", b"%PDF-1.4 other", "另一项评价资料.pdf"
    )
    workpapers.set_shared(session, lead, other_doc, True)
    ids["other_shared_evidence"] = other_doc.id
    session.commit()
    ids["engagement_version"] = engagement.version

    usernames = {actor: u.username for actor, u in users.items()}
    passwords = {actor: demo_logins.get(u.username, PASSWORD) for actor, u in users.items()}
    return World(
        engagement_id=engagement.id,
        archived_engagement_id=archived.id,
        other_engagement_id=other.id,
        usernames=usernames,
        passwords=passwords,
        ids=ids,
        tokens=tokens,
    )


@pytest.fixture
def world(app: Flask, session: Any) -> World:
    """The populated world (see :func:`build_world`)."""
    return build_world(app, session)


@pytest.fixture
def world_snapshot(app: Flask, world: World, tmp_path: Path) -> Iterator[Snapshot]:
    """A snapshot of the world; call ``.restore()`` to undo changes."""
    snap = Snapshot(app, tmp_path / "snapshot")
    yield snap
    snap.drop()


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on an HTML page."""
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login_client(app: Flask, world: World, actor: str) -> FlaskClient:
    """A test client; logged in as ``actor`` unless the actor has no account. Works with
    CSRF protection on (the token is read from the login page)."""
    client = app.test_client()
    if actor not in ANONYMOUS_ACTORS:
        data = {"username": world.usernames[actor], "password": world.passwords[actor]}
        if app.config.get("WTF_CSRF_ENABLED", True):
            data["csrf_token"] = csrf_token(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data=data)
        assert response.status_code == 302, f"{actor} could not log in"
    return client


@pytest.fixture
def actor_client(app: Flask, world: World) -> Callable[[str], FlaskClient]:
    """``actor_client("lead")`` → a client logged in as the engagement's lead."""
    return lambda actor: login_client(app, world, actor)
