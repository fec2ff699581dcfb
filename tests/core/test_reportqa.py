"""The checks over the printed report (issue #14), each on plain data: paragraphs, headings,
captions and tables as a reader sees them."""

from decimal import Decimal

import pytest

from workbench.core.reportqa import (
    BLOCKING,
    WARNING,
    Block,
    PrintedReport,
    Problem,
    blocking,
    check_addressed,
    check_placeholders,
    check_same_figures,
    check_sample_carried,
    check_text_total,
    figures,
    run_printed_checks,
)

H1, H2, H3, P, CAP, TAB = (
    Block.heading,
    Block.heading,
    Block.heading,
    Block.para,
    Block.caption,
    Block.table,
)

SCORE_HEADER = ["一级指标", "二级指标", "三级指标", "分值", "得分", "得分率", "扣分原因"]
DIM_HEADER = ["一级指标", "分值", "得分", "得分率"]
GOALS_HEADER = ["一级指标", "二级指标", "三级指标", "指标值", "实际完成值", "完成情况"]


def report(
    *,
    sustain_table="3.34",
    sustain_text="3.34",
    sustain_expert="3.34",
    total="88.17",
    text_total="88.17",
    dim_total="88.17",
    effect="25.38",
    effect_text="25.38",
    conclusion_extra="",
    problems=(),
    notes=(),
    goals_status="已完成",
    sample="样本量满足要求。",
):
    """A small report shaped like the bundled one (the demo's numbers)."""
    return PrintedReport(
        [
            Block("title", "某项目绩效评价报告"),
            H1(1, "摘  要"),
            P(
                f"受某局委托，某机构对某项目开展了绩效评价。经综合评价，某项目绩效评价得分为{text_total}分。"
            ),
            P(f"1. 综合得分{text_total}分，评价等级“良”。"),
            H1(1, "一、基本情况"),
            H2(2, "（二）绩效目标"),
            P("总体目标：提高农村供水保障水平。"),
            CAP("表2 绩效目标及完成情况"),
            TAB(
                [
                    GOALS_HEADER,
                    ["产出指标", "时效指标", "工程按期完工率", "≥90%", "83.3%", goals_status],
                ]
            ),
            H1(1, "二、绩效评价工作开展情况"),
            P(f"（3）问卷调查：有效问卷106份。{sample}"),
            H1(1, "三、综合评价情况及评价结论"),
            P(
                f"经综合评价，某项目绩效评价得分为{text_total}分，评价等级为“良”。{conclusion_extra}"
            ),
            CAP("表3 评价得分情况"),
            TAB(
                [
                    DIM_HEADER,
                    ["决策", "15.00", "12.58", "83.87%"],
                    ["效益", "30.00", effect, "84.60%"],
                    ["合计", "45.00", dim_total, "—"],
                ]
            ),
            H1(1, "四、绩效评价指标分析"),
            H2(2, "（四）效益情况"),
            P(f"效益指标分值30.00分，得分{effect_text}分，得分率84.60%。"),
            P(f"3. 可持续影响（分值5.00分，得分{sustain_text}分，得分率66.80%）。专家组评分。"),
            H1(1, "五、主要经验及做法、存在的问题及原因分析"),
            H2(2, "（二）存在的问题及原因分析"),
            *[b for title, text in problems for b in (H3(3, title), P(text))],
            *([] if problems else [P("本次评价未发现问题。")]),
            H1(1, "七、其他需要说明的问题"),
            *[P(n) for n in notes],
            *([] if notes else [P("本次评价无其他需要说明的问题。")]),
            H1(1, "附件"),
            H2(2, "附件1 绩效评价指标体系及评分表"),
            TAB(
                [
                    SCORE_HEADER,
                    ["决策", "项目立项", "立项依据充分性", "3.00", "3.00", "100.00%", "—"],
                    ["效益", "项目效益", "可持续影响", "5.00", sustain_table, "66.80%", "专家评分"],
                    ["合计", "", "", "8.00", total, "", ""],
                ]
            ),
            H2(2, "附件4 专家评分汇总"),
            P("评价组邀请3名专家对1项指标独立评分。"),
            TAB(
                [
                    ["指标", "分值", "周建国", "陈慧", "刘志远", "综合得分"],
                    ["D13 可持续影响", "5.00", "3.50", "3.00", "3.50", sustain_expert],
                ]
            ),
        ]
    )


CODES = {"可持续影响": "D13", "立项依据充分性": "A11"}
ADDRESSED = (
    ("1. 管护机制尚不健全", "村级供水站未落实专职管护人员。（相关指标：D13、D12；依据：现场核查）"),
)


# --- 1. the same figure everywhere ---------------------------------------------------------------


def test_the_demo_s_3_33_in_the_expert_table_against_3_34_in_the_score_table_is_caught():
    problems = check_same_figures(report(sustain_expert="3.33"))
    assert [p.check for p in problems] == ["same"]
    (problem,) = problems
    assert problem.severity == BLOCKING
    assert "可持续影响" in problem.message
    assert "附件1 绩效评价指标体系及评分表为3.34" in problem.message
    assert "附件4 专家评分汇总（综合得分）为3.33" in problem.message
    assert dict(problem.params)["item"] == "指标“可持续影响”的得分"


