"""Benchmark: importing a large 问卷星 export (default 100,000 rows × 30 columns).

    .venv/bin/python bench/survey_import.py [--rows 100000] [--format xlsx|csv|both]
        [--repeat 3] [--database-url postgresql+psycopg://...] [--no-results] [--profile FILE]

Writes an option-text 问卷星 export: six metadata columns, a 12-item matrix, seven single-choice
questions, two multiple-choice questions (问卷星's ┋ separator), a 0–10 rating ("8分") and two
open-text questions, with Chinese option texts. The file is cached under the system temp folder.

In the same run and interleaved, it times (median of ``--repeat``):

* the baseline, a plain pandas read of the same file with the engine the import uses
  (``pd.read_excel(..., engine="calamine")`` / ``pd.read_csv(...)``, C parser, default options);
* ``read_wjx`` alone (the import's reader: text cells, metadata parsed);
* the import end to end as the web page starts it (``jobs.create`` then ``jobs.start`` with
  ``SURVEY_IMPORT_INLINE``): read, plan, check every row, insert, commit.

Each import creates a new survey; its rows are deleted after the run (outside the timing).
With ``--database-url`` the given PostgreSQL database's ``public`` schema is DROPPED and rebuilt
by the migrations: use a scratch database of your own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import statistics
import tempfile
import time
from pathlib import Path

LEVELS = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
MATRIX = [
    "道路硬化质量",
    "路灯照明",
    "饮水安全",
    "垃圾清运",
    "污水处理",
    "村容村貌",
    "公共厕所",
    "文化活动场所",
    "医疗服务",
    "便民服务中心",
    "项目公示",
    "施工期间的影响",
]
SINGLE = {
    "1、您的性别": ["男", "女"],
    "2、您的年龄段": ["18岁以下", "18-30岁", "31-45岁", "46-60岁", "60岁以上"],
    "3、您的职业": ["务农", "外出务工", "个体经营", "机关事业单位", "学生", "其他"],
    "4、您所在的乡镇": ["城关镇", "河口镇", "石桥镇", "新华乡", "柳林乡", "高山镇", "白云乡"],
    "6、您对本项目的总体满意程度": LEVELS,
    "7、您是否了解本项目的建设内容": ["非常了解", "比较了解", "不太了解", "不了解/说不清"],
    "10、您是否愿意继续参与类似项目": ["愿意", "不愿意", "说不清"],
}
MULTI = {
    "8、您从本项目中获得了哪些便利(多选)": [
        "出行更方便",
        "环境更干净",
        "用水更安全",
        "增加了收入",
        "办事更方便",
        "没有明显变化",
    ],
    "9、您认为本项目还需要在哪些方面改进(多选)": [
        "加快施工进度",
        "加强后期管护",
        "扩大覆盖范围",
        "加强信息公开",
        "提高工程质量",
    ],
}
RATING = "11、您愿意向他人推荐本项目的程度(0-10分)"
OPEN = {
    "12、您对本项目还有哪些意见和建议": [
        "希望村里的路灯能多装几盏，晚上出门不方便。",
        "垃圾桶数量不够，夏天气味比较大，希望增加清运次数。",
        "施工期间噪音大，希望以后提前通知村民。",
        "项目很好，希望继续推广到其他村组。",
        "自来水有时候停水，没有提前通知。",
    ],
    "13、其他需要说明的情况": [
        "无",
        "家里老人行动不便，希望村卫生室能上门服务。",
        "建议公示栏内容及时更新。",
    ],
}
MATRIX_TITLE = "5、您对本项目以下方面的满意程度"
HEADERS = [
    "序号",
    "提交答卷时间",
    "所用时间",
    "来源",
    "来源详情",
    "来自IP",
    *[f"{MATRIX_TITLE}—{item}" for item in MATRIX],
    *SINGLE,
    *MULTI,
    RATING,
    *OPEN,
]
assert len(HEADERS) == 30


def export(rows: int, fmt: str) -> bytes:
    """A 问卷星 option-text export of ``rows`` responses (xlsx via openpyxl, or UTF-8-BOM csv)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)

    def pick(options: list[str], p: list[float] | None = None) -> np.ndarray:
        return np.asarray(options, dtype=object)[rng.choice(len(options), size=rows, p=p)]

    level_p = [0.35, 0.4, 0.15, 0.07, 0.03]
    i = np.arange(rows)
    seconds = rng.integers(40, 900, size=rows)
    data: dict[str, object] = {
        "序号": i + 1,
        "提交答卷时间": [
            f"2026/09/{1 + k % 28:02d} {8 + k % 14:02d}:{k % 60:02d}:{(k * 7) % 60:02d}"
            for k in range(rows)
        ],
        "所用时间": [f"{s}秒" for s in seconds],
        "来源": pick(["手机提交", "微信", "链接"], [0.6, 0.35, 0.05]),
        "来源详情": pick(["微信", "直接访问", "N/A"]),
        "来自IP": [f"10.{k % 200}.{k % 97}.{k % 251}(四川-成都)" for k in range(rows)],
    }
    for item in MATRIX:
        data[f"{MATRIX_TITLE}—{item}"] = pick(LEVELS, level_p)
    for header, options in SINGLE.items():
        data[header] = pick(options, level_p if options is LEVELS else None)
    for header, options in MULTI.items():
        mask = rng.random((rows, len(options))) < 0.35
        mask[~mask.any(axis=1), 0] = True
        data[header] = ["┋".join(o for o, m in zip(options, row, strict=True) if m) for row in mask]
    data[RATING] = [f"{k}分" for k in rng.integers(0, 11, size=rows)]
    for header, texts in OPEN.items():
        answered = rng.random(rows) < 0.2
        data[header] = np.where(answered, pick(texts), "(跳过)")
    frame = pd.DataFrame(data, columns=HEADERS)
    out = io.BytesIO()
    if fmt == "xlsx":
        frame.to_excel(out, index=False, engine="openpyxl")
    else:
        out.write(frame.to_csv(index=False).encode("utf-8-sig"))
    return out.getvalue()


