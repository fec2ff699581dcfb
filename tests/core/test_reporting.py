"""The report's sections as pure functions of an evaluated result and plain data."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest

from workbench.core import reporting
from workbench.core.budget import BudgetFigures, FundSource, budget_table
from workbench.core.evaluation import (
    EngagementResult,
    EvaluationInputs,
    PanelInput,
    Settings,
    Source,
    evaluate,
)
from workbench.core.goals import GoalNature
from workbench.core.indicators import parse_template
from workbench.core.reportqa import check_sums, run_checks
from workbench.core.scoring import LeafInput, grade

D = Decimal
TEMPLATE = parse_template(
    {
        "code": "t",
        "name": "T",
        "indicators": [
            {
                "code": "A",
                "name": "决策",
                "weight": 20,
                "children": [
                    {"code": "A1", "name": "立项规范", "weight": 10, "method": {"type": "manual"}},
                    {"code": "A2", "name": "目标明确", "weight": 10, "method": {"type": "manual"}},
                ],
            },
            {
                "code": "B",
                "name": "产出",
                "weight": 40,
                "children": [
                    {"code": "B1", "name": "产出质量", "weight": 20, "method": {"type": "expert"}},
                    {"code": "B2", "name": "产出数量", "weight": 20, "method": {"type": "manual"}},
                ],
            },
            {
                "code": "C",
                "name": "效益",
                "weight": 40,
                "children": [
                    {
                        "code": "C1",
                        "name": "满意度",
                        "weight": 20,
                        "method": {"type": "survey", "target": "0.9"},
                    },
                    {
                        "code": "C2",
                        "name": "可持续影响",
                        "weight": 20,
                        "method": {"type": "expert"},
                    },
                ],
            },
        ],
    }
)
NO_DRAWS = Settings(sensitivity_draws=0)
FACTS = reporting.EngagementFacts(
    title="某项目绩效评价",
    project_name="某项目",
    client="某财政局",
    firm="某评价机构",
    evaluated_units=("某局",),
    fiscal_year=2025,
    description="项目概况。",
    overall_goal="总体目标。",
    report_date=dt.date(2026, 3, 1),
)


def panel(*codes: str) -> PanelInput:
    """Three experts: 3.5, 3.0, 3.5 out of the leaf's weight scaled (mean = x.333…)."""
    rows = []
    for code in codes:
        for expert, score in ((1, 17.5), (2, 17.0), (3, 17.5)):
            rows.append({"indicator_code": code, "expert_id": expert, "raw_score": score})
    return PanelInput(
        frame=pd.DataFrame(rows), expert_names={1: "周专家", 2: "陈专家", 3: "刘专家"}
    )


def full(**overrides) -> EngagementResult:
    """Everything scored; C1 from a survey rate, B1 and C2 from the panel."""
    entered = {
        "A1": LeafInput(score=D(10), reason="立项资料齐全，程序规范"),  # full marks, a reason
        "A2": LeafInput(score=D("7.005"), reason="部分指标未量化", evidence="绩效目标表"),
        "B2": LeafInput(score=D(20)),
    }
    values = {
        "template": TEMPLATE,
        "entered": entered,
        "derived": {"C1": LeafInput(rate=D("0.8"))},
        "derived_sources": {"C1": Source.SURVEY},
        "panel": panel("B1", "C2"),
        "figures": {"survey_rates": {"C1": D("0.8")}},
        **overrides,
    }
    return evaluate(EvaluationInputs(**values), NO_DRAWS)


def thin() -> EngagementResult:
    """No panel, no survey, one indicator not applicable, an expert leaf typed by the team."""
    return evaluate(
        EvaluationInputs(
            template=TEMPLATE,
            entered={
                "A1": LeafInput(score=D(10)),
                "A2": LeafInput(score=D("8.5"), reason="目标细化不足"),
                "B1": LeafInput(score=D("15.5"), reason="质量抽检有不合格"),
                "B2": LeafInput(score=D(20)),
                "C2": LeafInput(score=D(16), reason="管护机制待完善"),
            },
            not_applicable=frozenset({"C1"}),
        ),
        NO_DRAWS,
    )


