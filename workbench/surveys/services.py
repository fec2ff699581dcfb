"""Survey services: import a 问卷星 export, map it, summarise it. Flush and audit only."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa
from scipy import stats
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.cleaning import Row, Rules, rule_counts, screen
from workbench.core.questionnaire import columns as qcolumns
from workbench.core.surveys import (
    DEFAULT_LEVEL_SCORES,
    DONT_KNOW,
    SATISFIED_LEVELS,
    Alpha,
    LikertSummary,
    StratifiedRate,
    cronbach_alpha,
    likert_summary,
    pooled_rate,
    post_stratified_rate,
    ratio_se,
    sample_size,
)
from workbench.engagements.models import Engagement
from workbench.surveys.models import Survey, SurveyResponse, SurveyToken

LEVELS = (*DEFAULT_LEVEL_SCORES, "不了解")
#: the scale made of a form's single satisfaction questions (not a matrix)
LIKERT_GROUP = "single-questions"
MAX_ROWS = 100_000


class SurveyError(ValueError):
    """A user-facing problem; ``str(exc)`` is a code the web layer translates, ``detail``
    an untranslated specific (a validation message, a row number)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def _ip_hash(engagement_id: int, ip: str, salt: str) -> str:
    """Salted hash of the IP part of 来自IP ("1.2.3.4(省-市)"): duplicates stay detectable,
    the address itself is not stored."""
    address = ip.split("(", 1)[0].strip()
    if not address:
        return ""
    return hashlib.sha256(f"{salt}:{engagement_id}:{address}".encode()).hexdigest()


def distinct_answers(survey: Survey, columns: list[str]) -> list[str]:
    """The different answers given to ``columns`` (to map them to levels)."""
    seen: dict[str, None] = {}
    for response in survey.responses:
        for col in columns:
            value = str(response.answers.get(col, "")).strip()
            if value:
                seen.setdefault(value, None)
    order = {level: i for i, level in enumerate(LEVELS)}

    def key(value: str) -> tuple[int, int, str]:  # scale order first, then the rest
        return (order.get(guess_level(value, survey.flavour), len(order)), len(value), value)

    return sorted(seen, key=key)


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
    leaf_measure: str = "rate",
    leaf_group: str | None = None,
) -> None:
    """Choose the satisfaction items, how answers map to levels, and the indicator fed
    (with what measure, and optionally only one group's responses)."""
    unknown = [c for c in columns if c not in survey.columns]
    if unknown or not columns:
        raise SurveyError("choose_columns")
    bad = [v for v in level_map.values() if v and v not in LEVELS]
    if bad:
        raise SurveyError("bad_level")
    survey.satisfaction_columns = columns
    survey.level_map = {k: v for k, v in level_map.items() if v}
    if leaf_measure not in ("rate", "index", "stratified"):
        raise SurveyError("bad_measure")
    survey.leaf_code = leaf_code or None
    survey.leaf_measure = leaf_measure
    survey.leaf_group = leaf_group or None
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
            "measure": {"before": None, "after": leaf_measure},
        },
        summary=survey.title,
    )


@dataclass
class Screened:
    """One response with the rules it breaks and whether it is left out."""

    response: SurveyResponse
    reasons: list[tuple[str, str]]

    @property
    def excluded(self) -> bool:
        """The evaluator's override wins; otherwise any broken rule excludes."""
        if self.response.override:
            return self.response.override == "exclude"
        return bool(self.reasons)


def effective_rules(survey: Survey) -> Rules:
    """The stored rule settings resolved against the survey's current columns: the
    questionnaire's own attention checks and matrices are looked up now, so editing the
    questions never leaves a rule pointing at a column that no longer exists."""
    stored = dict(survey.cleaning or {})
    columns = set(survey.columns)
    attention: dict[str, str] = {}
    if stored.get("attention"):
        if survey.kind == "form":
            from workbench.surveys.builder import questions_of

            for i, q in enumerate(questions_of(survey)):
                if q.expected and q.type in ("single", "likert"):
                    attention[f"{i + 1}、{q.text}"] = q.expected
        file_checks = stored.get("attention_file") or {}
        if isinstance(file_checks, dict):
            attention.update({str(k): str(v) for k, v in file_checks.items()})
    return Rules.from_dict(
        {
            **stored,
            "attention": {c: v for c, v in attention.items() if c in columns},
            "straightline_groups": (
                [cols for title, cols in scale_groups(survey) if title != LIKERT_GROUP]
                if stored.get("straightline")
                else []
            ),
            "key_columns": [c for c in stored.get("key_columns") or [] if c in columns],
        }
    )


