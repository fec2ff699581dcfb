"""Questionnaire surveys: build, publish, one-time tokens. Flush and audit only."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.questionnaire import (
    Question,
    Questionnaire,
    QuestionnaireError,
    columns,
    level_map,
    library,
    parse_questionnaire,
    satisfaction_columns,
)
from workbench.db import utcnow
from workbench.engagements import revision
from workbench.engagements.models import Engagement
from workbench.surveys.models import Survey, SurveyToken
from workbench.surveys.services import SurveyError, questions_of, store_group_values

LIBRARY = Path(__file__).resolve().parents[2] / "scoring_templates" / "surveys"
MAX_TOKENS = 5000
#: letters and digits only: a code never starts with "-" (Excel formula) nor looks like "0"/"O"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def questionnaire_library() -> dict[str, Questionnaire]:
    """The standard questionnaires shipped in ``scoring_templates/surveys/``."""
    return library(LIBRARY)


def _sync(survey: Survey, questions: Sequence[Question]) -> None:
    """Keep the derived columns, satisfaction items and level mapping in step."""
    survey.questions = [q.model_dump(mode="json") for q in questions]
    survey.columns = [c.header for c in columns(questions)]
    survey.satisfaction_columns = satisfaction_columns(questions)
    survey.level_map = level_map(questions)


def create_form(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    title: str,
    group: str,
    population: int | None,
    start_from: Questionnaire | None,
) -> Survey:
    """A new questionnaire survey, blank (one Likert question) or copied from the library."""
    questions = (
        list(start_from.questions)
        if start_from
        else [Question(type="likert", text="您对本项目的总体满意程度", satisfaction=True)]
    )
    survey = Survey(
        engagement_id=engagement.id,
        title=title,
        respondent_group=group,
        population=population,
        kind="form",
        flavour="text",
        description=start_from.description if start_from else "",
        status="draft",
        # sensible screening from the start: attention checks and speeders (under a third
        # of the median time); the evaluator adjusts them on the 甄别 tab
        cleaning={"attention": True, "min_median_fraction": 0.33},
    )
    _sync(survey, questions)
    session.add(survey)
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "survey.create",
        "survey",
        survey.id,
        engagement_id=engagement.id,
        changes={"questions": {"before": None, "after": len(questions)}},
        summary=title,
    )
    return survey


def _editable(survey: Survey) -> None:
    if survey.kind != "form":
        raise SurveyError("not_a_form")
    if survey.responses:
        raise SurveyError("has_responses")


def set_questions(
    session: Session, actor: User, survey: Survey, questions: Sequence[Question], what: str
) -> None:
    """Replace the questions (only before the first response, so stored answers keep their
    meaning)."""
    _editable(survey)
    if not questions:
        raise SurveyError("no_questions")
    before = len(survey.questions or [])
    _sync(survey, questions)
    if survey.group_column and survey.group_column not in survey.columns:
        survey.group_column = None
        survey.group_targets = {}
    session.flush()
    revision.bump(session, survey.engagement_id)
    record(
        session,
        actor,
        "survey.questions",
        "survey",
        survey.id,
        engagement_id=survey.engagement_id,
        changes={"questions": {"before": before, "after": len(questions)}},
        summary=f"{survey.title}: {what}",
    )


def replace_from_data(session: Session, actor: User, survey: Survey, data: object) -> None:
    """Replace the questionnaire with an uploaded YAML file's content."""
    try:
        questionnaire = parse_questionnaire(data, "upload")
    except QuestionnaireError as exc:
        raise SurveyError("bad_questionnaire", str(exc)) from exc
    survey.description = questionnaire.description
    set_questions(session, actor, survey, questionnaire.questions, "upload")


