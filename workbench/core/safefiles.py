"""Checks every untrusted file passes before any parser sees it (issue #13).

The parsers the workbench uses trust what a file says about itself: python-calamine (Rust)
allocates the whole rectangle between a sheet's first and last cell (a 1.6 KB .xlsx with cells
at A1 and XFD1048576 asks for 549 GB and aborts the process), openpyxl iterates the rectangle a
sheet's ``<dimension>`` declares, zip readers inflate whatever an entry holds, PyYAML expands
nested aliases. This module looks at the bytes first, with bounded work, and refuses a file
beyond the documented limits with a :class:`UnsafeFile` that carries a translatable message.

* :func:`check_zip` — entry count, declared and *actual* uncompressed sizes, compression ratio.
  Each entry is inflated here from the raw bytes with a byte cap (a lying size field is caught).
* :func:`check_xlsx` — :func:`check_zip`, then every entry (whatever its name) is streamed and
  scanned, quote-aware, for the sheet's ``<dimension ref>`` and the cells' real positions
  (``r="XFD1048576"``, and cells or rows without ``r`` counted); a sheet wider or larger than
  :class:`TableLimits` is refused.
* :func:`check_xls` — a legacy .xls: its DIMENSIONS records and every cell record's position,
  read from every ``Workbook`` and ``Book`` stream of the OLE2 container.
* :func:`check_csv` — the header record's column count and the table's cell count.
* :func:`check_table` — the above by content (``PK`` → xlsx, OLE2 → legacy .xls, else CSV).
* :func:`load_yaml` — YAML with no anchors or aliases, a byte cap and a nesting cap; a value
  that cannot be built (a bad date, a huge integer) is a YAML error too.
* :func:`clean_filename` — an uploaded file's name made safe to store and show.

Kept free of Flask; the limits are module constants, documented in ``docs/security.md``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from workbench.core.messages import N_, Message

MiB = 1024 * 1024

# --- zip containers (.xlsx, .docx) -------------------------------------------------------------
#: entries in one archive (an Office file has tens; a .docx with many images a few hundred)
MAX_ZIP_ENTRIES = 1_000
#: uncompressed bytes of all entries together: a 100,000-row × 30-column export written with
#: inline strings (openpyxl) is a 16 MB file whose sheet XML is 218 MB; the upload limit is 20 MB
MAX_ZIP_TOTAL = 512 * MiB
#: uncompressed bytes of one entry
MAX_ZIP_ENTRY = 512 * MiB
#: uncompressed ÷ compressed size of one entry, checked for entries above RATIO_FLOOR
MAX_ZIP_RATIO = 200
RATIO_FLOOR = 1 * MiB
#: a .docx report template: the whole document uncompressed
MAX_DOCX_TOTAL = 100 * MiB
#: one XML start tag may not be longer than this (the scanner keeps an open tag between chunks)
MAX_TAG = 1 * MiB
CHUNK = 1 * MiB

# --- tables ------------------------------------------------------------------------------------
#: Excel's own maximum is 16,384 columns × 1,048,576 rows
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class TableLimits:
    """The largest sheet or CSV a reader accepts: columns, and rows × columns (the rectangle a
    reader allocates, empty cells included)."""

    max_columns: int
    max_cells: int


#: survey imports (问卷星 exports, any table): 100,000 rows × 100 columns, or fewer rows × wider
SURVEY_TABLE = TableLimits(max_columns=2_000, max_cells=10_000_000)
#: small forms read with openpyxl cell by cell: goal tables, offline expert sheets, indicator
#: systems (a goal table has tens of rows × 7 columns)
SMALL_TABLE = TableLimits(max_columns=256, max_cells=250_000)

# --- YAML --------------------------------------------------------------------------------------
#: bytes of one YAML document (the bundled templates are under 40 KB)
MAX_YAML_BYTES = 1 * MiB
#: nested collections (an indicator tree of 10 levels is ~35 deep)
MAX_YAML_DEPTH = 64

# --- file names --------------------------------------------------------------------------------
MAX_FILENAME = 200


class UnsafeFile(ValueError):
    """The file is refused before parsing; ``message`` says why (translatable)."""

    def __init__(self, message: Message) -> None:
        super().__init__(message.render())
        self.message = message


def _refuse(template: str, **params: Any) -> UnsafeFile:
    return UnsafeFile(Message(template, params))


def _check_extent(rows: int, columns: int, limits: TableLimits) -> None:
    """Refuse a sheet whose rectangle (what calamine allocates) passes ``limits``."""
    if columns > limits.max_columns:
        raise _refuse(
            N_("A sheet has {n} columns; at most {max} are accepted."),
            n=columns,
            max=limits.max_columns,
        )
    if columns * rows > limits.max_cells:
        raise _refuse(
            N_("A sheet spans {rows} rows × {columns} columns; at most {max} cells are accepted."),
            rows=rows,
            columns=columns,
            max=limits.max_cells,
        )


# --- zip ---------------------------------------------------------------------------------------


def _zip_infos(data: bytes, *, max_entries: int, max_total: int) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise _refuse(
            N_("The file could not be read: it is not a valid zip archive ({error})."),
            error=str(exc)[:80],
        ) from None
    if len(infos) > max_entries:
        raise _refuse(
            N_("The archive holds {n} files; at most {max} are accepted."),
            n=len(infos),
            max=max_entries,
        )
    declared = sum(i.file_size for i in infos)
    if declared > max_total:
        raise _refuse(
            N_("The file expands to {size} MB; at most {max} MB are accepted."),
            size=declared // MiB,
            max=max_total // MiB,
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise _refuse(N_("The file is encrypted."))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse(N_("The file uses an unsupported compression method."))
        if info.file_size > MAX_ZIP_ENTRY:
            raise _refuse(
                N_("The file expands to {size} MB; at most {max} MB are accepted."),
                size=info.file_size // MiB,
                max=MAX_ZIP_ENTRY // MiB,
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_ZIP_RATIO * max(
            info.compress_size, 1
        ):
            raise _refuse(
                N_("The file is compressed {ratio} times; at most {max} times is accepted."),
                ratio=info.file_size // max(info.compress_size, 1),
                max=MAX_ZIP_RATIO,
            )
    return infos


def _inflate(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's bytes, inflated here from the raw archive in chunks: never more than its
    declared size (a stream that goes on past it is refused, whatever the size field says)."""
    view = memoryview(data)
    offset = info.header_offset
    header = bytes(view[offset : offset + 30])
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _refuse(
            N_("The file could not be read: it is not a valid zip archive ({error})."),
            error="local header",
        )
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = offset + 30 + name_len + extra_len
    raw = view[start : start + info.compress_size]
    if len(raw) < info.compress_size:
        raise _refuse(
            N_("The file could not be read: it is not a valid zip archive ({error})."),
            error="truncated",
        )
    mismatch = _refuse(
        N_("The file could not be read: it is not a valid zip archive ({error})."),
        error="sizes do not match",
    )
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise mismatch
        for i in range(0, len(raw), CHUNK):
            yield bytes(raw[i : i + CHUNK])
        return
    inflater = zlib.decompressobj(-15)
    produced = 0
    for i in range(0, len(raw), 64 * 1024):
        pending = bytes(raw[i : i + 64 * 1024])
        while pending and not inflater.eof:
            try:
                out = inflater.decompress(pending, CHUNK)
            except zlib.error as exc:
                raise _refuse(
                    N_("The file could not be read: it is not a valid zip archive ({error})."),
                    error=str(exc)[:80],
                ) from None
            pending = inflater.unconsumed_tail
            produced += len(out)
            if produced > info.file_size:
                raise mismatch
            if out:
                yield out
        if inflater.eof:
            break
    if produced != info.file_size:
        raise mismatch