def screened(survey: Survey) -> list[Screened]:
    """Every response with its screening outcome under the survey's current rules
    (computed, never stored: raw data stays as collected)."""
    responses = list(survey.responses)
    rules = effective_rules(survey)
    rows = [
        Row(
            duration_s=r.duration_s,
            submitted_at=r.submitted_at,
            source_key=r.ip_hash or r.device_hash,
            answers=r.answers,
        )
        for r in responses
    ]
    reasons = screen(rows, rules)
    return [Screened(r, why) for r, why in zip(responses, reasons, strict=True)]


def save_cleaning(session: Session, actor: User, survey: Survey, rules: dict[str, Any]) -> None:
    """Store the screening rules (the outcome is recomputed from them)."""
    unknown = [
        c
        for c in [*rules.get("key_columns", []), *rules.get("attention_file", {})]
        if c not in survey.columns
    ]
    if unknown:
        raise SurveyError("bad_column", unknown[0])
    before = survey.cleaning
    survey.cleaning = rules
    session.flush()
    record(
        session,
        actor,
        "survey.cleaning",
        "survey",
        survey.id,
        engagement_id=survey.engagement_id,
        changes={"rules": {"before": before or None, "after": rules}},
        summary=survey.title,
    )


def set_override(
    session: Session, actor: User, response: SurveyResponse, decision: str | None, note: str
) -> None:
    """Keep or drop one response against the rules, with the evaluator's reason."""
    if decision not in (None, "include", "exclude"):
        raise SurveyError("bad_override")
    if decision and not note.strip():
        raise SurveyError("override_note")
    before = response.override
    response.override = decision
    response.override_note = note.strip()[:300] if decision else ""
    session.flush()
    record(
        session,
        actor,
        "survey.override",
        "survey_response",
        response.id,
        engagement_id=response.survey.engagement_id,
        changes={"override": {"before": before, "after": decision}},
        summary=f"{response.survey.title} #{response.row_no}: {note.strip()[:200]}",
    )


#: screening rules in Chinese, for exports and the archive
ZH_RULES = {
    "too_fast": "答题过快",
    "too_fast_median": "答题时间低于中位数比例",
    "straightline": "矩阵题连续相同作答",
    "burst": "同一IP/设备集中提交",
    "attention": "未通过注意力测试题",
    "missing_key": "关键题缺答",
    "duplicate": "与此前答卷完全相同",
}


