"""A person logs in, creates an engagement in Chinese, finds it in the list, and switches to
English — in a real browser. Screenshots go to tests/artifacts/ for a human to look at."""

import pytest

from workbench.accounts.models import OrganisationKind, Role

pytestmark = pytest.mark.browser


def test_login_create_engagement_and_see_it_in_the_list(
    live_server, browser, artifacts, make_user, make_org
):
    make_org(OrganisationKind.CLIENT, name="临川县财政局")
    make_org(OrganisationKind.EVALUATED, name="临川县水利局")
    user = make_user(Role.EVALUATOR, "zhang.wei")
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server}/engagements/")
    assert "/login" in page.url
    page.get_by_label("用户名").fill(user.username)
    page.get_by_label("密码").fill("correct-horse-42")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/engagements/")

    page.get_by_role("link", name="新建评价项目").click()
    page.get_by_label("项目名称", exact=False).first.fill("临川县2025年高标准农田建设项目绩效评价")
    page.get_by_label("被评价项目").fill("2025年高标准农田建设项目")
    page.get_by_label("委托方", exact=False).first.select_option(label="临川县财政局")
    page.get_by_label("被评价单位").select_option(label="临川县水利局")
    page.get_by_label("合同金额", exact=False).fill("158,000")
    page.get_by_role("button", name="保存").click()
    page.wait_for_selector("#engagement-title")
    assert page.inner_text("#engagement-title") == "临川县2025年高标准农田建设项目绩效评价"
    assert page.inner_text("#engagement-state") == "立项"
    page.screenshot(path=str(artifacts / "engagement-detail-zh.png"), full_page=True)

    page.get_by_role("link", name="评价项目").first.click()
    page.wait_for_selector("#engagement-table")
    assert "临川县2025年高标准农田建设项目绩效评价" in page.inner_text("#engagement-table")
    page.screenshot(path=str(artifacts / "engagement-list-zh.png"), full_page=True)

    page.get_by_role("button", name="English").click()
    page.wait_for_selector("text=New engagement")
    assert "Engagements" in page.inner_text("h1")
    page.screenshot(path=str(artifacts / "engagement-list-en.png"), full_page=True)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    phone.goto(f"{live_server}/login")
    phone.get_by_label("用户名").fill(user.username)
    phone.get_by_label("密码").fill("correct-horse-42")
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_selector("#engagement-table")
    phone.screenshot(path=str(artifacts / "engagement-list-phone.png"), full_page=True)
    assert errors == []  # no CSP violations or script errors
