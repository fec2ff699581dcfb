"""The remembered screening: repeated calls are cheap, and no change is ever missed.

Each process keeps the screening of a survey under a key read from the database (the
engagement's data revision, which every writer bumps, and the survey's settings), so a new
response, an evaluator's decision or an edited rule (made here or by another worker) shows
in the very next call.
"""

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.db import db, utcnow
from workbench.engagements import revision
from workbench.surveys import services
from workbench.surveys.models import Survey, SurveyResponse

ITEMS = ["q1", "q2", "q3"]
LEVEL_MAP = {"非常满意": "非常满意", "满意": "满意", "一般": "一般", "不满意": "不满意"}


@pytest.fixture
def survey(session, setup):
    """An imported survey of 6 responses feeding D12; the first answered in 10 seconds."""
    s = Survey(
        engagement_id=setup["engagement"].id,
        title="受益群众满意度调查",
        columns=[*ITEMS, "town"],
        satisfaction_columns=ITEMS,
        level_map=LEVEL_MAP,
        leaf_code="D12",
        group_column="town",
    )
    session.add(s)
    session.flush()
    answers = [("满意", "甲"), ("非常满意", "甲"), ("一般", "乙"), ("满意", "乙"), ("不满意", "甲")]
    for i, (level, town) in enumerate([*answers, ("满意", "乙")]):
        add_response(session, s, level, town, duration=10.0 if i == 0 else 300.0 + i)
    session.commit()
    return s


def add_response(session, survey, level, town="甲", duration=300.0):
    """A response written as every writer does: the row, and the engagement's revision."""
    n = session.scalar(
        sa.select(sa.func.count(SurveyResponse.id)).where(SurveyResponse.survey_id == survey.id)
    )
    session.add(
        SurveyResponse(
            survey_id=survey.id,
            row_no=str(n + 1),
            submitted_at=utcnow() - dt.timedelta(hours=1) + dt.timedelta(minutes=n),
            duration_s=duration,
            answers={**dict.fromkeys(ITEMS, level), "town": town},
        )
    )
    session.flush()
    revision.bump(session, survey.engagement_id)


@pytest.fixture
def screens(monkeypatch):
    """Counts the real screenings (memo misses)."""
    calls = []
    real = services._screen

    def counting(session, survey):
        calls.append(survey.id)
        return real(session, survey)

    monkeypatch.setattr(services, "_screen", counting)
    return calls


def statements(engine, fn):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def rate(survey):
    return services.results(survey).overall.rate


def test_repeated_screening_is_remembered_and_costs_one_statement(session, survey, screens):
    first = services.screened(survey)
    assert len(first) == 6 and screens == [survey.id]
    session.commit()
    session.expire_all()  # a new request: a fresh session state
    fresh = session.get(Survey, survey.id)
    sql = statements(db.engine, lambda: services.screened(fresh))
    assert screens == [survey.id]  # no second screening
    assert len(sql) == 1  # only the key
    again = services.screened(fresh)
    assert [r.response.id for r in again] == [r.response.id for r in first]
    assert services.results(fresh, rows=again) == services.results(fresh, rows=first)


def test_a_new_response_is_counted_at_once(session, survey, screens):
    assert rate(survey).valid == 18 and services.results(survey).used == 6
    add_response(session, survey, "非常满意")
    res = services.results(survey)
    assert res.used == 7 and res.overall.rate.valid == 21
    assert len(screens) == 2


def test_a_rule_change_applies_at_once(session, survey, setup):
    assert services.results(survey).used == 6
    services.save_cleaning(session, setup["lead"], survey, {"min_seconds": 60})
    rows = services.screened(survey)
    assert rows[0].reasons == [("too_fast", "10 s < 60 s")]
    assert services.results(survey).used == 5
    services.save_cleaning(session, setup["lead"], survey, {})
    assert services.results(survey).used == 6


def test_an_evaluator_decision_applies_at_once(session, survey, setup):
    services.save_cleaning(session, setup["lead"], survey, {"min_seconds": 60})
    session.commit()
    rows = services.screened(survey)
    assert rows.excluded.tolist() == [True, False, False, False, False, False]
    response = session.get(SurveyResponse, rows[0].response.id)
    services.set_override(session, setup["lead"], response, "include", "电话回访核实")
    rows = services.screened(survey)
    assert rows.excluded.tolist() == [False] * 6
    assert rows[0].response.override == "include" and rows[0].reasons
    assert services.exclusion_log(rows)["override_include"] == 1
    last = session.get(SurveyResponse, rows[5].response.id)
    services.set_override(session, setup["lead"], last, "exclude", "重复作答")
    assert services.results(survey).used == 5


