"""Survey forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from workbench.forms import BaseForm


class ImportSurveyForm(BaseForm):
    """Import a 问卷星 export as a survey of one respondent group."""

    title = StringField(_l("Survey title"), validators=[DataRequired(), Length(max=200)])
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
    file = FileField(
        _l("问卷星 export (.xls, .xlsx or .csv)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["xls", "xlsx", "csv"], _l("Only .xls, .xlsx or .csv.")),
        ],
    )
