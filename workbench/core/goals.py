"""Performance goals (绩效目标): goal indicators, their completion check, and table import.

A goal indicator has a category path (一级/二级/三级), a nature (指标性质: ≥ ≤ = > < or 定性),
a target value (指标值), a unit (计量单位), the actual value (实际完成值) and, when missed, the
reason (偏差原因). Quantitative targets are numbers; a trailing ``%`` is allowed and kept as the
unit.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
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
    "≧": GoalNature.GE,
    "≦": GoalNature.LE,
    "<＝": GoalNature.LE,
    "＜＝": GoalNature.LE,
    ">＝": GoalNature.GE,
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


#: comparators that may lead a 申报表 指标值 ("≥1.2万亩"), longest first
_LEADING_COMPARATORS = sorted(
    (
        symbol
        for symbol, nature in _NATURE_ALIASES.items()
        if nature is not GoalNature.QUALITATIVE and symbol not in {n.value for n in GoalNature}
    ),
    key=len,
    reverse=True,
)
_DATE = re.compile(
    r"^(?P<y>\d{4})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*(?P<d>\d{1,2})\s*日?$"
)
_MONTH = re.compile(r"^(?P<y>\d{4})\s*(?:年|[-/])\s*(?P<m>\d{1,2})\s*月?(?:底|末)?$")
_NUMBER_UNIT = re.compile(r"^(?P<number>[+-]?\d[\d,，]*(?:\.\d+)?|[+-]?\.\d+)\s*(?P<unit>\D.*)?$")
#: how long a unit may be; anything longer after a number is prose, not a unit
_MAX_UNIT = 6
#: trailing words that act as a comparator: "95%以上" is ≥ 95 %
_TRAILING_COMPARATORS = (
    ("及以上", GoalNature.GE),
    ("以上", GoalNature.GE),
    ("及以下", GoalNature.LE),
    ("以下", GoalNature.LE),
)


class ValueKind(enum.StrEnum):
    """What a 指标值 cell holds."""

    NUMBER = "number"  # 1.2 (with a unit such as 万亩, 万元, %)
    DATE = "date"  # 2025年12月31日
    TEXT = "text"  # 明显改善: qualitative


@dataclass(frozen=True)
class DeclaredValue:
    """A 指标值 as written in a 申报表, split into its parts.

    ``number`` is the figure *as displayed* (``"1.2"`` of ``"≥1.2万亩"``): a 万 stays in the
    unit (``"万亩"``), it is never multiplied out, so that tables print what the 申报表 said.
    A date target keeps its text in ``number`` in ISO form (``"2025-12-31"``) and has no unit.
    """

    comparator: GoalNature | None  # None when the cell carries none
    kind: ValueKind
    number: str  # the number, the ISO date, or the text itself
    unit: str


def parse_date(text: object) -> dt.date | None:
    """A date written as ``2025年12月31日``, ``2025-12-31`` or ``2025/12/31``; a month
    (``2025年12月``, ``2025年12月底``) means its last day; ``None`` if not a date.

    >>> parse_date("2025年12月31日"), parse_date("2025年6月底"), parse_date("95")
    (datetime.date(2025, 12, 31), datetime.date(2025, 6, 30), None)
    """
    raw = "" if text is None else str(text).strip()
    match = _DATE.match(raw)
    try:
        if match:
            return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
        match = _MONTH.match(raw)
        if match:
            year, month = int(match["y"]), int(match["m"])
            if not 1 <= month <= 12:
                return None
            first_next = dt.date(year + month // 12, month % 12 + 1, 1)
            return first_next - dt.timedelta(days=1)
    except ValueError:
        return None
    return None


def _take_comparator(raw: str) -> tuple[GoalNature | None, str]:
    for symbol in _LEADING_COMPARATORS:
        if raw.startswith(symbol):
            return _NATURE_ALIASES[symbol], raw[len(symbol) :].strip()
    return None, raw


def parse_declared_value(text: object) -> DeclaredValue:
    """Split a 申报表 指标值 into comparator, number (or date) and unit; anything else is text.

    Raises ``ValueError`` when the cell starts with a comparator but what follows is neither
    a number nor a date (e.g. ``"≥较好"``): a comparator promises a measurable target.

    >>> v = parse_declared_value("≥1.2万亩")
    >>> v.comparator, v.number, v.unit
    (<GoalNature.GE: 'ge'>, '1.2', '万亩')
    >>> parse_declared_value("≤2025年12月31日").number
    '2025-12-31'
    >>> parse_declared_value("明显改善").kind
    <ValueKind.TEXT: 'text'>
    """
    raw = "" if text is None else " ".join(str(text).split()).removeprefix("'")
    comparator, rest = _take_comparator(raw)
    date = parse_date(rest)
    if date is not None:
        return DeclaredValue(comparator, ValueKind.DATE, date.isoformat(), "")
    match = _NUMBER_UNIT.match(rest)
    unit = (match["unit"] or "").strip() if match else ""
    for words, nature in _TRAILING_COMPARATORS:
        if match and comparator is None and unit.endswith(words):
            unit, comparator = unit.removesuffix(words).strip(), nature
            break
    if match and len(unit) <= _MAX_UNIT and not any(c.isdigit() for c in unit):
        number = match["number"].replace(",", "").replace("，", "")
        to_decimal(number)  # a well-formed number; raises otherwise
        unit = "%" if unit == "％" else unit
        return DeclaredValue(comparator, ValueKind.NUMBER, number, unit)
    if comparator is not None:
        raise ValueError(f"not a measurable value after the comparator: {rest!r}")
    return DeclaredValue(None, ValueKind.TEXT, raw, "")


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
    >>> goal_status(GoalNature.LE, "2025-12-31", "2025年11月30日")
    <GoalStatus.MET: 'met'>
    """
    if nature is GoalNature.QUALITATIVE:
        return GoalStatus.UNKNOWN
    t: Decimal | dt.date | None
    a: Decimal | dt.date | None
    t, a = parse_date(target), parse_date(actual)
    if t is None or a is None:  # not a date target: compare numbers
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
#: 指标性质 is not required: real 申报表 write the comparator into the value ("≥95%")
REQUIRED_GOAL_COLUMNS = ("level1", "name", "target_value")
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
    """Check one non-blank row; return the row or the errors found in it.

    The 指标值 may carry its comparator, number, 万 and unit in one cell (``"≥1.2万亩"``); an
    explicit 指标性质 or 计量单位 column must agree with it.
    """
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
    column_nature = parse_nature(values["nature"]) if values.get("nature") else None
    if values.get("nature") and column_nature is None:
        err(
            "nature",
            N_("“{value}” is not a valid nature; use ≥, ≤, =, >, < or 定性."),
            value=values["nature"],
        )
    if errors:
        return None, errors
    target_text = values["target_value"]
    try:
        declared = parse_declared_value(target_text)
    except ValueError:
        err(
            "target_value",
            N_("“{value}” has a comparator but no number or date after it."),
            value=target_text,
        )
        return None, errors
    if (
        column_nature is not None
        and declared.comparator is not None
        and column_nature is not declared.comparator
    ):
        err(
            "nature",
            N_("“{value}” contradicts the comparator in the target value “{target}”."),
            value=values["nature"],
            target=target_text,
        )
        return None, errors
    nature = column_nature or declared.comparator
    if nature is None:
        nature = GoalNature.QUALITATIVE if declared.kind is ValueKind.TEXT else GoalNature.EQ
    column_unit = values.get("unit", "").replace("％", "%")
    if nature is GoalNature.QUALITATIVE:
        return _goal_row(
            values, nature, target_text, column_unit, values.get("actual_value", "")
        ), []
    if declared.kind is ValueKind.TEXT:
        err(
            "target_value",
            N_("“{value}” is not a number (a quantitative indicator needs one)."),
            value=target_text,
        )
        return None, errors
    unit = _merge_unit(declared.unit, column_unit)
    if unit is None:
        err(
            "unit",
            N_("The unit “{unit}” differs from the unit in the target value “{target}”."),
            unit=column_unit,
            target=target_text,
        )
        return None, errors
    actual = _actual_value(values.get("actual_value", ""), declared.kind, unit)
    if actual is None:
        err(
            "actual_value",
            N_("“{value}” is not a {kind} in the unit “{unit}” (as the target value is)."),
            value=values["actual_value"],
            kind=_KIND_WORDS[declared.kind],
            unit=unit or "-",
        )
        return None, errors
    return _goal_row(values, nature, _shown(declared), unit, actual), []