def cached_export(rows: int, fmt: str) -> bytes:
    path = Path(tempfile.gettempdir()) / f"bench_wjx_{rows}x{len(HEADERS)}_v1.{fmt}"
    if not path.exists():
        start = time.perf_counter()
        path.write_bytes(export(rows, fmt))
        print(f"  wrote {path} in {time.perf_counter() - start:.1f} s")
    return path.read_bytes()


def plain_read(payload: bytes, fmt: str) -> object:
    """The baseline: pandas' own read with the engine the import uses, default options."""
    import pandas as pd

    if fmt == "xlsx":
        return pd.read_excel(io.BytesIO(payload), engine="calamine")
    return pd.read_csv(io.BytesIO(payload), encoding="utf-8-sig")


def make_app(tmp: str, database_url: str | None):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from workbench import create_app

    url = database_url or f"sqlite:///{Path(tmp) / 'b.db'}"
    if database_url:
        engine = sa.create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    return create_app(
        {
            "INSTANCE_PATH": tmp,
            "SQLALCHEMY_DATABASE_URI": url,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_PARALLELISM": 1,
            "SURVEY_IMPORT_INLINE": True,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["xlsx", "csv", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--no-results", action="store_true", help="skip the results-page timing")
    parser.add_argument("--profile", default=None, help="write a cProfile of the last import")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from workbench.accounts.models import Organisation, OrganisationKind, Role
    from workbench.accounts.services import create_user
    from workbench.core.surveys import read_wjx
    from workbench.db import db
    from workbench.engagements.models import CommissionScope, Engagement, EvaluationKind
    from workbench.surveys import jobs
    from workbench.surveys.models import ImportJob, Survey, SurveyResponse

    formats = ["xlsx", "csv"] if args.format == "both" else [args.format]
    payloads = {fmt: cached_export(args.rows, fmt) for fmt in formats}
    progress_writes = 0
    write_progress = jobs.write_progress

    def counting(*a: object) -> None:
        nonlocal progress_writes
        progress_writes += 1
        write_progress(*a)  # type: ignore[arg-type]

    jobs.write_progress = counting  # type: ignore[assignment]
    backend = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(tmp, args.database_url)
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
            for fmt in formats:
                payload = payloads[fmt]
                times: dict[str, list[float]] = {"plain": [], "read_wjx": [], "import": []}
                cpu: dict[str, list[float]] = {"plain": [], "read_wjx": [], "import": []}
                for run in range(args.repeat):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    plain_read(payload, fmt)
                    times["plain"].append(time.perf_counter() - start)
                    cpu["plain"].append(time.process_time() - cpu_start)
                    start, cpu_start = time.perf_counter(), time.process_time()
                    read_wjx(payload, f"export.{fmt}")
                    times["read_wjx"].append(time.perf_counter() - start)
                    cpu["read_wjx"].append(time.process_time() - cpu_start)
                    progress_writes = 0
                    profiler = cProfile.Profile() if args.profile else None
                    start, cpu_start = time.perf_counter(), time.process_time()
                    if profiler:
                        profiler.enable()
                    job = jobs.create(
                        db.session,
                        user,
                        engagement,
                        kind="wjx",
                        data=payload,
                        filename=f"export.{fmt}",
                        options={"title": f"bench {fmt} {run}"},
                        survey=None,
                    )
                    db.session.commit()
                    jobs.start(app, job)
                    if profiler:
                        profiler.disable()
                    times["import"].append(time.perf_counter() - start)
                    cpu["import"].append(time.process_time() - cpu_start)
                    if profiler and run == args.repeat - 1:
                        profiler.dump_stats(f"{args.profile}.{fmt}")
                    db.session.expire_all()
                    job = db.session.get(ImportJob, job.id)
                    stored = db.session.scalar(
                        sa.select(sa.func.count(SurveyResponse.id)).where(
                            SurveyResponse.survey_id == job.survey_id
                        )
                    )
                    if job.status != "done" or stored != args.rows:
                        raise SystemExit(f"IMPORT FAILED: {job.status} {stored} {job.errors[:3]}")
                    keep = run == args.repeat - 1 and not args.no_results
                    if not keep:
                        db.session.execute(
                            sa.delete(SurveyResponse).where(
                                SurveyResponse.survey_id == job.survey_id
                            )
                        )
                        db.session.commit()
                med = {k: statistics.median(v) for k, v in times.items()}
                cmed = {k: statistics.median(v) for k, v in cpu.items()}
                size = len(payload) / 1e6
                engine = "calamine" if fmt == "xlsx" else "C parser"
                print(
                    f"{backend}, {args.rows:,} rows × {len(HEADERS)} columns, "
                    f".{fmt} ({size:.1f} MB), median of {args.repeat} (wall / CPU of this process):"
                )
                for label, key in (
                    (f"plain pandas read ({engine})", "plain"),
                    ("read_wjx alone", "read_wjx"),
                    ("import end to end", "import"),
                ):
                    print(
                        f"  {label:<30} {med[key]:6.2f} s / {cmed[key]:6.2f} s  "
                        f"({med[key] / med['plain']:.2f}x / {cmed[key] / cmed['plain']:.2f}x plain)"
                        f"  wall [{', '.join(f'{t:.2f}' for t in times[key])}]"
                    )
                print(
                    f"  import: {args.rows / med['import']:,.0f} rows/s wall, "
                    f"{args.rows / cmed['import']:,.0f} rows/s CPU, "
                    f"{progress_writes} progress writes"
                )
            if args.no_results:
                return
            # what the results page then costs: screening and statistics over every row
            from workbench.surveys import services

            survey = db.session.get(Survey, job.survey_id)
            survey.satisfaction_columns = [c for c in survey.columns if "满意" in c]
            survey.level_map = {v: v for v in LEVELS}
            survey.cleaning = {"min_seconds": 60, "duplicates": True, "straightline": True}
            start = time.perf_counter()
            rows = services.screened(survey)
            screening = time.perf_counter() - start
            start = time.perf_counter()
            services.results(survey, rows=rows)
            stats_time = time.perf_counter() - start
            db.session.rollback()
            print(
                f"results page work (last survey): screening {screening:.1f} s, "
                f"statistics {stats_time:.1f} s"
            )


if __name__ == "__main__":
    main()
