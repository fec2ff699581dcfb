"""Read a built .docx back as the reader sees it, for the QA checks over the printed report
(:class:`~workbench.core.reportqa.PrintedReport`).

The body's paragraphs and tables in reading order: headings by their ``Heading N`` style (or
the paragraph's outline level), the cover and contents titles, table captions by the
template's 表题 style, pictures as paragraphs holding an image. Headers, footers and
footnotes are not read.
"""

from __future__ import annotations

import io

from docx import Document
from docx.oxml.ns import qn

from workbench.core.reportqa import Block, PrintedReport

CAPTION_STYLES = ("表题", "Caption", "题注")


def _style_names(document) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Paragraph style id → name, read once (python-docx's ``paragraph.style`` walks the
    whole style list on every call: seconds on a long report)."""
    names = {}
    for style in document.styles.element.iterchildren(qn("w:style")):
        name = style.find(qn("w:name"))
        names[style.get(qn("w:styleId"))] = name.get(qn("w:val")) if name is not None else ""
    return names


def _level(style: str, ppr) -> int:  # type: ignore[no-untyped-def]
    """1, 2, … for a heading (its style, or the paragraph's own outline level), else 0."""
    lowered = style.lower()
    for prefix in ("heading ", "标题 "):
        if lowered.startswith(prefix) and lowered[len(prefix) :].strip().isdigit():
            return int(lowered[len(prefix) :])
    outline = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
    value = outline.get(qn("w:val")) if outline is not None else None
    if value is not None and value.isdigit() and int(value) < 9:
        return int(value) + 1
    return 0


_T, _TAB, _BR, _CR = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr")


def _text(p) -> str:  # type: ignore[no-untyped-def]
    """A paragraph's text as python-docx's ``paragraph.text`` gives it (tab, line break),
    without its compiled XPath per run (a third of a second on a long report)."""
    out = []
    for node in p.iter(_T, _TAB, _BR, _CR):
        if node.tag == _T:
            out.append(node.text or "")
        elif node.tag == _TAB:
            out.append("\t")
        else:
            out.append("\n")
    return "".join(out)


def _rows(tbl) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Each row's cells as printed: a vertically merged cell prints its text once, in the
    first row of the merge (python-docx repeats it in every row it spans); a cell spanning
    columns fills each of them."""
    rows = []
    for tr in tbl.iterchildren(qn("w:tr")):
        cells = []
        for tc in tr.iterchildren(qn("w:tc")):
            tcpr = tc.find(qn("w:tcPr"))
            merge = tcpr.find(qn("w:vMerge")) if tcpr is not None else None
            span = tcpr.find(qn("w:gridSpan")) if tcpr is not None else None
            continued = merge is not None and merge.get(qn("w:val")) in (None, "continue")
            text = "" if continued else "\n".join(_text(p) for p in tc.iterchildren(qn("w:p")))
            width = span.get(qn("w:val")) if span is not None else "1"
            cells.extend([text] * (int(width) if (width or "").isdigit() and int(width) else 1))
        rows.append(cells)
    return rows


def printed_report(data: bytes) -> PrintedReport:
    """The body of the .docx ``data`` as :class:`Block`\\ s."""
    document = Document(io.BytesIO(data))
    styles = _style_names(document)
    default = next(
        (
            styles.get(s.get(qn("w:styleId")), "")
            for s in document.styles.element.iterchildren(qn("w:style"))
            if s.get(qn("w:type")) == "paragraph" and s.get(qn("w:default")) in ("1", "true")
        ),
        "Normal",
    )
    blocks: list[Block] = []
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:p"):
            text = _text(element)
            ppr = element.pPr
            style_id = ppr.pStyle.val if ppr is not None and ppr.pStyle is not None else None
            style = styles.get(style_id, "") if style_id else default
            level = _level(style, ppr)
            if style == "Title":
                blocks.append(Block("title", text))
            elif level:
                blocks.append(Block.heading(level, text))
            elif style in CAPTION_STYLES:
                blocks.append(Block.caption(text))
            else:
                image = any(True for _ in element.iter(qn("w:drawing"), qn("w:pict")))
                blocks.append(Block.para(text, image=image))
        elif element.tag == qn("w:tbl"):
            blocks.append(Block.table(_rows(element)))
    return PrintedReport(blocks)
