"""Paper and Excel scoring sheets: download blank, upload filled (all or nothing)."""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from workbench.core.indicators import Indicator
from workbench.core.safefiles import SMALL_TABLE, UnsafeFile, check_xlsx
from workbench.xlsx import cell_text, safe_cell

HEADERS = ["编码", "指标", "满分", "得分", "评语（扣分时必填）", "评分标准"]
FIRST_DATA_ROW = 5


def sheet_workbook(
    title: str,
    expert: str,
    leaves: list[Indicator],
    values: dict[str, tuple[str, str]],
    step: Any = None,
) -> bytes:
    """An Excel sheet for one expert: rows 1–3 say what it is, the table starts at row 4."""
    wb = Workbook()
    ws = wb.active
    ws.title = "专家评分表"
    ws.append([safe_cell(f"{title} — 专家评分表")])
    ws.append([safe_cell(f"专家：{expert}")])
    step_text = f"、以 {format(step.normalize(), 'f')} 分为步长" if step else ""
    ws.append(
        [f"请在“得分”列填写 0 至满分之间{step_text}的分数；扣分时须填写评语。请勿修改编码列。"]
    )
    ws.append(HEADERS)
    for cell in ws[4]:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    ws["A1"].font = Font(bold=True, size=13)
    for leaf in leaves:
        score, comment = values.get(leaf.code, ("", ""))
        ws.append(
            [
                safe_cell(v)
                for v in (
                    leaf.code,
                    leaf.name,
                    leaf.weight,
                    float(score) if score else None,
                    comment,
                    leaf.criteria,
                )
            ]
        )
    last = FIRST_DATA_ROW + len(leaves) - 1
    if leaves:
        # Excel checks each score against its own maximum (column C) as it is typed
        check = DataValidation(
            type="decimal",
            operator="between",
            formula1="0",
            formula2=f"C{FIRST_DATA_ROW}",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="得分超出范围",
            error="请输入 0 至满分之间的数字",
        )
        ws.add_data_validation(check)
        check.add(f"D{FIRST_DATA_ROW}:D{last}")
    for col, width in zip("ABCDEF", (8, 24, 8, 8, 40, 60), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=FIRST_DATA_ROW):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class OfflineSheetError(ValueError):
    """The uploaded sheet is not a filled copy of this expert's sheet."""

    def __init__(self, problems: list[tuple[int | None, str]]) -> None:
        super().__init__("offline_sheet_invalid")
        self.problems = problems  # (row or None, message code)


def read_sheet(data: bytes, codes: list[str]) -> tuple[dict[str, tuple[str, str]], dict[str, int]]:
    """Values per indicator code from an uploaded sheet, and the row each came from."""
    try:
        check_xlsx(data, SMALL_TABLE)  # before openpyxl: bombs and oversized sheets
    except UnsafeFile as exc:
        raise OfflineSheetError([(None, f"unsafe:{exc}")]) from exc
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on broken files
        raise OfflineSheetError([(None, "not_xlsx")]) from exc
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    header_row = next(
        (i for i, r in enumerate(rows) if r and "编码" in [str(c or "").strip() for c in r]), None
    )
    if header_row is None:
        raise OfflineSheetError([(None, "no_header")])
    header = [str(c or "").strip() for c in rows[header_row]]
    col = {name: header.index(name) for name in ("编码", "得分") if name in header}
    comment_col = next((i for i, h in enumerate(header) if h.startswith("评语")), None)
    if "得分" not in col:
        raise OfflineSheetError([(header_row + 1, "no_header")])
    values: dict[str, tuple[str, str]] = {}
    where: dict[str, int] = {}
    problems: list[tuple[int | None, str]] = []
    for offset, row in enumerate(rows[header_row + 1 :], start=header_row + 2):
        code = str(row[col["编码"]] or "").strip() if col["编码"] < len(row) else ""
        if not code:
            continue
        if code not in codes:
            problems.append((offset, "unknown_code:" + code))
            continue
        score = row[col["得分"]] if col["得分"] < len(row) else None
        comment = row[comment_col] if comment_col is not None and comment_col < len(row) else ""
        values[code] = (cell_text(score), str(comment or "").strip())
        where[code] = offset
    missing = [c for c in codes if c not in values]
    problems += [(None, "missing_row:" + c) for c in missing]
    if problems:
        raise OfflineSheetError(problems)
    return values, where


def sheet_document(title: str, expert: str, client: str, leaves: list[Indicator]) -> bytes:
    """A printable Word sheet: declaration, one row per indicator, signature line."""
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(11)
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), "仿宋")
    heading = doc.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(f"{title}\n专家评分表")
    run.bold, run.font.size = True, Pt(15)
    doc.add_paragraph(f"专家：{expert}        委托方：{client}")
    doc.add_paragraph(
        "利益冲突声明：本人与委托方及被评价单位 □ 不存在 □ 存在 可能影响独立性的关系"
        "（如存在，请说明并回避）。本人承诺对评价资料及评分结果保密。"
    )
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(
        table.rows[0].cells,
        ("编码", "指标及评分标准", "满分", "得分", "评语（扣分时必填）"),
        strict=True,
    ):
        cell.text = text
    for leaf in leaves:
        cells = table.add_row().cells
        cells[0].text = leaf.code
        cells[1].text = f"{leaf.name}\n{leaf.criteria}".strip()
        cells[2].text = format(leaf.weight.normalize(), "f")
    doc.add_paragraph("")
    doc.add_paragraph("专家签名：____________________        日期：______年____月____日")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
