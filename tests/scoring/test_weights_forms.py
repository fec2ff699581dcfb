"""The points page: every POST through a form built for the indicator's children; the AHP
judgments applied (single expert and group) are kept, shown again and exported with their
matrices and CR."""

import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from workbench.accounts.models import OrganisationKind, Role
from workbench.audit.models import AuditEntry
from workbench.engagements import revision
from workbench.scoring import services

SCALE = ["9", "8", "7", "6", "5", "4", "3", "2", "1"] + [f"1/{k}" for k in range(2, 10)]


@pytest.fixture
def setup(session, make_org, make_user, make_engagement):
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    services.instantiate(session, lead, engagement, services.bundled_templates()["project-2020"])
    session.commit()
    return {"engagement": engagement, "lead": lead}


def _state(session, engagement):
    session.expire_all()
    system = services.system_of(session, engagement)
    template = services.template_of(system)
    return (
        [template.find(c).weight for c in ("A1", "A2", "A3")],
        dict(system.weight_notes or {}),
        session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)),
        revision.current(session, engagement.id),
    )


def _select(html: str, name: str) -> str:
    match = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert match, name
    return match.group(1)


def _options(html: str, name: str) -> list[str]:
    return re.findall(r'<option[^>]*value="([^"]*)"', _select(html, name))


def _selected(html: str, name: str) -> str:
    found = re.findall(r'<option([^>]*)value="([^"]*)"([^>]*)>', _select(html, name))
    chosen = [value for before, value, after in found if "selected" in before + after]
    assert len(chosen) == 1, found
    return chosen[0]


def test_ahp_offers_the_full_saaty_scale(setup, auth, client):
    auth.login(setup["lead"])
    page = client.get(f"/engagements/{setup['engagement'].id}/indicators/A/weights")
    html = page.get_data(as_text=True)
    assert _options(html, "pair-A1-A2") == SCALE
    assert _selected(html, "pair-A1-A2") == "1"


@pytest.mark.parametrize("bad", ["10", "1/10", "0", "abc", "2.5"])
def test_a_judgment_off_the_scale_is_refused_and_nothing_changes(setup, auth, client, session, bad):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    before = _state(session, engagement)
    form = {"ri": "saaty", "pair-A1-A2": bad, "pair-A1-A3": "3", "pair-A2-A3": "3"}
    response = client.post(
        f"/engagements/{engagement.id}/indicators/A/weights/ahp", data={**form, "action": "apply"}
    )
    assert response.status_code == 200
    assert "A1:A2: choose a judgment from the 1–9 scale." in response.get_data(as_text=True)
    assert _state(session, engagement) == before


