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

Checks over the report as printed (:class:`PrintedReport`: the blocks of the built .docx in
reading order; ``workbench.reports.printed`` reads them back), with Chinese messages:

``same``         a score printed in several places is the same string everywhere (blocking)
``text_total``   the total in the text equals the table total or a stated conversion (blocking)
``addressed``    every leaf losing points and every unmet goal has a finding or note (warning)
``placeholder``  no placeholder, "—"-only body, empty heading, caption without table (blocking)
``sample``       an insufficient survey sample is carried into the conclusion (warning)

Every :class:`Problem` has a ``severity``: ``blocking`` stops review and issuing, ``warning``
is shown to the team and the reviewers but blocks nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

BLOCKING = "blocking"
WARNING = "warning"
#: a leaf losing at least this many printed points needs a finding or a note (``addressed``)
DEFAULT_LOSS_THRESHOLD = Decimal("0.5")


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
    #: ``blocking`` (no review or issue until fixed) or ``warning`` (shown, blocks nothing)
    severity: str = BLOCKING


def blocking(problems: Sequence[Problem | Mapping[str, object]]) -> list[object]:
    """The blocking ones of ``problems`` (stored builds keep them as dicts; a stored problem
    without a severity predates warnings and blocks)."""
    return [
        p
        for p in problems
        if (p.severity if isinstance(p, Problem) else p.get("severity", BLOCKING)) == BLOCKING
    ]


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

    A part not yet assessed leaves the total unprinted, and that is no error:

    >>> t.rows = [["x", "1.10"], ["y", "尚未评价"], ["合计", "—"]]
    >>> check_sums(t)
    []
    """
    problems = []
    for rule in table.sums:
        total = _number(table.rows[rule.total_row][rule.column])
        parts = [_number(table.rows[i][rule.column]) for i in rule.parts]
        known = [p for p in parts if p is not None]
        if total is None and (not known or len(known) < len(parts)):
            continue  # a part not yet assessed: no total to print (the ``scored`` check blocks)
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


# --- the report as printed ---------------------------------------------------------------------


@dataclass
class Block:
    """One block of the printed report, in reading order.

    ``kind``: ``heading`` (``level`` 1, 2, …), ``title`` (cover and contents titles),
    ``caption`` (a table caption such as “表1 …”), ``paragraph`` or ``table`` (``rows``: every
    row as printed, header row(s) first). ``image``: the paragraph holds a picture (a chart).
    """

    kind: str
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)
    image: bool = False

    @classmethod
    def heading(cls, level: int, text: str) -> Block:
        return cls("heading", text, level)

    @classmethod
    def para(cls, text: str, image: bool = False) -> Block:
        return cls("paragraph", text, image=image)

    @classmethod
    def caption(cls, text: str) -> Block:
        return cls("caption", text)

    @classmethod
    def table(cls, rows: Sequence[Sequence[str]]) -> Block:
        return cls("table", rows=[list(r) for r in rows])

    @property
    def blank(self) -> bool:
        """Nothing a reader sees: an empty paragraph without a picture."""
        return self.kind == "paragraph" and not self.text.strip() and not self.image


@dataclass
class PrintedReport:
    """The blocks of a report as the reader sees them (see :class:`Block`)."""

    blocks: list[Block]

    def where(self, index: int) -> str:
        """Where block ``index`` stands, as a reader names it: a table by its caption (or the
        heading over it), anything else by the heading over it."""
        block = self.blocks[index]
        if block.kind == "table":
            for k in range(index - 1, -1, -1):
                b = self.blocks[k]
                if b.blank:
                    continue
                if b.kind == "caption":
                    return b.text.strip()
                break
        for k in range(index - 1, -1, -1):
            b = self.blocks[k]
            if b.kind == "heading" and b.text.strip():
                return b.text.strip()
        return "正文开头"

    def section(self, index: int, level: int = 1) -> str:
        """The text of the heading of ``level`` (or above) that block ``index`` stands under."""
        for k in range(index, -1, -1):
            b = self.blocks[k]
            if b.kind == "heading" and b.level <= level and b.text.strip():
                return b.text.strip()
        return ""

    def under(self, contains: str) -> Iterator[tuple[int, Block]]:
        """The blocks under the first heading whose text contains ``contains``, down to the
        next heading of the same or a higher level."""
        inside, level = False, 0
        for k, b in enumerate(self.blocks):
            if b.kind == "heading":
                if inside and b.level <= level:
                    return
                if not inside and contains in b.text:
                    inside, level = True, b.level
                    continue
            if inside:
                yield k, b

    def tables(self, match: Callable[[list[str]], bool]) -> Iterator[tuple[int, Block]]:
        """The tables whose header row satisfies ``match``."""
        for k, b in enumerate(self.blocks):
            if b.kind == "table" and b.rows and match([c.strip() for c in b.rows[0]]):
                yield k, b


def _is_score_table(header: list[str]) -> bool:
    return {"三级指标", "分值", "得分"} <= set(header)


def _is_dimension_table(header: list[str]) -> bool:
    return bool(header) and header[0] == "一级指标" and "得分" in header and len(header) <= 5


def _is_expert_table(header: list[str]) -> bool:
    return bool(header) and header[0] == "指标" and header[-1] == "综合得分"


def _is_goals_table(header: list[str]) -> bool:
    return "完成情况" in header and "三级指标" in header


def _cell(row: list[str], column: int) -> str:
    return row[column].strip() if -len(row) <= column < len(row) else ""


def _is_total(row: list[str]) -> bool:
    return bool(row) and row[0].strip() in ("合计", "总计", "Total")


_FIGURE = r"[\d,]+(?:\.\d+)?"
_LEAF_TEXT = re.compile(
    rf"^\s*\d+\s*[.．、]\s*(?P<name>[^（(]+?)\s*[（(]分值(?P<weight>{_FIGURE})分，"
    rf"得分(?P<score>{_FIGURE}|—)分"
)
_DIMENSION_TEXT = re.compile(
    rf"^\s*(?P<name>[^，。；\s]+?)指标分值(?P<weight>{_FIGURE})分，得分(?P<score>{_FIGURE}|—)分"
)
#: the overall score in a sentence: “…绩效评价得分为X分”, “综合得分X分” (not an indicator's
#: “得分为X分” in a finding's text)
_TOTAL_TEXT = re.compile(rf"(?:评价得分为|综合得分为?)(?P<score>{_FIGURE})分")
_CONVERSION = re.compile(
    rf"适用指标分值(?P<weight>{_FIGURE})分，得分(?P<score>{_FIGURE})分，"
    rf"(?:按“[^”]{{0,30}}”)?折算为百分制得分(?P<converted>{_FIGURE})分"
)
_CODE_AND_NAME = re.compile(r"^[A-Za-z]*\d[\w.\-]*\s+(?P<name>\S.*)$")


def _table_total(report: PrintedReport) -> tuple[str, str, str] | None:
    """``(points, score, where)`` of the total row of the first dimension or score table."""
    for match in (_is_dimension_table, _is_score_table):
        for k, table in report.tables(match):
            header = [c.strip() for c in table.rows[0]]
            for row in table.rows[1:]:
                if _is_total(row):
                    score = _cell(row, header.index("得分"))
                    points = _cell(row, header.index("分值")) if "分值" in header else ""
                    if _number(score) is not None:
                        return points, score, report.where(k)
    return None


def figures(report: PrintedReport) -> list[tuple[str, str, str, str]]:
    """Every printed score: ``(kind, subject, value, where)`` with kind ``leaf`` (an
    indicator), ``dimension``, ``table_total`` or ``text_total``."""
    out: list[tuple[str, str, str, str]] = []
    for k, table in report.tables(_is_score_table):
        header = [c.strip() for c in table.rows[0]]
        name_col, score_col = header.index("三级指标"), header.index("得分")
        for row in table.rows[1:]:
            kind = "table_total" if _is_total(row) else "leaf"
            out.append(
                (
                    kind,
                    "" if kind == "table_total" else _cell(row, name_col),
                    _cell(row, score_col),
                    report.where(k),
                )
            )
    for k, table in report.tables(_is_dimension_table):
        header = [c.strip() for c in table.rows[0]]
        score_col = header.index("得分")
        for row in table.rows[1:]:
            kind = "table_total" if _is_total(row) else "dimension"
            out.append(
                (
                    kind,
                    "" if kind == "table_total" else _cell(row, 0),
                    _cell(row, score_col),
                    report.where(k),
                )
            )
    for k, table in report.tables(_is_expert_table):
        for row in table.rows[1:]:
            label = _cell(row, 0)
            found = _CODE_AND_NAME.match(label)
            out.append(
                (
                    "leaf",
                    found["name"].strip() if found else label,
                    _cell(row, -1),
                    f"{report.where(k)}（综合得分）",
                )
            )
    for k, b in enumerate(report.blocks):
        if b.kind != "paragraph":
            continue
        if found := _LEAF_TEXT.match(b.text):
            out.append(("leaf", found["name"].strip(), found["score"], report.where(k)))
        elif found := _DIMENSION_TEXT.match(b.text):
            out.append(("dimension", found["name"].strip(), found["score"], report.where(k)))
        for found in _TOTAL_TEXT.finditer(b.text):
            out.append(("text_total", "", found["score"], report.where(k)))
    return out


_SUBJECT = {
    "leaf": "指标“{}”的得分",
    "dimension": "一级指标“{}”的得分",
    "table_total": "表格中的合计得分",
    "text_total": "正文中的综合得分",
}


def check_same_figures(report: PrintedReport) -> list[Problem]:
    """A score printed in more than one place is the same string everywhere: an indicator in
    the score table, its paragraph (“分值X分，得分Y分”) and the expert table; a dimension in its
    table and its paragraph; the total in every table, and in every sentence of the text.

    (Whether the text's total matches the tables' is :func:`check_text_total`: the text may
    state a conversion to 100 points.)

    >>> r = PrintedReport([Block.table([["指标", "分值", "甲", "综合得分"],
    ...                                 ["D13 可持续影响", "5.00", "3.50", "3.33"]]),
    ...                    Block.para("3. 可持续影响（分值5.00分，得分3.34分，得分率66.80%）。")])
    >>> [p.message for p in check_same_figures(r)]
    ['指标“可持续影响”的得分在各处不一致：正文开头（综合得分）为3.33，正文开头为3.34']
    """
    places: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for kind, subject, value, where in figures(report):
        if _number(value) is None:
            continue  # “—”: not scored, which ``scored`` reports
        places.setdefault((kind, subject), []).append((value, where))
    problems = []
    for (kind, subject), seen in places.items():
        if len({v for v, _w in seen}) < 2:
            continue
        distinct: list[tuple[str, str]] = []
        for value, where in seen:
            if (value, where) not in distinct:
                distinct.append((value, where))
        listed = "，".join(f"{where}为{value}" for value, where in distinct)
        item = _SUBJECT[kind].format(subject)
        problems.append(
            Problem(
                "same",
                f"{item}在各处不一致：{listed}",
                "scores",
                (("item", item), ("places", listed)),
            )
        )
    return problems


def _round2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def check_text_total(report: PrintedReport) -> list[Problem]:
    """The total the text states (“评价得分为X分”, “综合得分X分”) equals the printed table
    total, or the text states the conversion to 100 points (when indicators are 不适用) in
    the same section:
    “适用指标分值W分，得分S分，折算为百分制得分X分”, with S the table total and X = S ÷ W × 100.

    >>> r = PrintedReport([Block.heading(1, "三、综合评价情况及评价结论"),
    ...                    Block.para("经综合评价，某项目绩效评价得分为88.33分，评价等级为“良”。"),
    ...                    Block.table([["一级指标", "分值", "得分", "得分率"],
    ...                                 ["合计", "90.00", "79.50", "88.33%"]])])
    >>> [p.message for p in check_text_total(r)]  # doctest: +ELLIPSIS
    ['三、综合评价情况及评价结论：正文得分88.33分与表格合计得分79.50分（...）不一致，且未说明折算...']
    """
    table = _table_total(report)
    if table is None:
        return []
    _points, total, table_where = table
    problems = []
    for k, b in enumerate(report.blocks):
        if b.kind != "paragraph":
            continue
        for found in _TOTAL_TEXT.finditer(b.text):
            said = found["score"]
            if _number(said) == _number(total):
                continue
            section = report.section(k)
            where = section or report.where(k)
            texts = [
                x.text
                for i, x in enumerate(report.blocks)
                if x.kind == "paragraph" and report.section(i) == section
            ]
            conversions = [c for t in texts for c in _CONVERSION.finditer(t)]
            message = ""
            if not conversions:
                message = (
                    f"{where}：正文得分{said}分与表格合计得分{total}分（{table_where}）不一致，"
                    "且未说明折算（应写明“适用指标分值…分，得分…分，折算为百分制得分…分”）"
                )
            elif not any(_conversion_holds(c, total, said) for c in conversions):
                c = conversions[0]
                message = (
                    f"{where}：正文得分{said}分既不等于表格合计得分{total}分（{table_where}），"
                    f"也不等于所述折算（适用指标分值{c['weight']}分，得分{c['score']}分，"
                    f"折算为百分制得分{c['converted']}分）"
                )
            if message:
                problems.append(
                    Problem(
                        "text_total",
                        message,
                        "scores",
                        (("where", where), ("said", said), ("total", total)),
                    )
                )
    return problems


def _conversion_holds(found: re.Match[str], total: str, said: str) -> bool:
    """The stated conversion starts from the table total, arrives at the stated total, and
    its arithmetic holds to the printed cent (the engine converts the unrounded score)."""
    weight, score, converted = (_number(found[g]) for g in ("weight", "score", "converted"))
    if weight is None or score is None or converted is None or not weight:
        return False
    return (
        score == _number(total)
        and converted == _number(said)
        and abs(_round2(score * 100 / weight) - converted) <= Decimal("0.01")
    )


_RELATED = re.compile(r"相关指标[：:]\s*(?P<codes>[^；;）)]+)")
_UNMET = ("未完成", "未达成", "部分完成", "部分达成")


def check_addressed(
    report: PrintedReport,
    codes: Mapping[str, str] | None = None,
    threshold: Decimal = DEFAULT_LOSS_THRESHOLD,
) -> list[Problem]:
    """Every leaf losing at least ``threshold`` printed points (分值 − 得分 in the score table)
    and every goal not met (goals table 完成情况 未完成/未达成) is taken up by a finding — a
    problem naming the indicator's code (``codes``: name → code) in its “相关指标”, or its name
    in its title or text — or by a note in “其他需要说明的问题”. Warnings, one per item.

    >>> r = PrintedReport([Block.table([["一级指标", "二级指标", "三级指标", "分值", "得分"],
    ...                                 ["效益", "项目效益", "可持续影响", "5.00", "3.34"]]),
    ...                    Block.heading(2, "（二）存在的问题及原因分析"),
    ...                    Block.para("管护机制不健全。（相关指标：D12）")])
    >>> [p.message for p in check_addressed(r, {"可持续影响": "D13"})]
    ['指标“可持续影响”（D13）扣1.66分，未见对应的问题（相关指标）或其他需要说明的问题']
    """
    codes = codes or {}
    findings = " ".join(b.text for _k, b in report.under("存在的问题") if b.kind != "table")
    notes = " ".join(b.text for _k, b in report.under("其他需要说明") if b.kind != "table")
    related: set[str] = set()
    for b in report.blocks:
        if b.kind == "paragraph":
            for found in _RELATED.finditer(b.text):
                related |= {c.strip() for c in re.split(r"[、，,\s]+", found["codes"]) if c.strip()}
    problems: list[Problem] = []
    seen: set[str] = set()
    for _k, table in report.tables(_is_score_table):
        header = [c.strip() for c in table.rows[0]]
        name_col, weight_col = header.index("三级指标"), header.index("分值")
        score_col = header.index("得分")
        for row in table.rows[1:]:
            if _is_total(row):
                continue
            name = _cell(row, name_col)
            weight, score = _number(_cell(row, weight_col)), _number(_cell(row, score_col))
            if not name or name in seen or weight is None or score is None:
                continue
            lost = weight - score
            if lost < threshold:
                continue
            seen.add(name)
            code = codes.get(name, "")
            if (code and (code in related or code in notes)) or name in findings or name in notes:
                continue
            label = f"指标“{name}”" + (f"（{code}）" if code else "")
            problems.append(
                Problem(
                    "addressed",
                    f"{label}扣{lost}分，未见对应的问题（相关指标）或其他需要说明的问题",
                    "findings",
                    (("item", label), ("lost", str(lost))),
                    WARNING,
                )
            )
    for _k, table in report.tables(_is_goals_table):
        header = [c.strip() for c in table.rows[0]]
        name_col, status_col = header.index("三级指标"), header.index("完成情况")
        for row in table.rows[1:]:
            name, status = _cell(row, name_col), _cell(row, status_col)
            if not name or not status.startswith(_UNMET) or f"goal:{name}" in seen:
                continue
            seen.add(f"goal:{name}")
            if name in findings or name in notes:
                continue
            label = f"绩效目标“{name}”"
            problems.append(
                Problem(
                    "addressed",
                    f"{label}{status[:3]}，未见对应的问题或其他需要说明的问题",
                    "findings",
                    (("item", label), ("lost", "")),
                    WARNING,
                )
            )
    return problems


_PLACEHOLDER = re.compile(
    r"[（(【\[][^（()）【】\[\]]{0,40}?(?:待补充|待完善|待填写|待填报|待录入|待定)"
    r"[^（()）【】\[\]]{0,10}[）)】\]]|TODO|TBD|XXX|×××|\{\{|\{%"
)
_DASH = re.compile(r"^[—\-–－/／\s]*$")
_CAPTION = re.compile(r"^\s*(?:附)?表\s*\d+")


def check_placeholders(report: PrintedReport) -> list[Problem]:
    """No placeholder text (“（项目概况待补充）”, TODO, a leftover tag), no paragraph or table
    whose body is only “—”, no empty heading, no heading with nothing under it before the
    next heading of its level, no table caption without its table.

    >>> r = PrintedReport([Block.heading(2, "（一）项目概况"), Block.para("（项目概况待补充）"),
    ...                    Block.heading(2, "（二）绩效目标"), Block.para("总体目标：—")])
    >>> [p.message for p in check_placeholders(r)]  # doctest: +NORMALIZE_WHITESPACE
    ['（一）项目概况：占位文字“（项目概况待补充）”', '（二）绩效目标：只有“—”的内容“总体目标：—”']
    """
    problems = []

    def add(where: str, what: str) -> None:
        problems.append(
            Problem(
                "placeholder", f"{where}：{what}", "findings", (("where", where), ("what", what))
            )
        )

    blocks = report.blocks
    for k, b in enumerate(blocks):
        where = report.where(k)
        if b.kind in ("paragraph", "caption", "heading", "title"):
            for found in _PLACEHOLDER.finditer(b.text):
                add(where, f"占位文字“{found.group(0)}”")
        if b.kind == "paragraph" and b.text.strip() and not b.image:
            body = re.split(r"[：:]", b.text, maxsplit=1)[-1]
            if _DASH.match(body):
                add(where, f"只有“—”的内容“{b.text.strip()}”")
        if b.kind == "table":
            body = [c for row in b.rows[1:] for c in row] if len(b.rows) > 1 else []
            if not body or all(_DASH.match(c) for c in body):
                add(where, "表格没有内容（只有表头或“—”）")
        if b.kind == "heading" and not b.text.strip():
            add(report.where(k), f"空标题（{b.level}级）")
        elif b.kind == "heading":
            content = False
            for nxt in blocks[k + 1 :]:
                if nxt.kind == "heading" and nxt.level <= b.level:
                    break
                if nxt.kind in ("table", "heading") or (
                    nxt.kind in ("paragraph", "caption") and not nxt.blank
                ):
                    content = True
                    break
            if not content:
                add(b.text.strip(), "标题下没有内容")
        if b.kind == "caption" or (
            b.kind == "paragraph" and _CAPTION.match(b.text) and len(b.text) <= 40
        ):
            following = next((n for n in blocks[k + 1 :] if not n.blank), None)
            if following is None or following.kind != "table":
                add(where, f"表题“{b.text.strip()}”下没有表格")
    return problems


_SHORT_SAMPLE = re.compile(
    r"样本量?(?:数量)?(?:不足|偏少|过少)|样本[^，。；]{0,12}(?:少于|低于|小于|未达到)"
)


def check_sample_carried(report: PrintedReport) -> list[Problem]:
    """A survey said (in the methods or the annex) to have too small a sample is carried into
    the conclusion: the paragraphs under the heading “…评价结论” mention the sample.

    >>> r = PrintedReport([Block.heading(1, "三、综合评价情况及评价结论"),
    ...                    Block.para("经综合评价，某项目绩效评价得分为88.17分。"),
    ...                    Block.heading(1, "附件"), Block.heading(2, "附件3 满意度调查分析"),
    ...                    Block.para("实际有效样本106份，样本量不足，结论仅供参考。")])
    >>> [p.message for p in check_sample_carried(r)]  # doctest: +ELLIPSIS
    ['附件3 满意度调查分析：满意度调查样本量不足，评价结论（三、综合评价情况及评价结论）未说明...']
    """
    conclusion = [(k, b) for k, b in report.under("评价结论") if b.kind == "paragraph"]
    if not conclusion:  # a template without the heading: the paragraphs stating the total
        conclusion = [
            (k, b)
            for k, b in enumerate(report.blocks)
            if b.kind == "paragraph" and "得分为" in b.text
        ]
    inside = {k for k, _b in conclusion}
    if any("样本" in b.text for _k, b in conclusion):
        return []
    heading = report.section(min(inside)) if inside else "评价结论"
    places = []
    for k, b in enumerate(report.blocks):
        if b.kind == "paragraph" and k not in inside and _SHORT_SAMPLE.search(b.text):
            where = report.where(k)
            if where not in places:
                places.append(where)
    return [
        Problem(
            "sample",
            f"{where}：满意度调查样本量不足，评价结论（{heading}）未说明样本量不足及其影响",
            "findings",
            (("where", where), ("conclusion", heading)),
            WARNING,
        )
        for where in places
    ]


def run_printed_checks(
    report: PrintedReport,
    codes: Mapping[str, str] | None = None,
    threshold: Decimal = DEFAULT_LOSS_THRESHOLD,
) -> list[Problem]:
    """The checks over the printed report, blocking ones first."""
    return [
        *check_same_figures(report),
        *check_text_total(report),
        *check_placeholders(report),
        *check_addressed(report, codes, threshold),
        *check_sample_carried(report),
    ]
