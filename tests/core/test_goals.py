import pandas as pd
import pytest

from workbench.core.goals import (
    GoalNature,
    GoalStatus,
    goal_status,
    parse_goal_table,
    parse_nature,
    split_value,
)

HEADERS = [
    "一级指标",
    "二级指标",
    "三级指标",
    "指标性质",
    "指标值",
    "计量单位",
    "实际完成值",
    "偏差原因",
]


def frame(rows: list[list[str]], headers: list[str] = HEADERS) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=headers, dtype=str)


@pytest.mark.parametrize(
    ("text", "nature"),
    [
        ("≥", GoalNature.GE),
        (">=", GoalNature.GE),
        ("大于等于", GoalNature.GE),
        ("≤", GoalNature.LE),
        ("=", GoalNature.EQ),
        ("＝", GoalNature.EQ),
        ("定性", GoalNature.QUALITATIVE),
        (" > ", GoalNature.GT),
        ("about", None),
    ],
)
def test_parse_nature(text: str, nature: GoalNature | None) -> None:
    assert parse_nature(text) is nature


@pytest.mark.parametrize(
    ("nature", "target", "actual", "status"),
    [
        (GoalNature.GE, "95%", "97.2%", GoalStatus.MET),
        (GoalNature.GE, "90", "83.3", GoalStatus.NOT_MET),
        (GoalNature.LE, "9.5", "9.18", GoalStatus.MET),
        (GoalNature.EQ, "3", "3.0", GoalStatus.MET),
        (GoalNature.LT, "3", "3", GoalStatus.MET),  # < is judged like ≤, as it is scored
        (GoalNature.GE, "90", "", GoalStatus.UNKNOWN),
        (GoalNature.GE, "90", "较好", GoalStatus.UNKNOWN),
        (GoalNature.QUALITATIVE, "建立健全", "已建立", GoalStatus.UNKNOWN),
    ],
)
def test_goal_status(nature: GoalNature, target: str, actual: str, status: GoalStatus) -> None:
    assert goal_status(nature, target, actual) is status


def test_split_value_keeps_percent_as_unit() -> None:
    assert split_value("95 %") == (pytest.approx(95), "%")
    with pytest.raises(ValueError, match="number"):
        split_value("九十五")


def test_valid_table_imports_every_row() -> None:
    rows, errors = parse_goal_table(
        frame(
            [
                ["产出指标", "数量指标", "新建管网长度", "≥", "120", "公里", "126.5", ""],
                ["产出指标", "质量指标", "水质达标率", ">=", "95%", "", "97.2%", ""],
                ["", "", "", "", "", "", "", ""],  # blank rows are skipped
                ["效益指标", "可持续影响指标", "管护机制", "定性", "建立健全", "", "已建立", ""],
            ]
        )
    )
    assert errors == []
    assert [r.name for r in rows] == ["新建管网长度", "水质达标率", "管护机制"]
    assert rows[1].nature is GoalNature.GE
    assert rows[1].unit == "%"  # taken from the value when the unit column is empty


def test_one_bad_row_rejects_the_whole_table_with_row_numbers() -> None:
    rows, errors = parse_goal_table(
        frame(
            [
                ["产出指标", "数量指标", "新建管网长度", "≥", "120", "公里", "", ""],
                ["产出指标", "数量指标", "", "约", "很多", "", "", ""],
                ["效益指标", "", "受益人口", "≥", "4.2", "万人", "四万", ""],
            ]
        )
    )
    assert rows == []
    found = {(e.row, e.column) for e in errors}
    # header is spreadsheet row 1, so the data rows are 2, 3, 4
    assert (3, "三级指标") in found
    assert (3, "指标性质") in found
    assert (4, "实际完成值") in found
    assert not any(e.row == 2 for e in errors)
    assert "约" in next(e.render() for e in errors if e.column == "指标性质")


