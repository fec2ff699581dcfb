"""An expert on a phone opens the personal link, declares no conflict, scores and submits."""

from decimal import Decimal

import pytest

from workbench.db import db
from workbench.experts import services
from workbench.scoring import services as scoring

pytestmark = pytest.mark.browser


def test_expert_scores_on_a_phone(live_server, browser, artifacts, make_user, make_engagement):
    lead = make_user()
    engagement = make_engagement(lead=lead)
    system = scoring.instantiate(
        db.session, lead, engagement, scoring.bundled_templates()["project-2020"]
    )
    scoring.add_leaf(db.session, lead, system, "D1", "D13", "可持续影响", Decimal(5), "D11")
    scoring.update_node(db.session, lead, system, "D13", {"name": "可持续影响"}, {"type": "expert"})
    expert = services.create_expert(db.session, lead, name="周建国")
    _member, token = services.invite(db.session, lead, engagement, expert, ["D11", "D13"])
    db.session.commit()

    errors: list[str] = []
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(f"{live_server}/x/{token}")
    phone.get_by_label("我与上述单位不存在", exact=False).check()
    phone.get_by_label("保密", exact=False).check()
    phone.screenshot(path=str(artifacts / "expert-declaration-phone.png"), full_page=True)
    phone.get_by_role("button", name="确认").click()
    phone.wait_for_selector("#sheet-form")
    phone.fill("#score-D11", "13.5")
    phone.fill("#comment-D11", "受益人口目标完成，个别村供水保证率偏低")
    phone.fill("#score-D13", "5")
    phone.wait_for_selector("#autosave-status.text-success")  # the draft saved itself
    phone.once("dialog", lambda d: d.accept())
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_selector("text=已提交")
    phone.screenshot(path=str(artifacts / "expert-sheet-submitted-phone.png"), full_page=True)
    assert phone.locator("#score-D11").is_disabled()
    assert errors == []
