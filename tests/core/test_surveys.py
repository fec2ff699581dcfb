import io
import math
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.surveys import (
    MeasureKind,
    SurveyLink,
    WjxFormatError,
    cronbach_alpha,
    duration_seconds,
    likert_summary,
    pooled_rate,
    post_stratified_rate,
    question_number,
    read_wjx,
    sample_size,
    satisfaction_rate,
    survey_measure,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "wenjuanxing"
needs_fixtures = pytest.mark.skipif(not FIXTURES.exists(), reason="shared/fixtures not beside")


def test_sample_size_matches_the_textbook():
    assert sample_size() == 385  # 1.96² · 0.25 / 0.05² = 384.16
    assert sample_size(population=1000) == 278  # 384.16 / (1 + 383.16 / 1000)
    assert sample_size(margin=0.1) == 97
    with pytest.raises(ValueError, match="strictly between"):
        sample_size(margin=0)


def test_wilson_interval_by_hand():
    r = satisfaction_rate(87, 100)
    z = 1.959963984540054
    centre = (0.87 + z * z / 200) / (1 + z * z / 100)
    half = z * math.sqrt(0.87 * 0.13 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert r.ci_low == pytest.approx(centre - half) and r.ci_high == pytest.approx(centre + half)
    edge = satisfaction_rate(10, 10)
    assert edge.rate == 1 and edge.ci_high == 1 and edge.ci_low < 1


def test_cronbach_alpha_by_hand_and_listwise_deletion():
    df = pd.DataFrame(
        {"q1": [1, 2, 3, 4, 5, None], "q2": [2, 2, 3, 5, 5, 4], "q3": [1, 3, 3, 4, 4, 2]}
    )
    result = cronbach_alpha(df)
    # item variances 2.5 + 2.3 + 1.5 = 6.3; total variance 17.3 → 1.5 · (1 − 6.3/17.3)
    assert result.alpha == pytest.approx(1.5 * (1 - 6.3 / 17.3))
    assert result.dropped == 1 and result.n == 5 and result.k == 3
    assert result.ci[0] < result.alpha < result.ci[1]


def test_likert_summary_excludes_dont_know_and_blanks():
    answers = (
        ["非常满意"] * 30
        + ["满意"] * 50
        + ["一般"] * 15
        + ["不满意"] * 5
        + ["不了解"] * 7
        + [""] * 3
    )
    s = likert_summary(answers)
    assert s.valid == 100 and s.dont_know == 7 and s.missing == 3
    assert s.rate.rate == pytest.approx(0.8)
    assert s.index == pytest.approx((30 * 100 + 50 * 80 + 15 * 60 + 5 * 40) / 100)
    assert s.index_ci[0] < s.index < s.index_ci[1]


def test_durations_and_question_numbers():
    assert duration_seconds("136秒") == 136
    assert duration_seconds("2分5秒") == 125
    assert duration_seconds("1时2分3秒") == 3723
    assert math.isnan(duration_seconds(""))
    assert question_number("13、您对本项目 (矩阵单选题 *必答)—子项") == 13
    assert question_number("第6题(运动)") == 6
    assert question_number("子项") is None


@needs_fixtures
def test_real_text_export():
    data = read_wjx(FIXTURES / "reportgen_800_800_0.xls")
    assert data.flavour == "text"
    assert list(data.meta.columns) == [
        "序号",
        "提交答卷时间",
        "所用时间",
        "来源",
        "来源详情",
        "来自IP",
    ]
    assert data.answers.shape == (800, 8)
    assert "运动┋影视┋购物" in data.answers["6、兴趣爱好"].tolist()
    assert data.meta["所用时间"].isna().all()  # blanked in this anonymised export


@needs_fixtures
def test_real_code_export():
    data = read_wjx(FIXTURES / "reportgen_800_800_2.xls")
    assert data.flavour == "code"
    assert data.answers.shape == (800, 30)
    assert any(c.startswith("第6题(") for c in data.answers.columns)
    values = set(data.answers.to_numpy().ravel())
    assert "-2" not in values and "-3" not in values


def _csv(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


EXPORT = (
    "序号,提交答卷时间,所用时间,来源,来源详情,来自IP,1、您对本项目的总体满意程度,"
    "第2题(A),第2题(B)\n"
    "1,2026/09/03 12:00:00,136秒,手机提交,微信,183.192.16.69(上海-上海),2,1,-3\n"
    "2,2026/09/03 12:05:10,2分5秒,手机提交,直接访问,1.2.3.4(广东-广州),1,-2,1\n"
)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk", "gb18030"])
def test_generated_csv_exports_in_every_encoding(encoding):
    data = read_wjx(_csv(EXPORT, encoding), "export.csv")
    assert data.flavour == "code"
    assert data.meta["所用时间"].tolist() == [136.0, 125.0]
    assert data.meta["提交答卷时间"].iloc[1] == pd.Timestamp("2026-09-03 12:05:10")
    assert data.answers["第2题(B)"].tolist() == ["", "1"]  # −3 and −2 are missing


def test_metadata_found_by_name_whatever_the_order():
    shuffled = (
        EXPORT.replace("来源,来源详情,来自IP", "来自IP,来源,来源详情")
        .replace("手机提交,微信,183.192.16.69(上海-上海)", "183.192.16.69(上海-上海),手机提交,微信")
        .replace("手机提交,直接访问,1.2.3.4(广东-广州)", "1.2.3.4(广东-广州),手机提交,直接访问")
    )
    data = read_wjx(_csv(shuffled, "utf-8"), "export.csv")
    assert data.meta["来源"].tolist() == ["手机提交", "手机提交"]


@pytest.mark.parametrize(
    ("payload", "name", "message"),
    [
        (b"", "e.csv", "empty"),
        (b"\xff\xfe\x00garbage\x00\x81", "e.csv", "neither UTF-8 nor GBK"),
        (b"a,b\n1,2\n", "e.csv", "序号"),
        ("序号,提交答卷时间\n1,x\n".encode(), "e.csv", "no question columns"),
        (b"not excel", "e.xlsx", "not a valid Excel"),
        (b"PK\x03\x04broken", "e.xlsx", "could not be read"),
    ],
)
def test_malformed_files_fail_cleanly(payload, name, message):
    with pytest.raises(WjxFormatError, match=message):
        read_wjx(payload, name)


def test_a_huge_cell_is_read_not_crashed():
    text = (
        EXPORT.replace("1,2026/09/03 12:00:00", "1,2026/09/03 12:00:00", 1)
        + "3,,,,,,"
        + "满" * 100_000
        + ",1,1\n"
    )
    data = read_wjx(text.encode("utf-8"), "big.csv")
    assert len(data.answers) == 3


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_rate(case):
    satisfied, valid = case
    r = satisfaction_rate(satisfied, valid)
    assert 0 <= r.ci_low <= r.rate <= r.ci_high <= 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 5), min_size=3, max_size=3), min_size=3, max_size=40))
