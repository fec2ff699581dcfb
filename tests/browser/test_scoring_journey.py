"""The lead opens the demo engagement's scores, changes an expert score, and sees the total,
the grade and the deduction reason follow — in a real browser."""

import re

import pytest

from workbench.db import db
from workbench.demo import load_demo

pytestmark = pytest.mark.browser


def test_change_a_score_and_see_the_total_follow(live_server, browser, artifacts, app):
    load_demo(db.session)
    db.session.commit()
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("zhang.wei")
    page.get_by_label("密码").fill("demo-evaluator-2026")
    page.locator("main").get_by_role("button", name="登录").click()
    page.wait_for_url("**/engagements/")
    page.get_by_role("link", name=re.compile("农村饮水")).click()
    page.get_by_role("link", name="评分").first.click()
    page.wait_for_selector("#score-table")
    before = float(page.inner_text("#total-score"))
    assert page.inner_text("#grade") in {"优", "良", "中", "差"}
    page.screenshot(path=str(artifacts / "scores-zh.png"), full_page=True)

    page.locator("#leaf-D11").get_by_role("link").click()
    page.get_by_label("得分", exact=True).fill("6")  # D11 follows the panel (9 of 10): override it
    page.get_by_label("评分理由", exact=False).fill("长效管护机制尚未建立")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("#score-table")
    after = float(page.inner_text("#total-score"))
    assert after == pytest.approx(before - 3, abs=0.011)  # 9 → 6
    assert "长效管护机制尚未建立" in page.inner_text("#leaf-D11")
    page.screenshot(path=str(artifacts / "scores-after-change-zh.png"), full_page=True)
