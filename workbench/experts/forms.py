"""Expert-panel forms."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

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


class DeclareForm(BaseForm):
    """The expert's conflict-of-interest declaration and confidentiality undertaking."""

    conflict = RadioField(
        choices=[SelectChoice("none"), SelectChoice("declared")], validators=[DataRequired()]
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