def test_alpha_is_at_most_one(rows):
    df = pd.DataFrame(rows)
    if np.isclose(df.sum(axis=1).var(ddof=1), 0):
        return
    assert cronbach_alpha(df).alpha <= 1 + 1e-12


def test_io_is_not_needed_for_bytes():
    assert read_wjx(io.BytesIO(EXPORT.encode()).getvalue(), "x.csv").answers.shape == (2, 3)


# --- the measure a survey gives its linked leaf (#14 B) -----------------------------------


def _people(pairs):
    """A pooled summary over respondents: (satisfied, valid) answers per person, 3 items."""
    answers = [level for s, v in pairs for level in ["满意"] * s + ["一般"] * (v - s)]
    summary = likert_summary(answers)
    return replace(summary, rate=pooled_rate(pairs))


def test_the_link_picks_overall_group_or_index_with_a_label():
    town, village = _people([(3, 3)] * 6 + [(0, 3)] * 2), _people([(3, 3)] * 1 + [(0, 3)] * 3)
    everyone = _people([(3, 3)] * 7 + [(0, 3)] * 5)
    groups = {"城区": town, "乡村": village}

    overall = survey_measure(everyone, groups, SurveyLink())
    assert overall.kind is MeasureKind.RATE and overall.label == "满意率（全部受访者）"
    assert overall.rate == Decimal(21) / Decimal(36) and overall.respondents == 12
    assert (overall.satisfied, overall.valid) == (21, 36) and overall.pools_answers

    group = survey_measure(everyone, groups, SurveyLink("rate", "乡村"))
    assert group.kind is MeasureKind.GROUP_RATE and group.label == "“乡村”受访者满意率"
    assert group.rate == Decimal("0.25") and group.respondents == 4 and group.group == "乡村"
    # the interval counts 4 people, not 12 answers: as wide as a rate over 4 respondents
    assert (group.ci_low, group.ci_high) == (village.rate.ci_low, village.rate.ci_high)
    by_answers = satisfaction_rate(3, 12)  # what treating the 12 answers as independent gives
    assert group.ci_high - group.ci_low > by_answers.ci_high - by_answers.ci_low

    index = survey_measure(everyone, groups, SurveyLink("index", "城区"))
    assert index.kind is MeasureKind.GROUP_INDEX and "满意度指数" in index.label
    assert index.rate == Decimal(str(town.index)) / 100 and index.satisfied is None
    assert not index.pools_answers


