"""Reading uploaded tables (.xlsx, .xls, .csv) into DataFrames, checked by content.

Kept free of Flask so that importers can be tested with plain files.
"""

from __future__ import annotations

import io
from decimal import Decimal

import pandas as pd
from openpyxl import load_workbook

from workbench.core.messages import N_, Message
from workbench.core.safefiles import SMALL_TABLE, TableLimits, UnsafeFile, check_table

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class UnreadableTable(ValueError):
    """The upload is not a table we can read; carries a translatable :class:`Message`."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.template)
        self.message = message


def sniff_kind(data: bytes, filename: str) -> str:
    """``xlsx``, ``xls`` or ``csv`` decided from the bytes, not only the extension."""
    name = filename.lower()
    if data.startswith(XLSX_MAGIC):
        return "xlsx"
    if data.startswith(XLS_MAGIC):
        return "xls"
    if name.endswith((".xlsx", ".xls")):
        raise UnreadableTable(Message(N_("The file is not a valid Excel workbook.")))
    if b"\x00" in data[:4096]:
        raise UnreadableTable(
            Message(N_("The file is neither an Excel workbook nor a CSV text file."))
        )
    return "csv"


def _xlsx_text(value: object, number_format: str) -> str:
    """A cell as the person sees it: a 0.95 formatted as 0% is "95%", 120.0 is "120"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        number = Decimal(repr(value))
        if "%" in (number_format or ""):
            return format((number * 100).normalize(), "f") + "%"
        return format(number.normalize(), "f")
    return str(value)


def _read_xlsx(data: bytes) -> pd.DataFrame:
    """The first sheet of an .xlsx as text, honouring percent formats (openpyxl)."""
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = [
            [_xlsx_text(c.value, getattr(c, "number_format", "")) for c in row]
            for row in sheet.iter_rows()
        ]
    finally:
        workbook.close()
    rows = [r for r in rows if any(v for v in r)] if rows else []
    if not rows:
        raise UnreadableTable(Message(N_("The file is empty.")))
    width = max(len(r) for r in rows)
    padded = [r + [""] * (width - len(r)) for r in rows]
    header = [h or f"column {i + 1}" for i, h in enumerate(padded[0])]
    return pd.DataFrame(padded[1:], columns=header, dtype=str)


def read_table(data: bytes, filename: str, limits: TableLimits = SMALL_TABLE) -> pd.DataFrame:
    """Read the first sheet (or the CSV) with every cell as text; header on the first row.
    A file past ``limits`` (see :mod:`workbench.core.safefiles`) is refused unread.

    CSV is tried as UTF-8 (with or without BOM), then GB18030 (a superset of GBK).
    """
    if not data:
        raise UnreadableTable(Message(N_("The file is empty.")))
    kind = sniff_kind(data, filename)
    try:
        check_table(data, limits)  # before any parser: bombs and oversized sheets
    except UnsafeFile as exc:
        raise UnreadableTable(exc.message) from exc
    try:
        if kind == "xlsx":
            frame = _read_xlsx(data)
        elif kind == "xls":
            frame = pd.read_excel(
                io.BytesIO(data), engine="calamine", dtype=str, keep_default_na=False
            )
        else:
            for encoding in CSV_ENCODINGS:
                try:
                    text = data.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise UnreadableTable(Message(N_("The CSV file is neither UTF-8 nor GBK encoded.")))
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except UnreadableTable:
        raise
    except Exception as exc:  # any parser failure on hostile or truncated input
        # the parser's own text ("Cannot detect file format" …) is English: not shown
        raise UnreadableTable(
            Message(N_("The file could not be read: it is damaged or not a table of this type."))
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame
