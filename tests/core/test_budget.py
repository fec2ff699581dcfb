from decimal import Decimal as D

import pytest

from workbench.core.budget import (
    BudgetFigures,
    Denominator,
    FundSource,
    RateKind,
    budget_table,
    rate,
    rate_statements,
    rates_sentence,
    resolve_denominators,
    source_name,
)


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


# --- denominators declared by the indicator system's template (#14) -----------------------


def test_the_template_denominator_wins_over_the_engagement_setting() -> None:
    engagement = {RateKind.FUNDING: Denominator.INITIAL, RateKind.EXECUTION: Denominator.ADJUSTED}
    used, fixed = resolve_denominators(engagement, {RateKind.EXECUTION: Denominator.AVAILABLE})
    assert used[RateKind.FUNDING] is Denominator.INITIAL
    assert used[RateKind.EXECUTION] is Denominator.AVAILABLE
    assert fixed == {RateKind.EXECUTION}
    used, fixed = resolve_denominators(engagement, {})
    assert used == engagement and fixed == frozenset()


def test_a_declared_denominator_the_rate_does_not_allow_is_rejected() -> None:
    engagement = {RateKind.FUNDING: Denominator.ADJUSTED, RateKind.EXECUTION: Denominator.ADJUSTED}
    with pytest.raises(ValueError, match="资金到位率"):
        resolve_denominators(engagement, {RateKind.FUNDING: Denominator.AVAILABLE})


def test_rate_statements_give_value_figures_and_formula() -> None:
    rows = [
        BudgetFigures(FundSource.FISCAL, D("1200"), D("1350"), D("1350"), D("1287.46")),
        BudgetFigures(FundSource.OTHER, D("150"), D("150"), D("120"), D("96.5")),
    ]
    table = budget_table(
        rows,
        funding_denominator=Denominator.INITIAL,
        execution_denominator=Denominator.AVAILABLE,
        fixed_by_template=[RateKind.EXECUTION],
    )
    statements = rate_statements(table)
    execution = statements[RateKind.EXECUTION]
    assert execution.numerator == D("1383.96") and execution.denominator == D("1470")
    assert execution.value == D("1383.96") / D("1470") == table.total.execution_rate
    assert execution.formula == "预算执行率 = 实际支出 ÷ 实际到位资金 × 100%"
    assert execution.fixed_by_template and execution.denominator_kind is Denominator.AVAILABLE
    funding = statements[RateKind.FUNDING]
    assert funding.numerator == D("1470") and funding.denominator == D("1350")
    assert funding.formula == "资金到位率 = 实际到位资金 ÷ 年初预算数 × 100%"
    assert not funding.fixed_by_template
    sentence = rates_sentence(table)
    fixed_note = "（分母按评价指标体系的规定取实际到位资金）"
    assert f"预算执行率 = 实际支出 ÷ 实际到位资金 × 100%{fixed_note}" in sentence
    assert "资金到位率 = 实际到位资金 ÷ 年初预算数 × 100%；" in sentence


def test_rate_statements_without_figures_have_no_value() -> None:
    statements = rate_statements(budget_table([BudgetFigures(FundSource.FISCAL)]))
    assert statements[RateKind.EXECUTION].value is None
    assert statements[RateKind.EXECUTION].denominator is None
    assert statements[RateKind.EXECUTION].formula == "预算执行率 = 实际支出 ÷ 调整后预算数 × 100%"


def test_sources_are_named_rows_of_any_number():
    table = budget_table(
        [
            BudgetFigures(name, D("10"), D("10"), D(available), D("5"))
            for name, available in (
                ("中央财政资金", "10"),
                ("省级财政资金", "10"),
                ("市级财政资金", "5"),
                ("县级财政资金", "5"),
                ("上年结转", "10"),
            )
        ]
    )
    assert len(table.rows) == 5 and table.total.figures.adjusted == D("50")
    assert table.total.funding_rate == D("0.8") and table.total.execution_rate == D("0.5")


def test_source_names_must_be_given_and_distinct():
    with pytest.raises(ValueError, match="repeated"):
        budget_table([BudgetFigures("上年结转"), BudgetFigures(FundSource.CARRYOVER)])
    with pytest.raises(ValueError, match="repeated"):
        budget_table([BudgetFigures("单位 自筹"), BudgetFigures(" 单位 自筹 ")])
    with pytest.raises(ValueError, match="name"):
        budget_table([BudgetFigures("  ")])
    assert source_name(FundSource.FISCAL) == "财政拨款"
