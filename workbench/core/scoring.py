"""The scoring engine: leaf scoring methods, totals, grades and sensitivity.

Every leaf method returns a :class:`LeafResult`: the score at full precision, and for any point
deducted a one-sentence reason in Chinese and in English. Totals are computed at full
precision; what is printed (each leaf half-up to 2 decimals, subtotals the sums of the printed
leaves) is :func:`workbench.core.evaluation.evaluate`'s.

Rules implemented (``shared/domain`` §1.6, 财预〔2020〕10号 and the provincial systems):

* ``target`` — 正向 (≥, >): ``a ≥ t`` → full, else ``a / t × w``; 反向 (≤, <): ``a ≤ t`` → full,
  ``t < a < 2t`` → ``(1 − (a − t) / t) × w``, ``a ≥ 2t`` → 0; 等于 (=): with ``t = 0``,
  ``a ≤ 0`` → full else 0, otherwise as 正向; negative actuals count as 0; an actual ≥ 130 % of a
  正向 target earns full marks with a warning (the target may have been set too low).
* ``ratio`` — a rate scored linearly from 0 at ``zero_score_at`` to full at ``full_score_at``;
  ``saving`` scores actual cost against planned cost like a 反向 target.
* ``qualitative`` — 达成 [0.8w, w], 部分达成 [0.6w, 0.8w), 未达成 [0, 0.6w); the entered score
  must fall in the chosen band.
* ``deduction`` — weight minus the findings' points, floored at 0. Full marks only for an
  explicit "无扣分事项" (``no_deduction``) with its basis written in ``reason``.
* ``checklist`` — elements met × points each (default ``w / m``), capped at the weight.
* ``expert`` / ``manual`` — an entered score in [0, w]; ``manual`` needs a reason below full.
* ``survey`` — a satisfaction rate mapped proportionally to a target, or by bands.

No score without assessment: a leaf whose result has not been recorded (no findings and no
"no deduction", no checklist answers, no entered score, no level …) is
:attr:`LeafStatus.UNASSESSED` and has no score — never full marks by default.

A :class:`LeafResult` keeps the engine's own explanation (``reason_zh``/``reason_en``) apart
from the evaluator's written 评分理由 (``evaluator_reason``) and the evidence referred to
(``evidence``); :attr:`LeafResult.basis_zh` prints the first followed by the second.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from workbench.core.errors import DomainError
from workbench.core.goals import GoalNature
from workbench.core.indicators import (
    ChecklistMethod,
    DeductionMethod,
    ExpertMethod,
    Indicator,
    ManualMethod,
    QualitativeMethod,
    RatioFormula,
    RatioMethod,
    SurveyMethod,
    TargetMethod,
    Template,
)
from workbench.core.messages import N_, Message
from workbench.core.numbers import round_half_up

ZERO = Decimal(0)
HUNDRED = Decimal(100)
OVERSHOOT_DEFAULT = Decimal("0.3")

#: Default grade bands of 财预〔2020〕10号: (lower bound inclusive, label), best first.
DEFAULT_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal(90), "优"),
    (Decimal(80), "良"),
    (Decimal(60), "中"),
    (Decimal(0), "差"),
)


class InvalidInput(DomainError):
    """An entered value does not fit the method (e.g. a qualitative score outside its band).

    Carries a translatable :class:`~workbench.core.messages.Message`; ``where`` names the
    indicator once :func:`score_template` knows it.
    """

    def __init__(self, template: str, **params: object) -> None:
        self.message = Message(template, dict(params))
        self.where = ""
        super().__init__(self.message.render())

    def at(self, where: str) -> InvalidInput:
        """Name the indicator the problem belongs to."""
        self.where = where
        self.args = (f"{where}: {self.message.render()}",)
        return self

    def render(self, translate: object = None) -> str:
        text = self.message.render(translate)
        return f"{self.where}: {text}" if self.where else text


class LeafStatus(enum.StrEnum):
    """A leaf's status — the one enum for it, in the engine and in the evaluated result
    (:mod:`workbench.core.evaluation`).

    The engine (:func:`score_leaf`) gives ``SCORED`` or ``UNASSESSED``; the evaluated result
    adds ``NOT_APPLICABLE`` (the tree's 不适用, see :func:`score_template`) and ``INVALID`` (a
    recorded input the leaf's method cannot score).
    """

    SCORED = "scored"
    UNASSESSED = "unassessed"  # nobody has recorded a result yet: no score at all
    NOT_APPLICABLE = "not_applicable"  # 不适用: out of the applicable base
    INVALID = "invalid"  # the recorded input does not fit the method


class QualitativeLevel(enum.StrEnum):
    ACHIEVED = "achieved"  # 达成年度指标
    PARTIAL = "partial"  # 部分达成年度指标并具有一定效果
    NOT_ACHIEVED = "not_achieved"  # 未达成年度指标且效果较差


#: Share of the weight allowed per qualitative level: [low, high] (high inclusive only for 达成).
QUALITATIVE_BANDS = {
    QualitativeLevel.ACHIEVED: (Decimal("0.8"), Decimal(1)),
    QualitativeLevel.PARTIAL: (Decimal("0.6"), Decimal("0.8")),
    QualitativeLevel.NOT_ACHIEVED: (Decimal(0), Decimal("0.6")),
}
QUALITATIVE_NAMES = {
    QualitativeLevel.ACHIEVED: ("达成年度指标", "achieved"),
    QualitativeLevel.PARTIAL: ("部分达成年度指标", "partly achieved"),
    QualitativeLevel.NOT_ACHIEVED: ("未达成年度指标", "not achieved"),
}


@dataclass(frozen=True)
class Finding:
    """A 扣分 finding: what was wrong and how many points it costs."""

    text: str
    points: Decimal


@dataclass(frozen=True)
class LeafInput:
    """What the evaluator (or another module) recorded for one leaf. Unused fields stay None.

    * target: ``actual`` (and optionally ``target``/``nature`` overriding the template)
    * ratio: ``numerator`` and ``denominator`` (saving: planned cost, actual cost)
    * qualitative: ``level`` and ``score``
    * deduction: ``findings``, or ``no_deduction`` (无扣分事项) with its basis in ``reason``
    * checklist: ``met`` (one flag per element)
    * expert, manual: ``score`` (manual: ``reason`` below full marks)
    * survey: ``rate`` (0–1)
    """

    actual: Decimal | None = None
    target: Decimal | None = None
    nature: GoalNature | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    level: QualitativeLevel | None = None
    score: Decimal | None = None
    findings: tuple[Finding, ...] = ()
    met: tuple[bool, ...] | None = None
    rate: Decimal | None = None
    reason: str = ""
    evidence: str = ""
    no_deduction: bool = False


def join_sentences(*parts: str) -> str:
    """Chinese sentences one after the other, each closed by a full stop.

    >>> join_sentences("按比例计分。", "部分资料缺失", "")
    '按比例计分。部分资料缺失。'
    """
    out = []
    for part in parts:
        text = (part or "").strip()
        if text:
            out.append(text if text[-1] in "。！？.!?；;…" else text + "。")
    return "".join(out)


@dataclass(frozen=True)
class LeafResult:
    """The score of one leaf. ``score`` is None while the leaf is unassessed.

    ``reason_zh``/``reason_en`` are the engine's explanation of the score; the evaluator's own
    评分理由 and evidence are kept apart in ``evaluator_reason`` and ``evidence``.
    ``status`` is :attr:`LeafStatus.UNASSESSED` exactly when ``score`` is None.
    """

    score: Decimal | None
    weight: Decimal
    reason_zh: str = ""
    reason_en: str = ""
    warnings: tuple[str, ...] = ()
    status: LeafStatus = LeafStatus.SCORED
    evaluator_reason: str = ""
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.score is None:
            object.__setattr__(self, "status", LeafStatus.UNASSESSED)
        elif self.status is LeafStatus.UNASSESSED:
            raise ValueError("an unassessed leaf has no score")

    @property
    def assessed(self) -> bool:
        return self.status is LeafStatus.SCORED

    @property
    def deducted(self) -> Decimal | None:
        return None if self.score is None else self.weight - self.score

    @property
    def basis_zh(self) -> str:
        """The engine's explanation followed by the evaluator's 评分理由."""
        return join_sentences(self.reason_zh, self.evaluator_reason)

    @property
    def basis_en(self) -> str:
        return join_sentences(self.reason_en, self.evaluator_reason)


def _pct(x: Decimal) -> str:
    return f"{round_half_up(x * 100)}%"


def _num(x: Decimal) -> str:
    return format(round_half_up(x, Decimal("0.0001")).normalize(), "f")


def _pts(x: Decimal) -> str:
    return format(round_half_up(x), "f")


def _full(
    weight: Decimal, zh: str = "", en: str = "", warnings: tuple[str, ...] = ()
) -> LeafResult:
    return LeafResult(weight, weight, zh, en, warnings)


def _check_range(value: Decimal, weight: Decimal) -> None:
    if value < 0 or value > weight:
        raise InvalidInput(
            N_("The score {value} is outside 0–{weight}."), value=value, weight=_pts(weight)
        )


# --- the leaf methods -------------------------------------------------------------------------


def score_target(weight: Decimal, method: TargetMethod, data: LeafInput) -> LeafResult:
    """Goal indicator vs actual value. See the module docstring for the rules.

    Examples
    --------
    >>> m = TargetMethod(type="target", nature="ge", target=Decimal(50))
    >>> score_target(Decimal(8), m, LeafInput(actual=Decimal(40))).score
    Decimal('6.4')
    >>> m = TargetMethod(type="target", nature="le", target=Decimal(90))
    >>> score_target(Decimal(10), m, LeafInput(actual=Decimal(99))).score
    Decimal('9.0')
    """
    nature = data.nature or method.nature
    target = data.target if data.target is not None else method.target
    if nature is GoalNature.QUALITATIVE:
        return score_qualitative(weight, QualitativeMethod(type="qualitative"), data)
    if data.actual is None or target is None:
        return LeafResult(None, weight)  # not scored yet
    if nature is None:
        raise InvalidInput(N_("Choose the nature (≥, ≤, =, 定性) of the target."))
    if target < 0:
        raise InvalidInput(N_("The target {target} is negative."), target=target)
    a = max(data.actual, ZERO)  # a negative actual counts as 0
    t = target
    unit = method.unit
    shown = f"{_num(data.actual)}{unit}", f"{_num(t)}{unit}"
    if nature in (GoalNature.GE, GoalNature.GT) or (nature is GoalNature.EQ and t > 0):
        if a >= t:
            over = (
                method.overshoot_warning
                if method.overshoot_warning is not None
                else OVERSHOOT_DEFAULT
            )
            if t > 0 and a >= t * (1 + over):
                return _full(
                    weight,
                    warnings=(
                        f"实际值 {shown[0]} 超过目标值 {shown[1]} 的 {_pct(over)} 以上，"
                        f"请分析目标是否设定偏低 / actual {shown[0]} exceeds the target "
                        f"{shown[1]} by {_pct(over)} or more: check whether the target was too low",
                    ),
                )
            return _full(weight)
        score = a / t * weight
        return LeafResult(
            score,
            weight,
            f"实际完成值 {shown[0]} 未达到目标值 {shown[1]}，按完成比例 {_pct(a / t)} 计分。",
            f"The actual value {shown[0]} falls short of the target {shown[1]}; "
            f"scored in proportion ({_pct(a / t)}).",
        )
    if nature is GoalNature.EQ:  # t == 0: anything above 0 misses
        if a <= 0:
            return _full(weight)
        return LeafResult(
            ZERO,
            weight,
            f"目标值为 0，实际值为 {shown[0]}，不得分。",
            f"The target is 0 but the actual value is {shown[0]}; no points.",
        )
    # 反向: ≤ or <
    if a <= t:
        return _full(weight)
    if t == 0 or a >= 2 * t:
        return LeafResult(
            ZERO,
            weight,
            f"实际值 {shown[0]} 达到或超过目标值 {shown[1]} 的两倍，不得分。",
            f"The actual value {shown[0]} is at least twice the ceiling {shown[1]}; no points.",
        )
    score = (1 - (a - t) / t) * weight
    return LeafResult(
        score,
        weight,
        f"实际值 {shown[0]} 超过上限 {shown[1]} {_pct((a - t) / t)}，按超出比例扣分。",
        f"The actual value {shown[0]} exceeds the ceiling {shown[1]} by "
        f"{_pct((a - t) / t)}; points deducted in proportion.",
    )


RATIO_NAMES = {
    RatioFormula.BUDGET_EXECUTION: ("预算执行率", "budget execution rate"),
    RatioFormula.FUNDING: ("资金到位率", "funding rate"),
    RatioFormula.RATIO: ("比率", "rate"),
    RatioFormula.SAVING: ("成本", "cost"),
}


def score_ratio(
    weight: Decimal, method: RatioMethod, data: LeafInput, name: str = ""
) -> LeafResult:
    """A rate scored linearly between ``zero_score_at`` and ``full_score_at``.

    Examples
    --------
    >>> m = RatioMethod(type="ratio", formula="budget_execution")
    >>> r = score_ratio(Decimal(10), m, LeafInput(numerator=Decimal(92), denominator=Decimal(100)))
    >>> r.score, r.reason_zh
    (Decimal('9.20'), '预算执行率 92.00%，低于满分标准 100.00%，按比例计分。')
    """
    if data.numerator is None or data.denominator is None:
        return LeafResult(None, weight)
    zh_name, en_name = RATIO_NAMES[method.formula]
    if method.formula is RatioFormula.RATIO and name:
        zh_name = en_name = name
    if method.formula is RatioFormula.SAVING:
        planned, actual = data.numerator, data.denominator
        if planned < 0 or actual < 0:
            raise InvalidInput(N_("Costs cannot be negative."))
        if actual <= planned:
            return _full(weight)
        if planned == 0:
            return LeafResult(
                ZERO,
                weight,
                "计划成本为 0 而发生实际成本，不得分。",
                "Costs were incurred against a planned cost of 0; no points.",
            )
        saving = (planned - actual) / planned
        if actual >= 2 * planned:
            return LeafResult(
                ZERO,
                weight,
                f"实际成本超出计划成本一倍及以上（节约率 {_pct(saving)}），不得分。",
                f"Actual cost is at least twice the planned cost (saving "
                f"{_pct(saving)}); no points.",
            )
        return LeafResult(
            (1 - (actual - planned) / planned) * weight,
            weight,
            f"实际成本超出计划成本 {_pct(-saving)}，按超支比例扣分。",
            f"Actual cost exceeds the plan by {_pct(-saving)}; points deducted in proportion.",
        )
    if data.numerator < 0 or data.denominator <= 0:
        raise InvalidInput(N_("A rate needs a non-negative numerator and a positive denominator."))
    r = data.numerator / data.denominator
    lo, hi = method.zero_score_at, method.full_score_at
    if r >= hi:
        return _full(weight)
    if r <= lo:
        return LeafResult(
            ZERO,
            weight,
            f"{zh_name} {_pct(r)}，未超过零分线 {_pct(lo)}，不得分。",
            f"The {en_name} is {_pct(r)}, not above the zero-score line {_pct(lo)}; no points.",
        )
    score = (r - lo) / (hi - lo) * weight
    return LeafResult(
        score,
        weight,
        f"{zh_name} {_pct(r)}，低于满分标准 {_pct(hi)}，按比例计分。",
        f"The {en_name} is {_pct(r)}, below the full-score level {_pct(hi)}; scored in proportion.",
    )


def score_qualitative(weight: Decimal, method: QualitativeMethod, data: LeafInput) -> LeafResult:
    """The entered score must lie in the band of the chosen level.

    >>> r = score_qualitative(Decimal(10), QualitativeMethod(type="qualitative"),
    ...                       LeafInput(level=QualitativeLevel.PARTIAL, score=Decimal(7)))
    >>> r.score
    Decimal('7')
    """
    if data.level is None and data.score is None:
        return LeafResult(None, weight)
    if data.level is None or data.score is None:
        raise InvalidInput(N_("A qualitative judgement needs both the level and the score."))
    low, high = QUALITATIVE_BANDS[data.level]
    lo, hi = low * weight, high * weight
    inside = (
        lo <= data.score <= hi if data.level is QualitativeLevel.ACHIEVED else lo <= data.score < hi
    )
    if not inside:
        closing = "]" if data.level is QualitativeLevel.ACHIEVED else ")"
        raise InvalidInput(
            N_("A score of {score} does not fit the level “{level}” ([{low}, {high}{closing})."),
            score=data.score,
            level=QUALITATIVE_NAMES[data.level][0],
            low=_pts(lo),
            high=_pts(hi),
            closing=closing,
        )
    if data.score == weight:
        return _full(weight)
    zh_level, en_level = QUALITATIVE_NAMES[data.level]
    # the evaluator's reason is kept apart (LeafResult.evaluator_reason), not repeated here
    return LeafResult(
        data.score,
        weight,
        f"评定为“{zh_level}”，扣 {_pts(weight - data.score)} 分。",
        f"Judged {en_level}; {_pts(weight - data.score)} points deducted.",
    )


def score_deduction(weight: Decimal, method: DeductionMethod, data: LeafInput) -> LeafResult:
    """Weight minus the findings' points, never below 0.

    Nothing recorded is not "nothing found": full marks need an explicit ``no_deduction``
    with its basis (``reason``); until then the leaf is unassessed.

    >>> f = (Finding("未按规定公示", Decimal(1)), Finding("凭证缺失", Decimal("0.5")))
    >>> score_deduction(Decimal(5), DeductionMethod(type="deduction"), LeafInput(findings=f)).score
    Decimal('3.5')
    >>> score_deduction(Decimal(5), DeductionMethod(type="deduction"), LeafInput()).status
    <LeafStatus.UNASSESSED: 'unassessed'>
    >>> score_deduction(Decimal(5), DeductionMethod(type="deduction"),
    ...                 LeafInput(no_deduction=True, reason="抽查凭证30份，未见问题")).score
    Decimal('5')
    """
    if any(f.points < 0 for f in data.findings):
        raise InvalidInput(N_("A finding cannot add points."))
    if data.no_deduction:
        if data.findings:
            raise InvalidInput(N_("Record either findings or “no deduction”, not both."))
        if not data.reason.strip():
            raise InvalidInput(
                N_(
                    "“No deduction” needs its basis: write in the reason what was checked "
                    "and found in order."
                )
            )
        return LeafResult(
            weight,
            weight,
            "经核查未发现扣分事项，不扣分。",
            "Checked: no deductible findings; no points deducted.",
        )
    if not data.findings:
        return LeafResult(None, weight)  # not assessed yet: no findings is not "no deduction"
    total = sum((f.points for f in data.findings), ZERO)
    score = max(ZERO, weight - total)
    listed_zh = "；".join(f"{f.text}（扣 {_pts(f.points)} 分）" for f in data.findings)
    listed_en = "; ".join(f"{f.text} (−{_pts(f.points)})" for f in data.findings)
    floor = "，扣至 0 分为止" if total > weight else ""
    floor_en = ", down to 0" if total > weight else ""
    return LeafResult(
        score, weight, f"扣分事项：{listed_zh}{floor}。", f"Deductions: {listed_en}{floor_en}."
    )


def score_checklist(weight: Decimal, method: ChecklistMethod, data: LeafInput) -> LeafResult:
    """Elements met × points each, capped at the weight.

    >>> m = ChecklistMethod(type="checklist", elements=["甲", "乙", "丙", "丁"])
    >>> score_checklist(Decimal(4), m, LeafInput(met=(True, True, False, True))).score
    Decimal('3')
    """
    if data.met is None:
        return LeafResult(None, weight)
    if len(data.met) != len(method.elements):
        raise InvalidInput(
            N_("{n} elements but {m} answers."), n=len(method.elements), m=len(data.met)
        )
    n_met = sum(1 for m in data.met if m)
    if method.points_each is not None:
        score = min(weight, method.points_each * n_met)
    else:  # weight × n_met / n, divided last so that all met is exactly the weight
        score = weight * n_met / len(method.elements)
    if score == weight:
        return _full(weight)
    missing = [e for e, ok in zip(method.elements, data.met, strict=True) if not ok]
    return LeafResult(
        score,
        weight,
        f"{len(method.elements)} 项要点满足 {n_met} 项，未满足：{'；'.join(missing)}。",
        f"{n_met} of {len(method.elements)} criteria met; not met: {'; '.join(missing)}.",
    )


def _entered(
    weight: Decimal, data: LeafInput, who_zh: str, who_en: str, reason_required: bool
) -> LeafResult:
    if data.score is None:
        return LeafResult(None, weight)
    _check_range(data.score, weight)
    if data.score == weight:
        return _full(weight)
    if reason_required and not data.reason.strip():
        raise InvalidInput(N_("A reason is required when points are deducted."))
    # the evaluator's reason is kept apart (LeafResult.evaluator_reason), not repeated here
    return LeafResult(
        data.score,
        weight,
        f"{who_zh}{_pts(data.score)} 分（满分 {_pts(weight)}）。",
        f"{who_en}{_pts(data.score)} of {_pts(weight)}.",
    )


def score_expert(weight: Decimal, method: ExpertMethod, data: LeafInput) -> LeafResult:
    """The aggregated expert score, entered or filled by the expert-panel module."""
    return _entered(weight, data, "专家组评分 ", "Expert panel score ", False)


def score_manual(weight: Decimal, method: ManualMethod, data: LeafInput) -> LeafResult:
    """The evaluator's score; a reason is mandatory below full marks."""
    return _entered(weight, data, "评价组评分 ", "Evaluators' score ", True)


def score_survey(weight: Decimal, method: SurveyMethod, data: LeafInput) -> LeafResult:
    """A satisfaction rate (0–1) mapped to points.

    >>> m = SurveyMethod(type="survey", target=Decimal("0.9"))
    >>> score_survey(Decimal(10), m, LeafInput(rate=Decimal("0.855"))).score
    Decimal('9.50')
    """
    if data.rate is None:
        return LeafResult(None, weight)
    if not 0 <= data.rate <= 1:
        raise InvalidInput(
            N_("A satisfaction rate must lie between 0 and 100%, not {rate}."), rate=_pct(data.rate)
        )
    if method.mode == "proportional":
        share = min(Decimal(1), data.rate / method.target)
        rule_zh, rule_en = (
            f"目标 {_pct(method.target)}，按比例计分",
            f"target {_pct(method.target)}, scored in proportion",
        )
    else:
        bands = sorted(method.bands, key=lambda b: b.min_rate, reverse=True)
        share = next((b.share for b in bands if data.rate >= b.min_rate), ZERO)
        rule_zh, rule_en = "按满意度区间计分", "scored by band"
    score = share * weight
    if score == weight:
        return _full(weight)
    return LeafResult(
        score,
        weight,
        f"满意度 {_pct(data.rate)}，{rule_zh}。",
        f"Satisfaction is {_pct(data.rate)}; {rule_en}.",
    )


def score_leaf(indicator: Indicator, data: LeafInput | None) -> LeafResult:
    """Dispatch to the leaf's method. Missing input gives an unassessed result (no score).

    The result carries the evaluator's reason and evidence next to the engine's explanation.
    """
    data = data or LeafInput()
    try:
        result = _score_leaf(indicator, data)
    except (ArithmeticError, OverflowError) as exc:  # decimal.InvalidOperation and kin
        raise InvalidInput(N_("A value is out of range.")) from exc
    return replace(result, evaluator_reason=data.reason.strip(), evidence=data.evidence.strip())


def _score_leaf(indicator: Indicator, data: LeafInput) -> LeafResult:
    method = indicator.method
    w = indicator.weight
    if isinstance(method, TargetMethod):
        return score_target(w, method, data)
    if isinstance(method, RatioMethod):
        return score_ratio(w, method, data, name=method.numerator_label and indicator.name)
    if isinstance(method, QualitativeMethod):
        return score_qualitative(w, method, data)
    if isinstance(method, DeductionMethod):
        return score_deduction(w, method, data)
    if isinstance(method, ChecklistMethod):
        return score_checklist(w, method, data)
    if isinstance(method, ExpertMethod):
        return score_expert(w, method, data)
    if isinstance(method, SurveyMethod):
        return score_survey(w, method, data)
    if isinstance(method, ManualMethod):
        return score_manual(w, method, data)
    raise InvalidInput(N_("{code} has no scoring method."), code=indicator.code)


# --- grades -----------------------------------------------------------------------------------


def grade(
    score: float | Decimal, bands: Sequence[tuple[float | Decimal, str]] | None = None
) -> str:
    """The grade label of a 100-point score.

    The score is first rounded half-up to 2 decimals — the value printed in the report — so
    that the printed score and the printed grade always agree (89.995 prints as 90.00: 优).

    Parameters
    ----------
    score
        The total score.
    bands
        ``(lower bound inclusive, label)`` pairs; default 优 ≥ 90, 良 ≥ 80, 中 ≥ 60, 差 below.
        A score under every bound gets the label of the lowest band.

    Examples
    --------
    >>> [grade(s) for s in (89.99, 90, 79.99, 60, 59.99)]
    ['良', '优', '中', '中', '差']
    >>> grade(85, bands=[(85, "优秀"), (75, "良好"), (60, "一般"), (0, "较差")])
    '优秀'
    """
    ordered = sorted(
        ((Decimal(str(b)), str(label)) for b, label in (bands or DEFAULT_BANDS)),
        key=lambda item: item[0],
        reverse=True,
    )
    if not ordered:
        raise ValueError("grade bands must not be empty")
    value = round_half_up(Decimal(str(score)))
    for bound, label in ordered:
        if value >= bound:
            return label
    return ordered[-1][1]


# --- totals -----------------------------------------------------------------------------------


@dataclass
class NodeScore:
    """One node of a scored tree. For an inner node, score and weight sum its applicable
    children; ``rate`` is 得分率 = score / weight."""

    code: str
    name: str
    level: int
    parent: str | None
    weight: Decimal
    applicable: bool
    is_leaf: bool
    method: str | None
    score: Decimal | None
    reason_zh: str = ""
    reason_en: str = ""
    warnings: tuple[str, ...] = ()
    #: leaves only (None for inner nodes and inapplicable leaves)
    status: LeafStatus | None = None
    evaluator_reason: str = ""
    evidence: str = ""

    @property
    def unassessed(self) -> bool:
        return self.status is LeafStatus.UNASSESSED

    @property
    def basis_zh(self) -> str:
        """The engine's explanation followed by the evaluator's 评分理由."""
        return join_sentences(self.reason_zh, self.evaluator_reason)

    @property
    def basis_en(self) -> str:
        return join_sentences(self.reason_en, self.evaluator_reason)

    @property
    def rate(self) -> Decimal | None:
        if self.score is None or not self.weight:
            return None
        return self.score / self.weight


@dataclass
class ScoreResult:
    """A scored indicator system.

    ``raw_total`` is the sum of the applicable leaves' scores out of ``applicable_weight``;
    ``total`` rescales it to ``template_total`` (100) when indicators were marked not
    applicable, as the local rules require. ``grade`` is None until every applicable leaf is
    scored.
    """

    nodes: list[NodeScore]
    raw_total: Decimal
    applicable_weight: Decimal
    template_total: Decimal
    complete: bool
    total: Decimal | None
    grade: str | None
    excluded: list[str] = field(default_factory=list)
    #: applicable leaves not assessed yet (no score), in tree order
    missing: list[str] = field(default_factory=list)

    @property
    def unassessed(self) -> list[NodeScore]:
        """The applicable leaves nobody has assessed yet, in tree order."""
        return [n for n in self.nodes if n.is_leaf and n.applicable and n.unassessed]

    @property
    def rescaled(self) -> bool:
        return self.applicable_weight != self.template_total


def score_template(
    template: Template,
    inputs: Mapping[str, LeafInput],
    not_applicable: Sequence[str] = (),
    bands: Sequence[tuple[float | Decimal, str]] | None = None,
) -> ScoreResult:
    """Score every leaf and add up the tree.

    Indicators listed in ``not_applicable`` (or below an inapplicable parent) are excluded; the
    remaining total is rescaled to the template total. Invalid inputs raise
    :class:`InvalidInput` naming the indicator.

    Examples
    --------
    >>> from workbench.core.indicators import parse_template
    >>> t = parse_template({"code": "t", "name": "T", "indicators": [
    ...   {"code": "A", "name": "甲", "weight": 60, "method": {"type": "manual"}},
    ...   {"code": "B", "name": "乙", "weight": 40, "method": {"type": "manual"}}]})
    >>> r = score_template(t, {"A": LeafInput(score=Decimal(54), reason="部分资料缺失")},
    ...                    not_applicable=["B"])
    >>> r.raw_total, r.applicable_weight, r.total, r.grade
    (Decimal('54'), Decimal('60'), Decimal('90'), '优')
    """
    excluded_roots = set(not_applicable)
    nodes: list[NodeScore] = []
    missing: list[str] = []
    excluded: list[str] = []

    def visit(
        node: Indicator, level: int, parent: str | None, inherited_na: bool
    ) -> tuple[Decimal, Decimal, bool]:
        applicable = not inherited_na and node.code not in excluded_roots
        entry = NodeScore(
            node.code,
            node.name,
            level,
            parent,
            node.weight,
            applicable,
            node.is_leaf,
            node.method.type if node.method else None,
            None,
        )
        nodes.append(entry)
        if not applicable:
            excluded.append(node.code)
        if node.is_leaf:
            if not applicable:
                return ZERO, ZERO, True
            try:
                result = score_leaf(node, inputs.get(node.code))
            except InvalidInput as exc:
                raise exc.at(f"{node.code} {node.name}") from None
            entry.score, entry.reason_zh, entry.reason_en = (
                result.score,
                result.reason_zh,
                result.reason_en,
            )
            entry.warnings = result.warnings
            entry.status = result.status
            entry.evaluator_reason, entry.evidence = result.evaluator_reason, result.evidence
            if result.score is None:
                missing.append(node.code)
                return ZERO, node.weight, False
            return result.score, node.weight, True
        score, weight, complete = ZERO, ZERO, True
        for child in node.children:
            s, w, c = visit(child, level + 1, node.code, not applicable)
            score, weight, complete = score + s, weight + w, complete and c
        if applicable:
            entry.weight = weight
            entry.score = score if complete else None
        return score, weight, complete

    raw, applicable_weight, complete = ZERO, ZERO, True
    for top in template.indicators:
        s, w, c = visit(top, 1, None, False)
        raw, applicable_weight, complete = raw + s, applicable_weight + w, complete and c
    total = None
    if complete and applicable_weight > 0:
        total = raw * HUNDRED / applicable_weight  # a 100-point score, whatever the template
    return ScoreResult(
        nodes=nodes,
        raw_total=raw,
        applicable_weight=applicable_weight,
        template_total=template.total,
        complete=complete,
        total=total,
        grade=grade(total, bands) if total is not None else None,
        excluded=[c for c in excluded if c in excluded_roots],
        missing=missing,
    )


# --- sensitivity ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sensitivity:
    """How robust the grade is.

    ``probability_same_grade`` is the share of Monte Carlo draws (weights perturbed uniformly by
    ±``weight_noise`` and renormalised; expert leaves resampled from their panel's scores) that
    keep the base grade. ``margin_down`` / ``margin_up`` are the points the total may lose or
    must gain before the grade changes.
    """

    base_total: float
    base_grade: str
    draws: int
    weight_noise: float
    probability_same_grade: float
    grade_shares: dict[str, float]
    p05: float
    p95: float
    margin_down: float | None
    margin_up: float | None
    seed: int


def grade_margins(
    total: Decimal, bands: Sequence[tuple[float | Decimal, str]] | None = None
) -> tuple[Decimal | None, Decimal | None]:
    """The smallest printed (0.01-step) loss and gain that change the grade of ``total``.

    The grade is read from the total rounded half-up to 2 decimals, so it drops once the exact
    total falls below ``lower − 0.005`` and rises once it reaches ``upper − 0.005``. ``None``
    when there is no worse (or better) grade.

    >>> grade_margins(Decimal("90.01"))
    (Decimal('0.02'), None)
    >>> grade_margins(Decimal("85.5"))
    (Decimal('5.51'), Decimal('4.50'))
    """
    ordered = sorted(Decimal(str(b)) for b, _label in (bands or DEFAULT_BANDS))
    printed = round_half_up(total)
    # below every bound is the lowest band too (grade() gives it the lowest label)
    lower = max((b for b in ordered if b <= printed), default=ordered[0])
    upper = min((b for b in ordered if b > lower), default=None)
    half = Decimal("0.005")
    down = None
    if lower != ordered[0]:  # the lowest band cannot drop
        room = total - (lower - half)  # a loss strictly greater than this flips
        down = room.quantize(Decimal("0.01"), rounding="ROUND_FLOOR") + Decimal("0.01")
    up = None
    if upper is not None:
        need = (upper - half) - total  # a gain at least this large flips
        up = max(Decimal("0.01"), need.quantize(Decimal("0.01"), rounding="ROUND_CEILING"))
    return down, up


def sensitivity(
    result: ScoreResult,
    draws: int = 2000,
    weight_noise: float = 0.10,
    expert_scores: Mapping[str, Sequence[float]] | None = None,
    bands: Sequence[tuple[float | Decimal, str]] | None = None,
    seed: int = 20260101,
) -> Sensitivity:
    """Monte Carlo robustness of a complete :class:`ScoreResult` (reproducible by ``seed``).

    Each draw multiplies every applicable leaf's weight by ``U(1 − δ, 1 + δ)``, rescales the
    weights to the same total, keeps each leaf's 得分率 — except expert leaves with panel scores
    given in ``expert_scores`` (code → the experts' scores on that leaf), whose 得分率 is the
    mean of a bootstrap resample of the panel — and recomputes the total and grade.
    """
    if result.total is None or result.grade is None:
        raise ValueError("sensitivity needs a complete score")
    if draws < 1 or not 0 <= weight_noise < 1:
        raise ValueError("draws must be ≥ 1 and 0 ≤ weight_noise < 1")
    leaves = [n for n in result.nodes if n.is_leaf and n.applicable]
    w = np.array([float(n.weight) for n in leaves])
    rates = np.array([float(n.rate or 0) for n in leaves])
    rng = np.random.default_rng(seed)
    factors = rng.uniform(1 - weight_noise, 1 + weight_noise, size=(draws, len(leaves)))
    weights = w * factors
    weights *= 100.0 / weights.sum(axis=1, keepdims=True)  # totals on the 100-point scale
    rate_draws = np.tile(rates, (draws, 1))
    for i, node in enumerate(leaves):
        panel = (expert_scores or {}).get(node.code)
        if panel:
            values = np.asarray(panel, dtype=float) / float(node.weight)
            sample = rng.choice(values, size=(draws, len(values)), replace=True)
            rate_draws[:, i] = np.clip(sample.mean(axis=1), 0, 1)
    totals = (weights * rate_draws).sum(axis=1)
    labels = [grade(t, bands) for t in totals]
    shares = {label: labels.count(label) / draws for label in dict.fromkeys(labels)}
    base = float(result.total)
    margin_down, margin_up = grade_margins(result.total, bands)
    return Sensitivity(
        base_total=base,
        base_grade=result.grade,
        draws=draws,
        weight_noise=weight_noise,
        probability_same_grade=shares.get(result.grade, 0.0),
        grade_shares=shares,
        p05=float(np.percentile(totals, 5)),
        p95=float(np.percentile(totals, 95)),
        margin_down=None if margin_down is None else float(margin_down),
        margin_up=None if margin_up is None else float(margin_up),
        seed=seed,
    )
