"""A village or a school answering on one Wi-Fi (one public address): the public questionnaire
is throttled per browser and per survey, not per address; only stored responses count; a
throttled respondent keeps their answers; and the burst rule needs more than the address."""

import random
import re

import sqlalchemy as sa

from tests.surveys.test_forms import answers_for, create, publish
from workbench.surveys import builder
from workbench.surveys import services as surveys
from workbench.surveys.models import Survey, SurveyResponse, SurveyToken

BUSY = "提交人数较多，您的答案尚未保存，请稍候再点提交"


def published(setup, client, auth, session):
    auth.login(setup["lead"])
    eid = setup["engagement"].id
    sid = create(client, eid)
    publish(client, eid, sid)
    session.expire_all()
    return session.get(Survey, sid)


def varied(survey, i, rng):
    """A genuine respondent's answers: their own choices and their own remark."""
    qs = builder.questions_of(survey)
    levels = ["非常满意", "满意", "一般", "不满意"]
    data = answers_for(survey, overall=rng.choice(levels), matrix=rng.choice(levels))
    for n, q in enumerate(qs, start=1):
        if q.type == "matrix":
            for j in range(1, len(q.items) + 1):
                data[f"q{n}.{j}"] = rng.choice(levels)
        elif q.type in ("single", "multiple") and not q.expected:
            data[f"q{n}"] = rng.choice(q.options)
        elif q.type in ("text", "textarea"):
            data[f"q{n}"] = f"第{i}户的意见"
    return data


def count(session):
    return session.scalar(sa.select(sa.func.count(SurveyResponse.id)))


def test_200_respondents_on_one_address_are_all_stored_and_none_excluded(
    setup, client, auth, session, app_with
):
    """The field report: 200 from one address stored 77 and refused 123; of 12 genuine ones
    11 were excluded as a burst. Limits on (the defaults), the burst rule on."""
    survey = published(setup, client, auth, session)
    survey.cleaning = {"burst_count": 2, "burst_minutes": 10}
    session.commit()
    wifi = app_with(RATELIMIT_ENABLED=True)
    url = f"/s/{survey.public_token}"
    rng = random.Random(15)
    codes = []
    for i in range(200):
        phone = wifi.test_client()  # each respondent's own phone (cookie jar), one address
        phone.get(url, environ_base={"REMOTE_ADDR": "203.0.113.50"})
        done = phone.post(
            url, data=varied(survey, i, rng), environ_base={"REMOTE_ADDR": "203.0.113.50"}
        )
        codes.append(done.status_code)
    assert codes == [303] * 200
    assert count(session) == 200
    session.expire_all()
    rows = surveys.screened(session.get(Survey, survey.id))
    log = surveys.exclusion_log(rows)
    assert log["burst"] == 0 and log["excluded"] == 0


def test_failed_attempts_consume_no_quota_and_the_ceiling_keeps_the_answers(
    setup, client, auth, session, app_with
):
    survey = published(setup, client, auth, session)
    busy = app_with(
        RATELIMIT_ENABLED=True,
        SURVEY_RATE_LIMIT="1 per minute",
        SURVEY_CEILING="2 per minute",
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
    )
    url = f"/s/{survey.public_token}"
    phone = busy.test_client()
    phone.get(url)
    incomplete = answers_for(survey)
    incomplete.pop("q7")
    for _ in range(40):  # sent back for a missing answer: counted nowhere
        assert phone.post(url, data=incomplete).status_code == 422
    assert phone.post(url, data=answers_for(survey)).status_code == 303
    other = busy.test_client()
    other.get(url)
    assert other.post(url, data=answers_for(survey, town="乙镇")).status_code == 303
    # the survey's ceiling (2 per minute) is reached: the third respondent is told to wait
    third = busy.test_client()
    third.get(url)
    mine = answers_for(survey, overall="一般", q9="水压偏低，希望改善")
    refused = third.post(url, data=mine)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert BUSY in page
    assert "水压偏低，希望改善" in page  # the answers come back, filled in
    assert re.search(r'name="q7" value="一般" checked', page)
    assert "navbar" not in page and "/login" not in page  # public layout, no staff links
    assert count(session) == 2


def test_a_device_is_limited_on_its_own(setup, client, auth, session, app_with):
    """An enumerator's phone opens one household code after another: its own limit."""
    survey = published(setup, client, auth, session)
    survey.require_token = True
    session.add_all([SurveyToken(survey_id=survey.id, code=f"C{i:05d}") for i in range(4)])
    session.commit()
    app = app_with(RATELIMIT_ENABLED=True, SURVEY_RATE_LIMIT="2 per minute")
    phone = app.test_client()
    url = f"/s/{survey.public_token}"
    statuses = []
    for i in range(3):
        phone.get(f"{url}?t=C{i:05d}")
        statuses.append(phone.post(f"{url}?t=C{i:05d}", data=answers_for(survey)).status_code)
    assert statuses == [303, 303, 429]
    another = app.test_client()  # the next phone on the same Wi-Fi is not affected
    another.get(f"{url}?t=C00003")
    assert another.post(f"{url}?t=C00003", data=answers_for(survey)).status_code == 303


def test_optional_codes_are_said_so_and_a_used_code_is_linked(setup, client, auth, session, app):
    """Codes exist but are not required: the publish page says so plainly, and a code used
    on the general link is still marked used and linked to its response."""
    survey = published(setup, client, auth, session)
    eid, sid = setup["engagement"].id, survey.id
    client.post(f"/engagements/{eid}/surveys/{sid}/tokens", data={"labels": "张家\n李家"})
    page = client.get(f"/engagements/{eid}/surveys/{sid}/publish").get_data(as_text=True)
    assert 'id="codes-optional"' in page and "Codes are optional" in page
    tokens = session.scalars(sa.select(SurveyToken).order_by(SurveyToken.id)).all()
    url = f"/s/{survey.public_token}"
    phone = app.test_client()
    phone.get(f"{url}?t={tokens[0].code}")
    assert phone.post(f"{url}?t={tokens[0].code}", data=answers_for(survey)).status_code == 303
    anyone = app.test_client()  # the general link still opens it without a code
    anyone.get(url)
    assert anyone.post(url, data=answers_for(survey)).status_code == 303
    session.expire_all()
    assert session.get(SurveyToken, tokens[0].id).used_at is not None
    linked = session.scalars(sa.select(SurveyResponse.token_id).order_by(SurveyResponse.id)).all()
    assert linked == [tokens[0].id, None]
    again = app.test_client()  # the used code does not open it twice
    assert "already been used" in again.get(f"{url}?t={tokens[0].code}").get_data(as_text=True)
    # required codes: the page says so instead
    survey.require_token = True
    session.commit()
    page = client.get(f"/engagements/{eid}/surveys/{sid}/publish").get_data(as_text=True)
    assert 'id="codes-optional"' not in page
