import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.panel import (
    EXPERT,
    INDICATOR,
    SCORE,
    Aggregation,
    aggregate,
    aggregate_panel,
    indicator_stats,
    outliers,
    wide,
)


def panel(rows):
    return pd.DataFrame(rows, columns=[INDICATOR, EXPERT, SCORE])


def test_trimmed_mean_drops_one_highest_and_one_lowest_from_five_scores():
    result = aggregate([8, 9, 9, 10, 3], Aggregation.TRIMMED)
    assert result.trimmed and result.value == pytest.approx((8 + 9 + 9) / 3)
    assert not aggregate([8, 9, 9, 10], Aggregation.TRIMMED).trimmed
    assert aggregate([8, 9, 9, 10], Aggregation.TRIMMED, trim_min_n=4).trimmed


def test_other_aggregations():
    assert aggregate([1, 2, 9], Aggregation.MEDIAN).value == 2
    assert aggregate([4, 8], Aggregation.WEIGHTED, weights=[3, 1]).value == 5
    with pytest.raises(ValueError, match="weight"):
        aggregate([4, 8], Aggregation.WEIGHTED, weights=[1])
    with pytest.raises(ValueError, match="no scores"):
        aggregate([])


def test_stats_flag_dispersed_indicators():
    df = panel([("A", 1, 18), ("A", 2, 17), ("A", 3, 19), ("B", 1, 4), ("B", 2, 9), ("B", 3, 16)])
    stats = indicator_stats(df)
    assert stats.loc["A", "sd"] == pytest.approx(1.0)
    assert stats.loc["A", "cv"] == pytest.approx(1 / 18)
    assert not stats.loc["A", "cv_flag"] and stats.loc["B", "cv_flag"]
    assert stats.loc["B", ["min", "max"]].tolist() == [4, 16]


def test_outlying_expert_is_named_with_a_reason():
    df = panel([("A", e, s) for e, s in [(1, 17), (2, 18), (3, 17.5), (4, 18), (5, 6)]])
    found = outliers(df)
    assert found[EXPERT].tolist() == [5]
    assert "低于专家组中位数 17.5" in found["reason_zh"].iloc[0]
    # more than half identical (MAD 0): the mean absolute deviation stands in
    near_unanimous = panel([("A", e, s) for e, s in [(1, 4.5), (2, 4.5), (3, 4.5), (4, 5), (5, 4)]])
    assert outliers(near_unanimous).empty  # half a point is not an outlier
    lone = panel([("A", e, s) for e, s in [(1, 8), (2, 8), (3, 8), (4, 8), (5, 2)]])
    assert outliers(lone)[EXPERT].tolist() == [5]


def test_panel_scores_and_wide_matrix():
    df = panel([("A", 1, 8), ("A", 2, 9), ("B", 1, 4), ("B", 2, 5)])
    assert aggregate_panel(df).to_dict() == {"A": 8.5, "B": 4.5}
    assert wide(df).shape == (2, 2)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=20, allow_nan=False), min_size=1, max_size=12))
def test_every_aggregate_lies_between_min_and_max(scores):
    for method in (Aggregation.MEAN, Aggregation.TRIMMED, Aggregation.MEDIAN):
        value = aggregate(scores, method).value
        assert min(scores) - 1e-9 <= value <= max(scores) + 1e-9
