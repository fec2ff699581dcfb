"""The anonymous questionnaire page counts quota groups in the database: one aggregate query
per visit, however many answers are stored (it loaded every answer before: 2.4 s per visit at
100,000 responses)."""

from __future__ import annotations

import sqlalchemy as sa

from workbench.db import db
from workbench.surveys import builder, collect
from workbench.surveys.models import Survey, SurveyResponse

from ..test_query_counts import counting


def quota_survey(session, setup) -> tuple[Survey, str]:
    survey = builder.create_form(
        session,
        setup["lead"],
        setup["engagement"],
        title="受益群众满意度调查",
        group="",
        population=None,
        start_from=builder.questionnaire_library()["beneficiary"],
    )
    town = next(c for c in survey.columns if "乡镇" in c)
    survey.status, survey.public_token, survey.group_column = "open", "counted", town
    survey.group_targets = {"甲镇": {"quota": 3}, "乙镇": {"quota": 500}}
    session.commit()
    return survey, town


def add(session, survey: Survey, town: str, group: str, n: int) -> None:
    session.add_all(
        SurveyResponse(survey_id=survey.id, source="web", answers={town: group, "x": "1"})
        for _ in range(n)
    )
    session.commit()


def visit(app) -> tuple[str, list[str]]:
    phone = app.test_client()
    with counting(db.engine) as statements:
        page = phone.get("/s/counted")
    assert page.status_code == 200
    return page.get_data(as_text=True), statements


def test_the_public_page_counts_quota_groups_with_one_aggregate_query(setup, app, session):
    survey, town = quota_survey(session, setup)
    add(session, survey, town, "甲镇", 3)
    add(session, survey, town, "乙镇", 10)
    page, statements = visit(app)
    assert "甲镇 — enough answers" in page and "乙镇 — enough answers" not in page
    reads = [s for s in statements if "survey_responses" in s]
    assert len(reads) == 1 and "GROUP BY" in reads[0].upper() and "count(" in reads[0].lower()

    add(session, survey, town, "乙镇", 300)  # many more answers: the same single statement
    _page_after, statements_after = visit(app)
    assert len(statements_after) == len(statements)
    assert [s for s in statements_after if "survey_responses" in s] == reads
    assert collect.group_counts(session, survey) == {"甲镇": 3, "乙镇": 310}


def test_no_count_is_made_when_no_group_has_a_quota(setup, app, session):
    survey, town = quota_survey(session, setup)
    survey.group_targets = {"甲镇": {"population": 900}}
    session.commit()
    add(session, survey, town, "甲镇", 3)
    _page, statements = visit(app)
    assert not [s for s in statements if "survey_responses" in s]


def test_group_counts_match_any_column_name_and_missing_answers(setup, session):
    survey, _town = quota_survey(session, setup)
    odd = '3、您所在的"乡镇"\\村'  # a quote and a backslash cannot be written in a JSON path
    survey.group_column = odd
    session.add_all(
        SurveyResponse(survey_id=survey.id, source="import", answers=answers)
        for answers in ({odd: " 甲镇 "}, {odd: "甲镇"}, {odd: 3}, {"other": "甲镇"}, {})
    )
    session.commit()
    assert collect.group_counts(session, survey) == {"甲镇": 2, "3": 1, "": 2}
    survey.group_column = "other"
    assert collect.group_counts(session, survey) == {"甲镇": 1, "": 4}
    assert session.scalar(sa.select(sa.func.count(SurveyResponse.id))) == 5


def stored_groups(session, survey: Survey) -> list[str | None]:
    session.expire_all()
    return session.scalars(
        sa.select(SurveyResponse.group_value)
        .where(SurveyResponse.survey_id == survey.id)
        .order_by(SurveyResponse.id)
    ).all()


def test_group_answers_are_stored_by_submissions_imports_and_a_new_group_column(
    setup, app, session
):
    from workbench.surveys import jobs

    from .test_forms import answers_for, respond

    survey, town = quota_survey(session, setup)
    sid = survey.id
    assert respond(app, "counted", answers_for(survey, town="乙镇"))[1].status_code == 303
    table = f"编号,{town}\n1,甲镇\n2,丙镇\n".encode()
    job = jobs.create(
        session,
        setup["lead"],
        setup["engagement"],
        kind="table",
        data=table,
        filename="paper.csv",
        options={"mapping": {"编号": "meta:row_no", town: town}},
        survey=survey,
    )
    session.commit()
    jobs.start(app, job)
    survey = session.get(Survey, sid)
    assert stored_groups(session, survey) == ["乙镇", "甲镇", "丙镇"]
    assert collect.group_counts(session, survey) == {"甲镇": 1, "乙镇": 1, "丙镇": 1}

    # another group column: the stored answers follow it
    other = next(c for c in survey.columns if c != town and "性别" in c)
    session.execute(
        sa.update(SurveyResponse)
        .where(SurveyResponse.survey_id == sid)
        .values(answers={other: "男"})
    )
    builder.publish(
        session,
        setup["lead"],
        survey,
        status="open",
        opens_at=None,
        closes_at=None,
        target_n=None,
        distributed=None,
        require_token=False,
        group_column=other,
        group_targets={},
    )
    session.commit()
    assert stored_groups(session, survey) == ["男", "男", "男"]
    assert collect.group_counts(session, survey) == {"男": 3}
