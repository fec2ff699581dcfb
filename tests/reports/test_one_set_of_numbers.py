"""Issue #14, "one set of numbers": the Word report, read back with python-docx, prints each
figure once-computed and identically in every table and paragraph."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from docx import Document

from workbench.core.evaluation import EngagementResult
from workbench.core.indicators import parse_template
from workbench.core.scoring import LeafInput, LeafStatus
from workbench.evaluation import result_of
from workbench.reports.context import build_context
from workbench.reports.render import bundled_path, render
from workbench.scoring import services as scoring

THIN = parse_template(
    {
        "code": "thin",
        "name": "薄评价",
        "indicators": [
            {
                "code": "A",
                "name": "决策",
                "weight": 30,
                "children": [
                    {
                        "code": "A1",
                        "name": "立项规范性",
                        "weight": 15,
                        "method": {"type": "manual"},
                    },
                    {
                        "code": "A2",
                        "name": "目标明确性",
                        "weight": 15,
                        "method": {"type": "manual"},
                    },
                ],
            },
            {
                "code": "C",
                "name": "产出",
                "weight": 40,
                "children": [
                    {"code": "C1", "name": "产出质量", "weight": 40, "method": {"type": "expert"}},
                ],
            },
            {
                "code": "D",
                "name": "效益",
                "weight": 30,
                "children": [
                    {"code": "D1", "name": "社会效益", "weight": 20, "method": {"type": "manual"}},
                    {
                        "code": "D2",
                        "name": "群众满意度",
                        "weight": 10,
                        "method": {"type": "survey", "target": "0.9"},
                    },
                ],
            },
        ],
    }
)


#: THIN with a 过程 dimension of two deduction (扣分制) indicators, nobody has looked at yet
THIN_DEDUCTION = parse_template(
    {
        "code": "thin-deduction",
        "name": "薄评价（扣分制）",
        "indicators": [
            {
                "code": "A",
                "name": "决策",
                "weight": 20,
                "children": [
                    {
                        "code": "A1",
                        "name": "立项规范性",
                        "weight": 10,
                        "method": {"type": "manual"},
                    },
                    {
                        "code": "A2",
                        "name": "目标明确性",
                        "weight": 10,
                        "method": {"type": "manual"},
                    },
                ],
            },
            {
                "code": "B",
                "name": "过程",
                "weight": 10,
                "children": [
                    {
                        "code": "B1",
                        "name": "资金使用合规性",
                        "weight": 5,
                        "method": {"type": "deduction", "default_points": 1},
                    },
                    {
                        "code": "B2",
                        "name": "制度执行有效性",
                        "weight": 5,
                        "method": {"type": "deduction", "default_points": 1},
                    },
                ],
            },
            {
                "code": "C",
                "name": "产出",
                "weight": 40,
                "children": [
                    {"code": "C1", "name": "产出质量", "weight": 40, "method": {"type": "expert"}},
                ],
            },
            {
                "code": "D",
                "name": "效益",
                "weight": 30,
                "children": [
                    {"code": "D1", "name": "社会效益", "weight": 20, "method": {"type": "manual"}},
                    {
                        "code": "D2",
                        "name": "群众满意度",
                        "weight": 10,
                        "method": {"type": "survey", "target": "0.9"},
                    },
                ],
            },
        ],
    }
)


def document(context) -> tuple[list[str], list[list[list[str]]]]:
    doc = Document(io.BytesIO(render(context, bundled_path("project"))))
    paragraphs = [p.text for p in doc.paragraphs]
    tables = [[[c.text for c in r.cells] for r in t.rows] for t in doc.tables]
    return paragraphs, tables


def table_with(tables, first_header: str, last_header: str | None = None):
    found = [t for t in tables if t[0][0] == first_header and (last_header in (None, t[0][-1]))]
    return found[0] if found else None


def leaf_occurrences(
    result: EngagementResult, paragraphs: list[str], tables
) -> dict[str, set[str]]:
    """Every score string printed next to each leaf's name, wherever it is."""
    seen: dict[str, set[str]] = {}
    annex = table_with(tables, "一级指标", "扣分原因")
    experts = table_with(tables, "指标", "综合得分")
    for leaf in result.leaves:
        found = seen.setdefault(leaf.code, set())
        for row in annex[1:]:
            if row[2] == leaf.name:
                found.add(row[4])
        for row in experts[1:] if experts else []:
            if row[0] == f"{leaf.code} {leaf.name}":
                found.add(row[-1])
        name = re.escape(leaf.name)
        for text in paragraphs:
            for pattern in (
                rf"\d+\. {name}（分值[\d.]+分，得分([\d.]+)分",  # 指标分析
                rf"{name}（分值[\d.]+分，得分([\d.]+)分）",  # 摘要: lost points
                rf"计入“{name}”指标的满意率为[\d.]+%，该指标得分([\d.]+)分",  # surveys
            ):
                found.update(re.findall(pattern, text))
            # the engine's own explanation in the leaf's paragraph (专家组评分 3.33 分 …)
            if re.match(rf"\d+\. {name}（", text):
                found.update(re.findall(r"评分 ([\d.]+) 分", text))
    return seen


