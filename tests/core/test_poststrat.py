"""Post-stratified satisfaction rate and the generic table reader."""

import io
import math

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.surveys import WjxFormatError, post_stratified_rate, read_table

Z95 = 1.959964


# --- post_stratified_rate ----------------------------------------------------------------------


def test_docstring_example():
    r = post_stratified_rate({"A": (90, 100), "B": (10, 100)}, {"A": 900, "B": 100})
    assert r.rate == pytest.approx(0.82)
    assert r.weights == pytest.approx({"A": 0.9, "B": 0.1})
    assert r.missing_groups == ()


def test_hand_computed_rate_and_interval():
    groups = {"甲镇": (45, 50), "乙镇": (30, 50), "丙镇": (0, 0), "丁镇": (10, 20)}
    populations = {"甲镇": 1000, "乙镇": 500, "丙镇": 200, "戊镇": 300, "己镇": 0}
    r = post_stratified_rate(groups, populations)
    # 丙镇 has no answers, 丁镇 no population: W = 1000/1500, 500/1500
    assert r.weights == pytest.approx({"甲镇": 2 / 3, "乙镇": 1 / 3})
    assert math.fsum(r.weights.values()) == pytest.approx(1)
    assert r.rate == pytest.approx(2 / 3 * 0.9 + 1 / 3 * 0.6)  # 0.8
    assert r.rate == pytest.approx(0.8)
    # Σ W² p(1−p)/n (1 − n/N) = 4/9·0.09/50·0.95 + 1/9·0.24/50·0.90 = 0.01116/9 = 0.00124
    variance = (4 / 9) * 0.9 * 0.1 / 50 * (1 - 50 / 1000) + (1 / 9) * 0.6 * 0.4 / 50 * (
        1 - 50 / 500
    )
    assert variance == pytest.approx(0.00124)
    half = Z95 * math.sqrt(0.00124)  # 0.069017…
    assert half == pytest.approx(0.069017, abs=1e-6)
    assert r.ci_low == pytest.approx(0.8 - half, rel=1e-6)
    assert r.ci_high == pytest.approx(0.8 + half, rel=1e-6)
    # populated groups without answers, in the order of the populations; 己镇 has none
    assert r.missing_groups == ("丙镇", "戊镇")


def test_groups_without_population_are_ignored():
    with_extra = post_stratified_rate(
        {"A": (8, 10), "B": (1, 10), "C": (0, 10)}, {"A": 100, "C": 0, "D": -5}
    )
    alone = post_stratified_rate({"A": (8, 10)}, {"A": 100})
    assert with_extra == alone
    assert with_extra.weights == {"A": 1.0} and with_extra.rate == pytest.approx(0.8)
    assert with_extra.missing_groups == ()


def test_census_has_no_sampling_error():
    r = post_stratified_rate({"A": (8, 10), "B": (20, 20)}, {"A": 10, "B": 15})
    # n ≥ N: the finite-population correction is 0
    assert r.ci_low == r.ci_high == pytest.approx(r.rate)
    assert r.rate == pytest.approx(10 / 25 * 0.8 + 15 / 25 * 1.0)


def test_confidence_level_widens_the_interval():
    groups, populations = {"A": (60, 100), "B": (40, 80)}, {"A": 5000, "B": 3000}
    r90 = post_stratified_rate(groups, populations, confidence=0.90)
    r99 = post_stratified_rate(groups, populations, confidence=0.99)
    assert r90.rate == r99.rate
    assert r99.ci_low < r90.ci_low < r90.rate < r90.ci_high < r99.ci_high


def test_interval_is_clipped_to_zero_and_one():
    r = post_stratified_rate({"A": (1, 2)}, {"A": 1_000_000})
    assert r.ci_low == 0.0 and r.ci_high == 1.0


