"""Benchmark: the report of a large engagement against a bare python-docx document, same run.

    .venv/bin/python bench/report_build.py [--responses 10000] [--experts 15] [--repeat 5]
        [--no-pdf]

Builds a migrated SQLite database in a temporary folder with one large engagement: a 60-leaf
indicator system (4 dimensions × 3 × 5; 49 manual leaves, 10 scored by the expert panel, one
fed by a survey), a panel of 15 experts who all submit round 1, and a beneficiary
questionnaire with 10,000 responses. It then times, ``--repeat`` times (at least 3; medians
printed, the measures interleaved so that other load on the machine hits them alike):

* **baseline**: a bare python-docx ``Document()`` with the same tables (``add_table`` and
  ``cell.text``) and one paragraph per indicator text, saved to memory;
* **render**: ``render`` into the bundled project template (the tables, the matplotlib
  charts, docxtpl filling the template);
* **context, cold**: ``build_context`` with a fresh session, as a web request has, and the
  survey screening memo and the evaluated results (``workbench.evaluation``) emptied first
  (the first report after the responses changed);
* **context, warm**: the same with the memos kept (every later report of the engagement).

The report build is context + render. Wall-clock time and CPU time of this process are both
shown: on a shared machine the wall clock also counts waiting for a core, CPU time does not.
One untimed run of each comes first (it imports matplotlib and registers the fonts). Peak
memory (tracemalloc) is measured in separate repetitions, because tracing slows Python
down. The printed ratios say what the report costs on top of writing the same content with
python-docx alone, whatever the machine's speed. With LibreOffice and ``pdfinfo`` installed,
the report is converted to PDF once and its pages are counted (``--no-pdf`` skips that).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

DIMENSIONS = [  # code, name, tag, points, second-level names
    ("A", "决策", "decision", "15", ["项目立项", "绩效目标", "资金投入"]),
    ("B", "过程", "process", "20", ["资金管理", "组织实施", "制度执行"]),
    ("C", "产出", "output", "35", ["产出数量", "产出质量", "产出时效"]),
    ("D", "效益", "benefit", "30", ["社会效益", "可持续影响", "满意度"]),
]
EXPERT_LEAVES = [f"D{j}{k}" for j in (1, 2) for k in range(1, 6)]  # 10 leaves
SURVEY_LEAF = "D31"
LEVELS = ["非常满意", "满意", "一般", "不满意", "非常不满意"]


def split(total: Decimal, n: int) -> list[Decimal]:
    """``n`` shares to the cent that add up exactly to ``total`` (the remainder on the last)."""
    share = (total / n).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return [share] * (n - 1) + [total - share * (n - 1)]


def template_data() -> dict:
    indicators = []
    for code, name, tag, points, level2 in DIMENSIONS:
        children = []
        for j, (sub_name, sub_weight) in enumerate(
            zip(level2, split(Decimal(points), 3), strict=True), start=1
        ):
            leaves = []
            for k, weight in enumerate(split(sub_weight, 5), start=1):
                leaf = f"{code}{j}{k}"
                method = {"type": "manual"}
                if leaf in EXPERT_LEAVES:
                    method = {"type": "expert"}
                elif leaf == SURVEY_LEAF:
                    method = {"type": "survey", "mode": "proportional", "target": "0.9"}
                leaves.append(
                    {
                        "code": leaf,
                        "name": f"{sub_name}指标{k}",
                        "weight": str(weight),
                        "criteria": "对照评价要点逐项核查，扣分须说明理由。",
                        "method": method,
                    }
                )
            children.append(
                {
                    "code": f"{code}{j}",
                    "name": sub_name,
                    "weight": str(sub_weight),
                    "children": leaves,
                }
            )
        indicators.append(
            {"code": code, "name": name, "tag": tag, "weight": points, "children": children}
        )
    return {
        "code": "bench-60",
        "name": "基准测试指标体系（60项三级指标）",
        "total": 100,
        "indicators": indicators,
    }


def build_engagement(session, n_experts: int, n_responses: int) -> int:  # type: ignore[no-untyped-def]
    """The large engagement; returns its id (everything committed)."""
    import sqlalchemy as sa

    from workbench.accounts.models import OrganisationKind, Role
    from workbench.accounts.services import create_organisation, create_user
    from workbench.core.indicators import parse_template
    from workbench.core.questionnaire import MULTI_SEPARATOR, columns
    from workbench.core.scoring import LeafInput
    from workbench.engagements import services as engagements
    from workbench.engagements.models import CommissionScope, EvaluationKind
    from workbench.experts import services as panel
    from workbench.scoring import services as scoring
    from workbench.surveys import builder
    from workbench.surveys import services as surveys
    from workbench.surveys.models import SurveyResponse

    rng = random.Random(2026)
    firm = create_organisation(
        session, None, name="某预算绩效评价咨询有限公司", kind=OrganisationKind.FIRM
    )
    client = create_organisation(session, None, name="某县财政局", kind=OrganisationKind.CLIENT)
    user = create_user(
        session,
        None,
        username="bench",
        display_name="Bench",
        password="bench-password-1",
        role=Role.EVALUATOR,
        organisation=firm,
    )
    engagement = engagements.create_engagement(
        session,
        user,
        title="某县2025年重点项目支出绩效评价（基准测试）",
        client=client,
        project_name="2025年某县重点民生工程",
        kind=EvaluationKind.PROJECT,
        scope=CommissionScope.EVALUATION,
        fiscal_year=2025,
        description="基准测试用的大型评价项目：60项三级指标、15名专家、10,000份问卷。",
    )

    template = parse_template(template_data(), file="bench")
    system = scoring.instantiate(session, user, engagement, template)
    manual = [leaf for leaf in template.leaves() if leaf.method.type == "manual"]
    for i, leaf in enumerate(manual):
        if i % 4 == 3:  # every fourth manual leaf loses points, with a reason
            score = (leaf.weight * Decimal("0.8")).quantize(Decimal("0.01"))
            data = LeafInput(score=score, reason=f"{leaf.name}部分要点未达到要求，扣减相应分值。")
        else:
            data = LeafInput(score=leaf.weight)
        scoring.save_input(session, user, engagement, leaf.code, data)

    weights = {code: template.find(code).weight for code in EXPERT_LEAVES}
    sheet_template = scoring.template_of(system)
    for e in range(n_experts):
        expert = panel.create_expert(
            session,
            user,
            name=f"专家{e + 1:02d}",
            title="高级工程师",
            organisation=f"某研究院{e % 5 + 1}所",
            field="公共财政与绩效管理",
        )
        member, _token = panel.invite(session, user, engagement, expert, EXPERT_LEAVES)
        panel.declare(session, member, has_conflict=False, text="", confidentiality=True)
        sheet = {}
        for code, weight in weights.items():
            score = weight - Decimal("0.5") * rng.choice((0, 0, 1, 1, 2))
            sheet[code] = (str(score), "" if score == weight else "部分目标尚未完全实现")
        panel.save_sheet(session, member, sheet_template, sheet, round_no=1, submit=True)

    survey = builder.create_form(
        session,
        user,
        engagement,
        title="某县重点民生工程受益群众满意度调查",
        group="受益群众",
        population=50000,
        start_from=builder.questionnaire_library()["beneficiary"],
    )
    questions = builder.questions_of(survey)
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    rows = []
    for n in range(n_responses):
        mood = rng.choices((0, 1, 2, 3), weights=(40, 42, 13, 5))[0]
        answers = {}
        for col in columns(questions):
            q = questions[col.question]
            if q.type in ("likert", "matrix"):
                level = min(4, max(0, mood + rng.choice((-1, 0, 0, 1))))
                answers[col.header] = LEVELS[level]
            elif q.expected:
                answers[col.header] = q.expected  # the attention check, answered right
            elif q.type == "single":
                answers[col.header] = rng.choice(q.options)
            elif q.type == "multiple":
                answers[col.header] = MULTI_SEPARATOR.join(rng.sample(q.options[:4], 2))
            else:
                answers[col.header] = ""
        rows.append(
            {
                "survey_id": survey.id,
                "row_no": str(n + 1),
                "source": "import",
                "submitted_at": start + dt.timedelta(minutes=3 * n),
                "duration_s": float(rng.randint(150, 600)),
                "channel": "手机提交 / 微信",
                "ip_hash": f"{n:064x}",
                "ua_hash": "",
                "device_hash": "",
                "answers": answers,
                "override_note": "",
            }
        )
    session.execute(sa.insert(SurveyResponse), rows)
    session.expire(survey, ["responses"])
    surveys.save_mapping(
        session,
        user,
        survey,
        columns=survey.satisfaction_columns,
        level_map=survey.level_map,
        leaf_code=SURVEY_LEAF,
        leaf_measure="rate",
    )
    session.commit()
    return engagement.id


def baseline_docx(context) -> bytes:  # type: ignore[no-untyped-def]
    """The same tables and indicator texts in a bare python-docx document."""
    from docx import Document

    doc = Document()
    for spec in context.tables.values():
        width = max(len(r) for r in [*spec.headers, *spec.rows])
        table = doc.add_table(rows=0, cols=width)
        for values in [*spec.headers, *spec.rows]:
            cells = table.add_row().cells
            for i, text in enumerate(values):
                cells[i].text = text
    for dimension in context.values["dimensions"]:
        for text in dimension["indicators"]:
            doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def timed(fn) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """Wall-clock and CPU seconds of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def peak(fn) -> int:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def pages(docx: bytes) -> tuple[int | None, float]:
    """Pages of the report converted by LibreOffice, and the conversion time."""
    from workbench.reports.services import to_pdf

    start = time.perf_counter()
    pdf = to_pdf(docx, timeout=600)
    seconds = time.perf_counter() - start
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, text=True, check=False)
    for line in info.stdout.splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1]), seconds
    return None, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--experts", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat: at least 3 (the medians need them)")

    from flask_migrate import upgrade

    from workbench import create_app
    from workbench.db import db
    from workbench.engagements.models import Engagement
    from workbench.reports import render as render_module
    from workbench.reports import services as reports
    from workbench.reports.context import build_context
    from workbench.reports.render import bundled_path, render
    from workbench.surveys import services as survey_services

    # the memos a first build of the report fills (absent from older versions)
    clear_memo = getattr(survey_services, "clear_memo", None)
    try:  # the evaluated results (#14), kept per data revision
        from workbench.evaluation import clear_cache as clear_results
    except ImportError:
        clear_results = None
    clear_chart_memo = getattr(render_module, "clear_chart_memo", None)

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
        template = bundled_path("project")
        with app.app_context():
            upgrade()
            start = time.perf_counter()
            engagement_id = build_engagement(db.session, args.experts, args.responses)
            setup = time.perf_counter() - start

            def context():  # type: ignore[no-untyped-def]
                db.session.remove()  # a fresh session, as in a web request
                return build_context(db.session, db.session.get(Engagement, engagement_id))

            def cold_context():  # type: ignore[no-untyped-def]
                if clear_memo is not None:
                    clear_memo()
                if clear_results is not None:
                    clear_results()
                return context()

            def cold_render(c) -> bytes:  # type: ignore[no-untyped-def]
                if clear_chart_memo is not None:
                    clear_chart_memo()
                return render(c, template)

            def context_and_render() -> bytes:
                return cold_render(cold_context())

            ctx = context()
            if ctx.values["total"] is None:
                raise SystemExit(f"the report has no total; unscored: {ctx.values['unscored']}")
            leaves = sum(len(d["indicators"]) for d in ctx.values["dimensions"])
            cells = sum(len(r) for spec in ctx.tables.values() for r in [*spec.headers, *spec.rows])
            render(ctx, template)  # warm-up: imports matplotlib and registers the CJK fonts
            baseline_docx(ctx)
            runs: dict[str, list[tuple[float, float]]] = {
                k: [] for k in ("baseline", "cold context", "cold render", "warm context", "render")
            }
            docx = base_docx = b""
            for _ in range(args.repeat):  # interleaved: load on the machine hits all alike
                *t, base_docx = timed(lambda c=ctx: baseline_docx(c))
                runs["baseline"].append(tuple(t))
                *t, ctx = timed(cold_context)
                runs["cold context"].append(tuple(t))
                *t, docx = timed(lambda c=ctx: cold_render(c))
                runs["cold render"].append(tuple(t))
                *t, ctx = timed(context)
                runs["warm context"].append(tuple(t))
                *t, docx = timed(lambda c=ctx: render(c, template))
                runs["render"].append(tuple(t))
            peak_report = peak(context_and_render)
            peak_render = peak(lambda: cold_render(ctx))
            peak_base = peak(lambda: baseline_docx(ctx))
            if args.no_pdf:
                pdf_note = "skipped (--no-pdf)"
            elif reports.soffice() is None or shutil.which("pdfinfo") is None:
                pdf_note = "skipped (soffice or pdfinfo not installed)"
            else:
                try:
                    page_count, pdf_seconds = pages(docx)
                    pdf_note = f"{page_count} pages (LibreOffice conversion {pdf_seconds:.1f} s)"
                except (reports.ReportError, subprocess.TimeoutExpired) as exc:
                    pdf_note = f"conversion failed ({exc!r})"
            db.session.remove()
            db.engine.dispose()

    def med(xs: list[tuple[float, float]], k: int) -> float:
        return statistics.median(x[k] for x in xs) * 1000

    def both(a: str, b: str) -> list[tuple[float, float]]:
        return [(x[0] + y[0], x[1] + y[1]) for x, y in zip(runs[a], runs[b], strict=True)]

    print(
        f"engagement: {leaves} indicators, {args.experts} experts, {args.responses:,} responses; "
        f"{len(ctx.tables)} tables ({cells:,} cells), {len(ctx.charts)} charts; "
        f"built in {setup:.1f} s; total {ctx.values['total']} ({ctx.values['grade']})"
    )
    memos = [
        name
        for name, f in (
            ("survey screening", clear_memo),
            ("evaluated result", clear_results),
            ("chart", clear_chart_memo),
        )
        if f is None
    ]
    note = f" (this version has no {' or '.join(memos)} memo)" if memos else ""
    print(f"time, median of {args.repeat} interleaved runs{note}:")
    print(f"  {'':<33} {'wall':>8} {'× base':>7} {'CPU':>8} {'× base':>7}   wall of every run")
    base_wall, base_cpu = med(runs["baseline"], 0), med(runs["baseline"], 1)
    for label, xs in (
        ("baseline python-docx", runs["baseline"]),
        ("build_context, memos emptied", runs["cold context"]),
        ("render, memos emptied", runs["cold render"]),
        ("REPORT BUILD, first (cold)", both("cold context", "cold render")),
        ("build_context, memos kept", runs["warm context"]),
        ("render, memos kept", runs["render"]),
        ("REPORT BUILD, again (warm)", both("warm context", "render")),
    ):
        wall, cpu = med(xs, 0), med(xs, 1)
        every = ", ".join(f"{x[0] * 1000:.0f}" for x in xs)
        print(
            f"  {label:<33} {wall:6.0f} ms {wall / base_wall:6.1f}x {cpu:6.0f} ms "
            f"{cpu / base_cpu:6.1f}x   [{every}]"
        )
    print(
        "  (cold: the first report after the responses changed; warm: every later build of it, "
        "e.g. preview, PDF, QA)"
    )
    print("peak memory (tracemalloc, in separate runs):")
    mb = 1024 * 1024
    for label, value in (
        ("baseline python-docx", peak_base),
        ("render alone, cold", peak_render),
        ("context + render, cold", peak_report),
    ):
        print(f"  {label:<33} {value / mb:7.1f} MB  {value / peak_base:5.1f}x baseline")
    print(f"size: report {len(docx) / 1024:.0f} KB, baseline {len(base_docx) / 1024:.0f} KB")
    print(f"pdf: {pdf_note}")


if __name__ == "__main__":
    main()