def assert_one_set_of_numbers(result: EngagementResult, paragraphs, tables) -> None:
    for code, printed in leaf_occurrences(result, paragraphs, tables).items():
        node = result.node(code)
        if node.status is LeafStatus.SCORED:
            assert printed == {node.printed_score}, (code, printed)
        else:
            assert node.printed_score not in printed and "满分" not in printed
    dims = table_with(tables, "一级指标", "得分率")
    for row in dims[1:-1]:
        node = next(d for d in result.dimensions if d.name == row[0])
        assert row[2] == node.printed_score
        intro = next(p for p in paragraphs if p.startswith(f"{node.name}指标分值"))
        assert f"得分{node.printed_score}分" in intro
    # the stated total is the table's total, or the stated conversion of it
    total_row = dims[-1]
    annex = table_with(tables, "一级指标", "扣分原因")
    annex_total = next(r for r in annex if r[0] == "合计")
    assert total_row[2] == annex_total[4] == result.printed_raw_total
    conclusion = next(p for p in paragraphs if p.startswith("经综合评价"))
    assert result.total_sentence_zh() in conclusion
    if result.rescaled:
        assert f"适用指标分值{total_row[1]}分，得分{total_row[2]}分" in conclusion
        assert f"折算为百分制得分{result.printed_total}分" in conclusion
        assert annex[-1][0] == "折算后综合得分" and annex[-1][4] == result.printed_total
    else:
        assert f"综合得分{total_row[2]}分" in conclusion
    # the rounding rule is stated exactly once
    assert sum(p.count(result.rounding_rule_zh()) for p in paragraphs) == 1


def test_demo_report_prints_one_set_of_numbers(demo, session):
    engagement = demo["engagement"]
    result = result_of(session, engagement)
    paragraphs, tables = document(build_context(session, engagement))
    assert_one_set_of_numbers(result, paragraphs, tables)
    # 可持续影响 (D13): the panel's mean 3.333… prints 3.33 everywhere (once 3.34 in a table)
    d13 = leaf_occurrences(result, paragraphs, tables)["D13"]
    assert d13 == {"3.33"}
    experts = table_with(tables, "指标", "综合得分")
    assert ["D13 可持续影响", "5.00", "3.50", "3.00", "3.50", "3.33"] in experts
    assert any("专家组综合得分取各专家评分的算术平均" in p for p in paragraphs)


@pytest.fixture
def thin_engagement(session, demo, make_engagement):
    """One 不适用 indicator, no panel, no survey, an expert indicator typed by the team."""
    lead = demo["users"]["zhang.wei"]
    engagement = make_engagement(lead=lead)
    scoring.instantiate(session, lead, engagement, THIN)
    for code, data, na in (
        ("A1", LeafInput(score=Decimal(15)), False),
        ("A2", LeafInput(score=Decimal("12.335"), reason="部分指标未量化"), False),
        ("C1", LeafInput(score=Decimal("33.5"), reason="抽检有不合格批次"), False),
        ("D1", LeafInput(score=Decimal(20), reason="受益人口超过目标"), False),
        ("D2", LeafInput(), True),
    ):
        scoring.save_input(session, lead, engagement, code, data, not_applicable=na)
    session.commit()
    return engagement


