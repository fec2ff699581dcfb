"""Issue #15: a leaf's scoring method is edited through a form per method, not a YAML box."""

import pytest
import sqlalchemy as sa

from workbench.accounts.models import OrganisationKind, Role
from workbench.audit.models import AuditEntry
from workbench.core.goals import GoalNature
from workbench.engagements import revision
from workbench.engagements import services as engagements
from workbench.scoring import method_forms, services


@pytest.fixture
def setup(session, make_org, make_user, make_engagement):
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    engagements.add_goal(
        session,
        lead,
        engagement,
        level1="产出指标",
        level2="数量指标",
        name="新建供水站数量",
        nature=GoalNature.GE,
        target_value="12",
        unit="座",
    )
    services.instantiate(session, lead, engagement, services.bundled_templates()["project-2020"])
    session.commit()
    return {"engagement": engagement, "lead": lead}


def _tree(session, engagement):
    return services.template_of(services.system_of(session, engagement))


def _audits(session):
    return session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))


def test_the_edit_page_has_method_fields_and_no_yaml_box(setup, auth, client):
    auth.login(setup["lead"])
    page = client.get(f"/engagements/{setup['engagement'].id}/indicators/C11/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="m-type"' in html and 'name="m-full_score_at"' in html
    assert "YAML" not in html and 'name="method"' not in html
    assert "新建供水站数量" in html  # the goal list offers the engagement's goals
    assert 'value="qualitative"' in html  # 定性 is a nature of the target method


def test_target_method_linked_to_a_goal_is_saved_audited_and_bumps_the_revision(
    setup, auth, client, session
):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    before_revision = revision.current(session, engagement.id)
    node = _tree(session, engagement).find("C11")
    response = client.post(
        f"/engagements/{engagement.id}/indicators/C11/edit",
        data={
            "name": node.name,
            "criteria": node.criteria,
            "m-type": "target",
            "m-nature": "ge",
            "m-target": "12",
            "m-unit": "座",
            "m-goal": "新建供水站数量",
        },
    )
    assert response.status_code == 302
    method = _tree(session, engagement).find("C11").method
    assert method.type == "target" and method.goal == "新建供水站数量"
    assert method.nature is GoalNature.GE and str(method.target) == "12" and method.unit == "座"
    assert revision.current(session, engagement.id) > before_revision
    entry = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "indicators.update" and "method" in entry.changes
    # the criteria were the template's own text: kept, and the evaluator is told to check them
    assert "did not" in client.get(response.location).get_data(as_text=True)


def test_a_qualitative_target_is_accepted(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    node = _tree(session, engagement).find("C11")
    response = client.post(
        f"/engagements/{engagement.id}/indicators/C11/edit",
        data={
            "name": node.name,
            "criteria": node.criteria,
            "m-type": "target",
            "m-nature": "qualitative",
        },
    )
    assert response.status_code == 302
    assert _tree(session, engagement).find("C11").method.nature is GoalNature.QUALITATIVE


def test_changing_the_method_flags_hand_written_criteria(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    node = _tree(session, engagement).find("C11")
    url = f"/engagements/{engagement.id}/indicators/C11/edit"
    data = {
        "name": node.name,
        "criteria": node.criteria,
        "m-type": "ratio",
        "m-formula": "ratio",
        "m-full_score_at": "90",
        "m-zero_score_at": "50",
    }
    page = client.post(url, data=data, follow_redirects=True).get_data(as_text=True)
    assert "did not" in page  # the template's text no longer matches: flagged
    assert _tree(session, engagement).find("C11").criteria == node.criteria
    # asked to, the criteria are rewritten from the method
    client.post(url, data={**data, "m-rewrite_criteria": "y"})
    saved = _tree(session, engagement).find("C11")
    assert saved.criteria == method_forms.describe(saved.method, saved.weight)
    assert "90%" in saved.criteria and "50%" in saved.criteria
    # generated text follows a later method change by itself
    page = client.post(
        url,
        data={**data, "criteria": saved.criteria, "m-full_score_at": "95"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "rewritten" in page
    assert "95%" in _tree(session, engagement).find("C11").criteria


def test_checklist_elements_and_survey_bands_are_edited_as_lines(setup, auth, client, session):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    tree = _tree(session, engagement)
    leaf = tree.find("A12")
    response = client.post(
        f"/engagements/{engagement.id}/indicators/A12/edit",
        data={
            "name": leaf.name,
            "criteria": leaf.criteria,
            "m-type": "checklist",
            "m-elements": "要素一\n\n要素二\n",
        },
    )
    assert response.status_code == 302
    assert _tree(session, engagement).find("A12").method.elements == ["要素一", "要素二"]
    survey = next(lf for lf in tree.leaves() if lf.method.type == "survey")
    response = client.post(
        f"/engagements/{engagement.id}/indicators/{survey.code}/edit",
        data={
            "name": survey.name,
            "criteria": survey.criteria,
            "m-type": "survey",
            "m-mode": "banded",
            "m-bands": "90 | 100\n80 | 80",
        },
    )
    assert response.status_code == 302
    bands = _tree(session, engagement).find(survey.code).method.bands
    assert [(str(b.min_rate), str(b.share)) for b in bands] == [("0.9", "1"), ("0.8", "0.8")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"m-type": "ratio", "m-full_score_at": "50", "m-zero_score_at": "80"}, "below"),
        ({"m-type": "ratio", "m-full_score_at": "abc"}, "Not a valid number"),
        ({"m-type": "checklist", "m-elements": "  \n"}, "at least one element"),
        ({"m-type": "survey", "m-mode": "banded"}, "at least one band"),
        ({"m-type": "survey", "m-mode": "banded", "m-bands": "90 / 100"}, "Write each band"),
        ({"m-type": "target"}, "link a performance goal"),
        ({"m-type": "magic"}, "Not a valid choice"),
        ({"m-type": "ratio", "m-formula": "ratio", "m-denominator": "initial"}, "cannot be"),
    ],
)
def test_invalid_method_input_changes_nothing(setup, auth, client, session, fields, message):
    auth.login(setup["lead"])
    engagement = setup["engagement"]
    before_tree = services.system_of(session, engagement).tree
    before_revision = revision.current(session, engagement.id)
    audits = _audits(session)
    node = _tree(session, engagement).find("C11")
    response = client.post(
        f"/engagements/{engagement.id}/indicators/C11/edit",
        data={"name": "改过的名称", "criteria": node.criteria, **fields},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and message in html
    assert "Not saved" in html
    session.expire_all()
    assert services.system_of(session, engagement).tree == before_tree
    assert revision.current(session, engagement.id) == before_revision
    assert _audits(session) == audits


def test_describe_covers_every_method():
    from decimal import Decimal

    for method in (
        {"type": "target", "nature": "le", "target": "90", "unit": "万元"},
        {"type": "target", "nature": "qualitative"},
        {"type": "ratio", "formula": "budget_execution"},
        {"type": "qualitative"},
        {"type": "deduction", "default_points": "0.5"},
        {"type": "checklist", "elements": ["甲"]},
        {"type": "expert"},
        {"type": "survey", "target": "0.9"},
        {"type": "manual"},
    ):
        text = method_forms.describe(method, Decimal(5))
        assert text and not any("a" <= ch <= "z" for ch in text.lower()), text


def test_saving_the_texts_alone_records_no_method_change(setup, auth, client, session):
    """The form as the page fills it, posted back unchanged: only the name is audited."""
    import re
    from html import unescape

    auth.login(setup["lead"])
    engagement = setup["engagement"]
    url = f"/engagements/{engagement.id}/indicators/C11/edit"
    html = client.get(url).get_data(as_text=True)
    data = {
        name: unescape(value)
        for name, value in re.findall(r'<input[^>]*name="(m-[a-z_]+)"[^>]*value="([^"]*)"', html)
        if name != "m-rewrite_criteria"  # an unticked checkbox is not posted
    }
    for name, body in re.findall(r'<select[^>]*name="(m-[a-z_]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(
            r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', body
        )
        if chosen:
            data[name] = chosen.group(1) or chosen.group(2)
    node = _tree(session, engagement).find("C11")
    data.update({"name": "改名后的指标", "criteria": node.criteria})
    assert data["m-type"] == "ratio"
    assert client.post(url, data=data).status_code == 302
    entry = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert set(entry.changes) == {"name"}, entry.changes
