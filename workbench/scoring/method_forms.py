"""The scoring method of a leaf edited through one form per method (no YAML).

The node edit page shows a type choice and, for each method, its own fields: the target
method's 指标性质 (定性 included), target, unit and linked engagement goal; the rate's formula,
denominator and thresholds; the survey's bands; the checklist's elements. :func:`read` turns
the posted fields into the method mapping the indicator tree stores (or form errors, nothing
changed), and :func:`settle_criteria` keeps the 评分标准 text in step with a changed method:
rewritten when it was empty or the text generated from the old method, flagged otherwise.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import TypeAdapter, ValidationError
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from workbench.core.budget import ALLOWED_DENOMINATORS, Denominator
from workbench.core.goals import NATURE_SYMBOLS, GoalNature
from workbench.core.indicators import (
    BUDGET_RATE_OF,
    METHOD_TYPES,
    Indicator,
    Method,
    RatioFormula,
)
from workbench.forms import BaseForm
from workbench.labels import label, pairs

PREFIX = "m"
_METHOD = TypeAdapter(Method)

METHOD_NAMES = {
    "target": _l("Target vs actual"),
    "ratio": _l("Rate"),
    "qualitative": _l("Qualitative"),
    "deduction": _l("Deductions"),
    "checklist": _l("Checklist"),
    "expert": _l("Expert panel"),
    "survey": _l("Survey"),
    "manual": _l("Evaluator's score"),
}
FORMULA_NAMES = {
    RatioFormula.BUDGET_EXECUTION: _l("Budget execution rate"),
    RatioFormula.FUNDING: _l("Funding rate"),
    RatioFormula.RATIO: _l("Entered numerator ÷ denominator"),
    RatioFormula.SAVING: _l("Cost saving rate"),
}
#: the fields of each method (the template shows a method's group only while it is chosen)
FIELDS = {
    "target": ("nature", "target", "unit", "goal", "overshoot_warning"),
    "ratio": (
        "formula",
        "denominator",
        "numerator_label",
        "denominator_label",
        "full_score_at",
        "zero_score_at",
    ),
    "deduction": ("default_points",),
    "checklist": ("elements", "points_each"),
    "survey": ("mode", "survey_target", "bands"),
}
_NUMBER = [Optional(), Length(max=30)]


class MethodForm(BaseForm):
    """A leaf's scoring method: the type and the fields of that type."""

    type = SelectField(_l("Scoring method"), choices=[])
    nature = SelectField(_l("Nature (指标性质)"), choices=[], default="")
    target = StringField(_l("Target value"), validators=_NUMBER)
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=30)])
    goal = SelectField(_l("Linked performance goal"), choices=[], default="")
    overshoot_warning = StringField(
        _l("Warn when the actual exceeds the target by (%)"), validators=_NUMBER
    )
    formula = SelectField(_l("Formula"), choices=[], default=RatioFormula.RATIO.value)
    denominator = SelectField(_l("Budget figure divided by"), choices=[], default="")
    numerator_label = StringField(_l("Numerator label"), validators=[Optional(), Length(max=100)])
    denominator_label = StringField(
        _l("Denominator label"), validators=[Optional(), Length(max=100)]
    )
    full_score_at = StringField(_l("Full marks at a rate of (%)"), validators=_NUMBER)
    zero_score_at = StringField(_l("No points at a rate of (%)"), validators=_NUMBER)
    default_points = StringField(_l("Points deducted per finding"), validators=_NUMBER)
    elements = TextAreaField(
        _l("Elements (one per line)"), validators=[Optional(), Length(max=5000)]
    )
    points_each = StringField(_l("Points per element met"), validators=_NUMBER)
    mode = SelectField(_l("Survey scoring"), choices=[], default="proportional")
    survey_target = StringField(_l("Target satisfaction rate (%)"), validators=_NUMBER)
    bands = TextAreaField(
        _l("Bands (one per line: lowest rate % | share of the points %)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("e.g. 90 | 100, then 80 | 80"),
    )
    rewrite_criteria = BooleanField(_l("Rewrite the scoring criteria (评分标准) from the method"))

    def __init__(self, *args: Any, goals: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, prefix=PREFIX, meta={"csrf": False}, **kwargs)
        self.type.choices = pairs([(t, METHOD_NAMES[t]) for t in METHOD_TYPES])
        self.nature.choices = pairs(
            [("", _l("From the linked goal"))] + [(n.value, label(n)) for n in GoalNature]
        )
        self.goal.choices = pairs(
            [("", _l("No linked goal"))]
            + [(g.name, f"{g.level1} / {g.name}（{_goal_value(g)}）") for g in goals]
        )
        self.formula.choices = pairs([(f.value, FORMULA_NAMES[f]) for f in RatioFormula])
        self.denominator.choices = pairs(
            [("", _l("The engagement's setting"))] + [(d.value, label(d)) for d in Denominator]
        )
        self.mode.choices = pairs(
            [("proportional", _l("In proportion to the target")), ("banded", _l("By bands"))]
        )


def _goal_value(goal: Any) -> str:
    symbol = NATURE_SYMBOLS.get(goal.nature, "")
    if goal.nature is GoalNature.QUALITATIVE:
        return f"{symbol} {goal.target_value}".strip()
    return f"{symbol}{goal.target_value}{goal.unit}"


def _pct(value: Any) -> str:
    return _plain(Decimal(str(value)) * 100)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def build(node: Indicator, goals: list[Any], formdata: Any = None) -> MethodForm:
    """The method form of ``node``, filled from its current method on GET."""
    form = MethodForm(formdata, goals=goals)
    method = node.method
    form.groups = FIELDS
    form.implied = describe(method, node.weight) if method is not None else ""
    goal = getattr(method, "goal", None)
    if goal and goal not in {g.name for g in goals}:  # linked to a goal since removed: keep it
        form.goal.choices.append(pairs([(goal, goal)])[0])
    if formdata or method is None:
        return form
    form.type.data = method.type
    data = method.model_dump(mode="python")
    if method.type == "target":
        form.nature.data = data["nature"].value if data["nature"] else ""
        form.target.data = _plain(data["target"]) if data["target"] is not None else ""
        form.unit.data = data["unit"]
        form.goal.data = data["goal"] or ""
        form.overshoot_warning.data = _pct(data["overshoot_warning"])
    elif method.type == "ratio":
        form.formula.data = data["formula"].value
        form.denominator.data = data["denominator"].value if data["denominator"] else ""
        form.numerator_label.data = data["numerator_label"]
        form.denominator_label.data = data["denominator_label"]
        form.full_score_at.data = _pct(data["full_score_at"])
        form.zero_score_at.data = _pct(data["zero_score_at"])
    elif method.type == "deduction" and data["default_points"] is not None:
        form.default_points.data = _plain(data["default_points"])
    elif method.type == "checklist":
        form.elements.data = "\n".join(data["elements"])
        form.points_each.data = _plain(data["points_each"]) if data["points_each"] else ""
    elif method.type == "survey":
        form.mode.data = data["mode"]
        form.survey_target.data = _pct(data["target"])
        form.bands.data = "\n".join(
            f"{_pct(b['min_rate'])} | {_pct(b['share'])}" for b in data["bands"]
        )
    return form


class _Invalid(Exception):
    pass


def _number(form: MethodForm, name: str, *, percent: bool = False) -> Decimal | None:
    field = getattr(form, name)
    text = (field.data or "").strip().rstrip("%").replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        field.errors.append(_l("Not a valid number."))
        raise _Invalid from None
    if not value.is_finite() or value < 0:
        field.errors.append(_l("Enter a number of 0 or more."))
        raise _Invalid
    return value / 100 if percent else value


def _bands(form: MethodForm) -> list[dict[str, str]]:
    bands = []
    for line in (form.bands.data or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip().rstrip("%") for p in line.replace("｜", "|").split("|")]
        try:
            low, share = (Decimal(p) / 100 for p in parts)
        except (ValueError, InvalidOperation):
            form.bands.errors.append(_l("Write each band as: lowest rate % | share %."))
            raise _Invalid from None
        if not (0 <= low <= 1 and 0 <= share <= 1):
            form.bands.errors.append(_l("Rates and shares are between 0 and 100 %."))
            raise _Invalid
        bands.append({"min_rate": format(low, "f"), "share": format(share, "f")})
    return bands


def _target(form: MethodForm) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "target"}
    if form.nature.data:
        out["nature"] = form.nature.data
    target = _number(form, "target")
    if target is not None:
        out["target"] = format(target, "f")
    if form.unit.data:
        out["unit"] = form.unit.data
    if form.goal.data:
        out["goal"] = form.goal.data
    over = _number(form, "overshoot_warning", percent=True)
    if over is not None and over != Decimal("0.3"):
        out["overshoot_warning"] = format(over, "f")
    if not form.nature.data and not form.goal.data:
        form.nature.errors.append(_l("Choose the nature or link a performance goal."))
        raise _Invalid
    return out


