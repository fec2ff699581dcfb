"""Survey services: import a 问卷星 export, map it, summarise it. Flush and audit only."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from sys import intern
from typing import Any, NamedTuple, overload

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats
from sqlalchemy.orm import Session, object_session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.cleaning import (
    Rules,
    duplicate_key,
    rule_counts,
    screen_columns,
    screened_columns,
)
from workbench.core.questionnaire import Question
from workbench.core.questionnaire import columns as qcolumns
from workbench.core.surveys import (
    DEFAULT_LEVEL_SCORES,
    DONT_KNOW,
    SATISFIED_LEVELS,
    Alpha,
    LikertSummary,
    StratifiedRate,
    SurveyLink,
    SurveyMeasure,
    cronbach_alpha,
    likert_summary,
    pooled_rate_counts,
    post_stratified_rate,
    ratio_se,
    sample_size,
    survey_measure,
)
from workbench.engagements import revision
from workbench.engagements.models import Engagement
from workbench.error_messages import CODES
from workbench.surveys.models import Survey, SurveyResponse, SurveyToken

LEVELS = (*DEFAULT_LEVEL_SCORES, "不了解")
#: the scale made of a form's single satisfaction questions (not a matrix)
LIKERT_GROUP = "single-questions"
MAX_ROWS = 100_000


class SurveyError(ValueError):
    """A user-facing problem; ``str(exc)`` is a code the web layer translates, ``detail``
    an untranslated specific (a validation message, a row number)."""

    def __init__(self, code: str, detail: str = "", *, question: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail
        self.question = question  # the question's number, for a question that was not saved

    def render(self, gettext: object = None) -> str:
        """The message of a code that carries a detail (registered as ``survey_<code>``, see
        :mod:`workbench.error_messages`); the questionnaire model's own messages translated."""
        message = str(CODES.get(f"survey_{self.code}", self.code))
        detail = self.detail
        if self.code == "bad_question":
            detail = "; ".join(
                str(CODES.get(f"survey_question:{part}", part)) for part in detail.split("; ")
            )
            if self.question is not None:
                detail = f"Q{self.question}: {detail}"
        return message % {"detail": detail} if "%(detail)s" in message else message


def _ip_hash(engagement_id: int, ip: str, salt: str) -> str:
    """Salted hash of the IP part of 来自IP ("1.2.3.4(省-市)"): duplicates stay detectable,
    the address itself is not stored."""
    address = ip.split("(", 1)[0].strip()
    if not address:
        return ""
    return hashlib.sha256(f"{salt}:{engagement_id}:{address}".encode()).hexdigest()


def distinct_answers(survey: Survey, columns: list[str]) -> list[str]:
    """The different answers given to ``columns`` (to map them to levels)."""
    session = object_session(survey)
    seen: set[str] = set()
    if session is not None and survey.id is not None:
        _meta, texts, _records = _load(session, survey, columns, full=False)
        for values in texts.values():
            seen.update(values.tolist())
    seen.discard("")
    order = {level: i for i, level in enumerate(LEVELS)}

    def key(value: str) -> tuple[int, int, str]:  # scale order first, then the rest
        return (order.get(guess_level(value, survey.flavour), len(order)), len(value), value)

    return sorted(seen, key=key)


def guess_level(answer: str, flavour: str) -> str:
    """A starting mapping: known labels map to themselves. An option number is never guessed
    (#15): 问卷星 numbers the options in the order the questionnaire listed them, which may run
    from 非常满意 down or from 非常不满意 up; the evaluator says what each number means."""
    text = answer.strip()
    if text in LEVELS:
        return text
    if text in DONT_KNOW:
        return "不了解"
    for level in LEVELS:  # "满意（4分）" and similar
        if text.startswith(level):
            return level
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
    revision.bump(session, survey.engagement_id)
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


class ResponseRow(NamedTuple):
    """What pages and exports show of one response: plain values, not an ORM object, since
    screening results are shared between requests."""

    id: int
    row_no: str
    submitted_at: dt.datetime | None
    duration_s: float | None
    channel: str
    override: str | None
    override_note: str


@dataclass
class Screened:
    """One response with the rules it breaks and whether it is left out."""

    response: ResponseRow
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


# --- screening: loaded as columns, remembered per survey ----------------------------------------
#
# Screening 100,000 responses as ORM objects took seconds (building the objects and their JSON
# answers dominated). Responses are loaded here with one Core select of the columns screening
# and statistics read (the answers the rules and results need are extracted by the database),
# the rules run column-wise (core.cleaning.screen_columns), and the outcome is remembered per
# survey under a key that every change to it alters:
#
# * responses and their overrides: the engagement's data revision, which every writer bumps in
#   its own transaction (a submission, an import, an override; see
#   workbench.engagements.revision and docs/architecture.md, "Data revision");
# * the rules, questions, columns and level mapping: the survey row, read fresh (their writers
#   bump the revision too; the fingerprint also covers a script that sets them directly).
#
# The key is read from the database on every call (one statement for all the surveys asked
# for), so each gunicorn worker may keep its own memo and none serves stale results.

#: surveys whose screening each process remembers (least recently used dropped first), and
#: the responses they may hold together (about 0.4 kB each: 100,000 take some 40 MB)
MEMO_SURVEYS = 8
MEMO_RESPONSES = 300_000
_MEMO: OrderedDict[int, tuple[tuple[Any, ...], _State]] = OrderedDict()
_MEMO_LOCK = threading.Lock()


def clear_memo() -> None:
    """Forget every remembered screening (tests, or after editing the database by hand)."""
    with _MEMO_LOCK:
        _MEMO.clear()


def _json_path(column: str) -> str | None:
    """A SQLite JSON path for a top-level key, None when the key cannot be quoted."""
    return None if '"' in column or "\\" in column else "$." + json.dumps(column)


def _group_value(session: Session, column: str) -> sa.ColumnElement[Any]:
    """The answer to ``column`` of each response, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        path = _json_path(column)  # the stored keys are ASCII-escaped: match them so
        if path is not None:
            answers = sa.type_coerce(SurveyResponse.answers, sa.Text)
            return sa.func.json_extract(answers, sa.literal(path))
        each = sa.func.json_each(SurveyResponse.answers).table_valued("key", "value")
        return sa.select(each.c.value).where(each.c.key == column).scalar_subquery()
    return SurveyResponse.answers[column].as_string()  # PostgreSQL: answers ->> column


GROUP_VALUE_MAX = 200  # characters of SurveyResponse.group_value


def store_group_values(session: Session, survey: Survey, *, only_missing: bool = False) -> None:
    """Copy every response's answer to the group column into ``group_value`` with one UPDATE
    (after an import, and when the group column changes). Flushes nothing else."""
    value: sa.ColumnElement[Any] | None = None
    if survey.group_column and not (
        session.get_bind().dialect.name == "sqlite" and _json_path(survey.group_column) is None
    ):
        answer = sa.func.coalesce(_group_value(session, survey.group_column), "")
        value = sa.case((sa.func.length(answer) <= GROUP_VALUE_MAX, answer), else_=None)
    condition = [SurveyResponse.survey_id == survey.id]
    if only_missing:
        condition.append(SurveyResponse.group_value.is_(None))
    session.execute(
        sa.update(SurveyResponse)
        .where(*condition)
        .values(group_value=value)
        .execution_options(synchronize_session=False)
    )


def questions_of(survey: Survey) -> list[Question]:
    """The survey's questionnaire (a form survey's questions, validated)."""
    return [Question.model_validate(q) for q in survey.questions or []]


def _extracted(session: Session, columns: list[str]) -> sa.ColumnElement[Any] | None:
    """One SQL expression giving ``columns`` of the answers as a JSON array (text), so SQLite
    reads each answers document once and Python decodes a short list (None elsewhere)."""
    name = session.get_bind().dialect.name
    if name == "sqlite":
        paths = [_json_path(c) for c in columns]
        if any(p is None for p in paths):
            return None
        if len(paths) == 1:  # one path returns the bare value, two an array
            paths.append(paths[0])
        answers = sa.type_coerce(SurveyResponse.answers, sa.Text)
        return sa.func.json_extract(answers, *[sa.literal(p) for p in paths])
    # PostgreSQL's json operators re-read the stored (escaped) text once per key: fetching
    # the whole text and decoding it here is quicker there (measured: 0.6 s against 1.7 s
    # for 10,000 responses), as it is for any other database
    return None


def _text(value: Any) -> str:
    """An answer as screening and statistics compare it (missing or null → "")."""
    return "" if value is None else intern(str(value).strip())  # few distinct answers: shared


#: what _load returns of each response besides its answers (ResponseRow's fields first)
_META = (
    "id",
    "row_no",
    "submitted_at",
    "duration_s",
    "channel",
    "override",
    "override_note",
    "ip_hash",
    "device_hash",
)


def _texts(values: Sequence[Any]) -> np.ndarray:
    """Answers as screening and statistics compare them: stripped text, "" when blank or
    missing. Each distinct answer is normalised once (a survey has few of them)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    codes, uniques = pd.factorize(array, use_na_sentinel=False)
    if all(u is None or u.__class__ is str for u in uniques):
        return np.array([_text(u) for u in uniques], dtype=object)[codes]
    # other types (1 == 1.0 == True would share a code): one by one
    return np.array([_text(v) for v in values], dtype=object)