def test_a_missing_group_gives_no_value_and_an_unknown_measure_is_refused():
    everyone = _people([(3, 3)] * 2)
    missing = survey_measure(everyone, {}, SurveyLink("rate", "无此群体"))
    assert missing.rate is None and missing.respondents == 0
    assert missing.label == "“无此群体”受访者满意率"
    with pytest.raises(ValueError, match="unknown survey measure"):
        survey_measure(everyone, {}, SurveyLink("median"))


def test_the_stratified_measure_weights_the_groups_and_ignores_a_group_link():
    groups = {"A": _people([(1, 1)] * 9 + [(0, 1)]), "B": _people([(1, 1)] + [(0, 1)] * 9)}
    stratified = post_stratified_rate({"A": (9, 10), "B": (1, 10)}, {"A": 900, "B": 100})
    m = survey_measure(None, groups, SurveyLink("stratified", "A"), stratified)
    assert m.kind is MeasureKind.STRATIFIED and m.rate == Decimal(str(stratified.rate))
    assert m.respondents == 20 and m.label.startswith("分层加权满意率")
    assert survey_measure(None, groups, SurveyLink("stratified")).rate is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("第6题(运动)", (6, "运动")),
        ("第8题(ACG文化(动漫、游戏等))", (8, "ACG文化(动漫、游戏等)")),
        ("5(选项A)", (5, "选项A")),
        ("6（子问题1）", (6, "子问题1")),
        ("3、性别", None),
        ("序号", None),
    ],
)
def test_sub_columns_of_an_option_number_export(header, expected):
    from workbench.core.surveys import sub_column

    assert sub_column(header) == expected


def test_sub_columns_are_grouped_under_their_question():
    from workbench.core.surveys import group_columns, question_number

    headers = ["序号", "4、年龄", "5(选项A)", "5(选项B)", "6(子问题1)", "6(子问题2)", "7、其他"]
    groups = group_columns(headers)
    assert [(g.number, [o for _h, o in g.columns]) for g in groups] == [
        (None, [""]),
        (4, [""]),
        (5, ["选项A", "选项B"]),
        (6, ["子问题1", "子问题2"]),
        (7, [""]),
    ]
    assert question_number("5(选项A)") == 5
    assert sum(len(g.columns) for g in groups) == len(headers)  # every column kept once


@needs_fixtures
def test_real_code_export_groups_the_multiple_choice_options():
    from workbench.core.surveys import group_columns, read_wjx

    path = FIXTURES / "reportgen_800_800_2.xls"
    data = read_wjx(path)
    assert data.flavour == "code"
    groups = {g.number: g for g in group_columns(list(data.answers.columns))}
    assert [o for _h, o in groups[6].columns][:2] == ["运动", "阅读"]
    assert len(groups[8].columns) == 10 and groups[8].title == "第8题"
