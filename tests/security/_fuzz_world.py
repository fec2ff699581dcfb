"""Shared helpers of the fuzz tests: hostile values, a demo world, and the write-nothing check.

The world is the demo engagement (``workbench.demo.load_demo``) plus an expert whose link is
still open. On SQLite it is built once per run into a template file that every test copies; on
PostgreSQL it is rebuilt per test (``DATABASE_URL``). Hypothesis re-runs a test body many times on
the same world, so the properties compare row counts before and after each request instead of
assuming an empty database.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.conftest import PG_URL, USE_PG, make_app
from workbench.db import db

#: Hypothesis settings of every fuzz test: the world is built once per test function (a
#: function-scoped fixture on purpose, hence the suppressed health check) and reused by every
#: example; no deadline because the machine is shared and slow.
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # no example files in the shared working tree
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
#: Raw markers that must never reach an HTML body unescaped.
RAW_MARKERS = ("<script>alert(1)", "<img src=x onerror")

FORMULAS = ('=HYPERLINK("http://x","y")', "+cmd", "-1+1", "@SUM(A1)", "=1+1", "\t=1+1")

NASTY = [
    SCRIPT,
    IMG,
    *FORMULAS,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 3 + "1",
    "\u0085",
    "a\u2028b\u2029",
    "\ufeff1",
    "\ufffe\uffff",
    "\x7f\x1b[31m",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1e309",
    "-1e309",
    "1e-400",
    "-1",
    "-0",
    "0",
    "9" * 400,
    "99999999999999999999",
    "1,2,3",
    "1,200.50",
    "１２３",
    "3.14%",
    "0x10",
    "1_000",
    "None",
    "true",
    "[]",
    "{}",
    "2025-02-30",
    "9999-12-31",
    "-5-01-01",
    "../../etc/passwd",
    "' OR 1=1 --",
    "{{7*7}}",
    "%s%n",
    "x" * 100_000,
    "汉" * 40_000,
]

_control = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "a", "1"]
    ),
    min_size=1,
    max_size=12,
)
_unicode = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # no lone surrogates over HTTP
    max_size=40,
)

#: One hostile form value.
hostile = st.one_of(
    st.sampled_from(NASTY),
    _control,
    _unicode,
    st.builds(lambda a, b: a + b, st.sampled_from([SCRIPT, IMG, *FORMULAS]), _control),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)

#: What hypothesis does to one field: keep the page's value, drop the field, or replace it.
KEEP = object()
DROP = object()
field_action = st.one_of(st.just(KEEP), st.just(KEEP), st.just(DROP), hostile)


# --------------------------------------------------------------------------------------------
# HTML forms


@dataclass
class FormSpec:
    """A POST form as rendered: its action and the fields a browser would send."""

    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    #: (name, value) of each named submit button; a browser sends the one clicked.
    buttons: list[tuple[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: values of unchecked radio buttons and checkboxes, by name
    choices: dict[str, list[str]] = field(default_factory=dict)
    #: other actions of buttons with a ``formaction`` (the same fields go there)
    formactions: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[FormSpec] = []
        self._form: FormSpec | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen: bool = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                self._form = FormSpec(action=a.get("action") or self.page_url)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        if tag in ("button", "input") and a.get("formaction"):
            form.formactions.append(a["formaction"])
        if tag == "button" and name:
            form.buttons.append((name, a.get("value", "")))
        elif tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind == "file":
                form.files.append(name)
            elif kind == "submit":
                form.buttons.append((name, a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    form.fields.append((name, a.get("value", "on")))
                else:
                    form.choices.setdefault(name, []).append(a.get("value", "on"))
            else:
                form.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a and not self._select_chosen:
                form.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self.forms.append(self._form)
            for action in dict.fromkeys(self._form.formactions):  # a browser posts it there
                self.forms.append(replace(self._form, action=action, formactions=[]))
            self._form = None
        elif tag == "select" and self._select is not None and self._form is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None


def post_forms(html: str, page_url: str) -> list[FormSpec]:
    """The POST forms of a page, with the values a browser would send unchanged."""
    parser = _FormParser(page_url)
    parser.feed(html)
    return parser.forms


# --------------------------------------------------------------------------------------------
# properties


def row_counts() -> dict[str, int]:
    """Rows per table (every table, so that a stray write anywhere is seen)."""
    db.session.remove()
    tables = db.metadata.sorted_tables
    query = sa.union_all(
        *(sa.select(sa.literal(t.name), sa.func.count()).select_from(t) for t in tables)
    )
    with db.engine.connect() as conn:
        return {row[0]: row[1] for row in conn.execute(query)}


def changed_tables(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def assert_escaped(body: bytes | str, where: str = "") -> None:
    """No raw HTML/JS payload in a page body (escaped copies are fine)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    for marker in RAW_MARKERS:
        assert marker not in text, f"unescaped {marker!r} in {where}"


