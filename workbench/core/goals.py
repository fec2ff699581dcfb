"""Performance goals (绩效目标): goal indicators, their completion check, and table import.

A goal indicator has a category path (一级/二级/三级), a nature (指标性质: ≥ ≤ = > < or 定性),
a target value (指标值), a unit (计量单位), the actual value (实际完成值) and, when missed, the
reason (偏差原因). Quantitative targets are numbers; a trailing ``%`` is allowed and kept as the
unit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from workbench.core.messages import N_, Message, RowError
from workbench.core.numbers import to_decimal


class GoalNature(enum.StrEnum):
    """指标性质."""

    GE = "ge"  # ≥
    LE = "le"  # ≤
    EQ = "eq"  # =
    GT = "gt"  # >
    LT = "lt"  # <
    QUALITATIVE = "qualitative"  # 定性


NATURE_SYMBOLS = {
    GoalNature.GE: "≥",
    GoalNature.LE: "≤",
    GoalNature.EQ: "=",
    GoalNature.GT: ">",
    GoalNature.LT: "<",
    GoalNature.QUALITATIVE: "定性",
}

_NATURE_ALIASES = {
    "≥": GoalNature.GE,
    ">=": GoalNature.GE,
    "＞＝": GoalNature.GE,
    "大于等于": GoalNature.GE,
    "不低于": GoalNature.GE,
    "≤": GoalNature.LE,
    "<=": GoalNature.LE,
    "小于等于": GoalNature.LE,
    "不高于": GoalNature.LE,
    "=": GoalNature.EQ,
    "＝": GoalNature.EQ,
    "等于": GoalNature.EQ,
    ">": GoalNature.GT,
    "＞": GoalNature.GT,
    "大于": GoalNature.GT,
    "<": GoalNature.LT,
    "＜": GoalNature.LT,
    "小于": GoalNature.LT,
    "定性": GoalNature.QUALITATIVE,
}
for _nature in GoalNature:
    _NATURE_ALIASES[_nature.value] = _nature


class GoalStatus(enum.StrEnum):
    """Whether a goal indicator was achieved (完成情况)."""

    MET = "met"  # 已完成
    NOT_MET = "not_met"  # 未完成
    UNKNOWN = "unknown"  # 定性 or no actual value: the evaluator judges


def parse_nature(text: object) -> GoalNature | None:
    """Read 指标性质 written as a symbol, its ASCII form or words; ``None`` if unknown.

    >>> parse_nature(">="), parse_nature("定性"), parse_nature("about")
    (<GoalNature.GE: 'ge'>, <GoalNature.QUALITATIVE: 'qualitative'>, None)
    """
    if text is None:
        return None
    # a leading apostrophe is how spreadsheets keep "=" from being read as a formula
    return _NATURE_ALIASES.get(str(text).strip().removeprefix("'").replace(" ", ""))


def split_value(text: object) -> tuple[Decimal | None, str | None]:
    """Split ``"95%"`` into ``(Decimal('95'), '%')``; a plain number has no unit.

    Raises ``ValueError`` when the text is not a number (with an optional trailing ``%``).
    """
    raw = "" if text is None else str(text).strip()
    unit = None
    if raw.endswith(("%", "％")):
        raw, unit = raw[:-1].strip(), "%"
    return to_decimal(raw), unit


#: 指标性质 as written in exported tables; "＝" (full width) because a cell that starts with "="
#: is a formula to Excel.
EXPORT_SYMBOLS = {**NATURE_SYMBOLS, GoalNature.EQ: "＝"}


def export_nature(nature: GoalNature) -> str:
    """The symbol to write in an exported 绩效目标表 (re-importable)."""
    return EXPORT_SYMBOLS[nature]


def export_value(text: str) -> Decimal | str:
    """A plain number as a number (so Excel treats it as one); anything else unchanged."""
    try:
        value = to_decimal(text) if text and not text.endswith(("%", "％")) else None
    except ValueError:
        return text
    return value if value is not None else text


def normalise_percent(target: str, actual: str, unit: str) -> tuple[str, str, str]:
    """Move a trailing ``%`` from the values into the unit: ``("95%", "96.5%", "")`` →
    ``("95", "96.5", "%")``, so that tables never show "95% %".

    >>> normalise_percent("95%", "96.5 %", "%")
    ('95', '96.5', '%')
    >>> normalise_percent("95%", "", "万元")
    ('95%', '', '万元')
    """
    if unit not in ("", "%", "％"):
        return target, actual, unit
    values = [target, actual]
    if not any(v.strip().endswith(("%", "％")) for v in values):
        return target, actual, unit
    stripped = [v.strip().removesuffix("%").removesuffix("％").strip() for v in values]
    return stripped[0], stripped[1], "%"


def goal_status(nature: GoalNature, target: str | None, actual: str | None) -> GoalStatus:
    """Compare the actual value with the target according to the nature.

    Qualitative goals and missing or non-numeric values give ``UNKNOWN``: the evaluator
    judges those.

    >>> goal_status(GoalNature.GE, "95%", "97.5%")
    <GoalStatus.MET: 'met'>
    >>> goal_status(GoalNature.LE, "30", "32")
    <GoalStatus.NOT_MET: 'not_met'>
    """
    if nature is GoalNature.QUALITATIVE:
        return GoalStatus.UNKNOWN
    try:
        t, _ = split_value(target)
        a, _ = split_value(actual)
    except ValueError:
        return GoalStatus.UNKNOWN
    if t is None or a is None:
        return GoalStatus.UNKNOWN
    met = {
        GoalNature.GE: a >= t,
        GoalNature.LE: a <= t,
        GoalNature.EQ: a == t,
        GoalNature.GT: a >= t,  # scored like ≥ (domain §1.6, codes 1/2)
        GoalNature.LT: a <= t,  # scored like ≤ (codes 4/5)
    }[nature]
    return GoalStatus.MET if met else GoalStatus.NOT_MET


@dataclass(frozen=True)
class GoalRow:
    """One goal indicator read from a table, already validated."""

    level1: str
    level2: str
    name: str
    nature: GoalNature
    target_value: str
    unit: str
    actual_value: str
    deviation_reason: str


#: Accepted header names for each field (Chinese template headers, common variants, English).
GOAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "level1": ("一级指标", "一级", "level1", "level 1"),
    "level2": ("二级指标", "二级", "level2", "level 2"),
    "name": ("三级指标", "三级", "指标名称", "indicator", "name"),
    "nature": ("指标性质", "计算符号", "nature"),
    "target_value": ("指标值", "年度指标值", "目标值", "target", "target value"),
    "unit": ("计量单位", "度量单位", "单位", "unit"),
    "actual_value": ("实际完成值", "完成值", "actual", "actual value"),
    "deviation_reason": (
        "偏差原因",
        "偏差原因分析",
        "偏差原因分析及改进措施",
        "未完成原因分析",
        "deviation reason",
    ),
}
REQUIRED_GOAL_COLUMNS = ("level1", "name", "nature", "target_value")
MAX_TEXT = {
    "level1": 50,
    "level2": 50,
    "name": 200,
    "target_value": 100,
    "unit": 30,
    "actual_value": 100,
    "deviation_reason": 2000,
}

# The spreadsheet header is on row 1, so data row i (0-based) is spreadsheet row i + 2.
_HEADER_ROWS = 1


def _normalise_header(text: object) -> str:
    return "".join(str(text).split()).casefold()


def match_goal_columns(headers: Iterable[object]) -> tuple[dict[str, str], list[RowError]]:
    """Map field → header found in the table; report missing required columns."""
    by_norm = {_normalise_header(h): str(h) for h in headers}
    found: dict[str, str] = {}
    for field_name, names in GOAL_COLUMNS.items():
        for name in names:
            if _normalise_header(name) in by_norm:
                found[field_name] = by_norm[_normalise_header(name)]
                break
    errors = [
        RowError(
            1,
            GOAL_COLUMNS[f][0],
            Message(N_("Missing column “{column}”."), {"column": GOAL_COLUMNS[f][0]}),
        )
        for f in REQUIRED_GOAL_COLUMNS
        if f not in found
    ]
    return found, errors


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip().removeprefix("'")


def parse_goal_table(frame: pd.DataFrame) -> tuple[list[GoalRow], list[RowError]]:
    """Validate a 绩效目标表 read into a DataFrame (all cells as read, header row 1).

    Returns all rows, or — when any row is wrong — no rows and every error found, so that the
    caller can import all-or-nothing and show a row-level error list.

    Rules: the required columns (一级指标, 三级指标, 指标性质, 指标值) must be present and filled;
    指标性质 must be one of ≥ ≤ = > < 定性 (or their ASCII/word forms); for a quantitative
    nature, 指标值 and (when given) 实际完成值 must be numbers, optionally ending in %; texts
    must respect the field lengths; fully blank rows are skipped.
    """
    mapping, errors = match_goal_columns(frame.columns)
    if errors:
        return [], errors
    rows: list[GoalRow] = []
    for index, record in enumerate(frame.to_dict(orient="records")):
        values = {f: _cell(record.get(header)) for f, header in mapping.items()}
        if not any(values.values()):
            continue
        row, row_errors = _validate_goal_row(index + 1 + _HEADER_ROWS, values)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    if errors:
        return [], errors
    return rows, []


def _validate_goal_row(line: int, values: dict[str, str]) -> tuple[GoalRow | None, list[RowError]]:
    """Check one non-blank row; return the row or the errors found in it."""
    errors: list[RowError] = []

    def err(field_name: str, template: str, **params: object) -> None:
        column = GOAL_COLUMNS[field_name][0]
        errors.append(RowError(line, column, Message(template, {"column": column, **params})))

    for f in REQUIRED_GOAL_COLUMNS:
        if not values.get(f):
            err(f, N_("“{column}” is required."))
    for f, limit in MAX_TEXT.items():
        if len(values.get(f, "")) > limit:
            err(f, N_("“{column}” is longer than {limit} characters."), limit=limit)
    nature = parse_nature(values["nature"]) if values.get("nature") else None
    if values.get("nature") and nature is None:
        err(
            "nature",
            N_("“{value}” is not a valid nature; use ≥, ≤, =, >, < or 定性."),
            value=values["nature"],
        )
    if nature is not None and nature is not GoalNature.QUALITATIVE:
        for f in ("target_value", "actual_value"):
            if not values.get(f):
                continue
            try:
                split_value(values[f])
            except ValueError:
                err(
                    f,
                    N_("“{value}” is not a number (a quantitative indicator needs one)."),
                    value=values[f],
                )
    if errors or nature is None:
        return None, errors
    target, actual, unit = (
        values["target_value"],
        values.get("actual_value", ""),
        values.get("unit", ""),
    )
    if nature is not GoalNature.QUALITATIVE:
        target, actual, unit = normalise_percent(target, actual, unit)
    return GoalRow(
        level1=values["level1"],
        level2=values.get("level2", ""),
        name=values["name"],
        nature=nature,
        target_value=target,
        unit=unit,
        actual_value=actual,
        deviation_reason=values.get("deviation_reason", ""),
    ), []
