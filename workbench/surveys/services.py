"""Survey services: import a 问卷星 export, map it, summarise it. Flush and audit only."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.surveys import (
    DEFAULT_LEVEL_SCORES,
    DONT_KNOW,
    Alpha,
    LikertSummary,
    WjxData,
    cronbach_alpha,
    likert_summary,
    sample_size,
)
from workbench.engagements.models import Engagement
from workbench.surveys.models import Survey, SurveyResponse

LEVELS = (*DEFAULT_LEVEL_SCORES, "不了解")
MAX_ROWS = 100_000


class SurveyError(ValueError):
    """A user-facing problem; ``str(exc)`` is a code the web layer translates."""


def _ip_hash(engagement_id: int, ip: str, salt: str) -> str:
    """Salted hash of the IP part of 来自IP ("1.2.3.4(省-市)"): duplicates stay detectable,
    the address itself is not stored."""
    address = ip.split("(", 1)[0].strip()
    if not address:
        return ""
    return hashlib.sha256(f"{salt}:{engagement_id}:{address}".encode()).hexdigest()


def import_wjx(
    session: Session,
    actor: User,
    engagement: Engagement,
    data: WjxData,
    *,
    title: str,
    group: str,
    population: int | None,
    source_name: str,
    salt: str,
) -> Survey:
    """Store an export as a new survey, all rows in one step (or nothing)."""
    if len(data.answers) == 0:
        raise SurveyError("no_rows")
    if len(data.answers) > MAX_ROWS:
        raise SurveyError("too_many_rows")
    columns = list(data.answers.columns)
    survey = Survey(
        engagement_id=engagement.id,
        title=title,
        respondent_group=group,
        population=population,
        source_name=source_name[:200],
        flavour=data.flavour,
        columns=columns,
        satisfaction_columns=[],
        level_map={},
    )
    session.add(survey)
    meta = data.meta
    for i in range(len(data.answers)):
        submitted = meta["提交答卷时间"].iloc[i]
        duration = meta["所用时间"].iloc[i]
        survey.responses.append(
            SurveyResponse(
                row_no=str(meta["序号"].iloc[i])[:20],
                submitted_at=(
                    submitted.to_pydatetime().replace(tzinfo=dt.UTC)
                    if pd.notna(submitted)
                    else None
                ),
                duration_s=None if duration is None or math.isnan(duration) else float(duration),
                channel=" / ".join(
                    v for v in (str(meta["来源"].iloc[i]), str(meta["来源详情"].iloc[i])) if v
                )[:100],
                ip_hash=_ip_hash(engagement.id, str(meta["来自IP"].iloc[i]), salt),
                answers={c: str(data.answers[c].iloc[i]) for c in columns},
            )
        )
    session.flush()
    record(
        session,
        actor,
        "survey.import",
        "survey",
        survey.id,
        engagement_id=engagement.id,
        changes={"responses": {"before": None, "after": len(data.answers)}},
        summary=f"{title} ← {source_name}",
    )
    return survey


def distinct_answers(survey: Survey, columns: list[str]) -> list[str]:
    """The different answers given to ``columns`` (to map them to levels)."""
    seen: dict[str, None] = {}
    for response in survey.responses:
        for col in columns:
            value = str(response.answers.get(col, "")).strip()
            if value:
                seen.setdefault(value, None)
    return sorted(seen, key=lambda v: (len(v), v))


def guess_level(answer: str, flavour: str) -> str:
    """A starting mapping: known labels map to themselves; option numbers 1..5 to 非常满意 …
    非常不满意 (the usual 问卷星 order), 6 to 不了解."""
    text = answer.strip()
    if text in LEVELS:
        return text
    if text in DONT_KNOW:
        return "不了解"
    for level in LEVELS:  # "满意（4分）" and similar
        if text.startswith(level):
            return level
    if flavour == "code" and text.isdigit() and 1 <= int(text) <= 6:
        return LEVELS[int(text) - 1]
    return ""


def save_mapping(
    session: Session,
    actor: User,
    survey: Survey,
    *,
    columns: list[str],
    level_map: Mapping[str, str],
    leaf_code: str | None,
) -> None:
    """Choose the satisfaction items, how answers map to levels, and the indicator fed."""
    unknown = [c for c in columns if c not in survey.columns]
    if unknown or not columns:
        raise SurveyError("choose_columns")
    bad = [v for v in level_map.values() if v and v not in LEVELS]
    if bad:
        raise SurveyError("bad_level")
    survey.satisfaction_columns = columns
    survey.level_map = {k: v for k, v in level_map.items() if v}
    survey.leaf_code = leaf_code or None
    session.flush()
    record(
        session,
        actor,
        "survey.mapping",
        "survey",
        survey.id,
        engagement_id=survey.engagement_id,
        changes={
            "columns": {"before": None, "after": columns},
            "leaf": {"before": None, "after": leaf_code},
        },
        summary=survey.title,
    )


@dataclass
class SurveyResults:
    """What the results page, the Excel export and the scoring link need."""

    items: dict[str, LikertSummary]
    overall: LikertSummary | None
    alpha: Alpha | None
    alpha_error: str | None
    responses: int
    required: int
    population: int | None


def results(survey: Survey) -> SurveyResults:
    """Per item and pooled: counts, satisfaction rate with Wilson interval, 0–100 index."""
    mapped: dict[str, list[str]] = {c: [] for c in survey.satisfaction_columns}
    for response in survey.responses:
        for col in survey.satisfaction_columns:
            raw = str(response.answers.get(col, "")).strip()
            mapped[col].append(survey.level_map.get(raw, "" if raw == "" else "?"))
    items = {col: likert_summary(values) for col, values in mapped.items()}
    pooled = [v for values in mapped.values() for v in values]
    overall = likert_summary(pooled) if pooled else None
    alpha, alpha_error = None, None
    if len(mapped) >= 2:
        frame = pd.DataFrame(
            {c: [DEFAULT_LEVEL_SCORES.get(v) for v in vals] for c, vals in mapped.items()}
        )
        try:
            alpha = cronbach_alpha(frame)
        except ValueError as exc:
            alpha_error = str(exc)
    return SurveyResults(
        items=items,
        overall=overall,
        alpha=alpha,
        alpha_error=alpha_error,
        responses=len(survey.responses),
        required=sample_size(population=survey.population) if survey.population else sample_size(),
        population=survey.population,
    )


def survey_rates(session: Session, engagement: Engagement) -> dict[str, Decimal]:
    """Satisfaction rate per survey leaf (pooled over the surveys that feed it)."""
    counts: dict[str, list[int]] = {}
    surveys = session.scalars(
        sa.select(Survey).where(
            Survey.engagement_id == engagement.id, Survey.leaf_code.is_not(None)
        )
    )
    for survey in surveys:
        overall = results(survey).overall
        if overall is None or overall.rate is None:
            continue
        total = counts.setdefault(survey.leaf_code or "", [0, 0])
        total[0] += overall.rate.satisfied
        total[1] += overall.rate.valid
    return {code: Decimal(s) / Decimal(v) for code, (s, v) in counts.items() if v}
