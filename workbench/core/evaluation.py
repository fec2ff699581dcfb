"""One evaluated result per engagement: every figure a page, export or report prints.

:func:`evaluate` takes plain data (the indicator system, the recorded and derived leaf inputs,
the panel's scores, the funds table, the settings) and returns an :class:`EngagementResult`.
Nothing here touches the database or Flask; ``workbench.evaluation`` gathers the inputs once
per engagement and caches the result by the engagement's data revision.

Rounding rule (stated once in the report, checkable with a calculator)
--------------------------------------------------------------------
* Each leaf's **official score** is its exact value rounded half-up (四舍五入) to 2 decimals.
* Every subtotal and the total are **sums of official leaf scores** (no re-rounding, no
  largest-remainder nudging: two identical inputs always print identically).
* 得分率 is the official score ÷ the 分值, rounded half-up to 2 decimals of a percent.
* When indicators are not applicable (不适用), the total of the applicable indicators is
  converted to 100 points: ``round_half_up(得分 × 100 ÷ 适用分值)``.
* The grade is read from the printed (converted) total.

Leaf status
-----------
``scored``, ``unassessed`` (nobody has recorded a result yet: never printed as full marks),
``not_applicable`` (excluded, with its parent's share rescaled) or ``invalid`` (a stored value
no longer fits the leaf's method, e.g. after an edit of the method: shown, not scored).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pandas as pd

from workbench.core.agreement import TooFewRatings, kendall_w
from workbench.core.indicators import ExpertMethod, Indicator, Template
from workbench.core.numbers import round_half_up
from workbench.core.panel import Aggregation, aggregate_panel, indicator_stats, wide
from workbench.core.scoring import (
    DEFAULT_BANDS,
    InvalidInput,
    LeafInput,
    LeafStatus,
    NodeScore,
    ScoreResult,
    Sensitivity,
    grade,
    score_leaf,
    sensitivity,
)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")

#: the dimensions whose applicable share must reach 60 % (2020 framework: 产出 + 效益)
RESULT_DIMENSIONS = ("产出", "效益", "效果")


class Source(enum.StrEnum):
    """Where a leaf's value came from (printed in words, never guessed)."""

    ENTERED = "entered"  # recorded by the evaluation team on the scores page
    PANEL = "panel"  # aggregated from the expert panel's submitted sheets
    SURVEY = "survey"  # a satisfaction survey linked to the leaf
    BUDGET = "budget"  # the funds table
    GOAL = "goal"  # the goal table (绩效目标表)
    NONE = "none"  # nothing recorded


SOURCE_ZH = {
    Source.ENTERED: "评价组录入",
    Source.PANEL: "专家组评分",
    Source.SURVEY: "满意度调查",
    Source.BUDGET: "资金表",
    Source.GOAL: "绩效目标表",
    Source.NONE: "—",
}

STATUS_ZH = {
    LeafStatus.SCORED: "已评分",
    LeafStatus.UNASSESSED: "尚未评价",
    LeafStatus.NOT_APPLICABLE: "不适用",
    LeafStatus.INVALID: "录入值与评分方法不符",
}


def points(value: Decimal | None) -> str:
    """A score as printed everywhere: 2 decimals, half-up; ``—`` when there is none.

    >>> points(Decimal("3.335")), points(None)
    ('3.34', '—')
    """
    return "—" if value is None else f"{round_half_up(value):.2f}"


def percent(rate: Decimal | None) -> str:
    """A rate (0.6915) as printed everywhere: ``69.15%``; ``—`` when there is none."""
    return "—" if rate is None else f"{round_half_up(rate * HUNDRED)}%"