def texts(section: reporting.Section) -> str:
    """Every string a section prints (values, nested lists and dicts, table cells)."""
    out: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)

    walk(section.values)
    for table in section.tables.values():
        walk(table.headers)
        walk(table.rows)
    return "\n".join(out)


# --- the result these tests stand on ------------------------------------------------------------


def test_the_panel_leaf_is_rounded_half_up_once():
    result = full()
    assert result.node("B1").printed_score == "17.33"  # 17.333… → 17.33
    assert result.node("A2").printed_score == "7.01"  # 7.005 → 7.01 (half-up)
    assert result.node("C1").printed_score == "17.78"  # 20 × 0.8 ÷ 0.9
    assert result.printed_total == "89.45"  # 10 + 7.01 + 17.33 + 20 + 17.78 + 17.33


# --- 一、基本情况 -----------------------------------------------------------------------------


def test_cover_titles_report_number_and_draft_mark():
    values = reporting.cover(FACTS).values
    assert values["title"] == "某项目绩效评价报告"
    assert values["report_no"] == "（出具时编号）" and values["draft_mark"]
    assert values["report_date"] == "2026年3月1日"
    issued = reporting.cover(
        reporting.EngagementFacts(
            title="x", project_name="部门", client="c", firm="f", department=True, draft=False
        )
    ).values
    assert issued["title"] == "部门部门整体支出绩效评价报告" and issued["draft_mark"] == ""


def test_funds_totals_are_the_sums_of_the_printed_rows_and_the_text_prints_them():
    budget = budget_table(
        [
            BudgetFigures(FundSource.FISCAL, D("100.005"), D("100.005"), D("100.005"), D("90")),
            BudgetFigures(FundSource.OTHER, D("50.005"), D("50.005"), D("40"), D("30.004")),
        ]
    )
    section = reporting.basic_information(FACTS, budget, [])
    table = section.tables["funds_table"]
    assert table.rows[0][1] == "100.01" and table.rows[1][1] == "50.01"
    assert table.rows[-1][1] == "150.02"  # not 150.01, the rounded exact total
    assert check_sums(table) == []
    assert "年初预算150.02万元" in section.values["funds_text"]
    assert f"预算执行率{table.rows[-1][6]}" in section.values["funds_text"]
    assert section.tables["goals_table"].rows == [["—"] * 6]  # no goals: one dash row


def test_funds_table_prints_the_configured_sources_in_their_order():
    budget = budget_table(
        [
            BudgetFigures("中央财政资金", D("500"), D("500"), D("500"), D("450")),
            BudgetFigures("县级财政资金", D("100"), D("120"), D("120"), D("120")),
            BudgetFigures("单位自筹", D("30"), D("30"), D("10"), D("10")),
            BudgetFigures(FundSource.CARRYOVER, D("20"), D("20"), D("20"), D("20")),
        ]
    )
    section = reporting.basic_information(FACTS, budget, [])
    table = section.tables["funds_table"]
    assert [r[0] for r in table.rows] == [
        "中央财政资金",
        "县级财政资金",
        "单位自筹",
        "上年结转",
        "合计",
    ]
    assert table.rows[-1][2] == "670.00" and check_sums(table) == []
    assert (
        "项目资金来源包括中央财政资金、县级财政资金、单位自筹、上年结转。"
        in (section.values["funds_text"])
    )


def test_goals_table_states_completion():
    goals = [
        reporting.GoalFacts(
            "产出指标", "数量指标", "管网长度", GoalNature.GE, "120", "126", "公里"
        ),
        reporting.GoalFacts("效益指标", "可持续", "管护机制", GoalNature.QUALITATIVE, "建立"),
    ]
    rows = reporting.goals_table(goals).rows
    assert rows[0][3:] == ["≥120公里", "126公里", "已完成"]
    assert rows[1][5] == "未填报实际完成值"