def _load(
    session: Session, survey: Survey, columns: list[str], *, full: bool
) -> tuple[dict[str, tuple[Any, ...]], dict[str, np.ndarray], list[dict[str, Any]] | None]:
    """The responses of ``survey`` in id order, as columns: the :data:`_META` values, the
    stripped answers to ``columns`` ("" when blank or missing) and, with ``full``, every
    answer. One Core select (no ORM objects); the session is flushed first."""
    columns = list(dict.fromkeys(columns))
    extract = None if full or not columns else _extracted(session, columns)
    if columns and extract is None:
        full = True
    if full:  # the JSON text decoded here: quicker than the column type's row processor
        whole = SurveyResponse.answers
        text = (
            sa.cast(whole, sa.Text)
            if session.get_bind().dialect.name == "postgresql"
            else sa.type_coerce(whole, sa.Text)
        )
        answers: list[Any] = [text]
    else:
        answers = [extract] if columns else []
    if session.autoflush:
        session.flush()
    rows = (
        session.connection()
        .execute(
            sa.select(*[getattr(SurveyResponse, name) for name in _META], *answers)
            .where(SurveyResponse.survey_id == survey.id)
            .order_by(SurveyResponse.id)
        )
        .all()
    )
    width = len(_META) + len(answers)
    by_column = list(zip(*rows, strict=True)) if rows else [()] * width
    meta = dict(zip(_META, by_column, strict=False))
    records: list[dict[str, Any]] | None = None
    texts: dict[str, np.ndarray] = {}
    if full:
        records = [json.loads(a) if a else {} for a in by_column[len(_META)]]
        texts = {c: _texts([a.get(c) for a in records]) for c in columns}
    elif columns:
        blank = [None] * max(2, len(columns))  # the array's width (see _extracted)
        decoded = [json.loads(a) if a else blank for a in by_column[len(_META)]]
        answered = list(zip(*decoded, strict=True)) if decoded else [()] * len(columns)
        texts = {c: _texts(answered[i]) for i, c in enumerate(columns)}
    return meta, texts, records


