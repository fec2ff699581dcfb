"""Scoring forms."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from workbench.core.indicators import CODE_PATTERN
from workbench.forms import BaseForm, MoneyField, non_negative
from workbench.labels import pairs


def positive_points(form: object, field: object) -> None:
    value = getattr(field, "data", None)
    if value is None or value <= 0:
        raise ValidationError(_l("Points must be more than 0."))
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_l("Use at most 2 decimals."))


SAATY_SCALE = [
    ("9", "9"),
    ("7", "7"),
    ("5", "5"),
    ("3", "3"),
    ("1", "1"),
    ("1/3", "1/3"),
    ("1/5", "1/5"),
    ("1/7", "1/7"),
    ("1/9", "1/9"),
]


class InstantiateForm(BaseForm):
    """Start the engagement's indicator system from a bundled template."""

    template = SelectField(_l("Indicator system template"), choices=[])
    replace = BooleanField(_l("Replace the current system and delete its recorded scores"))


class UploadTemplateForm(BaseForm):
    """Start from an uploaded template (YAML or Excel)."""

    file = FileField(
        _l("Template file (.yaml or .xlsx)"),
        validators=[
            FileRequired(_l("Choose a file to import.")),
            FileAllowed(["yaml", "yml", "xlsx"], _l("Only .yaml, .yml or .xlsx.")),
        ],
    )
    replace = BooleanField(_l("Replace the current system and delete its recorded scores"))


class NodeForm(BaseForm):
    """Texts of an indicator (a leaf's scoring method: :mod:`workbench.scoring.method_forms`)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    name_en = StringField(_l("English name"), validators=[Optional(), Length(max=200)])
    definition = TextAreaField(_l("Definition (指标解释)"), validators=[Length(max=5000)])
    key_points = TextAreaField(_l("Key points (评价要点)"), validators=[Length(max=5000)])
    criteria = TextAreaField(_l("Scoring criteria (评分标准)"), validators=[Length(max=5000)])
    data_source = StringField(_l("Data source"), validators=[Length(max=500)])


class AddLeafForm(BaseForm):
    """Add an indicator, taking its points from a sibling."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(
                CODE_PATTERN,
                message=_l("Letters, digits, dot, dash or underscore; at most 40 characters."),
            ),
        ],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    weight = MoneyField(_l("Points"), validators=[InputRequired(), positive_points])
    take_from = SelectField(_l("Take the points from"), choices=[])


class RemoveNodeForm(BaseForm):
    """Remove an indicator, giving its points to a sibling."""

    give_to = SelectField(_l("Give its points to"), choices=[])


class LeafInputForm(BaseForm):
    """What the evaluator records for one leaf; only the fields of its method are shown."""

    version = HiddenField()
    not_applicable = BooleanField(_l("Not applicable to this engagement"))
    actual = StringField(_l("Actual value"), validators=[Optional(), Length(max=40)])
    target = StringField(_l("Target value"), validators=[Optional(), Length(max=40)])
    nature = SelectField(_l("Nature"), choices=[], default="")
    numerator = MoneyField(_l("Numerator"), validators=[Optional(), non_negative])
    denominator = MoneyField(_l("Denominator"), validators=[Optional(), non_negative])
    level = SelectField(_l("Level"), choices=[], default="")
    score = MoneyField(_l("Score"), validators=[Optional(), non_negative])
    rate = StringField(
        _l("Satisfaction rate (%)"),
        validators=[Optional(), Length(max=20)],
        description=_l("e.g. enter 87.4 for a rate of 87.4 per cent"),
    )
    met = SelectMultipleField(_l("Points met"), choices=[], validators=[Optional()])
    findings = TextAreaField(
        _l("Findings"),
        validators=[Optional(), Length(max=5000)],
        description=_l("One per line: description | points deducted"),
    )
    no_deduction = BooleanField(
        _l("No deduction (无扣分事项)"),
        description=_l(
            "Tick only after checking: nothing deductible was found. Write the basis — what "
            "was checked — in “Reason for the score”."
        ),
    )
    reason = TextAreaField(_l("Reason for the score"), validators=[Optional(), Length(max=2000)])
    evidence = TextAreaField(_l("Evidence referred to"), validators=[Optional(), Length(max=2000)])


class WeightsForm(BaseForm):
    """Children's points entered directly or derived by AHP."""

    mode = SelectField(choices=[SelectChoice(m) for m in ("direct", "ahp", "group_ahp", "entropy")])
    ri = SelectField(_l("Random index table"), choices=[])
    action = HiddenField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.ri.choices = pairs([("saaty", _l("Saaty")), ("cn", _l("Chinese textbook"))])
