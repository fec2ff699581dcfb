"""Hostile files of issue #13, built in memory: zip and dimension bombs, wide tables, YAML
alias bombs, file names with NUL. Small on disk, each refused by ``workbench.core.safefiles``
before a parser sees it (handing the dimension bomb to calamine aborts the process)."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from pathlib import Path

_CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    b'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    b'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    b'worksheet+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    b"</Relationships>"
)
_WORKBOOK = (
    b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    b'2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    b"</Relationships>"
)


def xlsx(sheet_data: str, dimension: str = "") -> bytes:
    """A minimal .xlsx written by hand: one sheet whose ``<sheetData>`` is ``sheet_data``."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main">{dim}<sheetData>{sheet_data}</sheetData></worksheet>'
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


#: the issue's 1.6 KB workbook: cells only at A1 and XFD1048576 (calamine: 549 GB, abort)
DIMENSION_BOMB = xlsx(
    f'<row r="1">{_text_cell("A1", "序号")}</row>'
    '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
)
#: one cell, but a declared dimension of the whole grid (openpyxl's read-only rows pad to it)
DECLARED_DIMENSION_BOMB = xlsx(f'<row r="1">{_text_cell("A1", "序号")}</row>', "A1:XFD1048576")
#: cells and rows without ``r``: each one further than the last (3,000 columns)
RLESS_BOMB = xlsx("<row>" + "<c><v>1</v></c>" * 3_000 + "</row>")
#: a sparse sheet: a header and one cell 100,000 rows down (the goal import's 14 s)
SPARSE_XLSX = xlsx(
    f'<row r="1">{_text_cell("A1", "一级指标")}</row>'
    + (f'<row r="100000">{_text_cell("H100000", "x")}</row>')
)


def xlsx_at(path: str, sheet_data: str) -> bytes:
    """:func:`xlsx` with the sheet stored at ``path`` (the workbook's relationships point
    there: calamine follows them, whatever the folder or extension)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx(sheet_data))) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            body = source.read(info)
            name = path if info.filename == "xl/worksheets/sheet1.xml" else info.filename
            body = body.replace(b"/xl/worksheets/sheet1.xml", b"/" + path.encode())
            body = body.replace(b'"worksheets/sheet1.xml"', b'"/' + path.encode() + b'"')
            archive.writestr(name, body)
    return buffer.getvalue()


_FAR_CELL = (
    '<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
)
#: the dimension bomb's sheet where a scan by name would not look (issue #13, review)
SHEET_ELSEWHERE = {
    path: xlsx_at(path, _FAR_CELL)
    for path in ("docProps/sheet1.xml", "xl/media/sheet1.xml", "xl/worksheets/sheet1.dat")
}
#: a ">" in a quoted attribute value before the cell's r (a tag pattern ``[^>]*`` stops there)
GT_IN_CELL = xlsx(
    '<row r="1"><c r="A1"><v>1</v></c></row>'
    '<row r="1048576"><c x=">" r="XFD1048576"><v>1</v></c></row>'
)
#: the same in a row: 100 columns (A1:CV1), then a row 1048576 hidden behind a quoted ">"
GT_IN_ROW = xlsx(
    '<row r="1"><c r="A1"><v>1</v></c><c r="CV1"><v>1</v></c></row>'
    '<row x=">" r="1048576"><c><v>1</v></c></row>'
)
#: an r hidden in another attribute's quoted value comes first
R_IN_QUOTES = xlsx(
    '<row r="1"><c r="A1"><v>1</v></c></row>'
    '<row r="1048576"><c x=\' r="A1"\' r="XFD1048576"><v>1</v></c></row>'
)


def wide_csv(columns: int = 200_000) -> bytes:
    """The issue's 1.9 MB CSV: one header row of ``columns`` fields."""
    return (
        ",".join(f"c{i}" for i in range(columns)) + "\n" + "1," * (columns - 1) + "1\n"
    ).encode()


def _raw_zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip from raw deflate streams: (name, compressed, declared size, crc) each."""
    out = io.BytesIO()
    central = []
    for name, compressed, size, crc in entries:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                8,
                0,
                0,
                crc,
                len(compressed),
                size,
                len(encoded),
                0,
            )
        )
        out.write(encoded + compressed)
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(compressed),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    for record in central:
        out.write(record)
    size = out.tell() - start
    out.write(
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), size, start, 0)
    )
    return out.getvalue()


def _deflated_zeros(size: int) -> tuple[bytes, int]:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.flush())
    crc = 0
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    return b"".join(parts), crc


@functools.cache
def docx_bomb(size: int = 1400 * 1024 * 1024) -> bytes:
    """The issue's .docx: a few hundred KB that expand to ``size`` bytes (honest sizes)."""
    body, crc = _deflated_zeros(size)
    return _raw_zip(
        [
            ("[Content_Types].xml", zlib.compress(b"<Types/>")[2:-4], 8, zlib.crc32(b"<Types/>")),
            ("word/document.xml", body, size, crc),
        ]
    )


