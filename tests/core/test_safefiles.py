"""Every untrusted file is checked before a parser sees it (issue #13): zip and dimension
bombs, sparse and wide tables, YAML aliases and deep nesting, file names. No test hands a
hostile file to a parser: the dimension bomb would abort the process inside calamine."""

from __future__ import annotations

import contextlib
import io
import random
import struct
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.security import _payloads as p
from workbench.core import safefiles
from workbench.core.indicators import load_template
from workbench.core.questionnaire import library
from workbench.core.safefiles import (
    SMALL_TABLE,
    SURVEY_TABLE,
    UnsafeFile,
    UnsafeYaml,
    check_csv,
    check_docx,
    check_table,
    check_xls,
    check_xlsx,
    check_zip,
    clean_filename,
    load_yaml,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (p.DIMENSION_BOMB, "16384 columns"),
        (p.DECLARED_DIMENSION_BOMB, "16384 columns"),
        (p.RLESS_BOMB, "3000 columns"),
    ],
    ids=["cells-A1-and-XFD1048576", "declared-dimension", "cells-without-r"],
)
def test_a_workbook_wider_than_the_cap_is_refused_unread(payload: bytes, words: str) -> None:
    assert len(payload) < 2_000  # the bomb is 1.6 KB
    with pytest.raises(UnsafeFile) as refused:
        check_xlsx(payload)
    assert words in str(refused.value)


def test_a_sparse_sheet_counts_its_rectangle_not_its_cells() -> None:
    with pytest.raises(UnsafeFile, match="100000 rows × 8 columns"):
        check_xlsx(p.SPARSE_XLSX, SMALL_TABLE)
    check_xlsx(p.SPARSE_XLSX, SURVEY_TABLE)  # 800,000 cells: a survey export may be that large


def test_rows_are_found_in_cells_out_of_their_row_and_in_odd_serialisations() -> None:
    hidden = p.xlsx('<row r="1"><c r="A1"><v>1</v></c><c r="B999999"><v>1</v></c></row>')
    with pytest.raises(UnsafeFile, match="999999 rows"):
        check_xlsx(hidden, SMALL_TABLE)
    prefixed = p.xlsx("<x:row r='1'><x:c  r = 'ZZ1' ><v>1</v></x:c></x:row>")
    with pytest.raises(UnsafeFile, match="702 columns"):
        check_xlsx(prefixed, SMALL_TABLE)
    with pytest.raises(UnsafeFile, match="malformed"):
        check_xlsx(p.xlsx('<row r="1"><c r="A99999999999"><v>1</v></c></row>'))


def test_a_normal_workbook_passes() -> None:
    rows = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r}</v></c>' for c in "ABCDEFG") + "</row>"
        for r in range(1, 301)
    )
    check_xlsx(p.xlsx(rows, "A1:G300"), SMALL_TABLE)


def test_only_xlsx_workbooks_are_accepted_as_zip_tables() -> None:
    ods = io.BytesIO()
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(UnsafeFile, match=r"not an \.xlsx"):
        check_table(ods.getvalue())


def test_a_decompression_bomb_is_refused_without_inflating_it() -> None:
    bomb = p.docx_bomb(110 * 1024 * 1024)
    assert len(bomb) < 200_000
    with pytest.raises(UnsafeFile, match="expands to 110 MB; at most 100 MB"):
        check_docx(bomb)
    with pytest.raises(UnsafeFile, match=r"compressed \d{4} times; at most 200"):
        check_xlsx(bomb)  # within the 512 MB total, but no real sheet is that compressible


def test_declared_sizes_past_the_total_are_refused() -> None:
    declared = p._raw_zip([("word/document.xml", b"\x03\x00", 600 * 1024 * 1024, 0)])
    with pytest.raises(UnsafeFile, match="expands to 600 MB; at most 512 MB"):
        check_zip(declared)
    with pytest.raises(UnsafeFile, match="at most 100 MB"):
        check_docx(p._raw_zip([("a.xml", b"\x03\x00", 101 * 1024 * 1024, 0)]))


def test_a_lying_size_field_is_caught_while_inflating(monkeypatch: pytest.MonkeyPatch) -> None:
    produced: list[int] = []
    real = safefiles._inflate

    def counting(data: bytes, info: zipfile.ZipInfo):  # type: ignore[no-untyped-def]
        for chunk in real(data, info):
            produced.append(len(chunk))
            yield chunk

    monkeypatch.setattr(safefiles, "_inflate", counting)
    with pytest.raises(UnsafeFile, match="sizes do not match"):
        check_zip(p.lying_zip())
    # declared 1 KB: inflating stopped at the first chunk past it, not at 64 MB
    assert sum(produced) <= safefiles.CHUNK


