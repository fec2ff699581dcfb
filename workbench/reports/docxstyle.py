"""Chinese official typography for python-docx documents (no Flask).

Word and WPS pick Chinese glyphs from the East Asian font attribute (``w:eastAsia``), and a
style's theme fonts (``w:asciiTheme`` …) override explicit names, so both are handled here.
Body text is 仿宋, headings 黑体 / 楷体, tables 宋体 — the look of a government report.
"""

from __future__ import annotations

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor

from workbench.core.numbers import clean_text as _clean

_THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def clean_text(value: object) -> str:
    """User text made safe for a .docx: control characters that break the XML are removed.

    >>> clean_text("资金\\x00到位\\x1f率")
    '资金到位率'
    """
    return _clean(value)


def set_cn_font(
    target,  # a style or a run
    east_asia: str,
    latin: str = "Times New Roman",
    size: float | None = None,
    bold: bool | None = None,
    color: str | None = None,
) -> None:
    """Set the Chinese (East Asian) and Latin fonts of a style or run, dropping theme fonts."""
    font = target.font
    font.name = latin
    if size is not None:
        font.size = Pt(size)
    if bold is not None:
        font.bold = bold
    if color is not None:
        font.color.rgb = RGBColor.from_string(color)
    rpr = target.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:  # never `or`: an lxml element without children is falsy
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in _THEME_ATTRS:
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:eastAsia"), east_asia)
    rfonts.set(qn("w:hint"), "eastAsia")  # full-width “ ” — in the Chinese font
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def set_cell_shading(cell, fill: str) -> None:
    """Background colour of a table cell (hex, e.g. "D9E2F3")."""
    tcpr = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    tcpr.append(shading)


def repeat_header(row) -> None:
    """Repeat this table row at the top of every page the table runs onto."""
    trpr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def no_split(row) -> None:
    """Keep a table row on one page."""
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))


def add_field(paragraph, instruction: str, placeholder: str = "") -> None:
    """A Word field (PAGE, NUMPAGES, TOC …) whose result Word computes."""
    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    begin.set(qn("w:dirty"), "true")
    run._r.append(begin)
    run = paragraph.add_run()
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run._r.append(instr)
    run = paragraph.add_run()
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    run._r.append(separate)
    paragraph.add_run(placeholder)
    run = paragraph.add_run()
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(end)


def update_fields_on_open(document) -> None:
    """Ask Word to refresh fields (the table of contents) when the file is opened."""
    settings = document.settings.element
    flag = settings.find(qn("w:updateFields"))
    if flag is None:
        flag = OxmlElement("w:updateFields")
        settings.append(flag)
    flag.set(qn("w:val"), "true")


def centred(paragraph):
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return paragraph
