"""Benchmark: the archive package of an engagement with many survey responses, before and after.

    .venv/bin/python bench/archive_build.py [--responses 100000] [--old-commit 0e3961f]

Builds a SQLite database with the demo data, adds ``--responses`` answers (the demo survey's
columns, realistic Chinese option texts) to the demo's first survey, then builds the package in
a fresh subprocess per variant and reports wall time, peak RSS (``ru_maxrss``) and the
package size:

* ``old``: ``workbench/archive.py`` as of ``--old-commit`` (everything in memory: each table as
  a normal openpyxl workbook, the whole ZIP in a BytesIO, then written);
* ``new``: the streaming build (entries written one by one to the ZIP on disk, survey rows in
  chunks through write-only workbooks);
* ``screening``: only the surveys' screening (``screened()``) that both builds start with,
  to tell the package's own memory from the screening's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _app(folder: Path):  # type: ignore[no-untyped-def]
    from workbench import create_app

    return create_app(
        {
            "INSTANCE_PATH": str(folder / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'wb.db'}",
            "SECRET_KEY": "archive-bench-secret-key-0123456789-abcdef",
            "TESTING": True,
        }
    )


def prepare(folder: Path, responses: int) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from workbench.db import db
    from workbench.demo import load_demo
    from workbench.surveys.models import Survey

    app = _app(folder)
    with app.app_context():
        upgrade()
        load_demo(db.session)
        db.session.commit()
        survey = db.session.scalar(sa.select(Survey).order_by(Survey.id))
        columns = list(survey.columns)
        rng = random.Random(13)
        options = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
        rows = []
        for n in range(responses):
            rows.append(
                {
                    "survey_id": survey.id,
                    "row_no": str(100000 + n),
                    "source": "import",
                    "duration_s": float(rng.randint(40, 900)),
                    "channel": "手机提交",
                    "answers": json.dumps(
                        {c: rng.choice(options) for c in columns}, ensure_ascii=False
                    ),
                }
            )
            if len(rows) == 10_000:
                db.session.execute(
                    sa.text(
                        "INSERT INTO survey_responses (survey_id, row_no, source, duration_s, "
                        "channel, ip_hash, ua_hash, device_hash, answers, override_note) VALUES "
                        "(:survey_id, :row_no, :source, :duration_s, :channel, '', '', '', "
                        ":answers, '')"
                    ),
                    rows,
                )
                rows = []
        if rows:
            db.session.execute(
                sa.text(
                    "INSERT INTO survey_responses (survey_id, row_no, source, duration_s, "
                    "channel, ip_hash, ua_hash, device_hash, answers, override_note) VALUES "
                    "(:survey_id, :row_no, :source, :duration_s, :channel, '', '', '', "
                    ":answers, '')"
                ),
                rows,
            )
        db.session.commit()
        db.engine.dispose()


def run(folder: Path, variant: str, old_commit: str) -> dict[str, float]:
    import sqlalchemy as sa

    from workbench.db import db
    from workbench.engagements.models import Engagement

    app = _app(folder)
    with app.app_context():
        engagement = db.session.scalar(sa.select(Engagement).order_by(Engagement.id))
        instance = Path(app.instance_path)
        start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        if variant == "screening":  # only what both builds start with: screening the surveys
            from workbench.surveys.models import Survey
            from workbench.surveys.services import screened

            for survey in db.session.scalars(
                sa.select(Survey).where(Survey.engagement_id == engagement.id)
            ):
                len(list(screened(survey)))
            path = str(folder / "wb.db")
        elif variant == "old":
            source = subprocess.run(
                ["git", "show", f"{old_commit}:workbench/archive.py"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            old = types.ModuleType("old_archive")
            exec(compile(source, "old_archive.py", "exec"), old.__dict__)
            path = old.build_package(
                db.session, None, engagement, instance / "archives", instance / "reports"
            )
        else:
            from workbench import archive

            path = archive.build_package(
                db.session, engagement, instance / "archives", instance / "reports"
            ).path
        seconds = time.perf_counter() - started
        db.session.rollback()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak / 1024),
        "rss_before_mb": round(start_rss / 1024),
        "package_mb": round(os.path.getsize(path) / 1e6, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--old-commit", default="0e3961f")
    parser.add_argument("--variant", choices=["screening", "old", "new"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run(Path(args.folder), args.variant, args.old_commit)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        prepare(folder, args.responses)
        print(f"{args.responses:,} responses prepared in {time.perf_counter() - started:.0f} s")
        for variant in ("screening", "old", "new"):
            out = subprocess.run(
                [sys.executable, __file__, "--variant", variant, "--folder", tmp,
                 "--old-commit", args.old_commit],
                check=True,
                capture_output=True,
                text=True,
            )  # fmt: skip
            print(variant, out.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