@dataclass
class _State:
    """One survey's screening as columns: what the memo keeps."""

    #: ResponseRow's fields, one tuple per field
    fields: list[tuple[Any, ...]]
    #: the broken rules of the responses that break any (by position)
    reasons: dict[int, list[tuple[str, str]]]
    excluded: np.ndarray
    overrides: np.ndarray
    #: stripped answers of the columns statistics read
    texts: dict[str, np.ndarray]
    #: column → level labels (a level, "" blank, "?" not mapped), made on first use
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    results: dict[tuple[Any, ...], SurveyResults] = field(default_factory=dict)
    log: dict[str, int] | None = None

    @property
    def size(self) -> int:
        return len(self.excluded)


def _screen(session: Session, survey: Survey) -> _State:
    """Load the responses and apply the rules (the expensive part the memo saves)."""
    rules = effective_rules(survey)
    wanted = [*screened_columns(rules), *_stat_columns(survey)]
    # the burst rule compares answers too (a shared address alone flags nothing)
    full = rules.duplicates or bool(rules.burst_count)
    meta, texts, records = _load(session, survey, wanted, full=full)
    n = len(meta["id"])
    reasons = screen_columns(
        np.array(meta["duration_s"], dtype=float).reshape(n),  # None → NaN
        meta["submitted_at"],
        [ip or "" for ip in meta["ip_hash"]],
        texts,
        rules,
        duplicate_keys=[duplicate_key(a) for a in records] if records is not None else None,
        device_key=[device or "" for device in meta["device_hash"]],
        labels=[f"#{row_no}" for row_no in meta["row_no"]],
    )
    overrides = np.empty(n, dtype=object)
    overrides[:] = meta["override"]
    flagged = np.zeros(n, dtype=bool)
    flagged[list(reasons)] = True
    decided = np.array([bool(o) for o in meta["override"]], dtype=bool)
    excluded = np.where(decided, overrides == "exclude", flagged)
    keep = set(_stat_columns(survey))
    return _State(
        fields=[meta[name] for name in ResponseRow._fields],
        reasons=reasons,
        excluded=excluded,
        overrides=overrides,
        texts={c: v for c, v in texts.items() if c in keep},
    )


def _stat_columns(survey: Survey) -> list[str]:
    """The answer columns results read: the satisfaction items and the group column."""
    out = [c for c in survey.satisfaction_columns if c in survey.columns]
    if survey.group_column:
        out.append(survey.group_column)
    return out


def _settings_key(survey: Survey) -> str:
    """Everything of the survey row that screening or statistics depend on."""
    return json.dumps(
        [
            survey.kind,
            survey.columns,
            survey.satisfaction_columns,
            survey.level_map,
            survey.cleaning,
            survey.questions,
            survey.group_column,
            survey.group_targets,
            survey.population,
        ],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )


class Screening(Sequence[Screened]):
    """Every response of a survey with its screening outcome (a read-only sequence of
    :class:`Screened`), backed by the column-wise state the memo shares between requests."""

    def __init__(self, survey: Survey, state: _State) -> None:
        self.survey_id = survey.id
        self._state = state
        self._items: list[Screened] | None = None

    def __len__(self) -> int:
        return self._state.size

    @overload
    def __getitem__(self, index: int) -> Screened: ...
    @overload
    def __getitem__(self, index: slice) -> list[Screened]: ...
    def __getitem__(self, index: int | slice) -> Screened | list[Screened]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Screened]:
        return iter(self._all())

    def _all(self) -> list[Screened]:
        """The rows as objects, made when a page lists them (statistics never need them)."""
        if self._items is None:
            reasons = self._state.reasons
            self._items = [
                Screened(ResponseRow._make(values), list(reasons.get(i, ())))
                for i, values in enumerate(zip(*self._state.fields, strict=True))
            ]
        return self._items

    @property
    def excluded(self) -> np.ndarray:
        """One flag per response: left out of the statistics."""
        return self._state.excluded


