"""Issue #15: the lead edits a leaf's scoring method through its form (no YAML) in a real
browser — only the chosen method's fields show, the goal comes from the engagement's list,
a wrong threshold is refused with nothing changed, and the 评分标准 follow the method."""

import re

import pytest

from workbench.db import db
from workbench.demo import load_demo
from workbench.scoring import services

pytestmark = pytest.mark.browser


def _method(code: str):  # type: ignore[no-untyped-def]
    from workbench.engagements.models import Engagement

    db.session.expire_all()
    engagement = db.session.query(Engagement).one()
    return services.template_of(services.system_of(db.session, engagement)).find(code)


def test_edit_a_scoring_method_through_its_form(live_server, browser, artifacts, app):
    load_demo(db.session)
    db.session.commit()
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("zhang.wei")
    page.get_by_label("密码").fill("demo-evaluator-2026")
    page.locator("main").get_by_role("button", name="登录").click()
    page.wait_for_url("**/engagements/")
    page.get_by_role("link", name=re.compile("农村饮水")).click()
    engagement_url = re.match(r".*/engagements/\d+", page.url).group(0)

    page.goto(f"{engagement_url}/indicators/C11/edit")
    assert page.locator("textarea[name=method]").count() == 0  # no YAML box
    assert page.locator("#method-ratio").is_visible()  # C11 is a rate
    assert page.locator("#method-target").is_hidden()
    page.screenshot(path=str(artifacts / "method-form-ratio-zh.png"), full_page=True)

    # a no-points rate above the full-marks rate: refused, in Chinese, nothing changed
    page.fill("input[name=m-zero_score_at]", "120")
    page.get_by_role("button", name="保存").click()
    assert page.locator(".alert-danger").first.inner_text().startswith("未保存")
    assert "不得分的比率须低于得满分的比率" in page.inner_text("#method-ratio")
    assert _method("C11").method.type == "ratio"

    # switch to the target method: its own fields show, the goal is chosen from the list
    page.select_option("select[name=m-type]", "target")
    assert page.locator("#method-target").is_visible()
    assert page.locator("#method-ratio").is_hidden()
    goals = page.locator("select[name=m-goal] option").all_inner_texts()
    assert any("新建及改造供水管网长度" in g for g in goals), goals
    page.select_option("select[name=m-goal]", label=next(g for g in goals if "管网长度" in g))
    page.select_option("select[name=m-nature]", "ge")
    page.fill("input[name=m-target]", "120")
    page.fill("input[name=m-unit]", "公里")
    page.check("input[name=m-rewrite_criteria]")
    page.screenshot(path=str(artifacts / "method-form-target-zh.png"), full_page=True)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url("**/indicators#node-C11")
    assert "评分标准已按新的评分方法重写" in page.inner_text("main")

    node = _method("C11")
    assert node.method.type == "target" and node.method.goal == "新建及改造供水管网长度"
    assert str(node.method.target) == "120" and node.method.unit == "公里"
    assert "120公里" in node.criteria
    page.goto(f"{engagement_url}/indicators/C11/edit")  # reopens with the saved method
    assert page.input_value("select[name=m-type]") == "target"
    assert page.input_value("input[name=m-target]") == "120"
