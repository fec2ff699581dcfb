"""Screening of survey responses: every rule by hand, the configuration, and properties."""

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.cleaning import (
    RULES,
    Row,
    Rules,
    duplicate_key,
    rule_counts,
    screen,
    screen_columns,
)

T0 = dt.datetime(2026, 11, 22, 9, 0, 0)
MATRIX = ["5、满意程度—质量", "5、满意程度—便利", "5、满意程度—公开"]


def row(duration=300.0, at=None, source="", device="", **answers):
    return Row(duration, at, source, answers, device)


def rules_of(reasons):
    return [[rule for rule, _ in r] for r in reasons]


# --- each rule ---------------------------------------------------------------------------------


def test_too_fast():
    rows = [row(30), row(59.5), row(60), row(None), row(600)]
    reasons = screen(rows, Rules(min_seconds=60))
    assert reasons == [
        [("too_fast", "30 s < 60 s")],
        [("too_fast", "59.5 s < 60 s")],
        [],
        [],
        [],
    ]


def test_too_fast_median():
    # durations 100, 200, 300, 400 (and one unknown): median 250, limit 0.5 × 250 = 125
    rows = [row(100), row(200), row(None), row(300), row(400)]
    reasons = screen(rows, Rules(min_median_fraction=0.5))
    assert reasons[0] == [("too_fast_median", "100 s < 0.5 × 250 s")]
    assert reasons[1:] == [[], [], [], []]
    # an odd count takes the middle value: median 300, limit 150 → 100 only
    odd = [row(100), row(300), row(500)]
    assert rules_of(screen(odd, Rules(min_median_fraction=0.5))) == [["too_fast_median"], [], []]


def test_too_fast_median_without_durations_is_off():
    rows = [row(None), row(None)]
    assert screen(rows, Rules(min_median_fraction=0.5)) == [[], []]


def test_straightline_needs_three_answered_items():
    same = dict.fromkeys(MATRIX, "满意")
    rows = [
        Row(300, None, "", same),
        Row(300, None, "", {**same, MATRIX[2]: "一般"}),
        Row(300, None, "", {**same, MATRIX[2]: ""}),  # one item blank: not flagged
        Row(300, None, "", {MATRIX[0]: "满意", MATRIX[1]: "满意"}),  # item missing
        Row(300, None, "", {**same, MATRIX[0]: " 满意 "}),  # whitespace ignored
    ]
    reasons = screen(rows, Rules(straightline_groups=[MATRIX]))
    assert reasons == [
        [("straightline", "3 × 满意")],
        [],
        [],
        [],
        [("straightline", "3 × 满意")],
    ]
    # a group of two items is never checked
    assert screen(rows, Rules(straightline_groups=[MATRIX[:2]])) == [[]] * 5


def test_burst_within_the_window():
    minute = dt.timedelta(minutes=1)
    rows = [
        row(at=T0, device="dev-a"),
        row(at=T0 + 2 * minute, device="dev-a"),
        row(at=T0 + 4 * minute, device="dev-a"),  # third within 10 minutes: flagged
        row(at=T0 + 5 * minute, device="dev-b"),  # another device
        row(at=T0 + 5 * minute, device=""),  # unknown device
        row(at=None, device="dev-a"),  # unknown time
        row(at=T0 + 30 * minute, device="dev-a"),  # window has moved on
        row(at=T0 + 31 * minute, device="dev-a"),
    ]
    reasons = screen(rows, Rules(burst_count=2, burst_minutes=10))
    assert reasons == [[], [], [("burst", "10 分钟内同一设备3份：#1、#2、#3")], [], [], [], [], []]


def test_burst_flags_every_response_after_the_allowed_count_in_time_order():
    second = dt.timedelta(seconds=1)
    # rows given out of time order: the latest two of four are flagged
    rows = [
        row(at=T0 + 3 * second, device="k"),
        row(at=T0, device="k"),
        row(at=T0 + 2 * second, device="k"),
        row(at=T0 + 1 * second, device="k"),
    ]
    reasons = screen(rows, Rules(burst_count=2, burst_minutes=1))
    assert rules_of(reasons) == [["burst"], [], ["burst"], []]
    assert reasons[0][0][1] == "1 分钟内同一设备4份：#2、#4、#3、#1"


def test_burst_window_edge_is_inclusive():
    rows = [
        row(at=T0, device="k"),
        row(at=T0 + dt.timedelta(minutes=10), device="k"),
        row(at=T0 + dt.timedelta(minutes=20, seconds=1), device="k"),
    ]
    assert rules_of(screen(rows, Rules(burst_count=1, burst_minutes=10))) == [[], ["burst"], []]


