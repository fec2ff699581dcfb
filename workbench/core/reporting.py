"""The report's sections as pure functions of the evaluated result and plain data.

Each section of the 绩效评价报告 (财预〔2020〕10号 附3) is one function: it takes the
:class:`~workbench.core.evaluation.EngagementResult` (every score, rate, total, grade, source
and reason) and plain data about the engagement (a few frozen dataclasses below), and returns
the template variables and tables of that section. Nothing here queries, computes a score or a
statistic, or rounds on its own: figures are printed with the result's ``printed_*``,
:func:`~workbench.core.evaluation.points` and :func:`~workbench.core.evaluation.percent`, so
the same figure reads the same in every table and paragraph. ``workbench.reports.context``
gathers the plain data and calls these functions; ``docs/report-templates.md`` lists the
variables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from workbench.core.budget import (
    LEGACY_SOURCE_NAMES,
    BudgetTable,
    rates_sentence,
    source_name,
)
from workbench.core.evaluation import (
    EngagementResult,
    Node,
    Source,
    percent,
    points,
)
from workbench.core.goals import NATURE_SYMBOLS, GoalNature, GoalStatus, goal_status
from workbench.core.numbers import clean_text, round_half_up
from workbench.core.reportqa import SumRule, TableSpec
from workbench.core.results import DEFAULT_RULES, Rule, recommend
from workbench.core.scoring import DEFAULT_BANDS, LeafStatus, join_sentences

#: the shorthands' printed names (rows now carry their own 资金来源 name: see source_name)
FUND_SOURCE_ZH = LEGACY_SOURCE_NAMES
CHINESE_NUMBERS = "一二三四五六七八九十"
AGGREGATION_ZH = {
    "mean": "算术平均",
    "trimmed": "去掉一个最高分和一个最低分后的平均（专家不少于规定人数时）",
    "median": "中位数",
    "weighted": "按专家权重加权平均",
}
DAC = {
    "决策": "Relevance and design",
    "过程": "Efficiency of implementation",
    "产出": "Effectiveness (outputs)",
    "效益": "Impact and sustainability",
}
GRADE_EN = {"优": "excellent", "良": "good", "中": "fair", "差": "poor"}
NO_PANEL = "本次评价未组织专家评分。"
FULL_MARKS = "该指标得满分。"


# --- containers the templates and QA read -------------------------------------------------------


@dataclass
class Chart:
    """Data of a bar chart: labels and one or two series (percent values 0–100)."""

    title: str
    labels: list[str]
    series: dict[str, list[float]]
    stacked: bool = False
    max_value: float = 100.0


@dataclass
class ReportContext:
    """The template variables, the tables behind the ``*_table`` tags, the charts,
    and what the QA checks need."""

    values: dict[str, Any]
    tables: dict[str, TableSpec] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)


@dataclass
class Section:
    """What one section function returns: variables, tables and charts to merge."""

    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)


# --- plain data about the engagement ------------------------------------------------------------


@dataclass(frozen=True)
class EngagementFacts:
    """The engagement as the report names it (user text already cleaned)."""

    title: str
    project_name: str
    client: str
    firm: str
    evaluated_units: tuple[str, ...] = ()
    fiscal_year: int | str = ""
    department: bool = False
    description: str = ""
    overall_goal: str = ""
    annual_goal: str = ""
    report_no: str = ""
    report_date: dt.date = dt.date(2000, 1, 1)
    draft: bool = True
    #: the sign-offs a 征求意见稿 carries, in level order: (level, reviewer, date); empty for
    #: a draft not signed yet (its header says so) and for the issued report (no mark)
    signoffs: tuple[tuple[str, str, dt.date], ...] = ()
    #: the framing of the bundled project report (cover, 评价依据, responsibility, team)
    evaluation_period: str = ""
    data_provider: str = ""
    basis: tuple[str, ...] = ()  # the rules selected, in the order of the list
    commission_notice: str = ""
    lead: tuple[str, ...] = ()  # 项目负责人
    members: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()  # 复核人
    #: the client bureau's 结果应用 rules (grade → action and share of the budget)
    result_rules: Mapping[str, Rule] | None = None


#: the laws and rules a firm selects as the 评价依据 (the form offers them; more go in free text)
BASIS_RULES: tuple[str, ...] = (
    "《中华人民共和国预算法》",
    "《中华人民共和国预算法实施条例》",
    "《中共中央 国务院关于全面实施预算绩效管理的意见》（中发〔2018〕34号）",
    "《财政部关于贯彻落实〈中共中央 国务院关于全面实施预算绩效管理的意见〉的通知》"
    "（财预〔2018〕167号）",
    "《项目支出绩效评价管理办法》（财预〔2020〕10号）",
    "《财政部关于印发〈第三方机构预算绩效评价业务监督管理暂行办法〉的通知》（财监〔2021〕4号）",
    "《预算绩效评价共性指标体系框架》（财预〔2013〕53号）",
)


@dataclass(frozen=True)
class GoalFacts:
    level1: str
    level2: str
    name: str
    nature: GoalNature
    target_value: str
    actual_value: str = ""
    unit: str = ""
    deviation_reason: str = ""


@dataclass(frozen=True)
class FindingFacts:
    id: int
    kind: str  # experience, problem, other
    title: str
    text: str
    cause: str = ""
    evidence: str = ""
    indicator_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecommendationFacts:
    text: str
    problem_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SurveyItemFacts:
    label: str
    counts: Mapping[str, int]
    valid: int
    rate: Decimal | float | None


@dataclass(frozen=True)
class MeasureFacts:
    """The measure a survey's indicator is scored on (the survey module's SurveyMeasure)."""

    label: str
    rate: Decimal | float | None
    ci_low: Decimal | float | None = None
    ci_high: Decimal | float | None = None
    respondents: int = 0
    kind: str = "rate"  # rate, group_rate, index, stratified


@dataclass(frozen=True)
class SurveyFacts:
    """One survey's screened results, as the survey module computed them."""

    id: int
    title: str
    respondent_group: str
    leaf_code: str | None
    returned: int
    valid: int
    valid_rate: Decimal | float | None
    rate: Decimal | float | None
    ci_low: Decimal | float | None
    ci_high: Decimal | float | None
    index: float
    required: int
    respondents: int
    distributed: int | None = None
    measure: MeasureFacts | None = None
    levels: tuple[str, ...] = ()
    items: tuple[SurveyItemFacts, ...] = ()


#: 工作过程 phase kinds in their usual order, with the name the report prints
PHASE_KINDS = {
    "preparation": "前期准备和评价方案设计",
    "fieldwork": "现场核查",
    "interview": "座谈访谈",
    "analysis": "数据分析",
    "exchange": "与被评价单位交换意见",
    "expert_review": "专家评审会",
    "drafting": "报告撰写与复核",
}
NO_PHASES = "评价工作组尚未登记评价工作各阶段的时间、地点和工作内容。"


@dataclass(frozen=True)
class PhaseFacts:
    """One recorded phase of the work (工作过程): its kind, dates, place and what was done."""

    kind: str
    start: dt.date
    end: dt.date | None = None
    place: str = ""
    participants: str = ""
    text: str = ""


@dataclass(frozen=True)
class LeafFacts:
    """What the working papers hold about a leaf: its 评分标准, the evidence documents linked
    to it (by name) and the working paper's 核查对象 and 发现问题."""

    criteria: str = ""
    documents: tuple[str, ...] = ()
    checked: str = ""
    found: str = ""
    key_points: str = ""  # 评价要点: what a full-marks leaf was checked against


