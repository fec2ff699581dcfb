from decimal import Decimal as D

import pytest

from workbench.core.budget import BudgetFigures, Denominator, FundSource, budget_table, rate


def figures() -> list[BudgetFigures]:
    return [
        BudgetFigures(FundSource.FISCAL, D("1200"), D("1350"), D("1350"), D("1287.46")),
        BudgetFigures(FundSource.CARRYOVER, D("80"), D("80"), D("80"), D("80")),
        BudgetFigures(FundSource.OTHER, D("150"), D("150"), D("120"), D("96.5")),
    ]


def test_total_row_sums_the_sources_and_divides_sums() -> None:
    table = budget_table(figures())
    total = table.total
    assert total.figures.adjusted == D("1580")
    assert total.figures.available == D("1550")
    assert total.figures.executed == D("1463.96")
    # 1463.96 / 1580, computed from sums, not the mean of the row rates
    assert total.execution_rate == D("1463.96") / D("1580")
    assert total.funding_rate == D("1550") / D("1580")
    row_mean = sum(r.execution_rate for r in table.rows) / 3
    assert total.execution_rate != row_mean


def test_execution_rate_denominator_is_configurable() -> None:
    by_adjusted = budget_table(figures(), execution_denominator=Denominator.ADJUSTED)
    by_available = budget_table(figures(), execution_denominator=Denominator.AVAILABLE)
    other_adjusted = by_adjusted.rows[2].execution_rate
    other_available = by_available.rows[2].execution_rate
    assert other_adjusted == D("96.5") / D("150")
    assert other_available == D("96.5") / D("120")
    assert by_available.execution_denominator is Denominator.AVAILABLE


def test_funding_rate_uses_initial_budget_when_asked() -> None:
    table = budget_table(figures(), funding_denominator=Denominator.INITIAL)
    assert table.rows[0].funding_rate == D("1350") / D("1200")


def test_missing_or_zero_denominator_gives_no_rate() -> None:
    table = budget_table([BudgetFigures(FundSource.FISCAL, D("0"), D("0"), None, D("5"))])
    assert table.rows[0].execution_rate is None
    assert table.rows[0].funding_rate is None
    assert rate(None, D(1)) is None


def test_rows_without_figures_do_not_count_in_total() -> None:
    table = budget_table(
        [
            BudgetFigures(FundSource.FISCAL, D("10"), D("10"), D("10"), D("9")),
            BudgetFigures(FundSource.OTHER),
        ]
    )
    assert table.total.figures.executed == D("9")
    assert table.rows[1].execution_rate is None


def test_spending_more_than_received_is_flagged() -> None:
    table = budget_table([BudgetFigures(FundSource.FISCAL, D("10"), D("10"), D("8"), D("9"))])
    assert table.warnings == ["executed_exceeds_available"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"funding_denominator": Denominator.AVAILABLE}, "资金到位率"),
    ],
)
def test_invalid_denominator_is_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        budget_table(figures(), **kwargs)


def test_negative_and_repeated_sources_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        budget_table([BudgetFigures(FundSource.FISCAL, D("-1"))])
    with pytest.raises(ValueError, match="repeated"):
        budget_table([BudgetFigures(FundSource.FISCAL), BudgetFigures(FundSource.FISCAL)])