@functools.cache
def lying_zip(size: int = 64 * 1024 * 1024) -> bytes:
    """An entry that declares 1 KB and inflates to ``size`` bytes."""
    body, _crc = _deflated_zeros(size)
    return _raw_zip(
        [("xl/workbook.xml", body, 1024, 0), ("[Content_Types].xml", b"\x03\x00", 0, 0)]
    )


def many_entries(n: int = 1_001) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            archive.writestr(f"xl/{i}.xml", b"")
    return buffer.getvalue()


#: the issue's 657-byte indicator YAML: nine levels of nine aliases (9**9 leaves expanded)
YAML_ALIAS_BOMB = b"""code: bomb
name: bomb
l1: &i1 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
l2: &i2 [*i1, *i1, *i1, *i1, *i1, *i1, *i1, *i1, *i1]
l3: &i3 [*i2, *i2, *i2, *i2, *i2, *i2, *i2, *i2, *i2]
l4: &i4 [*i3, *i3, *i3, *i3, *i3, *i3, *i3, *i3, *i3]
l5: &i5 [*i4, *i4, *i4, *i4, *i4, *i4, *i4, *i4, *i4]
l6: &i6 [*i5, *i5, *i5, *i5, *i5, *i5, *i5, *i5, *i5]
l7: &i7 [*i6, *i6, *i6, *i6, *i6, *i6, *i6, *i6, *i6]
l8: &i8 [*i7, *i7, *i7, *i7, *i7, *i7, *i7, *i7, *i7]
indicators: [{code: A, name: a, weight: 100, method: {type: expert}, note: *i8}]
"""
#: values SafeConstructor cannot build: ValueError and int()'s digit limit, not YAMLError
YAML_BAD_DATE = b"code: x\nname: x\ndate: 2001-13-45\nindicators: []\n"
YAML_HUGE_INT = b"code: x\nname: x\ntotal: " + b"9" * 5000 + b"\nindicators: []\n"
#: an anchor alone (a merge key or a reused mapping needs one)
YAML_ANCHOR = b"code: x\nname: &n x\nindicators: []\n"
#: nesting past the cap: [[[[...]]]]
YAML_DEEP = b"a: " + b"[" * 200 + b"]" * 200 + b"\n"

#: names with NUL, other control characters, a bidi override and path parts
HOSTILE_NAMES = (
    "a\x00b.csv",
    "..\\..\\\x1bevil\x07.csv",
    "\u202eslx.csv",
    "x" * 600 + ".csv",
)


def xls_dimension_bomb() -> bytes | None:
    """A real 问卷星 .xls export whose DIMENSIONS record claims 0xFFFFFFF0 rows: calamine
    asks for 44 TB and aborts. None when shared/fixtures is not beside the clone."""
    path = (
        Path(__file__).resolve().parents[3]
        / "shared"
        / "fixtures"
        / "wenjuanxing"
        / "reportgen_800_800_0.xls"
    )
    if not path.exists():
        return None
    data = bytearray(path.read_bytes())
    at = data.find(b"\x00\x02\x0e\x00")
    data[at + 4 : at + 18] = struct.pack("<IIHHH", 0, 0xFFFFFFF0, 0, 14, 0)
    return bytes(data)


def xls_book_first() -> bytes | None:
    """The .xls dimension bomb whose directory lists an innocent ``Book`` stream before the
    bombed ``Workbook`` (calamine reads ``Workbook`` first). None without shared/fixtures."""
    bomb = xls_dimension_bomb()
    if bomb is None:
        return None
    data = bytearray(bomb)
    (dir_start,) = struct.unpack_from("<I", data, 0x30)
    directory = (dir_start + 1) * 512

    def name(index: int, text: str, start: int, length: int) -> None:
        at = directory + index * 128
        raw = text.encode("utf-16-le") + b"\0\0"
        data[at : at + 64] = raw.ljust(64, b"\0")
        struct.pack_into("<H", data, at + 64, len(raw))
        struct.pack_into("<II", data, at + 116, start, length)

    name(1, "Book", 318, 4096)  # another stream's sectors, no oversized record
    name(2, "Workbook", 0, 162358)  # the bombed workbook stream
    return bytes(data)
