"""A respondent on a phone opens the public questionnaire, misses a question, fixes it and
submits; the evaluator's results page then shows the response (with its chart)."""

import pytest
import sqlalchemy as sa

from workbench.db import db
from workbench.surveys import builder
from workbench.surveys.models import SurveyResponse

pytestmark = pytest.mark.browser


def test_respondent_fills_the_questionnaire_on_a_phone(
    live_server, browser, artifacts, make_user, make_engagement
):
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
    db.session.commit()
    questions = builder.questions_of(survey)

    errors: list[str] = []
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    phone.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    phone.goto(f"{live_server}/s/{survey.public_token}")
    assert phone.locator("h1").inner_text() == "受益群众满意度调查"
    # no horizontal scrolling on a phone
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    for i, q in enumerate(questions, start=1):
        if q.type == "matrix":
            for j in range(1, len(q.items) + 1):
                phone.locator(f'[id="q{i}.{j}"] label').filter(has_text="满意").nth(1).click()
        elif q.expected:
            phone.locator(f"#q{i} label").filter(has_text=q.expected).nth(1).click()
        elif q.type == "likert" and i != 7:
            phone.locator(f"#q{i} label").filter(has_text="非常满意").first.click()
        elif q.type in ("single", "multiple"):
            phone.locator(f"#q{i} label").first.click()
    phone.screenshot(path=str(artifacts / "survey-phone-filled.png"), full_page=True)
    phone.get_by_role("button", name="提交").click()
    # question 7 (overall satisfaction) was left out: marked, nothing stored
    phone.wait_for_selector("#form-errors")
    assert "请回答本题" in phone.locator("#q7").inner_text()
    assert db.session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 0
    phone.locator("#q7 label").filter(has_text="非常满意").first.click()
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_selector("#thanks")
    phone.screenshot(path=str(artifacts / "survey-phone-thanks.png"), full_page=True)
    stored = db.session.scalars(sa.select(SurveyResponse)).all()
    assert len(stored) == 1
    answers = stored[0].answers
    assert answers[survey.columns[-1]] == "" and answers[f"7、{questions[6].text}"] == "非常满意"
    assert all(answers[c] == "满意" for c in survey.columns if c.startswith("5、"))
    # a second visit from the same phone is told it has answered
    phone.goto(f"{live_server}/s/{survey.public_token}")
    assert phone.locator("#gate").get_attribute("data-code") == "duplicate"
    # the re-shown form with its marks answers 422 (Chromium logs that); nothing else failed
    assert [e for e in errors if "422" not in e] == []
