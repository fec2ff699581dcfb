"""The Word report built from the demo engagement, read back with python-docx."""

import io
from decimal import Decimal

import pytest
from docx import Document
from docx.oxml.ns import qn

from workbench.core.reportqa import SumRule, TableSpec, check_sums, run_checks
from workbench.core.scoring import grade
from workbench.evaluation import result_of
from workbench.reports.context import build_context, grade_of
from workbench.reports.render import bundled_path, render
from workbench.scoring import services as scoring

OUTLINE = [
    "一、基本情况",
    "二、绩效评价工作开展情况",
    "三、综合评价情况及评价结论",
    "四、绩效评价指标分析",
    "五、主要经验及做法、存在的问题及原因分析",
    "六、有关建议",
    "七、其他需要说明的问题",
    "附件",
]


def numbers(text):
    return Decimal(text.replace(",", "").replace("%", ""))


@pytest.fixture
def built(demo, session):
    context = build_context(session, demo["engagement"])
    data = render(context, bundled_path("project"))
    return context, Document(io.BytesIO(data)), data


def test_demo_report_has_the_outline_the_engine_score_and_no_leftover_tags(built, demo, session):
    context, doc, _data = built
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for heading in OUTLINE:
        assert heading in headings, heading
    assert [h for h in headings if h.startswith("（")][:2] == ["（一）项目概况", "（二）绩效目标"]
    result = result_of(session, demo["engagement"])
    total = result.printed_total
    assert context.values["total"] == total and context.values["grade"] == result.grade
    body = "\n".join(p.text for p in doc.paragraphs)
    assert result.total_sentence_zh() == f"综合得分{total}分，评价等级为“{result.grade}”。"
    assert result.total_sentence_zh() in body
    assert "{{" not in body and "{%" not in body
    # every finding section carries the demo's content
    assert "部分绩效指标未细化量化" in body and "原因分析：" in body
    assert "加快竣工结算审核" in body and "（针对问题2）" in body
    # the methods are written from the data
    assert "3名专家" in body and "肯德尔和谐系数" in body and "有效问卷" in body


def test_printed_tables_add_up(built):
    _context, doc, _data = built
    funds = doc.tables[0]
    rows = [[c.text for c in r.cells] for r in funds.rows]
    assert rows[0][0] == "资金来源" and rows[-1][0] == "合计"
    for col in range(1, 5):
        parts = [numbers(r[col]) for r in rows[1:-1] if r[col] != "—"]
        assert sum(parts) == numbers(rows[-1][col])
    # the dimension table: scores of 决策/过程/产出/效益 add up to the total
    dims = next(
        t for t in doc.tables if t.rows[0].cells[0].text == "一级指标" and len(t.columns) == 4
    )
    body = [[c.text for c in r.cells] for r in dims.rows][1:]
    assert sum(numbers(r[2]) for r in body[:-1]) == numbers(body[-1][2])
    assert sum(numbers(r[1]) for r in body[:-1]) == Decimal(100)


def test_annex_score_table_repeats_its_header_and_merges_levels(built):
    _context, doc, _data = built
    annex = next(t for t in doc.tables if t.rows[0].cells[-1].text == "扣分原因")
    header = annex.rows[0]._tr
    assert header.trPr is not None and header.trPr.find(qn("w:tblHeader")) is not None
    merged = annex._tbl.xpath(".//w:vMerge")
    assert merged, "the level columns are merged"
    leaves = list(annex.rows[1:-1])
    scores = sum(numbers(r.cells[4].text) for r in leaves)
    assert scores == numbers(annex.rows[-1].cells[4].text)


def test_chinese_fonts_are_set_through_the_east_asian_attribute(built):
    _context, doc, _data = built
    fonts = {}
    for name in ("Normal", "Heading 1", "Heading 2", "Title"):
        rfonts = doc.styles[name].element.rPr.find(qn("w:rFonts"))
        fonts[name] = rfonts.get(qn("w:eastAsia"))
        assert rfonts.get(qn("w:asciiTheme")) is None
    assert fonts == {"Normal": "仿宋", "Heading 1": "黑体", "Heading 2": "楷体", "Title": "黑体"}
    settings = doc.settings.element.find(qn("w:updateFields"))
    assert settings is not None  # Word refreshes the table of contents on opening
    assert doc.inline_shapes, "the charts are embedded"


def test_qa_passes_on_the_demo_and_catches_broken_engagements(demo, session, make_engagement):
    context = build_context(session, demo["engagement"])
    assert run_checks(context.values, list(context.tables.values()), grade_of) == []
    empty = make_engagement(lead=demo["users"]["zhang.wei"])
    scoring.instantiate(
        session, demo["users"]["zhang.wei"], empty, scoring.bundled_templates()["project-2020"]
    )
    session.commit()
    broken = build_context(session, empty)
    checks = {p.check for p in run_checks(broken.values, list(broken.tables.values()), grade_of)}
    assert {"scored", "section"} <= checks
    # a grade that does not match the printed total, and a problem without a recommendation
    context.values["grade"] = "优" if context.values["grade"] != "优" else "差"
    context.values["problems"][0]["recommended"] = False
    checks = [p.check for p in run_checks(context.values, list(context.tables.values()), grade_of)]
    assert "grade" in checks and "recommend" in checks


def test_a_printed_total_that_does_not_add_up_is_caught():
    table = TableSpec(
        [["项目", "金额"]],
        [["甲", "1.10"], ["乙", "2.21"], ["合计", "3.30"]],
        sums=[SumRule(2, 1, [0, 1], "表1")],
    )
    assert [p.check for p in check_sums(table)] == ["sum"]
    table.rows[2][1] = "3.31"
    assert check_sums(table) == []
    assert grade(Decimal("89.995")) == "优"  # graded on the printed 90.00


def test_control_characters_from_users_do_not_break_the_document(demo, session):
    engagement = demo["engagement"]
    engagement.description = "项目概况含有\x0b控制字符\x1f"  # PostgreSQL itself refuses NUL
    session.commit()
    context = build_context(session, engagement)
    doc = Document(io.BytesIO(render(context, bundled_path("project"))))
    assert any("项目概况含有控制字符" in p.text for p in doc.paragraphs)


def test_department_and_english_templates_render(demo, session):
    context = build_context(session, demo["engagement"])
    dept = Document(io.BytesIO(render(context, bundled_path("department"))))
    assert "（一）部门（单位）概况" in [p.text for p in dept.paragraphs]
    english = Document(io.BytesIO(render(context, bundled_path("summary-en"))))
    text = "\n".join(p.text for p in english.paragraphs)
    assert f"scored {context.values['total']} of 100 points" in text
    assert "Relevance and design" in text