def screened(survey: Survey) -> Screening:
    """Every response with its screening outcome under the survey's current rules
    (computed, never stored: raw data stays as collected)."""
    return screened_many([survey])[survey.id]


def screened_many(surveys: Sequence[Survey]) -> dict[int, Screening]:
    """:func:`screened` for several surveys of a session: the data revisions of their
    engagements are read in one statement, and only surveys whose engagement's data or own
    settings changed since they were remembered are screened."""
    if not surveys:
        return {}
    session = object_session(surveys[0])
    if session is None or any(object_session(s) is not session for s in surveys):
        raise ValueError("the surveys must be attached to one session")
    if any(s.id is None for s in surveys):
        session.flush()  # a survey created in this transaction: give it its id
    data = revision.keys(session, [s.engagement_id for s in surveys])
    out = {}
    for survey in surveys:
        key = (survey.created_at, data.get(survey.engagement_id), _settings_key(survey))
        with _MEMO_LOCK:
            hit = _MEMO.get(survey.id)
            if hit is not None and hit[0] == key:
                _MEMO.move_to_end(survey.id)
                out[survey.id] = Screening(survey, hit[1])
                continue
        state = _screen(session, survey)
        with _MEMO_LOCK:
            _MEMO[survey.id] = (key, state)
            _MEMO.move_to_end(survey.id)
            while len(_MEMO) > 1 and (
                len(_MEMO) > MEMO_SURVEYS
                or sum(entry.size for _, entry in _MEMO.values()) > MEMO_RESPONSES
            ):
                _MEMO.popitem(last=False)
        out[survey.id] = Screening(survey, state)
    return out


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
    revision.bump(session, survey.engagement_id)
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
    revision.bump(session, response.survey.engagement_id)
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
    "burst": "同一设备或同址雷同答卷集中提交",
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
    session = object_session(survey)
    if session is None:
        raise ValueError("the survey is not attached to a session")
    answers = session.execute(
        sa.select(SurveyResponse.id, SurveyResponse.answers)
        .where(SurveyResponse.survey_id == survey.id)
        .order_by(SurveyResponse.id)
    ).all()
    by_id = {i: a or {} for i, a in answers}
    for item in screened(survey):
        r = item.response
        if cleaned and item.excluded:
            continue
        rows.append(raw_row(item, by_id.get(r.id, {}), survey.columns, labels))
    return headers, rows


def raw_row(
    item: Any, given: dict[str, Any], columns: Sequence[str], labels: dict[str, str] | None = None
) -> list[Any]:
    """One screened response as a row of the raw/cleaned data export (and of the archive's
    survey tables): paradata, the answers of ``columns``, the screening and the decision."""
    labels = labels or ZH_RULES
    r = item.response
    return [
        r.row_no,
        r.submitted_at,
        r.duration_s,
        r.channel,
        *[given.get(c, "") for c in columns],
        "是" if item.excluded else "",
        "；".join(f"{labels.get(rule, rule)}（{detail}）" for rule, detail in item.reasons),
        {"include": "保留", "exclude": "剔除"}.get(r.override or "", ""),
        r.override_note,
    ]


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


def survey_yield(session: Session, survey: Survey, rows: Screening) -> Yield:
    """发放数 / 回收数 / 有效数 of a survey from its screening."""
    tokens = session.scalar(
        sa.select(sa.func.count(SurveyToken.id)).where(SurveyToken.survey_id == survey.id)
    )
    return Yield(
        # codes are the questionnaires handed out when answering needs one
        distributed=survey.distributed or (tokens if survey.require_token else None) or None,
        returned=len(rows),
        valid=int((~rows.excluded).sum()),
    )


