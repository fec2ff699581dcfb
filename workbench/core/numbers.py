"""Decimal helpers: full precision in computation, half-up rounding only for display.

Finance bureaus sign off printed figures, so every printed total must equal the sum of its
printed parts; :func:`display_parts_and_total` makes that true by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

TWO_PLACES = Decimal("0.01")


def to_decimal(value: object) -> Decimal | None:
    """Convert user or database input to :class:`~decimal.Decimal` without float error.

    ``None`` and blank strings give ``None``. Floats go through ``repr`` so that ``0.1``
    becomes ``Decimal('0.1')``, not the binary expansion. Thousands separators are accepted.

    Raises
    ------
    ValueError
        If the value is not a finite number.

    Examples
    --------
    >>> to_decimal("1,234.50")
    Decimal('1234.50')
    >>> to_decimal(0.1)
    Decimal('0.1')
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        text = str(value).strip().replace(",", "").replace("，", "")
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def round_half_up(value: Decimal, places: Decimal = TWO_PLACES) -> Decimal:
    """Round half away from zero (四舍五入), unlike Python's banker's rounding.

    Examples
    --------
    >>> round_half_up(Decimal("2.675"))
    Decimal('2.68')
    >>> round_half_up(Decimal("-2.675"))
    Decimal('-2.68')
    """
    return value.quantize(places, rounding=ROUND_HALF_UP)


def format_number(value: Decimal | None, places: Decimal = TWO_PLACES) -> str:
    """Format for display: half-up rounded, thousands separators; ``None`` gives ``—``.

    >>> format_number(Decimal("12345.675"))
    '12,345.68'
    """
    if value is None:
        return "—"
    return f"{round_half_up(value, places):,}"


def format_percent(ratio: Decimal | None, places: Decimal = TWO_PLACES) -> str:
    """Format a ratio (0.9567) as a percentage string (``95.67%``); ``None`` gives ``—``."""
    if ratio is None:
        return "—"
    return f"{round_half_up(ratio * 100, places)}%"


def display_parts_and_total(
    parts: Sequence[Decimal], places: Decimal = TWO_PLACES
) -> tuple[list[Decimal], Decimal]:
    """Round ``parts`` for display so that the printed parts add up to the printed total.

    The total is the rounded exact sum. The parts are rounded half-up, and any difference of a
    few hundredths is given to the parts with the largest rounding remainders (largest-remainder
    method), so that ``sum(printed parts) == printed total`` always holds.

    Examples
    --------
    >>> parts, total = display_parts_and_total([Decimal("0.005")] * 3)
    >>> [str(p) for p in parts], str(total)
    (['0.01', '0.01', '0.00'], '0.02')
    """
    exact_total = sum(parts, Decimal(0))
    total = round_half_up(exact_total, places)
    floors = [p.quantize(places, rounding=ROUND_FLOOR) for p in parts]
    # floor(p) <= p, so the rounded total is never below the sum of the floors.
    shortfall = int((total - sum(floors, Decimal(0))) / places)
    by_remainder = sorted(range(len(parts)), key=lambda i: parts[i] - floors[i], reverse=True)
    rounded = list(floors)
    for i in by_remainder[:shortfall]:
        rounded[i] += places
    return rounded, total


def decimal_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """Sum ignoring ``None``; ``None`` when every value is ``None``."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return sum(present, Decimal(0))
