"""Excel export of any table (content in, .xlsx out).

Cells that a spreadsheet would execute (text starting with = + - @ or a control character) are
neutralised with a leading apostrophe (OWASP "CSV injection"), so an export never runs a formula
typed by a user or a survey respondent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from io import BytesIO
from typing import Any

from flask import Response, send_file
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def local_zone() -> dt.tzinfo:
    """The configured display time zone (Asia/Shanghai by default; UTC outside an app)."""
    from zoneinfo import ZoneInfo

    from flask import current_app

    try:
        return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")
    except RuntimeError:  # no application context
        return dt.UTC


def safe_cell(value: Any) -> Any:
    """A value openpyxl can write and Excel will show literally."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal | int | float):
        return value
    if isinstance(value, dt.datetime):
        # Excel has no time zones: write the wall-clock time people read on the pages
        return value.astimezone(local_zone()).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return value
    text = str(value)
    # openpyxl rejects control characters other than tab/newline/carriage return.
    text = "".join(ch for ch in text if ch >= " " or ch in "\t\n\r")
    if text.startswith(_DANGEROUS_START):
        text = "'" + text
    return text


def cell_text(value: Any) -> str:
    """A cell read back as text: 12.0 → "12", and the apostrophe :func:`safe_cell` added to a
    formula-like text removed again."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().removeprefix("'")


def table_bytes(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: dict[int, str] | None = None,
    notes: Sequence[Sequence[Any]] | None = None,
) -> bytes:
    """A workbook with the table on its first sheet: bold frozen header, auto filter, sensible
    column widths; ``formats`` maps a column index to an Excel number format (e.g.
    ``"0.00%"``); ``notes`` become a second sheet of instructions."""
    wb = Workbook()
    ws = wb.active
    ws.title = (safe_cell(title) or "Sheet")[:31].replace("/", "-")
    ws.append([safe_cell(h) for h in headers])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(vertical="center", wrap_text=True)
    widths = [max(8, len(str(h)) * 2) for h in headers]
    for row in rows:
        values = [safe_cell(v) for v in row]
        ws.append(values)
        for i, fmt in (formats or {}).items():
            ws.cell(row=ws.max_row, column=i + 1).number_format = fmt
        for i, v in enumerate(values):
            if i < len(widths) and v is not None:
                widths[i] = min(60, max(widths[i], len(str(v)) + 2))
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    if notes:
        sheet = wb.create_sheet("说明")
        for line in notes:
            sheet.append([safe_cell(v) for v in line])
        sheet.column_dimensions["A"].width = 100
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def send_table(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    filename: str,
    formats: dict[int, str] | None = None,
    notes: Sequence[Sequence[Any]] | None = None,
) -> Response:
    """Send a table as an .xlsx download."""
    return send_file(
        BytesIO(table_bytes(title, headers, rows, formats, notes)),
        mimetype=XLSX_MIME,
        as_attachment=True,
        download_name=filename,
    )