def test_a_shared_address_alone_excludes_nobody():
    """12 genuine respondents on one Wi-Fi (one address), normal and different durations and
    answers, within minutes: none is flagged (the old rule flagged 11 of 12)."""
    minute = dt.timedelta(minutes=1)
    rows = [
        row(
            240.0 + 17 * i, T0 + i * minute / 2, "wifi", q1=f"甲{i % 3}", q2=f"乙{i % 4}", q3="满意"
        )
        for i in range(12)
    ]
    assert screen(rows, Rules(burst_count=2, burst_minutes=10)) == [[]] * 12


def test_a_shared_address_needs_same_answers_and_near_identical_duration():
    minute = dt.timedelta(minutes=1)
    same = {"q1": "男", "q2": "满意", "q3": "无"}
    rows = [
        row(200.0, T0, "wifi", **same),
        row(300.0, T0 + minute, "wifi", **same),  # same answers, other duration: kept
        row(120.0, T0 + 2 * minute, "wifi", q1="女", q2="满意", q3="无"),
        row(202.0, T0 + 3 * minute, "wifi", **same),  # same answers, 202 s vs 200 s: flagged
        row(201.0, T0 + 4 * minute, "other", **same),  # another address
    ]
    reasons = screen(rows, Rules(burst_count=2, burst_minutes=10))
    assert reasons == [
        [],
        [],
        [],
        [("burst", "10 分钟内同一地址4份，答案与#1相同、用时相近（202 s / 200 s）")],
        [],
    ]
    # the evidence names the responses as the caller labels them
    flagged = screen_columns(
        np.array([r.duration_s for r in rows]),
        [r.submitted_at for r in rows],
        [r.source_key for r in rows],
        {},
        Rules(burst_count=2, burst_minutes=10),
        duplicate_keys=[duplicate_key(r.answers) for r in rows],
        labels=["#W1", "#W2", "#W3", "#W4", "#W5"],
    )
    assert flagged == {
        3: [("burst", "10 分钟内同一地址4份，答案与#W1相同、用时相近（202 s / 200 s）")]
    }
    # without the answers to compare, an address flags nothing
    assert (
        screen_columns(
            np.array([r.duration_s for r in rows]),
            [r.submitted_at for r in rows],
            [r.source_key for r in rows],
            {},
            Rules(burst_count=2, burst_minutes=10),
        )
        == {}
    )


def test_attention():
    column = "6、为确认您在认真作答，本题请选择“满意”"
    rows = [
        Row(300, None, "", {column: "满意"}),
        Row(300, None, "", {column: " 满意 "}),
        Row(300, None, "", {column: "非常满意"}),
        Row(300, None, "", {}),
    ]
    reasons = screen(rows, Rules(attention={column: "满意"}))
    assert reasons == [
        [],
        [],
        [("attention", f"{column}: 非常满意 ≠ 满意")],
        [("attention", f"{column}: — ≠ 满意")],
    ]


def test_missing_key():
    rows = [row(q1="男", q2="甲镇"), row(q1=" ", q2="甲镇"), row()]
    reasons = screen(rows, Rules(key_columns=["q1", "q2"]))
    assert reasons == [[], [("missing_key", "q1")], [("missing_key", "q1; q2")]]
    long = [f"{'题' * 50}{i}" for i in range(10)]
    (detail,) = screen([row()], Rules(key_columns=long))[0]
    assert len(detail[1]) == 200


def test_duplicate_flags_the_later_copy():
    rows = [
        row(q1="男", q2="满意", q3="无"),
        row(q1="女", q2="满意", q3="无"),
        row(q3="无", q2="满意", q1="男"),  # same answers, other order of keys
        row(q1=" 男 ", q2="满意 ", q3="无"),  # same after stripping
        row(q1="男", q2="满意", q3="无", q4=""),  # an extra column: not the same answers
    ]
    reasons = screen(rows, Rules(duplicates=True))
    assert reasons == [[], [], [("duplicate", "= #1")], [("duplicate", "= #1")], []]


def test_short_responses_are_alike_by_chance_not_duplicates():
    rows = [row(q1="满意", q2="男"), row(q1="满意", q2="男")]
    assert screen(rows, Rules(duplicates=True)) == [[], []]


def test_blank_rows_are_not_duplicates():
    rows = [row(q1="", q2=""), row(q1="", q2=""), row(), row()]
    assert screen(rows, Rules(duplicates=True)) == [[], [], [], []]


def test_rules_off_by_default():
    rows = [row(1, T0, "k", q="") for _ in range(5)]
    assert screen(rows, Rules()) == [[]] * 5
    assert screen([], Rules(min_seconds=10, duplicates=True)) == []


# --- ordering and counting ---------------------------------------------------------------------