def check_zip(
    data: bytes,
    *,
    max_total: int = MAX_ZIP_TOTAL,
    max_entries: int = MAX_ZIP_ENTRIES,
) -> list[zipfile.ZipInfo]:
    """Refuse a zip container past the limits; every entry is inflated here with a byte cap.

    >>> check_zip(b"not a zip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.core.safefiles.UnsafeFile: The file could not be read: ... zip archive (...).
    """
    infos = _zip_infos(data, max_entries=max_entries, max_total=max_total)
    for info in infos:
        for _chunk in _inflate(data, info):
            pass
    return infos


# --- xlsx --------------------------------------------------------------------------------------

#: a start tag's attributes, quote-aware: a ``>`` inside a quoted value does not end the tag
#: (an unrolled loop: linear, no backtracking)
_ATTRS = rb"""[^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*"""
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(c|row|dimension)(?=[\s/>])(" + _ATTRS + rb")(>?)")
#: the rest of a start tag from its ``<``, quote-aware, and whether it is closed
_TAG_REST = re.compile(rb"<" + _ATTRS + rb">")
#: anything that may be an ``r`` attribute (the fast path must have met every one)
_ANY_R = re.compile(rb"r\s*=")
_FAST_CELL_ROW = re.compile(rb'<c r="[A-Z]{1,3}(\d{1,7})"')
_FAST_CELL_COLUMN = re.compile(rb'<c r="([A-Z]{1,3})\d')
_FAST_ROW = re.compile(rb'<row r="(\d{1,7})"')
_LONGER_C = re.compile(rb"<c[^\s/>]")
_LONGER_ROW = re.compile(rb"<row[^\s/>]")
#: a chunk with a namespace-prefixed c/row or a dimension goes to the generic scan
_UNUSUAL = (b":c", b":row", b"dimension")
_UNUSUAL_TAG = re.compile(rb"<[\w.-]+:(?:c|row)[\s/>]|<(?:[\w.-]+:)?dimension[\s/>]")
#: every ``r="…"`` in a tag, inside other quoted values too (the largest one counts)
_R_ATTR = re.compile(rb'(?<![\w.-])r\s*=\s*["\']([^"\']*)["\']')
_R_VALUE = re.compile(rb"\$?([A-Za-z]{0,3})\$?(\d{0,7})")
_REF_ATTR = re.compile(rb'(?<![\w.-])ref\s*=\s*["\']([^"\']*)["\']')
_CELL_REF = re.compile(rb"\$?([A-Za-z]{1,3})\$?(\d{1,8})")


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


