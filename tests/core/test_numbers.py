from decimal import Decimal

import pytest

from workbench.core.numbers import (
    display_parts_and_total,
    format_number,
    format_percent,
    round_half_up,
    to_decimal,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2.675", "2.68"),  # float repr of 2.675 is 2.67499..., Decimal keeps it exact
        ("2.665", "2.67"),  # banker's rounding would give 2.66
        ("-2.675", "-2.68"),
        ("0.005", "0.01"),
        ("0.004999", "0.00"),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(raw: str, expected: str) -> None:
    assert round_half_up(Decimal(raw)) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,234.5", Decimal("1234.5")),
        ("１２", None),
        (0.1, Decimal("0.1")),
        (3, Decimal(3)),
        ("", None),
        (None, None),
        ("  42  ", Decimal(42)),
    ],
)
def test_to_decimal_parses_user_input(value: object, expected: Decimal | None) -> None:
    if value == "１２":  # full-width digits are digits for Decimal too
        assert to_decimal(value) == Decimal(12)
        return
    assert to_decimal(value) == expected


@pytest.mark.parametrize("bad", ["abc", "1e", "NaN", "Infinity", True])
def test_to_decimal_rejects_non_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="number"):
        to_decimal(bad)


def test_format_number_and_percent() -> None:
    assert format_number(Decimal("1234567.125")) == "1,234,567.13"
    assert format_number(None) == "—"
    assert format_percent(Decimal("0.953456")) == "95.35%"
    assert format_percent(None) == "—"


@pytest.mark.parametrize(
    "parts",
    [
        ["0.005", "0.005", "0.005"],
        ["33.333333", "33.333333", "33.333334"],
        ["12.345", "7.655", "0.004", "19.996"],
        ["1.115", "2.225", "3.335", "4.445"],
    ],
)
def test_printed_parts_always_add_up_to_the_printed_total(parts: list[str]) -> None:
    values = [Decimal(p) for p in parts]
    printed, total = display_parts_and_total(values)
    assert sum(printed) == total
    assert total == round_half_up(sum(values))
    # no part moves by more than one cent from its exact value
    assert all(abs(p - v) < Decimal("0.01") for p, v in zip(printed, values, strict=True))


def test_naive_rounding_would_not_add_up() -> None:
    """The case display_parts_and_total exists for: 3 × 0.005 prints as 0.01 + 0.01 + 0.01."""
    values = [Decimal("0.005")] * 3
    naive = sum(round_half_up(v) for v in values)
    assert naive != round_half_up(sum(values))
    printed, total = display_parts_and_total(values)
    assert sum(printed) == total == Decimal("0.02")


@pytest.mark.parametrize("text", ["0,95", "1,5", "12,34", "1,2345"])
def test_misplaced_commas_are_refused_rather_than_dropped(text: str) -> None:
    with pytest.raises(ValueError, match="comma"):
        to_decimal(text)


def test_apportion_reaches_any_printable_total_and_refuses_an_unprintable_one() -> None:
    from workbench.core.numbers import apportion

    assert apportion([Decimal(1), Decimal(1)], Decimal(5)) == [Decimal("2.50"), Decimal("2.50")]
    with pytest.raises(ValueError, match="cannot be printed"):
        apportion([Decimal(1)], Decimal("3.335"))