def danger_flashes(client: FlaskClient, *, clear: bool = False) -> list[str]:
    """Error messages flashed by the last request (and not yet shown)."""
    with client.session_transaction() as sess:
        flashes = sess.pop("_flashes", []) if clear else sess.get("_flashes", [])
        return [m for c, m in flashes if c == "danger"]


def failed(response: Any, client: FlaskClient) -> bool:
    """A request failed validation: re-rendered (not redirected), 4xx, or flashed an error."""
    if response.status_code >= 400:
        return True
    if response.status_code in (301, 302, 303):
        return bool(danger_flashes(client))
    return True


# --------------------------------------------------------------------------------------------
# the world


@dataclass
class World:
    """Ids and secrets of the demo world."""

    engagement_id: int
    lead: str
    lead_password: str
    admin: str
    admin_password: str
    client_user: str
    client_password: str
    goal_id: int
    expert_id: int
    user_id: int
    organisation_id: int
    survey_id: int
    public_token: str
    response_id: int
    expert_token: str
    expert_member_id: int
    system_codes: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def build_world(app: Flask) -> World:
    """Load the demo and add an expert whose link is still unused."""
    from workbench.accounts.models import Organisation, User
    from workbench.demo import DEMO_TITLE, DEMO_USERS, load_demo
    from workbench.engagements.models import Engagement, GoalIndicator
    from workbench.experts import services as panel
    from workbench.reports import services as reports
    from workbench.reports.models import ReportVersion
    from workbench.scoring import services as scoring
    from workbench.surveys import builder
    from workbench.surveys.models import Survey, SurveyResponse

    passwords = {u: p for u, _n, _r, _o, p in DEMO_USERS}
    with app.app_context():
        session = db.session
        load_demo(session)
        session.commit()
        engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
        lead = session.scalar(sa.select(User).where(User.username == "zhang.wei"))
        expert = panel.create_expert(
            session, lead, name="赵测试", title="研究员", organisation="测试院", field="水利"
        )
        member, token = panel.invite(session, lead, engagement, expert, ["D11", "D13", "D14"])
        # a second one who has declared no conflict, so that the sheet itself is open
        sheet_expert = panel.create_expert(session, lead, name="钱测试", organisation="测试所")
        sheet_member, sheet_token = panel.invite(
            session, lead, engagement, sheet_expert, ["D11", "D13", "D14"]
        )
        panel.declare(session, sheet_member, has_conflict=False, text="", confidentiality=True)
        # an issued report (no file needed) opens the rectification items of the problems
        issued = ReportVersion(
            engagement_id=engagement.id,
            number=1,
            template="project",
            status="issued",
            stored_as="missing.docx",
            sha256="0" * 64,
            size=0,
            report_no="FUZZ-2026-001",
            issued_at=dt.datetime.now(dt.UTC),
        )
        session.add(issued)
        draft = builder.create_form(
            session,
            lead,
            engagement,
            title="草稿问卷",
            group="测试",
            population=100,
            start_from=builder.questionnaire_library()["beneficiary"],
        )
        session.flush()
        reports._open_rectification(session, engagement, issued)
        review_ids = _review_versions(session, engagement, lead)
        session.commit()
        survey = session.scalar(
            sa.select(Survey).where(Survey.public_token.is_not(None)).order_by(Survey.id)
        )
        system = scoring.system_of(session, engagement)
        codes: list[str] = []
        stack = list(scoring.template_of(system).indicators) if system else []
        while stack:
            node = stack.pop(0)
            codes.append(node.code)
            stack.extend(node.children)
        world = World(
            engagement_id=engagement.id,
            lead="zhang.wei",
            lead_password=passwords["zhang.wei"],
            admin="admin",
            admin_password=passwords["admin"],
            client_user="czj.liu",
            client_password=passwords["czj.liu"],
            goal_id=session.scalar(
                sa.select(GoalIndicator.id).where(GoalIndicator.engagement_id == engagement.id)
            ),
            expert_id=expert.id,
            user_id=session.scalar(sa.select(User.id).where(User.username == "li.na")),
            organisation_id=session.scalar(
                sa.select(Organisation.id).where(Organisation.name == "安平县财政局")
            ),
            survey_id=survey.id,
            public_token=survey.public_token,
            response_id=session.scalar(
                sa.select(SurveyResponse.id)
                .where(SurveyResponse.survey_id == survey.id)
                .order_by(SurveyResponse.id)
            ),
            expert_token=token,
            expert_member_id=member.id,
            system_codes=codes,
            extra={
                "sheet_token": sheet_token,
                "sheet_member_id": sheet_member.id,
                "draft_survey_id": draft.id,
                **review_ids,
            },
        )
        session.remove()
        db.engine.dispose()
    return world


