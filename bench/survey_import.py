"""Benchmark: importing a large 问卷星 export (default 100,000 rows) as a background job.

    .venv/bin/python bench/survey_import.py [--rows 100000] [--format xlsx|csv]

Builds a migrated SQLite database in a temporary folder, writes an option-text 问卷星 export
(six metadata columns, a 5-item matrix, an overall question, a town question), imports it with
the same job code the web page starts in a thread, and prints the time of each phase. The
baseline is reading the same file with ``read_wjx`` alone, in the same run: the ratio says what
checking and storing cost on top of reading, whatever the machine's speed. The web request that
starts an import returns at once; this is how long the progress bar runs.
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from pathlib import Path


def export(rows: int, fmt: str) -> bytes:
    import pandas as pd

    rng = random.Random(1)
    levels = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
    items = [f"5、您对以下方面的满意程度—方面{k}" for k in range(1, 6)]
    data = {
        "序号": range(1, rows + 1),
        "提交答卷时间": [f"2026/09/{1 + i % 28:02d} 12:{i % 60:02d}:00" for i in range(rows)],
        "所用时间": [f"{rng.randint(40, 600)}秒" for _ in range(rows)],
        "来源": "手机提交",
        "来源详情": "微信",
        "来自IP": [f"10.{i % 200}.{i % 97}.{i % 251}(某省-某市)" for i in range(rows)],
        **{item: [rng.choice(levels) for _ in range(rows)] for item in items},
        "6、总体满意度": [rng.choice(levels) for _ in range(rows)],
        "7、您所在的乡镇": [rng.choice(["甲镇", "乙镇", "丙镇"]) for _ in range(rows)],
    }
    frame = pd.DataFrame(data)
    out = io.BytesIO()
    if fmt == "xlsx":
        frame.to_excel(out, index=False)
    else:
        out.write(frame.to_csv(index=False).encode("utf-8-sig"))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from workbench import create_app
    from workbench.accounts.models import Organisation, OrganisationKind, Role
    from workbench.accounts.services import create_user
    from workbench.core.surveys import read_wjx
    from workbench.db import db
    from workbench.engagements.models import CommissionScope, Engagement, EvaluationKind
    from workbench.surveys import jobs
    from workbench.surveys.models import ImportJob, SurveyResponse

    start = time.perf_counter()
    payload = export(args.rows, args.format)
    print(
        f"wrote a {args.rows:,}-row .{args.format} export ({len(payload) / 1e6:.1f} MB) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "INSTANCE_PATH": tmp,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'b.db'}",
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 1024,
                "ARGON2_PARALLELISM": 1,
            }
        )
        with app.app_context():
            upgrade()
            user = create_user(
                db.session,
                None,
                username="bench",
                display_name="Bench",
                password="bench-password-1",
                role=Role.EVALUATOR,
            )
            client = Organisation(name="某县财政局", kind=OrganisationKind.CLIENT)
            db.session.add(client)
            db.session.flush()
            engagement = Engagement(
                client_id=client.id,
                title="bench",
                project_name="bench",
                kind=EvaluationKind.PROJECT,
                scope=CommissionScope.EVALUATION,
                fiscal_year=2025,
            )
            db.session.add(engagement)
            db.session.commit()
            start = time.perf_counter()
            read_wjx(payload, f"export.{args.format}")
            baseline = time.perf_counter() - start
            job = jobs.create(
                db.session,
                user,
                engagement,
                kind="wjx",
                data=payload,
                filename=f"export.{args.format}",
                options={"title": "bench"},
                survey=None,
            )
            db.session.commit()
            start = time.perf_counter()
            app.config["SURVEY_IMPORT_INLINE"] = False
            jobs.start(app, job)
            samples = []
            while any(t.is_alive() for t in jobs._threads):
                samples.append(jobs.progress(db.session.get(ImportJob, job.id))["phase"])
                time.sleep(0.5)
            jobs.wait_all()
            total = time.perf_counter() - start
            db.session.expire_all()
            job = db.session.get(ImportJob, job.id)
            stored = db.session.scalar(sa.select(sa.func.count(SurveyResponse.id)))
            status, imported, errors = job.status, job.rows, job.errors
            # what the results page then costs: screening and statistics over every row
            from workbench.surveys import services
            from workbench.surveys.models import Survey

            survey = db.session.get(Survey, job.survey_id)
            survey.satisfaction_columns = [c for c in survey.columns if "满意" in c]
            survey.level_map = {v: v for v in ("非常满意", "满意", "一般", "不满意", "非常不满意")}
            survey.cleaning = {"min_seconds": 60, "duplicates": True, "straightline": True}
            start = time.perf_counter()
            rows = services.screened(survey)
            screening = time.perf_counter() - start
            start = time.perf_counter()
            services.results(survey, rows=rows)
            statistics = time.perf_counter() - start
            db.session.rollback()
    phases = list(dict.fromkeys(samples))
    print(f"read_wjx alone (baseline): {baseline:.1f} s")
    print(f"background import: {total:.1f} s, status {status}, rows {imported}, stored {stored}")
    print(f"ratio import / read: {total / baseline:.1f}x; progress phases seen: {phases}")
    print(
        f"results page work: screening {screening:.1f} s ({screening / baseline:.1f}x read), "
        f"statistics {statistics:.1f} s ({statistics / baseline:.1f}x read)"
    )
    if status != "done" or stored != args.rows:
        raise SystemExit(f"IMPORT FAILED: {errors[:3]}")


if __name__ == "__main__":
    main()
