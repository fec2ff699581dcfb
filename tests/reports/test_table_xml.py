"""Report tables written as XML in one pass are the tables python-docx built cell by cell.

``table_xml`` replaced a python-docx builder (a subdocument per table, ``cell.text`` and a
style lookup per cell, ``Cell.merge`` per merged run) that cost about 1 s for a large
engagement's tables. The old builder is kept here, unchanged, as the oracle: for any table
the two must give the same WordprocessingML, element for element and attribute for attribute.
"""

import io
import re

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm
from docxtpl import DocxTemplate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from workbench.core.reportqa import TableSpec
from workbench.reports.docxstyle import clean_text, repeat_header, set_cell_shading
from workbench.reports.render import TableStyles, bundled_path, table_xml


def python_docx_table(tpl: DocxTemplate, spec: TableSpec):
    """The former ``render._table``, verbatim but for its return value (the table element)."""
    sub = tpl.new_subdoc()
    columns = max(len(r) for r in [*spec.headers, *spec.rows])
    table = sub.add_table(rows=0, cols=columns)
    styles = {s.name for s in sub.styles}
    if "评价表格" in styles:
        table.style = sub.styles["评价表格"]
    else:
        table.style = sub.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    paragraph_style = sub.styles["表格文字"] if "表格文字" in styles else None

    def fill(row, values, header, bold):
        for i, cell in enumerate(row.cells):
            text = clean_text(values[i]) if i < len(values) else ""
            para = cell.paragraphs[0]
            if paragraph_style is not None:
                para.style = paragraph_style
            run = para.add_run(text)
            run.bold = header or bold
            if header:
                para.alignment = WD_ALIGN_PARAGRAPH.CENTER
                set_cell_shading(cell, "D9E2F3")
            elif i in spec.numeric_columns:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    for values in spec.headers:
        row = table.add_row()
        fill(row, values, True, False)
        repeat_header(row)
    for k, values in enumerate(spec.rows):
        fill(table.add_row(), values, False, k in spec.bold_rows)
    offset = len(spec.headers)
    for col in spec.merge_columns:
        start = 0
        for k in range(1, len(spec.rows) + 1):
            same = (
                k < len(spec.rows)
                and spec.rows[k][col] == spec.rows[start][col]
                and k not in spec.bold_rows
                and all(
                    spec.rows[k][c] == spec.rows[start][c] for c in spec.merge_columns if c < col
                )
            )
            if same:
                continue
            if k - start > 1:
                top = table.cell(offset + start, col)
                bottom = table.cell(offset + k - 1, col)
                merged = top.merge(bottom)
                text = clean_text(spec.rows[start][col])
                for para in merged.paragraphs[1:]:
                    para._p.getparent().remove(para._p)
                merged.paragraphs[0].text = ""
                merged.paragraphs[0].add_run(text)
            start = k
    widths = spec.widths or [1.0] * columns
    scale = 15.6 / sum(widths)
    table.autofit = False
    for i, column in enumerate(table.columns):
        column.width = Cm(widths[i] * scale) if i < len(widths) else Cm(2)
    for row in table.rows:
        for i, cell in enumerate(row.cells):
            if i < len(widths):
                cell.width = Cm(widths[i] * scale)
    tblpr = table._tbl.tblPr
    old = tblpr.find(qn("w:tblW"))
    if old is not None:
        tblpr.remove(old)
    width = OxmlElement("w:tblW")
    width.set(qn("w:w"), str(int(15.6 * 567)))
    width.set(qn("w:type"), "dxa")
    anchor = tblpr.find(qn("w:jc"))
    if anchor is not None:
        anchor.addprevious(width)
    else:
        tblpr.append(width)
    return table._tbl


def canonical(element) -> str:
    """Canonical XML without namespace declarations (python-docx puts all of its own on
    every element it makes; the document declares them once)."""
    return re.sub(r' xmlns:\w+="[^"]*"', "", etree.tostring(element, method="c14n").decode())


def written(markup: str):
    body = etree.fromstring(f"<w:body {nsdecls('w')}>{markup}</w:body>")
    (table,) = body
    return table


def template(kind: str) -> DocxTemplate:
    if kind == "project":
        return DocxTemplate(bundled_path("project"))
    out = io.BytesIO()  # a bare template: no 表格文字, no 评价表格 (falls back to Table Grid)
    Document().save(out)
    return DocxTemplate(io.BytesIO(out.getvalue()))


