"""A village answering on one Wi-Fi: several phones from one address submit the public
questionnaire; none is refused or excluded for sharing the address. The next phone meets the
form's helps (a "none of these" option ticked alone, the 其他 box, the length counter, the
first missing item scrolled to) and then the survey's ceiling: its answers come back filled in
with the message, nothing is lost from the page and nothing stored."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from workbench.db import db
from workbench.surveys import builder
from workbench.surveys import services as surveys
from workbench.surveys.models import Survey, SurveyResponse

pytestmark = pytest.mark.browser

BUSY = "提交人数较多，您的答案尚未保存，请稍候再点提交"


@pytest.fixture
def wifi_server(app_with):
    """The app with its limits on and a survey ceiling of 3 per minute."""
    app = app_with(
        WTF_CSRF_ENABLED=True,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        RATELIMIT_ENABLED=True,
        SURVEY_CEILING="3 per minute",
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def open_survey(make_user, make_engagement) -> Survey:
    lead = make_user()
    engagement = make_engagement(lead=lead)
    survey = builder.create_form(
        db.session,
        lead,
        engagement,
        title="受益群众满意度调查",
        group="受益群众",
        population=None,
        start_from=builder.questionnaire_library()["beneficiary"],
    )
    builder.publish(
        db.session,
        lead,
        survey,
        status="open",
        opens_at=None,
        closes_at=None,
        target_n=None,
        distributed=None,
        require_token=False,
        group_column=None,
        group_targets={},
    )
    survey.cleaning = {"burst_count": 2, "burst_minutes": 10}  # the burst rule on
    db.session.commit()
    return survey


def fill(page, questions, n: int, skip: int | None = None) -> None:
    for i, q in enumerate(questions, start=1):
        if i == skip:
            continue
        if q.type == "matrix":
            for j in range(1, len(q.items) + 1):
                page.locator(f'[id="q{i}.{j}"] label').filter(has_text="满意").nth(1).click()
        elif q.expected:
            page.locator(f"#q{i} label").filter(has_text=q.expected).nth(1).click()
        elif q.type == "likert":
            page.locator(f"#q{i} label").filter(has_text="非常满意").first.click()
        elif q.type == "single":
            page.locator(f"#q{i} label").nth(n % len(q.options)).click()
        elif q.type == "textarea":
            page.locator(f"#q{i} textarea").fill(f"第{n}户：希望按时维护")


def until(page, script: str) -> None:
    """Wait (up to 10 s) for ``script`` to be true; polled from here, since the page's CSP
    refuses Playwright's in-page wait_for_function."""
    for _ in range(100):
        if page.evaluate(script):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {script}")


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count(SurveyResponse.id)))


def test_one_wifi_many_phones_then_the_ceiling_keeps_the_answers(
    wifi_server, browser, artifacts, make_user, make_engagement
):
    survey = open_survey(make_user, make_engagement)
    questions = builder.questions_of(survey)
    url = f"{wifi_server}/s/{survey.public_token}"
    for n in range(3):  # three households, three phones, one address (127.0.0.1)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = phone.new_page()
        page.goto(url)
        fill(page, questions, n)
        page.locator("#q8 label").filter(has_text="后续管理维护不到位").click()
        page.get_by_role("button", name="提交").click()
        page.wait_for_selector("#thanks")
        phone.close()
    assert count() == 3
    db.session.expire_all()
    log = surveys.exclusion_log(surveys.screened(db.session.get(Survey, survey.id)))
    assert log["burst"] == 0 and log["excluded"] == 0  # a shared address alone

    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page.goto(url)
    counter = page.locator("#q9-count")
    assert counter.inner_text() == "最多2000字"  # the limit shows before typing
    fill(page, questions, 3, skip=7)  # question 7 left out
    assert counter.inner_text() == f"{len('第3户：希望按时维护')} / 2000"
    problems = page.locator("#q8")
    problems.locator("label").filter(has_text="后续管理维护不到位").click()
    problems.locator("label").filter(has_text="暂未发现明显问题").click()
    boxes = problems.locator("input[type=checkbox]")
    checked = boxes.evaluate_all("bs => bs.filter(b => b.checked).map(b => b.value)")
    assert checked == ["暂未发现明显问题"]  # the "none" option is ticked alone
    page.locator('[id="q8-other"]').fill("水压偏低")  # typing in 其他 ticks it
    checked = boxes.evaluate_all("bs => bs.filter(b => b.checked).map(b => b.value)")
    assert checked == ["其他"]
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#form-errors")
    # scrolled to the first missing item, which has the focus (once the page has loaded)
    until(page, "document.activeElement.closest('fieldset')?.id === 'q7'")
    until(
        page,
        "(() => { const t = document.activeElement.getBoundingClientRect().top;"
        " return t >= 0 && t < innerHeight; })()",
    )
    assert count() == 3
    page.locator("#q7 label").filter(has_text="满意").nth(1).click()
    page.get_by_role("button", name="提交").click()
    page.wait_for_selector("#form-notice")
    # the survey's ceiling (3 per minute): the answers come back, not saved, with the message
    assert page.locator("#form-notice").inner_text() == BUSY
    assert page.locator("#q9 textarea").input_value() == "第3户：希望按时维护"
    assert page.locator('[id="q8-other"]').input_value() == "水压偏低"
    assert page.locator("#q8 input[value='其他']").is_checked()
    assert page.locator("#q7 input[value='满意']").is_checked()
    assert page.locator("nav.navbar").count() == 0 and page.locator("a[href*='login']").count() == 0
    page.screenshot(path=str(artifacts / "survey-shared-wifi-busy.png"), full_page=True)
    assert count() == 3