def _ratio(form: MethodForm) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "ratio", "formula": form.formula.data}
    if form.denominator.data:
        kind = BUDGET_RATE_OF.get(RatioFormula(form.formula.data))
        if kind is None or Denominator(form.denominator.data) not in ALLOWED_DENOMINATORS[kind]:
            form.denominator.errors.append(_l("This formula cannot be divided by that figure."))
            raise _Invalid
        out["denominator"] = form.denominator.data
    for name in ("numerator_label", "denominator_label"):
        if getattr(form, name).data:
            out[name] = getattr(form, name).data
    full = _number(form, "full_score_at", percent=True)
    zero = _number(form, "zero_score_at", percent=True)
    if (full if full is not None else 1) <= (zero or 0):
        form.zero_score_at.errors.append(
            _l("The no-points rate must be below the full-marks rate.")
        )
        raise _Invalid
    if full is not None:
        out["full_score_at"] = format(full, "f")
    if zero is not None:
        out["zero_score_at"] = format(zero, "f")
    return out


def _checklist(form: MethodForm, weight: Decimal) -> dict[str, Any]:
    elements = [line.strip() for line in (form.elements.data or "").splitlines() if line.strip()]
    if not elements:
        form.elements.errors.append(_l("List at least one element."))
        raise _Invalid
    out: dict[str, Any] = {"type": "checklist", "elements": elements}
    each = _number(form, "points_each")
    if each is not None:
        if each == 0 or each * len(elements) < weight:
            form.points_each.errors.append(
                _l("The elements together must reach the indicator's points.")
            )
            raise _Invalid
        out["points_each"] = format(each, "f")
    return out


