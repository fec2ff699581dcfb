"""Benchmark: response time and SQL statements of the main pages, against a bare Flask endpoint.

    .venv/bin/python bench/pages.py [--responses 3000] [--experts 15] [--engagements 30]
        [--requests 20] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME --reset]

Builds a migrated database (SQLite in a temporary folder by default) with the demo data and a
large engagement from ``report_build.py`` (60 indicators, 15 experts who all submit, a
beneficiary questionnaire with ``--responses`` answers, published so that its public page
opens), plus 40 goal indicators, 10 findings with recommendations, funds, and
``--engagements`` more engagements led by the same evaluator (half of them with a scored
indicator system) for the list and the portfolio. Then, through the Flask test client, logged
in as that evaluator (the admin for the user list, the demo client for the client portfolio,
nobody for the expert's and the respondent's links), it requests every main page 3 times to
warm up and ``--requests`` times timed, and prints per page the median and 90th percentile,
the SQL statements of one request, and the ratio of the median to the baseline: a bare Flask
endpoint answering "ok" through the same test client class, timed in the same run.

With ``--database-url`` the given PostgreSQL database is used; it must have no tables, or
``--reset`` drops and recreates its ``public`` schema first (everything in it is lost).
"""

from __future__ import annotations

import argparse
import contextvars
import datetime as dt
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).resolve().parent))  # report_build, run as a script

from report_build import build_engagement

BENCH_USER = ("bench", "bench-password-1")
LOGINS = {
    "bench": "bench-password-1",
    "admin": "demo-admin-2026",
    "czj.liu": "demo-client-2026",
}
EXPERT_TOKEN = "bench-pages-expert-token-0123456789abcdef"
TARGET_MS = 150


class IsolatedClient(FlaskClient):
    """Every request in its own context, as a server runs it (no ``g`` shared between them)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(url: str, instance: str) -> Flask:
    from workbench import create_app

    app = create_app(
        {
            "INSTANCE_PATH": instance,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_PARALLELISM": 1,
            "SURVEY_IMPORT_INLINE": True,
        }
    )
    app.test_client_class = IsolatedClient
    return app


def prepare_postgres(url: str, reset: bool) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = sa.inspect(conn).get_table_names()
        if tables and not reset:
            sys.exit(f"{url} has {len(tables)} tables; pass --reset to drop its public schema")
        if reset:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def build_world(session: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The demo data, the large engagement and the extra rows; returns ids and tokens."""
    from workbench.accounts.models import Organisation, User
    from workbench.core.budget import FundSource
    from workbench.core.goals import GoalNature, GoalRow
    from workbench.core.scoring import LeafInput
    from workbench.demo import load_demo
    from workbench.engagements import services as engagements
    from workbench.engagements.models import CommissionScope, Engagement, EvaluationKind
    from workbench.experts.models import PanelMember
    from workbench.experts.services import hash_token
    from workbench.reports import services as reports
    from workbench.scoring import services as scoring
    from workbench.surveys import builder
    from workbench.surveys.models import Survey

    load_demo(session)
    session.commit()
    engagement_id = build_engagement(session, args.experts, args.responses)
    engagement = session.get(Engagement, engagement_id)
    user = session.scalar(sa.select(User).where(User.username == BENCH_USER[0]))
    client = session.get(Organisation, engagement.client_id)

    engagements.save_budget(
        session,
        user,
        engagement,
        lines={
            FundSource.FISCAL: dict(
                zip(
                    engagements.BUDGET_FIELDS,
                    (Decimal("5000"), Decimal("5200"), Decimal("5100"), Decimal("4890.5")),
                    strict=True,
                )
            )
        },
        funding_denominator=engagement.funding_denominator,
        execution_denominator=engagement.execution_denominator,
        expected_version=None,
    )
    engagements.import_goals(
        session,
        user,
        engagement,
        [
            GoalRow(
                "产出指标" if i % 2 else "效益指标",
                "数量指标" if i % 2 else "社会效益指标",
                f"绩效指标{i + 1}",
                GoalNature.GE,
                "100",
                "个",
                str(95 + i % 10),
                "",
            )
            for i in range(40)
        ],
        replace=True,
        filename="bench",
    )
    for i in range(10):
        finding = reports.save_finding(
            session,
            user,
            engagement,
            None,
            kind="problem" if i % 2 else "experience",
            title=f"事项{i + 1}",
            text="现场核查发现的情况说明。" * 5,
            cause="管理制度执行不到位。" if i % 2 else "",
            indicator_codes=["B11"],
            evidence="现场核查记录",
        )
        if i % 2:
            reports.save_recommendation(
                session, user, engagement, None, text=f"建议{i}", problem_ids=[finding.id]
            )

    survey = session.scalar(sa.select(Survey).where(Survey.engagement_id == engagement.id))
    builder.publish(
        session,
        user,
        survey,
        status="open",
        opens_at=None,
        closes_at=None,
        target_n=args.responses,
        distributed=None,
        require_token=False,
        group_column=None,
        group_targets={},
    )
    seat = session.scalars(
        sa.select(PanelMember)
        .where(PanelMember.engagement_id == engagement.id)
        .order_by(PanelMember.id)
    ).first()
    seat.token_hash = hash_token(EXPERT_TOKEN)
    seat.token_expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)

    template = scoring.bundled_templates()["project-2020"]
    for i in range(args.engagements):
        other = engagements.create_engagement(
            session,
            user,
            title=f"第{i + 1}号项目支出绩效评价",
            client=client,
            project_name=f"项目{i + 1}",
            kind=EvaluationKind.PROJECT,
            scope=CommissionScope.EVALUATION,
            fiscal_year=2021 + i % 5,
        )
        engagements.save_budget(
            session,
            user,
            other,
            lines={
                FundSource.FISCAL: dict(
                    zip(
                        engagements.BUDGET_FIELDS,
                        (Decimal(100 + i), Decimal(110 + i), Decimal(105), Decimal(99)),
                        strict=True,
                    )
                )
            },
            funding_denominator=other.funding_denominator,
            execution_denominator=other.execution_denominator,
            expected_version=None,
        )
        if i % 2 == 0:
            scoring.instantiate(session, user, other, template)
            scoring.save_input(session, user, other, "A11", LeafInput(met=(True,) * 5))
    session.commit()
    return {"engagement": engagement.id, "survey": survey.id, "token": survey.public_token}