def exclusion_log(rows: Screening) -> dict[str, int]:
    """Responses flagged per rule, and the overrides in each direction (counted once per
    screening, from its columns)."""
    state = rows._state
    if state.log is None:
        counts = rule_counts(list(state.reasons.values()))
        flagged = np.zeros(state.size, dtype=bool)
        flagged[list(state.reasons)] = True
        counts["override_include"] = int(((state.overrides == "include") & flagged).sum())
        counts["override_exclude"] = int((state.overrides == "exclude").sum())
        counts["excluded"] = int(state.excluded.sum())
        state.log = counts
    return dict(state.log)


def scale_groups(survey: Survey) -> list[tuple[str, list[str]]]:
    """The satisfaction scales for Cronbach's α and straight-lining: each matrix question of a
    form survey; for an imported file, all chosen satisfaction items as one scale."""
    if survey.kind == "form":
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


def _labels(state: _State, survey: Survey, column: str) -> np.ndarray:
    """The level of every response's answer to ``column``: the mapped level, "" when blank,
    "?" when the answer is not mapped (remembered with the screening)."""
    labels = state.labels.get(column)
    if labels is None:
        texts = state.texts.get(column)
        if texts is None:  # a column outside the satisfaction items: load it now
            session = object_session(survey)
            if session is None:
                raise ValueError("the survey is not attached to a session")
            texts = _load(session, survey, [column], full=False)[1][column]
            state.texts[column] = texts
        level_map = survey.level_map
        codes, uniques = pd.factorize(texts, use_na_sentinel=False)
        per_distinct = [level_map.get(u, "" if u == "" else "?") for u in uniques]
        labels = np.array(per_distinct, dtype=object)[codes]
        state.labels[column] = labels
    return labels


def _pooled(mapped: dict[str, np.ndarray]) -> LikertSummary | None:
    """All items together, with intervals that count respondents, not answers: the rate's
    Wilson interval on the effective sample size, the index's t interval on the ratio
    estimator's standard error."""
    arrays = list(mapped.values())
    if not arrays or len(arrays[0]) == 0:
        return None
    summary = likert_summary(np.concatenate(arrays))
    if summary.valid == 0:
        return summary
    n = len(arrays[0])
    satisfied = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=np.int64)
    scores = np.zeros(n, dtype=float)
    for values in arrays:  # per respondent, item after item (the order of the old sums)
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
        satisfied += np.array([u in SATISFIED_LEVELS for u in uniques], dtype=np.int64)[codes]
        valid += np.array([u in DEFAULT_LEVEL_SCORES for u in uniques], dtype=np.int64)[codes]
        per_distinct = [DEFAULT_LEVEL_SCORES.get(u, 0) for u in uniques]
        scores += np.array(per_distinct, dtype=float)[codes]
    rate = pooled_rate_counts(satisfied, valid)
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
    rows: Screening | None = None,
    group: str | None = None,
    columns: list[str] | None = None,
) -> SurveyResults:
    """Per item and pooled: counts, satisfaction rate with Wilson interval, 0–100 index;
    per group and post-stratified when the group column and populations are set.

    ``cleaned`` leaves out excluded responses; ``group`` keeps one group's responses;
    ``columns`` restricts the items (default: the survey's satisfaction items). The outcome is
    remembered with the screening (a copy is returned: callers may relabel it)."""
    rows = rows if rows is not None else screened(survey)
    state = rows._state
    chosen = [c for c in (columns or survey.satisfaction_columns) if c in survey.columns]
    key = (cleaned, group, tuple(chosen))
    out = state.results.get(key)
    if out is None:
        out = _results(survey, state, cleaned=cleaned, group=group, chosen=chosen)
        state.results[key] = out
    return replace(out, items=dict(out.items), alphas=list(out.alphas), groups=dict(out.groups))


def _item_scores(labels: np.ndarray) -> np.ndarray:
    """Each label's level score (NaN for 不了解, blanks and unmapped answers)."""
    codes, uniques = pd.factorize(labels, use_na_sentinel=False)
    per_distinct = [DEFAULT_LEVEL_SCORES.get(u, np.nan) for u in uniques]
    return np.array(per_distinct, dtype=float)[codes]