def _review_versions(session: Any, engagement: Any, lead: Any) -> dict[str, int]:
    """Report versions at every step of the review, so that each review form is on the page:
    v2 a draft with a clean QA (send for review), v3 in review (the lead signs the first
    level), v4 signed by every level (send for comments), v5 out for comments with an
    unanswered comment (record, respond; the client comments) and v6 out for comments with
    nothing to answer and the content hash of the current data (issue). Rows only, no files:
    building a real report takes seconds (the fuzz test makes builds fast, see
    :func:`placeholder_docx`)."""
    from workbench.accounts.models import User
    from workbench.reports import services as reports
    from workbench.reports.context import build_context
    from workbench.reports.models import ReportComment, ReportReview, ReportVersion

    digest = reports.content_hash(build_context(session, engagement))
    reviewer = session.scalar(sa.select(User).where(User.username == "wang.fang"))
    ids: dict[str, int] = {}
    for number, status in enumerate(
        ("draft", "review", "review", "consultation", "consultation"), start=2
    ):
        version = ReportVersion(
            engagement_id=engagement.id,
            number=number,
            template="project",
            status=status,
            stored_as="missing.docx",
            sha256="0" * 64,
            size=0,
            qa=[],
            content_hash=digest,
        )
        session.add(version)
        session.flush()
        ids[f"report_v{number}"] = version.id
        if number >= 4:  # every level has signed
            for level, (name, user) in enumerate(
                zip(reports.DEFAULT_LEVELS, (lead, reviewer), strict=True)
            ):
                session.add(
                    ReportReview(
                        version_id=version.id,
                        level=level,
                        level_name=name,
                        user_id=user.id,
                        reviewer=user.display_name,
                        decision="approve",
                    )
                )
        if number == 5:
            comment = ReportComment(
                version_id=version.id, party="client", author="绩效科", text="请补充依据"
            )
            session.add(comment)
            session.flush()
            ids["report_comment"] = comment.id
    session.flush()
    return ids


def placeholder_docx(*_args: Any, **_kwargs: Any) -> bytes:
    """A small valid .docx standing in for a rendered report (rendering takes seconds)."""
    if not _PLACEHOLDER:
        from docx import Document

        document = Document()
        document.add_paragraph("placeholder report (fuzz tests)")
        buffer = io.BytesIO()
        document.save(buffer)
        _PLACEHOLDER.append(buffer.getvalue())
    return _PLACEHOLDER[0]


_PLACEHOLDER: list[bytes] = []


@pytest.fixture(scope="session")
def world_template(
    migrated_database: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, World] | None:
    """SQLite only: a database file holding the world, copied for each test."""
    if USE_PG:
        return None
    root = tmp_path_factory.mktemp("fuzzworld")
    target = root / "world.db"
    shutil.copyfile(migrated_database, target)
    world = build_world(make_app(root, f"sqlite:///{target}"))
    return str(target), world


@dataclass
class Fuzz:
    app: Flask
    world: World

    def client(self, who: str | None = None) -> FlaskClient:
        """A client logged in as ``who`` ('lead', 'admin', 'client') or anonymous."""
        client = self.app.test_client()
        if who is not None:
            w = self.world
            username, password = {
                "lead": (w.lead, w.lead_password),
                "admin": (w.admin, w.admin_password),
                "client": (w.client_user, w.client_password),
            }[who]
            response = client.post("/login", data={"username": username, "password": password})
            assert response.status_code == 302, f"login of {who} failed"
        return client


@pytest.fixture(name="fuzz")
def fuzz_fixture(
    world_template: tuple[str, World] | None, migrated_database: str, tmp_path: Path
) -> Iterator[Fuzz]:
    """A fresh copy of the world and its app; the test's app context stays open."""
    if USE_PG:
        engine = sa.create_engine(PG_URL)
        tables = [t.name for t in db.metadata.sorted_tables]
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()
        world = build_world(make_app(tmp_path / "build", PG_URL))
        url = PG_URL
    else:
        assert world_template is not None
        path, world = world_template
        target = tmp_path / "world.db"
        shutil.copyfile(path, target)
        url = f"sqlite:///{target}"
    app = make_app(tmp_path, url)
    with app.app_context():
        yield Fuzz(app, world)
        db.session.remove()
        db.engine.dispose()