def test_a_level_mapping_change_applies_at_once(session, survey, setup):
    assert rate(survey).satisfied == 12  # 满意 ×3 and 非常满意 ×1, three items each
    services.save_mapping(
        session,
        setup["lead"],
        survey,
        columns=ITEMS,
        level_map={**LEVEL_MAP, "一般": "满意"},
        leaf_code="D12",
    )
    assert rate(survey).satisfied == 15


def test_changes_made_by_another_worker_are_seen(session, survey, setup, app, screens):
    """Another process has its own memo; only the database tells this one what changed."""
    assert services.results(survey).used == 6
    session.commit()
    with Session(db.engine) as other:  # another worker: a decision, then a new response
        response = other.scalars(
            sa.select(SurveyResponse).where(SurveyResponse.survey_id == survey.id).limit(1)
        ).one()
        lead = other.get(type(setup["lead"]), setup["lead"].id)
        services.set_override(other, lead, response, "exclude", "与纸质问卷不符")
        other.commit()
    session.expire_all()
    fresh = session.get(Survey, survey.id)
    assert services.results(fresh).used == 5
    with Session(db.engine) as other:
        add_response(other, other.get(Survey, survey.id), "非常满意")
        other.commit()
    session.expire_all()
    fresh = session.get(Survey, survey.id)
    assert services.results(fresh).used == 6
    assert services.screened(fresh)[-1].response.row_no == "7"
    assert len(screens) == 3


def test_a_rolled_back_response_is_not_served_from_the_memo(session, survey, screens):
    """The rolled-back bump hands the same revision out again: what the transaction screened
    of its own uncommitted rows is kept under a key no later transaction has."""
    before = revision.current(session, survey.engagement_id)
    add_response(session, survey, "不满意", duration=301.0)
    assert services.results(survey).overall.rate.satisfied == 12
    session.rollback()
    add_response(session, survey, "非常满意", duration=302.0)
    assert revision.current(session, survey.engagement_id) == before + 1  # the same number
    assert services.results(survey).overall.rate.satisfied == 15
    session.commit()
    assert services.results(survey).overall.rate.satisfied == 15
    assert services.results(survey).overall.rate.satisfied == 15
    assert len(screens) == 3  # once committed: screened again under the bare revision, then kept


def test_results_are_copies_the_caller_may_relabel(session, survey):
    res = services.results(survey)
    res.alphas = []
    res.items.clear()
    again = services.results(survey)
    assert again.items and again.alphas


def test_survey_rates_follow_a_decision(session, survey, setup):
    before = services.survey_rates(session, setup["engagement"])["D12"]
    first = services.screened(survey)[0].response
    services.set_override(
        session, setup["lead"], session.get(SurveyResponse, first.id), "exclude", "x"
    )
    after = services.survey_rates(session, setup["engagement"])["D12"]
    assert before != after


def test_the_memo_keeps_a_bounded_number_of_surveys(session, survey, monkeypatch):
    monkeypatch.setattr(services, "MEMO_SURVEYS", 1)
    services.clear_memo()
    services.screened(survey)
    other = Survey(
        engagement_id=survey.engagement_id,
        title="another",
        columns=ITEMS,
        satisfaction_columns=ITEMS,
        level_map=LEVEL_MAP,
    )
    session.add(other)
    session.flush()
    services.screened(other)
    assert list(services._MEMO) == [other.id]


def test_a_script_that_edits_responses_bumps_the_revision(session, survey, setup):
    """No listener watches the response objects: the data revision is the key, so a script
    that edits stored responses directly bumps it, as the services do."""
    services.save_cleaning(session, setup["lead"], survey, {"min_seconds": 60})
    session.commit()
    assert services.results(survey).used == 5
    second = session.scalars(
        sa.select(SurveyResponse).where(SurveyResponse.survey_id == survey.id).offset(1)
    ).first()
    second.duration_s = 5.0
    session.commit()
    assert services.results(survey).used == 5  # not told: the remembered screening
    revision.bump(session, survey.engagement_id)
    assert services.results(survey).used == 4


def test_the_memo_keeps_a_bounded_number_of_responses(session, survey, monkeypatch):
    monkeypatch.setattr(services, "MEMO_RESPONSES", 8)
    services.clear_memo()
    services.screened(survey)  # 6 responses
    other = Survey(
        engagement_id=survey.engagement_id,
        title="another",
        columns=ITEMS,
        satisfaction_columns=ITEMS,
        level_map=LEVEL_MAP,
    )
    session.add(other)
    session.flush()
    for level in ("满意", "一般", "满意"):
        add_response(session, other, level)
    services.screened(other)  # 6 + 3 > 8: the older one goes
    assert list(services._MEMO) == [other.id]
    services.screened(survey)
    assert list(services._MEMO) == [survey.id]
