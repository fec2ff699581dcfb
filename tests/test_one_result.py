"""One set of numbers (#14): the scores page, the Excel 评分表 and the portfolio row print every
figure of the demo engagement exactly as the one evaluated result (``result_of``) does."""

from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from workbench.accounts.models import User
from workbench.demo import DEMO_TITLE, load_demo
from workbench.engagements.models import Engagement
from workbench.evaluation import result_of

LEAD, PASSWORD = "zhang.wei", "demo-evaluator-2026"


@pytest.fixture
def demo(session, client):
    load_demo(session)
    session.commit()
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    response = client.post("/login", data={"username": LEAD, "password": PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as browser:
        browser["lang"] = "zh_Hans_CN"  # the report's language: the engine's reasons in zh
    return engagement


def _cells(page: str, code: str) -> dict[str, str]:
    """The score, rate and criteria cells of one row of the scores table, as text."""
    row = page[page.index(f'id="leaf-{code}"') :]
    row = row[: row.index("</tr>")]
    out = {}
    for name in ("score", "rate", "criteria"):
        found = re.search(rf'<td class="[^"]*\b{name}\b[^"]*">(.*?)</td>', row, re.S)
        assert found, (code, name)
        out[name] = html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()
    return out


def _excel_rows(data: bytes, depth: int) -> tuple[list[tuple], dict[str, int], list[str]]:
    ws = load_workbook(io.BytesIO(data)).active
    headers = [c.value for c in ws[2]]
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    notes = [r[0] for r in rows if r[0]]
    return rows, {name: i for i, name in enumerate(headers)}, notes


@pytest.mark.parametrize("not_applicable", [False, True], ids=["as-loaded", "C41-n/a"])
def test_page_excel_and_portfolio_print_the_results_numbers(demo, session, client, not_applicable):
    if not_applicable:  # the total is then converted to 100, and the page says how
        response = client.post(f"/engagements/{demo.id}/scores/C41", data={"not_applicable": "y"})
        assert response.status_code == 302
    result = result_of(session, demo)
    assert result is not None and result.leaves
    assert result.rescaled is not_applicable
    page = client.get(f"/engagements/{demo.id}/scores").get_data(as_text=True)
    rows, col, notes = _excel_rows(
        client.get(f"/engagements/{demo.id}/scores.xlsx").data,
        result.figures["template"].depth(),
    )
    leaf_rows = rows[: len(result.leaves)]
    checked = 0
    for node, xrow in zip(result.leaves, leaf_rows, strict=True):
        cells = _cells(page, node.code)
        score, rate = xrow[col["得分"]], xrow[col["得分率"]]
        if node.score is not None:
            assert cells["score"] == node.printed_score, node.code
            assert f"{score:.2f}" == node.printed_score, node.code
            assert cells["rate"] == node.printed_rate, node.code
            assert f"{rate * 100:.2f}%" == node.printed_rate, node.code
            checked += 1
        else:  # its status, in words, on both
            assert score == {"unassessed": "尚未评价", "not_applicable": "不适用"}.get(
                node.status.value, "录入值与评分方法不符"
            )
            assert cells["rate"] == "" and rate in ("", None)
        # 评分标准: the same string on the page and in Excel
        assert cells["criteria"] == (xrow[col["评分标准"]] or ""), node.code
        # 评分依据: the page shows its parts (the engine's, the evaluator's, the evidence)
        basis = xrow[col["评分依据"]] or ""
        assert basis == (node.basis_zh if node.applicable else "")
        for part in (node.reason_zh, node.evaluator_reason, node.evidence):
            if part.strip() and node.applicable:
                assert html.escape(part.strip(), quote=False) in page, node.code
    assert checked == len([n for n in result.leaves if n.score is not None]) > 0
    # subtotals: the sums of official leaf scores, printed by the result
    for node in result.nodes:
        if not node.is_leaf and node.score is not None:
            assert _cells(page, node.code)["score"] == node.printed_score, node.code
    if result.total is not None:
        assert f'id="total-score">{result.printed_total}<' in page
        assert result.total_sentence_zh() in notes
    assert html.escape(result.total_sentence_zh(), quote=False) in page
    if not_applicable:
        assert "折算为百分制得分" in result.total_sentence_zh()
        assert _cells(page, "C41")["score"] == "不适用"

    # the portfolio row: the live total and each dimension's 得分率
    from workbench.portfolio.services import portfolio

    lead = session.scalar(sa.select(User).where(User.username == LEAD))
    row = next(r for r in portfolio(session, lead) if r.engagement.id == demo.id)
    if row.issued is None:
        assert row.total == result.printed_total
        assert row.grade == result.grade
        assert row.dimensions == {n.name: n.printed_rate for n in result.dimensions}
        listing = client.get("/portfolio/").get_data(as_text=True)
        assert result.printed_total in listing or result.total is None


def test_the_demos_sustainability_score_is_3_33_everywhere(demo, session, client):
    """D13 is the panel's mean of 3.5, 3 and 3.5 = 3.333…: rounded half-up it is 3.33 (the old
    largest-remainder apportioning printed 3.34 to make a subtotal add up)."""
    result = result_of(session, demo)
    d13 = result.node("D13")
    assert d13.printed_score == "3.33"
    page = client.get(f"/engagements/{demo.id}/scores").get_data(as_text=True)
    assert _cells(page, "D13")["score"] == "3.33"
    rows, col, _notes = _excel_rows(
        client.get(f"/engagements/{demo.id}/scores.xlsx").data,
        result.figures["template"].depth(),
    )
    index = [n.code for n in result.leaves].index("D13")
    assert f"{rows[index][col['得分']]:.2f}" == "3.33"
    # the panel page prints the same official aggregate
    panel = client.get(f"/engagements/{demo.id}/panel").get_data(as_text=True)
    assert ">3.33<" in panel and ">3.34<" not in panel
