"""Responses from the public questionnaire page (no login). Flush only: respondents are
anonymous, so nothing is written to the audit log (the response carries its paradata)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only

from workbench.core.questionnaire import Question, check_answers
from workbench.db import utcnow
from workbench.engagements import revision
from workbench.surveys.builder import collection_state
from workbench.surveys.models import Survey, SurveyResponse, SurveyToken
from workbench.surveys.services import (
    GROUP_VALUE_MAX,
    SurveyError,
    _group_value,
    questions_of,
)


def salted(salt: str, survey_id: int, value: str) -> str:
    """A per-survey salted hash: equal inputs are recognisable, the input is not stored."""
    if not value:
        return ""
    return hashlib.sha256(f"{salt}:{survey_id}:{value}".encode()).hexdigest()


#: what the public page reads of a survey (the import mapping, cleaning rules and other
#: evaluator-side JSON columns are not loaded for a respondent)
PUBLIC_COLUMNS = (
    Survey.id,
    Survey.engagement_id,  # whose data revision a response bumps
    Survey.title,
    Survey.kind,
    Survey.questions,
    Survey.description,
    Survey.status,
    Survey.public_token,
    Survey.opens_at,
    Survey.closes_at,
    Survey.require_token,
    Survey.group_column,
    Survey.group_targets,
)


@functools.cache
def _statements() -> dict[str, sa.Select[Any]]:
    """The public page's queries, built once (building a statement with its loader options
    costs more than running it on every respondent's request)."""
    token = sa.bindparam("token")
    return {
        "survey": sa.select(Survey)
        .options(load_only(*PUBLIC_COLUMNS))
        .where(Survey.public_token == token),
        "title": sa.select(Survey.title).where(Survey.public_token == token),
        "answered": sa.select(sa.func.count(SurveyResponse.id)).where(
            SurveyResponse.survey_id == sa.bindparam("survey_id"),
            SurveyResponse.device_hash == sa.bindparam("device_hash"),
        ),
    }


def survey_for_link(session: Session, public_token: str) -> Survey | None:
    if not public_token or len(public_token) > 64:
        return None
    return session.scalar(_statements()["survey"], {"token": public_token})


def title_for_link(session: Session, public_token: str) -> str | None:
    """Only the title of the survey behind a public link (the thanks page)."""
    if not public_token or len(public_token) > 64:
        return None
    return session.scalar(_statements()["title"], {"token": public_token})


def token_for(session: Session, survey: Survey, code: str) -> SurveyToken | None:
    if not code or len(code) > 20:
        return None
    return session.scalar(
        sa.select(SurveyToken).where(SurveyToken.survey_id == survey.id, SurveyToken.code == code)
    )


def gate(session: Session, survey: Survey, *, device_hash: str, code: str) -> SurveyToken | None:
    """Raise :class:`SurveyError` when this visitor may not answer now; return the token."""
    state = collection_state(survey)
    if state != "open":
        raise SurveyError(state)
    token = None
    if survey.require_token or code:
        # codes are required, or optional and one was given: either way a used code is
        # marked used and linked to its response (submit)
        token = token_for(session, survey, code)
        if token is None:
            raise SurveyError("token_required" if not code else "token_unknown")
        if token.used_at is not None:
            raise SurveyError("token_used")
    elif device_hash and session.scalar(
        _statements()["answered"], {"survey_id": survey.id, "device_hash": device_hash}
    ):
        raise SurveyError("duplicate")
    return token


def stored_group(value: Any) -> str | None:
    """What ``SurveyResponse.group_value`` keeps of an answer (None: too long to keep)."""
    text = "" if value is None else str(value)
    return text if len(text) <= GROUP_VALUE_MAX else None


def group_counts(session: Session, survey: Survey) -> dict[str, int]:
    """Responses so far per answer of the group column (for quotas): one aggregate statement,
    a row per group, over the stored ``group_value`` (an index); only responses without one
    are read from their answers. No answers are loaded (a public page asks on every visit)."""
    counts: dict[str, int] = {}
    if not survey.group_column:
        return counts
    of_survey = SurveyResponse.survey_id == survey.id
    stored = (
        sa.select(SurveyResponse.group_value.label("grp"), sa.func.count().label("n"))
        .where(of_survey, SurveyResponse.group_value.is_not(None))
        .group_by(SurveyResponse.group_value)
    )
    value = _group_value(session, survey.group_column)
    computed = (
        sa.select(value.label("grp"), sa.func.count().label("n"))
        .where(of_survey, SurveyResponse.group_value.is_(None))
        .group_by(value)
    )
    for group, n in session.execute(sa.union_all(stored, computed)):
        key = "" if group is None else str(group).strip()
        counts[key] = counts.get(key, 0) + n
    return counts


