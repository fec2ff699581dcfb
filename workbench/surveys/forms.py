"""Survey forms."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from workbench.forms import BaseForm
from workbench.labels import pairs


class GroupFields(BaseForm):
    """Who answers: the respondent group and its size (for the required sample)."""

    group = StringField(
        _l("Respondent group"),
        validators=[Optional(), Length(max=100)],
        description=_l("e.g. 受益群众, 服务对象, 实施单位人员"),
    )
    population = IntegerField(
        _l("Size of the group (optional)"),
        validators=[Optional(), NumberRange(min=1, max=100_000_000)],
        description=_l("Used for the required sample size."),
    )


class ImportSurveyForm(GroupFields):
    """Import a 问卷星 export or any table, as a new survey or into an existing one."""

    kind = SelectField(
        _l("File"),
        choices=[],
    )
    target = SelectField(_l("Import into"), choices=[], validate_choice=True)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = pairs(
            [("wjx", _("问卷星 export")), ("table", _("Other table (CSV or Excel)"))]
        )

    title = StringField(_l("Title of the new survey"), validators=[Optional(), Length(max=200)])
    file = FileField(
        _l("File (.xls, .xlsx or .csv)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["xls", "xlsx", "csv"], _l("Only .xls, .xlsx or .csv.")),
        ],
    )


class NewSurveyForm(GroupFields):
    """A questionnaire built here and answered on the public page."""

    title = StringField(_l("Survey title"), validators=[DataRequired(), Length(max=200)])
    start_from = SelectField(_l("Start from"), choices=[], validate_choice=True)


class PublishForm(BaseForm):
    """When and how the public questionnaire takes answers."""

    status = SelectField(
        _l("Status"),
        choices=[],
    )
    opens_at = DateTimeLocalField(
        _l("Opens at (optional)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    closes_at = DateTimeLocalField(
        _l("Closes at (optional)"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    target_n = IntegerField(
        _l("Target number of valid responses"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    distributed = IntegerField(
        _l("Questionnaires handed out (发放数, if not by codes)"),
        validators=[Optional(), NumberRange(min=0, max=10_000_000)],
    )
    require_token = BooleanField(_l("Only with a one-time code (one per household or person)"))
    group_column = SelectField(_l("Respondent groups come from"), choices=[])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = pairs(
            [
                ("draft", _("Draft (not answerable)")),
                ("open", _("Open")),
                ("closed", _("Closed")),
            ]
        )


class TokensForm(BaseForm):
    """A batch of one-time codes."""

    count = IntegerField(
        _l("Number of codes"), validators=[Optional(), NumberRange(min=1, max=5000)]
    )
    labels = TextAreaField(
        _l("Or one label per line (e.g. household list)"),
        validators=[Optional(), Length(max=200_000)],
    )


class CleaningForm(BaseForm):
    """The screening rules of one survey."""

    min_seconds = DecimalField(
        _l("Too fast: below this many seconds"),
        validators=[Optional(), NumberRange(min=0, max=100_000)],
    )
    min_median_fraction = DecimalField(
        _l("Too fast: below this fraction of the median time"),
        validators=[Optional(), NumberRange(min=0, max=1)],
        description=_l("e.g. 0.3: faster than three tenths of the median duration"),
    )
    straightline = BooleanField(_l("Same answer to every item of a matrix (3 items or more)"))
    burst_count = IntegerField(
        _l("Burst: more than this many responses from one IP or device"),
        validators=[Optional(), NumberRange(min=1, max=100_000)],
    )
    burst_minutes = DecimalField(
        _l("… within this many minutes"),
        default=10,
        validators=[Optional(), NumberRange(min=0.1, max=100_000)],
    )
    attention = BooleanField(
        _l("Failed attention check"),
        description=_l("Questions built here use their expected answer; for a file choose below."),
    )
    attention_column = SelectField(
        _l("Attention-check question (imported file)"), choices=[], validate_choice=False
    )
    attention_expected = StringField(
        _l("Expected answer"), validators=[Optional(), Length(max=200)]
    )
    key_columns = SelectMultipleField(_l("Key questions that must be answered"), choices=[])
    duplicates = BooleanField(_l("Exact duplicate of an earlier response"))
