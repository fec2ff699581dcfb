"""Render a report context into a Word template (docxtpl), with tables and charts.

Tables are built with python-docx as subdocuments in the template's own styles (表格文字,
评价表格), header rows repeat on every page and indicator levels merge vertically; charts are
matplotlib PNGs with a bundled CJK font (no tofu boxes whatever the machine has installed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm
from docxtpl import DocxTemplate, InlineImage

from workbench.core.reportqa import TableSpec
from workbench.reports.context import Chart, ReportContext
from workbench.reports.docxstyle import clean_text, repeat_header, set_cell_shading

BUNDLED = Path(__file__).resolve().parents[2] / "report_templates"
TEMPLATES = {
    "project": "项目支出绩效评价报告",
    "department": "部门整体支出绩效评价报告",
    "summary-en": "Evaluation summary (English)",
}


def bundled_path(name: str) -> Path:
    if name not in TEMPLATES:
        raise KeyError(name)
    return BUNDLED / f"{name}.docx"


@lru_cache(maxsize=1)
def _font_files() -> tuple[str, ...]:
    """The bundled Noto SC faces (pylopdf-fonts-zh-cn), registered with matplotlib once."""
    import pylopdf_fonts_zh_cn
    from matplotlib import font_manager

    folder = Path(pylopdf_fonts_zh_cn.__file__).parent
    files = tuple(str(p) for p in sorted(folder.glob("*.otf")))
    for f in files:
        font_manager.fontManager.addfont(f)
    return files


def chart_png(chart: Chart) -> bytes:
    """A horizontal bar chart (stacked for Likert shares) as a 200-dpi PNG."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    _font_files()
    colours = ["#1a7f37", "#7cc47f", "#c9ced6", "#f0a35e", "#cf222e"]
    height = 0.5 + 0.45 * max(1, len(chart.labels))
    with plt.rc_context({"font.family": ["Noto Sans SC", "sans-serif"], "font.size": 10}):
        fig, ax = plt.subplots(figsize=(6.3, height), dpi=200)
        labels = [clean_text(x) for x in chart.labels][::-1]
        left = [0.0] * len(labels)
        for k, (name, values) in enumerate(chart.series.items()):
            vals = list(values)[::-1]
            bars = ax.barh(
                labels,
                vals,
                left=left if chart.stacked else None,
                color=colours[k % len(colours)] if chart.stacked else "#2f5597",
                label=name,
            )
            if not chart.stacked:
                ax.bar_label(bars, labels=[f"{v:.2f}%" for v in vals], padding=3, fontsize=9)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_xlim(0, chart.max_value * (1.0 if chart.stacked else 1.12))
        ax.spines[["top", "right"]].set_visible(False)
        if chart.stacked:  # legend under the title, above the bars: never over the axis
            ax.set_title(chart.title, fontsize=11, pad=24)
            ax.legend(
                ncol=5, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False
            )
        else:
            ax.set_title(chart.title, fontsize=11)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        plt.close(fig)
    return out.getvalue()


def _table(tpl: DocxTemplate, spec: TableSpec):  # type: ignore[no-untyped-def]
    """A subdocument holding one table in the template's table styles."""
    sub = tpl.new_subdoc()
    columns = max(len(r) for r in [*spec.headers, *spec.rows])
    table = sub.add_table(rows=0, cols=columns)
    styles = {s.name for s in sub.styles}
    if "评价表格" in styles:
        table.style = sub.styles["评价表格"]
    else:
        table.style = sub.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # looked up once: python-docx searches the whole style list on every lookup by name
    paragraph_style = sub.styles["表格文字"] if "表格文字" in styles else None

    def fill(row, values: list[str], header: bool, bold: bool) -> None:  # type: ignore[no-untyped-def]
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
    for col in spec.merge_columns:  # merge equal consecutive cells (indicator levels)
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
    scale = 15.6 / sum(widths)  # the text block of an A4 page with these margins
    table.autofit = False
    for i, column in enumerate(table.columns):  # w:gridCol (LibreOffice reads these)
        column.width = Cm(widths[i] * scale) if i < len(widths) else Cm(2)
    for row in table.rows:
        for i, cell in enumerate(row.cells):  # w:tcW (Word reads these)
            if i < len(widths):
                cell.width = Cm(widths[i] * scale)
    tblpr = table._tbl.tblPr
    old = tblpr.find(qn("w:tblW"))
    if old is not None:
        tblpr.remove(old)
    width = OxmlElement("w:tblW")
    width.set(qn("w:w"), str(int(15.6 * 567)))  # twentieths of a point
    width.set(qn("w:type"), "dxa")
    anchor = tblpr.find(qn("w:jc"))  # the schema wants tblW right before jc
    if anchor is not None:
        anchor.addprevious(width)
    else:
        tblpr.append(width)
    return sub


def render(context: ReportContext, template: Path, extra: Mapping[str, Any] | None = None) -> bytes:
    """Fill ``template`` with ``context``; returns the .docx bytes."""
    return render_bytes(context, template.read_bytes(), extra)


def render_bytes(
    context: ReportContext, template: bytes, extra: Mapping[str, Any] | None = None
) -> bytes:
    """:func:`render` from the template's bytes (an uploaded file being checked)."""
    tpl = DocxTemplate(io.BytesIO(template))
    values: dict[str, Any] = dict(context.values)
    values["en"] = dict(values.get("en") or {})  # the context is not changed by rendering
    subdocs = {name: _table(tpl, spec) for name, spec in context.tables.items()}
    images = {
        name: InlineImage(tpl, io.BytesIO(chart_png(chart)), width=Mm(150))
        for name, chart in context.charts.items()
    }
    for name, sub in subdocs.items():
        if name.startswith("en."):
            values.setdefault("en", {})[name[3:]] = sub
        else:
            values[name] = sub
    values.update(images)
    values.setdefault("dimension_chart", "")
    values["surveys"] = [
        {**s, "table": subdocs.get(s["table"], ""), "chart": images.get(s["chart"], "")}
        for s in context.values.get("surveys", [])
    ]
    for name in (
        "funds_table",
        "goals_table",
        "goals_table_annex",
        "score_table",
        "dimension_table",
        "expert_table",
    ):
        values.setdefault(name, "")
    values.update(extra or {})
    tpl.render(values, autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()