def test_reasons_follow_rules_order():
    same = dict.fromkeys(MATRIX, "满意")
    rows = [
        Row(10, T0, "k", {**same, "key": "", "check": "一般"}, "d"),
        Row(10, T0, "k", {**same, "key": "", "check": "一般"}, "d"),
        Row(1000, T0, "k", {"key": "x", "check": "满意"}, "d"),
        Row(1000, None, "", {"key": "y", "check": "满意"}),
    ]
    rules = Rules(
        min_seconds=20,
        min_median_fraction=0.5,
        straightline_groups=[MATRIX],
        burst_count=1,
        attention={"check": "满意"},
        key_columns=["key"],
        duplicates=True,
    )
    reasons = screen(rows, rules)
    assert rules_of(reasons)[1] == list(RULES)
    assert rules_of(reasons)[0] == [r for r in RULES if r not in ("burst", "duplicate")]
    assert rules_of(reasons)[2:] == [["burst"], []]
    for r in rules_of(reasons):
        assert r == sorted(r, key=RULES.index)


def test_rule_counts():
    reasons = [
        [("too_fast", "a"), ("missing_key", "q1")],
        [("missing_key", "q1"), ("missing_key", "q2")],  # one response counts once
        [],
    ]
    counts = rule_counts(reasons)
    assert list(counts) == list(RULES)
    assert counts == {
        "too_fast": 1,
        "too_fast_median": 0,
        "straightline": 0,
        "burst": 0,
        "attention": 0,
        "missing_key": 2,
        "duplicate": 0,
    }
    assert rule_counts([]) == dict.fromkeys(RULES, 0)


# --- configuration -----------------------------------------------------------------------------


def test_rules_from_dict():
    rules = Rules.from_dict(
        {
            "min_seconds": "60",
            "min_median_fraction": 0.3,
            "straightline_groups": [MATRIX, ("a", "b")],
            "burst_count": "3",
            "burst_minutes": 5,
            "attention": {"q6": "满意"},
            "key_columns": ["q1"],
            "duplicates": 1,
            "unknown": "ignored",
        }
    )
    assert rules == Rules(
        min_seconds=60.0,
        min_median_fraction=0.3,
        straightline_groups=[MATRIX, ["a", "b"]],
        burst_count=3,
        burst_minutes=5.0,
        attention={"q6": "满意"},
        key_columns=["q1"],
        duplicates=True,
    )


@pytest.mark.parametrize("junk", ["abc", -1, 0, "", None, math.inf, "inf", math.nan, "nan", [1]])
def test_rules_from_dict_ignores_junk_numbers(junk):
    rules = Rules.from_dict(
        {
            "min_seconds": junk,
            "min_median_fraction": junk,
            "burst_count": junk,
            "burst_minutes": junk,
        }
    )
    assert rules.min_seconds is None
    assert rules.min_median_fraction is None
    assert rules.burst_count is None
    assert rules.burst_minutes == 10.0


@pytest.mark.parametrize("data", [None, {}])
def test_rules_from_empty_dict(data):
    assert Rules.from_dict(data) == Rules(straightline_groups=[], key_columns=[])


# --- properties --------------------------------------------------------------------------------

_answer = st.sampled_from(["", "满意", "一般", "男", "女"])
_rows = st.lists(
    st.builds(
        Row,
        duration_s=st.none() | st.floats(0, 10_000, allow_nan=False),
        submitted_at=st.none() | st.integers(0, 3600).map(lambda s: T0 + dt.timedelta(seconds=s)),
        source_key=st.sampled_from(["", "a", "b"]),
        answers=st.fixed_dictionaries(dict.fromkeys(["q1", "q2", "q3", "q4"], _answer)),
    ),
    max_size=25,
)
_rules = st.builds(
    Rules,
    min_seconds=st.none() | st.floats(1, 1000),
    min_median_fraction=st.none() | st.floats(0.01, 1),
    straightline_groups=st.sampled_from([(), (["q1", "q2", "q3"],), (["q1", "q2"],)]),
    burst_count=st.none() | st.integers(1, 4),
    burst_minutes=st.floats(0.5, 60),
    attention=st.sampled_from([{}, {"q4": "满意"}]),
    key_columns=st.sampled_from([(), ("q1",), ("q1", "q2")]),
    duplicates=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(rows=_rows, rules=_rules)
def test_screen_keeps_the_rows(rows, rules):
    reasons = screen(rows, rules)
    assert len(reasons) == len(rows)
    for r in reasons:
        assert all(rule in RULES for rule, _ in r)
        assert [x for x, _ in r] == sorted((x for x, _ in r), key=RULES.index)
    assert screen(rows, Rules()) == [[] for _ in rows]
    counts = rule_counts(reasons)
    assert all(0 <= n <= len(rows) for n in counts.values())


@settings(max_examples=200, deadline=None)
@given(rows=_rows, t=st.floats(0.001, 10_000, allow_nan=False))
def test_too_fast_iff_below_min_seconds(rows, t):
    reasons = screen(rows, Rules(min_seconds=t))
    for r, reason in zip(rows, reasons, strict=True):
        flagged = any(rule == "too_fast" for rule, _ in reason)
        assert flagged == (r.duration_s is not None and r.duration_s < t)
        assert all(rule == "too_fast" for rule, _ in reason)
