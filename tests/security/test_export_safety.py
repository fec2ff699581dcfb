"""Formula-like and HTML text typed by users or respondents is exported safely.

Every Excel export (enumerated from the URL map, so a new ``.xlsx`` route is covered or fails
this test) must contain no formula cell and no text a spreadsheet would execute; the Word
report must open and print the text literally (no Jinja evaluation); HTML pages escape it.
"""

from __future__ import annotations

import io
import re
from typing import Any

import docx
import openpyxl
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from tests.security._fuzz_world import (
    FUZZ,
    SCRIPT,
    Fuzz,
    assert_escaped,
    fuzz_fixture,  # noqa: F401  (fixture)
    world_template,  # noqa: F401  (fixture)
)
from workbench.db import db

FORMULA = '=HYPERLINK("http://x","y")'
#: planted text: a formula first (what a spreadsheet would run), markup and a Jinja expression
PAYLOADS = {
    "engagement": FORMULA + SCRIPT,
    "project": "+cmd|' /C calc'!A0",
    "goal": "@SUM(A1)" + SCRIPT,
    "finding_title": "-1+1" + SCRIPT,
    "finding_text": "=1+1 {{ 7*7 }} " + SCRIPT,
    "expert": "=cmd" + SCRIPT,
    "comment": "@SUM(1+1)*cmd" + SCRIPT,
    "answer": '=HYPERLINK("http://evil","点我")' + SCRIPT,
    "rectification": "+1+1" + SCRIPT,
    "organisation": "=2+2 临川县财政局" + SCRIPT,
}
DANGEROUS_START = ("=", "+", "-", "@")

#: list pages that also export with ?format=xlsx (the URL map cannot show these)
QUERY_EXPORTS = [
    "/engagements/?format=xlsx",
    "/engagements/{e}/audit?format=xlsx",
    "/experts/?format=xlsx",
    "/admin/users?format=xlsx",
    "/admin/organisations?format=xlsx",
]


def plant(fuzz: Fuzz) -> None:
    """Write the payloads into the world as users and respondents could have typed them."""
    from workbench.accounts.models import Organisation
    from workbench.engagements.models import Engagement, GoalIndicator
    from workbench.experts.models import Expert, SheetScore
    from workbench.reports.models import Finding, RectificationItem
    from workbench.surveys.models import Survey, SurveyResponse

    w, s = fuzz.world, db.session
    engagement = s.get(Engagement, w.engagement_id)
    engagement.title = PAYLOADS["engagement"]
    engagement.project_name = PAYLOADS["project"]
    for goal in s.scalars(sa.select(GoalIndicator)):
        goal.name = PAYLOADS["goal"]
        goal.deviation_reason = PAYLOADS["goal"]
    for finding in s.scalars(sa.select(Finding)):
        finding.title = PAYLOADS["finding_title"]
        finding.text = PAYLOADS["finding_text"]
    for expert in s.scalars(sa.select(Expert)):
        expert.name = PAYLOADS["expert"]
    for score in s.scalars(sa.select(SheetScore)):
        score.comment = PAYLOADS["comment"]
    for item in s.scalars(sa.select(RectificationItem)):
        item.owner = item.note = PAYLOADS["rectification"]
    for org in s.scalars(sa.select(Organisation)):
        org.name = PAYLOADS["organisation"] + str(org.id)
    survey = s.get(Survey, w.survey_id)
    open_column = next(c for c in survey.columns if c.startswith("9、"))
    for response in s.scalars(
        sa.select(SurveyResponse).where(SurveyResponse.survey_id == w.survey_id)
    ):
        response.answers = {**response.answers, open_column: PAYLOADS["answer"]}
    s.commit()