def test_missing_required_column_is_reported() -> None:
    rows, errors = parse_goal_table(frame([["产出指标", "x"]], headers=["一级指标", "三级指标"]))
    assert rows == []
    # 指标性质 may be missing: real 申报表 write the comparator into the value ("≥95%")
    assert {e.column for e in errors} == {"指标值"}


def test_headers_are_matched_by_name_not_position() -> None:
    shuffled = ["指标值", "三级指标", "一级指标", "指标性质"]
    rows, errors = parse_goal_table(frame([["5", "座数", "产出指标", "="]], headers=shuffled))
    assert errors == []
    assert rows[0].target_value == "5" and rows[0].name == "座数"


def test_overlong_text_is_an_error() -> None:
    rows, errors = parse_goal_table(frame([["产出指标", "", "x" * 201, "定性", "好", "", "", ""]]))
    assert rows == [] and errors[0].column == "三级指标"


# --- real 申报表 values (issue #15) ------------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from workbench.core.goals import (  # noqa: E402
    DeclaredValue,
    ValueKind,
    parse_declared_value,
)

DECLARED = ["一级指标", "二级指标", "三级指标", "指标值", "实际完成值"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("≥1.2万亩", DeclaredValue(GoalNature.GE, ValueKind.NUMBER, "1.2", "万亩")),
        ("≤90万元", DeclaredValue(GoalNature.LE, ValueKind.NUMBER, "90", "万元")),
        ("≤2025年12月31日", DeclaredValue(GoalNature.LE, ValueKind.DATE, "2025-12-31", "")),
        ("100%", DeclaredValue(None, ValueKind.NUMBER, "100", "%")),
        ("≥95%", DeclaredValue(GoalNature.GE, ValueKind.NUMBER, "95", "%")),
        ("＞＝ 95 ％", DeclaredValue(GoalNature.GE, ValueKind.NUMBER, "95", "%")),
        (">=1,200人次", DeclaredValue(GoalNature.GE, ValueKind.NUMBER, "1200", "人次")),
        ("=3座", DeclaredValue(GoalNature.EQ, ValueKind.NUMBER, "3", "座")),
        ("不低于90%", DeclaredValue(GoalNature.GE, ValueKind.NUMBER, "90", "%")),
        ("2025-06-30", DeclaredValue(None, ValueKind.DATE, "2025-06-30", "")),
        ("2025.6.30", DeclaredValue(None, ValueKind.DATE, "2025-06-30", "")),
        ("≤2025年6月底", DeclaredValue(GoalNature.LE, ValueKind.DATE, "2025-06-30", "")),
        ("1000.00", DeclaredValue(None, ValueKind.NUMBER, "1000.00", "")),
        ("明显改善", DeclaredValue(None, ValueKind.TEXT, "明显改善", "")),
        ("95%以上", DeclaredValue(GoalNature.GE, ValueKind.NUMBER, "95", "%")),
        ("5万元及以下", DeclaredValue(GoalNature.LE, ValueKind.NUMBER, "5", "万元")),
        ("3年以上持续发挥效益", DeclaredValue(None, ValueKind.TEXT, "3年以上持续发挥效益", "")),
    ],
)
def test_parse_declared_value(text: str, expected: DeclaredValue) -> None:
    assert parse_declared_value(text) == expected


def test_comparator_without_a_measurable_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="measurable"):
        parse_declared_value("≥较好")


_UNITS = st.sampled_from(["", "%", "万亩", "万元", "亩", "人次", "个", "公里"])
_COMPARATORS = st.sampled_from(["≥", "≤", "=", ">", "<", ">=", "<=", ""])


@given(
    comparator=_COMPARATORS,
    number=st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
    unit=_UNITS,
)
def test_declared_number_round_trips(comparator: str, number: object, unit: str) -> None:
    parsed = parse_declared_value(f"{comparator}{number}{unit}")
    assert parsed.kind is ValueKind.NUMBER
    assert parsed.number == str(number) and parsed.unit == unit
    assert parsed.comparator is (parse_nature(comparator) if comparator else None)