def pages(world: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(page, who asks, URL) for every main page."""
    e, s = world["engagement"], world["survey"]
    return [
        ("engagement list", "bench", "/engagements/"),
        ("engagement detail", "bench", f"/engagements/{e}"),
        ("budget", "bench", f"/engagements/{e}/budget"),
        ("goals", "bench", f"/engagements/{e}/goals"),
        ("indicators", "bench", f"/engagements/{e}/indicators"),
        ("scores", "bench", f"/engagements/{e}/scores"),
        ("panel", "bench", f"/engagements/{e}/panel"),
        ("survey index", "bench", f"/engagements/{e}/surveys/"),
        ("survey results", "bench", f"/engagements/{e}/surveys/{s}/results"),
        ("cleaning", "bench", f"/engagements/{e}/surveys/{s}/cleaning"),
        ("report index", "bench", f"/engagements/{e}/report/"),
        ("findings", "bench", f"/engagements/{e}/report/findings"),
        ("portfolio", "bench", "/portfolio/"),
        ("portfolio (client)", "czj.liu", "/portfolio/"),
        ("workpapers", "bench", f"/engagements/{e}/workpapers/"),
        ("expert registry", "bench", "/experts/"),
        ("admin users", "admin", "/admin/users"),
        ("expert sheet /x/", "", f"/x/{EXPERT_TOKEN}"),
        ("public survey /s/", "", f"/s/{world['token']}"),
    ]


def timed(client: FlaskClient, url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            sys.exit(f"GET {url}: {response.status_code}")
    return samples


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=3000)
    parser.add_argument("--experts", type=int, default=15)
    parser.add_argument("--engagements", type=int, default=30)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--reset", action="store_true")
    parser.add_argument("--only", default="", help="time only the pages whose name contains this")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from workbench.db import db

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'pages.db'}"
        if args.database_url:
            prepare_postgres(url, args.reset)
        app = make_app(url, tmp)
        start = time.perf_counter()
        with app.app_context():
            upgrade()
            world = build_world(db.session, args)
            engine = db.engine
            db.session.remove()
        setup = time.perf_counter() - start

        statements: list[str] = []

        def count(conn, cursor, statement, *rest):  # type: ignore[no-untyped-def]
            statements.append(statement)

        baseline = Flask("baseline")
        baseline.add_url_rule("/", "ok", lambda: "ok")
        baseline.test_client_class = IsolatedClient
        base_client = baseline.test_client()
        timed(base_client, "/", 50)
        base = timed(base_client, "/", max(args.requests, 200))

        clients: dict[str, FlaskClient] = {}
        results = []
        for page, who, path in pages(world):
            if args.only and args.only not in page:
                continue
            if who not in clients:
                clients[who] = app.test_client()
                if who:
                    login = clients[who].post(
                        "/login", data={"username": who, "password": LOGINS[who]}
                    )
                    if login.status_code != 302:
                        sys.exit(f"login {who}: {login.status_code}")
            client = clients[who]
            timed(client, path, 3)
            statements.clear()
            sa.event.listen(engine, "before_cursor_execute", count)
            timed(client, path, 1)
            sa.event.remove(engine, "before_cursor_execute", count)
            queries = len(statements)
            samples = timed(client, path, args.requests)
            results.append((page, statistics.median(samples), p90(samples), queries))
        with app.app_context():
            db.engine.dispose()

    base_ms = statistics.median(base) * 1000
    backend = sa.make_url(url).get_backend_name()
    print(
        f"{backend}: demo + large engagement (60 indicators, {args.experts} experts, "
        f"{args.responses:,} responses, 40 goals, 10 findings) + {args.engagements} engagements; "
        f"built in {setup:.1f} s; {args.requests} timed requests per page after 3 warm-ups"
    )
    print(f"baseline bare Flask endpoint: median {base_ms:.3f} ms")
    print(f"| page | median ms | p90 ms | queries | × bare | < {TARGET_MS} ms |")
    print("|---|---|---|---|---|---|")
    for page, median, ninety, queries in results:
        ms = median * 1000
        print(
            f"| {page} | {ms:.1f} | {ninety * 1000:.1f} | {queries} | {ms / base_ms:,.0f} | "
            f"{'yes' if ms < TARGET_MS else 'NO'} |"
        )


if __name__ == "__main__":
    main()
