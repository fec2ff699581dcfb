import io

import pytest
import sqlalchemy as sa
import yaml
from openpyxl import load_workbook

from workbench.accounts.models import OrganisationKind, Role
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
    page = client.post(f"/engagements/{eid}/indicators/A/weights", data=form)
    assert "CR = 0.033" in page.get_data(as_text=True)
    form["action"] = "apply"
    assert client.post(f"/engagements/{eid}/indicators/A/weights", data=form).status_code == 302
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
    response = client.post(f"/engagements/{eid}/indicators/A/weights", data=form)
    assert response.status_code == 200
    assert "not below 0.10" in response.get_data(as_text=True)


def test_scoring_table_export_merges_levels(setup, auth, client):
    auth.login(setup["lead"])
    response = client.get(f"/engagements/{setup['engagement'].id}/scores.xlsx")
    ws = load_workbook(io.BytesIO(response.data)).active
    merged = [str(r) for r in ws.merged_cells.ranges]
    assert any(r.startswith("A3:A") for r in merged)  # 决策 spans its leaves
    headers = [c.value for c in ws[2]]
    assert headers[:3] == ["一级指标", "二级指标", "三级指标"] and "扣分原因" in headers
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
    assert client.post(f"/engagements/{eid}/indicators/A/weights", data=form).status_code == 302
    system = services.system_of(session, setup["engagement"])
    assert system.weight_notes["A"]["method"] == "group_ahp"
    assert system.weight_notes["A"]["experts"] == 3
    wrong = {**form, "group": "3 5\n1 3 3"}
    page = client.post(f"/engagements/{eid}/indicators/A/weights", data=wrong)
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
    page = client.post(f"/engagements/{eid}/indicators/A/weights", data=form)
    # A2 is the same in every row: no information, so entropy cannot weight it
    assert "A2: the same value in every row" in page.get_data(as_text=True)
    good = {
        **form,
        "action": "calculate",
        "entropy_table": "A1,A2,A3\n0.9,10,3\n0.5,14,9\n0.7,12,5\n",
    }
    assert 'id="entropy-result"' in client.post(
        f"/engagements/{eid}/indicators/A/weights", data=good
    ).get_data(as_text=True)
    good["action"] = "apply"
    assert client.post(f"/engagements/{eid}/indicators/A/weights", data=good).status_code == 302
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
