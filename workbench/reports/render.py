"""Render a report context into a Word template (docxtpl), with tables and charts.

Tables are written as WordprocessingML in the template's own styles (表格文字, 评价表格) and
placed where the template's ``{{p …_table }}`` tags stand; header rows repeat on every page and
indicator levels merge vertically. Charts are matplotlib PNGs with a bundled CJK font (no tofu
boxes whatever the machine has installed).
"""

from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from docx.enum.style import WD_STYLE_TYPE
from docx.shared import Cm, Emu, Inches, Mm
from docxtpl import DocxTemplate, InlineImage
from markupsafe import Markup

from workbench.core.reportqa import TableSpec
from workbench.reports import sandbox
from workbench.reports.context import Chart, ReportContext
from workbench.reports.docxstyle import clean_text

BUNDLED = Path(__file__).resolve().parents[2] / "report_templates"
TEMPLATES = {
    "project": "项目支出绩效评价报告",
    "department": "部门整体支出绩效评价报告",
    "summary-en": "Evaluation summary (English)",
}


#: the variables every render provides, empty when the engagement has no such table or chart
RENDER_DEFAULTS = (
    "funds_table",
    "goals_table",
    "goals_table_annex",
    "score_table",
    "dimension_table",
    "expert_table",
    "dimension_chart",
)
#: the same for the English summary's tables (``en.…``)
EN_RENDER_DEFAULTS = ("funds_table", "dimension_table")


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


#: chart images each process remembers (least recently used dropped first): a report is built
#: again and again (preview, PDF, QA, issue) with the same charts, and each costs ~0.1 s
CHART_MEMO = 32
_CHART_PNGS: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_CHART_LOCK = threading.Lock()


def chart_png(chart: Chart) -> bytes:
    """A horizontal bar chart (stacked for Likert shares) as a 200-dpi PNG.

    The image is a function of the chart's data alone, so it is remembered by that data
    (the last :data:`CHART_MEMO` of them; :func:`clear_chart_memo` forgets them). The key
    holds every value's ``repr``: ``0.0`` and ``-0.0``, or ``1`` and ``True``, compare equal
    but print differently.
    """
    key = (
        repr(chart.title),
        tuple(map(repr, chart.labels)),
        tuple((repr(name), tuple(map(repr, values))) for name, values in chart.series.items()),
        chart.stacked,
        repr(chart.max_value),
    )
    with _CHART_LOCK:
        png = _CHART_PNGS.get(key)
        if png is not None:
            _CHART_PNGS.move_to_end(key)
            return png
    png = _draw_chart(chart)
    with _CHART_LOCK:
        _CHART_PNGS[key] = png
        while len(_CHART_PNGS) > CHART_MEMO:
            _CHART_PNGS.popitem(last=False)
    return png


def clear_chart_memo() -> None:
    """Forget the remembered chart images (benchmarks time the first build of a report)."""
    with _CHART_LOCK:
        _CHART_PNGS.clear()