def publish(
    session: Session,
    actor: User,
    survey: Survey,
    *,
    status: str,
    opens_at: dt.datetime | None,
    closes_at: dt.datetime | None,
    target_n: int | None,
    distributed: int | None,
    require_token: bool,
    group_column: str | None,
    group_targets: Mapping[str, Mapping[str, int | None]],
) -> None:
    """Collection settings; opening a survey gives it its unguessable public link."""
    if survey.kind != "form" and status != "draft":
        raise SurveyError("not_a_form")
    if status not in ("draft", "open", "closed"):
        raise SurveyError("bad_status")
    if opens_at and closes_at and closes_at <= opens_at:
        raise SurveyError("bad_dates")
    if group_column and group_column not in survey.columns:
        raise SurveyError("bad_group")
    before = {
        "status": survey.status,
        "closes_at": survey.closes_at.isoformat() if survey.closes_at else None,
        "target_n": survey.target_n,
        "require_token": survey.require_token,
    }
    survey.status = status
    survey.opens_at, survey.closes_at = opens_at, closes_at
    survey.target_n, survey.distributed = target_n, distributed
    survey.require_token = require_token
    regroup = (group_column or None) != survey.group_column
    survey.group_column = group_column or None
    survey.group_targets = {
        str(g): {k: int(v) for k, v in t.items() if v}
        for g, t in group_targets.items()
        if any(t.values())
    }
    if status == "open" and not survey.public_token:
        survey.public_token = secrets.token_urlsafe(24)
    session.flush()
    if regroup:  # the stored answers to the group column (quota counts) follow it
        store_group_values(session, survey)
    # groups and populations feed the post-stratified rate; tokens and 发放数 the yield
    revision.bump(session, survey.engagement_id)
    after = {
        "status": status,
        "closes_at": closes_at.isoformat() if closes_at else None,
        "target_n": target_n,
        "require_token": require_token,
    }
    record(
        session,
        actor,
        "survey.publish",
        "survey",
        survey.id,
        engagement_id=survey.engagement_id,
        changes={
            k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]
        },
        summary=survey.title,
    )


def group_choices(survey: Survey) -> list[str]:
    """The answers of the group column that can carry a population and a quota."""
    if not survey.group_column:
        return []
    questions = questions_of(survey) if survey.kind == "form" else []
    for col in columns(questions):
        if col.header == survey.group_column:
            return questions[col.question].choices()
    seen: dict[str, None] = {}
    for response in survey.responses:
        value = str(response.answers.get(survey.group_column, "")).strip()
        if value:
            seen.setdefault(value, None)
    return list(seen)


def issue_tokens(
    session: Session, actor: User, survey: Survey, *, count: int, labels: Sequence[str]
) -> list[SurveyToken]:
    """A batch of one-time codes: one per label when labels are given, else ``count``."""
    wanted = len(labels) or count
    if wanted < 1 or wanted + len(survey_tokens(session, survey)) > MAX_TOKENS:
        raise SurveyError("token_count")
    batch = 1 + max((t.batch for t in survey_tokens(session, survey)), default=0)
    tokens = []
    for i in range(wanted):
        token = SurveyToken(
            survey_id=survey.id,
            code="".join(secrets.choice(CODE_ALPHABET) for _ in range(12)),
            label=(labels[i] if labels else "")[:200],
            batch=batch,
        )
        session.add(token)
        tokens.append(token)
    session.flush()
    revision.bump(session, survey.engagement_id)  # 发放数 of a survey answered with codes
    record(
        session,
        actor,
        "survey.tokens",
        "survey",
        survey.id,
        engagement_id=survey.engagement_id,
        changes={"tokens": {"before": None, "after": wanted}},
        summary=f"{survey.title}: batch {batch}",
    )
    return tokens


def survey_tokens(session: Session, survey: Survey, batch: int | None = None) -> list[SurveyToken]:
    query = session.query(SurveyToken).filter(SurveyToken.survey_id == survey.id)
    if batch is not None:
        query = query.filter(SurveyToken.batch == batch)
    return query.order_by(SurveyToken.id).all()


def collection_state(survey: Survey, now: dt.datetime | None = None) -> str:
    """``open`` or why not: ``draft``, ``closed``, ``not_yet``, ``ended``, ``full``."""
    now = now or utcnow()
    if survey.status == "draft":
        return "draft"
    if survey.status == "closed":
        return "closed"
    if survey.opens_at and now < survey.opens_at:
        return "not_yet"
    if survey.closes_at and now >= survey.closes_at:
        return "ended"
    return "open"


def question_from_form(data: Mapping[str, Any]) -> Question:
    """A question from the builder's form fields (lists already split into lines)."""
    try:
        return Question.model_validate(data)
    except ValidationError as exc:
        messages = exc.errors()
        raise SurveyError(
            "bad_question", "; ".join(str(m["msg"]).removeprefix("Value error, ") for m in messages)
        ) from exc
