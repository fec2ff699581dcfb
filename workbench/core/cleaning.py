"""Screening of survey responses (``shared/domain`` §4.2): flag, never delete.

:func:`screen` takes one row per response and returns, for each row, the list of rules it
breaks with a short detail. The caller keeps raw data and decides (with the evaluator's
per-response overrides) what is excluded.

Rules (each off unless configured):

``too_fast``           duration below ``min_seconds``
``too_fast_median``    duration below ``min_median_fraction`` × the median duration
``straightline``       the same answer to every item of a matrix (``straightline_groups``),
                       only for matrices of at least 3 answered items
``burst``              more than ``burst_count`` responses within ``burst_minutes`` from one
                       device (the browser id: every response of the burst after the allowed
                       count), or from one address *and* with a second signal: the same answers
                       as another response of the window and a near-identical duration. A shared
                       address alone (a village's or a school's Wi-Fi) never breaks it; the
                       detail names the signal and the responses it saw
``attention``          an attention check answered other than expected
``missing_key``        a key item left blank
``duplicate``          the same answers to every question as an earlier response (only
                       responses with at least 3 answers: short ones are alike by chance)
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

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
    source_key: str  # hashed address (IP); "" when unknown
    answers: Mapping[str, str]
    device_key: str = ""  # hashed browser/device id; "" when unknown


def _s(seconds: float) -> str:
    """Seconds to one decimal, without trailing zeros (12.3863 → 12.4, 30.0 → 30).

    Always Python's correctly rounded ``round`` of the float's exact value: numpy's
    ``round(np.float64(0.95), 1)`` scales by ten first and gives 1.0 where Python gives 0.9,
    so the column-wise and row-wise paths printed different details for one answer.

    >>> _s(0.95), _s(np.float64(0.95)), _s(30)
    ('0.9', '0.9', '30')
    """
    return f"{round(float(seconds), 1):g}"


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def screened_columns(rules: Rules) -> list[str]:
    """The answer columns the rules read (attention checks, key items, matrices of 3+ items),
    in a stable order and without repeats; the duplicate rule reads every answer instead.

    >>> screened_columns(Rules(attention={"a": "x"}, key_columns=["k", "a"]))
    ['a', 'k']
    """
    seen: dict[str, None] = {}
    for group in rules.straightline_groups:
        if len(group) >= 3:
            seen.update(dict.fromkeys(group))
    seen.update(dict.fromkeys(rules.attention))
    seen.update(dict.fromkeys(rules.key_columns))
    return list(seen)


def duplicate_key(answers: Mapping[str, object]) -> tuple[tuple[str, str], ...] | None:
    """What the duplicate rule compares: every answer, stripped, in key order; ``None`` for a
    response with fewer than 3 answers (short responses are alike by chance, not copies).

    >>> duplicate_key({"b": " 2 ", "a": "1", "c": "3"})
    (('a', '1'), ('b', '2'), ('c', '3'))
    >>> duplicate_key({"a": "1", "b": ""}) is None
    True
    """
    key = tuple(sorted((k, str(v).strip()) for k, v in answers.items()))
    return key if sum(1 for _, v in key if v) >= 3 else None


def screen(rows: Sequence[Row], rules: Rules) -> list[list[tuple[str, str]]]:
    """For each row, the broken rules as ``(rule, detail)`` in :data:`RULES` order.

    A blank or missing answer is ``""``; answers are compared stripped. This is the row API;
    :func:`screen_columns` is the same screening over column arrays.

    >>> rows = [Row(30, None, "a", {"q": "满意"}), Row(300, None, "b", {"q": "满意"}),
    ...         Row(280, None, "c", {"q": ""})]
    >>> screen(rows, Rules(min_seconds=60, key_columns=["q"]))
    [[('too_fast', '30 s < 60 s')], [], [('missing_key', 'q')]]
    """
    columns = {
        c: np.array([str(r.answers.get(c, "")).strip() for r in rows], dtype=object)
        for c in screened_columns(rules)
    }
    flagged = screen_columns(
        np.array([np.nan if r.duration_s is None else r.duration_s for r in rows], dtype=float),
        [r.submitted_at for r in rows],
        [r.source_key for r in rows],
        columns,
        rules,
        duplicate_keys=[duplicate_key(r.answers) for r in rows]
        if rules.duplicates or rules.burst_count
        else None,
        device_key=[r.device_key for r in rows],
    )
    return [flagged.get(i, []) for i in range(len(rows))]


def screen_columns(
    duration_s: np.ndarray,
    submitted_at: Sequence[dt.datetime | None],
    source_key: Sequence[str],
    answers: Mapping[str, np.ndarray],
    rules: Rules,
    *,
    duplicate_keys: Sequence[Hashable | None] | None = None,
    device_key: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
) -> dict[int, list[tuple[str, str]]]:
    """:func:`screen` over columns: the rules are evaluated on whole arrays and only the
    flagged rows get a detail string (and a list), so 100,000 responses take milliseconds.

    Parameters
    ----------
    duration_s : numpy.ndarray of float
        Seconds spent per response, ``NaN`` when unknown.
    submitted_at : sequence of datetime or None
        Submission times (all naive or all aware), for the burst rule.
    source_key : sequence of str
        Hashed address (IP), ``""`` when unknown.
    answers : mapping of column to numpy.ndarray of str
        The stripped answers (``""`` when blank or missing) of at least
        :func:`screened_columns`; a column absent from the mapping counts as blank.
    rules : Rules
    duplicate_keys : sequence, optional
        :func:`duplicate_key` of each response; required when ``rules.duplicates``. Without
        them the burst rule cannot see identical answers, so it flags devices only.
    device_key : sequence of str, optional
        Hashed browser/device id, ``""`` when unknown.
    labels : sequence of str, optional
        How the burst rule names the responses in its evidence (default ``#1``, ``#2`` …).

    Returns
    -------
    dict of row index to list of (rule, detail)
        Only the responses that break a rule, each with its rules in :data:`RULES` order
        (as :func:`screen`).

    >>> screen_columns(np.array([30.0, np.nan]), [None, None], ["", ""],
    ...                {"q": np.array(["", "x"], dtype=object)},
    ...                Rules(min_seconds=60, key_columns=["q"]))
    {0: [('too_fast', '30 s < 60 s'), ('missing_key', 'q')]}
    """
    n = len(duration_s)
    out: defaultdict[int, list[tuple[str, str]]] = defaultdict(list)
    if n == 0:
        return {}
    blank = np.full(n, "", dtype=object)

    def column(name: str) -> np.ndarray:
        values = answers.get(name)
        return blank if values is None else np.asarray(values, dtype=object)

    durations = np.asarray(duration_s, dtype=float)
    known = ~np.isnan(durations)
    if rules.min_seconds:
        for i in np.flatnonzero(known & (durations < rules.min_seconds)).tolist():
            out[i].append(("too_fast", f"{_s(durations[i])} s < {rules.min_seconds:g} s"))
    median = _median(durations[known].tolist())
    if rules.min_median_fraction and median:
        limit = rules.min_median_fraction * median
        fraction = rules.min_median_fraction
        for i in np.flatnonzero(known & (durations < limit)).tolist():
            detail = f"{_s(durations[i])} s < {fraction:g} × {_s(median)} s"
            out[i].append(("too_fast_median", detail))
    for group in rules.straightline_groups:
        if len(group) < 3:
            continue
        first = column(group[0])
        same = first != ""
        for c in group[1:]:
            same &= column(c) == first
        for i in np.flatnonzero(same).tolist():
            out[i].append(("straightline", f"{len(group)} × {first[i]}"))
    if rules.burst_count:
        names = list(labels) if labels is not None else [f"#{i + 1}" for i in range(n)]
        window = (rules.burst_count, rules.burst_minutes)
        devices = device_key if device_key is not None else [""] * n
        _burst(submitted_at, devices, window, out, lambda j, recent: _devices(recent, names))
        if duplicate_keys is not None:
            twin = functools.partial(_twin, durations, duplicate_keys, names)
            _burst(submitted_at, source_key, window, out, twin)
    for name, expected in rules.attention.items():
        values = column(name)
        for i in np.flatnonzero(values != expected).tolist():
            out[i].append(("attention", f"{name}: {values[i] or '—'} ≠ {expected}"))
    if rules.key_columns:
        blanks = [(c, column(c) == "") for c in rules.key_columns]
        anything = np.zeros(n, dtype=bool)
        for _, mask in blanks:
            anything |= mask
        for i in np.flatnonzero(anything).tolist():
            detail = "; ".join(c for c, mask in blanks if mask[i])
            out[i].append(("missing_key", detail[:200]))
    if rules.duplicates:
        if duplicate_keys is None:
            raise ValueError("the duplicate rule needs the duplicate key of every response")
        first_seen: dict[Hashable, int] = {}
        for i, key in enumerate(duplicate_keys):
            if key is None:
                continue
            if key in first_seen:
                out[i].append(("duplicate", f"= #{first_seen[key] + 1}"))
            else:
                first_seen[key] = i
    return dict(out)


def _devices(recent: Sequence[int], names: Sequence[str]) -> str:
    shown = "、".join(names[i] for i in list(recent)[:10])
    more = "…" if len(recent) > 10 else ""
    return f"同一设备{len(recent)}份：{shown}{more}"


#: near-identical durations: within this many seconds, or this fraction of the longer one
TWIN_SECONDS = 5.0
TWIN_FRACTION = 0.1


def _twin(
    durations: np.ndarray,
    keys: Sequence[Hashable | None],
    names: Sequence[str],
    j: int,
    recent: Sequence[int],
) -> str | None:
    """The second signal for a response from a busy address: an earlier response of the
    window with the same answers (see :func:`duplicate_key`) and a near-identical duration;
    ``None`` without one (then the shared address alone flags nothing)."""
    key, mine = keys[j], durations[j]
    if key is None or math.isnan(mine):
        return None
    for i in recent:
        other = durations[i]
        if i == j or keys[i] != key or math.isnan(other):
            continue
        if abs(mine - other) <= max(TWIN_SECONDS, TWIN_FRACTION * max(mine, other)):
            return (
                f"同一地址{len(recent)}份，答案与{names[i]}相同、"
                f"用时相近（{_s(mine)} s / {_s(other)} s）"
            )
    return None


def _burst(
    submitted_at: Sequence[dt.datetime | None],
    source_key: Sequence[str],
    window: tuple[int, float],
    out: defaultdict[int, list[tuple[str, str]]],
    evidence: Callable[[int, Sequence[int]], str | None],
) -> None:
    """The burst rule over one kind of source (devices or addresses): only sources with more
    than the allowed count can break it, so the sliding window runs over those alone; a
    response past the allowed count is flagged when ``evidence`` (given it and the window's
    responses) names a reason, at most once."""
    allowed, minutes = window
    codes, _ = pd.factorize(pd.Series(source_key, dtype=object), use_na_sentinel=True)
    timed = np.fromiter((t is not None for t in submitted_at), dtype=bool, count=len(codes))
    usable = timed & (np.asarray([bool(k) for k in source_key], dtype=bool))
    if not usable.any():
        return
    counts = np.bincount(codes[usable])
    busy = np.flatnonzero(counts > allowed)
    if busy.size == 0:
        return
    span = dt.timedelta(minutes=minutes)
    candidates = np.flatnonzero(usable & np.isin(codes, busy))
    by_source: dict[int, list[int]] = defaultdict(list)
    for j in candidates.tolist():
        by_source[int(codes[j])].append(j)
    for indices in by_source.values():
        indices.sort(key=lambda j: submitted_at[j])  # type: ignore[arg-type, return-value]
        recent: deque[int] = deque()
        for j in indices:
            at = submitted_at[j]
            while recent and at - submitted_at[recent[0]] > span:  # type: ignore[operator]
                recent.popleft()
            recent.append(j)
            if len(recent) <= allowed or any(rule == "burst" for rule, _ in out.get(j, ())):
                continue
            detail = evidence(j, list(recent))
            if detail:
                out[j].append(("burst", f"{minutes:g} 分钟内{detail}"[:300]))


def rule_counts(reasons: Sequence[Sequence[tuple[str, str]]]) -> dict[str, int]:
    """Responses flagged per rule (a response can count under several rules)."""
    counts = dict.fromkeys(RULES, 0)
    for row in reasons:
        for rule in {r for r, _ in row}:
            counts[rule] += 1
    return counts
