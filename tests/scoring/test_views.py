import io
import re

import pytest
import sqlalchemy as sa
import yaml
from openpyxl import load_workbook

from workbench.accounts.models import OrganisationKind, Role
from workbench.evaluation import result_of
from workbench.scoring import services
from workbench.scoring.models import IndicatorInput


@pytest.fixture
def setup(session, make_org, make_user, make_engagement):
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    services.instantiate(session, lead, engagement, services.bundled_templates()["project-2020"])
    session.commit()
    return {
        "engagement": engagement,
        "lead": lead,
        "client": make_user(Role.CLIENT, organisation=bureau),
        "outsider": make_user(Role.EVALUATOR),
    }


@pytest.mark.parametrize("actor", ["client", "outsider"])
def test_scoring_pages_are_hidden_from_clients_and_outsiders(setup, auth, client, actor):
    auth.login(setup[actor])
    eid = setup["engagement"].id
    for path in ("/indicators", "/scores", "/scores.xlsx", "/scores/A11", "/indicators/A/weights"):
        assert client.get(f"/engagements/{eid}{path}").status_code == 404, path


def test_checklist_score_is_saved_and_shown(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    response = client.post(f"/engagements/{eid}/scores/A12", data={"met": ["0", "1"]})
    assert response.status_code == 302
    page = client.get(f"/engagements/{eid}/scores").get_data(as_text=True)
    assert "1.33" in page and "2 of 3 criteria met" in page


def test_out_of_band_qualitative_score_is_refused(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    response = client.post(
        f"/engagements/{eid}/scores/C41", data={"level": "achieved", "score": "3"}
    )
    assert response.status_code == 200
    assert "Not saved" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(IndicatorInput)) == 0


def test_ahp_calculates_cr_and_applies_points(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    form = {
        "mode": "ahp",
        "ri": "saaty",
        "pair-A1-A2": "3",
        "pair-A1-A3": "5",
        "pair-A2-A3": "3",
        "action": "calculate",
    }
    page = client.post(f"/engagements/{eid}/indicators/A/weights/ahp", data=form)
    assert "CR = 0.033" in page.get_data(as_text=True)
    form["action"] = "apply"
    assert client.post(f"/engagements/{eid}/indicators/A/weights/ahp", data=form).status_code == 302
    template = services.template_of(services.system_of(session, setup["engagement"]))
    weights = [template.find(c).weight for c in ("A1", "A2", "A3")]
    assert sum(weights) == 15 and weights[0] > weights[1] > weights[2]


def test_inconsistent_ahp_is_not_applied(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    form = {
        "mode": "ahp",
        "ri": "saaty",
        "pair-A1-A2": "9",
        "pair-A1-A3": "1/9",
        "pair-A2-A3": "9",
        "action": "apply",
    }
    response = client.post(f"/engagements/{eid}/indicators/A/weights/ahp", data=form)
    assert response.status_code == 200
    assert "not below 0.10" in response.get_data(as_text=True)


def test_scoring_table_export_merges_levels(setup, auth, client):
    auth.login(setup["lead"])
    response = client.get(f"/engagements/{setup['engagement'].id}/scores.xlsx")
    ws = load_workbook(io.BytesIO(response.data)).active
    merged = [str(r) for r in ws.merged_cells.ranges]
    assert any(r.startswith("A3:A") for r in merged)  # 决策 spans its leaves
    headers = [c.value for c in ws[2]]
    assert headers[:3] == ["一级指标", "二级指标", "三级指标"]
    assert headers[-2:] == ["评分标准", "评分依据"]
    assert ws.print_title_rows == "$2:$2"


def test_template_excel_round_trip(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    data = client.get(f"/engagements/{eid}/indicators.xlsx").data
    other = client.post(
        f"/engagements/{eid}/indicators/upload",
        data={"file": (io.BytesIO(data), "mine.xlsx"), "replace": "y"},
        content_type="multipart/form-data",
    )
    assert other.status_code == 302
    template = services.template_of(services.system_of(session, setup["engagement"]))
    assert template == services.bundled_templates()["project-2020"]


def test_bad_uploaded_template_lists_its_errors(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    bad = yaml.safe_dump(
        {
            "code": "x",
            "name": "X",
            "indicators": [{"code": "A", "name": "甲", "weight": 60, "method": {"type": "manual"}}],
        }
    )
    response = client.post(
        f"/engagements/{eid}/indicators/upload",
        follow_redirects=True,
        data={"file": (io.BytesIO(bad.encode()), "bad.yaml"), "replace": "y"},
        content_type="multipart/form-data",
    )
    assert "top-level weights add up to 60, not 100" in response.get_data(as_text=True)
    assert services.system_of(session, setup["engagement"]).source_code == "project-2020"


def test_group_ahp_from_several_experts(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    form = {
        "mode": "group_ahp",
        "ri": "saaty",
        "group": "3 5 3\n1 3 3\n5, 9, 1/3",
        "action": "apply",
    }
    url = f"/engagements/{eid}/indicators/A/weights/group-ahp"
    assert client.post(url, data=form).status_code == 302
    system = services.system_of(session, setup["engagement"])
    assert system.weight_notes["A"]["method"] == "group_ahp"
    assert system.weight_notes["A"]["experts"] == 3
    wrong = {**form, "group": "3 5\n1 3 3"}
    page = client.post(url, data=wrong)
    assert "Expert 1: 2 judgments, 3 needed." in page.get_data(as_text=True)


def test_entropy_weights_from_a_pasted_table(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    table = "A1\tA2\tA3\n0.9\t12\t3\n0.5\t12\t9\n0.7\t12\t5\n"
    form = {
        "mode": "entropy",
        "ri": "saaty",
        "entropy_table": table,
        "dir-A3": "-1",
        "action": "calculate",
    }
    url = f"/engagements/{eid}/indicators/A/weights/entropy"
    page = client.post(url, data=form)
    # A2 is the same in every row: no information, so entropy cannot weight it
    assert "A2: the same value in every row" in page.get_data(as_text=True)
    good = {
        **form,
        "action": "calculate",
        "entropy_table": "A1,A2,A3\n0.9,10,3\n0.5,14,9\n0.7,12,5\n",
    }
    assert 'id="entropy-result"' in client.post(url, data=good).get_data(as_text=True)
    good["action"] = "apply"
    assert client.post(url, data=good).status_code == 302
    template = services.template_of(services.system_of(session, setup["engagement"]))
    assert sum(template.find(c).weight for c in ("A1", "A2", "A3")) == 15


def test_template_library_upload_use_and_retire(setup, auth, client, session):
    from workbench.scoring.models import CustomTemplate

    auth.login(setup["lead"])
    mine = yaml.safe_dump(
        {
            "code": "firm-water",
            "name": "饮水工程专项指标体系",
            "indicators": [
                {
                    "code": "A",
                    "name": "产出",
                    "weight": 60,
                    "tag": "output",
                    "method": {"type": "manual"},
                    "criteria": "x",
                },
                {
                    "code": "B",
                    "name": "效益",
                    "weight": 40,
                    "tag": "benefit",
                    "method": {"type": "survey"},
                    "criteria": "y",
                },
            ],
        },
        allow_unicode=True,
    )
    response = client.post(
        "/scoring-templates/",
        data={"file": (io.BytesIO(mine.encode()), "firm.yaml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    library = client.get("/scoring-templates/").get_data(as_text=True)
    assert "饮水工程专项指标体系" in library
    again = client.post(
        "/scoring-templates/",
        follow_redirects=True,
        data={"file": (io.BytesIO(mine.encode()), "firm.yaml")},
        content_type="multipart/form-data",
    )
    assert "already has a template with this code" in again.get_data(as_text=True)
    eid = setup["engagement"].id
    client.post(
        f"/engagements/{eid}/indicators/instantiate",
        data={"template": "firm-water", "replace": "y"},
        follow_redirects=True,
    )
    assert services.system_of(session, setup["engagement"]).source_code == "firm-water"
    retired = client.post("/scoring-templates/firm-water/retire", follow_redirects=True)
    assert "Template removed from the library." in retired.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(sa.select(CustomTemplate)).is_active is False
    assert "饮水工程专项指标体系" not in client.get("/scoring-templates/").get_data(as_text=True)


def test_bundled_codes_cannot_be_shadowed_and_clients_see_no_library(setup, auth, client):
    auth.login(setup["lead"])
    data = (io.BytesIO((services.TEMPLATE_DIR / "oecd-dac.yaml").read_bytes()), "dac.yaml")
    page = client.post(
        "/scoring-templates/",
        data={"file": data},
        follow_redirects=True,
        content_type="multipart/form-data",
    )
    assert "A bundled template already uses this code" in page.get_data(as_text=True)
    auth.logout()
    auth.login(setup["client"])
    assert client.get("/scoring-templates/").status_code == 404
    assert client.get("/scoring-templates/project-2020.yaml").status_code == 404


def test_excel_template_errors_point_at_rows_and_are_all_listed():
    from openpyxl import load_workbook as load

    from workbench.core.indicators import InvalidTemplate
    from workbench.scoring.spreadsheet import read_template, template_workbook

    data = template_workbook(services.bundled_templates()["project-2020"])
    wb = load(io.BytesIO(data))
    ws = wb.active
    ws["F3"] = 4  # A1 项目立项: its children still add up to 5
    ws["L5"] = "{type: [unclosed"  # broken YAML in A12's method
    ws["L7"] = "{type: magic}"  # unknown method in A21
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(InvalidTemplate) as info:
        read_template(out.getvalue(), "bad.xlsx")
    text = [str(e) for e in info.value.errors]
    assert any("row 5" in t and "not YAML" in t for t in text)
    assert any("row 7" in t and "magic" in t for t in text)
    assert any(t.startswith("bad.xlsx: row 3") and "add up to 5, not 4" in t for t in text)


# --- no score without assessment; the evaluator's reason is kept (#14) --------------------------


def test_a_deduction_leaf_needs_findings_or_an_explicit_no_deduction_with_its_basis(
    setup, auth, client, session
):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    count = sa.select(sa.func.count()).select_from(IndicatorInput)
    response = client.post(f"/engagements/{eid}/scores/B13", data={"reason": "看过了"})
    assert response.status_code == 200
    assert "tick “No deduction”" in response.get_data(as_text=True)
    response = client.post(f"/engagements/{eid}/scores/B13", data={"no_deduction": "y"})
    assert response.status_code == 200 and "needs its basis" in response.get_data(as_text=True)
    response = client.post(
        f"/engagements/{eid}/scores/B13",
        data={"no_deduction": "y", "findings": "凭证缺失 | 1", "reason": "x"},
    )
    assert response.status_code == 200 and "not both" in response.get_data(as_text=True)
    assert session.scalar(count) == 0  # nothing saved
    form = client.get(f"/engagements/{eid}/scores/B13").get_data(as_text=True)
    assert "No deduction (无扣分事项)" in form
    tag = re.search(r'<input[^>]*name="no_deduction"[^>]*>', form).group(0)
    assert "checked" not in tag
    response = client.post(
        f"/engagements/{eid}/scores/B13",
        data={"no_deduction": "y", "reason": "抽查凭证40份，未见违规", "evidence": "凭证抽查表"},
    )
    assert response.status_code == 302
    row = session.scalar(sa.select(IndicatorInput).where(IndicatorInput.code == "B13"))
    assert row.data == {
        "no_deduction": True,
        "reason": "抽查凭证40份，未见违规",
        "evidence": "凭证抽查表",
    }
    form = client.get(f"/engagements/{eid}/scores/B13").get_data(as_text=True)
    tag = re.search(r'<input[^>]*name="no_deduction"[^>]*>', form).group(0)
    assert "checked" in tag
    b13 = result_of(session, setup["engagement"]).node("B13")
    assert b13.score == b13.weight and b13.status.value == "scored"
    page = client.get(f"/engagements/{eid}/scores").get_data(as_text=True)
    assert "no deductible findings" in page and "抽查凭证40份，未见违规" in page
    assert "凭证抽查表" in page


def test_the_scores_page_lists_unassessed_leaves_with_links(setup, auth, client, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    page = client.get(f"/engagements/{eid}/scores").get_data(as_text=True)
    box = page[page.index('id="unassessed"') : page.index('id="score-table"')]
    for code in ("A11", "B13", "C41", "D11"):  # checklist, deduction, qualitative, expert
        assert f'href="/engagements/{eid}/scores/{code}"' in box, code
    client.post(f"/engagements/{eid}/scores/A12", data={"met": ["0", "1"]})
    page = client.get(f"/engagements/{eid}/scores").get_data(as_text=True)
    box = page[page.index('id="unassessed"') : page.index('id="score-table"')]
    assert "/scores/A12" not in box and "/scores/A11" in box


def test_the_evaluators_reason_is_shown_next_to_the_engines(setup, auth, client):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    response = client.post(
        f"/engagements/{eid}/scores/A12",
        data={"met": ["0", "1"], "reason": "可研报告未经专家论证", "evidence": "可研报告"},
    )
    assert response.status_code == 302
    page = client.get(f"/engagements/{eid}/scores").get_data(as_text=True)
    row = page[page.index('id="leaf-A12"') :]
    row = row[: row.index("</tr>")]
    assert "2 of 3 criteria met" in row and "可研报告未经专家论证" in row and "可研报告" in row


def test_the_excel_scoring_table_has_criteria_and_basis_columns(setup, auth, client):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    client.post(
        f"/engagements/{eid}/scores/A12",
        data={"met": ["0", "1"], "reason": "可研报告未经专家论证", "evidence": "可研报告"},
    )
    client.post(
        f"/engagements/{eid}/scores/B13",
        data={"no_deduction": "y", "reason": "抽查凭证40份，未见违规"},
    )
    response = client.get(f"/engagements/{eid}/scores.xlsx")
    ws = load_workbook(io.BytesIO(response.data)).active
    headers = [c.value for c in ws[2]]
    col = {name: i for i, name in enumerate(headers)}
    rows = {}
    for r in ws.iter_rows(min_row=3, values_only=True):
        if r[2]:
            rows[r[2]] = r
    template = services.bundled_templates()["project-2020"]
    a12, b13, a11 = (template.find(c) for c in ("A12", "B13", "A11"))
    row = rows[a12.name]
    assert row[col["评分标准"]] == a12.criteria.strip()
    basis = row[col["评分依据"]]
    assert (
        basis.index("未满足")
        < basis.index("可研报告未经专家论证")
        < basis.index("评价依据：可研报告")
    )
    row = rows[b13.name]
    assert row[col["得分"]] == float(b13.weight)
    assert "未发现扣分事项" in row[col["评分依据"]] and "抽查凭证40份" in row[col["评分依据"]]
    row = rows[a11.name]
    # never printed as full marks: the leaf's status, as the scores page prints it
    assert row[col["得分"]] == "尚未评价" and not row[col["评分依据"]]


def test_rule_text_stands_in_for_missing_criteria():
    from workbench.core.indicators import parse_template
    from workbench.scoring.spreadsheet import rule_zh

    t = parse_template(
        {
            "code": "t",
            "name": "T",
            "indicators": [
                {
                    "code": "D",
                    "name": "扣",
                    "weight": 50,
                    "method": {"type": "deduction", "default_points": 0.5},
                },
                {
                    "code": "C",
                    "name": "查",
                    "weight": 50,
                    "method": {"type": "checklist", "elements": ["甲", "乙"]},
                },
            ],
        }
    )
    assert "每项扣 0.5 分" in rule_zh(t.find("D")) and "无扣分事项须写明核查依据" in rule_zh(
        t.find("D")
    )
    assert "甲；乙" in rule_zh(t.find("C"))
