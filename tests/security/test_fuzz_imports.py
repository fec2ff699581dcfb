"""Malformed uploads to every importer: a 4xx or a clear message, never a 500, nothing written.

Each importer gets the app's own valid file (downloaded from the app where it offers one), then
truncated, mangled, re-encoded or replaced by crafted bad files: random bytes under an .xlsx
name, a zip that is not a workbook, GBK versus UTF-8 (with BOM), header-only and empty tables,
a 1 MB cell, YAML with bad or non-summing weights, huge numbers, recursive anchors and a
billion-laughs bomb, and a .docx that is not a document.
"""

from __future__ import annotations

import io
import logging
import os
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.security import _payloads as p
from tests.security._fuzz_world import (
    FUZZ,
    SCRIPT,
    Fuzz,
    assert_escaped,
    changed_tables,
    danger_flashes,
    failed,
    fuzz_fixture,  # noqa: F401  (fixture)
    row_counts,
    world_template,  # noqa: F401  (fixture)
)
from workbench.core import safefiles

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

#: Files that are wrong whatever the importer expects.
GENERIC_BAD = [
    b"",
    b"\x00" * 64,
    b"PK\x03\x04" + b"\x00" * 40,  # a zip header and nothing else
    _zip({"hello.txt": b"not a workbook"}),
    _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<oops"}),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,  # an OLE2 (.xls) header, truncated
    b"\xef\xbb\xbf",  # a BOM alone
    "序号,标题\n".encode("gbk"),
    b"<html><script>alert(1)</script></html>",
    BILLION_LAUGHS,
    b"&a [*a]",
    # issue #13: refused by workbench.core.safefiles before any parser sees them
    p.DIMENSION_BOMB,  # calamine would abort the process (549 GB)
    p.DECLARED_DIMENSION_BOMB,
    p.RLESS_BOMB,
    p.SPARSE_XLSX,
    p.wide_csv(),
    p.docx_bomb(110 * 1024 * 1024),
    p.lying_zip(),
    p.many_entries(),
    p.YAML_ALIAS_BOMB,
    p.YAML_ANCHOR,
    p.YAML_DEEP,
    *([bomb] if (bomb := p.xls_dimension_bomb()) else []),  # calamine: 44 TB, abort
    # the review of #13: a sheet where a scan by name does not look, a quoted ">" or a second
    # r hiding the far cell, a bombed Workbook behind an innocent Book, unbuildable YAML values
    *p.SHEET_ELSEWHERE.values(),
    p.GT_IN_CELL,
    p.GT_IN_ROW,
    p.R_IN_QUOTES,
    *([book] if (book := p.xls_book_first()) else []),
    p.YAML_BAD_DATE,
    p.YAML_HUGE_INT,
    b"- " * 5000,
    os.urandom(2048),
]


def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\n".join(",".join(r) for r in rows).encode(encoding)


@dataclass(frozen=True)
class Importer:
    name: str
    actor: str
    url: str  # formatted with the world
    file_field: str
    file_names: tuple[str, ...]
    data: dict[str, str]
    #: tables a refused import may still write (e.g. a failed import job is kept and shown)
    may_write_on_failure: frozenset[str] = frozenset()
    #: where to download a valid file to mangle (formatted with the world), if the app offers one
    sample: str | None = None
    crafted: Callable[[], list[bytes]] = list