@dataclass
class _SheetScan:
    """Upper bounds of one XML part's cells, from tags and from the declared dimension."""

    max_row: int = 0
    max_col: int = 0
    rows_without_r: int = 0
    cells_without_r: int = 0
    dim_rows: int = 0
    dim_cols: int = 0

    def feed(self, text: bytes) -> None:
        if not self._feed_canonical(text):
            self._feed_any(text)

    def _feed_canonical(self, text: bytes) -> bool:
        """The common serialisation (``<row r="5">``, ``<c r="AB5" ...>``, no namespace
        prefix) in a few C-speed passes; False when anything else is in the chunk."""
        if any(marker in text for marker in _UNUSUAL) and _UNUSUAL_TAG.search(text):
            return False
        cell_rows = _FAST_CELL_ROW.findall(text)
        # every "<c" that is not the start of a longer name (<col, <cfRule...) is a cell
        if len(cell_rows) != text.count(b"<c") - len(_LONGER_C.findall(text)):
            return False
        row_numbers = _FAST_ROW.findall(text)
        if len(row_numbers) != text.count(b"<row") - len(_LONGER_ROW.findall(text)):
            return False
        # no second r attribute anywhere (a tag's later r, or one hidden in a quoted value)
        if len(_ANY_R.findall(text)) != len(cell_rows) + len(row_numbers):
            return False
        if cell_rows:
            letters = set(_FAST_CELL_COLUMN.findall(text))
            self.max_col = max(self.max_col, *(_column_number(c) for c in letters))
            top = max(set(cell_rows), key=lambda d: (len(d), d))
            self.max_row = max(self.max_row, int(top))
        if row_numbers:
            self.max_row = max(self.max_row, max(map(int, set(row_numbers))))
        return True

    def _feed_any(self, text: bytes) -> None:
        malformed = _refuse(N_("The workbook's XML is malformed (a cell reference)."))
        for m in _TAG.finditer(text):
            name, attrs, closed = m.groups()
            # quote-aware: a tag left open before the end of the text has a quote that never
            # closes; at the very end it is the part's last bytes (its r is still read)
            if not closed and m.end() < len(text):
                raise malformed
            # every r="…" in the tag counts, the largest wins (a parser reads only one of
            # them, but which one must not matter)
            found = [_R_VALUE.fullmatch(v) for v in _R_ATTR.findall(attrs)]
            refs = [(r.group(1), r.group(2)) for r in found if r is not None]
            if len(refs) != len(found):
                raise malformed
            if name == b"c":
                if not any(letters for letters, _digits in refs):
                    self.cells_without_r += 1
                for letters, digits in refs:
                    if letters:
                        self.max_col = max(self.max_col, _column_number(letters))
                    if digits:
                        self.max_row = max(self.max_row, int(digits))
            elif name == b"row":
                if any(letters for letters, _digits in refs):
                    raise malformed
                rows = [int(digits) for _letters, digits in refs if digits]
                if rows:
                    self.max_row = max(self.max_row, *rows)
                else:
                    self.rows_without_r += 1
            else:
                for value in _REF_ATTR.findall(attrs):
                    for letters, digits in _CELL_REF.findall(value):
                        self.dim_cols = max(self.dim_cols, _column_number(letters))
                        self.dim_rows = max(self.dim_rows, int(digits))

    @property
    def columns(self) -> int:
        # a cell without r follows the previous one: at most one column further each
        return max(self.max_col + self.cells_without_r, self.dim_cols)

    @property
    def rows(self) -> int:
        return max(self.max_row + self.rows_without_r, self.dim_rows)