# --- 二、工作开展情况 ---------------------------------------------------------------------------


def test_methods_name_the_source_of_every_expert_and_survey_figure():
    survey = reporting.SurveyFacts(
        id=7,
        title="群众满意度调查",
        respondent_group="受益群众",
        leaf_code="C1",
        returned=120,
        valid=100,
        valid_rate=D("0.8333"),
        rate=D("0.8"),
        ci_low=0.71,
        ci_high=0.87,
        index=81.0,
        required=381,
        respondents=100,
    )
    values = reporting.work_carried_out(full(), FACTS, [survey]).values
    methods = "\n".join(values["methods"])
    assert "“产出质量”、“可持续影响”取自专家组评分（附件4）" in methods
    assert "“满意度”取自满意度调查（附件3）" in methods
    assert "评价组邀请3名专家对2项指标（“产出质量”、“可持续影响”）独立评分" in methods
    assert "计入“满意度”指标的满意率为80.00%，该指标得分17.78分" in methods
    assert "（数据来源：专家提交的评分表，明细见附件4）" in methods
    assert "设置3项一级指标、6项三级指标，满分100.00分" in values["indicator_summary"]
    # the sample falls short of 381: the conclusion says so, and what it means for the score
    conclusion = reporting.conclusion(full(), FACTS, [survey]).values["conclusion"]
    assert conclusion.endswith(
        f"满意度调查“{survey.title}”（有效样本100份，所需381份）样本量不足，"
        "据此评分的“满意度”指标得分及满意度调查结论仅供参考。"
    )
    enough = replace(survey, respondents=381)
    assert "样本" not in reporting.conclusion(full(), FACTS, [enough]).values["conclusion"]


def test_without_a_panel_no_expert_panel_wording_and_the_typed_expert_leaf_is_named():
    values = reporting.work_carried_out(thin(), FACTS, []).values
    methods = "\n".join(values["methods"])
    assert "专家组" not in methods
    assert "本次评价未组织专家评分。" in methods
    assert "“产出质量”、“可持续影响”指标的得分由评价组根据核查情况录入" in methods
    assert "“满意度”指标不适用于本项目" in values["indicator_summary"]


def test_work_process_is_written_from_the_recorded_phases_in_date_order():
    phases = [
        reporting.PhaseFacts(
            "expert_review", dt.date(2026, 4, 20), None, "县财政局会议室", "评审专家5人"
        ),
        reporting.PhaseFacts(
            "fieldwork",
            dt.date(2026, 3, 23),
            dt.date(2026, 3, 27),
            "临川镇、青山乡",
            "",
            "核查报账凭证，实地查看净水厂3座。",
        ),
        reporting.PhaseFacts("preparation", dt.date(2025, 12, 28), dt.date(2026, 1, 5)),
    ]
    lines = reporting.timeline(phases, "今天").values["timeline"]
    assert [line["date"] for line in lines] == [
        "2025年12月28日至2026年1月5日",
        "2026年3月23日至3月27日",
        "2026年4月20日",
    ]
    assert lines[0]["text"] == "开展前期准备和评价方案设计。"
    assert lines[1]["text"] == "在临川镇、青山乡开展现场核查。核查报账凭证，实地查看净水厂3座。"
    assert lines[2]["text"] == "在县财政局会议室开展专家评审会（参加人员：评审专家5人）。"


def test_work_process_without_phases_is_a_sentence_not_the_audit_log():
    lines = reporting.timeline([], "2026年12月1日").values["timeline"]
    assert lines == [{"date": "2026年12月1日", "text": reporting.NO_PHASES}]
    assert "方案设计阶段" not in reporting.NO_PHASES


# --- 三、综合评价结论 ---------------------------------------------------------------------------


def test_conclusion_prints_the_result_sentence_and_table3_totals_the_official_scores():
    result = full()
    section = reporting.conclusion(result, FACTS)
    assert section.values["total"] == result.printed_total
    assert section.values["grade"] == grade(D(result.printed_total)) == "良"
    assert section.values["conclusion"].startswith(
        f"经综合评价，某项目{result.total_sentence_zh()}"
    )
    table = section.tables["dimension_table"]
    assert [r[2] for r in table.rows] == [
        *[d.printed_score for d in result.dimensions],
        result.printed_total,
    ]
    assert check_sums(table) == []
    assert section.charts["dimension_chart"].labels == ["决策", "产出", "效益"]


def test_not_applicable_the_sentence_names_applicable_points_score_and_conversion():
    result = thin()
    section = reporting.conclusion(result, FACTS)
    sentence = section.values["conclusion"]
    assert "适用指标分值80.00分，得分" in sentence and "折算为百分制得分" in sentence
    table = section.tables["dimension_table"]
    total_row = table.rows[-1]
    assert total_row[1] == "80.00" and total_row[2] == result.printed_raw_total
    assert f"得分{total_row[2]}分" in sentence
    assert f"百分制得分{result.printed_total}分" in sentence
    assert section.values["total"] == result.printed_total  # the converted total is graded


def test_incomplete_result_has_no_total_and_no_grade():
    result = evaluate(EvaluationInputs(template=TEMPLATE), NO_DRAWS)
    values = reporting.conclusion(result, FACTS).values
    assert values["total"] is None and values["grade"] is None
    assert values["conclusion"].startswith("评价指标尚未全部评价，综合得分待定。")


# --- 四、指标分析 -------------------------------------------------------------------------------


def test_indicator_paragraphs_criterion_what_was_found_deduction_and_score():
    result = full()
    facts = {
        "A1": reporting.LeafFacts(criteria="立项程序完整的得满分。"),
        "A2": reporting.LeafFacts(
            criteria="目标明确、细化量化的得满分；\n每有一项未量化扣1分。",
            documents=("绩效目标申报表.pdf", "实施方案.docx"),
            found="3项产出指标无指标值",
        ),
    }
    dims = reporting.indicator_analysis(result, facts).values["dimensions"]
    decision = dims[0]["indicators"]
    # full marks, the team wrote a reason: it says what was checked, never the slot sentence
    a1 = decision[0]
    assert a1.startswith("1. 立项规范（分值10.00分，得分10.00分，得分率100.00%）。")
    assert "评分标准：立项程序完整的得满分。" in a1
    assert "立项资料齐全，程序规范。经核查，符合评分标准，得满分。" in a1
    assert reporting.FULL_MARKS not in a1
    # below full marks: criterion (one paragraph), documents by name, findings, deduction
    a2 = decision[1]
    assert "得分7.01分" in a2
    assert "评分标准：目标明确、细化量化的得满分；每有一项未量化扣1分。" in a2
    assert "评价组查阅了《绩效目标申报表》《实施方案》、绩效目标表等资料" in a2
    assert a2.index("评分标准") < a2.index("部分指标未量化") < a2.index("3项产出指标无指标值")
    assert a2.index("3项产出指标无指标值") < a2.index("扣分依据：") and a2.endswith("扣2.99分。")
    # full marks and nothing recorded: says that the reason is missing (no slot filler)
    assert dims[1]["indicators"][1].endswith("得满分；评价组尚未填写评分理由和核查依据。")
    assert reporting.FULL_MARKS not in "".join(dims[1]["indicators"])


