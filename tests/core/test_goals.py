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
    assert {e.column for e in errors} == {"指标性质", "指标值"}


def test_headers_are_matched_by_name_not_position() -> None:
    shuffled = ["指标值", "三级指标", "一级指标", "指标性质"]
    rows, errors = parse_goal_table(frame([["5", "座数", "产出指标", "="]], headers=shuffled))
    assert errors == []
    assert rows[0].target_value == "5" and rows[0].name == "座数"


def test_overlong_text_is_an_error() -> None:
    rows, errors = parse_goal_table(frame([["产出指标", "", "x" * 201, "定性", "好", "", "", ""]]))
    assert rows == [] and errors[0].column == "三级指标"