def _params(fuzz: Fuzz, rule: Any) -> dict[str, Any] | None:
    """URL values for a rule's arguments from the world; None if one is unknown."""
    w = fuzz.world
    known = {
        "engagement_id": w.engagement_id,
        "survey_id": w.survey_id,
        "member_id": w.extra["sheet_member_id"],
        "fmt": "xlsx",
        "code": "project-2020",
    }
    if not set(rule.arguments) <= set(known):
        return None
    return {k: known[k] for k in rule.arguments}


def xlsx_urls(fuzz: Fuzz) -> list[str]:
    urls = []
    with fuzz.app.test_request_context():
        from flask import url_for

        for rule in fuzz.app.url_map.iter_rules():
            if "GET" not in rule.methods or "xlsx" not in rule.rule:
                continue
            params = _params(fuzz, rule)
            assert params is not None, f"{rule.rule}: add its arguments to _params"
            urls.append(url_for(rule.endpoint, **params))
    e = fuzz.world.engagement_id
    return sorted(set(urls)) + [u.format(e=e) for u in QUERY_EXPORTS]


def _get_as_anyone(fuzz: Fuzz, clients: dict[str, Any], url: str) -> Any:
    for who in ("lead", "admin", "client"):
        response = clients[who].get(url)
        if response.status_code == 200:
            return response
    raise AssertionError(f"{url}: nobody may download it")


def assert_safe_workbook(data: bytes, url: str) -> int:
    """No formula cell and no formula-like text; returns the number of text cells seen."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    texts = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{url}: formula in {sheet.title}!{cell.coordinate}"
                if isinstance(cell.value, str):
                    texts += 1
                    assert not cell.value.startswith(DANGEROUS_START), (
                        f"{url}: {sheet.title}!{cell.coordinate} = {cell.value[:40]!r}"
                    )
    return texts


def test_every_excel_export_neutralises_formulas(fuzz: Fuzz) -> None:
    plant(fuzz)
    clients = {who: fuzz.client(who) for who in ("lead", "admin", "client")}
    urls = xlsx_urls(fuzz)
    assert len(urls) >= 15  # the URL map really was enumerated
    planted = 0
    for url in urls:
        response = _get_as_anyone(fuzz, clients, url)
        assert response.data[:2] == b"PK", f"{url}: not an xlsx"
        assert_safe_workbook(response.data, url)
        book_text = _workbook_text(response.data)
        planted += sum(p.lstrip("=+-@") in book_text for p in PAYLOADS.values())
    assert planted >= 10, "the planted text should reach the exports"


def _workbook_text(data: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return "\n".join(
        str(c.value) for s in book.worksheets for r in s.iter_rows() for c in r if c.value
    )


def test_safe_cell_neutralises_each_formula_start() -> None:
    from workbench.xlsx import safe_cell, table_bytes

    values = [FORMULA, "+cmd", "-1+1", "@SUM(A1)", "\t=1", "a\x00b", "正常文本", 12, -3.5]
    data = table_bytes("t", ["v"], [[v] for v in values])
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [row[0] for row in book.active.iter_rows(min_row=2)]
    assert [c.data_type for c in cells] == ["s"] * 7 + ["n", "n"]
    assert cells[0].value == "'" + FORMULA  # shown literally, apostrophe included
    assert cells[5].value == "ab"
    assert cells[7].value == 12 and cells[8].value == -3.5  # numbers stay numbers
    assert safe_cell("-1+1") == "'-1+1"


def test_word_report_prints_planted_text_literally(fuzz: Fuzz) -> None:
    from workbench.reports.models import ReportVersion

    plant(fuzz)
    client = fuzz.client("lead")
    e = fuzz.world.engagement_id
    response = client.post(f"/engagements/{e}/report/build", data={"template": "project"})
    assert response.status_code in (200, 302), response.status_code
    version = db.session.scalar(
        sa.select(ReportVersion)
        .where(ReportVersion.engagement_id == e, ReportVersion.status == "draft")
        .order_by(ReportVersion.id.desc())
    )
    assert version is not None, "the report was not built"
    download = client.get(f"/engagements/{e}/report/versions/{version.id}.docx")
    assert download.status_code == 200
    document = docx.Document(io.BytesIO(download.data))
    text = "\n".join(p.text for p in document.paragraphs)
    text += "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    assert PAYLOADS["finding_text"] in text  # markup and {{ 7*7 }} literally, not "49"
    assert PAYLOADS["finding_title"] in text
    assert PAYLOADS["engagement"] in text or PAYLOADS["project"] in text


def test_html_pages_escape_planted_text(fuzz: Fuzz) -> None:
    """Every GET page reachable with the world's ids, for each role: no raw markup."""
    plant(fuzz)
    clients = {who: fuzz.client(who) for who in ("lead", "admin", "client")}
    clients["anonymous"] = fuzz.app.test_client()
    w = fuzz.world
    known = {
        "engagement_id": w.engagement_id,
        "survey_id": w.survey_id,
        "member_id": w.extra["sheet_member_id"],
        "goal_id": w.goal_id,
        "expert_id": w.expert_id,
        "user_id": w.user_id,
        "organisation_id": w.organisation_id,
        "code": "D11",
        "public_token": w.public_token,
        "token": w.extra["sheet_token"],
    }
    pages = []
    with fuzz.app.test_request_context():
        from flask import url_for

        for rule in fuzz.app.url_map.iter_rules():
            if "GET" in rule.methods and set(rule.arguments) <= set(known):
                if re.search(r"\.(xlsx|yaml|docx|zip|png|svg|json)|static", rule.rule):
                    continue
                pages.append(url_for(rule.endpoint, **{k: known[k] for k in rule.arguments}))
    assert len(pages) >= 30
    shown = 0
    for url in sorted(set(pages)):
        for who, client in clients.items():
            response = client.get(url)
            assert response.status_code < 500, f"{url} as {who}: {response.status_code}"
            if response.status_code == 200 and response.mimetype == "text/html":
                assert_escaped(response.data, f"{url} as {who}")
                shown += str(escape(SCRIPT)) in response.get_data(as_text=True)
    assert shown >= 10, "the planted markup should be shown (escaped) on many pages"