def _open_tag(text: bytes) -> int:
    """Where a start tag left open at the end of ``text`` begins (quote-aware: a ``>`` or
    ``<`` inside a quoted value neither ends nor starts a tag), or -1."""
    cut = -1
    for marker in (b"<", b"<c", b"<row", b":c", b":row", b"dimension"):
        at = text.rfind(marker)
        if at != -1:
            at = text.rfind(b"<", 0, at + 1)
        if at != -1 and not _TAG_REST.match(text, at) and (cut == -1 or at < cut):
            cut = at
    return cut


def _scan_xml(chunks: Iterator[bytes]) -> _SheetScan:
    scan = _SheetScan()
    carry = b""
    for chunk in chunks:
        text = carry + chunk
        cut = _open_tag(text)
        if cut != -1:  # an open tag continues in the next chunk
            text, carry = text[:cut], text[cut:]
            if len(carry) > MAX_TAG:
                raise _refuse(N_("The workbook's XML is malformed (a tag is too long)."))
        else:
            carry = b""
        scan.feed(text)
    scan.feed(carry)
    return scan


def check_xlsx(data: bytes, limits: TableLimits = SURVEY_TABLE) -> None:
    """Refuse an .xlsx (or any zip workbook) past the zip limits or whose sheets are wider or
    larger than ``limits``: the declared ``<dimension>`` and the cells' real positions count.

    Every entry is scanned, whatever its name, not only ``xl/worksheets/*.xml``: a workbook's
    relationships may put a sheet anywhere in the archive, under any name.
    """
    infos = _zip_infos(data, max_entries=MAX_ZIP_ENTRIES, max_total=MAX_ZIP_TOTAL)
    names = {i.filename for i in infos}
    # only .xlsx: calamine would fall back to .xlsb or .ods, whose cells this scan cannot see
    if "xl/workbook.xml" not in names or names & {"xl/workbook.bin", "content.xml"}:
        raise _refuse(N_("The file is not an .xlsx workbook."))
    # every entry, whatever its name or folder: calamine follows xl/_rels/workbook.xml.rels
    # to a sheet anywhere (docProps/sheet1.xml, xl/media/a.png, xl/worksheets/s.dat); an
    # image costs a few C-speed passes and has no cells
    for info in infos:
        scan = _scan_xml(_inflate(data, info))
        _check_extent(scan.rows, scan.columns, limits)