def _survey(form: MethodForm) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "survey", "mode": form.mode.data}
    target = _number(form, "survey_target", percent=True)
    if target is not None:
        if not 0 < target <= 1:
            form.survey_target.errors.append(_l("Rates and shares are between 0 and 100 %."))
            raise _Invalid
        out["target"] = format(target, "f")
    bands = _bands(form)
    if form.mode.data == "banded" and not bands:
        form.bands.errors.append(_l("Banded scoring needs at least one band."))
        raise _Invalid
    if bands:
        out["bands"] = bands
    return out


def read(form: MethodForm, weight: Decimal) -> dict[str, Any] | None:
    """The method mapping from the posted fields, or ``None`` with errors on the form."""
    if not form.validate():
        return None
    kind = form.type.data
    try:
        if kind == "target":
            out = _target(form)
        elif kind == "ratio":
            out = _ratio(form)
        elif kind == "deduction":
            points = _number(form, "default_points")
            out = {"type": "deduction"}
            if points:
                out["default_points"] = format(points, "f")
        elif kind == "checklist":
            out = _checklist(form, weight)
        elif kind == "survey":
            out = _survey(form)
        else:
            out = {"type": kind}
    except _Invalid:
        return None
    try:
        _METHOD.validate_python(out)
    except ValidationError:
        form.type.errors.append(_l("These method settings are not valid."))
        return None
    return out


def same(a: Any, b: Any) -> bool:
    """Whether two method mappings (or models) mean the same method."""
    return bool(_normal(a) == _normal(b))


def _normal(method: Any) -> Any:
    if method is None:
        return None
    model = _METHOD.validate_python(method) if isinstance(method, dict) else method
    return model.model_dump(mode="json", exclude_defaults=True)


# --- the 评分标准 text a method implies (Chinese: it is the template's own language) ----------


_THREE_BANDS = "按达成（80%–100%）、部分达成（60%–80%）、未达成（60%以下）三档评分。"


