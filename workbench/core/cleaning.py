"""Screening of survey responses (``shared/domain`` §4.2): flag, never delete.

:func:`screen` takes one row per response and returns, for each row, the list of rules it
breaks with a short detail. The caller keeps raw data and decides (with the evaluator's
per-response overrides) what is excluded.

Rules (each off unless configured):

``too_fast``           duration below ``min_seconds``
``too_fast_median``    duration below ``min_median_fraction`` × the median duration
``straightline``       the same answer to every item of a matrix (``straightline_groups``),
                       only for matrices of at least 3 answered items
``burst``              more than ``burst_count`` responses from one hashed IP/device within
                       ``burst_minutes`` (every response of the burst after the allowed count)
``attention``          an attention check answered other than expected
``missing_key``        a key item left blank
``duplicate``          the same answers to every question as an earlier response (only
                       responses with at least 3 answers: short ones are alike by chance)
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RULES = (
    "too_fast",
    "too_fast_median",
    "straightline",
    "burst",
    "attention",
    "missing_key",
    "duplicate",
)


@dataclass(frozen=True)
class Rules:
    """Screening configuration; ``None`` or empty switches a rule off."""

    min_seconds: float | None = None
    min_median_fraction: float | None = None
    straightline_groups: Sequence[Sequence[str]] = ()
    burst_count: int | None = None
    burst_minutes: float = 10.0
    attention: Mapping[str, str] = field(default_factory=dict)  # column → expected
    key_columns: Sequence[str] = ()
    duplicates: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> Rules:
        """From the JSON stored with a survey (unknown keys ignored)."""
        data = dict(data or {})

        def num(key: str) -> float | None:
            value = data.get(key)
            if value in (None, ""):
                return None
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return None
            return number if math.isfinite(number) and number > 0 else None

        burst = num("burst_count")
        return cls(
            min_seconds=num("min_seconds"),
            min_median_fraction=num("min_median_fraction"),
            straightline_groups=[list(g) for g in data.get("straightline_groups") or []],  # type: ignore[union-attr]
            burst_count=max(1, round(burst)) if burst else None,
            burst_minutes=num("burst_minutes") or 10.0,
            attention=(
                {str(k): str(v) for k, v in data["attention"].items()}  # type: ignore[union-attr]
                if isinstance(data.get("attention"), dict)
                else {}
            ),
            key_columns=list(data.get("key_columns") or []),  # type: ignore[call-overload]
            duplicates=bool(data.get("duplicates")),
        )


@dataclass(frozen=True)
class Row:
    """What screening looks at in one response."""

    duration_s: float | None
    submitted_at: dt.datetime | None
    source_key: str  # hashed IP or device; "" when unknown
    answers: Mapping[str, str]


def _s(seconds: float) -> str:
    """Seconds to one decimal, without trailing zeros (12.3863 → 12.4, 30.0 → 30)."""
    return f"{round(seconds, 1):g}"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def screen(rows: Sequence[Row], rules: Rules) -> list[list[tuple[str, str]]]:
    """For each row, the broken rules as ``(rule, detail)`` in :data:`RULES` order.

    >>> rows = [Row(30, None, "a", {"q": "满意"}), Row(300, None, "b", {"q": "满意"}),
    ...         Row(280, None, "c", {"q": ""})]
    >>> screen(rows, Rules(min_seconds=60, key_columns=["q"]))
    [[('too_fast', '30 s < 60 s')], [], [('missing_key', 'q')]]
    """
    out: list[list[tuple[str, str]]] = [[] for _ in rows]
    durations = [r.duration_s for r in rows if r.duration_s is not None]
    if rules.min_seconds:
        for i, r in enumerate(rows):
            if r.duration_s is not None and r.duration_s < rules.min_seconds:
                out[i].append(("too_fast", f"{_s(r.duration_s)} s < {rules.min_seconds:g} s"))
    median = _median([float(d) for d in durations])
    if rules.min_median_fraction and median:
        limit = rules.min_median_fraction * median
        for i, r in enumerate(rows):
            if r.duration_s is not None and r.duration_s < limit:
                out[i].append(
                    (
                        "too_fast_median",
                        f"{_s(r.duration_s)} s < {rules.min_median_fraction:g} × {_s(median)} s",
                    )
                )
    for group in rules.straightline_groups:
        if len(group) < 3:
            continue
        for i, r in enumerate(rows):
            values = [str(r.answers.get(c, "")).strip() for c in group]
            if all(values) and len(set(values)) == 1:
                out[i].append(("straightline", f"{len(values)} × {values[0]}"))
    if rules.burst_count:
        window = dt.timedelta(minutes=rules.burst_minutes)
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            if r.source_key and r.submitted_at is not None:
                by_source[r.source_key].append(i)
        for indices in by_source.values():
            indices.sort(key=lambda j: rows[j].submitted_at)  # type: ignore[arg-type, return-value]
            recent: deque[int] = deque()
            for j in indices:
                at = rows[j].submitted_at
                while recent and at - rows[recent[0]].submitted_at > window:  # type: ignore[operator]
                    recent.popleft()
                recent.append(j)
                if len(recent) > rules.burst_count:
                    out[j].append(("burst", f"{len(recent)} in {rules.burst_minutes:g} min"))
    for column, expected in rules.attention.items():
        for i, r in enumerate(rows):
            answer = str(r.answers.get(column, "")).strip()
            if answer != expected:
                out[i].append(("attention", f"{column}: {answer or '—'} ≠ {expected}"))
    for i, r in enumerate(rows):
        blank = [c for c in rules.key_columns if not str(r.answers.get(c, "")).strip()]
        if blank:
            out[i].append(("missing_key", "; ".join(blank)[:200]))
    if rules.duplicates:
        first: dict[tuple[tuple[str, str], ...], int] = {}
        for i, r in enumerate(rows):
            key = tuple(sorted((k, str(v).strip()) for k, v in r.answers.items()))
            if sum(1 for _, v in key if v) < 3:
                continue  # with one or two answers, equal responses are expected, not copies
            if key in first:
                out[i].append(("duplicate", f"= #{first[key] + 1}"))
            else:
                first[key] = i
    order = {rule: n for n, rule in enumerate(RULES)}
    return [sorted(reasons, key=lambda x: order[x[0]]) for reasons in out]


def rule_counts(reasons: Sequence[Sequence[tuple[str, str]]]) -> dict[str, int]:
    """Responses flagged per rule (a response can count under several rules)."""
    counts = dict.fromkeys(RULES, 0)
    for row in reasons:
        for rule in {r for r, _ in row}:
            counts[rule] += 1
    return counts
