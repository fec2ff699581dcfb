import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.agreement import TooFewRatings, icc, kendall_w

# Shrout, P. E. & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing rater
# reliability. Psychological Bulletin 86(2), 420-428. Table 2: 6 targets rated by 4 judges;
# Table 4 gives ICC(1,1)=.17, ICC(2,1)=.29, ICC(3,1)=.71, ICC(1,4)=.44, ICC(2,4)=.62,
# ICC(3,4)=.91, from BMS=11.24, WMS=6.26, JMS=32.49, EMS=1.02.
SHROUT_FLEISS = pd.DataFrame(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    columns=["j1", "j2", "j3", "j4"],
)


def test_icc_reproduces_shrout_and_fleiss():
    result = icc(SHROUT_FLEISS)
    assert list(result.index) == ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
    assert result["icc"].round(2).tolist() == [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    assert result.loc["ICC1", "f"] == pytest.approx(11.24 / 6.26, abs=0.01)
    assert result.loc["ICC3", "f"] == pytest.approx(11.24 / 1.02, abs=0.06)
    assert (result.loc["ICC1", "df1"], result.loc["ICC1", "df2"]) == (5, 18)
    assert (result.loc["ICC3", "df1"], result.loc["ICC3", "df2"]) == (5, 15)
    assert (result["ci_low"] < result["icc"]).all() and (result["icc"] < result["ci_high"]).all()
    assert result.loc["ICC3", "pvalue"] < 0.001 < result.loc["ICC1", "pvalue"]


def test_kendall_w_hand_computed_example():
    # three judges rank six objects; rank sums 8, 14, 11, 11, 11, 8 → S = 25.5;
    # W = 12·25.5 / (3² · (6³ − 6)) = 306 / 1890
    ranks = pd.DataFrame(
        {"A": [1, 6, 3, 2, 5, 4], "B": [1, 5, 6, 4, 2, 3], "C": [6, 3, 2, 5, 4, 1]}
    )
    result = kendall_w(ranks)
    assert result.w == pytest.approx(306 / 1890)
    assert result.chi2 == pytest.approx(3 * 5 * 306 / 1890)
    assert result.dof == 5 and result.m == 3 and result.n == 6


def test_kendall_w_corrects_for_ties():
    # rater b gives the same score twice: T_b = 2³ − 2 = 6
    scores = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 2, 4], "c": [1, 2, 3, 4]})
    ranks_b = [1, 2.5, 2.5, 4]
    rank_sums = np.array([1, 2, 3, 4]) * 2 + np.array(ranks_b)
    s = ((rank_sums - rank_sums.mean()) ** 2).sum()
    expected = 12 * s / (3**2 * (4**3 - 4) - 3 * 6)
    assert kendall_w(scores).w == pytest.approx(expected)


def test_missing_scores_drop_rows_and_say_so():
    data = SHROUT_FLEISS.astype(float).copy()
    data.iloc[0, 1] = np.nan
    assert kendall_w(data).dropped == 1 and kendall_w(data).n == 5
    assert icc(data).attrs["dropped"] == 1


@pytest.mark.parametrize("fn", [kendall_w, icc])
def test_fewer_than_two_raters_is_refused(fn):
    with pytest.raises(TooFewRatings, match="at least 2 raters"):
        fn(pd.DataFrame({"only": [1, 2, 3]}))
    with pytest.raises(TooFewRatings, match="rows scored by every rater"):
        fn(pd.DataFrame({"a": [1, np.nan], "b": [np.nan, 2]}))


@settings(max_examples=80, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda m: st.integers(2, 8).flatmap(
            lambda n: st.lists(
                st.lists(st.integers(0, 10), min_size=m, max_size=m), min_size=n, max_size=n
            )
        )
    )
)
def test_kendall_w_lies_in_zero_to_one(rows):
    assert 0 <= kendall_w(pd.DataFrame(rows)).w <= 1