def describe(method: Any, weight: Decimal) -> str:
    """The 评分标准 text of a method for a leaf worth ``weight`` points.

    >>> describe({"type": "checklist", "elements": ["甲", "乙"]}, Decimal(4))
    '以下2项要素每满足一项得2分：1. 甲；2. 乙。'
    """
    m = _METHOD.validate_python(method) if isinstance(method, dict) else method
    w = _plain(weight)
    if m.type == "target":
        goal = f"对照绩效目标“{m.goal}”，" if m.goal else ""
        if m.nature is GoalNature.QUALITATIVE:
            return f"{goal}定性指标：{_THREE_BANDS}"
        target = f"{_plain(m.target)}{m.unit}" if m.target is not None else "目标值"
        if m.nature in (GoalNature.LE, GoalNature.LT):
            return (
                f"{goal}实际值不超过{target}得{w}分；超过的按超出比例扣分，达到两倍及以上不得分。"
            )
        return f"{goal}实际值达到{target}得{w}分；未达到的按完成比例计分。"
    if m.type == "ratio":
        name = {
            RatioFormula.BUDGET_EXECUTION: "预算执行率",
            RatioFormula.FUNDING: "资金到位率",
            RatioFormula.SAVING: "成本节约率",
        }.get(m.formula, (m.numerator_label and f"{m.numerator_label}比率") or "完成比率")
        return (
            f"{name}达到{_pct(m.full_score_at)}%得{w}分，不高于{_pct(m.zero_score_at)}%不得分，"
            "其间按比例计分。"
        )
    if m.type == "qualitative":
        return _THREE_BANDS
    if m.type == "deduction":
        each = f"扣{_plain(m.default_points)}分" if m.default_points else "按情节扣分"
        return f"满分{w}分，每发现一项问题{each}，扣完为止。"
    if m.type == "checklist":
        each = m.points_each if m.points_each is not None else weight / len(m.elements)
        items = "；".join(f"{i}. {e}" for i, e in enumerate(m.elements, 1))
        each_text = _plain(each.quantize(Decimal("0.01")))
        return f"以下{len(m.elements)}项要素每满足一项得{each_text}分：{items}。"
    if m.type == "survey":
        if m.mode == "banded":
            bands = "；".join(f"满意度≥{_pct(b.min_rate)}%得{_pct(b.share)}%分值" for b in m.bands)
            return f"按满意度分档计分：{bands}。"
        return f"满意度达到{_pct(m.target)}%得{w}分，未达到的按比例计分。"
    if m.type == "expert":
        return "按专家评议的汇总得分计分。"
    return f"由评价人员根据评价要点评分（满分{w}分），低于满分须说明理由。"


def settle_criteria(
    node: Indicator, method: dict[str, Any], criteria: str, rewrite: bool
) -> tuple[str, str]:
    """The 评分标准 to store after a method change, and what happened to it.

    Returns ``(criteria, outcome)`` with outcome ``"kept"`` (method unchanged or the evaluator
    edited the text too), ``"rewritten"`` (asked for, empty, or the old method's own text) or
    ``"stale"`` (a hand-written text that may no longer match: the page warns)."""
    if node.method is None or same(node.method, method):
        if rewrite:
            return describe(method, node.weight), "rewritten"
        return criteria, "kept"
    if criteria != node.criteria and not rewrite:
        return criteria, "kept"  # the evaluator rewrote it alongside
    if rewrite or not node.criteria or node.criteria == describe(node.method, node.weight):
        return describe(method, node.weight), "rewritten"
    return criteria, "stale"


def take(form: Any, mform: MethodForm, node: Indicator) -> dict[str, Any] | None:
    """Read the method of ``node`` from ``mform`` and settle ``form.criteria`` with it; on
    invalid input ``None`` and a form error (the caller then changes nothing)."""
    method = read(mform, node.weight)
    if method is None:
        form.form_errors.append(_l("Not saved: correct the scoring method fields marked below."))
        return None
    form.criteria.data, mform.outcome = settle_criteria(
        node, method, form.criteria.data or "", bool(mform.rewrite_criteria.data)
    )
    # stored as the tree stores it (defaults left out), and an unchanged method exactly as it
    # was: a save of the texts alone records no method change in the audit log
    return _normal(node.method if same(node.method, method) else method)


def announce(mform: MethodForm | None) -> None:
    """Tell the evaluator what became of the 评分标准 after a method change."""
    outcome = getattr(mform, "outcome", "kept")
    if outcome == "rewritten":
        flash(_("The scoring criteria (评分标准) were rewritten from the new method."), "info")
    elif outcome == "stale":
        flash(
            _(
                "The scoring method changed but the scoring criteria (评分标准) did not: "
                "check that they still describe the method."
            ),
            "warning",
        )
