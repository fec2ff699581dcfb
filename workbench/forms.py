"""Base form and shared fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, Field, IntegerField
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import TextInput

from workbench.core.numbers import clean_text, to_decimal


class BaseForm(FlaskForm):
    """All forms derive from this: CSRF on, and text fields stripped of surrounding space."""

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Field:
            filters = list(unbound_field.kwargs.get("filters", []))
            if unbound_field.field_class.__name__ in {"StringField", "TextAreaField"}:
                filters.append(_strip)
            if issubclass(unbound_field.field_class, IntegerField):
                # before NumberRange, which overflows (a 500) on an int too large for a float
                validators = unbound_field.kwargs.get("validators") or []
                options = {**options, "validators": [_bounded_integer, *validators]}
            return unbound_field.bind(form=form, filters=filters, **options)


#: No integer typed into a form is larger (years, counts, days); PostgreSQL INTEGER holds it.
MAX_INTEGER = 2**31 - 1


def query_int(name: str, low: int = 1, high: int = MAX_INTEGER) -> int | None:
    """An integer from the query string (``?year=2025``, ``?page=3``), or ``None`` when it is
    missing, not a number, or outside ``low``–``high``: a filter typed as ``year=9e99`` or
    ``page=99999999999999999999`` must read as no filter, not overflow the database driver."""
    from flask import request

    value = request.args.get(name, type=int)
    return value if value is not None and low <= value <= high else None


def _bounded_integer(form: Any, field: Field) -> None:
    if isinstance(field.data, int) and abs(field.data) > MAX_INTEGER:
        raise StopValidation(_l("Not a valid number."))


def _strip(value: Any) -> Any:
    # browsers send textareas with CRLF line ends; store text the same way whatever the client.
    # Control characters go: PostgreSQL refuses NUL and Word documents break on the others.
    if not isinstance(value, str):
        return value
    return clean_text(value.replace("\r\n", "\n")).strip()


class MoneyField(DecimalField):
    """A Decimal field that accepts thousands separators and keeps full precision.

    Rendered as a text input with a decimal keypad: a number input would refuse "1,200".
    """

    widget = TextInput()

    def __init__(self, *args: Any, places: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {}).update({"inputmode": "decimal"})
        super().__init__(*args, places=places, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, Decimal):
            return format(self.data.normalize(), "f")  # 1200.000000 shows as 1200
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = to_decimal(valuelist[0])
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Not a valid number.")) from exc


#: Largest amount accepted (万元): SQLite keeps 15 significant digits, and 10^9 万元 is far
#: beyond any project budget.
MAX_AMOUNT = Decimal("999999999")


def non_negative(form: Any, field: Field) -> None:
    if field.data is not None and isinstance(field.data, Decimal):
        if field.data < 0:
            raise ValidationError(_l("Must not be negative."))
        if field.data > MAX_AMOUNT:
            raise ValidationError(_l("This amount is implausibly large."))
