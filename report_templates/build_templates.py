"""Generate the bundled Word report templates (run it after changing this file):

    .venv/bin/python report_templates/build_templates.py

Writes ``project.docx`` (项目支出绩效评价报告), ``department.docx`` (部门整体支出绩效评价报告)
and ``summary-en.docx`` (English evaluation summary). They are ordinary Word files with
docxtpl (Jinja) tags: a firm can open one in Word, restyle it (the styles 正文, 标题 1–3,
评价表格 …), move or reword the fixed text and upload it as its own template. Every variable
is documented in ``docs/report-templates.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.reports.docxstyle import (
    add_field,
    centred,
    set_cn_font,
    update_fields_on_open,
)

HERE = Path(__file__).resolve().parent


def _styles(doc, english: bool = False) -> None:
    body_cn, head_cn, sub_cn = ("宋体", "黑体", "楷体") if english else ("仿宋", "黑体", "楷体")
    normal = doc.styles["Normal"]
    set_cn_font(normal, body_cn, "Times New Roman", 12 if english else 14)
    fmt = normal.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.MULTIPLE
    fmt.line_spacing = 1.5
    fmt.space_after = Pt(0)
    if not english:
        fmt.first_line_indent = Pt(28)  # two characters
    for name, font, size, bold in (
        ("Title", head_cn, 22, False),
        ("Heading 1", head_cn, 16, False),
        ("Heading 2", sub_cn, 16, True),
        ("Heading 3", body_cn, 14, True),
    ):
        style = doc.styles[name]
        set_cn_font(style, font, "Times New Roman", size, bold, "000000")
        style.paragraph_format.first_line_indent = Pt(0)
        style.paragraph_format.space_before = Pt(12 if name != "Heading 3" else 6)
        style.paragraph_format.space_after = Pt(6)
        style.paragraph_format.keep_with_next = True
        if name == "Title":
            style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
            ppr = style.element.pPr
            border = ppr.find(qn("w:pBdr")) if ppr is not None else None
            if border is not None:  # the default Title is underlined in blue: not official
                ppr.remove(border)
    cover = doc.styles.add_style("封面信息", WD_STYLE_TYPE.PARAGRAPH)
    cover.base_style = normal
    set_cn_font(cover, sub_cn, "Times New Roman", 16)
    cover.paragraph_format.first_line_indent = Pt(0)
    cover.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    table_text = doc.styles.add_style("表格文字", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = normal
    set_cn_font(table_text, "宋体", "Times New Roman", 10.5)
    table_text.paragraph_format.first_line_indent = Pt(0)
    table_text.paragraph_format.line_spacing = 1.0
    caption = doc.styles.add_style("表题", WD_STYLE_TYPE.PARAGRAPH)
    caption.base_style = normal
    set_cn_font(caption, head_cn, "Times New Roman", 12)
    caption.paragraph_format.first_line_indent = Pt(0)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.keep_with_next = True
    table = doc.styles.add_style("评价表格", WD_STYLE_TYPE.TABLE)
    table.base_style = doc.styles["Table Grid"]
    set_cn_font(table, "宋体", "Times New Roman", 10.5)


def _page(doc, mark: str = "{{ draft_mark }}") -> None:
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    section.different_first_page_header_footer = True  # the cover has no page number
    for header in (section.header.paragraphs[0], section.first_page_header.paragraphs[0]):
        header.text = mark
        header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer = centred(section.footer.paragraphs[0])
    footer.add_run("— ")
    add_field(footer, "PAGE", "1")
    footer.add_run(" —")


def _p(doc, text: str = "", style: str | None = None):
    return doc.add_paragraph(text, style=style)


def _loop(doc, head: str, body: list[tuple[str, str | None]], tail: str = "{%p endfor %}"):
    _p(doc, head)
    for text, style in body:
        _p(doc, text, style)
    _p(doc, tail)


def _cover(doc, title: str, english: bool = False, framed: bool = False) -> None:
    for _ in range(5):
        _p(doc)
    _p(doc, title, "Title")
    for _ in range(6):
        _p(doc)
    if english:
        lines = [
            "Commissioned by: {{ client }}",
            "Evaluator: {{ firm }}",
            "Report number: {{ en.report_no }}",
            "{{ report_date_en }}",
        ]
    elif framed:  # the project report: the cover a bureau files
        lines = [
            "委 托 方：{{ client }}",
            "被评价单位：{{ evaluated_units }}",
            "评价机构：{{ firm }}",
            "评价期间：{{ evaluation_period }}",
            "报告编号：{{ report_no }}",
            "{{ report_date }}",
        ]
    else:
        lines = [
            "委托方：{{ client }}",
            "评价机构：{{ firm }}",
            "报告编号：{{ report_no }}",
            "{{ report_date }}",
        ]
    for line in lines:
        _p(doc, line, "封面信息")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _toc(doc, heading: str) -> None:
    centred(_p(doc, heading, "Title"))
    add_field(_p(doc), 'TOC \\o "1-2" \\h \\z \\u', "（打开文档时更新目录）")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _none(doc, name: str) -> None:
    """The sentence a section prints when it has no items (no empty paragraph otherwise)."""
    _p(doc, "{%p if " + name + " %}")
    _p(doc, "{{ " + name + " }}")
    _p(doc, "{%p endif %}")


def _table(doc, caption: str, name: str) -> None:
    _p(doc, caption, "表题")
    _p(doc, "{{p " + name + " }}")


def _figure_style(doc) -> None:
    """图题: the caption under a chart (not 表题, which announces a table)."""
    figure = doc.styles.add_style("图题", WD_STYLE_TYPE.PARAGRAPH)
    figure.base_style = doc.styles["表题"]
    figure.paragraph_format.keep_with_next = False
    figure.paragraph_format.space_after = Pt(12)


def _statement(doc) -> None:
    """The project report's 报告声明: who provided the data and answers for it."""
    centred(_p(doc, "报告声明", "Title"))
    _p(doc, "{{ responsibility }}")
    _p(doc, "本报告仅供委托方用于预算绩效管理和评价结果应用，未经委托方同意不得用于其他用途。")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _basis(doc) -> None:
    doc.add_heading("（二）绩效评价依据", 2)
    _loop(doc, "{%p for b in basis %}", [("{{ loop.index }}. {{ b }}", None)])
    _none(doc, "basis_none")


