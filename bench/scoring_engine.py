"""Benchmark: scoring a whole indicator system, its robustness check, and the full scoring
recomputation of a large engagement, each against a baseline measured in the same run.

    .venv/bin/python bench/scoring_engine.py [--repeat 200] [--responses 10000] [--experts 15]
        [--page-sizes 10000,100000] [--engagement-repeat 7] [--database-url URL]
        [--skip-engagement]

1. **Engine.** The baseline is summing the leaf weights of the 2020 project template in plain
   Python: the ratio says what the engine (``core.evaluation.evaluate`` without its Monte
   Carlo: every leaf scored with Decimal arithmetic, official scores, subtotals, statuses) and
   the Monte Carlo sensitivity (2,000 draws, as the scores page runs it) cost on top of merely
   walking the tree.
2. **Recomputation of a large engagement** (the world of ``bench/report_build.py``: 60 leaves,
   15 experts' round-1 sheets aggregated by the panel, one survey leaf fed by 10,000
   responses) with ``evaluation.result_of`` as a web request runs it: a fresh session each
   time. *Cold* forgets the evaluated results and the remembered survey screening first (the
   first request after a change); *warm* finds them (every later request: one revision
   query). The baseline is the pure core on the same inputs (``core.evaluation.evaluate`` on
   the loaded ``EvaluationInputs``, no database): the ratio is what loading the engagement,
   the panel and the survey costs on top.
3. **Survey results page** at each ``--page-sizes`` response count: what the results view
   calls (``screened``, ``results`` cleaned and raw, ``survey_yield``, ``exclusion_log``) with a
   fresh session, cold and warm.

The worlds are built in a temporary SQLite database (``--database-url``: a PostgreSQL
database of your own, whose tables are EMPTIED first). Run it from the checkout to measure
(``PYTHONPATH=$PWD``); part 2 needs ``workbench.evaluation`` (issue #14).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from workbench.config import PROJECT_ROOT
from workbench.core.evaluation import EvaluationInputs, Settings, evaluate
from workbench.core.indicators import load_template
from workbench.core.scoring import (
    LeafInput,
    QualitativeLevel,
    score_template,
    sensitivity,
)


def median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--experts", type=int, default=15)
    parser.add_argument("--engagement-repeat", type=int, default=7)
    parser.add_argument("--page-sizes", default="10000,100000")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--skip-engagement", action="store_true")
    args = parser.parse_args()
    template = load_template(PROJECT_ROOT / "scoring_templates" / "project-2020.yaml")
    inputs: dict[str, LeafInput] = {}
    for leaf in template.leaves():
        kind = leaf.method.type if leaf.method else ""
        if kind == "checklist":
            inputs[leaf.code] = LeafInput(
                met=tuple(i % 2 == 0 for i, _ in enumerate(leaf.method.elements))
            )
        elif kind == "ratio":
            inputs[leaf.code] = LeafInput(numerator=Decimal("93.4"), denominator=Decimal(100))
        elif kind == "qualitative":
            inputs[leaf.code] = LeafInput(
                level=QualitativeLevel.PARTIAL, score=leaf.weight * Decimal("0.7")
            )
        elif kind == "survey":
            inputs[leaf.code] = LeafInput(rate=Decimal("0.874"))
        elif kind == "deduction":  # assessed: nothing found, with its basis (#14)
            inputs[leaf.code] = LeafInput(no_deduction=True, reason="抽查凭证30份，未见问题")
        else:
            inputs[leaf.code] = LeafInput(score=leaf.weight * Decimal("0.85"), reason="r")

    def baseline() -> Decimal:
        return sum((leaf.weight for leaf in template.leaves()), Decimal(0))

    no_mc = Settings(sensitivity_draws=0)

    def engine() -> None:
        evaluate(EvaluationInputs(template, entered=inputs), no_mc)

    result = score_template(template, inputs)

    def robustness() -> None:
        sensitivity(result, draws=2000)

    base = median_ms(baseline, args.repeat)
    eng = median_ms(engine, args.repeat)
    rob = median_ms(robustness, max(20, args.repeat // 10))
    print(f"template={template.code} leaves={len(template.leaves())} repeat={args.repeat}")
    print(f"baseline walk leaves      p50 {base:8.3f} ms")
    print(f"evaluate (no Monte Carlo)  p50 {eng:8.3f} ms  ratio {eng / base:7.1f}x")
    print(f"sensitivity (2000 draws)   p50 {rob:8.3f} ms  ratio {rob / base:7.1f}x")
    if not args.skip_engagement:
        sizes = [int(n) for n in args.page_sizes.split(",") if n.strip()]
        engagement_bench(
            args.responses, args.experts, args.engagement_repeat, sizes, args.database_url
        )


def samples_ms(fn: Callable[[], object], repeat: int, before: Callable[[], object]) -> list[float]:
    """``repeat`` timings of ``fn`` in ms, ``before`` run untimed ahead of each."""
    out = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(label: str, xs: list[float], base: float | None) -> str:
    p50 = statistics.median(xs)
    ratio = f"  ratio {p50 / base:8.1f}x" if base else ""
    runs = ", ".join(f"{x:.0f}" for x in xs)
    return f"{label:<34} p50 {p50:9.2f} ms{ratio}  [{runs}]"


def engagement_bench(
    responses: int, experts: int, repeat: int, sizes: list[int], url: str | None
) -> None:
    """The recomputation of the large engagement and the survey results page (see above)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import sqlalchemy as sa
    from flask_migrate import upgrade
    from report_build import build_engagement  # the large engagement of the report benchmark

    from workbench import create_app, evaluation
    from workbench.db import db
    from workbench.engagements.models import Engagement
    from workbench.surveys import services as surveys
    from workbench.surveys.models import Survey

    def forget() -> None:
        evaluation.clear_cache()
        surveys.clear_memo()

    def fresh() -> None:
        db.session.remove()  # a new request: a new session, nothing loaded

    def cold() -> None:
        fresh()
        forget()

    def world(tmp: str, n: int) -> tuple[Any, int, int]:
        app = create_app(
            {
                "INSTANCE_PATH": tmp,
                "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{Path(tmp) / f'w{n}.db'}",
                "ARGON2_TIME_COST": 1,
                "ARGON2_MEMORY_COST": 1024,
                "ARGON2_PARALLELISM": 1,
            }
        )
        context = app.app_context()
        context.push()
        upgrade()
        if url:  # start from empty tables
            names = [t.name for t in db.metadata.sorted_tables]
            db.session.execute(sa.text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
            db.session.commit()
        start = time.perf_counter()
        engagement_id = build_engagement(db.session, experts, n)
        survey_id = db.session.scalars(
            sa.select(Survey.id).where(Survey.engagement_id == engagement_id)
        ).one()
        seconds = time.perf_counter() - start
        print(f"  world: {n:,} responses, {experts} experts, built in {seconds:.1f} s")
        return context, engagement_id, survey_id

    def leave(context: Any) -> None:
        fresh()
        forget()
        db.engine.dispose()
        context.pop()

    with tempfile.TemporaryDirectory() as tmp:
        print(f"recomputation of the large engagement, median of {repeat} (every run in brackets):")
        context, engagement_id, _survey_id = world(tmp, responses)

        def recompute() -> Any:
            return evaluation.result_of(db.session, db.session.get(Engagement, engagement_id))

        cold()
        result = recompute()
        if result is None or result.total is None:
            raise SystemExit(
                f"the engagement has no total; unassessed: {result and result.unassessed}"
            )
        leaves = len(result.leaves)
        inputs = evaluation.load_inputs(db.session, db.session.get(Engagement, engagement_id))

        def core() -> None:
            evaluate(inputs)

        base = samples_ms(core, max(repeat, 21), lambda: None)
        cold_ms = samples_ms(recompute, repeat, cold)
        recompute()
        warm_ms = samples_ms(recompute, repeat, fresh)
        print(f"  {leaves} leaves, total {result.printed_total}")
        print("  " + line("baseline: core on same inputs", base, None))
        print("  " + line("result_of, cold (first request)", cold_ms, statistics.median(base)))
        print("  " + line("result_of, warm (cache hit)", warm_ms, statistics.median(base)))
        print(
            f"  cold / warm {statistics.median(cold_ms) / statistics.median(warm_ms):.1f}x; "
            f"target < 100 ms warm: {'met' if statistics.median(warm_ms) < 100 else 'NOT met'}"
        )
        leave(context)

    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"survey results page at {n:,} responses, median of {repeat}:")
            context, _engagement_id, survey_id = world(tmp, n)

            def page(survey_id: int = survey_id) -> None:
                survey = db.session.get(Survey, survey_id)
                rows = surveys.screened(survey)
                surveys.results(survey, rows=rows, cleaned=True)
                surveys.results(survey, rows=rows, cleaned=False)
                surveys.survey_yield(db.session, survey, rows)
                surveys.exclusion_log(rows)

            page_cold = samples_ms(page, repeat, cold)
            page()
            page_warm = samples_ms(page, repeat, fresh)
            print("  " + line("results page, cold", page_cold, None))
            print("  " + line("results page, warm", page_warm, None))
            leave(context)


if __name__ == "__main__":
    main()