def test_thin_report_states_the_conversion_and_no_panel(thin_engagement, session):
    result = result_of(session, thin_engagement)
    assert result.not_applicable == ("D2",) and result.panel is None
    paragraphs, tables = document(build_context(session, thin_engagement))
    assert_one_set_of_numbers(result, paragraphs, tables)
    assert result.node("A2").printed_score == "12.34"  # half-up
    assert result.printed_raw_total == "80.84" and result.applicable_weight == 90
    assert result.printed_total == "89.82"  # 80.84 × 100 ÷ 90
    # no panel data: no expert-panel wording, a sentence and no table in 附件4
    everything = "\n".join(paragraphs + [c for t in tables for r in t for c in r])
    assert "专家组" not in everything.replace("未经专家组评分", "")
    assert "本次评价未组织专家评分。" in paragraphs[paragraphs.index("附件4 专家评分汇总") + 1]
    assert table_with(tables, "指标", "综合得分") is None
    assert "本次评价未开展满意度调查。" in paragraphs
    # the typed expert score says who typed it
    c1 = next(p for p in paragraphs if p.startswith("1. 产出质量（"))
    assert "评价组录入" in c1 and "抽检有不合格批次" in c1
    # full marks with a reason prints the reason; without one, the short sentence
    d1 = next(p for p in paragraphs if p.startswith("1. 社会效益（"))
    assert "受益人口超过目标" in d1 and "该指标得满分" not in d1
    a1 = next(p for p in paragraphs if p.startswith("1. 立项规范性（"))
    assert a1.endswith("）。得满分；评价组尚未填写评分理由和核查依据。")  # says what is missing
    d2 = next(p for p in paragraphs if p.startswith("2. 群众满意度（"))
    assert "不适用" in d2 and "得分" not in d2


def test_unassessed_indicators_print_as_not_yet_assessed(session, demo, make_engagement):
    lead = demo["users"]["zhang.wei"]
    engagement = make_engagement(lead=lead)
    scoring.instantiate(session, lead, engagement, THIN)
    scoring.save_input(session, lead, engagement, "A1", LeafInput(score=Decimal(15)))
    session.commit()
    context = build_context(session, engagement)
    paragraphs, tables = document(context)
    a2 = next(p for p in paragraphs if p.startswith("2. 目标明确性（"))
    assert a2 == "2. 目标明确性（分值15.00分）。该指标尚未评价。"
    annex = table_with(tables, "一级指标", "扣分原因")
    assert next(r for r in annex if r[2] == "目标明确性")[4] == "尚未评价"
    assert context.values["total"] is None
    assert any(p.startswith("评价指标尚未全部评价，综合得分待定。") for p in paragraphs)


def test_without_an_indicator_system_no_orphan_caption(session, demo, make_engagement):
    engagement = make_engagement(lead=demo["users"]["zhang.wei"])
    context = build_context(session, engagement)
    paragraphs, tables = document(context)
    assert "表3 评价得分情况" not in paragraphs
    english = Document(io.BytesIO(render(context, bundled_path("summary-en"))))
    lines = [p.text for p in english.paragraphs]
    assert "Table 2. Scores by dimension" not in lines and "Table 1. Funds (10,000 yuan)" in lines
    assert "The indicator system is not yet completely scored." in lines
    assert table_with(tables, "一级指标", "得分率") is None
    assert "评价指标体系待建立。" in paragraphs
    assert "表1 资金投入和使用情况（单位：万元）" in paragraphs  # its table is always there


@pytest.fixture
def thin_deduction(session, demo, make_engagement):
    """The issue's thin engagement: one 不适用 indicator, no panel, no survey, an expert
    indicator typed by the team, and two deduction (扣分制) indicators nobody has assessed."""
    lead = demo["users"]["zhang.wei"]
    engagement = make_engagement(lead=lead)
    scoring.instantiate(session, lead, engagement, THIN_DEDUCTION)
    for code, data, na in (
        ("A1", LeafInput(score=Decimal(10)), False),
        ("A2", LeafInput(score=Decimal("7.335"), reason="部分指标未量化"), False),
        ("C1", LeafInput(score=Decimal("33.5"), reason="抽检有不合格批次"), False),
        ("D1", LeafInput(score=Decimal(20), reason="受益人口超过目标"), False),
        ("D2", LeafInput(), True),
    ):
        scoring.save_input(session, lead, engagement, code, data, not_applicable=na)
    session.commit()
    return engagement


