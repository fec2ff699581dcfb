"""Expert-panel forms."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from workbench.core.panel import Aggregation
from workbench.forms import BaseForm, MoneyField


class ExpertForm(BaseForm):
    """An expert in the registry."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    title = StringField(_l("Professional title"), validators=[Optional(), Length(max=100)])
    organisation = StringField(_l("Organisation"), validators=[Optional(), Length(max=200)])
    field = StringField(_l("Field of expertise"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)])
    email = StringField(
        _l("E-mail"), validators=[Optional(), Email(check_deliverability=False), Length(max=200)]
    )
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])


class InviteForm(BaseForm):
    """Seat an expert on the panel and issue a personal link."""

    expert_id = SelectField(_l("Expert"), coerce=int, choices=[])
    codes = SelectMultipleField(_l("Indicators to score"), choices=[])
    days = IntegerField(
        _l("Link valid for (days)"),
        default=30,
        validators=[DataRequired(), NumberRange(min=1, max=365)],
    )
    weight = MoneyField(
        _l("Weight in a weighted mean"),
        default=None,
        validators=[Optional()],
        description=_l("Leave empty for 1; used only by the weighted-mean rule."),
    )
    send_mail = BooleanField()


class ReopenForm(BaseForm):
    """Unlock a submitted sheet."""

    round = SelectField(choices=[SelectChoice("1"), SelectChoice("2")])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class PanelSettingsForm(BaseForm):
    """How the panel's scores are combined."""

    aggregation = SelectField(_l("Aggregation"), choices=[])
    trim_min_n = IntegerField(
        _l("Trim only from this many scores"),
        default=5,
        validators=[DataRequired(), NumberRange(min=3, max=50)],
    )
    # the column is NUMERIC(6, 3): a step beyond it would overflow on PostgreSQL
    step = MoneyField(
        _l("Score step"),
        validators=[DataRequired(), NumberRange(min=Decimal("0.001"), max=Decimal("100"))],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.aggregation.choices = [
            SelectChoice(Aggregation.MEAN.value, str(_l("Mean"))),
            SelectChoice(
                Aggregation.TRIMMED.value, str(_l("Trimmed mean (drop highest and lowest)"))
            ),
            SelectChoice(Aggregation.MEDIAN.value, str(_l("Median"))),
            SelectChoice(Aggregation.WEIGHTED.value, str(_l("Weighted by expert weight"))),
        ]


class ExpertInfoForm(BaseForm):
    """What the experts are told: named or anonymised expert table, deadline, contact."""

    named_in_report = RadioField(
        _l("The report's expert table"),
        choices=[
            SelectChoice("named", _l("shows the experts' names")),
            SelectChoice("anonymous", _l("says Expert A, Expert B, … instead of the names")),
        ],
        validators=[DataRequired()],
    )
    deadline = DateField(_l("Scoring deadline"), validators=[Optional()])
    contact = StringField(
        _l("Contact at the firm for the experts"),
        validators=[Optional(), Length(max=200)],
        description=_l("Name and phone; empty: the engagement leads are shown."),
    )


class UndoRecusalForm(BaseForm):
    """Undo a recusal declared by mistake, with a reason."""

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class DeclareForm(BaseForm):
    """The expert's conflict-of-interest declaration and confidentiality undertaking."""

    # nothing pre-selected: the expert chooses explicitly (a missing choice is refused)
    conflict = RadioField(
        choices=[SelectChoice("none"), SelectChoice("declared")],
        validators=[DataRequired()],
        default=None,
    )
    conflict_text = TextAreaField(validators=[Optional()])  # length checked by the service
    confidentiality = BooleanField()


class OfflineUploadForm(BaseForm):
    """A filled Excel sheet, keyed in on the expert's behalf."""

    file = FileField(
        _l("Filled Excel sheet"),
        validators=[FileRequired(_l("Choose a file.")), FileAllowed(["xlsx"], _l("Only .xlsx."))],
    )
    paper_declaration = BooleanField(
        _l("The expert signed the paper declaration: no conflict, confidentiality accepted")
    )


#: what the expert is told about a score that is not a number (the service's other checks,
#: range, step and required comments, come back as ``SheetInvalid`` with the same wording)
NOT_A_NUMBER = _l("not a number")
#: characters of one comment (the reasons for a deduction; a page of text is plenty)
MAX_COMMENT = 5000


def _a_number(form: Any, field: Any) -> None:
    """A score, if given, is a finite decimal number as typed ("7.5", not "seven")."""
    raw = (field.data or "").strip()
    if not raw:
        return
    try:
        ok = Decimal(raw).is_finite()
    except InvalidOperation:
        ok = False
    if not ok:
        raise ValidationError(str(NOT_A_NUMBER))


class SheetFormBase(BaseForm):
    """An expert's scoring sheet: ``score-<code>`` and ``comment-<code>`` per indicator, and the
    seat ``version`` the page was opened with. Built per sheet by :func:`sheet_form`."""

    version = StringField(validators=[Optional(), Length(max=20)])
    codes: tuple[str, ...] = ()

    def expected_version(self) -> int | None:
        """The seat version the sheet was opened with (absent: no check, e.g. an old page)."""
        raw = self.version.data or ""
        return int(raw) if raw.isdigit() else None

    def values(self) -> dict[str, tuple[str, str]]:
        """Indicator code → (score text, comment), as the service takes them."""
        return {
            code: (self[f"score-{code}"].data or "", self[f"comment-{code}"].data or "")
            for code in self.codes
        }

    def problems(self) -> dict[str, str]:
        """Indicator code → the first message of its score or comment."""
        out: dict[str, str] = {}
        for code in self.codes:
            errors = [*self[f"score-{code}"].errors, *self[f"comment-{code}"].errors]
            if errors:
                out[code] = str(errors[0])
        return out


def sheet_form(codes: Iterable[str]) -> SheetFormBase:
    """The scoring-sheet form of one seat, with a score and a comment per indicator code."""
    codes = tuple(codes)
    fields: dict[str, object] = {"codes": codes}
    for code in codes:
        fields[f"score-{code}"] = StringField(
            validators=[Length(max=50, message=NOT_A_NUMBER), _a_number]
        )
        fields[f"comment-{code}"] = TextAreaField(
            validators=[Length(max=MAX_COMMENT, message=_l("at most %(max)d characters"))]
        )
    return type("SheetForm", (SheetFormBase,), fields)()  # type: ignore[no-any-return]