def _draw_chart(chart: Chart) -> bytes:
    """Draw on its own Agg canvas (``Figure``, not pyplot: no global figure registry or
    backend switch, nothing to close)."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _font_files()
    colours = ["#1a7f37", "#7cc47f", "#c9ced6", "#f0a35e", "#cf222e"]
    height = 0.5 + 0.45 * max(1, len(chart.labels))
    with rc_context({"font.family": ["Noto Sans SC", "sans-serif"], "font.size": 10}):
        fig = Figure(figsize=(6.3, height), dpi=200)
        canvas = FigureCanvasAgg(fig)
        ax = fig.subplots()
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
        canvas.draw()
    return _png(canvas)


def _png(canvas) -> bytes:  # type: ignore[no-untyped-def]
    """The drawn canvas as a PNG, the pixels ``savefig`` writes: the figure is opaque (white
    face), so RGB loses nothing of RGBA, and zlib level 3 compresses these flat images as
    well as the default in about half the time."""
    from PIL import Image

    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    out = io.BytesIO()
    image.convert("RGB").save(out, format="png", compress_level=3)
    return out.getvalue()


# python-docx's default page (what ``new_subdoc().add_table`` used to size every new cell by)
_SUBDOC_BLOCK_WIDTH = Inches(6)
_TEXT_WIDTH_CM = 15.6  # the text block of an A4 page with these margins
_HEADER_FILL = "D9E2F3"
_RUN_SPECIALS = re.compile(r"([\t\r\n])")
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class TableStyles:
    """The style ids the tables use, looked up once per template (python-docx scans the
    whole style list on every lookup by name)."""

    table: str | None  # w:tblStyle (None: the template's default table style)
    paragraph: str | None  # w:pStyle of every cell paragraph
    paragraph_set: bool  # False: the template has no 表格文字, cells keep Normal

    @classmethod
    def of(cls, document) -> TableStyles:  # type: ignore[no-untyped-def]
        styles = document.styles
        names = {s.name for s in styles}
        table = styles["评价表格"] if "评价表格" in names else styles["Table Grid"]
        part = document.part
        paragraph = None
        if "表格文字" in names:
            paragraph = part.get_style_id(styles["表格文字"], WD_STYLE_TYPE.PARAGRAPH)
        return cls(
            table=part.get_style_id(table, WD_STYLE_TYPE.TABLE),
            paragraph=paragraph,
            paragraph_set="表格文字" in names,
        )


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _run_content(text: str) -> str:
    """What python-docx's ``run.text = text`` writes: a tab is ``w:tab``, a line break
    ``w:br``, the rest ``w:t`` (spaces at either end preserved)."""
    out = []
    for piece in _RUN_SPECIALS.split(text):
        if not piece:
            continue
        if piece == "\t":
            out.append("<w:tab/>")
        elif piece in ("\r", "\n"):
            out.append("<w:br/>")
        else:
            space = ' xml:space="preserve"' if len(piece.strip()) < len(piece) else ""
            out.append(f"<w:t{space}>{escape(piece)}</w:t>")
    return "".join(out)


def _merges(spec: TableSpec) -> dict[tuple[int, int], str]:
    """``(body row, column)`` → "restart" / "continue" for the vertically merged cells:
    equal consecutive cells of a merge column (and of every merge column left of it), never
    into a bold (total) row."""
    state: dict[tuple[int, int], str] = {}
    rows = spec.rows
    for col in spec.merge_columns:
        start = 0
        for k in range(1, len(rows) + 1):
            same = (
                k < len(rows)
                and rows[k][col] == rows[start][col]
                and k not in spec.bold_rows
                and all(rows[k][c] == rows[start][c] for c in spec.merge_columns if c < col)
            )
            if same:
                continue
            if k - start > 1:
                state[(start, col)] = "restart"
                for j in range(start + 1, k):
                    state[(j, col)] = "continue"
            start = k
    return state


def table_xml(spec: TableSpec, styles: TableStyles) -> Markup:
    """One table as WordprocessingML, in the template's table styles: header rows shaded,
    bold and repeated on every page, numbers right-aligned, indicator levels merged
    vertically, fixed column widths on the A4 text block.

    Written as a string in one pass (row templates per column), not cell by cell through
    python-docx objects; the XML is the one python-docx wrote, element for element
    (``tests/reports/test_table_xml.py`` holds the two side by side).
    """
    columns = max(len(r) for r in [*spec.headers, *spec.rows])
    widths = spec.widths or [1.0] * columns
    scale = _TEXT_WIDTH_CM / sum(widths)
    # cells past the given widths, and merged-away cells, keep the width they were made with
    initial = Emu(_SUBDOC_BLOCK_WIDTH // columns).twips
    given = [Cm(widths[i] * scale).twips for i in range(min(columns, len(widths)))]
    grid = given + [Cm(2).twips] * (columns - len(given))
    cell_widths = given + [initial] * (columns - len(given))

    def ppr(jc: str | None) -> str:
        inner = (f'<w:pStyle w:val="{_attr(styles.paragraph)}"/>' if styles.paragraph else "") + (
            f'<w:jc w:val="{jc}"/>' if jc else ""
        )
        return f"<w:pPr>{inner}</w:pPr>" if inner or styles.paragraph_set else ""

    tcw = [f'<w:tcW w:type="dxa" w:w="{w}"/>' for w in cell_widths]
    header_cells = [
        f'<w:tc><w:tcPr>{w}<w:shd w:val="clear" w:color="auto" w:fill="{_HEADER_FILL}"/>'
        f"</w:tcPr><w:p>{ppr('center')}<w:r><w:rPr><w:b/></w:rPr>"
        for w in tcw
    ]
    body_ppr = [ppr("right" if i in spec.numeric_columns else None) for i in range(columns)]
    body_cells = [
        f"<w:tc><w:tcPr>{w}</w:tcPr><w:p>{p}<w:r>" for w, p in zip(tcw, body_ppr, strict=True)
    ]
    bold, plain = "<w:rPr><w:b/></w:rPr>", '<w:rPr><w:b w:val="0"/></w:rPr>'
    end = "</w:r></w:p></w:tc>"
    continued = (
        f'<w:tc><w:tcPr><w:tcW w:type="dxa" w:w="{initial}"/><w:vMerge/></w:tcPr><w:p/></w:tc>'
    )

    out = [
        "<w:tbl><w:tblPr>",
        f'<w:tblStyle w:val="{_attr(styles.table)}"/>' if styles.table else "",
        f'<w:tblW w:w="{int(_TEXT_WIDTH_CM * 567)}" w:type="dxa"/>',  # twentieths of a point
        '<w:jc w:val="center"/><w:tblLayout w:type="fixed"/>',
        '<w:tblLook w:firstColumn="1" w:firstRow="1" w:lastColumn="0" w:lastRow="0" '
        'w:noHBand="0" w:noVBand="1" w:val="04A0"/></w:tblPr><w:tblGrid>',
        *(f'<w:gridCol w:w="{w}"/>' for w in grid),
        "</w:tblGrid>",
    ]
    for values in spec.headers:
        out.append('<w:tr><w:trPr><w:tblHeader w:val="true"/></w:trPr>')
        for i in range(columns):
            text = clean_text(values[i]) if i < len(values) else ""
            out += (header_cells[i], _run_content(text), end)
        out.append("</w:tr>")
    merges = _merges(spec)
    bold_rows = set(spec.bold_rows)
    for k, values in enumerate(spec.rows):
        out.append("<w:tr>")
        weight = bold if k in bold_rows else plain
        for i in range(columns):
            merge = merges.get((k, i)) if merges else None
            if merge == "continue":
                out.append(continued)
                continue
            text = clean_text(values[i]) if i < len(values) else ""
            if merge == "restart":  # the merged cell's text, in a run of its own
                content = _run_content(text)
                run = f"<w:r>{content}</w:r>" if content else "<w:r/>"
                out.append(
                    f'<w:tc><w:tcPr>{tcw[i]}<w:vMerge w:val="restart"/></w:tcPr>'
                    f"<w:p>{body_ppr[i]}<w:r/>{run}</w:p></w:tc>"
                )
                continue
            out += (body_cells[i], weight, _run_content(text), end)
        out.append("</w:tr>")
    out.append("</w:tbl>")
    xml = "".join(out)
    if _NOT_XML.search(xml):
        raise ValueError("All strings must be XML compatible: no lone surrogates or U+FFFE/F")
    return Markup(xml)


_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


class _Template(DocxTemplate):  # type: ignore[misc]
    """docxtpl's template, rendering each footnotes part once.

    docxtpl 0.20 renders the footnotes once per *section*: in a document of two sections the
    second pass treated the filled-in data (a finding someone typed with ``{{ … }}`` in it)
    as template text."""

    def render_footnotes(self, context: dict[str, Any], jinja_env: Any = None) -> None:
        for part in self.docx.part.package.parts:
            if part.content_type == _FOOTNOTES:
                blob = part.blob.decode("utf-8") if isinstance(part.blob, bytes) else part.blob
                xml = self.render_xml_part(self.patch_xml(blob), part, context, jinja_env)
                part._blob = xml.encode("utf-8")


def render(context: ReportContext, template: Path, extra: Mapping[str, Any] | None = None) -> bytes:
    """Fill ``template`` with ``context``; returns the .docx bytes."""
    return render_bytes(context, template.read_bytes(), extra)


def render_bytes(
    context: ReportContext,
    template: bytes,
    extra: Mapping[str, Any] | None = None,
    *,
    seconds: float = sandbox.MAX_SECONDS,
) -> bytes:
    """:func:`render` from the template's bytes (an uploaded file being checked).

    Every part docxtpl renders (body, headers, footers, footnotes, core properties) runs in
    the report sandbox (:mod:`workbench.reports.sandbox`) under one budget; a template that
    oversteps it raises :class:`~workbench.reports.sandbox.TemplateRefused`.
    """
    tpl = _Template(io.BytesIO(template))
    values: dict[str, Any] = dict(context.values)
    values["en"] = dict(values.get("en") or {})  # the context is not changed by rendering
    tables: dict[str, Markup] = {}
    if context.tables:  # the styles are looked up only for tables, as python-docx did
        styles = TableStyles.of(tpl.get_docx())
        tables = {name: table_xml(spec, styles) for name, spec in context.tables.items()}
    images = {
        name: InlineImage(tpl, io.BytesIO(chart_png(chart)), width=Mm(150))
        for name, chart in context.charts.items()
    }
    for name, sub in tables.items():
        if name.startswith("en."):
            values.setdefault("en", {})[name[3:]] = sub
        else:
            values[name] = sub
    values.update(images)
    values["surveys"] = [
        {**s, "table": tables.get(s["table"], ""), "chart": images.get(s["chart"], "")}
        for s in context.values.get("surveys", [])
    ]
    for name in RENDER_DEFAULTS:
        values.setdefault(name, "")
    for name in EN_RENDER_DEFAULTS:
        values["en"].setdefault(name, "")
    values.update(extra or {})
    with sandbox.budget(seconds=seconds):
        tpl.render(values, jinja_env=sandbox.ENV)  # autoescaping: ENV's own, always on
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()