def score_rate(score: Decimal | None, weight: Decimal) -> Decimal | None:
    """得分率 of an official score, as a ratio rounded so that its percent has 2 decimals."""
    if score is None or not weight:
        return None
    return round_half_up(score / weight * HUNDRED) / HUNDRED


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelInput:
    """The panel's submitted scores: a frame with ``indicator_code``, ``expert_id``,
    ``raw_score`` (see :mod:`workbench.core.panel`), how to aggregate, and display names."""

    frame: pd.DataFrame
    aggregation: Aggregation = Aggregation.MEAN
    trim_min_n: int = 5
    expert_weights: Mapping[Any, float] = field(default_factory=dict)
    expert_names: Mapping[Any, str] = field(default_factory=dict)
    #: the report's expert table says 专家A, 专家B, … instead of the names
    anonymous: bool = False


@dataclass(frozen=True)
class Settings:
    bands: Sequence[tuple[float | Decimal, str]] = DEFAULT_BANDS
    #: a leaf losing at least this many points must be addressed by a finding
    finding_threshold: Decimal = Decimal("0.5")
    sensitivity_draws: int = 2000
    sensitivity_noise: float = 0.10
    sensitivity_seed: int = 20260101


@dataclass(frozen=True)
class EvaluationInputs:
    """Everything :func:`evaluate` needs, as plain data.

    ``entered``: what the team recorded per leaf; ``derived``: what follows from the
    engagement's own data (funds, goals, surveys) with its ``derived_sources``; the panel's
    scores are aggregated here, from ``panel``. Entered values win over derived ones, field
    by field.
    """

    template: Template
    entered: Mapping[str, LeafInput] = field(default_factory=dict)
    derived: Mapping[str, LeafInput] = field(default_factory=dict)
    derived_sources: Mapping[str, Source] = field(default_factory=dict)
    not_applicable: frozenset[str] = frozenset()
    panel: PanelInput | None = None
    #: extra figures gathered by the loader and carried as they are (budget rates, survey
    #: measures): keyed by name, printed by the consumers from here only
    figures: Mapping[str, Any] = field(default_factory=dict)
    revision: int = 0


# --- the result -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One node of the evaluated tree (leaf or inner), in tree order."""

    code: str
    name: str
    level: int
    parent: str | None
    path: tuple[str, ...]  # the names of its ancestors, top first
    template_weight: Decimal  # 分值 as in the indicator system
    weight: Decimal  # applicable 分值 (inner nodes: the sum of their applicable leaves)
    applicable: bool
    is_leaf: bool
    method: str | None
    status: LeafStatus | None  # leaves only
    exact: Decimal | None  # the engine's unrounded value (leaves only)
    score: Decimal | None  # official: leaves rounded half-up to 0.01, inner nodes the sum
    rate: Decimal | None  # 得分率 of ``score`` (a ratio, 4 decimals)
    source: Source = Source.NONE
    reason_zh: str = ""  # the engine's explanation
    reason_en: str = ""
    evaluator_reason: str = ""  # what the team wrote (评分理由), never replaced
    evidence: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def deducted(self) -> Decimal | None:
        return None if self.score is None else self.weight - self.score

    @property
    def printed_score(self) -> str:
        return points(self.score)

    @property
    def printed_weight(self) -> str:
        return points(self.weight)

    @property
    def printed_rate(self) -> str:
        return percent(self.rate)

    @property
    def source_zh(self) -> str:
        return SOURCE_ZH[self.source]

    @property
    def basis_zh(self) -> str:
        """评分依据: the engine's explanation, then the team's reason and evidence."""
        parts = [self.reason_zh.strip()]
        if self.evaluator_reason.strip() and self.evaluator_reason.strip() not in self.reason_zh:
            parts.append(f"评价组意见：{self.evaluator_reason.strip()}")
        if self.evidence.strip():
            parts.append(f"评价依据：{self.evidence.strip()}")
        return "".join(p if p.endswith(("。", "；", "）")) else p + "。" for p in parts if p)


@dataclass(frozen=True)
class PanelLeaf:
    code: str
    n: int
    exact: Decimal  # the aggregate before capping and rounding
    official: Decimal  # = the leaf's official score when the leaf takes the panel's value
    by_expert: Mapping[Any, Decimal]  # each expert's score as entered
    cv: float | None


