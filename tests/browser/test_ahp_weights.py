"""The lead derives points by AHP with an intermediate judgment, applies them, and finds the
applied judgments (not all 1s) when the page is opened again — in a real browser, CSRF on."""

import re

import pytest
import sqlalchemy as sa

from workbench.db import db
from workbench.demo import load_demo
from workbench.engagements.models import Engagement

pytestmark = pytest.mark.browser


def test_applied_ahp_judgments_come_back(live_server, browser, artifacts, app):
    load_demo(db.session)
    db.session.commit()
    engagement = db.session.scalars(
        sa.select(Engagement).where(Engagement.title.contains("农村饮水"))
    ).first()
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("zhang.wei")
    page.get_by_label("密码").fill("demo-evaluator-2026")
    page.locator("main").get_by_role("button", name="登录").click()
    page.wait_for_url("**/engagements/")
    url = f"{live_server}/engagements/{engagement.id}/indicators/A/weights"
    page.goto(url)
    pairs = page.locator('select[name^="pair-"]')
    assert pairs.count() >= 1
    first = pairs.nth(0)
    options = first.locator("option").all_inner_texts()
    assert options == [*map(str, range(9, 0, -1)), *(f"1/{k}" for k in range(2, 10))]
    # the first indicator 4 times as important as each other one (an intermediate judgment),
    # the others equal: perfectly consistent
    names = [pairs.nth(i).get_attribute("name") for i in range(pairs.count())]
    lead = names[0].split("-")[1]
    chosen = {name: "4" if name.split("-")[1] == lead else "1" for name in names}
    for name, value in chosen.items():
        page.locator(f'select[name="{name}"]').select_option(value)
    if len(names) >= 3:
        assert re.search(r"CR = 0\.000", page.inner_text("#live-cr"))
    page.locator("form", has=first).get_by_role("button", name="应用").click()
    page.wait_for_url("**/indicators")
    page.goto(url)
    shown = {n: page.locator(f'select[name="{n}"]').input_value() for n in names}
    assert shown == chosen and "4" in shown.values()
    page.screenshot(path=str(artifacts / "ahp-reopened-zh.png"), full_page=True)
