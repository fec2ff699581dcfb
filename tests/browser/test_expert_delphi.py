"""Issue #15 on a phone: the Delphi round asks for a new reason for a changed score; the
progress follows the typed scores; a failed autosave says the network dropped it."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from workbench.db import db
from workbench.experts import services
from workbench.scoring import services as scoring

pytestmark = pytest.mark.browser


def _round_two(lead, engagement):
    """Two experts scored round 1; the revision round is open. The first expert's token."""
    system = scoring.instantiate(
        db.session, lead, engagement, scoring.bundled_templates()["project-2020"]
    )
    scoring.add_leaf(db.session, lead, system, "D1", "D13", "可持续影响", Decimal(5), "D11")
    scoring.update_node(db.session, lead, system, "D13", {"name": "可持续影响"}, {"type": "expert"})
    template = scoring.template_of(system)
    tokens = []
    for name, d11 in (("周建国", "12"), ("吴敏", "14")):
        expert = services.create_expert(db.session, lead, name=name)
        member, token = services.invite(db.session, lead, engagement, expert, ["D11", "D13"])
        services.declare(db.session, member, has_conflict=False, text="", confidentiality=True)
        services.save_sheet(
            db.session, member, template,
            {"D11": (d11, "第一轮理由：部分村供水保证率偏低"), "D13": ("4", "第一轮理由")},
            round_no=1, submit=True,
        )  # fmt: skip
        tokens.append(token)
    services.open_round2(db.session, lead, engagement)
    db.session.commit()
    return tokens[0]


def test_a_changed_delphi_score_needs_a_new_reason(
    live_server, browser, artifacts, make_user, make_engagement
):
    lead = make_user()
    token = _round_two(lead, make_engagement(lead=lead))
    errors: list[str] = []
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(f"{live_server}/x/{token}")
    assert (
        phone.locator("label[for=comment-D11]").inner_text() == "理由（第二轮改分须填写新的理由）"
    )
    assert "第一轮理由：部分村供水保证率偏低" in phone.locator("#item-D11").inner_text()
    assert phone.input_value("#comment-D11") == ""  # the round-1 reason is not the new one
    # change the score and copy the round-1 reason: refused, nothing saved
    phone.fill("#score-D11", "13")
    phone.fill("#comment-D11", "第一轮理由：部分村供水保证率偏低")
    phone.once("dialog", lambda d: d.accept())
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_selector("#problem-D11")
    assert "第二轮改分须填写新的理由" in phone.locator("#problem-D11").inner_text()
    assert phone.locator("text=已提交").count() == 0
    phone.screenshot(path=str(artifacts / "expert-delphi-reason-phone.png"), full_page=True)
    # a new reason is accepted
    phone.fill("#comment-D11", "参考专家组中位数，供水保证率问题已部分整改")
    phone.once("dialog", lambda d: d.accept())
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_selector("text=已提交")
    assert phone.input_value("#score-D11") == "13"
    assert [e for e in errors if "422" not in e] == []  # the refusal itself is a 422


def test_progress_follows_typing_and_a_network_failure_is_named(
    live_server, browser, make_user, make_engagement
):
    lead = make_user()
    engagement = make_engagement(lead=lead)
    system = scoring.instantiate(
        db.session, lead, engagement, scoring.bundled_templates()["project-2020"]
    )
    scoring.add_leaf(db.session, lead, system, "D1", "D13", "可持续影响", Decimal(5), "D11")
    scoring.update_node(db.session, lead, system, "D13", {"name": "可持续影响"}, {"type": "expert"})
    expert = services.create_expert(db.session, lead, name="周建国")
    member, token = services.invite(db.session, lead, engagement, expert, ["D11", "D13"])
    services.declare(db.session, member, has_conflict=False, text="", confidentiality=True)
    db.session.commit()

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    phone.goto(f"{live_server}/x/{token}")
    assert phone.inner_text("#sheet-progress-count") == "0/2"
    phone.route("**/draft", lambda route: route.abort("internetdisconnected"))
    phone.fill("#score-D11", "12")
    assert phone.inner_text("#sheet-progress-count") == "1/2"  # before any save
    phone.wait_for_selector("#autosave-status.text-danger")
    assert phone.inner_text("#autosave-status") == "网络中断，草稿未保存"
    phone.unroute("**/draft")
    # another tab saves; this one, shown again, shows what is saved
    other = browser.new_page()
    other.goto(f"{live_server}/x/{token}")
    other.fill("#score-D13", "3")
    other.wait_for_selector("#autosave-status.text-success")
    other.close()
    phone.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(phone.locator("#score-D13")).to_have_value("3")  # (the CSP forbids eval)
    assert "其他窗口" in phone.inner_text("#autosave-status")
    assert phone.inner_text("#sheet-progress-count") == "1/2"  # D11 was never saved