@dataclass(frozen=True)
class PanelSummary:
    experts: tuple[Any, ...]  # expert ids, in column order
    names: Mapping[Any, str]
    aggregation: Aggregation
    leaves: Mapping[str, PanelLeaf]
    kendall_w: float | None
    chi2: float | None
    pvalue: float | None
    #: the engagement chose an anonymised expert table: see :meth:`label`
    anonymous: bool = False

    def label(self, expert: Any) -> str:
        """How the report names ``expert``: the name, or 专家A, 专家B, … in column order
        (past 26 experts: 专家27, 专家28, …) when the engagement anonymises the table."""
        if not self.anonymous:
            return str(self.names.get(expert, expert))
        i = self.experts.index(expert) if expert in self.experts else len(self.experts)
        return "专家" + (chr(ord("A") + i) if i < 26 else str(i + 1))


@dataclass(frozen=True)
class EngagementResult:
    """The evaluated engagement. Every printed figure comes from here."""

    template_code: str
    nodes: tuple[Node, ...]
    template_total: Decimal
    applicable_weight: Decimal
    raw_total: Decimal | None  # sum of the official leaf scores (None until complete)
    total: Decimal | None  # on 100 points: raw_total, or converted when indicators are N/A
    grade: str | None
    unassessed: tuple[str, ...]
    invalid: tuple[str, ...]
    not_applicable: tuple[str, ...]
    panel: PanelSummary | None
    sensitivity: Sensitivity | None
    warnings: tuple[str, ...]
    figures: Mapping[str, Any]
    settings: Settings
    revision: int = 0
    _index: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({n.code: n for n in self.nodes})

    def node(self, code: str) -> Node:
        return self._index[code]

    def get(self, code: str) -> Node | None:
        return self._index.get(code)

    @property
    def leaves(self) -> list[Node]:
        return [n for n in self.nodes if n.is_leaf]

    @property
    def applicable_leaves(self) -> list[Node]:
        return [n for n in self.nodes if n.is_leaf and n.applicable]

    @property
    def dimensions(self) -> list[Node]:
        """The applicable top-level nodes (一级指标)."""
        return [n for n in self.nodes if n.parent is None and n.applicable]

    def children(self, code: str | None) -> list[Node]:
        return [n for n in self.nodes if n.parent == code]

    def leaves_under(self, code: str) -> list[Node]:
        return [n for n in self.applicable_leaves if code in self._ancestors(n)]

    def _ancestors(self, node: Node) -> list[str]:
        out, parent = [], node.parent
        while parent is not None:
            out.append(parent)
            parent = self._index[parent].parent
        return out

    @property
    def complete(self) -> bool:
        return self.total is not None

    @property
    def rescaled(self) -> bool:
        return self.applicable_weight != self.template_total or bool(self.not_applicable)

    @property
    def printed_total(self) -> str:
        return points(self.total)

    @property
    def printed_raw_total(self) -> str:
        return points(self.raw_total)

    @property
    def raw_rate(self) -> Decimal | None:
        return score_rate(self.raw_total, self.applicable_weight)

    def total_sentence_zh(self) -> str:
        """The total in one sentence, with the conversion when indicators are not applicable."""
        if self.total is None:
            return "评价指标尚未全部评价，综合得分待定。"
        if not self.rescaled:
            return f"综合得分{self.printed_total}分，评价等级为“{self.grade}”。"
        return (
            f"剔除不适用指标后，适用指标分值{points(self.applicable_weight)}分，得分"
            f"{self.printed_raw_total}分，按“得分 ÷ 适用分值 × 100”折算为百分制得分"
            f"{self.printed_total}分，评价等级为“{self.grade}”。"
        )

    @staticmethod
    def rounding_rule_zh() -> str:
        return (
            "各三级指标得分按四舍五入保留两位小数，一级、二级指标得分及总分为所属三级指标得分之和，"
            "评价等级依据保留两位小数后的总分确定。"
        )

    @property
    def lost_points(self) -> list[Node]:
        """Scored leaves that lost at least the configured threshold, largest loss first."""
        out = [
            n
            for n in self.applicable_leaves
            if n.score is not None and n.weight - n.score >= self.settings.finding_threshold
        ]
        return sorted(out, key=lambda n: (-(n.weight - (n.score or ZERO)), n.code))