def raw_table(
    survey: Survey, *, cleaned: bool, labels: dict[str, str] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """The responses as collected (or only the valid ones) with their screening reasons and
    the evaluator's decisions: headers and rows of the raw/cleaned data export."""
    labels = labels or ZH_RULES
    headers = [
        "序号",
        "提交答卷时间",
        "所用时间（秒）",
        "来源",
        *survey.columns,
        "剔除",
        "原因",
        "人工判定",
        "判定理由",
    ]
    rows = []
    for item in screened(survey):
        r = item.response
        if cleaned and item.excluded:
            continue
        rows.append(
            [
                r.row_no,
                r.submitted_at,
                r.duration_s,
                r.channel,
                *[r.answers.get(c, "") for c in survey.columns],
                "是" if item.excluded else "",
                "；".join(f"{labels.get(rule, rule)}（{detail}）" for rule, detail in item.reasons),
                {"include": "保留", "exclude": "剔除"}.get(r.override or "", ""),
                r.override_note,
            ]
        )
    return headers, rows


@dataclass
class Yield:
    """发放数 / 回收数 / 有效数 / 有效率."""

    distributed: int | None
    returned: int
    valid: int

    @property
    def valid_rate(self) -> float | None:
        return self.valid / self.returned if self.returned else None

    @property
    def return_rate(self) -> float | None:
        return self.returned / self.distributed if self.distributed else None


def survey_yield(session: Session, survey: Survey, rows: list[Screened]) -> Yield:
    tokens = session.scalar(
        sa.select(sa.func.count(SurveyToken.id)).where(SurveyToken.survey_id == survey.id)
    )
    return Yield(
        # codes are the questionnaires handed out when answering needs one
        distributed=survey.distributed or (tokens if survey.require_token else None) or None,
        returned=len(rows),
        valid=sum(1 for r in rows if not r.excluded),
    )


def exclusion_log(rows: list[Screened]) -> dict[str, int]:
    """Responses flagged per rule, and the overrides in each direction."""
    counts = rule_counts([r.reasons for r in rows])
    counts["override_include"] = sum(
        1 for r in rows if r.response.override == "include" and r.reasons
    )
    counts["override_exclude"] = sum(1 for r in rows if r.response.override == "exclude")
    counts["excluded"] = sum(1 for r in rows if r.excluded)
    return counts


def scale_groups(survey: Survey) -> list[tuple[str, list[str]]]:
    """The satisfaction scales for Cronbach's α and straight-lining: each matrix question of a
    form survey; for an imported file, all chosen satisfaction items as one scale."""
    if survey.kind == "form":
        from workbench.surveys.builder import questions_of

        questions = questions_of(survey)
        groups: dict[int, list[str]] = {}
        for col in qcolumns(questions):
            if questions[col.question].type == "matrix":
                groups.setdefault(col.question, []).append(col.header)
        out = [(f"{i + 1}、{questions[i].text}", cols) for i, cols in groups.items()]
        likert = [c for c in survey.satisfaction_columns if not any(c in cols for _, cols in out)]
        if len(likert) >= 2:
            out.append((LIKERT_GROUP, likert))
        return out
    cols = list(survey.satisfaction_columns)
    return [("", cols)] if len(cols) >= 2 else []


@dataclass
class SurveyResults:
    """What the results page, the Excel export and the scoring link need."""

    items: dict[str, LikertSummary]
    overall: LikertSummary | None
    alphas: list[tuple[str, Alpha | None, str | None]]
    responses: int
    used: int
    required: int
    population: int | None
    groups: dict[str, LikertSummary] = field(default_factory=dict)
    stratified: StratifiedRate | None = None
    stratified_error: str | None = None

    @property
    def alpha(self) -> Alpha | None:
        return self.alphas[0][1] if self.alphas else None


def _levels(
    survey: Survey, responses: list[SurveyResponse], columns: list[str]
) -> dict[str, list[str]]:
    mapped: dict[str, list[str]] = {c: [] for c in columns}
    for response in responses:
        for col in columns:
            raw = str(response.answers.get(col, "")).strip()
            mapped[col].append(survey.level_map.get(raw, "" if raw == "" else "?"))
    return mapped


def _pooled(mapped: dict[str, list[str]]) -> LikertSummary | None:
    """All items together, with intervals that count respondents, not answers: the rate's
    Wilson interval on the effective sample size, the index's t interval on the ratio
    estimator's standard error."""
    pooled = [v for values in mapped.values() for v in values]
    if not pooled:
        return None
    summary = likert_summary(pooled)
    if summary.valid == 0:
        return summary
    rows = list(zip(*mapped.values(), strict=True))
    satisfied = [sum(v in SATISFIED_LEVELS for v in row) for row in rows]
    valid = [sum(v in DEFAULT_LEVEL_SCORES for v in row) for row in rows]
    scores = [sum(DEFAULT_LEVEL_SCORES.get(v, 0) for v in row) for row in rows]
    rate = pooled_rate(list(zip(satisfied, valid, strict=True)))
    index_ci = None
    if rate.respondents and rate.respondents > 1:
        index, se = ratio_se(scores, valid)
        t = float(stats.t.ppf(0.975, rate.respondents - 1))
        index_ci = (index - t * se, index + t * se)
    return replace(summary, rate=rate, index_ci=index_ci)


def results(
    survey: Survey,
    *,
    cleaned: bool = True,
    rows: list[Screened] | None = None,
    group: str | None = None,
    columns: list[str] | None = None,
) -> SurveyResults:
    """Per item and pooled: counts, satisfaction rate with Wilson interval, 0–100 index;
    per group and post-stratified when the group column and populations are set.

    ``cleaned`` leaves out excluded responses; ``group`` keeps one group's responses;
    ``columns`` restricts the items (default: the survey's satisfaction items)."""
    rows = rows if rows is not None else screened(survey)
    responses = [r.response for r in rows if not (cleaned and r.excluded)]
    if group is not None and survey.group_column:
        responses = [
            r for r in responses if str(r.answers.get(survey.group_column, "")).strip() == group
        ]
    chosen = [c for c in (columns or survey.satisfaction_columns) if c in survey.columns]
    mapped = _levels(survey, responses, chosen)
    items = {col: likert_summary(values) for col, values in mapped.items()}
    overall = _pooled(mapped)
    alphas: list[tuple[str, Alpha | None, str | None]] = []
    for title, cols in scale_groups(survey):
        cols = [c for c in cols if c in mapped]
        if len(cols) < 2:
            continue
        frame = pd.DataFrame({c: [DEFAULT_LEVEL_SCORES.get(v) for v in mapped[c]] for c in cols})
        try:
            alphas.append((title, cronbach_alpha(frame), None))
        except ValueError as exc:
            alphas.append((title, None, str(exc)))
    out = SurveyResults(
        items=items,
        overall=overall,
        alphas=alphas,
        responses=len(rows),
        used=len(responses),
        required=sample_size(population=survey.population) if survey.population else sample_size(),
        population=survey.population,
    )
    if survey.group_column and group is None:
        by_group: dict[str, list[SurveyResponse]] = {}
        for r in responses:
            key = str(r.answers.get(survey.group_column, "")).strip() or "—"
            by_group.setdefault(key, []).append(r)
        for key in sorted(by_group):
            summary = _pooled(_levels(survey, by_group[key], chosen))
            if summary is not None:
                out.groups[key] = summary
        populations = {
            g: int(t["population"]) for g, t in survey.group_targets.items() if t.get("population")
        }
        if populations:
            counts = {g: (s.rate.satisfied, s.rate.valid) for g, s in out.groups.items() if s.rate}
            try:
                out.stratified = post_stratified_rate(counts, populations)
            except ValueError as exc:
                out.stratified_error = str(exc)
    return out


def leaf_value(survey: Survey, res: SurveyResults) -> tuple[int, int] | float | None:
    """What the survey gives its leaf: ``(satisfied, valid)`` counts for the rate (pooled
    across surveys), or a 0–1 value for the index and the post-stratified rate."""
    if survey.leaf_measure == "index":
        return res.overall.index / 100 if res.overall and res.overall.index is not None else None
    if survey.leaf_measure == "stratified":
        return res.stratified.rate if res.stratified else None
    if res.overall is None or res.overall.rate is None:
        return None
    return (res.overall.rate.satisfied, res.overall.rate.valid)


def survey_rates(session: Session, engagement: Engagement) -> dict[str, Decimal]:
    """The value of each survey leaf, from cleaned responses: the satisfaction rate pooled
    over the surveys that feed it, or (index / stratified) the mean of their values."""
    counts: dict[str, list[int]] = {}
    values: dict[str, list[float]] = {}
    surveys = session.scalars(
        sa.select(Survey).where(
            Survey.engagement_id == engagement.id, Survey.leaf_code.is_not(None)
        )
    )
    for survey in surveys:
        value = leaf_value(survey, results(survey, group=survey.leaf_group))
        if value is None:
            continue
        code = survey.leaf_code or ""
        if isinstance(value, tuple):
            total = counts.setdefault(code, [0, 0])
            total[0] += value[0]
            total[1] += value[1]
        else:
            values.setdefault(code, []).append(value)
    out = {code: Decimal(s) / Decimal(v) for code, (s, v) in counts.items() if v}
    for code, vals in values.items():
        if code not in out:
            out[code] = Decimal(str(sum(vals) / len(vals)))
    return out