@given(st.dates(min_value=__import__("datetime").date(1990, 1, 1)), _COMPARATORS)
def test_declared_date_round_trips(date: object, comparator: str) -> None:
    text = f"{comparator}{date.year}年{date.month}月{date.day}日"  # type: ignore[attr-defined]
    parsed = parse_declared_value(text)
    assert parsed.kind is ValueKind.DATE and parsed.number == str(date)


def test_real_declaration_table_imports_comparator_unit_and_text() -> None:
    rows, errors = parse_goal_table(
        frame(
            [
                ["产出指标", "数量指标", "高标准农田建设面积", "≥1.2万亩", "1.25万亩"],
                ["成本指标", "经济成本指标", "亩均建设成本", "≤90万元", "88"],
                ["产出指标", "时效指标", "完工时间", "≤2025年12月31日", "2025-11-30"],
                ["产出指标", "质量指标", "验收合格率", "100%", "100%"],
                ["满意度指标", "服务对象满意度", "农户满意度", "≥95%", ""],
                ["效益指标", "生态效益", "农田生态环境", "明显改善", "有所改善"],
            ],
            headers=DECLARED,
        )
    )
    assert errors == []
    got = [(r.nature, r.target_value, r.unit, r.actual_value) for r in rows]
    assert got == [
        (GoalNature.GE, "1.2", "万亩", "1.25"),
        (GoalNature.LE, "90", "万元", "88"),
        (GoalNature.LE, "2025年12月31日", "", "2025年11月30日"),
        (GoalNature.EQ, "100", "%", "100"),
        (GoalNature.GE, "95", "%", ""),
        (GoalNature.QUALITATIVE, "明显改善", "", "有所改善"),
    ]
    assert goal_status(rows[0].nature, rows[0].target_value, rows[0].actual_value) is (
        GoalStatus.MET
    )
    assert goal_status(rows[2].nature, rows[2].target_value, rows[2].actual_value) is (
        GoalStatus.MET
    )


def test_unit_column_combines_with_wan_and_must_agree() -> None:
    headers = ["一级指标", "三级指标", "指标值", "计量单位"]
    rows, errors = parse_goal_table(frame([["产出指标", "面积", "≥1.2万", "亩"]], headers=headers))
    assert errors == [] and (rows[0].target_value, rows[0].unit) == ("1.2", "万亩")
    rows, errors = parse_goal_table(
        frame([["产出指标", "面积", "≥1.2万亩", "公里"]], headers=headers)
    )
    assert rows == [] and errors[0].column == "计量单位" and errors[0].row == 2


def test_unparseable_rows_are_listed_and_nothing_is_imported() -> None:
    rows, errors = parse_goal_table(
        frame(
            [
                ["产出指标", "数量指标", "面积", "≥1.2万亩", "1.3万亩"],
                ["产出指标", "数量指标", "长度", "≥较多", ""],
                ["产出指标", "时效指标", "完工时间", "≤2025年12月31日", "12月底前"],
                ["产出指标", "数量指标", "座数", "≥3座", "3公里"],
            ],
            headers=DECLARED,
        )
    )
    assert rows == []
    assert [(e.row, e.column) for e in errors] == [
        (3, "指标值"),
        (4, "实际完成值"),
        (5, "实际完成值"),
    ]


def test_nature_column_must_agree_with_the_comparator_in_the_value() -> None:
    headers = ["一级指标", "三级指标", "指标性质", "指标值"]
    rows, errors = parse_goal_table(frame([["产出指标", "面积", "≤", "≥1.2万亩"]], headers=headers))
    assert rows == [] and errors[0].column == "指标性质"
    rows, errors = parse_goal_table(frame([["产出指标", "面积", "≥", "≥1.2万亩"]], headers=headers))
    assert errors == [] and rows[0].nature is GoalNature.GE