# --- evaluate ---------------------------------------------------------------------------------


def _merge(base: LeafInput | None, entered: LeafInput) -> tuple[LeafInput, bool]:
    """Entered values over derived ones, field by field; True when ``entered`` overrides."""
    if base is None:
        return entered, True
    updates = {
        name: getattr(entered, name)
        for name in entered.__dataclass_fields__
        if getattr(entered, name) not in (None, "", ())
    }
    overrides = any(k not in ("reason", "evidence") for k in updates)
    return replace(base, **updates), overrides


def _panel(
    template: Template, panel: PanelInput | None
) -> tuple[PanelSummary | None, dict[str, LeafInput]]:
    if panel is None or panel.frame.empty:
        return None, {}
    frame = panel.frame
    series = aggregate_panel(frame, panel.aggregation, panel.trim_min_n, panel.expert_weights)
    matrix = wide(frame)
    stats = indicator_stats(frame)
    derived: dict[str, LeafInput] = {}
    leaves: dict[str, PanelLeaf] = {}
    for code, value in series.items():
        try:
            leaf = template.find(str(code))
        except KeyError:
            continue  # a leaf removed since the panel scored it
        exact = Decimal(repr(float(value)))
        capped = min(exact, leaf.weight)
        derived[str(code)] = LeafInput(score=capped)
        row = matrix.loc[code]
        cv = stats.loc[code, "cv"] if code in stats.index and "cv" in stats.columns else None
        leaves[str(code)] = PanelLeaf(
            code=str(code),
            n=int(row.notna().sum()),
            exact=exact,
            official=round_half_up(capped),
            by_expert={e: Decimal(repr(float(row[e]))) for e in matrix.columns if pd.notna(row[e])},
            cv=None if cv is None or pd.isna(cv) else float(cv),
        )
    w = chi2 = p = None
    maxima = pd.Series(
        {c: float(template.find(str(c)).weight) for c in matrix.index if str(c) in leaves}
    )
    try:
        result = kendall_w(matrix.loc[maxima.index].div(maxima, axis=0))
        w, chi2, p = result.w, result.chi2, result.pvalue
    except (TooFewRatings, ValueError, KeyError):
        pass
    summary = PanelSummary(
        experts=tuple(matrix.columns),
        names=dict(panel.expert_names),
        aggregation=panel.aggregation,
        leaves=leaves,
        kendall_w=w,
        chi2=chi2,
        pvalue=p,
        anonymous=panel.anonymous,
    )
    return summary, derived


def _leaf_inputs(
    inputs: EvaluationInputs, panel_derived: Mapping[str, LeafInput]
) -> tuple[dict[str, LeafInput], dict[str, Source]]:
    derived = dict(inputs.derived)
    sources = {c: inputs.derived_sources.get(c, Source.NONE) for c in derived}
    for code, data in panel_derived.items():
        derived[code], sources[code] = data, Source.PANEL
    merged: dict[str, LeafInput] = dict(derived)
    for code, data in inputs.entered.items():
        merged[code], overrides = _merge(derived.get(code), data)
        if overrides or code not in derived:
            sources[code] = Source.ENTERED
    return merged, sources


def _expert_wording(
    node: Indicator, source: Source, reason_zh: str, reason_en: str
) -> tuple[str, str]:
    """An expert leaf whose value the team typed is not a panel score: say so."""
    if isinstance(node.method, ExpertMethod) and source is Source.ENTERED:
        return (
            reason_zh.replace("专家组评分", "评价组录入（未经专家评议）", 1),
            reason_en.replace("Expert panel score", "Expert score entered by the team", 1),
        )
    return reason_zh, reason_en