def _team(doc) -> None:
    doc.add_heading("（五）评价工作组及专家", 2)
    _p(doc, "项目负责人：{{ team_lead }}")
    _p(doc, "项目组成员：{{ team_members }}")
    _p(doc, "复核人：{{ team_reviewers }}")
    _p(doc, "{%p if experts %}")
    _p(doc, "本次评价的评审专家名单如下。")
    _p(doc, "{%p endif %}")
    _loop(doc, "{%p for x in experts %}", [("{{ loop.index }}. {{ x }}", None)])
    _none(doc, "experts_none")


def _signature(doc) -> None:
    """The signature and seal page (after the main text, before the annexes)."""
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    centred(_p(doc, "签 字 页", "Title"))
    for _ in range(2):
        _p(doc)
    for line in (
        "项目负责人（签字）：________________",
        "复核人（签字）：________________",
        "",
        "评价机构：{{ firm }}（盖章）",
        "",
        "{{ report_date }}",
    ):
        _p(doc, line, "封面信息")
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def build_chinese(kind: str) -> Document:
    """The 项目支出 or 部门整体支出 report: the reference outline of 财预〔2020〕10号 附3."""
    department = kind == "department"
    doc = Document()
    _styles(doc)
    if not department:
        _figure_style(doc)
    _page(doc)
    _cover(
        doc,
        "{{ project_name }}部门整体支出绩效评价报告" if department else "{{ title }}",
        framed=not department,
    )
    if not department:
        _statement(doc)
    _toc(doc, "目  录")
    doc.add_heading("摘  要", 1)
    _p(doc, "{{ summary }}")
    _loop(doc, "{%p for item in key_findings %}", [("{{ loop.index }}. {{ item }}", None)])

    doc.add_heading("一、基本情况", 1)
    doc.add_heading("（一）部门（单位）概况" if department else "（一）项目概况", 2)
    _p(doc, "{{ overview }}")
    _p(doc, "{{ funds_text }}")
    _table(doc, "表1 资金投入和使用情况（单位：万元）", "funds_table")
    doc.add_heading("（二）部门整体绩效目标" if department else "（二）绩效目标", 2)
    _p(doc, "总体目标：{{ overall_goal }}")
    _p(doc, "年度目标：{{ annual_goal }}")
    _table(doc, "表2 绩效目标及完成情况", "goals_table")

    doc.add_heading("二、绩效评价工作开展情况", 1)
    doc.add_heading("（一）绩效评价目的、对象和范围", 2)
    _p(doc, "{{ purpose }}")
    _p(doc, "{{ scope }}")
    if not department:
        _basis(doc)
    doc.add_heading(
        "（二）绩效评价原则、评价指标体系、评价方法和评价标准"
        if department
        else "（三）绩效评价原则、评价指标体系、评价方法和评价标准",
        2,
    )
    _p(doc, "{{ principles }}")
    _p(doc, "{{ indicator_summary }}")
    _loop(doc, "{%p for m in methods %}", [("{{ m }}", None)])
    _p(doc, "{{ standards }}")
    doc.add_heading("（三）绩效评价工作过程" if department else "（四）绩效评价工作过程", 2)
    _loop(doc, "{%p for e in timeline %}", [("{{ e.date }}，{{ e.text }}", None)])
    if not department:
        _team(doc)

    doc.add_heading("三、综合评价情况及评价结论", 1)
    _p(doc, "{{ conclusion }}")
    _p(doc, "{%p if dimension_table %}")  # no caption without the table (no indicator system)
    _table(doc, "表3 评价得分情况", "dimension_table")
    _p(doc, "{%p endif %}")
    _p(doc, "{{ dimension_chart }}").alignment = WD_ALIGN_PARAGRAPH.CENTER
    if not department:
        _p(doc, "{%p if dimension_chart_caption %}")
        _p(doc, "{{ dimension_chart_caption }}", "图题")
        _p(doc, "{%p endif %}")
        _p(doc, "评价结果应用", "Heading 3")
        _p(doc, "{{ result_application }}")

    doc.add_heading("四、绩效评价指标分析", 1)
    _p(doc, "{%p for d in dimensions %}")
    doc.add_heading("{{ d.heading }}", 2)
    _p(doc, "{{ d.intro }}")
    _loop(doc, "{%p for i in d.indicators %}", [("{{ i }}", None)])
    _p(doc, "{%p endfor %}")

    doc.add_heading("五、主要经验及做法、存在的问题及原因分析", 1)
    doc.add_heading("（一）主要经验及做法", 2)
    _loop(
        doc,
        "{%p for x in experiences %}",
        [("{{ loop.index }}. {{ x.title }}。{{ x.text }}", None)],
    )
    _none(doc, "experiences_none")
    doc.add_heading("（二）存在的问题及原因分析", 2)
    _loop(
        doc,
        "{%p for x in problems %}",
        [
            ("{{ x.number }}. {{ x.title }}", "Heading 3"),
            ("{{ x.text }}", None),
            ("原因分析：{{ x.cause }}", None),
        ],
    )
    _none(doc, "problems_none")

    doc.add_heading("六、有关建议", 1)
    _loop(
        doc,
        "{%p for x in recommendations %}",
        [("{{ loop.index }}. {{ x.text }}（针对问题{{ x.problems }}）", None)],
    )
    _none(doc, "recommendations_none")

    doc.add_heading("七、其他需要说明的问题", 1)
    _loop(doc, "{%p for x in others %}", [("{{ loop.index }}. {{ x.title }}。{{ x.text }}", None)])
    _none(doc, "others_none")
    if not department:
        _signature(doc)

    doc.add_heading("附件", 1)
    doc.add_heading("附件1 绩效评价指标体系及评分表", 2)
    _p(doc, "{{p score_table }}")
    _p(doc, "{{ score_note }}")
    doc.add_heading("附件2 绩效目标完成情况表", 2)
    _p(doc, "{{p goals_table_annex }}")
    doc.add_heading("附件3 满意度调查分析", 2)
    _p(doc, "{%p for s in surveys %}")
    _p(doc, "{{ s.title }}", "Heading 3")
    _p(doc, "{{ s.text }}")
    _p(doc, "{{p s.table }}")
    _p(doc, "{{ s.chart }}").alignment = WD_ALIGN_PARAGRAPH.CENTER
    if not department:
        _p(doc, "{{ s.chart_caption }}", "图题")
    _p(doc, "{%p endfor %}")
    _p(doc, "{{ survey_none }}")
    doc.add_heading("附件4 专家评分汇总", 2)
    _p(doc, "{{ expert_text }}")
    _p(doc, "{{p expert_table }}")
    update_fields_on_open(doc)
    return doc


