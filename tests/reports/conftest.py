"""The demo engagement: scored, with a panel, surveys and findings — a full report."""

import pytest
import sqlalchemy as sa

from workbench.accounts.models import User
from workbench.demo import DEMO_TITLE, load_demo
from workbench.engagements.models import Engagement


@pytest.fixture
def demo(session):
    load_demo(session)
    session.commit()
    engagement = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    users = {u.username: u for u in session.scalars(sa.select(User))}
    return {"engagement": engagement, "users": users}
