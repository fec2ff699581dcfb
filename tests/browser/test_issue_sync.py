"""The reviewer issues the report in the browser; the finance bureau, on a phone, then sees
已出具 next to the issued report (never 立项 or 方案设计), its comments with the firm's
answers, the report in 我的待办, and a portfolio whose name column stays readable.
Screenshots go to tests/artifacts/ for a human to look at."""

from pathlib import Path

import pytest
from flask import current_app

from tests.demo_figures import settle_demo_figures
from tests.portfolio.test_portfolio import out_for_comments
from workbench.db import db
from workbench.demo import DEMO_USERS, load_demo
from workbench.reports import services

pytestmark = pytest.mark.browser
PASSWORDS = {u: p for u, _n, _r, _o, p in DEMO_USERS}


def _login(page, live_server, username):
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def test_issue_moves_the_status_and_the_bureau_sees_it_on_a_phone(
    live_server, browser, artifacts, app
):
    load_demo(db.session)
    db.session.commit()
    settle_demo_figures(db.session)
    folder = Path(current_app.instance_path) / "reports"
    engagement, users, version, _choice, _levels = out_for_comments(db.session, folder)
    comment = services.add_comment(
        db.session, users["czj.liu"], version, party="client", author="刘洋", text="请补充测算依据"
    )
    services.respond(db.session, users["zhang.wei"], comment, "已在问题3中补充")
    db.session.commit()
    eid = engagement.id

    errors: list[str] = []
    desk = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desk.on("dialog", lambda d: d.accept())  # "Issue the 正式稿?" confirmation
    _login(desk, live_server, "wang.fang")
    desk.goto(f"{live_server}/engagements/{eid}")
    assert desk.locator("#engagement-state").inner_text() == "方案设计"
    desk.goto(f"{live_server}/engagements/{eid}/report/")
    desk.locator(f"#report_no-{version.id}").fill("青禾绩评字〔2026〕第099号")
    desk.get_by_role("button", name="出具正式稿").click()
    desk.wait_for_load_state()
    assert "第099号" in desk.locator(".alert-success").first.inner_text()
    desk.goto(f"{live_server}/engagements/{eid}")
    assert desk.locator("#engagement-state").inner_text() == "已出具"

    phone = browser.new_page(viewport={"width": 375, "height": 812}, is_mobile=True, locale="zh-CN")
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(phone, live_server, "czj.liu")
    phone.goto(f"{live_server}/engagements/{eid}")
    assert phone.locator("#engagement-state").inner_text() == "已出具"
    issued = phone.locator("#issued-reports")
    assert "青禾绩评字〔2026〕第099号" in issued.inner_text()
    assert "请补充测算依据" in issued.inner_text() and "已在问题3中补充" in issued.inner_text()
    assert "项目负责人复核（张伟" in issued.inner_text()
    phone.screenshot(path=str(artifacts / "issue-sync-bureau-phone.png"), full_page=True)

    phone.locator(".navbar-toggler").click()  # the top bar is folded on a phone
    phone.locator("#nav-my-work").click()
    phone.wait_for_url("**/portfolio/work")
    assert phone.locator('[data-work="issued"]').count() == 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot(path=str(artifacts / "my-work-bureau-phone.png"), full_page=True)

    phone.goto(f"{live_server}/portfolio/")
    name = phone.locator("#portfolio tbody td.name-cell").first
    box = name.bounding_box()
    assert box is not None and box["width"] >= 150  # the name is readable, not one per line
    # the action columns are reachable: the table scrolls sideways inside its container
    scroller = phone.locator(".table-responsive")
    assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    scroller.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    action = phone.locator("#portfolio tbody td[data-action]").first
    action_box = action.bounding_box()
    assert action_box is not None and action_box["x"] + action_box["width"] <= 375 + 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # the page itself
    # the name stays in view while the row scrolls
    box = name.bounding_box()
    assert box is not None and box["x"] >= -1
    phone.screenshot(path=str(artifacts / "portfolio-phone-scrolled.png"))
    scroller.evaluate("e => { e.scrollLeft = 0; }")
    phone.screenshot(path=str(artifacts / "portfolio-phone.png"))
    assert errors == []
