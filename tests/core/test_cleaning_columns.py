"""The column-wise screening gives exactly what the row-by-row definition gives.

``reference_screen`` is the original row-at-a-time implementation of :func:`screen`, kept
here as the oracle: the vectorised kernel must reproduce its flags and detail strings.
"""

import datetime as dt
from collections import defaultdict, deque

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workbench.core.cleaning import (
    RULES,
    Row,
    Rules,
    _median,
    _s,
    duplicate_key,
    screen,
    screen_columns,
    screened_columns,
)

T0 = dt.datetime(2026, 11, 22, 9, 0, 0, tzinfo=dt.UTC)


def reference_screen(rows, rules):  # the row-by-row definition (before vectorising)
    out = [[] for _ in rows]
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
        reference_burst(rows, rules, out)
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
        first = {}
        for i, r in enumerate(rows):
            key = tuple(sorted((k, str(v).strip()) for k, v in r.answers.items()))
            if sum(1 for _, v in key if v) < 3:
                continue
            if key in first:
                out[i].append(("duplicate", f"= #{first[key] + 1}"))
            else:
                first[key] = i
    order = {rule: n for n, rule in enumerate(RULES)}
    return [sorted(reasons, key=lambda x: order[x[0]]) for reasons in out]


def reference_burst(rows, rules, out):
    """The burst rule row by row: more than the allowed count within the window from one
    device, or from one address with a twin (same answers, near-identical duration)."""
    window = dt.timedelta(minutes=rules.burst_minutes)

    def walk(key_of, evidence):
        by_source = defaultdict(list)
        for i, r in enumerate(rows):
            if key_of(r) and r.submitted_at is not None:
                by_source[key_of(r)].append(i)
        for indices in by_source.values():
            indices.sort(key=lambda j: rows[j].submitted_at)
            recent = deque()
            for j in indices:
                at = rows[j].submitted_at
                while recent and at - rows[recent[0]].submitted_at > window:
                    recent.popleft()
                recent.append(j)
                if len(recent) <= rules.burst_count or any(x == "burst" for x, _ in out[j]):
                    continue
                detail = evidence(j, list(recent))
                if detail:
                    out[j].append(("burst", f"{rules.burst_minutes:g} 分钟内{detail}"[:300]))

    def device(j, recent):
        more = "…" if len(recent) > 10 else ""
        return f"同一设备{len(recent)}份：" + "、".join(f"#{i + 1}" for i in recent[:10]) + more

    def twin(j, recent):
        key, mine = duplicate_key(rows[j].answers), rows[j].duration_s
        if key is None or mine is None:
            return None
        for i in recent:
            other = rows[i].duration_s
            if i == j or other is None or duplicate_key(rows[i].answers) != key:
                continue
            if abs(mine - other) <= max(5.0, 0.1 * max(mine, other)):
                return (
                    f"同一地址{len(recent)}份，答案与#{i + 1}相同、"
                    f"用时相近（{_s(mine)} s / {_s(other)} s）"
                )
        return None

    walk(lambda r: r.device_key, device)
    walk(lambda r: r.source_key, twin)


_answer = st.sampled_from(["", "满意", " 满意 ", "一般", "男", 5, "5"])
_keys = ["q1", "q2", "q3", "q4", "q5"]
_rows = st.lists(
    st.builds(
        Row,
        duration_s=st.none() | st.floats(0, 2_000, allow_nan=False) | st.integers(0, 900),
        submitted_at=st.none() | st.integers(0, 1800).map(lambda s: T0 + dt.timedelta(seconds=s)),
        source_key=st.sampled_from(["", "a", "b", "c"]),
        answers=st.dictionaries(st.sampled_from(_keys), _answer, max_size=5),
        device_key=st.sampled_from(["", "x", "y"]),
    ),
    max_size=40,
)
_rules = st.builds(
    Rules,
    min_seconds=st.none() | st.floats(1, 1000),
    min_median_fraction=st.none() | st.floats(0.01, 1),
    straightline_groups=st.sampled_from(
        [(), (["q1", "q2", "q3"],), (["q1", "q2"],), (["q1", "q2", "q3"], ["q2", "q3", "q4", "q5"])]
    ),
    burst_count=st.none() | st.integers(1, 4),
    burst_minutes=st.floats(0.5, 30),
    attention=st.sampled_from([{}, {"q4": "满意"}, {"q4": "满意", "q9": "一般"}]),
    key_columns=st.sampled_from([(), ("q1",), ("q1", "q2", "q9")]),
    duplicates=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(rows=_rows, rules=_rules)
@example(rows=[Row(0.95, None, "", {})], rules=Rules(min_seconds=5))  # CI failure, issue #13
def test_vectorised_screen_equals_the_row_by_row_definition(rows, rules):
    assert screen(rows, rules) == reference_screen(rows, rules)


@pytest.mark.parametrize("seconds", [0.95, 0.25, 2.675, 12.45, 1e-9])
def test_durations_print_the_same_on_both_paths(seconds):
    # numpy's round() scales first: round(np.float64(0.95), 1) == 1.0, Python's gives 0.9
    rules = Rules(min_seconds=100, min_median_fraction=0.99)
    rows = [Row(seconds, None, "", {}), Row(seconds * 3, None, "", {})]
    assert screen(rows, rules) == reference_screen(rows, rules)
    assert screen(rows, rules)[0][0] == ("too_fast", f"{round(seconds, 1):g} s < 100 s")


def test_a_burst_from_one_source_in_a_large_survey_is_found():
    # 3,000 responses from distinct devices plus 6 from one device within 5 minutes
    rows = [Row(300, T0 + dt.timedelta(minutes=i), "", {}, f"s{i}") for i in range(3000)]
    rows += [Row(300, T0 + dt.timedelta(minutes=i), "", {}, "same") for i in range(6)]
    rules = Rules(burst_count=3, burst_minutes=10)
    reasons = screen(rows, rules)
    assert reasons == reference_screen(rows, rules)
    assert [r for r in reasons if r] == [
        [("burst", "10 分钟内同一设备4份：#3001、#3002、#3003、#3004")],
        [("burst", "10 分钟内同一设备5份：#3001、#3002、#3003、#3004、#3005")],
        [("burst", "10 分钟内同一设备6份：#3001、#3002、#3003、#3004、#3005、#3006")],
    ]


def test_columns_absent_from_the_answers_count_as_blank():
    rules = Rules(attention={"check": "满意"}, key_columns=["k"])
    assert screened_columns(rules) == ["check", "k"]
    reasons = screen_columns(np.array([100.0, 100.0]), [None, None], ["", ""], {}, rules)
    assert reasons == {i: [("attention", "check: — ≠ 满意"), ("missing_key", "k")] for i in (0, 1)}
    assert screen_columns(np.array([]), [], [], {}, rules) == {}


def test_duplicate_rule_needs_the_keys():
    with pytest.raises(ValueError, match="duplicate key"):
        screen_columns(np.array([1.0]), [None], [""], {}, Rules(duplicates=True))
    assert duplicate_key({"a": 1, "b": " x", "c": "y "}) == (("a", "1"), ("b", "x"), ("c", "y"))