@dataclass(frozen=True)
class WeightingFacts:
    """How the weights were set: AHP and the largest consistency ratio, when used."""

    ahp: bool = False
    max_cr: float | None = None


# --- helpers --------------------------------------------------------------------------------------


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{round_half_up(value):,.2f}"


def rate_text(value: Decimal | float | None) -> str:
    """A ratio from plain data (Decimal or float) printed as :func:`percent` prints it."""
    return "—" if value is None else percent(Decimal(str(value)))


def local_date(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith(("。", "；", "！", "？", "）", "”")) else text + "。"


def _top(result: EngagementResult, node: Node) -> Node:
    while node.parent is not None:
        node = result.node(node.parent)
    return node


def _leaves_of(result: EngagementResult, top: Node) -> list[Node]:
    """The leaves under a top-level node in tree order, the not-applicable ones included."""
    if top.is_leaf:
        return [top]
    return [n for n in result.leaves if _top(result, n).code == top.code]


def leaf_score_text(node: Node) -> str:
    """A leaf's score as the tables print it: the official score, 尚未评价, 不适用 …"""
    if node.status is LeafStatus.SCORED:
        return node.printed_score
    if node.status is LeafStatus.NOT_APPLICABLE:
        return "不适用"
    if node.status is LeafStatus.INVALID:
        return "录入值与评分方法不符"
    return "尚未评价"


def leaf_basis(node: Node) -> str:
    """What a paragraph and the annex say about a leaf: the engine's explanation followed by
    the evaluator's 评分理由 and the evidence, one sentence each (as the scores page and the
    Excel table compose it: ``join_sentences``), cleaned for print."""
    reason = node.evaluator_reason.strip()
    if reason and reason in node.reason_zh:
        reason = ""  # already in the engine's explanation
    evidence = node.evidence.strip()
    return clean_text(
        join_sentences(node.reason_zh, reason, f"评价依据：{evidence}" if evidence else "")
    )


_CHECKLIST = re.compile(r"^(\d+) 项要点满足 (\d+) 项，未满足：(.+?)。?$")


def deduction_text(node: Node) -> str:
    """The basis of a deduction as a finding, never a copied criterion: a checklist's
    ``未满足：甲；乙`` reads ``经核查，N项评分要点中满足M项，“甲”“乙”未满足，扣x分。``"""
    if node.score is None or node.score >= node.weight:
        return ""
    lost = points(node.weight - node.score)
    engine = clean_text(node.reason_zh).strip()
    match = _CHECKLIST.match(engine)
    if match:
        n, met, missing = match.groups()
        named = "".join(f"“{m.strip()}”" for m in missing.split("；") if m.strip())
        return f"经核查，{n}项评分要点中满足{met}项，{named}未满足，扣{lost}分。"
    if engine.startswith("扣分事项："):  # a deduction leaf lists what was found
        listed = engine.removeprefix("扣分事项：").rstrip("。")
        return f"经核查，存在以下扣分事项：{listed}，共扣{lost}分。"
    if re.search(r"扣\s*[\d.]+\s*分", engine):
        return f"扣分依据：{_sentence(engine)}"
    if engine:
        return f"扣分依据：{engine.rstrip('。')}，扣{lost}分。"
    return f"扣{lost}分。"


def _one_paragraph(text: str) -> str:
    """A multi-line text (评分标准, 评价要点) as one run of sentences."""
    return "".join(line.strip() for line in clean_text(text).splitlines() if line.strip())


def _documents(names: Sequence[str]) -> str:
    shown = [re.sub(r"\.(pdf|docx|xlsx|png|jpe?g)$", "", clean_text(n), flags=re.I) for n in names]
    return "".join(f"《{n}》" for n in shown if n)


def found_text(node: Node, facts: LeafFacts | None = None) -> str:
    """What was found: the documents checked (by name), the working paper's 核查对象 and
    发现问题, the evaluator's 评分理由 and evidence."""
    facts = facts or LeafFacts()
    parts: list[str] = []
    docs = _documents(facts.documents)
    checked = clean_text(facts.checked).strip().rstrip("。")
    evidence = clean_text(node.evidence).strip().rstrip("。")
    read = "、".join(x for x in (docs, evidence, checked) if x)
    if read:
        parts.append(f"评价组查阅了{read}" + ("" if read.endswith("资料") else "等资料"))
    reason = clean_text(node.evaluator_reason).strip()
    if reason and reason not in node.reason_zh:
        parts.append(reason.rstrip("。"))
    found = clean_text(facts.found).strip()
    if found and found not in reason:
        parts.append(found.rstrip("。"))
    return _sentence("，".join(parts)) if parts else ""


def leaf_paragraph(k: int, node: Node, facts: LeafFacts | None = None) -> str:
    """``k. 名称（分值…，得分…，得分率…）。`` then 评分标准, what was found, the basis of a
    deduction (or that the criterion is met), or the leaf's status when not scored."""
    name = clean_text(node.name)
    if node.status is LeafStatus.NOT_APPLICABLE:
        return (
            f"{k}. {name}（不适用）。该指标不适用于本项目，原分值"
            f"{points(node.template_weight)}分不计入适用分值。{leaf_basis(node)}"
        )
    if node.status is LeafStatus.UNASSESSED:
        return f"{k}. {name}（分值{node.printed_weight}分）。该指标尚未评价。"
    if node.status is LeafStatus.INVALID:
        warning = "；".join(clean_text(w) for w in node.warnings)
        return (
            f"{k}. {name}（分值{node.printed_weight}分，录入值与评分方法不符，尚未计分）。"
            + _sentence(warning)
        )
    facts = facts or LeafFacts()
    criteria = _one_paragraph(facts.criteria)
    text = f"评分标准：{_sentence(criteria)}" if criteria else ""
    found = found_text(node, facts)
    engine = clean_text(node.reason_zh).strip()
    key_points = _one_paragraph(facts.key_points).rstrip("。；")
    if node.score is not None and node.score < node.weight:
        text += found + deduction_text(node)
    elif found:
        text += found + "经核查，符合评分标准，得满分。"
    elif engine:
        text += f"经核查，{engine.rstrip('。')}，得满分。"
    elif key_points:
        text += f"经逐项核查评价要点（{key_points}），均符合要求，得满分。"
    elif criteria:
        text += "经核查，符合上述评分标准，得满分。"
    else:  # nothing recorded: say so, for the evaluator to complete the draft
        text += "得满分；评价组尚未填写评分理由和核查依据。"
    return (
        f"{k}. {name}（分值{node.printed_weight}分，得分{node.printed_score}分，"
        f"得分率{node.printed_rate}）。{text}"
    )


# --- 一、基本情况 -------------------------------------------------------------------------------


def draft_mark(facts: EngagementFacts) -> str:
    """The header of a draft: the sign-offs it actually has (a 征求意见稿), else that it has
    none; the issued report has no mark.

    >>> draft_mark(EngagementFacts("t", "p", "c", "f"))
    '草稿 — 未经复核签发，不作正式结论使用'
    >>> print(draft_mark(EngagementFacts("t", "p", "c", "f", signoffs=(
    ...     ("项目负责人复核", "张伟", dt.date(2026, 12, 1)),
    ...     ("质控复核", "王芳", dt.date(2026, 12, 2))))).replace("；", "；\n"))
    征求意见稿 — 项目负责人复核：张伟（2026年12月1日）；
    质控复核：王芳（2026年12月2日）。正式结论以出具的正式稿为准
    """
    if not facts.draft:
        return ""
    if not facts.signoffs:
        return "草稿 — 未经复核签发，不作正式结论使用"
    signed = "；".join(
        f"{clean_text(level)}：{clean_text(who)}（{local_date(when)}）"
        for level, who, when in facts.signoffs
    )
    return f"征求意见稿 — {signed}。正式结论以出具的正式稿为准"


def cover(facts: EngagementFacts) -> Section:
    """Cover and header facts."""
    title = clean_text(facts.title)
    project = clean_text(facts.project_name)
    units = "、".join(clean_text(u) for u in facts.evaluated_units) or "—"
    when = facts.report_date
    return Section(
        values={
            "title": (
                f"{title}报告"
                if title.endswith("评价")
                else f"{project}{'部门整体支出' if facts.department else ''}绩效评价报告"
            ),
            "project_name": project,
            "client": clean_text(facts.client),
            "firm": clean_text(facts.firm),
            "evaluated_units": units,
            "report_no": clean_text(facts.report_no) or "（出具时编号）",
            "report_date": local_date(when),
            "report_date_en": when.strftime("%d %B %Y"),
            "fiscal_year": facts.fiscal_year,
            "draft_mark": draft_mark(facts),
        }
    )


def _names_line(names: Sequence[str], none: str = "—") -> str:
    """Names joined with 、; ``none`` is the sentence printed when there is nobody (a bare "—"
    is a placeholder that report QA blocks)."""
    return "、".join(clean_text(n) for n in names if clean_text(n)) or none


def result_application(
    result: EngagementResult | None,
    budget: BudgetTable | None,
    rules: Mapping[str, Rule] | None = None,
) -> str:
    """结果应用: what the bureau's rules say for this grade (the action, the share of the
    current budget and, when recorded, the amount).

    Empty while the result is not complete (no grade to apply).
    """
    if result is None or not result.complete or not result.grade:
        return ""
    figures = budget.total.figures if budget is not None else None
    current = None
    if figures is not None:
        current = figures.adjusted if figures.adjusted is not None else figures.initial
    rules = rules or DEFAULT_RULES
    advice = recommend(result.grade, current, rules)
    if advice is None:
        return ""
    share = rules[result.grade].share * 100
    amount = (
        f"，即{advice.printed}万元（当年预算{money(current)}万元）"
        if advice.recommended is not None
        else ""
    )
    return (
        f"根据委托方的评价结果应用规则，评价等级为“{result.grade}”的项目，"
        f"下一年度预算建议“{clean_text(advice.action)}”，"
        f"按当年预算的{_mark(round_half_up(share))}%安排{amount}。"
    )


def framing(
    result: EngagementResult | None, facts: EngagementFacts, budget: BudgetTable | None = None
) -> Section:
    """The framing of the bundled project report: cover facts, 评价依据, the responsibility
    statement, the team and the experts (named or 专家A… as the engagement chose), the
    signature page and the 结果应用 sentence."""
    units = "、".join(clean_text(u) for u in facts.evaluated_units)
    provider = clean_text(facts.data_provider) or units or clean_text(facts.client)
    basis = [clean_text(b) for b in facts.basis if clean_text(b)]
    notice = clean_text(facts.commission_notice)
    if notice:
        basis.append(notice)
    panel = result.panel if result is not None else None
    experts = [clean_text(panel.label(e)) for e in panel.experts] if panel is not None else []
    return Section(
        values={
            "evaluation_period": clean_text(facts.evaluation_period) or f"{facts.fiscal_year}年度",
            "basis": basis,
            "basis_none": "" if basis else "（评价依据尚未选定）",
            "responsibility": (
                f"本报告所依据的项目资料、财务数据及相关佐证材料由{provider}提供，"
                f"{provider}对所提供资料的真实性、准确性和完整性负责。"
                f"{clean_text(facts.firm)}依据上述资料，按照评价依据和评价指标体系独立开展评价，"
                "对评价过程和评价结论的客观性、公正性负责。"
            ),
            "team_lead": _names_line(facts.lead),
            "team_members": _names_line(facts.members, "无（项目负责人以外未设项目组成员）"),
            "team_reviewers": _names_line(facts.reviewers, "尚未指定"),
            "experts": experts,
            "experts_none": "" if experts else "本次评价未组织专家评分。",
            "result_application": result_application(result, budget, facts.result_rules)
            or "评价等级确定后，依据委托方的评价结果应用规则提出预算安排建议。",
        }
    )


def funds_table(budget: BudgetTable) -> tuple[TableSpec, dict[str, str]]:
    """表1 and the printed totals: each amount rounded half-up to 0.01 万元, each total the sum
    of its printed rows (as the scores are), the rates as the budget module computed them."""
    columns = ("initial", "adjusted", "available", "executed")
    rows: list[list[str]] = []
    sums: dict[str, Decimal | None] = {}
    for c in columns:
        known = [getattr(r.figures, c) for r in budget.rows if getattr(r.figures, c) is not None]
        total = getattr(budget.total.figures, c)
        sums[c] = (
            sum((round_half_up(v) for v in known), Decimal(0))
            if known
            else (None if total is None else round_half_up(total))
        )
    for r in budget.rows:
        rows.append(
            [
                source_name(r.figures.source),
                *[money(getattr(r.figures, c)) for c in columns],
                rate_text(r.funding_rate),
                rate_text(r.execution_rate),
            ]
        )
    totals = {c: money(sums[c]) for c in columns}
    rows.append(
        [
            "合计",
            *[totals[c] for c in columns],
            rate_text(budget.total.funding_rate),
            rate_text(budget.total.execution_rate),
        ]
    )
    n = len(budget.rows)
    spec = TableSpec(
        headers=[
            [
                "资金来源",
                "年初预算数",
                "调整后预算数",
                "实际到位数",
                "实际执行数",
                "资金到位率",
                "预算执行率",
            ]
        ],
        rows=rows,
        widths=[2.0, 2.3, 2.3, 2.3, 2.3, 2.2, 2.2],
        sums=[
            SumRule(n, col, list(range(n)), f"表1 {name}")
            for col, name in zip(
                range(1, 5), ("年初预算数", "调整后预算数", "实际到位数", "实际执行数"), strict=True
            )
        ],
        bold_rows=[n],
        numeric_columns=[1, 2, 3, 4, 5, 6],
        name="funds_table",
    )
    return spec, totals


def funds_text(budget: BudgetTable, totals: Mapping[str, str]) -> str:
    sources = "、".join(
        source_name(r.figures.source)
        for r in budget.rows
        if r.figures.source and r.figures.adjusted
    )
    total = budget.total
    return (
        (f"项目资金来源包括{sources}。" if sources else "")
        + f"年初预算{totals['initial']}万元，调整后预算{totals['adjusted']}万元，"
        f"实际到位{totals['available']}万元，资金到位率{rate_text(total.funding_rate)}；"
        f"实际执行{totals['executed']}万元，预算执行率{rate_text(total.execution_rate)}。"
        f"计算口径：{rates_sentence(budget)}"
    )


def goals_table(goals: Sequence[GoalFacts], name: str = "goals_table") -> TableSpec:
    status_zh = {GoalStatus.MET: "已完成", GoalStatus.NOT_MET: "未完成"}
    rows = []
    for g in goals:
        qualitative = g.nature is GoalNature.QUALITATIVE
        target = (
            g.target_value if qualitative else f"{NATURE_SYMBOLS[g.nature]}{g.target_value}{g.unit}"
        )
        actual = (
            g.actual_value if qualitative or not g.actual_value else f"{g.actual_value}{g.unit}"
        )
        status = goal_status(g.nature, g.target_value, g.actual_value or None)
        if status is GoalStatus.UNKNOWN:  # 定性 or no actual value: say which
            status_text = "定性指标，见实际完成值" if g.actual_value else "未填报实际完成值"
        else:
            status_text = status_zh[status]
        reason = f"（{clean_text(g.deviation_reason)}）" if g.deviation_reason else ""
        rows.append(
            [
                clean_text(g.level1),
                clean_text(g.level2),
                clean_text(g.name),
                clean_text(target),
                clean_text(actual or "—"),
                status_text + reason,
            ]
        )
    return TableSpec(
        headers=[["一级指标", "二级指标", "三级指标", "指标值", "实际完成值", "完成情况"]],
        rows=rows or [["—"] * 6],
        widths=[2.0, 2.2, 4.2, 2.4, 2.4, 2.6],
        merge_columns=[0, 1],
        name=name,
    )


def basic_information(
    facts: EngagementFacts, budget: BudgetTable, goals: Sequence[GoalFacts]
) -> Section:
    """一、基本情况: 项目概况 with 表1 (funds), 绩效目标 with 表2 (and its annex copy)."""
    table, totals = funds_table(budget)
    return Section(
        values={
            "overview": clean_text(facts.description) or "（项目概况待补充）",
            "overall_goal": clean_text(facts.overall_goal) or "—",
            "annual_goal": clean_text(facts.annual_goal) or "—",
            "funds_text": funds_text(budget, totals),
        },
        tables={
            "funds_table": table,
            "goals_table": goals_table(goals),
            "goals_table_annex": goals_table(goals, "goals_table_annex"),
        },
    )


# --- 二、绩效评价工作开展情况 -------------------------------------------------------------------


def _names(nodes: Sequence[Node]) -> str:
    return "、".join(f"“{clean_text(n.name)}”" for n in nodes)


def _entered_expert_leaves(result: EngagementResult | None) -> list[Node]:
    """Expert-method leaves whose score the team typed in (not the panel's aggregate)."""
    return [
        n
        for n in (result.applicable_leaves if result else [])
        if n.method == "expert" and n.source is Source.ENTERED and n.score is not None
    ]


def expert_paragraph(result: EngagementResult | None) -> str:
    """The panel in one paragraph (the methods and 附件4 print the same words): who scored
    how many indicators, how the scores were combined, their agreement; without a panel, a
    sentence saying so (and which expert indicators the team entered itself)."""
    entered = _entered_expert_leaves(result)
    panel = result.panel if result else None
    if panel is None or not panel.leaves:
        text = NO_PANEL
        if entered:
            text += f"{_names(entered)}指标的得分由评价组根据核查情况录入。"
        return text
    assert result is not None
    scored = [result.node(c) for c in panel.leaves if result.get(c) and result.node(c).applicable]
    rule = AGGREGATION_ZH.get(panel.aggregation.value, panel.aggregation.value)
    if panel.kendall_w is not None and panel.chi2 is not None and panel.pvalue is not None:
        agreement = (
            f"专家评分的肯德尔和谐系数 W = {panel.kendall_w:.3f}"
            f"（χ² = {panel.chi2:.2f}，p = {panel.pvalue:.3f}）。"
        )
    else:
        agreement = "评价指标或专家人数不足，未计算肯德尔和谐系数。"
    text = (
        f"评价组邀请{len(panel.experts)}名专家对{len(scored)}项指标（{_names(scored)}）独立评分，"
        f"各指标的专家组综合得分取各专家评分的{rule}，四舍五入保留两位小数后作为该指标得分"
        f"（数据来源：专家提交的评分表，明细见附件4）。{agreement}"
    )
    overridden = [n for n in scored if n.source is not Source.PANEL and n.score is not None]
    for n in overridden:
        text += (
            f"“{clean_text(n.name)}”指标采用评价组录入的得分{n.printed_score}分"
            f"（专家组综合得分{points(panel.leaves[n.code].official)}分）。"
        )
    if entered:
        text += f"{_names(entered)}指标的得分由评价组录入，未经专家组评分。"
    return text


def _leaf_name(result: EngagementResult | None, code: str | None) -> str:
    node = result.get(code) if result is not None and code else None
    return node.name if node is not None else ""


def survey_paragraph(survey: SurveyFacts, leaf_name: str = "") -> str:
    handed = f"发放问卷{survey.distributed}份，" if survey.distributed is not None else ""
    group = clean_text(survey.respondent_group) or "相关群体"
    enough = (
        "样本量满足要求。"
        if survey.respondents >= survey.required
        else f"实际有效样本{survey.respondents}份，样本量不足，结论仅供参考。"
    )
    head = (
        f"调查对象为{group}，{handed}回收问卷{survey.returned}份，经甄别剔除无效问卷"
        f"{survey.returned - survey.valid}份，有效问卷{survey.valid}份，"
        f"有效率{rate_text(survey.valid_rate)}。"
    )
    tail = f"按±5%误差、95%置信度测算所需有效样本{survey.required}份，{enough}"
    m = survey.measure
    if m is None:
        return (
            head + f"满意率为{rate_text(survey.rate)}（95%置信区间{rate_text(survey.ci_low)}～"
            f"{rate_text(survey.ci_high)}），满意度指数{survey.index:.1f}分。" + tail
        )
    # the measure the survey's indicator is scored on, with its label
    return (
        head + f"{clean_text(m.label)}为{rate_text(m.rate)}（95%置信区间{rate_text(m.ci_low)}～"
        f"{rate_text(m.ci_high)}，{m.respondents}名受访者）"
        + (f"，计入“{clean_text(leaf_name)}”指标评分" if leaf_name else "")
        + (f"，满意度指数{survey.index:.1f}分" if m.kind == "rate" else "")
        + "。"
        + tail
    )


def survey_use(result: EngagementResult | None, surveys: Sequence[SurveyFacts]) -> dict[int, str]:
    """Per survey: the sentence saying which indicator its rate feeds, with the rate and the
    score the indicator got (pooled surveys: said on the last one of them)."""
    out: dict[int, str] = {}
    if result is None:
        return out
    rates = result.figures.get("survey_rates") or {}
    feeding: dict[str, list[SurveyFacts]] = {}
    for s in surveys:
        if s.leaf_code:
            feeding.setdefault(s.leaf_code, []).append(s)
    for code, fed in feeding.items():
        node = result.get(code)
        if node is None or not node.applicable or node.source is not Source.SURVEY:
            continue
        rate = rates.get(code)
        titles = "、".join(f"“{clean_text(s.title)}”" for s in fed)
        how = f"{titles}的有效回答合并计算，" if len(fed) > 1 else ""
        out[fed[-1].id] = (
            f"{how}计入“{clean_text(node.name)}”指标的满意率为{rate_text(rate)}，"
            f"该指标得分{leaf_score_text(node)}分（数据来源：满意度调查有效问卷）。"
        )
    return out


def sources_paragraph(result: EngagementResult | None) -> str:
    """Where each scored leaf's figure came from, grouped by source."""
    if result is None:
        return ""
    groups: dict[Source, list[Node]] = {}
    for n in result.applicable_leaves:
        if n.status is LeafStatus.SCORED:
            groups.setdefault(n.source, []).append(n)
    parts = [
        f"{_names(groups[s])}取自{_SOURCE_LONG[s]}"
        for s in (Source.BUDGET, Source.GOAL, Source.SURVEY, Source.PANEL)
        if groups.get(s)
    ]
    if not parts:
        return ""
    if groups.get(Source.ENTERED):
        parts.append("其余指标由评价组根据核查资料评分录入")
    return "各三级指标得分的数据来源：" + "；".join(parts) + "。"


_SOURCE_LONG = {
    Source.BUDGET: "资金表（表1）",
    Source.GOAL: "绩效目标表（表2）",
    Source.SURVEY: "满意度调查（附件3）",
    Source.PANEL: "专家组评分（附件4）",
}


def work_carried_out(
    result: EngagementResult | None,
    facts: EngagementFacts,
    surveys: Sequence[SurveyFacts],
    weighting: WeightingFacts | None = None,
) -> Section:
    """二、绩效评价工作开展情况: purpose, scope, principles, the indicator system, the methods
    (each naming the source of its figures) and the standards."""
    project = clean_text(facts.project_name)
    units = "、".join(clean_text(u) for u in facts.evaluated_units) or "—"
    methods = ["（1）资料核查：查阅项目立项、资金拨付、合同、验收等资料，核实绩效目标完成情况。"]
    sources = sources_paragraph(result)
    if sources:
        methods[0] += sources
    panel = result.panel if result else None
    if (panel is not None and panel.leaves) or _entered_expert_leaves(result):
        methods.append(f"（2）专家评议：{expert_paragraph(result)}")
    use = survey_use(result, surveys)
    for s in surveys:
        methods.append(
            f"（{len(methods) + 1}）问卷调查：{clean_text(s.title)}，"
            f"{survey_paragraph(s, _leaf_name(result, s.leaf_code))}" + use.get(s.id, "")
        )
    if weighting is not None and weighting.ahp:
        methods.append(
            f"（{len(methods) + 1}）指标权重采用层次分析法确定"
            + (
                f"，判断矩阵一致性比率 CR 最大为{weighting.max_cr:.3f}"
                "（小于0.10，通过一致性检验）。"
                if weighting.max_cr is not None
                else "。"
            )
        )
    dims = result.dimensions if result else []
    if result is not None and dims:
        names = "、".join(clean_text(d.name) for d in dims)
        # the system as designed (every leaf, 不适用 ones too), then the applicable part of it
        full = sum((leaf.template_weight for leaf in result.leaves), Decimal(0))
        summary = (
            f"评价指标体系按照“{names}”设置{len(dims)}项一级指标、{len(result.leaves)}项"
            f"三级指标，满分{points(full)}分，详见附件1。"
        )
        if result.not_applicable:
            na = [result.node(c) for c in result.not_applicable]
            summary += (
                f"其中{_names(na)}指标不适用于本项目，不计入适用分值，适用的"
                f"{len(result.applicable_leaves)}项三级指标分值合计"
                f"{points(result.applicable_weight)}分，"
                "综合得分按“得分 ÷ 适用分值 × 100”折算为百分制。"
            )
        if result is not None:  # e.g. 产出、效益 below 60 % of the applicable points
            summary += "".join(clean_text(w) for w in result.warnings)
    else:
        summary = "评价指标体系待建立。"
    return Section(
        values={
            "purpose": (
                f"通过对{project}开展绩效评价，全面了解项目资金使用和绩效目标实现情况，"
                "总结经验做法，发现存在的问题，提出改进建议，为预算安排和政策调整提供参考。"
            ),
            "scope": (
                f"评价对象为{project}（{facts.fiscal_year}年度），涉及单位：{units}。"
                "评价范围覆盖项目决策、过程、产出和效益全过程。"
            ),
            "principles": "评价遵循科学公正、统筹兼顾、激励约束、公开透明的原则。",
            "indicator_summary": summary,
            "methods": methods,
            "standards": "评价标准主要采用计划标准、行业标准和历史标准，以项目绩效目标为主要依据。",
        }
    )


def _period(start: dt.date, end: dt.date | None) -> str:
    if end is None or end == start:
        return local_date(start)
    if end.year == start.year:
        return f"{local_date(start)}至{end.month}月{end.day}日"
    return f"{local_date(start)}至{local_date(end)}"


def phase_sentence(phase: PhaseFacts) -> str:
    """One phase as the 工作过程 prints it: what, where, who and what was done."""
    kind = PHASE_KINDS.get(phase.kind, clean_text(phase.kind))
    place = clean_text(phase.place).strip()
    who = clean_text(phase.participants).strip().rstrip("。")
    text = clean_text(phase.text).strip()
    head = f"在{place}开展{kind}" if place else f"开展{kind}"
    if who:
        head += f"（参加人员：{who}）"
    return f"{head}。{_sentence(text)}"


def timeline(phases: Sequence[PhaseFacts], today: str = "") -> Section:
    """（四）绩效评价工作过程, from the phases the team recorded, in date order; a sentence
    when none is recorded (never the audit log)."""
    ordered = sorted(phases, key=lambda p: (p.start, p.end or p.start))
    out = [{"date": _period(p.start, p.end), "text": phase_sentence(p)} for p in ordered]
    return Section(values={"timeline": out or [{"date": today, "text": NO_PHASES}]})


# --- 三、综合评价情况及评价结论 ---------------------------------------------------------------


def _mark(value: Any) -> str:
    """A band bound as the field prints it (``Decimal("90")`` → ``90``, ``85.5`` → ``85.5``)."""
    text = f"{Decimal(str(value)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def band_texts(bands: Sequence[tuple[Any, str]] = DEFAULT_BANDS) -> list[str]:
    """Each grade band written as the field writes it.

    >>> band_texts()
    ['优：90分（含）以上', '良：80（含）–90分', '中：60（含）–80分', '差：60分以下']
    """
    ordered = sorted(bands, key=lambda band: Decimal(str(band[0])), reverse=True)
    out = []
    for k, (b, label) in enumerate(ordered):
        if k == 0:
            out.append(f"{label}：{_mark(b)}分（含）以上")
        elif Decimal(str(b)) > 0:
            out.append(f"{label}：{_mark(b)}（含）–{_mark(ordered[k - 1][0])}分")
        else:
            out.append(f"{label}：{_mark(ordered[k - 1][0])}分以下")
    return out


def bands_sentence(bands: Sequence[tuple[Any, str]] = DEFAULT_BANDS) -> str:
    """
    >>> bands_sentence()
    '评价等级划分为：优：90分（含）以上；良：80（含）–90分；中：60（含）–80分；差：60分以下。'
    """
    return f"评价等级划分为：{'；'.join(band_texts(bands))}。"


def conclusion_sentence(result: EngagementResult | None, project: str) -> str:
    """The total in one sentence (with the 不适用 conversion), as the conclusion prints it."""
    if result is None or not result.complete:
        return "评价指标尚未全部评价，综合得分待定。"
    return f"经综合评价，{clean_text(project)}{result.total_sentence_zh()}"


def sample_sentence(result: EngagementResult | None, surveys: Sequence[SurveyFacts]) -> str:
    """The conclusion's caveat when a survey's valid sample is below the size it needs (±5 %,
    95 %): which surveys, their samples, and that the indicator they feed is indicative only.

    Empty when every sample suffices (or there is no survey).
    """
    short = [s for s in surveys if s.respondents < s.required]
    if not short:
        return ""
    named = "、".join(
        f"“{clean_text(s.title)}”（有效样本{s.respondents}份，所需{s.required}份）" for s in short
    )
    leaves = []
    for s in short:
        node = result.get(s.leaf_code) if result is not None and s.leaf_code else None
        if node is not None and f"“{clean_text(node.name)}”" not in leaves:
            leaves.append(f"“{clean_text(node.name)}”")
    fed = f"据此评分的{'、'.join(leaves)}指标得分及" if leaves else ""
    return f"满意度调查{named}样本量不足，{fed}满意度调查结论仅供参考。"


def problems_sentence(problems: Sequence[str]) -> str:
    """The overall conclusion's main problems, numbered (empty when none is recorded)."""
    named = [clean_text(p).strip().rstrip("。") for p in problems if p.strip()]
    if not named:
        return ""
    return "评价发现的主要问题：" + "；".join(f"（{k}）{p}" for k, p in enumerate(named, 1)) + "。"


def dimension_table(result: EngagementResult) -> TableSpec:
    """表3: each applicable 一级指标 with its applicable 分值 and official score; 合计 = the
    applicable 分值 and the sum of the official scores (the sentence's 得分)."""
    rows = [
        [clean_text(d.name), d.printed_weight, d.printed_score, d.printed_rate]
        for d in result.dimensions
    ]
    n = len(rows)
    rows.append(
        [
            "合计",
            points(result.applicable_weight),
            result.printed_raw_total,
            percent(result.raw_rate),
        ]
    )
    return TableSpec(
        headers=[["一级指标", "分值", "得分", "得分率"]],
        rows=rows,
        widths=[5.0, 3.0, 3.0, 3.0],
        sums=[
            SumRule(n, 2, list(range(n)), "表3 得分"),
            SumRule(n, 1, list(range(n)), "表3 分值"),
        ],
        bold_rows=[n],
        numeric_columns=[1, 2, 3],
        name="dimension_table",
    )


def conclusion(
    result: EngagementResult | None,
    facts: EngagementFacts,
    surveys: Sequence[SurveyFacts] = (),
    problems: Sequence[str] = (),
) -> Section:
    """三、综合评价情况及评价结论: total, grade, the sentence, each 一级指标's conclusion, the
    main problems (``problems``: their titles), the caveat of a survey whose sample is
    insufficient, 表3 and its chart."""
    bands = result.settings.bands if result else DEFAULT_BANDS
    values: dict[str, Any] = {
        "total": result.printed_total if result and result.complete else None,
        "grade": result.grade if result and result.complete else None,
        "conclusion": conclusion_sentence(result, facts.project_name)
        + bands_sentence(bands)
        + "".join(dimension_conclusion(result, d) for d in (result.dimensions if result else []))
        + problems_sentence(problems)
        + sample_sentence(result, surveys),
    }
    section = Section(values=values)
    if result is not None and result.dimensions:
        section.tables["dimension_table"] = dimension_table(result)
        # a dimension not yet scored has no bar (the table prints “—”, never a 0.00 % bar)
        rated = [d for d in result.dimensions if d.rate is not None]
        if rated:
            section.charts["dimension_chart"] = Chart(
                "各一级指标得分率",
                [clean_text(d.name) for d in rated],
                {"得分率": [float(d.rate * 100) for d in rated if d.rate is not None]},
            )
    return section


# --- 四、绩效评价指标分析 -------------------------------------------------------------------


def dimension_conclusion(result: EngagementResult, dim: Node, limit: int = 3) -> str:
    """A 一级指标's conclusion: its score and 得分率 and the main deduction points (the leaves
    that lost most, with the points lost), or that every indicator scored full marks."""
    name = clean_text(dim.name)
    if dim.score is None:
        return f"{name}指标分值{dim.printed_weight}分，部分指标尚未评价，得分待定。"
    head = (
        f"{name}指标分值{dim.printed_weight}分，得分{dim.printed_score}分，得分率{dim.printed_rate}"
    )
    lost = sorted(
        (
            n
            for n in _leaves_of(result, dim)
            if n.applicable and n.score is not None and n.score < n.weight
        ),
        key=lambda n: (-(n.weight - (n.score or Decimal(0))), n.code),
    )
    if not lost:
        return f"{head}，各项指标均得满分。"
    named = "、".join(
        f"{clean_text(n.name)}（扣{points(n.weight - n.score)}分）" for n in lost[:limit]
    )
    more = f"等{len(lost)}项指标" if len(lost) > limit else ""
    return f"{head}。主要扣分点：{named}{more}。"


def indicator_analysis(
    result: EngagementResult | None, leaf_facts: Mapping[str, LeafFacts] | None = None
) -> Section:
    """四、绩效评价指标分析: per 一级指标 its conclusion and a paragraph per leaf (评分标准,
    what was found, the basis of a deduction, the score); and what QA needs."""
    leaf_facts = leaf_facts or {}
    dimensions: list[dict[str, Any]] = []
    unscored: list[str] = []
    missing: list[str] = []
    if result is not None:
        for n in result.applicable_leaves:
            if n.status is not LeafStatus.SCORED:
                unscored.append(f"{n.code} {clean_text(n.name)}")
            elif n.score is not None and n.score < n.weight and not leaf_basis(n):
                missing.append(f"{n.code} {clean_text(n.name)}")
        for i, dim in enumerate(result.dimensions):
            texts = [
                leaf_paragraph(k, leaf, leaf_facts.get(leaf.code))
                for k, leaf in enumerate(_leaves_of(result, dim), start=1)
            ]
            number = CHINESE_NUMBERS[i] if i < 10 else str(i + 1)
            dimensions.append(
                {
                    "heading": f"（{number}）{clean_text(dim.name)}情况",
                    "intro": dimension_conclusion(result, dim),
                    "indicators": texts,
                    "name": clean_text(dim.name),
                    "weight": dim.printed_weight,
                    "score": dim.printed_score,
                }
            )
    codes = {clean_text(n.name): n.code for n in (result.leaves if result else [])}
    return Section(
        values={
            "dimensions": dimensions,
            "unscored": unscored,
            "missing_reasons": missing,
            "indicator_codes": codes,  # printed leaf name → code, for the QA (not printed)
        }
    )


# --- 五、六、七 ------------------------------------------------------------------------------


def findings(
    items: Sequence[FindingFacts], recommendations: Sequence[RecommendationFacts]
) -> Section:
    """五 经验及问题, 六 建议, 七 其他: the team's findings, problems numbered, each
    recommendation with the numbers of the problems it answers."""
    problems = [f for f in items if f.kind == "problem"]
    number_of = {p.id: k for k, p in enumerate(problems, start=1)}
    answered = {pid for r in recommendations for pid in r.problem_ids}

    def related(p: FindingFacts) -> str:
        codes = "、".join(p.indicator_codes)
        if p.evidence:
            return f"（相关指标：{codes}；依据：{clean_text(p.evidence)}）"
        return f"（相关指标：{codes}）" if codes else ""

    return Section(
        values={
            "experiences": [
                {"title": clean_text(f.title), "text": clean_text(f.text)}
                for f in items
                if f.kind == "experience"
            ],
            "problems": [
                {
                    "number": number_of[p.id],
                    "title": clean_text(p.title),
                    "text": clean_text(p.text) + related(p),
                    "cause": clean_text(p.cause) or "—",
                    "recommended": p.id in answered,
                }
                for p in problems
            ],
            "recommendations": [
                {
                    "text": clean_text(r.text),
                    "problems": "、".join(
                        str(number_of[q]) for q in r.problem_ids if q in number_of
                    )
                    or "—",
                }
                for r in recommendations
            ],
            "others": [
                {"title": clean_text(f.title), "text": clean_text(f.text)}
                for f in items
                if f.kind == "other"
            ],
            # a section without findings prints a sentence, never an empty heading
            "experiences_none": ""
            if any(f.kind == "experience" for f in items)
            else "本次评价未总结需要推广的主要经验及做法。",
            "problems_none": "" if problems else "本次评价未发现需要说明的问题。",
            "others_none": ""
            if any(f.kind == "other" for f in items)
            else "本次评价无其他需要说明的问题。",
            "recommendations_none": ""
            if recommendations
            else (
                "本次评价未提出建议。" if problems else "本次评价未发现需要整改的问题，不提出建议。"
            ),
        }
    )


# --- 附件 ---------------------------------------------------------------------------------------


def score_table(result: EngagementResult) -> TableSpec:
    """附件1: every leaf in tree order with its official score (or its status); 合计 = the
    applicable 分值 and the sum of official scores; a converted row when indicators are N/A."""
    rows: list[list[str]] = []
    for leaf in result.leaves:
        path = [clean_text(p) for p in leaf.path] or [clean_text(leaf.name)]
        level1 = path[0]
        level2 = path[1] if len(path) > 1 else path[0]
        if leaf.status is LeafStatus.NOT_APPLICABLE:
            rows.append(
                [
                    level1,
                    level2,
                    clean_text(leaf.name),
                    "—",
                    "不适用",
                    "—",
                    f"不适用，原分值{points(leaf.template_weight)}分不计入适用分值",
                ]
            )
            continue
        rows.append(
            [
                level1,
                level2,
                clean_text(leaf.name),
                leaf.printed_weight,
                leaf_score_text(leaf),
                leaf.printed_rate,
                leaf_basis(leaf) or "—",
            ]
        )
    m = len(rows)
    rows.append(
        [
            "合计",
            "",
            "",
            points(result.applicable_weight),
            result.printed_raw_total,
            percent(result.raw_rate),
            "",
        ]
    )
    bold = [m]
    if result.rescaled and result.complete:
        rows.append(
            [
                "折算后综合得分",
                "",
                "",
                "100.00",
                result.printed_total,
                "",
                "得分 ÷ 适用分值 × 100",
            ]
        )
        bold.append(m + 1)
    return TableSpec(
        headers=[["一级指标", "二级指标", "三级指标", "分值", "得分", "得分率", "扣分原因"]],
        rows=rows,
        # 15.6 cm: 分值/得分 hold a bold “100.00”, 得分率 a “100.00%”, 二级指标 four characters,
        # on one line even in a wider fallback font (DejaVu for Times New Roman)
        widths=[1.3, 2.0, 3.0, 1.9, 1.9, 2.3, 3.2],
        merge_columns=[0, 1],
        sums=[
            SumRule(m, 4, list(range(m)), "附件1 指标得分"),
            SumRule(m, 3, list(range(m)), "附件1 分值"),
        ],
        bold_rows=bold,
        numeric_columns=[3, 4, 5],
        name="score_table",
    )


def score_note(result: EngagementResult | None) -> str:
    """The note under 附件1: the conversion sentence when indicators are not applicable, and
    the rounding rule (stated once in the report, here)."""
    if result is None:
        return ""
    note = result.rounding_rule_zh()
    if result.rescaled and result.complete:
        note = result.total_sentence_zh() + note
    return "注：" + note


def expert_table(result: EngagementResult) -> TableSpec | None:
    """附件4: each panel leaf with every expert's score and the official aggregate (= the
    leaf's official score when the leaf takes the panel's value)."""
    panel = result.panel
    if panel is None or not panel.leaves:
        return None
    rows = []
    for leaf in result.leaves:
        scored = panel.leaves.get(leaf.code)
        if scored is None or not leaf.applicable:
            continue
        official = leaf.printed_score if leaf.source is Source.PANEL else points(scored.official)
        rows.append(
            [
                f"{leaf.code} {clean_text(leaf.name)}",
                leaf.printed_weight,
                *[points(scored.by_expert.get(e)) for e in panel.experts],
                official,
            ]
        )
    if not rows:
        return None
    return TableSpec(
        headers=[
            [
                "指标",
                "分值",
                *[clean_text(panel.label(e)) for e in panel.experts],
                "综合得分",
            ]
        ],
        rows=rows,
        numeric_columns=list(range(1, len(panel.experts) + 3)),
        name="expert_table",
    )


def item_label(header: str) -> str:
    """A survey item as the report prints it: the matrix sub-item, or the question without
    its export number.

    >>> item_label("5、您对以下方面的满意程度—环境卫生"), item_label("3、您对服务的满意程度")
    ('环境卫生', '您对服务的满意程度')
    """
    text = clean_text(header.split("—")[-1] if "—" in header else header)
    return re.sub(r"^\s*(?:第\s*\d+\s*题|\d+\s*[、.．])\s*", "", text) or clean_text(header)


def _short(header: str, limit: int = 16) -> str:
    """A chart label: :func:`item_label`, shortened."""
    text = item_label(header)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def survey_annex(result: EngagementResult | None, surveys: Sequence[SurveyFacts]) -> Section:
    """附件3: per survey its paragraph, its item table and its chart; a sentence without any."""
    section = Section()
    out = []
    use = survey_use(result, surveys)
    for s in surveys:
        levels = list(s.levels)
        table = TableSpec(
            headers=[["题目", *levels, "满意率"]],
            rows=[
                [
                    item_label(item.label),
                    *[str(item.counts.get(level, 0)) for level in levels],
                    rate_text(item.rate),
                ]
                for item in s.items
            ]
            + (  # the measure the report states and the leaf takes
                [
                    [
                        f"计分口径：{clean_text(s.measure.label)}",
                        *[""] * len(levels),
                        rate_text(s.measure.rate),
                    ]
                ]
                if s.measure is not None
                else []
            ),
            widths=[5.4, 1.4, 1.2, 1.2, 1.3, 1.6, 1.9],
            numeric_columns=list(range(1, len(levels) + 2)),
            name=f"survey_{s.id}_table",
        )
        section.tables[table.name] = table
        section.charts[f"survey_{s.id}_chart"] = Chart(
            "各题满意度分布（%）",
            [_short(item.label) for item in s.items],
            {
                level: [
                    100 * item.counts.get(level, 0) / item.valid if item.valid else 0
                    for item in s.items
                ]
                for level in levels
            },
            stacked=True,
        )
        out.append(
            {
                "title": clean_text(s.title),
                "text": survey_paragraph(s, _leaf_name(result, s.leaf_code)) + use.get(s.id, ""),
                "table": table.name,
                "chart": f"survey_{s.id}_chart",
            }
        )
    section.values["surveys"] = out
    section.values["survey_none"] = "" if out else "本次评价未开展满意度调查。"
    return section


def annexes(result: EngagementResult | None, surveys: Sequence[SurveyFacts]) -> Section:
    """附件1 (score table and its note), 附件3 (surveys), 附件4 (the panel)."""
    section = survey_annex(result, surveys)
    section.values["score_note"] = score_note(result)
    section.values["expert_text"] = expert_paragraph(result)
    if result is not None:
        section.tables["score_table"] = score_table(result)
        experts = expert_table(result)
        if experts is not None:
            section.tables["expert_table"] = experts
    return section


# --- 摘要 and the English summary ---------------------------------------------------------------


def summary(
    result: EngagementResult | None,
    facts: EngagementFacts,
    values: Mapping[str, Any],
) -> Section:
    """摘要 and 关键发现 (the same sentence as the conclusion), and the outline sections QA
    checks for content. ``values``: the findings section's variables."""
    sentence = conclusion_sentence(result, facts.project_name)
    key = [(result.total_sentence_zh() if result and result.complete else "综合得分待定。")]
    lost = result.lost_points[:3] if result else []
    if lost:
        key.append(
            "失分较多的指标："
            + "；".join(
                f"{clean_text(n.name)}（分值{n.printed_weight}分，得分{n.printed_score}分）"
                for n in lost
            )
            + "。"
        )
    if values.get("problems"):
        key.append("存在的主要问题：" + "；".join(p["title"] for p in values["problems"]) + "。")
    if values.get("recommendations"):
        key.append(
            "主要建议："
            + "；".join(
                f"（{k}）{r['text'].rstrip('。；')}"
                for k, r in enumerate(values["recommendations"], start=1)
            )
            + "。"
        )
    return Section(
        values={
            "summary": (
                f"受{clean_text(facts.client)}委托，{clean_text(facts.firm)}对"
                f"{clean_text(facts.project_name)}开展了绩效评价。{sentence}"
            ),
            "key_findings": key,
            "sections": {
                "项目概况": bool(facts.description),
                "绩效目标": bool(
                    facts.overall_goal or facts.annual_goal or values.get("has_goals")
                ),
                "评价指标分析": bool(result and result.dimensions),
                "主要经验及做法": bool(values.get("experiences")),
                "存在的问题及原因分析": bool(values.get("problems")),
                "有关建议": bool(values.get("recommendations")),
            },
        }
    )


def _dac(name: str) -> str:
    return next((v for k, v in DAC.items() if k in name), name)


def english_summary(
    result: EngagementResult | None,
    values: Mapping[str, Any],
    tables: Mapping[str, TableSpec],
) -> Section:
    """The English summary (OECD DAC headings) over the same printed figures and tables."""
    section = Section()
    funds = tables["funds_table"]
    english = {
        "财政拨款": "Fiscal",
        "中央财政资金": "Central fiscal funds",
        "省级财政资金": "Provincial fiscal funds",
        "市级财政资金": "Municipal fiscal funds",
        "县级财政资金": "County fiscal funds",
        "上年结转": "Carry-over",
        "单位自筹": "Self-raised",
        "社会资金": "Private funds",
        "其他资金": "Other",
        "合计": "Total",
    }
    section.tables["en.funds_table"] = TableSpec(
        headers=[
            [
                "Source",
                "Initial budget",
                "Adjusted budget",
                "Funds received",
                "Spent",
                "Funding rate",
                "Execution rate",
            ]
        ],
        rows=[[english.get(r[0], r[0]), *r[1:]] for r in funds.rows],
        widths=funds.widths,
        sums=funds.sums,
        bold_rows=funds.bold_rows,
        numeric_columns=funds.numeric_columns,
        name="en.funds_table",
    )
    if "dimension_table" in tables:
        dim = tables["dimension_table"]
        section.tables["en.dimension_table"] = TableSpec(
            headers=[["Dimension", "Points", "Score", "Score rate"]],
            rows=[[_dac(r[0]) if r[0] != "合计" else "Total", *r[1:]] for r in dim.rows],
            widths=dim.widths,
            sums=dim.sums,
            bold_rows=dim.bold_rows,
            numeric_columns=dim.numeric_columns,
            name="en.dimension_table",
        )
    complete = result is not None and result.complete
    grade = result.grade if result else None
    grade_en = GRADE_EN.get(grade or "", "not yet graded")
    if complete and result is not None and result.rescaled:
        text = (
            f"Excluding the indicators that do not apply, the project scored "
            f"{result.printed_raw_total} of {points(result.applicable_weight)} applicable points, "
            f"converted to {result.printed_total} of 100, graded “{grade_en}” ({grade})."
        )
    elif complete and result is not None:
        text = (
            f"The project scored {result.printed_total} of 100 points, "
            f"graded “{grade_en}” ({grade})."
        )
    else:
        text = "The indicator system is not yet completely scored."
    panel = result.panel if result else None
    methods = ["Document review of approvals, fund flows, contracts and acceptance records."]
    if panel is not None and panel.leaves:
        methods.append(
            f"Independent scoring by {len(panel.experts)} experts of {len(panel.leaves)} "
            "indicators (annex 4 of the Chinese report)."
        )
    if values.get("surveys"):
        methods.append(
            f"{len(values['surveys'])} satisfaction survey(s) (annex 3 of the Chinese report)."
        )
    section.values["en"] = {
        "draft_mark": (
            "DRAFT FOR COMMENTS — signed off by the reviewers; the issued report is final"
            if str(values.get("draft_mark", "")).startswith("征求意见稿")
            else "DRAFT — not reviewed, not for citation"
            if values.get("draft_mark")
            else ""
        ),
        "report_no": (
            "(assigned on issue)"
            if str(values.get("report_no", "")).startswith("（")
            else values.get("report_no")
        ),
        "title": f"Performance evaluation of {values['project_name']} — summary",
        "summary": text,
        "project": (
            f"Fiscal year {values['fiscal_year']}. Commissioned by {values['client']}; "
            f"evaluated by {values['firm']}."
        ),
        "methods": methods,
        "dimensions": [
            {
                "heading": _dac(d.name),
                "text": (
                    f"{d.printed_score} of {d.printed_weight} points."
                    if d.score is not None
                    else f"Not yet completely scored ({d.printed_weight} points)."
                ),
            }
            for d in (result.dimensions if result else [])
        ],
        "problems": [f"Problem {p['number']}: {p['title']}" for p in values.get("problems", [])]
        or ["None recorded."],
        "recommendations": [r["text"] for r in values.get("recommendations", [])]
        or ["None recorded."],
    }
    return section


# --- the whole report -------------------------------------------------------------------------


def report(
    result: EngagementResult | None,
    facts: EngagementFacts,
    *,
    budget: BudgetTable,
    goals: Sequence[GoalFacts] = (),
    findings_: Sequence[FindingFacts] = (),
    recommendations: Sequence[RecommendationFacts] = (),
    surveys: Sequence[SurveyFacts] = (),
    phases: Sequence[PhaseFacts] = (),
    weighting: WeightingFacts | None = None,
    leaf_facts: Mapping[str, LeafFacts] | None = None,
) -> ReportContext:
    """Every section, merged into one context (the order of the outline)."""
    context = ReportContext(values={})

    def add(section: Section) -> None:
        context.values.update(section.values)
        context.tables.update(section.tables)
        context.charts.update(section.charts)

    add(cover(facts))
    add(framing(result, facts, budget))
    add(basic_information(facts, budget, goals))
    add(work_carried_out(result, facts, surveys, weighting))
    add(timeline(phases, local_date(facts.report_date)))
    problems = [f.title for f in findings_ if f.kind == "problem"]
    add(conclusion(result, facts, surveys, problems))
    add(indicator_analysis(result, leaf_facts))
    add(findings(findings_, recommendations))
    add(annexes(result, surveys))
    add(summary(result, facts, {**context.values, "has_goals": bool(goals)}))
    add(english_summary(result, context.values, context.tables))
    add(chart_captions(context))
    return context


def chart_captions(context: ReportContext) -> Section:
    """图1, 图2, …: each chart the report prints, numbered in the order it appears (表3's
    chart, then each survey's) with its caption."""
    number = 0
    values: dict[str, Any] = {"dimension_chart_caption": ""}
    if "dimension_chart" in context.charts:
        number += 1
        values["dimension_chart_caption"] = f"图{number} 各一级指标得分率"
    surveys = []
    for item in context.values.get("surveys", []):
        caption = ""
        if item.get("chart") in context.charts:
            number += 1
            caption = f"图{number} {item['title']}各题满意度分布"
        surveys.append({**item, "chart_caption": caption})
    values["surveys"] = surveys
    return Section(values=values)
