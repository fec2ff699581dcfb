"""Report tables and the quality checks a finance bureau applies before accepting a report.

No Flask, no database: the report context is plain data, so the checks run on exactly what
will be printed (strings with two decimals), not on the numbers behind them.

Checks (``shared/domain`` §3.4, 中介机构绩效评价报告质量考核):

``sum``        every printed total equals the sum of its printed parts
``grade``      the printed grade is the grade of the printed total
``reason``     every indicator below full marks has a deduction reason
``section``    every outline section has content
``recommend``  every problem has at least one recommendation
``scored``     every applicable indicator is assessed and scored: one problem
               "N 项指标尚未评价：…" lists the leaves nobody has assessed yet
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation


@dataclass
class SumRule:
    """``rows[total_row][column]`` must equal the sum of ``rows[i][column]`` for ``parts``."""

    total_row: int
    column: int
    parts: list[int]
    label: str = ""


@dataclass
class TableSpec:
    """A report table as printed: header row(s) and body rows of text."""

    headers: list[list[str]]
    rows: list[list[str]]
    #: relative column widths (cm); empty = equal
    widths: list[float] = field(default_factory=list)
    #: columns whose equal consecutive cells are merged vertically (indicator levels)
    merge_columns: list[int] = field(default_factory=list)
    sums: list[SumRule] = field(default_factory=list)
    #: body rows printed in bold (totals)
    bold_rows: list[int] = field(default_factory=list)
    #: columns aligned right (numbers)
    numeric_columns: list[int] = field(default_factory=list)
    name: str = ""


@dataclass(frozen=True)
class Problem:
    """One failed check: what, where, and the page that fixes it (a link key)."""

    check: str
    message: str
    fix: str = ""  # e.g. "scores", "findings", "engagement", "goals"
    #: the message's parts, for a translated rendering (keys depend on ``check``)
    params: tuple[tuple[str, str], ...] = ()


def _number(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").replace("%", "").strip()
    if not cleaned or cleaned in ("—", "-"):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def check_sums(table: TableSpec) -> list[Problem]:
    """Printed totals against their printed parts.

    >>> t = TableSpec([["a", "b"]], [["x", "1.10"], ["y", "2.21"], ["合计", "3.30"]],
    ...               sums=[SumRule(2, 1, [0, 1], "表1")])
    >>> [p.message for p in check_sums(t)]
    ['表1: printed total 3.30 ≠ sum of printed parts 3.31']
    """
    problems = []
    for rule in table.sums:
        total = _number(table.rows[rule.total_row][rule.column])
        parts = [_number(table.rows[i][rule.column]) for i in rule.parts]
        known = [p for p in parts if p is not None]
        if total is None and not known:
            continue
        if total is None or sum(known, Decimal(0)) != total:
            problems.append(
                Problem(
                    "sum",
                    f"{rule.label or table.name}: printed total "
                    f"{table.rows[rule.total_row][rule.column]}"
                    f" ≠ sum of printed parts {sum(known, Decimal(0))}",
                    "scores",
                    (
                        ("where", rule.label or table.name),
                        ("total", table.rows[rule.total_row][rule.column]),
                        ("parts", str(sum(known, Decimal(0)))),
                    ),
                )
            )
    return problems


def run_checks(
    context: Mapping[str, object],
    tables: Sequence[TableSpec],
    grade_of: Callable[[Decimal], str],
) -> list[Problem]:
    """All checks on a report context (see :mod:`workbench.reports.context` for its keys)."""
    problems: list[Problem] = []
    for table in tables:
        problems += check_sums(table)
    total = context.get("total")
    printed_grade = context.get("grade")
    unscored = [str(x) for x in context.get("unscored", []) or []]  # type: ignore[union-attr]
    if unscored:  # blocking: nothing is printed for them, least of all full marks
        items = "、".join(unscored)
        problems.append(
            Problem(
                "scored",
                f"{len(unscored)} 项指标尚未评价：{items}",
                "scores",
                (("n", str(len(unscored))), ("items", items)),
            )
        )
    if not total or not printed_grade:
        if not unscored:  # (when leaves are unassessed, the problem above names them)
            problems.append(
                Problem(
                    "scored",
                    "the indicator system is not completely scored",
                    "scores",
                    (("item", ""),),
                )
            )
    else:
        expected = grade_of(Decimal(str(total)))
        if expected != printed_grade:
            message = f"total {total} is graded {expected}, printed {printed_grade}"
            params = (
                ("total", str(total)),
                ("expected", expected),
                ("printed", str(printed_grade)),
            )
            problems.append(Problem("grade", message, "", params))
    for item in context.get("missing_reasons", []) or []:  # type: ignore[union-attr]
        message = f"{item}: below full marks without a reason"
        problems.append(Problem("reason", message, "scores", (("item", item),)))
    for section, filled in (context.get("sections") or {}).items():  # type: ignore[union-attr]
        if not filled:
            message = f"section “{section}” has no content"
            problems.append(Problem("section", message, "findings", (("section", section),)))
    for problem in context.get("problems", []) or []:  # type: ignore[union-attr]
        if not problem.get("recommended"):  # type: ignore[union-attr]
            number, title = str(problem.get("number")), str(problem.get("title"))  # type: ignore[union-attr]
            message = f"problem {number} “{title}” has no recommendation"
            params = (("number", number), ("title", title))
            problems.append(Problem("recommend", message, "findings", params))
    return problems
