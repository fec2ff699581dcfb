"""The expert panel's shared fixture: an engagement with two expert leaves and three seats."""

from decimal import Decimal as D

import pytest

from workbench.accounts.models import OrganisationKind, Role
from workbench.experts import services
from workbench.scoring import services as scoring


@pytest.fixture
def panel(session, make_org, make_user, make_engagement):
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    system = scoring.instantiate(
        session, lead, engagement, scoring.bundled_templates()["project-2020"]
    )
    scoring.add_leaf(session, lead, system, "D1", "D13", "可持续影响", D(5), "D11")
    scoring.update_node(session, lead, system, "D13", {"name": "可持续影响"}, {"type": "expert"})
    links = {}
    for name in ("甲专家", "乙专家", "丙专家"):
        expert = services.create_expert(session, lead, name=name)
        member, token = services.invite(session, lead, engagement, expert, ["D11", "D13"])
        links[name] = (member, token)
    session.commit()
    return {
        "engagement": engagement,
        "lead": lead,
        "links": links,
        "client": make_user(Role.CLIENT, organisation=bureau),
        "template": scoring.template_of(system),
    }