def _goal_rows() -> list[bytes]:
    header = ["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "实际完成值"]
    good = ["产出指标", "数量指标", "管网长度", "≥", "120", "公里", "126"]
    return [
        _csv([header]),
        _csv([header, good], "gbk"),
        b"\xef\xbb\xbf" + _csv([header, good]),
        _csv([header, [*good[:4], "NaN", "%", "1e309"]]),
        _csv([header, [*good[:4], "9" * 400, "", ""]]),
        _csv([header, [SCRIPT, '=HYPERLINK("http://x","y")', "@SUM(A1)", "≥", "1", "", ""]]),
        _csv([header, ["x" * 1_000_000, *good[1:]]]),
        _csv([header, ["\x00产出指标", *good[1:]]]),
    ]


def _template_yaml() -> list[bytes]:
    def template(indicators: Any, **extra: Any) -> bytes:
        body = {"code": "fuzz", "name": "模糊测试", "total": 100, "indicators": indicators, **extra}
        return yaml.safe_dump(body, allow_unicode=True).encode()

    leaf = {"code": "A", "name": "甲", "weight": 60, "method": {"type": "expert"}}
    other = {"code": "B", "name": "乙", "weight": 40, "method": {"type": "expert"}}
    return [
        template([leaf, {**other, "weight": 30}]),  # weights sum to 90
        template([{**leaf, "weight": -60}, {**other, "weight": 160}]),
        template([{**leaf, "weight": 1e308}, other]),
        template([{**leaf, "weight": float("nan")}, other]),
        template([{**leaf, "weight": float("inf")}, other]),
        template([{**leaf, "weight": "六十"}, other]),
        template([leaf, {**other, "code": "A"}]),  # duplicate code
        template([{**leaf, "children": [leaf]}, other]),  # a child with its parent's code
        template([]),
        template([leaf, other], total=0),
        template("not a list"),
        b"code: x\nindicators: &x [*x]\n",  # a recursive anchor
        b"code: [unclosed\n",
        b"!!python/object/apply:os.system ['echo pwned']\n",
        b"\x00\x01\x02",
    ]


def _survey_files() -> list[bytes]:
    header = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP", "1、您的满意程度"]
    row = ["1", "2025/6/1 10:00:00", "120秒", "微信", "N/A", "10.0.0.1(浙江-杭州)", "满意"]
    return [
        _csv([header]),
        _csv([header, row], "gbk"),
        b"\xef\xbb\xbf" + _csv([header, row]),
        _csv([header, row]).decode().encode("utf-16"),
        _csv([header, [*row[:6], "x" * 1_000_000]]),
        _csv([header, [*row[:6], SCRIPT]]),
        _csv([header, [*row[:6], "=cmd|' /C calc'!A0"]]),
        _csv([header, row[:3]]),  # a short row
        _csv([[h + "\x00" for h in header], row]),
        _csv([["1、" + "题" * 5000], ["满意"]]),
    ]


def _docx_files() -> list[bytes]:
    return [
        _zip({"word/document.xml": b"<w:document/>"}),
        _zip({"[Content_Types].xml": b"<Types/>"}),
        b"%PDF-1.4\n%%EOF",
    ]


IMPORTERS = [
    Importer(
        "goals",
        "lead",
        "/engagements/{e}/goals/import",
        "file",
        ("goals.xlsx", "goals.xls", "goals.csv"),
        {"replace": "y"},
        sample="/engagements/goals-template.xlsx",
        crafted=_goal_rows,
    ),
    Importer(
        "expert_offline_sheet",
        "lead",
        "/engagements/{e}/panel/{w.extra[sheet_member_id]}/sheet-upload",
        "file",
        ("sheet.xlsx", "sheet.docx"),
        {"paper_declaration": "y"},
        sample="/engagements/{e}/panel/{w.extra[sheet_member_id]}/sheet.xlsx",
    ),
    Importer(
        "indicator_yaml",
        "lead",
        "/engagements/{e}/indicators/upload",
        "file",
        ("system.yaml", "system.yml", "system.xlsx"),
        {"replace": "y"},
        sample="/engagements/{e}/indicators.yaml",
        crafted=_template_yaml,
    ),
    Importer(
        "template_library",
        "lead",
        "/scoring-templates/",
        "file",
        ("library.yaml", "library.xlsx"),
        {},
        sample="/engagements/{e}/indicators.xlsx",
        crafted=_template_yaml,
    ),
    Importer(
        "survey_import",
        "lead",
        "/engagements/{e}/surveys/import",
        "imp-file",
        ("wjx.xlsx", "wjx.xls", "wjx.csv"),
        {"imp-kind": "wjx", "imp-title": "导入测试", "imp-group": "群众"},
        # a failed job stays on the job page with its error
        may_write_on_failure=frozenset({"survey_import_jobs", "audit_entries"}),
        sample="/engagements/{e}/surveys/{w.survey_id}/raw.xlsx",
        crafted=_survey_files,
    ),
    Importer(
        "report_template",
        "lead",
        "/engagements/{e}/report/templates",
        "file",
        ("mine.docx",),
        {"name": "mine", "scope": "engagement"},
        sample="/engagements/{e}/report/templates/project.docx",
        crafted=_docx_files,
    ),
    Importer(
        "evidence",
        "lead",
        "/engagements/{e}/workpapers/evidence",
        "file",
        ("evidence.pdf", "evidence.exe", "evidence.xlsx", "../../evil.docx", "证据.jpg"),
        {"indicator_code": "A11"},
    ),
]


def _upload(fuzz: Fuzz, client: Any, imp: Importer, content: bytes, name: str) -> None:
    url = imp.url.format(e=fuzz.world.engagement_id, w=fuzz.world)
    danger_flashes(client, clear=True)
    before = row_counts()
    # encoded here, in memory: the test client would spool a large body to a temporary file
    # that it never closes (a ResourceWarning, not the app's)
    # a FileStorage: encode_multipart writes a (stream, name) tuple as its repr, not a file
    upload = FileStorage(
        io.BytesIO(content), filename=name, content_type="application/octet-stream"
    )
    boundary, body = encode_multipart({**imp.data, imp.file_field: upload})
    response = client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code < 500, f"{imp.name}: {name} ({len(content)} B) gave 500"
    if response.mimetype == "text/html":
        assert_escaped(response.data, url)
    if failed(response, client):
        changed = changed_tables(before, row_counts())
        unexpected = {k: v for k, v in changed.items() if k not in imp.may_write_on_failure}
        assert not unexpected, f"{imp.name}: rejected {name} but wrote {unexpected}"
    if response.status_code in (302, 303):
        shown = client.get(response.location)  # the message (or job page) the user reads
        assert shown.status_code < 500, f"{imp.name}: {response.location} gave 500"
        assert_escaped(shown.data, response.location)


@pytest.mark.parametrize("imp", IMPORTERS, ids=[i.name for i in IMPORTERS])
def test_malformed_uploads_are_refused_cleanly(
    fuzz: Fuzz, imp: Importer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    client = fuzz.client(imp.actor)
    samples: list[bytes] = []
    if imp.sample:
        got = client.get(imp.sample.format(e=fuzz.world.engagement_id, w=fuzz.world))
        assert got.status_code == 200, f"{imp.name}: sample {imp.sample} gave {got.status_code}"
        samples.append(got.data)
    crafted = [*GENERIC_BAD, *imp.crafted()]
    # every crafted file once, under the importer's first name, then hypothesis mixes
    for content in crafted:
        _upload(fuzz, client, imp, content, imp.file_names[0])

    # hypothesis draws a small recipe (printed on failure), not the bytes themselves
    recipes = [
        st.tuples(st.just("crafted"), st.integers(0, len(crafted) - 1), st.just(b"")),
        st.tuples(st.just("random"), st.just(0), st.binary(max_size=4096)),
    ]
    if samples:
        size = len(samples[0])
        recipes.append(st.tuples(st.just("truncated"), st.integers(0, size - 1), st.just(b"")))
        recipes.append(
            st.tuples(
                st.just("overwritten"), st.integers(0, size - 1), st.binary(min_size=1, max_size=16)
            )
        )

    def build(kind: str, n: int, noise: bytes) -> bytes:
        if kind == "crafted":
            return crafted[n]
        if kind == "truncated":
            return samples[0][:n]
        if kind == "overwritten":
            return samples[0][:n] + noise + samples[0][n + len(noise) :]
        return noise

    # issue #13: NUL and control characters, a bidi override, a path and 600 characters
    stem, _dot, ext = imp.file_names[0].rpartition(".")
    hostile = [f"{stem}\x00.{ext}", f"..\\{stem}\x1b\u202e.{ext}", f"{'名' * 600}.{ext}"]
    for name in hostile:
        _upload(fuzz, client, imp, samples[0] if samples else crafted[-1], name)

    @settings(FUZZ, max_examples=EXAMPLES)
    @given(recipe=st.one_of(*recipes), name=st.sampled_from([*imp.file_names, *hostile]))
    def run(recipe: tuple[str, int, bytes], name: str) -> None:
        _upload(fuzz, client, imp, build(*recipe), name)

    run()
    assert "unhandled error" not in caplog.text


# --------------------------------------------------------------------------------------------
# report templates that are code (issue #13): the sandbox refuses every payload, none runs


def test_report_template_payloads_are_refused_and_never_run(
    fuzz: Fuzz, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.security._template_payloads import PLACES, docx_with, payloads

    caplog.set_level(logging.ERROR)
    client = fuzz.client("lead")
    marker = tmp_path / "pwned"
    found = payloads(marker)
    url = f"/engagements/{fuzz.world.engagement_id}/report/templates"
    leaks = (
        str(fuzz.app.config["SECRET_KEY"]),
        str(fuzz.app.config["SQLALCHEMY_DATABASE_URI"]),
    )
    variants = {
        "as written": lambda s: s,
        "no spaces": lambda s: s.replace("{{ ", "{{").replace(" }}", "}}").replace("{% ", "{%"),
        "trimmed": lambda s: s.replace("{%", "{%-").replace("{{", "{{-"),
        "twice": lambda s: s + "\n" + s,
    }

    @settings(FUZZ, max_examples=max(EXAMPLES, 20))
    @given(
        name=st.sampled_from(sorted(found)),
        place=st.sampled_from(PLACES),
        variant=st.sampled_from(sorted(variants)),
        padding=st.text(alphabet="评价报告 x\t", max_size=12),
    )
    def run(name: str, place: str, variant: str, padding: str) -> None:
        data = docx_with(padding + variants[variant](found[name]) + padding, place)
        before = row_counts()
        upload = FileStorage(io.BytesIO(data), filename="mine.docx")  # a file, not its repr
        boundary, body = encode_multipart({"name": "mine", "scope": "engagement", "file": upload})
        response = client.post(
            url, data=body, content_type=f"multipart/form-data; boundary={boundary}"
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 422, (name, place, variant)
        # refused for what it holds, not because no file arrived
        assert "The file is empty." not in page and "not a Word .docx" not in page
        assert changed_tables(before, row_counts()) == {}, (name, place, variant)
        assert not marker.exists(), (name, place, variant)
        assert not any(leak in page for leak in leaks)

    run()
    assert "unhandled error" not in caplog.text


# --- issue #13: the payload classes, as properties of the checks every reader calls ----------


@settings(FUZZ, max_examples=EXAMPLES)
@example(col=16_384, row=1_048_576, canonical=True)  # the XFD1048576
@example(col=2_001, row=1, canonical=False)
@example(col=2_000, row=5_000, canonical=True)
@given(
    col=st.integers(1, 16_384),
    row=st.integers(1, 1_048_576),
    canonical=st.booleans(),
)
def test_any_far_cell_is_refused_before_a_parser(col: int, row: int, canonical: bool) -> None:
    """A workbook with cells at A1 and one more anywhere: refused exactly when the rectangle
    passes the caps, whatever the serialisation (never handed to calamine here)."""
    letters = ""
    n = col
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    if canonical:
        far = f'<row r="{row}"><c r="{letters}{row}"><v>1</v></c></row>'
    else:
        far = f"<row r='{row}'><c t='n' r = '{letters}{row}'><v>1</v></c></row>"
    data = p.xlsx('<row r="1"><c r="A1"><v>1</v></c></row>' + far)
    limits = safefiles.SURVEY_TABLE
    too_big = col > limits.max_columns or col * row > limits.max_cells
    if too_big:
        with pytest.raises(safefiles.UnsafeFile):
            safefiles.check_xlsx(data, limits)
    else:
        safefiles.check_xlsx(data, limits)


@settings(FUZZ, max_examples=EXAMPLES)
@example(columns=200_000)
@given(columns=st.integers(1, 5_000))
def test_any_wide_csv_is_refused_from_its_header(columns: int) -> None:
    data = (",".join(["列"] * columns) + "\n").encode("gb18030")
    if columns > safefiles.SURVEY_TABLE.max_columns:
        with pytest.raises(safefiles.UnsafeFile):
            safefiles.check_csv(data)
    else:
        safefiles.check_csv(data)


@settings(FUZZ, max_examples=EXAMPLES)
@example(size=1400 * 1024 * 1024)
@given(size=st.integers(2 * 1024 * 1024, 2**32 - 1))
def test_any_zip_bomb_is_refused_from_its_sizes(size: int) -> None:
    """An entry declaring ``size`` bytes from a few bytes of deflate (sizes honest or not)."""
    bomb = p._raw_zip([("word/document.xml", b"\x03\x00", size, 0)])
    with pytest.raises(safefiles.UnsafeFile):
        safefiles.check_docx(bomb)
    with pytest.raises(safefiles.UnsafeFile):
        safefiles.check_xlsx(bomb)


_leaf = st.one_of(st.integers(), st.text(max_size=5), st.booleans())
_tree = st.recursive(
    st.lists(_leaf, max_size=3),
    lambda inner: st.lists(inner, min_size=1, max_size=3),
    max_leaves=8,
)


@settings(FUZZ, max_examples=EXAMPLES)
@given(shared=_tree, copies=st.integers(2, 9))
def test_any_yaml_with_aliases_is_refused(shared: list[Any], copies: int) -> None:
    """PyYAML writes a shared object once with an anchor and then aliases: refused."""
    text = yaml.safe_dump({"code": "x", "indicators": [shared] * copies})
    assert "*" in text
    with pytest.raises(yaml.YAMLError, match="anchors and aliases"):
        safefiles.load_yaml(text)
    assert safefiles.load_yaml(yaml.safe_dump({"indicators": shared})) == {"indicators": shared}


@settings(FUZZ, max_examples=EXAMPLES * 5)
@example(name="a\x00b.csv")
@example(name="\u202e" + "名" * 600 + ".xlsx")
@given(name=st.text(max_size=700))
def test_any_file_name_is_safe_to_store(name: str) -> None:
    cleaned = safefiles.clean_filename(name)
    assert 0 < len(cleaned) <= safefiles.MAX_FILENAME
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in cleaned)
    assert "/" not in cleaned and "\\" not in cleaned
    cleaned.encode("utf-8")  # no lone surrogates: PostgreSQL and the file system accept it
