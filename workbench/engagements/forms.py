"""Engagement forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from workbench.core.budget import (
    EXECUTION_RATE_DENOMINATORS,
    FUNDING_RATE_DENOMINATORS,
    MAX_SOURCE_NAME,
    source_name,
)
from workbench.core.goals import GoalNature, parse_date, split_value
from workbench.core.reporting import BASIS_RULES
from workbench.core.workflow import EngagementState
from workbench.engagements.models import CommissionScope, EvaluationKind, MemberRole
from workbench.forms import BaseForm, MoneyField, non_negative
from workbench.labels import choices, label, pairs


class VersionedForm(BaseForm):
    """Carries the engagement version the user saw, for the lost-update check."""

    version = HiddenField()

    def expected_version(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class EngagementForm(VersionedForm):
    """Basic facts of an engagement."""

    title = StringField(_l("Engagement title"), validators=[DataRequired(), Length(max=200)])
    client_id = SelectField(
        _l("Client (commissioning body)"), coerce=int, validators=[DataRequired()]
    )
    evaluated_unit_ids = SelectMultipleField(
        _l("Evaluated unit(s)"), coerce=int, validators=[Optional()]
    )
    project_name = StringField(
        _l("Project under evaluation"), validators=[DataRequired(), Length(max=200)]
    )
    kind = SelectField(_l("Evaluation kind"), choices=[])
    scope = SelectField(_l("Commission scope"), choices=[])
    fiscal_year = IntegerField(
        _l("Fiscal year"), validators=[DataRequired(), NumberRange(min=2000, max=2100)]
    )
    planned_start = DateField(_l("Planned start"), validators=[Optional()])
    planned_end = DateField(_l("Planned end"), validators=[Optional()])
    contract_no = StringField(_l("Contract number"), validators=[Optional(), Length(max=100)])
    fee = MoneyField(_l("Contract fee (yuan)"), validators=[Optional(), non_negative])
    description = TextAreaField(_l("Project overview"), validators=[Optional(), Length(max=20000)])
    evaluation_period = StringField(
        _l("Evaluation period"), validators=[Optional(), Length(max=100)]
    )
    data_provider = StringField(
        _l("Data provided by (responsible for the data)"), validators=[Optional(), Length(max=200)]
    )
    basis_rules = SelectMultipleField(
        _l("Basis of the evaluation"),
        choices=[SelectChoice(r, r) for r in BASIS_RULES],
        validators=[Optional()],
    )
    basis_other = TextAreaField(
        _l("Further rules (one a line)"), validators=[Optional(), Length(max=5000)]
    )
    commission_notice = StringField(
        _l("Commission notice"), validators=[Optional(), Length(max=300)]
    )

    def __init__(
        self,
        *args: object,
        clients: list[tuple[int, str]],
        units: list[tuple[int, str]],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.client_id.choices = pairs(clients)
        self.evaluated_unit_ids.choices = pairs(units)
        self.kind.choices = choices(EvaluationKind)
        self.scope.choices = choices(CommissionScope)

    def validate_planned_end(self, field: DateField) -> None:
        if field.data and self.planned_start.data and field.data < self.planned_start.data:
            raise ValidationError(_l("The end date is before the start date."))


BUDGET_COLUMNS = (
    ("initial", _l("Initial budget")),
    ("adjusted", _l("Adjusted budget")),
    ("available", _l("Funds received")),
    ("executed", _l("Executed")),
)
#: empty rows offered under the configured ones, to add sources without script
SPARE_FUND_ROWS = 3


class FundLineForm(Form):
    """One 资金来源 row (a sub-form: the CSRF token sits on :class:`BudgetForm`)."""

    line_id = HiddenField()
    name = StringField(_l("Source"), validators=[Optional(), Length(max=MAX_SOURCE_NAME)])
    initial = MoneyField(_l("Initial budget"), validators=[Optional(), non_negative])
    adjusted = MoneyField(_l("Adjusted budget"), validators=[Optional(), non_negative])
    available = MoneyField(_l("Funds received"), validators=[Optional(), non_negative])
    executed = MoneyField(_l("Executed"), validators=[Optional(), non_negative])
    remove = BooleanField(_l("Remove"))

    def figures(self) -> dict[str, object]:
        return {key: self[key].data for key, _title in BUDGET_COLUMNS}

    def is_blank(self) -> bool:
        return not (self.name.data or "").strip() and all(
            v is None for v in self.figures().values()
        )

    def validate_name(self, field: StringField) -> None:
        if not (field.data or "").strip() and not self.remove.data and not self.is_blank():
            raise ValidationError(_l("Name the source of these figures."))


class BudgetForm(VersionedForm):
    """The funds table: any number of named sources (万元) and the rate denominators."""

    lines = FieldList(FormField(FundLineForm), min_entries=0)
    funding_denominator = SelectField(_l("Denominator of the funding rate"), choices=[])
    execution_denominator = SelectField(_l("Denominator of the execution rate"), choices=[])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.funding_denominator.choices = pairs(
            [(d.value, label(d)) for d in FUNDING_RATE_DENOMINATORS]
        )
        self.execution_denominator.choices = pairs(
            [(d.value, label(d)) for d in EXECUTION_RATE_DENOMINATORS]
        )

    def kept_lines(self) -> list[FundLineForm]:
        """The rows to store: not ticked for removal and not left blank."""
        return [
            entry.form
            for entry in self.lines
            if not entry.form.remove.data and not entry.form.is_blank()
        ]

    def validate_lines(self, field: FieldList) -> None:
        names = [source_name(line.name.data) for line in self.kept_lines()]
        if len(set(names)) != len(names):
            raise ValidationError(_l("Each fund source may appear only once."))


class GoalTextForm(VersionedForm):
    """总体目标 and 年度目标."""

    overall_goal = TextAreaField(_l("Overall goal"), validators=[Optional(), Length(max=5000)])
    annual_goal = TextAreaField(_l("Annual goal"), validators=[Optional(), Length(max=5000)])


class GoalForm(BaseForm):
    """One performance-goal indicator."""

    level1 = StringField(
        _l("Level-1 indicator"),
        validators=[DataRequired(), Length(max=50)],
        description=_l("e.g. 产出指标, 效益指标, 满意度指标"),
    )
    level2 = StringField(
        _l("Level-2 indicator"),
        validators=[Optional(), Length(max=50)],
        description=_l("e.g. 数量指标, 质量指标, 时效指标"),
    )
    name = StringField(_l("Level-3 indicator"), validators=[DataRequired(), Length(max=200)])
    nature = SelectField(_l("Nature"), choices=[])
    target_value = StringField(_l("Target value"), validators=[DataRequired(), Length(max=100)])
    unit = StringField(_l("Unit"), validators=[Optional(), Length(max=30)])
    actual_value = StringField(_l("Actual value"), validators=[Optional(), Length(max=100)])
    deviation_reason = TextAreaField(
        _l("Reason for deviation"), validators=[Optional(), Length(max=2000)]
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.nature.choices = choices(GoalNature)

    def _numeric(self, field: StringField) -> None:
        if self.nature.data != GoalNature.QUALITATIVE.value and field.data:
            if parse_date(field.data) is not None:  # a date target (≤2025年12月31日)
                return
            try:
                split_value(field.data)
            except ValueError as exc:
                raise ValidationError(
                    _l("A quantitative indicator needs a number (optionally ending in %).")
                ) from exc

    def validate_target_value(self, field: StringField) -> None:
        self._numeric(field)

    def validate_actual_value(self, field: StringField) -> None:
        self._numeric(field)


class GoalImportForm(BaseForm):
    """Upload a 绩效目标表 (Excel or CSV)."""

    file = FileField(
        _l("Goal table (.xlsx, .xls or .csv)"),
        validators=[
            FileRequired(_l("Choose a file to import.")),
            FileAllowed(["xlsx", "xls", "csv"], _l("Only .xlsx, .xls or .csv.")),
        ],
    )
    replace = BooleanField(_l("Replace the existing goal indicators"))


class MemberForm(BaseForm):
    """Add a staff user to the team."""

    user_id = SelectField(_l("Staff member"), coerce=int, choices=[])
    role = SelectField(_l("Role in the engagement"), choices=[])

    def __init__(self, *args: object, users: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user_id.choices = pairs(users)
        self.role.choices = choices(MemberRole)


class TransitionForm(VersionedForm):
    """Move the engagement to another state."""

    target = SelectField(choices=[SelectChoice(s.value) for s in EngagementState])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class EmptyForm(BaseForm):
    """A bare form: only the CSRF token (delete and remove buttons)."""