def test_an_indicator_paragraph_that_differs_from_the_score_table_is_caught():
    (problem,) = check_same_figures(report(sustain_text="3.33", sustain_expert="3.34"))
    assert "（四）效益情况为3.33" in problem.message


def test_a_dimension_and_the_totals_must_agree_between_tables_and_texts():
    problems = check_same_figures(report(effect_text="25.37", dim_total="88.16"))
    items = sorted(dict(p.params)["item"] for p in problems)
    assert items == ["一级指标“效益”的得分", "表格中的合计得分"]
    problems = check_same_figures(report(text_total="88.17", conclusion_extra="综合得分88.71分。"))
    assert [dict(p.params)["item"] for p in problems] == ["正文中的综合得分"]


def test_the_same_strings_everywhere_pass_and_unscored_dashes_are_left_to_the_scored_check():
    assert check_same_figures(report()) == []
    assert (
        check_same_figures(report(sustain_text="—", sustain_table="—", sustain_expert="3.33")) == []
    )
    # the string counts, not the number: 3.3 and 3.30 print differently
    assert check_same_figures(
        report(sustain_expert="3.3", sustain_table="3.30", sustain_text="3.30")
    )


def test_figures_are_read_with_where_they_stand():
    found = figures(report())
    assert ("leaf", "可持续影响", "3.34", "附件4 专家评分汇总（综合得分）") in found
    assert ("dimension", "效益", "25.38", "表3 评价得分情况") in found
    assert ("table_total", "", "88.17", "附件1 绩效评价指标体系及评分表") in found
    assert ("text_total", "", "88.17", "摘  要") in found


# --- 2. the text total and the table total -------------------------------------------------------


def test_a_conclusion_total_equal_to_the_table_total_passes():
    assert check_text_total(report()) == []


def test_a_conclusion_total_that_is_neither_the_table_total_nor_a_stated_conversion_blocks():
    problems = check_text_total(report(text_total="88.33", total="79.50", dim_total="79.50"))
    assert {p.check for p in problems} == {"text_total"}
    assert all(p.severity == BLOCKING for p in problems)
    wheres = [dict(p.params)["where"] for p in problems]
    assert "三、综合评价情况及评价结论" in wheres and "摘  要" in wheres
    assert "与表格合计得分79.50分（表3 评价得分情况）不一致，且未说明折算" in problems[0].message


def test_a_stated_conversion_makes_a_converted_total_pass():
    converted = "适用指标分值90.00分，得分79.50分，折算为百分制得分88.33分。"
    ok = report(text_total="88.33", total="79.50", dim_total="79.50", conclusion_extra=converted)
    problems = check_text_total(ok)
    # the conclusion states it; the summary (its own section) does not
    assert {dict(p.params)["where"] for p in problems} == {"摘  要"}


@pytest.mark.parametrize(
    "conversion",
    [
        "适用指标分值90.00分，得分79.00分，折算为百分制得分88.33分。",  # not the table total
        "适用指标分值90.00分，得分79.50分，折算为百分制得分88.00分。",  # not the printed total
        "适用指标分值80.00分，得分79.50分，折算为百分制得分88.33分。",  # wrong arithmetic
    ],
)
def test_a_conversion_that_does_not_hold_is_flagged(conversion):
    bad = report(text_total="88.33", total="79.50", dim_total="79.50", conclusion_extra=conversion)
    problems = [
        p for p in check_text_total(bad) if dict(p.params)["where"] == "三、综合评价情况及评价结论"
    ]
    assert len(problems) == 1 and "既不等于表格合计得分79.50分" in problems[0].message


def test_no_table_total_means_nothing_to_compare():
    assert check_text_total(PrintedReport([P("评价指标尚未全部评分，综合得分待定。")])) == []


# --- 3. deductions and unmet goals are taken up --------------------------------------------------


def test_a_leaf_losing_points_without_a_finding_or_note_is_a_warning():
    problems = check_addressed(report(), CODES)
    assert [p.check for p in problems] == ["addressed"]
    assert problems[0].severity == WARNING
    assert problems[0].message.startswith("指标“可持续影响”（D13）扣1.66分")


def test_a_finding_naming_the_code_or_the_name_or_a_note_takes_a_leaf_up():
    assert check_addressed(report(problems=ADDRESSED), CODES) == []
    by_name = (("1. 可持续影响不足", "管护经费来源不稳定。"),)
    assert check_addressed(report(problems=by_name)) == []
    assert check_addressed(report(notes=("可持续影响指标的扣分说明：……",))) == []
    # a code in a note counts; a code without the code map cannot be matched
    assert check_addressed(report(notes=("D13 扣分原因见附件。",)), CODES) == []
    assert len(check_addressed(report(problems=ADDRESSED))) == 1