def test_bad_direct_points_are_refused_and_nothing_changes(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    before = _state(session, engagement)
    url = f"/engagements/{engagement.id}/indicators/A/weights/direct"
    page = client.post(url, data={"w-A1": "abc", "w-A2": "5", "w-A3": "5"})
    html = page.get_data(as_text=True)
    assert "A1: enter a positive number of points with at most 2 decimals." in html
    assert 'value="abc"' in html  # what was typed stays for correction
    page = client.post(url, data={"w-A1": "4", "w-A2": "5", "w-A3": "5"})
    assert "The points add up to 14, not 15." in page.get_data(as_text=True)
    assert _state(session, engagement) == before
    assert client.post(url, data={"w-A1": "5", "w-A2": "5", "w-A3": "5"}).status_code == 302
    assert _state(session, engagement)[0] == [5, 5, 5]


def test_bad_entropy_direction_is_refused(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    before = _state(session, engagement)
    table = "A1,A2,A3\n0.9,10,3\n0.5,14,9\n0.7,12,5\n"
    url = f"/engagements/{engagement.id}/indicators/A/weights/entropy"
    page = client.post(url, data={"entropy_table": table, "dir-A1": "7", "action": "apply"})
    assert page.status_code == 200
    assert _state(session, engagement) == before


def test_applied_ahp_is_shown_again_audited_and_exported(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    eid = engagement.id
    _w, _notes, audits, rev = _state(session, engagement)
    judgments = {"pair-A1-A2": "4", "pair-A1-A3": "6", "pair-A2-A3": "2"}
    response = client.post(
        f"/engagements/{eid}/indicators/A/weights/ahp",
        data={"ri": "saaty", **judgments, "action": "apply"},
    )
    assert response.status_code == 302
    _weights, notes, audits_after, rev_after = _state(session, engagement)
    assert notes["A"]["judgments"] == {"A1-A2": "4", "A1-A3": "6", "A2-A3": "2"}
    assert audits_after == audits + 1 and rev_after > rev
    entry = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "indicators.weights"

    # reopening the page shows the applied judgments, not all 1s
    html = client.get(f"/engagements/{eid}/indicators/A/weights").get_data(as_text=True)
    assert {name: _selected(html, name) for name in judgments} == judgments
    assert "CR 0.0" in html  # "Last set: AHP (CR …)"

    # the 评分表 export carries the judgment matrix, the weights and CR
    wb = load_workbook(io.BytesIO(client.get(f"/engagements/{eid}/scores.xlsx").data))
    assert "权重确定" in wb.sheetnames
    rows = [[c for c in row if c is not None] for row in wb["权重确定"].iter_rows(values_only=True)]
    labels = [r[0] for r in rows if r]
    assert "判断矩阵" in labels and "权重" in labels and "一致性比率 CR" in labels
    start = labels.index("判断矩阵")
    matrix = [r[1:] for r in [r for r in rows if r][start + 1 : start + 4]]
    assert matrix[0] == [1.0, 4.0, 6.0]
    assert matrix[2][:2] == [pytest.approx(1 / 6, abs=1e-4), 0.5]
    cr_row = next(r for r in rows if r and r[0] == "一致性比率 CR")
    assert cr_row[1] == pytest.approx(notes["A"]["cr"]) and cr_row[1] < 0.1
    weight_row = next(r for r in rows if r and r[0] == "权重")
    assert weight_row[1] > weight_row[2] > weight_row[3]
    assert sum(weight_row[1:]) == pytest.approx(1, abs=1e-3)


def test_new_judgments_giving_the_same_points_are_still_recorded(setup, auth, client, session):
    """The note (judgments, CR) is a change of its own: audited, revision bumped."""
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    url = f"/engagements/{engagement.id}/indicators/A/weights/ahp"
    same = {"ri": "saaty", "pair-A1-A2": "1", "pair-A1-A3": "1", "pair-A2-A3": "1"}
    client.post(url, data={**same, "action": "apply"})
    weights, _notes, audits, rev = _state(session, engagement)
    client.post(url, data={**same, "ri": "cn", "action": "apply"})
    weights2, notes2, audits2, rev2 = _state(session, engagement)
    assert weights2 == weights and notes2["A"]["ri"] == "cn"
    assert audits2 == audits + 1 and rev2 > rev


def test_the_refusal_reads_in_chinese_in_the_chinese_interface(setup, auth, client, session):
    auth.login(setup["lead"])
    with client.session_transaction() as browser:
        browser["lang"] = "zh_Hans_CN"
    engagement = setup["engagement"]
    before = _state(session, engagement)
    form = {"pair-A1-A2": "11", "pair-A1-A3": "3", "pair-A2-A3": "3", "action": "apply"}
    page = client.post(f"/engagements/{engagement.id}/indicators/A/weights/ahp", data=form)
    html = page.get_data(as_text=True)
    assert "A1:A2：请从 1–9 标度中选择判断值。" in html and "choose a judgment" not in html
    group = {"group": "3 5 3\n3 12 1", "action": "apply"}
    page = client.post(f"/engagements/{engagement.id}/indicators/A/weights/group-ahp", data=group)
    assert "专家 2：判断值不在 1–9 标度内。" in page.get_data(as_text=True)
    assert _state(session, engagement) == before


def test_an_older_ahp_note_with_only_its_matrix_is_shown_back(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    system = services.system_of(session, engagement)
    third = 1 / 3
    system.weight_notes = {
        "A": {"method": "ahp", "cr": 0.0, "matrix": [[1, 3, 1], [third, 1, third], [1, 3, 1]]}
    }
    session.commit()
    html = client.get(f"/engagements/{engagement.id}/indicators/A/weights").get_data(as_text=True)
    shown = {n: _selected(html, n) for n in ("pair-A1-A2", "pair-A1-A3", "pair-A2-A3")}
    assert shown == {"pair-A1-A2": "3", "pair-A1-A3": "1", "pair-A2-A3": "1/3"}


def _textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, name
    return match.group(1).strip()


def _apply_group(client, eid):
    typed = "3，5, 2\n\n 0.5  1/3 0.5 \n"  # full-width comma, blank line, extra spaces
    return client.post(
        f"/engagements/{eid}/indicators/A/weights/group-ahp",
        data={"ri": "saaty", "group": typed, "action": "apply"},
    )


def test_applied_group_ahp_is_kept_audited_and_shown_again(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    eid = engagement.id
    _w, _notes, audits, rev = _state(session, engagement)
    assert _apply_group(client, eid).status_code == 302
    _weights, notes, audits_after, rev_after = _state(session, engagement)
    assert notes["A"]["method"] == "group_ahp"
    assert notes["A"]["expert_judgments"] == ["3 5 2", "1/2 1/3 1/2"]
    assert audits_after == audits + 1 and rev_after > rev

    # reopening the page shows each expert's applied line, normalised (was an empty box)
    html = client.get(f"/engagements/{eid}/indicators/A/weights").get_data(as_text=True)
    assert _textarea(html, "group").splitlines() == ["3 5 2", "1/2 1/3 1/2"]
    assert _selected(html, "pair-A1-A2") == "1"  # the single-expert form is not preset


def test_applied_group_ahp_is_exported_expert_by_expert(setup, auth, client, session):
    """The 权重确定 sheet: each expert's judgments, matrix and CR, then the aggregate."""
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    eid = engagement.id
    assert _apply_group(client, eid).status_code == 302
    notes = _state(session, engagement)[1]
    wb = load_workbook(io.BytesIO(client.get(f"/engagements/{eid}/scores.xlsx").data))
    cells = wb["权重确定"].iter_rows(values_only=True)
    rows = [r for r in ([c for c in row if c is not None] for row in cells) if r]
    labels = [r[0] for r in rows]
    for label in ("专家 1 判断矩阵", "专家 2 判断矩阵", "综合判断矩阵", "一致性比率 CR"):
        assert label in labels, label
    assert labels.index("专家 2 判断矩阵") < labels.index("综合判断矩阵")
    assert rows[labels.index("专家 1 判断")][1] == "3 5 2"
    first = [r[1:] for r in rows[labels.index("专家 1 判断矩阵") + 1 :][:3]]
    assert first[0] == [1.0, 3.0, 5.0] and first[2][:2] == [0.2, 0.5]
    second = [r[1:] for r in rows[labels.index("专家 2 判断矩阵") + 1 :][:3]]
    assert second[0] == [1.0, 0.5, pytest.approx(1 / 3, abs=1e-4)]
    for k in (1, 2):
        expert_cr = rows[labels.index(f"专家 {k} 一致性比率 CR")][1]
        assert 0 <= expert_cr < 0.1
    combined = [r[1:] for r in rows[labels.index("综合判断矩阵") + 1 :][:3]]
    assert combined[0][1] == pytest.approx(1.5**0.5, abs=1e-4)  # geometric mean of 3 and 1/2
    assert combined[0][2] == pytest.approx((5 / 3) ** 0.5, abs=1e-4)
    assert combined[1][2] == pytest.approx(1.0)
    cr_row = rows[labels.index("一致性比率 CR")]
    assert cr_row[1] == pytest.approx(notes["A"]["cr"]) and cr_row[1] < 0.1
    assert rows[labels.index("专家人数")][1] == 2


def test_an_older_group_ahp_note_leaves_the_group_box_empty(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    system = services.system_of(session, engagement)
    system.weight_notes = {"A": {"method": "group_ahp", "experts": 2, "cr": 0.01}}
    session.commit()
    html = client.get(f"/engagements/{engagement.id}/indicators/A/weights").get_data(as_text=True)
    assert _textarea(html, "group") == ""
    wb = load_workbook(io.BytesIO(client.get(f"/engagements/{engagement.id}/scores.xlsx").data))
    assert "权重确定" in wb.sheetnames
