"""Benchmark: the engagement list page against a bare Flask endpoint, in the same run.

    .venv/bin/python bench/engagement_list.py [--engagements 500] [--requests 200]

Builds a migrated SQLite database in a temporary folder, loads N engagements (the user is on
every team), then times GET /engagements/ (first page, 25 rows, filters built from the visible
set) and GET /engagements/?q=... through the WSGI test client. The baseline is a minimal Flask
app answering "ok" through the same test client, so the printed ratio says what the page costs
on top of Flask itself on this machine, whatever its speed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from flask import Flask


def timed(client, url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engagements", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from workbench import create_app
    from workbench.accounts.models import Organisation, OrganisationKind, Role
    from workbench.accounts.services import create_user
    from workbench.db import db
    from workbench.engagements.models import (
        CommissionScope,
        Engagement,
        EngagementMember,
        EvaluationKind,
        MemberRole,
    )

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_PATH": tmp,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'b.db'}",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 1024,
                "ARGON2_PARALLELISM": 1,
            }
        )
        with app.app_context():
            upgrade()
            clients = [
                Organisation(name=f"第{i}县财政局", kind=OrganisationKind.CLIENT) for i in range(20)
            ]
            db.session.add_all(clients)
            user = create_user(
                db.session,
                None,
                username="bench",
                display_name="Bench",
                password="bench-password-1",
                role=Role.EVALUATOR,
            )
            for i in range(args.engagements):
                e = Engagement(
                    title=f"第{i}号项目绩效评价",
                    client=clients[i % 20],
                    project_name=f"项目{i}",
                    kind=EvaluationKind.PROJECT,
                    scope=CommissionScope.EVALUATION,
                    fiscal_year=2020 + i % 6,
                )
                e.members.append(EngagementMember(user=user, role=MemberRole.LEAD))
                db.session.add(e)
            db.session.commit()

        client = app.test_client()
        client.post("/login", data={"username": "bench", "password": "bench-password-1"})

        baseline = Flask("baseline")
        baseline.add_url_rule("/", "ok", lambda: "ok")
        base_client = baseline.test_client()

        timed(client, "/engagements/", 10)  # warm-up
        timed(base_client, "/", 10)
        base = timed(base_client, "/", args.requests)
        page = timed(client, "/engagements/", args.requests)
        search = timed(client, "/engagements/?q=%E7%AC%AC1&year=2021", args.requests)

        def p50(xs: list[float]) -> float:
            return statistics.median(xs) * 1000

        print(f"engagements={args.engagements} requests={args.requests}")
        print(f"baseline bare Flask   p50 {p50(base):7.3f} ms")
        print(f"/engagements/         p50 {p50(page):7.3f} ms  ratio {p50(page) / p50(base):6.1f}x")
        print(
            f"/engagements/?q&year  p50 {p50(search):7.3f} ms  "
            f"ratio {p50(search) / p50(base):6.1f}x"
        )
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