def test_the_threshold_is_configurable_and_inclusive():
    assert check_addressed(report(sustain_table="4.50"), CODES) != []  # exactly 0.5
    assert check_addressed(report(sustain_table="4.51"), CODES) == []
    assert check_addressed(report(), CODES, threshold=Decimal("2")) == []


def test_an_unmet_goal_needs_a_finding_or_note():
    problems = check_addressed(report(problems=ADDRESSED, goals_status="未完成（汛期延期）"), CODES)
    assert [p.message for p in problems] == [
        "绩效目标“工程按期完工率”未完成，未见对应的问题或其他需要说明的问题"
    ]
    assert problems[0].severity == WARNING
    taken_up = (*ADDRESSED, ("2. 工程按期完工率未达标", "两个标段延期。"))
    assert check_addressed(report(problems=taken_up, goals_status="未达成"), CODES) == []
    assert check_addressed(report(problems=ADDRESSED, goals_status="已完成"), CODES) == []


# --- 4. placeholders and empty sections ----------------------------------------------------------


def test_the_bundled_shape_has_no_placeholder():
    assert check_placeholders(report()) == []


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        (
            [H2(2, "（一）项目概况"), P("（项目概况待补充）")],
            "（一）项目概况：占位文字“（项目概况待补充）”",
        ),
        ([H2(2, "（二）绩效目标"), P("总体目标：—")], "（二）绩效目标：只有“—”的内容“总体目标：—”"),
        ([H2(2, "（二）绩效目标"), P("—")], "（二）绩效目标：只有“—”的内容“—”"),
        ([H1(1, "一、基本情况"), H2(2, ""), P("正文")], "一、基本情况：空标题（2级）"),
        (
            [H2(2, "（一）主要经验及做法"), P(""), H2(2, "（二）存在的问题")],
            "（一）主要经验及做法：标题下没有内容",
        ),
        (
            [H2(2, "（一）项目概况"), CAP("表1 资金投入和使用情况"), P("说明")],
            "（一）项目概况：表题“表1 资金投入和使用情况”下没有表格",
        ),
        (
            [H2(2, "（二）绩效目标"), CAP("表2 绩效目标"), TAB([GOALS_HEADER, ["—"] * 6])],
            "表2 绩效目标：表格没有内容（只有表头或“—”）",
        ),
    ],
)
def test_placeholders_and_empty_sections_block(blocks, expected):
    problems = check_placeholders(PrintedReport([*blocks, H2(2, "（九）后文"), P("内容")]))
    assert expected in [p.message for p in problems]
    assert all(p.check == "placeholder" and p.severity == BLOCKING for p in problems)


def test_a_heading_with_only_a_subheading_or_a_chart_under_it_has_content():
    assert check_placeholders(PrintedReport([H1(1, "附件"), H2(2, "附件1"), P("内容")])) == []
    assert check_placeholders(PrintedReport([H2(2, "图"), P("", image=True)])) == []
    # a caption written as plain text counts as a caption
    problems = check_placeholders(
        PrintedReport([H2(2, "（一）"), P("表1 资金表"), H2(2, "（二）"), P("x")])
    )
    assert [p.message for p in problems] == ["（一）：表题“表1 资金表”下没有表格"]


def test_the_last_heading_with_nothing_after_it_is_caught():
    problems = check_placeholders(PrintedReport([H1(1, "七、其他需要说明的问题")]))
    assert [p.message for p in problems] == ["七、其他需要说明的问题：标题下没有内容"]


# --- 5. an insufficient survey sample reaches the conclusion -------------------------------------


def test_an_insufficient_sample_missing_from_the_conclusion_is_a_warning():
    short = "实际有效样本106份，样本量不足，结论仅供参考。"
    problems = check_sample_carried(report(sample=short))
    assert [p.message for p in problems] == [
        "二、绩效评价工作开展情况：满意度调查样本量不足，评价结论（三、综合评价情况及评价结论）"
        "未说明样本量不足及其影响"
    ]
    assert problems[0].severity == WARNING
    carried = "满意度调查有效样本少于所需样本量，满意度结论仅供参考。"
    assert check_sample_carried(report(sample=short, conclusion_extra=carried)) == []


def test_a_sufficient_sample_needs_nothing_in_the_conclusion():
    assert check_sample_carried(report()) == []
    below = "有效样本低于所需样本量381份。"
    assert len(check_sample_carried(report(sample=below))) == 1


# --- the run and the severity model --------------------------------------------------------------


def test_the_run_lists_blocking_problems_first_and_blocking_filters_stored_ones():
    problems = run_printed_checks(
        report(sustain_expert="3.33", sample="样本量不足，结论仅供参考。"), CODES
    )
    checks = [p.check for p in problems]
    assert checks == ["same", "addressed", "sample"]
    assert [p.check for p in blocking(problems)] == ["same"]
    stored = [
        {"check": "sum", "params": []},  # stored before severities: blocks
        {"check": "sample", "params": [], "severity": WARNING},
    ]
    assert blocking(stored) == [stored[0]]
    assert Problem("sum", "x").severity == BLOCKING
