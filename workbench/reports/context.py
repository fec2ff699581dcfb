"""The report context: everything a report template prints, gathered from the engagement.

No Flask: a session and an engagement in, plain data out (strings already formatted for
print, tables as :class:`~workbench.core.reportqa.TableSpec`, chart data as numbers), so the
same context feeds every template, the QA checks and a notebook. Variables are documented in
``docs/report-templates.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from workbench.audit.models import AuditEntry
from workbench.core.agreement import TooFewRatings, kendall_w
from workbench.core.budget import FundSource, rates_sentence
from workbench.core.goals import NATURE_SYMBOLS, GoalNature, GoalStatus, goal_status
from workbench.core.numbers import apportion, round_half_up
from workbench.core.panel import wide
from workbench.core.reportqa import SumRule, TableSpec
from workbench.core.scoring import DEFAULT_BANDS, grade
from workbench.engagements.models import Engagement
from workbench.engagements.services import budget_of
from workbench.reports.docxstyle import clean_text
from workbench.reports.models import Finding, Recommendation
from workbench.scoring.services import budget_for

SOURCE_ZH = {
    FundSource.FISCAL: "财政拨款",
    FundSource.CARRYOVER: "上年结转",
    FundSource.OTHER: "其他资金",
}
CHINESE_NUMBERS = "一二三四五六七八九十"
AGGREGATION_ZH = {
    "mean": "算术平均",
    "trimmed": "去掉一个最高分和一个最低分后的平均（专家不少于规定人数时）",
    "median": "中位数",
    "weighted": "按专家权重加权平均",
}
TIMELINE_ACTIONS = {
    "engagement.create": "接受委托，成立绩效评价工作组",
    "indicators.instantiate": "研究制定评价指标体系",
    "goals.import": "收集整理项目绩效目标",
    "panel.invite": "组建评审专家组",
    "panel.submit": "专家独立评分",
    "survey.create": "设计满意度调查问卷",
    "survey.publish": "发放满意度调查问卷",
    "survey.import": "汇总满意度调查问卷",
}
STATE_ZH = {
    "design": "进入方案设计阶段",
    "fieldwork": "开展现场调研和数据采集",
    "expert_scoring": "组织专家评分",
    "drafting": "撰写评价报告",
    "review": "评价报告提交内部复核",
    "issued": "出具评价报告",
}


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{round_half_up(value):,.2f}"


def pct(value: Decimal | float | None) -> str:
    if value is None:
        return "—"
    return f"{round_half_up(Decimal(str(value)) * 100)}%"


def pts(value: Decimal | None) -> str:
    return "—" if value is None else f"{round_half_up(value):.2f}"


def local_date(value: dt.datetime | dt.date, zone: str = "Asia/Shanghai") -> str:
    from zoneinfo import ZoneInfo

    if isinstance(value, dt.datetime):
        value = value.astimezone(ZoneInfo(zone)).date() if value.tzinfo else value.date()
    return f"{value.year}年{value.month}月{value.day}日"


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


def _funds(engagement: Engagement) -> tuple[TableSpec, str]:
    session = object_session(engagement)
    # the denominators the scores use: the indicator system's declared ones win
    table = budget_for(session, engagement) if session is not None else budget_of(engagement)
    columns = ("initial", "adjusted", "available", "executed")
    exact = {c: [getattr(r.figures, c) for r in table.rows] for c in columns}
    printed: dict[str, list[str]] = {}
    for c in columns:
        known = [v for v in exact[c] if v is not None]
        total = getattr(table.total.figures, c)
        if total is None:
            printed[c] = [money(v) for v in exact[c]] + ["—"]
            continue
        shares = iter(apportion(known, round_half_up(total)))
        printed[c] = [("—" if v is None else f"{next(shares):,.2f}") for v in exact[c]] + [
            money(total)
        ]
    rows = []
    for i, r in enumerate(table.rows):
        rows.append(
            [
                SOURCE_ZH.get(r.figures.source, "") if r.figures.source else "",
                *[printed[c][i] for c in columns],
                pct(r.funding_rate),
                pct(r.execution_rate),
            ]
        )
    rows.append(
        [
            "合计",
            *[printed[c][-1] for c in columns],
            pct(table.total.funding_rate),
            pct(table.total.execution_rate),
        ]
    )
    n = len(table.rows)
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
    total = table.total
    sources = "、".join(
        SOURCE_ZH[r.figures.source] for r in table.rows if r.figures.source and r.figures.adjusted
    )
    text = (
        f"项目资金来源包括{sources}。"
        f"年初预算{money(total.figures.initial)}万元，调整后预算{money(total.figures.adjusted)}万元，"
        f"实际到位{money(total.figures.available)}万元，资金到位率{pct(total.funding_rate)}；"
        f"实际执行{money(total.figures.executed)}万元，预算执行率{pct(total.execution_rate)}。"
        f"计算口径：{rates_sentence(table)}"
    )
    return spec, text


def _goals(engagement: Engagement) -> TableSpec:
    status_zh = {GoalStatus.MET: "已完成", GoalStatus.NOT_MET: "未完成"}
    rows = []
    for g in sorted(engagement.goals, key=lambda g: g.position):
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
        name="goals_table",
    )


def _short(header: str, limit: int = 16) -> str:
    """A chart label: the matrix item, or the question without its number, shortened."""
    text = clean_text(header.split("—")[-1] if "—" in header else header)
    text = re.sub(r"^\s*\d+\s*[、.．]\s*", "", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_context(
    session: Session,
    engagement: Engagement,
    *,
    report_no: str = "",
    when: dt.date | None = None,
    draft: bool = True,
    zone: str = "Asia/Shanghai",
) -> ReportContext:
    """Gather the report of ``engagement`` as it stands now."""
    from workbench.experts import services as panel
    from workbench.scoring import services as scoring
    from workbench.surveys import services as survey_services
    from workbench.surveys.models import Survey

    if when is None:
        from zoneinfo import ZoneInfo

        when = dt.datetime.now(ZoneInfo(zone)).date()  # the date people read in Beijing
    values: dict[str, Any] = {}
    tables: dict[str, TableSpec] = {}
    charts: dict[str, Chart] = {}
    from workbench.accounts.models import User

    creator = session.get(User, engagement.created_by_id) if engagement.created_by_id else None
    firm = creator.organisation.name if creator and creator.organisation else "评价机构"
    kind_department = engagement.kind.value == "department"
    project = clean_text(engagement.project_name)
    engagement_title = clean_text(engagement.title)
    values.update(
        title=(
            f"{engagement_title}报告"
            if engagement_title.endswith("评价")
            else f"{project}{'部门整体支出' if kind_department else ''}绩效评价报告"
        ),
        project_name=project,
        client=clean_text(engagement.client.name),
        firm=clean_text(firm),
        evaluated_units="、".join(clean_text(u.name) for u in engagement.evaluated_units) or "—",
        report_no=clean_text(report_no) or "（出具时编号）",
        report_date=local_date(when),
        report_date_en=when.strftime("%d %B %Y"),
        fiscal_year=engagement.fiscal_year,
        draft_mark="征求意见稿 / 草稿 — 未经复核签发，不作正式结论使用" if draft else "",
        overview=clean_text(engagement.description) or "（项目概况待补充）",
        overall_goal=clean_text(engagement.overall_goal) or "—",
        annual_goal=clean_text(engagement.annual_goal) or "—",
    )
    tables["funds_table"], values["funds_text"] = _funds(engagement)
    tables["goals_table"] = _goals(engagement)
    tables["goals_table_annex"] = _goals(engagement)
    tables["goals_table_annex"].name = "goals_table_annex"

    # --- scores --------------------------------------------------------------------------
    scores = scoring.compute(session, engagement)
    system = scoring.system_of(session, engagement)
    unscored: list[str] = []
    missing_reasons: list[str] = []
    indicator_codes: dict[str, str] = {}  # printed leaf name → code, for the QA (not printed)
    dimensions: list[dict[str, Any]] = []
    score_rows: list[list[str]] = []
    dim_rows: list[list[str]] = []
    total = None
    grade_label = None
    if scores is not None:
        result, printed = scores.result, scores.printed
        nodes = {n.code: n for n in result.nodes}
        children: dict[str | None, list[Any]] = {}
        for n in result.nodes:
            children.setdefault(n.parent, []).append(n)
        raw_printed = None
        if result.complete and result.total is not None:
            total = pts(result.total)
            grade_label = grade(round_half_up(result.total))
            raw_printed = pts(result.raw_total)  # = the sum of the printed dimension scores
        top = [n for n in children.get(None, []) if n.applicable]
        for i, dim in enumerate(top):
            dim_rows.append(
                [
                    dim.name,
                    pts(dim.weight),
                    pts(printed.get(dim.code)) if dim.code in printed else "—",
                    pct(printed[dim.code] / dim.weight)
                    if dim.code in printed and dim.weight
                    else "—",
                ]
            )
            leaves: list[Any] = []

            def walk(code: str, path: list[str], out: list[Any]) -> None:
                for kid in children.get(code, []):
                    if not kid.applicable:
                        continue
                    if kid.is_leaf:
                        out.append((kid, path))
                    else:
                        walk(kid.code, [*path, kid.name], out)

            walk(dim.code, [], leaves)
            texts = []
            for k, (leaf, path) in enumerate(leaves, start=1):
                shown = printed.get(leaf.code)
                indicator_codes[leaf.name] = leaf.code
                data = scores.inputs.get(leaf.code)
                # the engine's explanation, then the evaluator's own 评分理由
                reason = clean_text(leaf.basis_zh or (data.reason if data else ""))
                evidence = (
                    clean_text(data.evidence) if data and getattr(data, "evidence", "") else ""
                )
                if leaf.score is None:
                    unscored.append(f"{leaf.code} {leaf.name}")
                elif leaf.score < leaf.weight and not reason:
                    missing_reasons.append(f"{leaf.code} {leaf.name}")
                texts.append(
                    f"{k}. {leaf.name}（分值{pts(leaf.weight)}分，得分{pts(shown)}分，得分率"
                    f"{pct(shown / leaf.weight) if shown is not None and leaf.weight else '—'}）。"
                    + (reason or ("该指标尚未评价。" if leaf.score is None else "该指标得满分。"))
                    + (f"评价依据：{evidence}。" if evidence else "")
                )
                score_rows.append(
                    [
                        dim.name,
                        path[0] if path else dim.name,
                        leaf.name,
                        pts(leaf.weight),
                        pts(shown),
                        pct(shown / leaf.weight) if shown is not None and leaf.weight else "—",
                        reason or "—",
                    ]
                )
            heading = f"（{CHINESE_NUMBERS[i] if i < 10 else i + 1}）{dim.name}情况"
            got = printed.get(dim.code)
            dimensions.append(
                {
                    "heading": heading,
                    "intro": f"{dim.name}指标分值{pts(dim.weight)}分，得分{pts(got)}分，得分率"
                    f"{pct(got / dim.weight) if got is not None and dim.weight else '—'}。",
                    "indicators": texts,
                    "name": dim.name,
                    "weight": pts(dim.weight),
                    "score": pts(got),
                }
            )
        n = len(dim_rows)
        weight_sum = sum((d.weight for d in top), Decimal(0))
        dim_rows.append(
            [
                "合计",
                pts(weight_sum),
                raw_printed or "—",
                pct(Decimal(raw_printed) / weight_sum) if raw_printed and weight_sum else "—",
            ]
        )
        charts["dimension_chart"] = Chart(
            "各一级指标得分率",
            [d.name for d in top],
            {
                "得分率": [
                    float(printed[d.code] / d.weight * 100)
                    if d.code in printed and d.weight
                    else 0.0
                    for d in top
                ]
            },
        )
        m = len(score_rows)
        score_rows.append(
            [
                "合计",
                "",
                "",
                pts(weight_sum),
                raw_printed or "—",
                pct(Decimal(raw_printed) / weight_sum) if raw_printed and weight_sum else "—",
                "",
            ]
        )
        leaf_total_rule = SumRule(m, 4, list(range(m)), "附件1 指标得分")
        tables["score_table"] = TableSpec(
            headers=[["一级指标", "二级指标", "三级指标", "分值", "得分", "得分率", "扣分原因"]],
            rows=score_rows,
            widths=[1.4, 1.8, 3.0, 1.6, 1.6, 2.0, 4.2],
            merge_columns=[0, 1],
            sums=[leaf_total_rule, SumRule(m, 3, list(range(m)), "附件1 分值")],
            bold_rows=[m],
            numeric_columns=[3, 4, 5],
            name="score_table",
        )
        tables["dimension_table"] = TableSpec(
            headers=[["一级指标", "分值", "得分", "得分率"]],
            rows=dim_rows,
            widths=[5.0, 3.0, 3.0, 3.0],
            sums=[
                SumRule(n, 2, list(range(n)), "表3 得分"),
                SumRule(n, 1, list(range(n)), "表3 分值"),
            ],
            bold_rows=[n],
            numeric_columns=[1, 2, 3],
            name="dimension_table",
        )
        del nodes
    values["total"] = total
    values["grade"] = grade_label
    values["unscored"] = unscored
    values["missing_reasons"] = missing_reasons
    values["indicator_codes"] = indicator_codes
    values["dimensions"] = dimensions
    bands = "、".join(
        f"{label}（{b}分及以上）" if b else f"{label}（{DEFAULT_BANDS[k - 1][0]}分以下）"
        for k, (b, label) in enumerate(DEFAULT_BANDS)
    )
    values["conclusion"] = (
        f"经综合评价，{project}绩效评价得分为{total}分，评价等级为“{grade_label}”。"
        if total
        else "评价指标尚未全部评分，综合得分待定。"
    ) + f"评价等级划分为：{bands}。"

    # --- findings ------------------------------------------------------------------------
    findings = session.scalars(
        sa.select(Finding)
        .where(Finding.engagement_id == engagement.id)
        .order_by(Finding.position, Finding.id)
    ).all()
    recs = session.scalars(
        sa.select(Recommendation)
        .where(Recommendation.engagement_id == engagement.id)
        .order_by(Recommendation.position, Recommendation.id)
    ).all()
    problems = [f for f in findings if f.kind == "problem"]
    number_of = {p.id: k for k, p in enumerate(problems, start=1)}
    values["experiences"] = [
        {"title": clean_text(f.title), "text": clean_text(f.text)}
        for f in findings
        if f.kind == "experience"
    ]
    values["problems"] = [
        {
            "number": number_of[p.id],
            "title": clean_text(p.title),
            "text": clean_text(p.text)
            + (
                f"（相关指标：{'、'.join(p.indicator_codes)}；依据：{clean_text(p.evidence)}）"
                if p.evidence
                else (f"（相关指标：{'、'.join(p.indicator_codes)}）" if p.indicator_codes else "")
            ),
            "cause": clean_text(p.cause) or "—",
            "recommended": any(p.id in {q.id for q in r.problems} for r in recs),
        }
        for p in problems
    ]
    values["recommendations"] = [
        {
            "text": clean_text(r.text),
            "problems": "、".join(str(number_of[q.id]) for q in r.problems if q.id in number_of)
            or "—",
        }
        for r in recs
    ]
    values["others"] = [
        {"title": clean_text(f.title), "text": clean_text(f.text)}
        for f in findings
        if f.kind == "other"
    ] or [{"title": "无", "text": "本次评价无其他需要说明的问题。"}]

    # --- methods, experts, surveys ----------------------------------------------------------
    methods = ["（1）资料核查：查阅项目立项、资金拨付、合同、验收等资料，核实绩效目标完成情况。"]
    seats = panel.panel_members(session, engagement)
    members = [m for m in seats if not m.recused]
    frame = panel.panel_frame(session, engagement, members=seats)  # the seats loaded once
    expert_rows: list[list[str]] = []
    values["expert_text"] = "本次评价未组织专家评分。"
    if not frame.empty and scores is not None:  # scores: the system exists
        settings = panel.settings_of(session, engagement)
        template = scores.template
        matrix = wide(frame)
        names = {m.expert_id: m.expert.name for m in members}
        maxima = pd.Series({c: float(template.find(c).weight) for c in matrix.index})
        agreement = ""
        try:
            w = kendall_w(matrix.div(maxima, axis=0))
            agreement = (
                f"专家评分的肯德尔和谐系数 W = {w.w:.3f}（χ² = {w.chi2:.2f}，p = {w.pvalue:.3f}）"
            )
        except TooFewRatings:
            agreement = "评价指标或专家人数不足，未计算肯德尔和谐系数"
        aggregated = panel.panel_scores(session, engagement)
        for code in matrix.index:
            ind = template.find(code)
            row = [f"{code} {ind.name}", pts(ind.weight)]
            row += [
                pts(Decimal(str(matrix.at[code, e]))) if pd.notna(matrix.at[code, e]) else "—"
                for e in matrix.columns
            ]
            row.append(pts(aggregated.get(code)))
            expert_rows.append(row)
        tables["expert_table"] = TableSpec(
            headers=[["指标", "分值", *[names.get(e, str(e)) for e in matrix.columns], "综合得分"]],
            rows=expert_rows,
            numeric_columns=list(range(1, len(matrix.columns) + 3)),
            name="expert_table",
        )
        rule = AGGREGATION_ZH.get(settings.aggregation.value, settings.aggregation.value)
        values["expert_text"] = (
            f"评价组邀请{len(members)}名专家对{len(matrix.index)}项指标独立评分，综合得分采用{rule}。{agreement}。"
        )
        methods.append(f"（2）专家评议：{values['expert_text']}")
    survey_list = []
    surveys = session.scalars(
        sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
    ).all()
    for s in surveys:
        rows_s = survey_services.screened(s)
        res = survey_services.results(s, rows=rows_s)
        yld = survey_services.survey_yield(session, s, rows_s)
        if res.overall is None or res.overall.rate is None:
            continue
        rate = res.overall.rate
        # the measure the survey's leaf is scored on (the same function feeds the score)
        measure = survey_services.measure_of(s, res)
        measure_label = clean_text(measure.label)  # a group's name is the respondents' text
        leaf_name = ""
        if s.leaf_code and scores is not None:
            try:
                leaf_name = scores.template.find(s.leaf_code).name
            except KeyError:
                leaf_name = ""
        handed = f"发放问卷{yld.distributed}份，" if yld.distributed is not None else ""
        text = (
            f"调查对象为{clean_text(s.respondent_group) or '相关群体'}，"
            f"{handed}回收问卷{yld.returned}份，经甄别剔除无效问卷"
            f"{yld.returned - yld.valid}份，有效问卷{yld.valid}份，有效率{pct(yld.valid_rate)}。"
            f"{measure_label}为{pct(measure.rate)}（95%置信区间{pct(measure.ci_low)}～"
            f"{pct(measure.ci_high)}，{measure.respondents}名受访者）"
            + (f"，计入“{clean_text(leaf_name)}”指标评分" if leaf_name else "")
            + (f"，满意度指数{res.overall.index:.1f}分" if measure.kind.value == "rate" else "")
            + f"。按±5%误差、95%置信度测算所需有效样本{res.required}份，"
            + (
                "样本量满足要求。"
                if (rate.respondents or 0) >= res.required
                else f"实际有效样本{rate.respondents}份，样本量不足，结论仅供参考。"
            )
        )
        levels = list(survey_services.LEVELS[:-1])
        item_rows = []
        for col, item in res.items.items():
            item_rows.append(
                [
                    clean_text(col),
                    *[str(item.counts.get(level, 0)) for level in levels],
                    pct(item.rate.rate) if item.rate else "—",
                ]
            )
        item_rows.append(  # the measure the report states and the leaf takes
            [f"计分口径：{measure_label}", *[""] * len(levels), pct(measure.rate)]
        )
        table = TableSpec(
            headers=[["题目", *levels, "满意率"]],
            rows=item_rows,
            widths=[5.4, 1.4, 1.2, 1.2, 1.3, 1.6, 1.9],
            numeric_columns=list(range(1, len(levels) + 2)),
            name=f"survey_{s.id}_table",
        )
        tables[table.name] = table
        charts[f"survey_{s.id}_chart"] = Chart(
            "各题满意度分布（%）",
            [_short(c) for c in res.items],
            {
                level: [
                    100 * item.counts.get(level, 0) / item.valid if item.valid else 0
                    for item in res.items.values()
                ]
                for level in levels
            },
            stacked=True,
        )
        survey_list.append(
            {
                "title": clean_text(s.title),
                "text": text,
                "table": table.name,
                "chart": f"survey_{s.id}_chart",
            }
        )
        methods.append(f"（{len(methods) + 1}）问卷调查：{clean_text(s.title)}，{text}")
    feeding: dict[str, list[Survey]] = {}
    for s in surveys:
        if s.leaf_code:
            feeding.setdefault(s.leaf_code, []).append(s)
    pooled = {code for code, fed in feeding.items() if len(fed) > 1}
    if survey_list and scores is not None and pooled:  # the rates only when some are pooled
        for code, rate_value in survey_services.survey_rates(session, engagement).items():
            if code in pooled:  # a pooled value appears nowhere else: say how it was made
                survey_list[-1]["text"] += (
                    f"{'、'.join(clean_text(s.title) for s in feeding[code])}的有效回答合并计算，"
                    f"计入“{scores.template.find(code).name}”指标的满意率为{pct(rate_value)}。"
                )
    values["surveys"] = survey_list
    values["survey_none"] = "" if survey_list else "本次评价未开展满意度调查。"
    if system is not None:
        notes = system.weight_notes or {}
        ahp = [
            n
            for n in notes.values()
            if isinstance(n, dict) and n.get("method") in ("ahp", "group_ahp")
        ]
        if ahp:
            crs = [float(n["cr"]) for n in ahp if n.get("cr") is not None]
            methods.append(
                f"（{len(methods) + 1}）指标权重采用层次分析法确定"
                + (
                    f"，判断矩阵一致性比率 CR 最大为{max(crs):.3f}（小于0.10，通过一致性检验）。"
                    if crs
                    else "。"
                )
            )
    values["methods"] = methods
    leaves_n = sum(1 for r in score_rows if r[0] != "合计")
    dimension_names = "、".join(d["name"] for d in dimensions)
    values["indicator_summary"] = (
        f"评价指标体系按照“{dimension_names}”设置{len(dimensions)}项一级指标、"
        f"{leaves_n}项三级指标，满分100分，详见附件1。"
        if dimensions
        else "评价指标体系待建立。"
    )
    values["purpose"] = (
        f"通过对{project}开展绩效评价，全面了解项目资金使用和绩效目标实现情况，总结经验做法，"
        "发现存在的问题，提出改进建议，为预算安排和政策调整提供参考。"
    )
    values["scope"] = (
        f"评价对象为{project}（{engagement.fiscal_year}年度），涉及单位：{values['evaluated_units']}。"
        f"评价范围覆盖项目决策、过程、产出和效益全过程。"
    )
    values["principles"] = "评价遵循科学公正、统筹兼顾、激励约束、公开透明的原则。"
    values["standards"] = "评价标准主要采用计划标准、行业标准和历史标准，以项目绩效目标为主要依据。"

    # --- timeline from the recorded events ----------------------------------------------------
    entries = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.engagement_id == engagement.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    timeline: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for e in entries:
        text = TIMELINE_ACTIONS.get(e.action)
        if e.action == "engagement.transition":
            state = (e.changes or {}).get("state", {}).get("after")
            text = STATE_ZH.get(str(state))
        if not text:
            continue
        day = local_date(e.at, zone)
        if (day, text) in seen:
            continue
        seen.add((day, text))
        timeline.append({"date": day, "text": text})
    values["timeline"] = timeline or [{"date": local_date(when), "text": "开展评价工作"}]

    # --- summary and QA sections ----------------------------------------------------------
    key = [f"综合得分{total}分，评价等级“{grade_label}”。" if total else "综合得分待定。"]
    if values["problems"]:
        key.append("存在的主要问题：" + "；".join(p["title"] for p in values["problems"]) + "。")
    if values["recommendations"]:
        key.append(f"针对上述问题提出{len(values['recommendations'])}条建议。")
    values["key_findings"] = key
    values["summary"] = (
        f"受{values['client']}委托，{values['firm']}对{project}开展了绩效评价。"
        + values["conclusion"]
    )
    values["sections"] = {
        "项目概况": bool(engagement.description),
        "绩效目标": bool(engagement.overall_goal or engagement.annual_goal or engagement.goals),
        "评价指标分析": bool(dimensions),
        "主要经验及做法": bool(values["experiences"]),
        "存在的问题及原因分析": bool(values["problems"]),
        "有关建议": bool(values["recommendations"]),
    }
    values["en"] = _english(values, tables, dimensions)
    return ReportContext(values=values, tables=tables, charts=charts)


def _english(
    values: dict[str, Any], tables: dict[str, TableSpec], dimensions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The English summary's variables (OECD DAC headings over the same numbers)."""
    dac = {
        "决策": "Relevance and design",
        "过程": "Efficiency of implementation",
        "产出": "Effectiveness (outputs)",
        "效益": "Impact and sustainability",
    }
    funds = tables["funds_table"]
    en_funds = TableSpec(
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
        rows=[
            [
                {
                    "财政拨款": "Fiscal",
                    "上年结转": "Carry-over",
                    "其他资金": "Other",
                    "合计": "Total",
                }.get(r[0], r[0]),
                *r[1:],
            ]
            for r in funds.rows
        ],
        widths=funds.widths,
        sums=funds.sums,
        bold_rows=funds.bold_rows,
        numeric_columns=funds.numeric_columns,
        name="en.funds_table",
    )
    tables["en.funds_table"] = en_funds
    if "dimension_table" in tables:
        dim = tables["dimension_table"]
        tables["en.dimension_table"] = TableSpec(
            headers=[["Dimension", "Points", "Score", "Score rate"]],
            rows=[
                [
                    next((v for k, v in dac.items() if k in r[0]), r[0])
                    if r[0] != "合计"
                    else "Total",
                    *r[1:],
                ]
                for r in dim.rows
            ],
            widths=dim.widths,
            sums=dim.sums,
            bold_rows=dim.bold_rows,
            numeric_columns=dim.numeric_columns,
            name="en.dimension_table",
        )
    total, grade_label = values.get("total"), values.get("grade")
    grade_en = {"优": "excellent", "良": "good", "中": "fair", "差": "poor"}.get(
        grade_label or "", "not yet graded"
    )
    return {
        "draft_mark": "DRAFT — not reviewed, not for citation" if values.get("draft_mark") else "",
        "report_no": (
            "(assigned on issue)"
            if str(values.get("report_no", "")).startswith("（")
            else values.get("report_no")
        ),
        "title": f"Performance evaluation of {values['project_name']} — summary",
        "summary": (
            f"The project scored {total} of 100 points, graded “{grade_en}” ({grade_label})."
            if total
            else "The indicator system is not yet completely scored."
        ),
        "project": (
            f"Fiscal year {values['fiscal_year']}. Commissioned by {values['client']}; "
            f"evaluated by {values['firm']}."
        ),
        "methods": [
            "Document review of approvals, fund flows, contracts and acceptance records.",
            "Independent expert scoring and satisfaction surveys where recorded "
            "(see the Chinese report, annexes 3–4).",
        ],
        "dimensions": [
            {
                "heading": next((v for k, v in dac.items() if k in d["name"]), d["name"]),
                "text": f"{d['score']} of {d['weight']} points.",
            }
            for d in dimensions
        ],
        "problems": [f"Problem {p['number']}: {p['title']}" for p in values["problems"]]
        or ["None recorded."],
        "recommendations": [r["text"] for r in values["recommendations"]] or ["None recorded."],
    }


def report_tables(context: ReportContext) -> list[TableSpec]:
    return list(context.tables.values())


def grade_of(total: Decimal) -> str:
    return grade(total)
