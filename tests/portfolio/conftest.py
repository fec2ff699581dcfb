"""The demo data for the portfolio, client and archive tests."""

import pytest

from tests.demo_figures import settle_demo_figures
from workbench.demo import load_demo


@pytest.fixture
def demo(session):
    load_demo(session)
    session.commit()
    settle_demo_figures(session)  # reports of these tests go through review and issue