TEMPLATES = {kind: template(kind) for kind in ("project", "bare")}
STYLES = {kind: TableStyles.of(tpl.get_docx()) for kind, tpl in TEMPLATES.items()}


def assert_same(kind: str, spec: TableSpec) -> None:
    expected = canonical(python_docx_table(TEMPLATES[kind], spec))
    assert canonical(written(table_xml(spec, STYLES[kind]))) == expected


def test_score_table_with_merged_levels_bold_total_and_numbers_matches_python_docx():
    spec = TableSpec(
        headers=[["一级指标", "二级指标", "三级指标", "分值", "得分", "得分率", "扣分原因"]],
        rows=[
            ["决策", "项目立项", "立项依据充分性", "3.00", "3.00", "100.00%", "—"],
            ["决策", "项目立项", "立项程序规范性", "2.00", "1.60", "80.00%", "未经集体决策"],
            ["决策", "绩效目标", "目标合理性", "3.00", "3.00", "100.00%", "—"],
            ["过程", "绩效目标", "资金到位率", "3.00", "3.00", "100.00%", "—"],
            ["过程", "资金管理", "资金使用合规性", "4.00", "4.00", "100.00%", "—"],
            ["合计", "", "", "15.00", "14.60", "97.33%", ""],
        ],
        widths=[1.4, 1.8, 3.0, 1.6, 1.6, 2.0, 4.2],
        merge_columns=[0, 1],
        bold_rows=[5],
        numeric_columns=[3, 4, 5],
    )
    xml = table_xml(spec, STYLES["project"])
    # 决策 spans rows 0-2, 过程 rows 3-4 (not the total); 项目立项 rows 0-1; 绩效目标 does not
    # run on from 决策 into 过程
    assert xml.count('<w:vMerge w:val="restart"/>') == 3
    assert xml.count("<w:vMerge/>") == 4
    assert xml.count('<w:tblHeader w:val="true"/>') == 1
    assert '<w:tblStyle w:val="评价表格"/>' in xml and '<w:pStyle w:val="表格文字"/>' in xml
    assert_same("project", spec)
    assert_same("bare", spec)


def test_text_that_needs_escaping_tabs_line_breaks_and_edge_spaces_matches_python_docx():
    spec = TableSpec(
        headers=[["A & B", "<题目>", " 前后空格 "]],
        rows=[
            ["R&D\t投入", "第一行\n第二行\r\n第三行", "“引号”'\"", "extra"],
            ["\x00控制\x1f字符", "", "  "],  # a short row: the missing cells are empty
        ],
        widths=[2.0, 3.0],  # fewer widths than columns
        numeric_columns=[1],
    )
    assert_same("project", spec)
    assert_same("bare", spec)


def test_control_characters_are_dropped_and_markup_is_escaped_in_the_written_xml():
    spec = TableSpec(headers=[["指标"]], rows=[["<w:p>a&b\x07</w:p>"]])
    (body_row,) = written(table_xml(spec, STYLES["project"])).findall(qn("w:tr"))[1:]
    assert "".join(body_row.itertext()) == "<w:p>a&b</w:p>"


cell_text = st.sampled_from(["决策", "过程", "产出", "", "—", "3.00", "a&b", " x", "y\tz", "1\n2"])


@st.composite
def table_specs(draw):
    columns = draw(st.integers(1, 6))
    headers = draw(
        st.lists(st.lists(cell_text, min_size=1, max_size=columns), min_size=1, max_size=2)
    )
    headers[0] = headers[0] + [""] * (columns - len(headers[0]))
    rows = draw(
        st.lists(
            st.lists(st.sampled_from(["甲", "乙", "", "x"]), min_size=columns, max_size=columns),
            max_size=10,
        )
    )
    column = st.integers(0, columns - 1)
    return TableSpec(
        headers=headers,
        rows=rows,
        widths=draw(st.lists(st.floats(0.5, 5.0), max_size=columns + 1)),
        merge_columns=draw(st.lists(column, max_size=2, unique=True)) if rows else [],
        bold_rows=draw(st.lists(st.integers(0, max(0, len(rows) - 1)), max_size=2)),
        numeric_columns=draw(st.lists(column, max_size=3, unique=True)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=table_specs(), kind=st.sampled_from(["project", "bare"]))
def test_any_table_is_written_as_python_docx_wrote_it(spec, kind):
    assert_same(kind, spec)
