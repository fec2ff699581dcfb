"""Decimal helpers: full precision in computation, half-up rounding only for display.

Finance bureaus sign off printed figures, so every printed total must equal the sum of its
printed parts; :func:`display_parts_and_total` makes that true by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

TWO_PLACES = Decimal("0.01")
#: Anything this large is a typing error, not a budget or a score (and overflows display).
MAX_MAGNITUDE = Decimal("1e15")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


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
    >>> to_decimal("1.5e3")
    Traceback (most recent call last):
    ...
    ValueError: not a plain number: '1.5e3'
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
        text = str(value).strip().replace("，", ",")
        if not text:
            return None
        if "," in text:
            # thousands separators only where they belong: "1,234.5" yes, "0,95" no
            if not _THOUSANDS.match(text):
                raise ValueError(f"not a number (misplaced comma): {value!r}")
            text = text.replace(",", "")
        if "e" in text.lower():  # "1.5e3" is a typo in a money field, not 1500
            raise ValueError(f"not a plain number: {value!r}")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if abs(result) >= MAX_MAGNITUDE:
        raise ValueError(f"number too large: {value!r}")
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


def apportion(
    parts: Sequence[Decimal], printed_total: Decimal, places: Decimal = TWO_PLACES
) -> list[Decimal]:
    """Round ``parts`` to ``places`` so that they add up exactly to ``printed_total``.

    Starts from the half-up rounded parts and moves the difference one unit at a time to the
    parts whose rounding moved them furthest (largest-remainder method; ties go to earlier parts
    when adding and to later parts when taking away). No part moves by a whole unit or more.

    >>> apportion([Decimal("0.005")] * 3, Decimal("0.02"))
    [Decimal('0.01'), Decimal('0.01'), Decimal('0.00')]
    """
    if printed_total != printed_total.quantize(places):
        raise ValueError(f"{printed_total} cannot be printed with {places} precision")
    rounded = [round_half_up(p, places) for p in parts]
    gap = int((printed_total - sum(rounded, Decimal(0))) / places)
    if gap and not parts:
        raise ValueError("no parts to apportion a non-zero total to")
    if gap > 0:
        order = sorted(range(len(parts)), key=lambda i: (parts[i] - rounded[i], -i), reverse=True)
    else:
        order = sorted(range(len(parts)), key=lambda i: (rounded[i] - parts[i], i), reverse=True)
    step = places if gap > 0 else -places
    for k in range(abs(gap)):  # usually less than one pass; more only for a far-off total
        rounded[order[k % len(order)]] += step
    return rounded


def display_parts_and_total(
    parts: Sequence[Decimal], places: Decimal = TWO_PLACES
) -> tuple[list[Decimal], Decimal]:
    """Round ``parts`` for display so that the printed parts add up to the printed total.

    The total is the half-up rounding of the exact sum; the parts are apportioned to it
    (:func:`apportion`), so ``sum(printed parts) == printed total`` always holds.

    Examples
    --------
    >>> parts, total = display_parts_and_total([Decimal("0.005")] * 3)
    >>> [str(p) for p in parts], str(total)
    (['0.01', '0.01', '0.00'], '0.02')
    """
    total = round_half_up(sum(parts, Decimal(0)), places)
    return apportion(parts, total, places), total


def decimal_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """Sum ignoring ``None``; ``None`` when every value is ``None``."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    return sum(present, Decimal(0))


_CONTROL = str.maketrans("", "", "".join(chr(c) for c in range(32) if c not in (9, 10, 13)))


def clean_text(value: object) -> str:
    r"""Text with the control characters removed that databases (NUL in PostgreSQL) and XML
    documents (Word) refuse; tabs and line breaks stay.

    >>> clean_text("资金\x00到位\x1f率\n")
    '资金到位率\n'
    """
    text = "" if value is None else str(value)
    return text.translate(_CONTROL).replace("\ufffe", "").replace("\uffff", "")
