"""Shared survey fixtures."""

import pytest

from workbench.accounts.models import OrganisationKind, Role
from workbench.scoring import services as scoring


@pytest.fixture
def setup(session, make_org, make_user, make_engagement):
    """An engagement (led by an evaluator, for a bureau) scored on the 2020 project template,
    whose D12 is the satisfaction (survey) leaf."""
    bureau = make_org(OrganisationKind.CLIENT)
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=bureau)
    scoring.instantiate(session, lead, engagement, scoring.bundled_templates()["project-2020"])
    session.commit()
    return {
        "engagement": engagement,
        "lead": lead,
        "client": make_user(Role.CLIENT, organisation=bureau),
    }