def test_a_checklist_deduction_reads_as_a_finding_not_as_the_criterion():
    template = parse_template(
        {
            "code": "t",
            "name": "T",
            "indicators": [
                {
                    "code": "A",
                    "name": "决策",
                    "weight": 100,
                    "children": [
                        {
                            "code": "A1",
                            "name": "预算编制科学性",
                            "weight": 100,
                            "method": {
                                "type": "checklist",
                                "elements": [
                                    "经过科学论证",
                                    "预算额度测算依据充分",
                                    "与标准匹配",
                                    "与计划相适应",
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    )
    result = evaluate(
        EvaluationInputs(
            template=template, entered={"A1": LeafInput(met=(True, False, True, True))}
        ),
        NO_DRAWS,
    )
    (text,) = reporting.indicator_analysis(result).values["dimensions"][0]["indicators"]
    assert "未满足：" not in text
    assert "经核查，4项评分要点中满足3项，“预算额度测算依据充分”未满足，扣25.00分。" in text


def test_a_deduction_leaf_lists_what_was_found_once():
    node = full().node("A2")
    node = replace(node, reason_zh="扣分事项：2个乡镇报账凭证附件不全（扣 1.00 分）。")
    assert reporting.deduction_text(node) == (
        "经核查，存在以下扣分事项：2个乡镇报账凭证附件不全（扣 1.00 分），共扣2.99分。"
    )


def test_each_dimension_concludes_with_its_score_rate_and_main_deduction_points():
    result = full()
    dims = reporting.indicator_analysis(result).values["dimensions"]
    a, b = result.dimensions[0], result.dimensions[1]
    assert dims[0]["intro"] == (
        f"决策指标分值{a.printed_weight}分，得分{a.printed_score}分，得分率{a.printed_rate}。"
        "主要扣分点：目标明确（扣2.99分）。"
    )
    assert dims[1]["intro"].startswith(f"产出指标分值{b.printed_weight}分，得分{b.printed_score}分")
    assert "主要扣分点：产出质量" in dims[1]["intro"]


def test_the_overall_conclusion_names_each_dimension_and_the_main_problems():
    result = full()
    text = reporting.conclusion(
        result, FACTS, problems=["预算测算不充分", "管护机制不健全"]
    ).values["conclusion"]
    for d in result.dimensions:
        assert f"{d.name}指标分值{d.printed_weight}分，得分{d.printed_score}分" in text
    assert "评价发现的主要问题：（1）预算测算不充分；（2）管护机制不健全。" in text


def test_unassessed_leaves_are_never_full_marks():
    result = full(entered={"A1": LeafInput(score=D(10))})
    section = reporting.indicator_analysis(result)
    a2 = section.values["dimensions"][0]["indicators"][1]
    assert a2 == "2. 目标明确（分值10.00分）。该指标尚未评价。"
    assert "A2 目标明确" in section.values["unscored"]
    assert "未评价" not in section.values["dimensions"][0]["indicators"][0]
    assert section.values["dimensions"][0]["score"] == "—"
    row = next(r for r in reporting.score_table(result).rows if r[2] == "目标明确")
    assert row[4] == "尚未评价" and "满分" not in "".join(row)


def test_a_deduction_without_any_reason_is_reported_for_qa():
    result = full(panel=None, entered={"A1": LeafInput(score=D(10)), "B2": LeafInput(score=D(20))})
    section = reporting.indicator_analysis(result)
    assert section.values["missing_reasons"] == []  # the engine explains every deduction
    assert {"A2 目标明确", "B1 产出质量", "C2 可持续影响"} <= set(section.values["unscored"])


# --- 五、六、七 ---------------------------------------------------------------------------------


def test_findings_number_problems_and_link_recommendations():
    items = [
        reporting.FindingFacts(1, "experience", "经验", "做法"),
        reporting.FindingFacts(2, "problem", "问题甲", "说明", "原因", "凭证", ("A2",)),
        reporting.FindingFacts(3, "problem", "问题乙", "说明"),
    ]
    values = reporting.findings(items, [reporting.RecommendationFacts("建议", (2,))]).values
    assert [p["number"] for p in values["problems"]] == [1, 2]
    assert values["problems"][0]["text"] == "说明（相关指标：A2；依据：凭证）"
    assert [p["recommended"] for p in values["problems"]] == [True, False]
    assert values["recommendations"] == [{"text": "建议", "problems": "1"}]
    assert values["problems"][1]["cause"] == "—"
    assert values["others"] == [] and values["others_none"] == "本次评价无其他需要说明的问题。"
    assert values["experiences_none"] == values["problems_none"] == ""
    assert values["recommendations_none"] == ""


def test_a_section_without_findings_prints_a_sentence():
    """A thin engagement: each of 五、六、七 says in a sentence that it has nothing, so no
    heading stands alone (the templates print ``…_none`` only when it is not empty)."""
    values = reporting.findings([], []).values
    assert values["experiences"] == values["problems"] == values["recommendations"] == []
    assert values["experiences_none"] == "本次评价未总结需要推广的主要经验及做法。"
    assert values["problems_none"] == "本次评价未发现需要说明的问题。"
    assert values["recommendations_none"] == "本次评价未发现需要整改的问题，不提出建议。"
    assert values["others_none"] == "本次评价无其他需要说明的问题。"
    # problems but no recommendation yet: said so, not “no problems”
    problem = [reporting.FindingFacts(1, "problem", "问题甲", "说明", "原因")]
    assert reporting.findings(problem, []).values["recommendations_none"] == "本次评价未提出建议。"


# --- 附件 ---------------------------------------------------------------------------------------


def test_expert_table_prints_each_expert_and_the_leafs_official_score():
    result = full()
    section = reporting.annexes(result, [])
    table = section.tables["expert_table"]
    assert table.headers == [["指标", "分值", "周专家", "陈专家", "刘专家", "综合得分"]]
    assert table.rows[0] == ["B1 产出质量", "20.00", "17.50", "17.00", "17.50", "17.33"]
    for row in table.rows:
        code = row[0].split()[0]
        assert row[-1] == result.node(code).printed_score
    score_rows = {r[2]: r for r in section.tables["score_table"].rows}
    assert score_rows["产出质量"][4] == "17.33" and score_rows["可持续影响"][4] == "17.33"
    assert "专家组综合得分" in section.values["expert_text"]


def test_no_panel_a_sentence_and_no_expert_table():
    section = reporting.annexes(thin(), [])
    assert "expert_table" not in section.tables
    assert section.values["expert_text"].startswith(reporting.NO_PANEL)
    assert "专家组" not in section.values["expert_text"]
    assert section.values["survey_none"] == "本次评价未开展满意度调查。"
    assert section.values["surveys"] == []


def test_annex_score_table_with_not_applicable_rows_and_the_converted_total():
    result = thin()
    section = reporting.annexes(result, [])
    table = section.tables["score_table"]
    na = next(r for r in table.rows if r[2] == "满意度")
    assert na[3:6] == ["—", "不适用", "—"] and "原分值20.00分" in na[6]
    total_row = table.rows[table.sums[0].total_row]
    assert total_row[3] == "80.00" and total_row[4] == result.printed_raw_total
    assert table.rows[-1][0] == "折算后综合得分" and table.rows[-1][4] == result.printed_total
    assert check_sums(table) == []
    note = section.values["score_note"]
    assert result.total_sentence_zh() in note and result.rounding_rule_zh() in note


def test_survey_annex_tables_charts_and_the_rate_it_feeds():
    survey = reporting.SurveyFacts(
        id=3,
        title="调查",
        respondent_group="",
        leaf_code="C1",
        returned=10,
        valid=8,
        valid_rate=0.8,
        rate=0.75,
        ci_low=0.5,
        ci_high=0.9,
        index=70.0,
        required=20,
        respondents=8,
        levels=("满意", "不满意"),
        items=(reporting.SurveyItemFacts("1、质量", {"满意": 6, "不满意": 2}, 8, 0.75),),
    )
    section = reporting.annexes(full(), [survey])
    assert section.tables["survey_3_table"].rows == [["质量", "6", "2", "75.00%"]]  # no "1、"
    assert section.charts["survey_3_chart"].series["满意"] == [75.0]
    text = section.values["surveys"][0]["text"]
    assert "调查对象为相关群体" in text and "样本量不足" in text
    assert "计入“满意度”指标的满意率为80.00%" in text


# --- 摘要, English, the whole report ------------------------------------------------------------


def test_summary_repeats_the_conclusion_sentence_and_lists_lost_points():
    result = full()
    values = reporting.summary(result, FACTS, {"problems": [], "recommendations": []}).values
    assert result.total_sentence_zh() in values["summary"]
    assert values["key_findings"][0] == result.total_sentence_zh()
    assert "目标明确（分值10.00分，得分7.01分）" in values["key_findings"][1]
    assert values["sections"]["评价指标分析"] and not values["sections"]["有关建议"]


def test_summary_lists_the_recommendations_themselves():
    recs = [
        {"text": "加强预算测算。", "problems": "1"},
        {"text": "建立管护经费保障机制", "problems": "2"},
    ]
    values = reporting.summary(
        full(), FACTS, {"problems": [{"title": "问题"}], "recommendations": recs}
    ).values
    assert values["key_findings"][-1] == "主要建议：（1）加强预算测算；（2）建立管护经费保障机制。"
    assert not any("条建议" in k for k in values["key_findings"])


def test_english_summary_states_the_conversion():
    result = thin()
    context = reporting.report(result, FACTS, budget=budget_table([]))
    en = context.values["en"]
    assert f"{result.printed_raw_total} of 80.00 applicable points" in en["summary"]
    assert f"converted to {result.printed_total} of 100" in en["summary"]
    assert context.tables["en.dimension_table"].rows[-1][2] == result.printed_raw_total


@pytest.mark.parametrize("build", [full, thin])
def test_one_report_the_rounding_rule_once_and_every_leaf_score_the_same(build):
    result = build()
    context = reporting.report(result, FACTS, budget=budget_table([]))
    everything = texts(reporting.Section(context.values, context.tables))
    assert everything.count(result.rounding_rule_zh()) == 1
    annex = {r[2]: r[4] for r in context.tables["score_table"].rows}
    for dim in context.values["dimensions"]:
        for paragraph in dim["indicators"]:
            name = paragraph.split(". ", 1)[1].split("（", 1)[0]
            leaf = next(n for n in result.leaves if n.name == name)
            if leaf.score is not None:
                assert f"得分{annex[name]}分" in paragraph
    assert run_checks(context.values, list(context.tables.values()), grade) == [
        p
        for p in run_checks(context.values, list(context.tables.values()), grade)
        if p.check == "section"
    ]


def test_no_result_no_indicator_tables_and_sentences_instead():
    context = reporting.report(None, FACTS, budget=budget_table([]))
    assert "score_table" not in context.tables and "dimension_table" not in context.tables
    assert context.values["indicator_summary"] == "评价指标体系待建立。"
    assert context.values["expert_text"] == reporting.NO_PANEL
    assert context.values["score_note"] == "" and context.values["total"] is None


def test_the_indicator_summary_carries_the_results_share_warning():
    result = full(not_applicable=frozenset({"C"}))  # 产出 40 of 60 applicable points: 66.67 %
    assert result.warnings == ()
    result = full(not_applicable=frozenset({"B"}))  # 效益 40 of 60: still above 60 %
    assert result.warnings == ()
    result = full(not_applicable=frozenset({"B", "C2"}))  # 效益 20 of 40: 50 %
    assert result.warnings
    summary = reporting.work_carried_out(result, FACTS, []).values["indicator_summary"]
    assert summary.endswith(result.warnings[0])
