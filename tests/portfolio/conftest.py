"""The demo data for the portfolio, client and archive tests."""

import pytest

from workbench.demo import load_demo


@pytest.fixture
def demo(session):
    load_demo(session)
    session.commit()
