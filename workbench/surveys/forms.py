"""Survey forms."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    DecimalField,
    Field,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from workbench.core.questionnaire import QUESTION_TYPES, Question, columns
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
        _l(
            "Burst: more than this many responses from one device, or from one address with the same answers and duration"  # noqa: E501
        ),
        validators=[Optional(), NumberRange(min=1, max=100_000)],
        description=_l(
            "A shared address alone (one Wi-Fi for a village or school) never excludes a response."
        ),
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


class OverrideForm(BaseForm):
    """Keep or drop one response against the screening rules (the service checks both)."""

    decision = StringField(validators=[Optional(), Length(max=20)])
    note = TextAreaField(validators=[Optional(), Length(max=2000)])


class AddQuestionForm(BaseForm):
    """A new question of one type, with placeholder text."""

    new_type = SelectField(choices=pairs([(t, t) for t in QUESTION_TYPES]), validate_choice=True)


class QuestionnaireUploadForm(BaseForm):
    """A questionnaire file (YAML) that replaces every question; an empty upload is refused by
    the questionnaire reader with its own message."""

    file = FileField()


#: a question's fields in the builder; each is named ``q<i>-<field>`` on the page
QUESTION_FIELDS = (
    "type",
    "text",
    "section",
    "help",
    "expected",
    "options",
    "labels",
    "items",
    "minimum",
    "maximum",
)
QUESTION_FLAGS = ("required", "dont_know", "satisfaction")


def question_form(index: int) -> BaseForm:
    """The form of question ``index`` of the builder (the questionnaire model validates the
    values; lengths here only keep a request's size sane)."""
    prefix = f"q{index}-"
    fields: dict[str, object] = {
        f"{prefix}{name}": (
            TextAreaField(validators=[Optional(), Length(max=20_000)])
            if name in ("options", "labels", "items")
            else StringField(validators=[Optional(), Length(max=2_000)])
        )
        for name in QUESTION_FIELDS
    }
    fields.update({f"{prefix}{name}": BooleanField() for name in QUESTION_FLAGS})
    form_class = type(f"Question{index}Form", (BaseForm,), fields)
    return form_class()  # type: ignore[no-any-return]


def column_mapping_form(n_columns: int) -> BaseForm:
    """Where each column of an uploaded file goes (``col-<i>``: a question, a meta role, or
    nothing; the view keeps only targets it knows)."""
    fields: dict[str, object] = {
        f"col-{i}": StringField(validators=[Optional(), Length(max=500)]) for i in range(n_columns)
    }
    # an option-number export: the evaluator confirms the numbers are taken as they are (#15)
    fields["confirm_codes"] = BooleanField()
    return type("ColumnMappingForm", (BaseForm,), fields)()  # type: ignore[no-any-return]


def mapping_form(columns: list[str], n_answers: int) -> BaseForm:
    """The satisfaction items, what each distinct answer means (``level-<i>``) and the indicator
    the survey feeds (the service checks levels, measure and indicator)."""
    fields: dict[str, object] = {
        "columns": SelectMultipleField(choices=pairs([(c, c) for c in columns])),
        "leaf_code": StringField(validators=[Optional(), Length(max=50)]),
        "leaf_measure": StringField(default="rate", validators=[Optional(), Length(max=20)]),
        "leaf_group": StringField(validators=[Optional(), Length(max=500)]),
    }
    fields.update(
        {
            f"level-{i}": StringField(validators=[Optional(), Length(max=50)])
            for i in range(n_answers)
        }
    )
    return type("MappingForm", (BaseForm,), fields)()  # type: ignore[no-any-return]


def publish_form(n_groups: int, **kwargs: object) -> PublishForm:
    """:class:`PublishForm` with a population and a quota per respondent group
    (``population-<i>``, ``quota-<i>``: typed as people write numbers, parsed by the view)."""
    fields = {
        f"{key}-{i}": StringField(validators=[Optional(), Length(max=50)])
        for i in range(n_groups)
        for key in ("population", "quota")
    }
    return type("GroupPublishForm", (PublishForm,), fields)(**kwargs)  # type: ignore[no-any-return]


# --- the public questionnaire (surveys/public.py) ---------------------------------------------


#: why an answer is refused (the codes of ``check_answers``)
ANSWER_ERRORS = {
    "required": _l("Please answer this question."),
    "choice": _l("Choose one of the listed answers."),
    "number": _l("Enter a number."),
    "range": _l("The number is outside the allowed range."),
    "too_long": _l("The answer is too long (2,000 characters at most)."),
    "other_too_long": _l("The words for “其他” are too long (200 characters at most)."),
    "exclusive": _l(
        "“None of these” answers (such as 暂未发现明显问题) cannot be ticked together with others."
    ),
}


class AnswerField(Field):
    """Every value posted under one answer's name (a multiple choice posts several), as typed:
    the questionnaire's rules (:func:`workbench.core.questionnaire.check_answers`) judge them."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = [v for v in valuelist if isinstance(v, str)]

    def _value(self) -> str:
        return ""


class AnswerForm(BaseForm):
    """The answers to a questionnaire; made for its questions by :func:`answer_form`."""

    def answers(self) -> dict[str, list[str]]:
        """The posted values by answer name (``q3``, ``q4.2``): only the answered ones."""
        return {
            field.name: field.data
            for field in self
            if isinstance(field, AnswerField) and field.raw_data
        }

    def messages(self, errors: dict[str, str]) -> dict[str, str]:
        """The message of each refused answer, by answer name."""
        return {name: str(ANSWER_ERRORS[code]) for name, code in errors.items()}


def answer_form(questions: Sequence[Question]) -> AnswerForm:
    """An :class:`AnswerForm` with one field per answer of ``questions``, named as the page and
    ``check_answers`` name them: ``q<question>`` or, for a matrix item, ``q<question>.<item>``."""
    fields = {}
    for col in columns(questions):
        number = col.question + 1
        if col.item is None:
            name = f"q{number}"
        else:
            name = f"q{number}.{questions[col.question].items.index(col.item) + 1}"
        fields[name.replace(".", "_")] = AnswerField(name=name)
        if col.item is None and questions[col.question].other_option():
            fields[f"q{number}_other"] = AnswerField(name=f"q{number}.other")
    return type("QuestionnaireAnswerForm", (AnswerForm,), fields)()