# --- csv and dispatch --------------------------------------------------------------------------

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def check_csv(data: bytes, limits: TableLimits = SURVEY_TABLE) -> None:
    """Refuse a CSV whose header record has more than ``limits.max_columns`` fields, or whose
    lines × header fields exceed ``limits.max_cells``, before pandas reads it."""
    end = data.find(b"\n")
    line = data if end == -1 else data[:end]
    # a byte-level upper bound first (a comma is one byte in UTF-8 and GB18030), then the
    # exact count of the header record when the bound is close
    columns = line.count(b",") + 1
    if columns > limits.max_columns:
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = line.decode("gb18030", "replace")
        with contextlib.suppress(csv.Error):
            columns = len(next(csv.reader([text]), []))
    if columns > limits.max_columns:
        raise _refuse(
            N_("The table has {n} columns; at most {max} are accepted."),
            n=columns,
            max=limits.max_columns,
        )
    rows = data.count(b"\n") + 1
    if rows * columns > limits.max_cells:
        raise _refuse(
            N_("A sheet spans {rows} rows × {columns} columns; at most {max} cells are accepted."),
            rows=rows,
            columns=columns,
            max=limits.max_cells,
        )


def check_table(data: bytes, limits: TableLimits = SURVEY_TABLE) -> None:
    """:func:`check_xlsx`, :func:`check_xls` or :func:`check_csv` by content."""
    if data.startswith(XLSX_MAGIC):
        check_xlsx(data, limits)
    elif data.startswith(XLS_MAGIC):
        check_xls(data, limits)
    else:
        check_csv(data, limits)


# --- legacy .xls (BIFF5/8 in an OLE2 compound file) ---------------------------------------------

_END_OF_CHAIN = 0xFFFFFFFE
_FREE = 0xFFFFFFFF
#: BIFF records whose first four bytes are a cell's row and column (u16 each)
_CELL_RECORDS = frozenset({0x0006, 0x00D6, 0x00FD, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E})
_MULRK, _MULBLANK, _ROW, _DIMENSIONS = 0x00BD, 0x00BE, 0x0208, 0x0200


def _not_xls(reason: str) -> UnsafeFile:
    return _refuse(
        N_("The file could not be read: it is not a valid .xls workbook ({error})."), error=reason
    )


