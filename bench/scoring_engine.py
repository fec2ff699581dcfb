"""Benchmark: scoring a whole indicator system, and its robustness check, against a baseline.

    .venv/bin/python bench/scoring_engine.py [--repeat 200]

The baseline, measured in the same run, is summing the leaf weights of the same template in
plain Python: the ratio says what the engine (validation-free scoring of every leaf with
Decimal arithmetic, subtotals, display apportioning) and the Monte Carlo sensitivity (2,000
draws, as the scores page runs it) cost on top of merely walking the tree.
"""

from __future__ import annotations

import argparse
import statistics
import time
from decimal import Decimal

from workbench.config import PROJECT_ROOT
from workbench.core.indicators import load_template
from workbench.core.scoring import (
    LeafInput,
    QualitativeLevel,
    display_scores,
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
        else:
            inputs[leaf.code] = LeafInput(score=leaf.weight * Decimal("0.85"), reason="r")

    def baseline() -> Decimal:
        return sum((leaf.weight for leaf in template.leaves()), Decimal(0))

    def engine() -> None:
        display_scores(score_template(template, inputs))

    result = score_template(template, inputs)

    def robustness() -> None:
        sensitivity(result, draws=2000)

    base = median_ms(baseline, args.repeat)
    eng = median_ms(engine, args.repeat)
    rob = median_ms(robustness, max(20, args.repeat // 10))
    print(f"template={template.code} leaves={len(template.leaves())} repeat={args.repeat}")
    print(f"baseline walk leaves      p50 {base:8.3f} ms")
    print(f"score + display            p50 {eng:8.3f} ms  ratio {eng / base:7.1f}x")
    print(f"sensitivity (2000 draws)   p50 {rob:8.3f} ms  ratio {rob / base:7.1f}x")


if __name__ == "__main__":
    main()