def _lock_quota(session: Session, survey_id: int) -> None:
    """Serialise the submissions to one survey from here to the commit, so that a quota's
    check and the insert it allows cannot interleave with another submission's (a quota of 5
    filled to 6). PostgreSQL: the survey's row is locked (FOR NO KEY UPDATE: inserting
    responses, which takes a key-share lock, is not blocked); SQLite: a write takes the
    database's write lock, which the transaction keeps until it ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.select(Survey.id).where(Survey.id == survey_id).with_for_update(key_share=True)
        )
    else:
        surveys = Survey.__table__
        session.execute(
            sa.update(surveys).where(surveys.c.id == survey_id).values(status=surveys.c.status)
        )


def submit(
    session: Session,
    survey: Survey,
    form: Mapping[str, Sequence[str]],
    *,
    started_at: dt.datetime | None,
    ip_hash: str,
    ua_hash: str,
    device_hash: str,
    code: str = "",
    gated: tuple[SurveyToken | None] | None = None,
    questions: Sequence[Question] | None = None,
    admit: Callable[[], bool] | None = None,
) -> tuple[SurveyResponse | None, dict[str, str]]:
    """Check and store one response. Returns ``(response, {})`` or ``(None, field errors)``;
    raises :class:`SurveyError` when the survey does not take this response at all.

    ``gated``: the caller has just passed :func:`gate` in this transaction; its result (the
    token), so that it is not run twice. The unique index on the browser id and the conditional
    update of the token are what stop a simultaneous second submission, not the gate.
    ``questions``: ``questions_of(survey)`` when the caller has it already.
    ``admit``: asked once the answers are complete, before anything is stored; ``False``
    (throttled) raises ``SurveyError("busy")``, so an incomplete form consumes no quota."""
    token = (
        gated[0] if gated is not None else gate(session, survey, device_hash=device_hash, code=code)
    )
    answers, errors = check_answers(questions_of(survey) if questions is None else questions, form)
    if errors:
        return None, errors
    if admit is not None and not admit():
        raise SurveyError("busy")
    if survey.group_column:
        group = answers.get(survey.group_column, "")
        quota = (survey.group_targets.get(group) or {}).get("quota")
        if quota:
            _lock_quota(session, survey.id)
            if group_counts(session, survey).get(group, 0) >= quota:
                raise SurveyError("quota_full", group)
    now = utcnow()
    if started_at is not None and (started_at > now or now - started_at > dt.timedelta(days=2)):
        started_at = None  # a stale or odd clock: no duration rather than a wrong one
    response = SurveyResponse(
        survey_id=survey.id,
        source="web",
        started_at=started_at,
        submitted_at=now,
        duration_s=(now - started_at).total_seconds() if started_at else None,
        channel="网页",
        ip_hash=ip_hash,
        ua_hash=ua_hash,
        # an enumerator may open several households' codes on one phone
        device_hash="" if token else device_hash,
        token_id=token.id if token else None,
        answers=answers,
        group_value=stored_group(answers.get(survey.group_column, ""))
        if survey.group_column
        else None,
    )
    session.add(response)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # a simultaneous second submission from the same browser (the caller rolls back)
        raise SurveyError("duplicate") from None
    response.row_no = f"W{response.id}"  # unique without counting (submissions run in parallel)
    if token is not None:
        # a conditional update: two submissions racing with one code store one response
        used = session.execute(
            sa.update(SurveyToken)
            .where(SurveyToken.id == token.id, SurveyToken.used_at.is_(None))
            .values(used_at=now)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise SurveyError("token_used")
    session.flush()
    # last, once the response is in: the engagement's row is locked from here to the commit
    # (version and updated_at untouched: an evaluator's open form does not go stale)
    revision.bump(session, survey.engagement_id)
    return response, {}
