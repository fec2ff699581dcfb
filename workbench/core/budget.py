"""Budget figures (项目资金, 万元) and the two derived rates.

Definitions (see ``shared/domain`` §1.4–1.5):

* 资金到位率 = 实际到位资金 ÷ 预算资金 × 100 %. The 2020 framework divides by the budget; which
  budget (调整后 or 年初) is a per-engagement setting, default 调整后(全年)预算数.
* 预算执行率 = 全年执行数 ÷ denominator × 100 %. The 自评表 (附1) divides by 全年预算数
  (= 调整后预算数, the default); the 2020 framework's 过程 indicator divides by 实际到位资金.
  The engagement chooses, and the report states which one was used.

All arithmetic is in :class:`~decimal.Decimal`; nothing is rounded here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from workbench.core.numbers import decimal_sum


class FundSource(enum.StrEnum):
    """The three fixed sources of the funds table before sources became configurable (#15).

    Kept as shorthands: a :class:`BudgetFigures` row may name its source by one of these or
    by any text (its 资金来源 as the engagement calls it); :func:`source_name` prints both.
    """

    FISCAL = "fiscal"  # 财政拨款 (当年)
    CARRYOVER = "carryover"  # 上年结转
    OTHER = "other"  # 其他资金


#: what the three shorthands print as (and what existing rows were migrated to)
LEGACY_SOURCE_NAMES = {
    FundSource.FISCAL: "财政拨款",
    FundSource.CARRYOVER: "上年结转",
    FundSource.OTHER: "其他资金",
}
#: the sources a team usually picks from; any other name may be typed
STANDARD_SOURCES = (
    "中央财政资金",
    "省级财政资金",
    "市级财政资金",
    "县级财政资金",
    "财政拨款",
    "上年结转",
    "单位自筹",
    "社会资金",
    "其他资金",
)
#: the longest source name stored
MAX_SOURCE_NAME = 60


def source_name(source: FundSource | str | None) -> str:
    """The printed name of a source: a shorthand's Chinese name, any other text trimmed.

    >>> source_name(FundSource.CARRYOVER), source_name(" 县级财政资金 "), source_name(None)
    ('上年结转', '县级财政资金', '')
    """
    if isinstance(source, FundSource):
        return LEGACY_SOURCE_NAMES[source]
    return "" if source is None else " ".join(str(source).split())


class Denominator(enum.StrEnum):
    """Which figure a rate is divided by."""

    INITIAL = "initial"  # 年初预算数
    ADJUSTED = "adjusted"  # 调整后(全年)预算数
    AVAILABLE = "available"  # 实际到位资金


FUNDING_RATE_DENOMINATORS = (Denominator.ADJUSTED, Denominator.INITIAL)
EXECUTION_RATE_DENOMINATORS = (Denominator.ADJUSTED, Denominator.AVAILABLE, Denominator.INITIAL)


class RateKind(enum.StrEnum):
    """The two derived rates of the funds table."""

    FUNDING = "funding"  # 资金到位率
    EXECUTION = "execution"  # 预算执行率


#: the denominators each rate may use
ALLOWED_DENOMINATORS: dict[RateKind, tuple[Denominator, ...]] = {
    RateKind.FUNDING: FUNDING_RATE_DENOMINATORS,
    RateKind.EXECUTION: EXECUTION_RATE_DENOMINATORS,
}
RATE_NAME_ZH = {RateKind.FUNDING: "资金到位率", RateKind.EXECUTION: "预算执行率"}
NUMERATOR_ZH = {RateKind.FUNDING: "实际到位资金", RateKind.EXECUTION: "实际支出"}
DENOMINATOR_ZH = {
    Denominator.INITIAL: "年初预算数",
    Denominator.ADJUSTED: "调整后预算数",
    Denominator.AVAILABLE: "实际到位资金",
}


@dataclass(frozen=True)
class BudgetFigures:
    """One row of the funds table, in 万元. ``None`` means "not recorded"."""

    source: FundSource | str | None  # the 资金来源 name (or a shorthand); None for the total
    initial: Decimal | None = None
    adjusted: Decimal | None = None
    available: Decimal | None = None
    executed: Decimal | None = None

    def figure(self, which: Denominator) -> Decimal | None:
        return {
            Denominator.INITIAL: self.initial,
            Denominator.ADJUSTED: self.adjusted,
            Denominator.AVAILABLE: self.available,
        }[which]


@dataclass(frozen=True)
class BudgetRow:
    """A funds-table row with its derived rates (ratios, e.g. ``Decimal('0.95')``)."""

    figures: BudgetFigures
    funding_rate: Decimal | None
    execution_rate: Decimal | None


@dataclass(frozen=True)
class BudgetTable:
    """The whole funds table: one row per source and the total."""

    rows: list[BudgetRow]
    total: BudgetRow
    funding_denominator: Denominator
    execution_denominator: Denominator
    warnings: list[str] = field(default_factory=list)
    #: the rates whose denominator the indicator system's template fixes (it wins over the
    #: engagement's setting)
    fixed_by_template: frozenset[RateKind] = frozenset()

    def denominator(self, kind: RateKind) -> Denominator:
        return self.funding_denominator if kind is RateKind.FUNDING else self.execution_denominator


def rate(numerator: Decimal | None, denominator: Decimal | None) -> Decimal | None:
    """``numerator / denominator`` at full precision; ``None`` if either is missing or the
    denominator is zero.

    >>> rate(Decimal("95"), Decimal("100"))
    Decimal('0.95')
    >>> rate(Decimal("1"), Decimal("0")) is None
    True
    """
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def budget_table(
    figures: Iterable[BudgetFigures],
    funding_denominator: Denominator = Denominator.ADJUSTED,
    execution_denominator: Denominator = Denominator.ADJUSTED,
    fixed_by_template: Iterable[RateKind] = (),
) -> BudgetTable:
    """Compute the funds table with 资金到位率 and 预算执行率 per source and in total.

    Parameters
    ----------
    figures
        One :class:`BudgetFigures` per source (order kept), as many as the engagement
        configured. Source names must be given and must not repeat.
    funding_denominator
        Denominator of 资金到位率: ``ADJUSTED`` (default) or ``INITIAL``.
    execution_denominator
        Denominator of 预算执行率: ``ADJUSTED`` (default, 自评表), ``AVAILABLE`` (2020
        framework) or ``INITIAL``.
    fixed_by_template
        The rates whose denominator came from the indicator system's template (recorded so
        that pages and the report can say so; see :func:`resolve_denominators`).

    Returns
    -------
    BudgetTable
        The total row sums each column over the sources that recorded it; rates of the total are
        computed from the summed figures, never averaged.

    Raises
    ------
    ValueError
        On a repeated source, a negative amount, or a denominator not allowed for that rate.

    Examples
    --------
    >>> t = budget_table([
    ...     BudgetFigures(FundSource.FISCAL, Decimal("800"), Decimal("800"), Decimal("800"),
    ...                   Decimal("760")),
    ...     BudgetFigures(FundSource.OTHER, Decimal("200"), Decimal("200"), Decimal("150"),
    ...                   Decimal("150")),
    ... ])
    >>> t.total.figures.executed, t.total.execution_rate
    (Decimal('910'), Decimal('0.91'))
    """
    if funding_denominator not in FUNDING_RATE_DENOMINATORS:
        raise ValueError(f"资金到位率 cannot be divided by {funding_denominator.value}")
    if execution_denominator not in EXECUTION_RATE_DENOMINATORS:
        raise ValueError(f"预算执行率 cannot be divided by {execution_denominator.value}")
    items = list(figures)
    seen: set[str] = set()
    for item in items:
        name = source_name(item.source)
        if not name:
            raise ValueError("a fund source needs a name")
        if name in seen:
            raise ValueError(f"fund source repeated: {name}")
        seen.add(name)
        for name in ("initial", "adjusted", "available", "executed"):
            value = getattr(item, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} of {item.source} is negative: {value}")

    def with_rates(f: BudgetFigures) -> BudgetRow:
        return BudgetRow(
            figures=f,
            funding_rate=rate(f.available, f.figure(funding_denominator)),
            execution_rate=rate(f.executed, f.figure(execution_denominator)),
        )

    total = BudgetFigures(
        source=None,
        initial=decimal_sum(i.initial for i in items),
        adjusted=decimal_sum(i.adjusted for i in items),
        available=decimal_sum(i.available for i in items),
        executed=decimal_sum(i.executed for i in items),
    )
    warnings = []
    if (
        total.executed is not None
        and total.available is not None
        and (total.executed > total.available)
    ):
        warnings.append("executed_exceeds_available")
    return BudgetTable(
        rows=[with_rates(i) for i in items],
        total=with_rates(total),
        funding_denominator=funding_denominator,
        execution_denominator=execution_denominator,
        warnings=warnings,
        fixed_by_template=frozenset(fixed_by_template),
    )


def resolve_denominators(
    engagement: Mapping[RateKind, Denominator],
    declared: Mapping[RateKind, Denominator | None],
) -> tuple[dict[RateKind, Denominator], frozenset[RateKind]]:
    """The denominator each rate uses: the template's declared one wins over the engagement's
    setting. Returns the denominators and the rates fixed by the template.

    >>> used, fixed = resolve_denominators(
    ...     {RateKind.FUNDING: Denominator.ADJUSTED, RateKind.EXECUTION: Denominator.ADJUSTED},
    ...     {RateKind.EXECUTION: Denominator.AVAILABLE},
    ... )
    >>> used[RateKind.EXECUTION].value, used[RateKind.FUNDING].value, [k.value for k in fixed]
    ('available', 'adjusted', ['execution'])
    """
    used: dict[RateKind, Denominator] = {}
    fixed: set[RateKind] = set()
    for kind in RateKind:
        choice = declared.get(kind)
        if choice is not None:
            if choice not in ALLOWED_DENOMINATORS[kind]:
                raise ValueError(f"{RATE_NAME_ZH[kind]} cannot be divided by {choice.value}")
            used[kind] = choice
            fixed.add(kind)
        else:
            used[kind] = engagement[kind]
    return used, frozenset(fixed)


@dataclass(frozen=True)
class RateStatement:
    """One rate as the report states it: value, the figures behind it and the formula."""

    kind: RateKind
    name: str  # 预算执行率
    value: Decimal | None  # ratio (0.95), None when a figure is missing
    numerator: Decimal | None  # 万元
    denominator: Decimal | None  # 万元
    numerator_label: str  # 实际支出
    denominator_label: str  # 实际到位资金
    denominator_kind: Denominator
    fixed_by_template: bool

    @property
    def formula(self) -> str:
        """``预算执行率 = 实际支出 ÷ 实际到位资金 × 100%``"""
        return f"{self.name} = {self.numerator_label} ÷ {self.denominator_label} × 100%"


def rate_statements(table: BudgetTable) -> dict[RateKind, RateStatement]:
    """Per rate (资金到位率, 预算执行率) of the table's total row: the value, the numerator
    and denominator figures, and the formula in Chinese.

    >>> t = budget_table(
    ...     [BudgetFigures(FundSource.FISCAL, Decimal("100"), Decimal("120"), Decimal("100"),
    ...                    Decimal("90"))],
    ...     execution_denominator=Denominator.AVAILABLE,
    ... )
    >>> s = rate_statements(t)[RateKind.EXECUTION]
    >>> s.formula, s.numerator, s.denominator, s.value
    ('预算执行率 = 实际支出 ÷ 实际到位资金 × 100%', Decimal('90'), Decimal('100'), Decimal('0.9'))
    >>> rate_statements(t)[RateKind.FUNDING].formula
    '资金到位率 = 实际到位资金 ÷ 调整后预算数 × 100%'
    """
    total = table.total
    out: dict[RateKind, RateStatement] = {}
    for kind in (RateKind.FUNDING, RateKind.EXECUTION):
        which = table.denominator(kind)
        numerator = total.figures.available if kind is RateKind.FUNDING else total.figures.executed
        out[kind] = RateStatement(
            kind=kind,
            name=RATE_NAME_ZH[kind],
            value=total.funding_rate if kind is RateKind.FUNDING else total.execution_rate,
            numerator=numerator,
            denominator=total.figures.figure(which),
            numerator_label=NUMERATOR_ZH[kind],
            denominator_label=DENOMINATOR_ZH[which],
            denominator_kind=which,
            fixed_by_template=kind in table.fixed_by_template,
        )
    return out


def rates_sentence(table: BudgetTable) -> str:
    """The report's sentence stating both formulas and which denominator was used.

    >>> t = budget_table([], execution_denominator=Denominator.AVAILABLE,
    ...                  fixed_by_template=[RateKind.EXECUTION])
    >>> for part in rates_sentence(t).split("；"):
    ...     print(part)
    资金到位率 = 实际到位资金 ÷ 调整后预算数 × 100%
    预算执行率 = 实际支出 ÷ 实际到位资金 × 100%（分母按评价指标体系的规定取实际到位资金）。
    """
    parts = []
    for s in rate_statements(table).values():
        note = f"（分母按评价指标体系的规定取{s.denominator_label}）" if s.fixed_by_template else ""
        parts.append(s.formula + note)
    return "；".join(parts) + "。"