def evaluate(inputs: EvaluationInputs, settings: Settings | None = None) -> EngagementResult:
    """Evaluate an engagement: every leaf's status, official score and reasons, the subtotals,
    the total (converted to 100 when indicators are not applicable), the grade, the panel's
    aggregates and agreement, and the robustness of the grade.

    >>> from workbench.core.indicators import parse_template
    >>> t = parse_template({"code": "t", "name": "T", "indicators": [
    ...   {"code": "A", "name": "甲", "weight": 60, "method": {"type": "manual"}},
    ...   {"code": "B", "name": "乙", "weight": 30, "method": {"type": "manual"}},
    ...   {"code": "C", "name": "丙", "weight": 10, "method": {"type": "manual"}}]})
    >>> r = evaluate(EvaluationInputs(t, entered={
    ...   "A": LeafInput(score=Decimal("53.005"), reason="部分资料缺失"),
    ...   "B": LeafInput(score=Decimal(30))}, not_applicable=frozenset({"C"})),
    ...   Settings(sensitivity_draws=0))
    >>> r.node("A").printed_score, r.printed_raw_total, r.printed_total, r.grade
    ('53.01', '83.01', '92.23', '优')
    """
    settings = settings or Settings()
    template = inputs.template
    panel, panel_derived = _panel(template, inputs.panel)
    leaf_inputs, sources = _leaf_inputs(inputs, panel_derived)

    excluded_roots = set(inputs.not_applicable)
    nodes: list[Node] = []
    unassessed: list[str] = []
    invalid: list[str] = []

    def leaf_node(
        ind: Indicator, level: int, parent: str | None, path: tuple[str, ...], applicable: bool
    ) -> Node:
        data = leaf_inputs.get(ind.code)
        base = {
            "code": ind.code,
            "name": ind.name,
            "level": level,
            "parent": parent,
            "path": path,
            "template_weight": ind.weight,
            "weight": ind.weight if applicable else ZERO,
            "applicable": applicable,
            "is_leaf": True,
            "method": ind.method.type if ind.method else None,
            "evaluator_reason": (data.reason if data else "") or "",
            "evidence": (data.evidence if data else "") or "",
            "source": sources.get(ind.code, Source.NONE) if data else Source.NONE,
        }
        if not applicable:
            return Node(status=LeafStatus.NOT_APPLICABLE, exact=None, score=None, rate=None, **base)
        try:
            outcome = score_leaf(ind, data)
        except InvalidInput as exc:
            invalid.append(ind.code)
            return Node(
                status=LeafStatus.INVALID,
                exact=None,
                score=None,
                rate=None,
                warnings=(exc.render(),),
                **base,
            )
        status = getattr(outcome, "status", None)
        if outcome.score is None or status == LeafStatus.UNASSESSED:
            unassessed.append(ind.code)
            return Node(status=LeafStatus.UNASSESSED, exact=None, score=None, rate=None, **base)
        official = round_half_up(outcome.score)
        zh, en = _expert_wording(ind, base["source"], outcome.reason_zh, outcome.reason_en)
        return Node(
            status=LeafStatus.SCORED,
            exact=outcome.score,
            score=official,
            rate=score_rate(official, ind.weight),
            reason_zh=zh,
            reason_en=en,
            warnings=tuple(outcome.warnings),
            **base,
        )

    def visit(
        ind: Indicator, level: int, parent: str | None, path: tuple[str, ...], inherited: bool
    ) -> tuple[Decimal, Decimal, bool]:
        applicable = not inherited and ind.code not in excluded_roots
        if ind.is_leaf:
            node = leaf_node(ind, level, parent, path, applicable)
            nodes.append(node)
            if not applicable:
                return ZERO, ZERO, True
            return node.score or ZERO, ind.weight, node.score is not None
        position = len(nodes)
        nodes.append(None)  # type: ignore[arg-type]  # filled below, keeps tree order
        score, weight, complete = ZERO, ZERO, True
        for child in ind.children:
            s, w, c = visit(child, level + 1, ind.code, (*path, ind.name), not applicable)
            score, weight, complete = score + s, weight + w, complete and c
        official = score if (applicable and complete) else None
        nodes[position] = Node(
            code=ind.code,
            name=ind.name,
            level=level,
            parent=parent,
            path=path,
            template_weight=ind.weight,
            weight=weight if applicable else ZERO,
            applicable=applicable,
            is_leaf=False,
            method=None,
            status=None,
            exact=None,
            score=official,
            rate=score_rate(official, weight) if applicable else None,
        )
        return score, weight, complete

    raw, applicable_weight, complete = ZERO, ZERO, True
    for top in template.indicators:
        s, w, c = visit(top, 1, None, (), False)
        raw, applicable_weight, complete = raw + s, applicable_weight + w, complete and c

    raw_total = total = None
    grade_label = None
    if complete and applicable_weight > 0:
        raw_total = raw
        total = (
            raw
            if applicable_weight == HUNDRED
            else round_half_up(raw * HUNDRED / applicable_weight)
        )
        grade_label = grade(total, settings.bands)

    warnings = _share_warnings(nodes, applicable_weight)
    result = EngagementResult(
        template_code=template.code,
        nodes=tuple(nodes),
        template_total=template.total,
        applicable_weight=applicable_weight,
        raw_total=raw_total,
        total=total,
        grade=grade_label,
        unassessed=tuple(unassessed),
        invalid=tuple(invalid),
        not_applicable=tuple(c for c in (n.code for n in nodes) if c in excluded_roots),
        panel=panel,
        sensitivity=None,
        warnings=tuple(warnings),
        figures=dict(inputs.figures),
        settings=settings,
        revision=inputs.revision,
    )
    if total is not None and settings.sensitivity_draws > 0:
        result = replace(result, sensitivity=_sensitivity(result, settings), _index={})
    return result