# --- archive entry names (issue #13): free text never becomes a path ---------------------------

TRAVERSAL = [
    "evidence/../../../../x/y",
    "../../../../x",
    "/etc/cron.d/job",
    "//etc/cron.d",
    "..\\..\\win/evil.exe",
    "C:\\Windows\\x",
    "..",
    ".",
    "x\x00y",
    "\u202e..\u202e",
    "a/./b/../../c",
]


def _assert_safe_entry(name: str) -> None:
    assert name and not name.startswith("/")
    assert "\\" not in name and "\x00" not in name
    assert all(part not in ("", ".", "..") for part in name.split("/")), name
    assert not (len(name) > 1 and name[1] == ":"), name


def _entry_for(code: str, filename: str) -> str:
    from workbench.archive import stored_entry_name

    return stored_entry_name(
        {"kind": "evidence", "id": 3, "version": 1, "indicator_code": code, "name": filename}
    )


def test_archive_entry_names_from_traversal_payloads_are_safe_relative_paths():
    from workbench.archive import stored_entry_name, unsafe_name

    for payload in TRAVERSAL:
        for name in (
            _entry_for(payload, payload),
            _entry_for(payload, "资料.pdf"),
            stored_entry_name({"kind": "report", "id": 1, "name": payload}),
        ):
            _assert_safe_entry(name)
            assert not unsafe_name(name)
    assert unsafe_name("evidence/../../x") and unsafe_name("/etc/x") and unsafe_name("a\\b")


@FUZZ
@given(code=st.text(max_size=60), filename=st.text(max_size=250))
def test_archive_entry_names_are_safe_for_any_text(code: str, filename: str) -> None:
    name = _entry_for(code, filename)
    _assert_safe_entry(name)
    assert name.startswith("evidence/") and name.count("/") == 2
    assert all(len(part) <= 80 for part in name.split("/"))