def _results(
    survey: Survey, state: _State, *, cleaned: bool, group: str | None, chosen: list[str]
) -> SurveyResults:
    used = ~state.excluded if cleaned else np.ones(len(state.excluded), dtype=bool)
    group_texts = None
    if survey.group_column:
        group_texts = state.texts.get(survey.group_column)
        if group_texts is None:
            group_texts = _group_texts(state, survey)
    if group is not None and group_texts is not None:
        used = used & (group_texts == group)
    mapped = {c: _labels(state, survey, c)[used] for c in chosen}
    items = {col: likert_summary(values) for col, values in mapped.items()}
    overall = _pooled(mapped)
    alphas: list[tuple[str, Alpha | None, str | None]] = []
    for title, cols in scale_groups(survey):
        cols = [c for c in cols if c in mapped]
        if len(cols) < 2:
            continue
        frame = pd.DataFrame({c: _item_scores(mapped[c]) for c in cols})
        try:
            alphas.append((title, cronbach_alpha(frame), None))
        except ValueError as exc:
            alphas.append((title, None, str(exc)))
    out = SurveyResults(
        items=items,
        overall=overall,
        alphas=alphas,
        responses=state.size,
        used=int(used.sum()),
        required=sample_size(population=survey.population) if survey.population else sample_size(),
        population=survey.population,
    )
    if group_texts is not None and group is None:
        keys = np.where(group_texts[used] == "", "—", group_texts[used]).astype(object)
        for key in sorted(set(keys.tolist())):
            where = keys == key
            summary = _pooled({c: values[where] for c, values in mapped.items()})
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


def _group_texts(state: _State, survey: Survey) -> np.ndarray:
    """The group column's answers when the memo was made without them."""
    session = object_session(survey)
    if session is None or not survey.group_column:
        raise ValueError("the survey is not attached to a session")
    texts = _load(session, survey, [survey.group_column], full=False)[1][survey.group_column]
    state.texts[survey.group_column] = texts
    return texts


def measure_of(survey: Survey, res: SurveyResults) -> SurveyMeasure:
    """The measure the survey's link names (``leaf_measure``, ``leaf_group``), from results
    over all groups (``results(survey, group=None)``): the number its leaf is scored on and
    the report prints."""
    # without a group column every response counts (as the group filter of results() does)
    group = survey.leaf_group if survey.group_column else None
    return survey_measure(
        res.overall, res.groups, SurveyLink(survey.leaf_measure or "rate", group), res.stratified
    )


def survey_rates(session: Session, engagement: Engagement) -> dict[str, Decimal]:
    """The value of each survey leaf, from cleaned responses: each survey's linked measure
    (:func:`measure_of`); a satisfaction rate pooled over the surveys that feed one leaf
    (Σ satisfied ÷ Σ valid answers), the index and the stratified rate averaged."""
    counts: dict[str, list[int]] = {}
    values: dict[str, list[Decimal]] = {}
    surveys = session.scalars(
        sa.select(Survey)
        .where(Survey.engagement_id == engagement.id, Survey.leaf_code.is_not(None))
        .order_by(Survey.id)
    ).all()
    screenings = screened_many(surveys)
    for survey in surveys:
        measure = measure_of(survey, results(survey, rows=screenings[survey.id]))
        if measure.rate is None:
            continue
        code = survey.leaf_code or ""
        if measure.pools_answers and measure.satisfied is not None and measure.valid:
            total = counts.setdefault(code, [0, 0])
            total[0] += measure.satisfied
            total[1] += measure.valid
        else:
            values.setdefault(code, []).append(measure.rate)
    out = {code: Decimal(s) / Decimal(v) for code, (s, v) in counts.items() if v}
    for code, vals in values.items():
        if code not in out:
            out[code] = sum(vals, Decimal(0)) / len(vals)
    return out