def _share_warnings(nodes: Sequence[Node], applicable_weight: Decimal) -> list[str]:
    """The 2020 framework wants 产出 + 效益 ≥ 60 % of the (applicable) points."""
    if not applicable_weight:
        return []
    tops = [n for n in nodes if n.parent is None and n.applicable]
    result_dims = [n for n in tops if any(n.name.startswith(d) for d in RESULT_DIMENSIONS)]
    if not result_dims:
        return []
    share = sum((n.weight for n in result_dims), ZERO) / applicable_weight
    if share < Decimal("0.6"):
        names = "、".join(n.name for n in result_dims)
        return [
            f"适用指标中{names}指标分值合计占{percent(share)}，低于60%的要求"
            "（剔除不适用指标后请复核指标体系）。"
        ]
    return []


def _sensitivity(result: EngagementResult, settings: Settings) -> Sensitivity:
    """Robustness of the grade, on the official leaf scores (see core.scoring.sensitivity)."""
    leaves = [
        NodeScore(n.code, n.name, n.level, n.parent, n.weight, True, True, n.method, n.score)
        for n in result.applicable_leaves
    ]
    assert result.total is not None
    assert result.raw_total is not None
    scored = ScoreResult(
        nodes=leaves,
        raw_total=result.raw_total,
        applicable_weight=result.applicable_weight,
        template_total=result.template_total,
        complete=True,
        total=result.total,
        grade=result.grade,
    )
    panel = result.panel
    experts = (
        {c: [float(v) for v in leaf.by_expert.values()] for c, leaf in panel.leaves.items()}
        if panel
        else None
    )
    return sensitivity(
        scored,
        draws=settings.sensitivity_draws,
        weight_noise=settings.sensitivity_noise,
        expert_scores=experts,
        bands=settings.bands,
        seed=settings.sensitivity_seed,
    )
