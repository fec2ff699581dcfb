"""What a respondent tripped over on the public questionnaire: the first missing item is
pointed to after a refused submission, length limits show before typing, a "none of these"
option is ticked on its own, and "其他" has its text box (kept with the answer)."""

import re

import sqlalchemy as sa

from tests.surveys.test_forms import answers_for, respond
from tests.surveys.test_shared_wifi import published
from workbench.surveys.models import SurveyResponse

PROBLEMS = "q8"  # 您认为本项目目前存在的主要问题有哪些？（可多选）


def stored(session):
    return session.scalars(sa.select(SurveyResponse).order_by(SurveyResponse.id)).all()


def test_the_first_missing_item_is_pointed_to(setup, client, auth, session, app):
    survey = published(setup, client, auth, session)
    data = answers_for(survey)
    data.pop("q3")
    data.pop("q7")
    page = respond(app, survey.public_token, data)[1].get_data(as_text=True)
    assert 'data-first="q3"' in page and 'href="#q3"' in page
    assert "js/survey-form.js" in page


def test_length_limits_are_shown_before_typing(setup, client, auth, session, app):
    survey = published(setup, client, auth, session)
    page = app.test_client().get(f"/s/{survey.public_token}").get_data(as_text=True)
    assert 'maxlength="2000" name="q9"' in page
    assert 'id="q9-count" data-max="2000">At most 2000 characters<' in page
    assert 'name="q8.other"' in page and 'data-max="200">At most 200 characters<' in page


def test_a_none_option_is_ticked_on_its_own(setup, client, auth, session, app):
    survey = published(setup, client, auth, session)
    data = answers_for(survey)
    data[PROBLEMS] = ["后续管理维护不到位", "暂未发现明显问题"]
    refused = respond(app, survey.public_token, data)[1]
    assert refused.status_code == 422
    assert "cannot be ticked together with others" in refused.get_data(as_text=True)
    assert stored(session) == []
    page = app.test_client().get(f"/s/{survey.public_token}").get_data(as_text=True)
    assert re.search(r'value="暂未发现明显问题"[^>]*data-exclusive', page)
    assert re.search(r'value="其他"[^>]*data-other', page)
    data[PROBLEMS] = ["暂未发现明显问题"]
    assert respond(app, survey.public_token, data)[1].status_code == 303


def test_other_keeps_its_words_with_the_answer(setup, client, auth, session, app):
    survey = published(setup, client, auth, session)
    data = answers_for(survey)
    data[PROBLEMS] = ["项目覆盖范围不足", "其他"]
    data["q8.other"] = "  夏天水压低  "
    assert respond(app, survey.public_token, data)[1].status_code == 303
    (response,) = stored(session)
    header = next(c for c in survey.columns if c.startswith("8、"))
    assert response.answers[header] == "项目覆盖范围不足┋其他〖夏天水压低〗"
    # too long: refused, and the words come back in the box
    data["q8.other"] = "长" * 201
    again = respond(app, survey.public_token, data)[1]
    assert again.status_code == 422 and "200 characters at most" in again.get_data(as_text=True)