@pytest.mark.parametrize(
    ("groups", "populations"),
    [
        ({}, {}),
        ({"A": (5, 10)}, {}),
        ({"A": (5, 10)}, {"B": 100}),
        ({"A": (0, 0)}, {"A": 100}),
        ({"A": (5, 10)}, {"A": 0}),
        ({"A": (5, 10)}, {"A": -3}),
    ],
)
def test_nothing_usable_is_an_error(groups, populations):
    with pytest.raises(ValueError, match="at least one group with a population"):
        post_stratified_rate(groups, populations)


def test_all_satisfied_stays_within_zero_and_one():
    r = post_stratified_rate({"g0": (5, 5), "g1": (5, 5)}, {"g0": 753_754, "g1": 168_011})
    assert r.rate <= 1.0
    assert r.ci_low <= r.rate <= r.ci_high


def test_satisfied_above_valid_is_an_error():
    with pytest.raises(ValueError, match="satisfied"):
        post_stratified_rate({"A": (150, 100)}, {"A": 100})


@st.composite
def _strata(draw):
    names = draw(st.lists(st.sampled_from("ABCDEFGH"), min_size=1, max_size=6, unique=True))
    groups, populations = {}, {}
    for g in names:
        valid = draw(st.integers(1, 500))
        groups[g] = (draw(st.integers(0, valid)), valid)
        populations[g] = draw(st.integers(1, 1_000_000))
    return groups, populations


@settings(max_examples=300, deadline=None)
@given(strata=_strata())
def test_rate_lies_between_group_rates(strata):
    groups, populations = strata
    r = post_stratified_rate(groups, populations)
    rates = [s / v for s, v in groups.values()]
    # a weighted mean; 1e-12 allows for rounding in Σ W_g
    assert min(rates) - 1e-12 <= r.rate <= max(rates) + 1e-12
    assert math.fsum(r.weights.values()) == pytest.approx(1, abs=1e-12)
    assert set(r.weights) == set(groups)
    assert all(w > 0 for w in r.weights.values())
    assert r.ci_low <= r.rate + 1e-12 and r.rate - 1e-12 <= r.ci_high
    assert r.ci_low >= 0 and r.ci_high <= 1
    assert r.missing_groups == ()


# --- read_table --------------------------------------------------------------------------------

CSV_TEXT = "乡镇, 满意度 ,编号\n甲镇,满意,007\n乙镇,,010\n"


def _expect_table(frame):
    assert list(frame.columns) == ["乡镇", "满意度", "编号"]
    assert frame.to_dict("records") == [
        {"乡镇": "甲镇", "满意度": "满意", "编号": "007"},
        {"乡镇": "乙镇", "满意度": "", "编号": "010"},
    ]


def test_read_table_gbk_csv():
    data = CSV_TEXT.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    _expect_table(read_table(data, "导出.csv"))


def test_read_table_utf8_bom_csv():
    data = CSV_TEXT.encode("utf-8-sig")
    assert data.startswith(b"\xef\xbb\xbf")
    _expect_table(read_table(data))  # no BOM left on the first header


def test_read_table_utf8_csv_from_a_path(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(CSV_TEXT.encode("utf-8"))
    _expect_table(read_table(path))


def test_read_table_xlsx():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["乡镇", " 满意度 ", "编号"])
    ws.append(["甲镇", "满意", "007"])
    ws.append(["乙镇", None, "010"])
    buffer = io.BytesIO()
    wb.save(buffer)
    _expect_table(read_table(buffer.getvalue(), "data.xlsx"))


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.csv", "empty"),
        (b"\x80\xff", "a.csv", "neither UTF-8 nor GBK"),
        (b"a,b\n1,2\n", "a.xlsx", "not a valid Excel workbook"),
        (b"a, b,a \n1,2,3\n", "a.csv", "same header"),
    ],
)
def test_read_table_errors(data, name, message):
    with pytest.raises(WjxFormatError, match=message):
        read_table(data, name)


def test_read_table_rejects_exactly_repeated_headers():
    with pytest.raises(WjxFormatError, match="same header"):
        read_table("满意度,满意度\n满意,一般\n".encode(), "a.csv")
