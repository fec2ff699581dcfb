"""#14 B: the report prints the very measure a survey's leaf is scored on (a respondent
group's rate, the index), with its label — not the all-respondent rate."""

import datetime as dt

import pytest

from workbench.accounts.models import OrganisationKind, Role
from workbench.core.evaluation import Source
from workbench.db import utcnow
from workbench.evaluation import result_of
from workbench.reports.context import build_context, pct
from workbench.scoring import services as scoring
from workbench.surveys.models import Survey, SurveyResponse

ITEMS = ["q1", "q2", "q3"]
LEVELS = {"非常满意": "非常满意", "满意": "满意", "一般": "一般", "不满意": "不满意"}
# 甲: 3 of 4 satisfied (75 %); 乙: 1 of 3; everyone: 4 of 7 (57.14 %); index 500 / 7 = 71.43
ANSWERS = [
    ("满意", "甲"),
    ("非常满意", "甲"),
    ("不满意", "甲"),
    ("满意", "甲"),
    ("一般", "乙"),
    ("一般", "乙"),
    ("满意", "乙"),
]


@pytest.fixture
def engagement(session, make_org, make_user, make_engagement):
    lead = make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead, client=make_org(OrganisationKind.CLIENT))
    scoring.instantiate(session, lead, engagement, scoring.bundled_templates()["project-2020"])
    session.commit()
    return engagement


def add_survey(session, engagement, measure, group):
    survey = Survey(
        engagement_id=engagement.id,
        title="受益群众满意度调查",
        columns=[*ITEMS, "town"],
        satisfaction_columns=ITEMS,
        level_map=LEVELS,
        leaf_code="D12",
        leaf_measure=measure,
        leaf_group=group,
        group_column="town",
    )
    session.add(survey)
    session.flush()
    for n, (level, town) in enumerate(ANSWERS):
        session.add(
            SurveyResponse(
                survey_id=survey.id,
                row_no=str(n + 1),
                submitted_at=utcnow() - dt.timedelta(hours=1) + dt.timedelta(minutes=n),
                duration_s=300.0 + n,
                answers={**dict.fromkeys(ITEMS, level), "town": town},
            )
        )
    session.commit()
    return survey


@pytest.mark.parametrize(
    ("measure", "group", "label", "printed"),
    [
        ("rate", "甲", "“甲”受访者满意率", "75.00%"),
        ("index", None, "满意度指数（百分制，÷100计分）", "71.43%"),
    ],
)
def test_the_paragraph_prints_the_rate_the_leaf_is_scored_on(
    session, engagement, measure, group, label, printed
):
    add_survey(session, engagement, measure, group)
    result = result_of(session, engagement)
    scored = result.figures["derived"]["D12"].rate
    node = result.node("D12")
    assert node.score is not None and node.source is Source.SURVEY
    assert pct(scored) == printed  # the leaf takes the linked measure

    context = build_context(session, engagement)
    (survey,) = context.values["surveys"]
    assert f"{label}为{pct(scored)}（95%置信区间" in survey["text"]
    assert "计入“满意度”指标评分" in survey["text"]
    assert "57.14%" not in survey["text"]  # the all-respondent rate is not what is scored
    # the annex table's last row states the same measure and value
    last = context.tables[survey["table"]].rows[-1]
    assert last[0] == f"计分口径：{label}" and last[-1] == pct(scored)


def test_an_unlinked_measure_keeps_the_all_respondent_rate(session, engagement):
    add_survey(session, engagement, "rate", None)
    result = result_of(session, engagement)
    assert pct(result.figures["derived"]["D12"].rate) == "57.14%"
    (survey,) = build_context(session, engagement).values["surveys"]
    assert "满意率（全部受访者）为57.14%" in survey["text"] and "满意度指数71.4分" in survey["text"]