def _cfb_streams(data: bytes, names: tuple[str, ...]) -> list[bytes]:
    """Every directory entry called one of ``names`` (compared without case, whatever its
    entry type) in an OLE2 compound file, in the order of ``names``, each read by following its
    sector chain (loops and out-of-range sectors refused). calamine reads the first
    ``Workbook``, else the first ``Book``: a file holding an innocent ``Book`` and a bombed
    ``Workbook`` must have both checked."""
    if len(data) < 512:
        raise _not_xls("header")
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if shift not in (9, 12) or mini_shift != 6:
        raise _not_xls("sector size")
    size = 1 << shift
    sectors = (len(data) - 512) // size + 1
    (dir_start,) = struct.unpack_from("<I", data, 0x30)
    cutoff, minifat_start, _n_minifat, difat_start, n_difat = struct.unpack_from(
        "<IIIII", data, 0x38
    )

    def sector(n: int) -> bytes:
        if n >= sectors:
            raise _not_xls("sector out of range")
        return data[(n + 1) * size : (n + 2) * size]

    fat_sectors = [n for n in struct.unpack_from("<109I", data, 0x4C) if n < _END_OF_CHAIN]
    n, seen = difat_start, 0
    while n < _END_OF_CHAIN and seen <= n_difat:
        entries = struct.unpack(f"<{size // 4}I", sector(n))
        fat_sectors += [e for e in entries[:-1] if e < _END_OF_CHAIN]
        n, seen = entries[-1], seen + 1
    fat = [e for f in fat_sectors for e in struct.unpack(f"<{size // 4}I", sector(f))]

    def chain(start: int, table: list[int], read: Any) -> bytes:
        parts, n, steps = [], start, 0
        while n not in (_END_OF_CHAIN, _FREE):
            if n >= len(table) or steps > len(table):
                raise _not_xls("sector chain")
            parts.append(read(n))
            n, steps = table[n], steps + 1
        return b"".join(parts)

    directory = chain(dir_start, fat, sector)
    root_start = struct.unpack_from("<I", directory, 116)[0] if len(directory) >= 128 else 0
    wanted = [name.lower() for name in names]
    found: list[tuple[int, bytes]] = []
    for at in range(0, len(directory) - 127, 128):
        entry = directory[at : at + 128]
        (name_len,) = struct.unpack_from("<H", entry, 64)
        name = entry[: max(0, min(name_len, 64) - 2)].decode("utf-16-le", "replace")
        # the name as a reader that ignores the length field sees it (up to the first NUL)
        full = entry[:64].decode("utf-16-le", "replace").split("\x00", 1)[0]
        rank = min(
            (wanted.index(n.lower()) for n in {name, full} if n.lower() in wanted), default=-1
        )
        if rank == -1:
            continue
        start, length = struct.unpack_from("<II", entry, 116)
        if length >= cutoff:
            found.append((rank, chain(start, fat, sector)[:length]))
            continue
        mini_stream = chain(root_start, fat, sector)
        minifat_bytes = chain(minifat_start, fat, sector)
        minifat = list(struct.unpack(f"<{len(minifat_bytes) // 4}I", minifat_bytes))
        stream = chain(start, minifat, lambda k, s=mini_stream: s[k * 64 : (k + 1) * 64])
        found.append((rank, stream[:length]))
    if not found:
        raise _not_xls("no Workbook stream")
    return [stream for _rank, stream in sorted(found, key=lambda item: item[0])]


def check_xls(data: bytes, limits: TableLimits = SURVEY_TABLE) -> None:
    """Refuse a legacy .xls whose sheets are wider or larger than ``limits``: the declared
    DIMENSIONS (calamine allocates them: a patched record asked for 44 TB and aborted the
    process) and every cell record's position (columns are 16-bit in the record), in every
    ``Workbook`` and ``Book`` stream the file holds."""
    try:
        extents = [_xls_extent(s) for s in _cfb_streams(data, ("Workbook", "Book"))]
    except (struct.error, ValueError, IndexError) as exc:
        if isinstance(exc, UnsafeFile):
            raise
        raise _not_xls("truncated") from None
    for max_row, max_col in extents:
        _check_extent(max_row, max_col, limits)


def _xls_extent(stream: bytes) -> tuple[int, int]:
    """The largest row and column count any record of the BIFF stream declares or uses."""
    max_row = max_col = 0
    at, end = 0, len(stream) - 4
    while at <= end:
        kind, length = struct.unpack_from("<HH", stream, at)
        body = stream[at + 4 : at + 4 + length]
        at += 4 + length
        if kind in _CELL_RECORDS and length >= 4:
            row, col = struct.unpack_from("<HH", body)
            max_row, max_col = max(max_row, row + 1), max(max_col, col + 1)
        elif kind in (_MULRK, _MULBLANK) and length >= 6:
            row, _first = struct.unpack_from("<HH", body)
            (last,) = struct.unpack_from("<H", body, length - 2)
            max_row, max_col = max(max_row, row + 1), max(max_col, last + 1)
        elif kind == _ROW and length >= 6:
            row, _first, after_last = struct.unpack_from("<HHH", body)
            max_row, max_col = max(max_row, row + 1), max(max_col, after_last)
        elif kind == _DIMENSIONS and length >= 10:
            if length >= 14:  # BIFF8: rows are 32-bit
                _r0, rows, _c0, cols = struct.unpack_from("<IIHH", body)
            else:
                _r0, rows, _c0, cols = struct.unpack_from("<HHHH", body)
            max_row, max_col = max(max_row, rows), max(max_col, cols)
    return max_row, max_col