#: words for the expected kind of value in an error message (kept Chinese: the messages are)
_KIND_WORDS = {ValueKind.NUMBER: "数值", ValueKind.DATE: "日期", ValueKind.TEXT: "文字"}


def _merge_unit(parsed: str, column: str) -> str | None:
    """The unit of a row from the value's own unit and the 计量单位 column; ``None`` when
    they disagree. ``"1.2万"`` with the column ``"亩"`` is ``"万亩"``."""
    if not parsed or parsed == column:
        return parsed or column
    if not column:
        return parsed
    if parsed == "万":
        return column if column.startswith("万") else "万" + column
    return None


def _shown(value: DeclaredValue) -> str:
    """The target as stored: the number as displayed, or a date as ``2025年12月31日``."""
    if value.kind is ValueKind.DATE:
        date = dt.date.fromisoformat(value.number)
        return f"{date.year}年{date.month}月{date.day}日"
    return value.number


def _actual_value(text: str, kind: ValueKind, unit: str) -> str | None:
    """The 实际完成值 in the target's kind and unit; ``""`` when blank, ``None`` when wrong."""
    if not text:
        return ""
    try:
        actual = parse_declared_value(text)
    except ValueError:
        return None
    if actual.comparator is not None or actual.kind is not kind:
        return None
    if actual.unit and _merge_unit(actual.unit, unit) != unit:
        return None
    return _shown(actual)


def _goal_row(
    values: dict[str, str], nature: GoalNature, target: str, unit: str, actual: str
) -> GoalRow:
    return GoalRow(
        level1=values["level1"],
        level2=values.get("level2", ""),
        name=values["name"],
        nature=nature,
        target_value=target,
        unit=unit,
        actual_value=actual,
        deviation_reason=values.get("deviation_reason", ""),
    )