def test_too_many_entries_are_refused() -> None:
    with pytest.raises(UnsafeFile, match="1001 files"):
        check_zip(p.many_entries())


def test_a_wide_csv_is_refused_from_its_header() -> None:
    wide = p.wide_csv()
    assert 1_000_000 < len(wide) < 3_000_000
    with pytest.raises(UnsafeFile, match="200000 columns"):
        check_csv(wide)
    check_csv('"a,b",c\n1,2\n'.encode("gb18030"))
    quoted = ",".join(f'"{i},{i}"' for i in range(1_500)).encode()
    check_csv(quoted)  # 1,500 columns with commas inside quotes: counted exactly
    with pytest.raises(UnsafeFile, match="cells"):
        check_csv(b"a,b,c\n" + b"1,2,3\n" * 100_000, SMALL_TABLE)


def test_the_real_wenjuanxing_fixtures_pass() -> None:
    folder = ROOT.parent / "shared" / "fixtures" / "wenjuanxing"
    files = sorted(folder.glob("*.xls"))
    if not files:
        pytest.skip("shared/fixtures is not beside the clone")
    for path in files:
        check_table(path.read_bytes(), SURVEY_TABLE)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (p.YAML_ALIAS_BOMB, "anchors and aliases"),
        (p.YAML_ANCHOR, "anchors and aliases"),
        (p.YAML_DEEP, "nested deeper than 64"),
        (b"a: " + b"x" * (1024 * 1024), "larger than"),
    ],
    ids=["alias-bomb", "anchor", "deep", "large"],
)
def test_yaml_is_refused_before_it_is_built(payload: bytes, words: str) -> None:
    with pytest.raises(UnsafeYaml, match=words):
        load_yaml(payload)
    assert issubclass(UnsafeYaml, yaml.YAMLError)  # every loader's except clause catches it


def test_bundled_yaml_loads_with_the_strict_loader() -> None:
    templates = sorted((ROOT / "scoring_templates").glob("*.yaml"))
    assert templates
    for path in templates:
        load_template(path)
    assert library(ROOT / "scoring_templates" / "surveys")
    for path in (ROOT / "scoring_templates" / "requests").glob("*.yaml"):
        assert load_yaml(path.read_bytes())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a\x00b.csv", "ab.csv"),
        ("..\\..\\\x1bevil\x07.csv", "evil.csv"),
        ("../../etc/passwd", "passwd"),
        ("\u202eslx.csv", "slx.csv"),
        ("\x00", "upload"),
        ("资料 A.pdf", "资料 A.pdf"),
    ],
)
def test_file_names_lose_control_characters_and_paths(name: str, expected: str) -> None:
    assert clean_filename(name) == expected


def test_long_file_names_keep_their_extension() -> None:
    cleaned = clean_filename("x" * 600 + ".xlsx")
    assert len(cleaned) == 200 and cleaned.endswith(".xlsx")


def _fixture_xls(name: str = "reportgen_800_800_0.xls") -> bytearray:
    path = ROOT.parent / "shared" / "fixtures" / "wenjuanxing" / name
    if not path.exists():
        pytest.skip("shared/fixtures is not beside the clone")
    return bytearray(path.read_bytes())


def test_a_legacy_xls_with_a_lying_dimensions_record_is_refused() -> None:
    """calamine allocates an .xls sheet's DIMENSIONS: rows 0xFFFFFFF0 asked for 44 TB and
    aborted the process (measured in a subprocess); the record is read first now."""
    data = _fixture_xls()
    check_xls(bytes(data), SMALL_TABLE)  # the real export: 801 rows × 14 columns
    at = data.find(b"\x00\x02\x0e\x00")  # DIMENSIONS, BIFF8
    assert at > 0
    rows = bytearray(data)
    rows[at + 4 : at + 18] = struct.pack("<IIHHH", 0, 0xFFFFFFF0, 0, 14, 0)
    with pytest.raises(UnsafeFile, match="4294967280 rows × 14 columns"):
        check_table(bytes(rows))
    cols = bytearray(data)
    cols[at + 4 : at + 18] = struct.pack("<IIHHH", 0, 801, 0, 0xFFFF, 0)
    with pytest.raises(UnsafeFile, match="65535 columns"):
        check_table(bytes(cols))


def test_a_legacy_xls_cell_far_away_is_refused() -> None:
    data = _fixture_xls("reportgen_800_800_2.xls")
    check_xls(bytes(data))
    at = data.find(b"\xfd\x00\x0a\x00")  # the first LABELSST cell record (10 bytes)
    assert at > 0
    data[at + 4 : at + 8] = struct.pack("<HH", 65535, 999)
    with pytest.raises(UnsafeFile, match="65536 rows × 1000 columns"):
        check_xls(bytes(data))