def check_docx(data: bytes) -> None:
    """Refuse a .docx (or any zip document) past the zip limits, with a smaller total."""
    check_zip(data, max_total=MAX_DOCX_TOTAL)


# --- YAML --------------------------------------------------------------------------------------


class UnsafeYaml(yaml.YAMLError):
    """YAML refused: anchors, aliases, too large, too deeply nested, or a value (a date, a
    number) that cannot be built."""


class StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader without anchors or aliases (no "billion laughs") and with a
    nesting cap (no RecursionError from a deep document)."""

    max_depth = MAX_YAML_DEPTH

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1
            raise UnsafeYaml(f"YAML anchors and aliases (&, *) are not accepted (line {line})")
        depth = getattr(self, "_depth", 0)
        if depth >= self.max_depth:
            raise UnsafeYaml(f"YAML nested deeper than {self.max_depth} levels")
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth


def load_yaml(source: str | bytes, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Load one YAML document with :class:`StrictLoader` (bytes are decoded as UTF-8, BOM
    allowed). Raises :class:`UnsafeYaml` (a :class:`yaml.YAMLError`) past the limits.

    >>> load_yaml("a: [1, 2]")
    {'a': [1, 2]}
    >>> load_yaml("a: &x [1]\\nb: *x")
    Traceback (most recent call last):
    ...
    workbench.core.safefiles.UnsafeYaml: YAML anchors and aliases (&, *) are not accepted (line 1)
    """
    size = len(source) if isinstance(source, bytes) else len(source.encode("utf-8"))
    if size > max_bytes:
        raise UnsafeYaml(f"YAML larger than {max_bytes // 1024} KB")
    text = source.decode("utf-8-sig") if isinstance(source, bytes) else source
    loader = StrictLoader(text)
    try:
        return loader.get_single_data()
    except (ValueError, OverflowError) as exc:
        # SafeConstructor builds dates and numbers with int() and datetime(): "2001-13-45"
        # or a 5,000-digit integer raise these, not a YAMLError
        raise UnsafeYaml(f"YAML holds a value that cannot be read ({str(exc)[:80]})") from None
    finally:
        loader.dispose()


# --- file names --------------------------------------------------------------------------------


def clean_name(text: object, max_length: int = MAX_FILENAME) -> str:
    r"""User text for a name: NFC, no control or format characters, trimmed, cut to length.

    >>> clean_name(" 模板\x00一 ")
    '模板一'
    """
    value = unicodedata.normalize("NFC", "" if text is None else str(text))
    value = "".join(ch for ch in value if unicodedata.category(ch) not in _NOT_IN_NAMES)
    return value.strip()[:max_length]


_NOT_IN_NAMES = ("Cc", "Cf", "Cs", "Co")


def clean_filename(name: object, default: str = "upload", max_length: int = MAX_FILENAME) -> str:
    r"""An uploaded file's name safe to store and show: the last path part (``/`` or ``\``),
    without control or format characters (NUL breaks PostgreSQL, U+202E reverses the shown
    name), NFC-normalised, trimmed, at most ``max_length`` characters keeping the extension.

    >>> clean_filename("..\\..\\资料\x00A.xlsx")
    '资料A.xlsx'
    >>> clean_filename("\x00\u202e")
    'upload'
    >>> clean_filename("..pdf", default="evidence.pdf")  # only an extension: it is kept
    'evidence.pdf'
    """
    text = unicodedata.normalize("NFC", "" if name is None else str(name))
    text = re.split(r"[/\\]", text)[-1]
    text = clean_name(text, max_length=len(text)).strip()
    stem, dot, ext = text.rpartition(".")
    if dot and ext.strip() and not stem.strip(". "):  # ".pdf", "..pdf"
        text = f"{default.rpartition('.')[0] or default}.{ext.strip()}"
    text = text.strip(".").strip()
    if not text:
        return default
    if len(text) > max_length:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            text = stem[: max_length - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:max_length]
    return text