def build_english() -> Document:
    """A short English summary on OECD DAC lines, from the same data."""
    doc = Document()
    _styles(doc, english=True)
    _page(doc, "{{ en.draft_mark }}")
    _cover(doc, "{{ en.title }}", english=True)
    doc.add_heading("1. Summary", 1)
    _p(doc, "{{ en.summary }}")
    doc.add_heading("2. The project", 1)
    _p(doc, "{{ en.project }}")
    _table(doc, "Table 1. Funds (10,000 yuan)", "en.funds_table")
    doc.add_heading("3. Method", 1)
    _loop(doc, "{%p for m in en.methods %}", [("{{ m }}", None)])
    doc.add_heading("4. Findings by criterion", 1)
    _p(doc, "{%p if en.dimension_table %}")
    _table(doc, "Table 2. Scores by dimension", "en.dimension_table")
    _p(doc, "{%p endif %}")
    _p(doc, "{%p for d in en.dimensions %}")
    doc.add_heading("{{ d.heading }}", 2)
    _p(doc, "{{ d.text }}")
    _p(doc, "{%p endfor %}")
    doc.add_heading("5. Problems and recommendations", 1)
    _loop(doc, "{%p for x in en.problems %}", [("{{ x }}", None)])
    _loop(doc, "{%p for x in en.recommendations %}", [("Recommendation: {{ x }}", None)])
    return doc


def main() -> None:
    for name, doc in (
        ("project", build_chinese("project")),
        ("department", build_chinese("department")),
        ("summary-en", build_english()),
    ):
        path = HERE / f"{name}.docx"
        doc.core_properties.author = "Evaluation Workbench"
        doc.core_properties.title = name
        doc.save(path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
