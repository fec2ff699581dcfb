"""Adapter between stored rows and the core's inputs (the only place that knows both).

* ``IndicatorInput.data`` (JSON) ↔ :class:`workbench.core.scoring.LeafInput`;
* the engagement's funds and goals fill the inputs that can be derived: ``ratio`` leaves with
  the ``budget_execution``/``funding`` formula take the funds table's totals, and ``target``
  leaves linked to a goal indicator (``goal: <name>``) take its nature, target and actual.
"""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

from workbench.core.budget import BudgetFigures, BudgetTable
from workbench.core.goals import GoalNature, split_value
from workbench.core.indicators import (
    ExpertMethod,
    RatioFormula,
    RatioMethod,
    SurveyMethod,
    TargetMethod,
    Template,
)
from workbench.core.numbers import to_decimal
from workbench.core.scoring import Finding, LeafInput, QualitativeLevel

DECIMAL_FIELDS = ("actual", "target", "numerator", "denominator", "score", "rate")


def input_to_json(data: LeafInput) -> dict[str, Any]:
    """A JSON-safe mapping of the fields that are set."""
    out: dict[str, Any] = {}
    for f in fields(LeafInput):
        value = getattr(data, f.name)
        if value is None or value is False or value == "" or value == ():
            continue
        if isinstance(value, Decimal):
            out[f.name] = format(value, "f")
        elif f.name == "findings":
            out[f.name] = [{"text": x.text, "points": format(x.points, "f")} for x in value]
        elif f.name == "met":
            out[f.name] = list(value)
        elif f.name in ("level", "nature"):
            out[f.name] = value.value
        else:
            out[f.name] = value
    return out


def input_from_json(data: dict[str, Any] | None) -> LeafInput:
    """The :class:`LeafInput` stored as JSON (unknown keys are ignored)."""
    data = data or {}
    values: dict[str, Any] = {}
    for name in DECIMAL_FIELDS:
        if data.get(name) not in (None, ""):
            values[name] = to_decimal(data[name])
    if data.get("nature"):
        values["nature"] = GoalNature(data["nature"])
    if data.get("level"):
        values["level"] = QualitativeLevel(data["level"])
    if data.get("findings"):
        values["findings"] = tuple(
            Finding(str(f["text"]), Decimal(str(f["points"]))) for f in data["findings"]
        )
    if data.get("met") is not None:
        values["met"] = tuple(bool(x) for x in data["met"])
    for name in ("reason", "evidence"):
        if data.get(name):
            values[name] = str(data[name])
    if data.get("no_deduction") is True:
        values["no_deduction"] = True
    return LeafInput(**values)


def derived_inputs(
    template: Template,
    budget: BudgetTable,
    goals: list[dict[str, str]],
    panel: dict[str, Decimal] | None = None,
    survey: dict[str, Decimal] | None = None,
) -> dict[str, LeafInput]:
    """Inputs that follow from the engagement's own data, per leaf code."""
    out: dict[str, LeafInput] = {}
    by_name = {g["name"]: g for g in goals}
    total = budget.total.figures
    for leaf in template.leaves():
        method = leaf.method
        if isinstance(method, RatioMethod) and method.formula in (
            RatioFormula.BUDGET_EXECUTION,
            RatioFormula.FUNDING,
        ):
            execution = method.formula is RatioFormula.BUDGET_EXECUTION

            def pick(f: BudgetFigures, execution: bool = execution) -> tuple[Any, Any]:
                if execution:
                    return f.executed, f.figure(budget.execution_denominator)
                return f.available, f.figure(budget.funding_denominator)

            num, den = pick(total)
            # a source with figures but without both values of this rate would count as 0:
            # leave the leaf to the evaluator instead
            partial = any(
                None in pick(r.figures)
                for r in budget.rows
                if any(
                    v is not None
                    for v in (
                        r.figures.initial,
                        r.figures.adjusted,
                        r.figures.available,
                        r.figures.executed,
                    )
                )
            )
            if num is not None and den and not partial:
                out[leaf.code] = LeafInput(numerator=num, denominator=den)
        elif isinstance(method, SurveyMethod) and survey and leaf.code in survey:
            out[leaf.code] = LeafInput(rate=survey[leaf.code])  # from the imported survey
        elif isinstance(method, ExpertMethod) and panel and leaf.code in panel:
            # the panel's aggregated score, capped at the weight (scores are entered 0..max)
            out[leaf.code] = LeafInput(score=min(panel[leaf.code], leaf.weight))
        elif isinstance(method, TargetMethod) and method.goal and method.goal in by_name:
            goal = by_name[method.goal]
            try:
                target, _ = split_value(goal["target_value"])
                actual, _ = split_value(goal["actual_value"])
            except ValueError:
                continue
            out[leaf.code] = LeafInput(
                nature=GoalNature(goal["nature"]), target=target, actual=actual
            )
    return out


def merge_inputs(
    derived: dict[str, LeafInput], entered: dict[str, LeafInput]
) -> dict[str, LeafInput]:
    """Entered values win over derived ones, field by field."""
    merged = dict(derived)
    for code, data in entered.items():
        base = merged.get(code)
        if base is None:
            merged[code] = data
            continue
        updates = {
            f.name: getattr(data, f.name)
            for f in fields(LeafInput)
            if getattr(data, f.name) is not False and getattr(data, f.name) not in (None, "", ())
        }
        merged[code] = replace(base, **updates)
    return merged


def overrides_nothing(data: LeafInput) -> bool:
    """True when an entered input leaves the derivable values (rate parts, actual) to the
    engagement's data."""
    return data.numerator is None and data.denominator is None and data.actual is None