def built_report(session, engagement):
    from workbench.reports.printed import printed_report

    context = build_context(session, engagement)
    data = render(context, bundled_path("project"))
    doc = Document(io.BytesIO(data))
    paragraphs = [p.text for p in doc.paragraphs]
    tables = [[[c.text for c in r.cells] for r in t.rows] for t in doc.tables]
    return context, paragraphs, tables, printed_report(data)


def test_thin_report_with_unassessed_deductions_reads_whole(thin_deduction, session, demo):
    from workbench.core.reportqa import check_placeholders, check_same_figures, check_text_total

    result = result_of(session, thin_deduction)
    assert result.not_applicable == ("D2",) and result.panel is None and not result.complete
    context, paragraphs, tables, printed = built_report(session, thin_deduction)
    # the deduction indicators print “尚未评价”, never full marks, in every place
    seen = leaf_occurrences(result, paragraphs, tables)
    for code in ("B1", "B2"):
        node = result.node(code)
        assert node.status is LeafStatus.UNASSESSED and seen[code] == {"尚未评价"}
        assert f"{node.name}（分值5.00分）。该指标尚未评价。" in "\n".join(paragraphs)
        annex = table_with(tables, "一级指标", "扣分原因")
        assert next(r for r in annex if r[2] == node.name)[3:6] == ["5.00", "尚未评价", "—"]
    for code, printed_scores in seen.items():
        if result.node(code).status is LeafStatus.SCORED:
            assert printed_scores == {result.node(code).printed_score}, code
    # no total is stated while indicators are unassessed, and no table states one either
    assert any(p.startswith("评价指标尚未全部评价，综合得分待定。") for p in paragraphs)
    dims = table_with(tables, "一级指标", "得分率")
    assert dims[-1][2] == "—" and ["过程", "10.00", "—", "—"] in dims
    assert "过程" not in context.charts["dimension_chart"].labels  # no 0.00 % bar
    # no panel: no expert-panel wording anywhere
    everything = "\n".join(paragraphs + [c for t in tables for r in t for c in r])
    assert "专家组" not in everything.replace("未经专家组评分", "")
    # each section of 五、六、七 says it has nothing in a sentence: no heading stands alone
    for heading, sentence in (
        ("（一）主要经验及做法", "本次评价未总结需要推广的主要经验及做法。"),
        ("（二）存在的问题及原因分析", "本次评价未发现需要说明的问题。"),
        ("六、有关建议", "本次评价未发现需要整改的问题，不提出建议。"),
        ("七、其他需要说明的问题", "本次评价无其他需要说明的问题。"),
    ):
        assert paragraphs[paragraphs.index(heading) + 1] == sentence
    problems = check_placeholders(printed) + check_same_figures(printed) + check_text_total(printed)
    assert not [p.message for p in problems if "标题下没有内容" in p.message or "表题" in p.message]
    assert check_same_figures(printed) == [] and check_text_total(printed) == []
    # the system as designed, then its applicable part
    assert (
        "设置4项一级指标、7项三级指标，满分100.00分，详见附件1。其中“群众满意度”指标不适用于"
        "本项目，不计入适用分值，适用的6项三级指标分值合计90.00分"
    ) in context.values["indicator_summary"]


def test_thin_report_once_the_deductions_are_assessed(thin_deduction, session, demo):
    lead = demo["users"]["zhang.wei"]
    for code, basis in (("B1", "抽查全部支出凭证，未发现违规事项"), ("B2", "合同、验收资料齐全")):
        scoring.save_input(
            session, lead, thin_deduction, code, LeafInput(no_deduction=True, reason=basis)
        )
    session.commit()
    result = result_of(session, thin_deduction)
    assert result.complete and result.printed_raw_total == "80.84"
    assert result.printed_total == "89.82"  # 80.84 × 100 ÷ 90
    context, paragraphs, tables, _printed = built_report(session, thin_deduction)
    assert_one_set_of_numbers(result, paragraphs, tables)
    assert "过程" in context.charts["dimension_chart"].labels
    b1 = next(p for p in paragraphs if p.startswith("1. 资金使用合规性（"))
    assert "得分5.00分" in b1 and "抽查全部支出凭证，未发现违规事项" in b1
    everything = "\n".join(paragraphs + [c for t in tables for r in t for c in r])
    assert "专家组" not in everything.replace("未经专家组评分", "")