def test_a_broken_ole2_file_is_refused_not_crashed() -> None:
    with pytest.raises(UnsafeFile, match=r"not a valid \.xls"):
        check_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    data = _fixture_xls()
    for cut in (600, 5_000, len(data) // 2):  # refused or read, never an unexpected error
        with contextlib.suppress(UnsafeFile):
            check_xls(bytes(data[:cut]))


# --- review of issue #13: parts under any name, quoted ">", Workbook before Book, YAML values --


@pytest.mark.parametrize("path", sorted(p.SHEET_ELSEWHERE))
def test_a_sheet_stored_under_any_name_is_scanned(path: str) -> None:
    """calamine follows xl/_rels/workbook.xml.rels to the sheet, whatever its folder or
    extension: every entry is scanned, not only *.xml outside xl/media/ and docProps/."""
    with pytest.raises(UnsafeFile, match="16384 columns"):
        check_xlsx(p.SHEET_ELSEWHERE[path])


def test_images_beside_a_normal_sheet_pass() -> None:
    """Binary entries are scanned too: random bytes (with "<c " and quotes in them) hold no
    cells."""
    source = zipfile.ZipFile(io.BytesIO(p.xlsx('<row r="1"><c r="A1"><v>1</v></c></row>')))
    buffer = io.BytesIO()
    noise = random.Random(13).randbytes(3 * 1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
        archive.writestr("xl/media/image1.png", b"\x89PNG\r\n\x1a\n" + noise)
        archive.writestr("docProps/thumbnail.jpeg", b'\xff\xd8<c x="1" <row ' + noise[:5000])
    check_xlsx(buffer.getvalue(), SMALL_TABLE)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (p.GT_IN_CELL, "16384 columns"),
        (p.GT_IN_ROW, "1048576 rows × 101 columns"),
        (p.R_IN_QUOTES, "16384 columns"),
        (p.xlsx('<row r="1"><c r="A1" r="XFD1048576"><v>1</v></c></row>'), "16384 columns"),
        (p.xlsx('<row r="1"><c r="A1"/></row><row r="2" r="2000000"/>'), "2000000 rows"),
        (p.xlsx('<row r="1"><c r="A1" x="<" r="XFD1"/></row>'), "16384 columns"),
        (p.xlsx('<dimension x=">" ref="A1:XFD9"/><row r="1"><c r="A1"/></row>'), "16384 columns"),
    ],
    ids=[
        "gt-in-cell",
        "gt-in-row",
        "r-in-quotes",
        "second-r",
        "second-row-r",
        "lt-in-cell",
        "gt-in-dimension",
    ],
)
def test_a_quoted_gt_or_a_second_r_does_not_hide_a_cell(payload: bytes, words: str) -> None:
    with pytest.raises(UnsafeFile, match=words):
        check_xlsx(payload, SMALL_TABLE)


@pytest.mark.parametrize(
    "split",
    [
        (b'<row r="1"><c r="A1"/></row><row r="9"><c x=">" r="XF', b'D1048576"><v>1</v></c>'),
        (b'<row r="1"><c r="A1"/></row><row r="9"><c x="<', b'" r="XFD1048576"><v>1</v></c>'),
        (b'<row r="1"><c r="A1"/></row><row x=">" r="10', b'48576"><c><v>1</v></c></row>'),
    ],
    ids=["gt-before-the-cut", "lt-before-the-cut", "row-gt-before-the-cut"],
)
def test_a_tag_cut_between_chunks_after_a_quoted_gt_is_kept_whole(
    split: tuple[bytes, bytes],
) -> None:
    scan = safefiles._scan_xml(iter(split))
    assert scan.columns == 16_384 or scan.rows == 1_048_576


def test_the_first_workbook_stream_calamine_reads_is_checked() -> None:
    """calamine opens "Workbook", else "Book": a bombed Workbook behind an innocent Book
    listed first is refused (every Workbook and Book stream is checked)."""
    data = p.xls_book_first()
    if data is None:
        pytest.skip("shared/fixtures is not beside the clone")
    with pytest.raises(UnsafeFile, match="4294967280 rows"):
        check_xls(data)


@pytest.mark.parametrize(
    ("payload", "words"),
    [(p.YAML_BAD_DATE, "month must be in 1..12"), (p.YAML_HUGE_INT, "cannot be read")],
    ids=["bad-date", "huge-int"],
)
def test_yaml_values_that_cannot_be_built_are_a_yaml_error(payload: bytes, words: str) -> None:
    with pytest.raises(UnsafeYaml, match=words):
        load_yaml(payload)
