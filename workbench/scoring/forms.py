"""Scoring forms."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
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
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from workbench.core.indicators import CODE_PATTERN
from workbench.core.weights import SAATY_JUDGMENTS, parse_judgment
from workbench.forms import BaseForm, MoneyField, non_negative
from workbench.labels import pairs


def positive_points(form: object, field: object) -> None:
    value = getattr(field, "data", None)
    if value is None or value <= 0:
        raise ValidationError(_l("Points must be more than 0."))
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_l("Use at most 2 decimals."))


#: the AHP page's choices: the full 1–9 scale with the intermediate 2, 4, 6, 8
SAATY_SCALE = [(t, t) for t in SAATY_JUDGMENTS]


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
    """What every way of setting children's points shares: the RI table (AHP) and the button
    pressed (``apply`` saves, anything else only calculates)."""

    ri = SelectField(_l("Random index table"), choices=[], default="saaty")
    action = HiddenField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.ri.choices = pairs([("saaty", _l("Saaty")), ("cn", _l("Chinese textbook"))])

    @property
    def applying(self) -> bool:
        return self.action.data == "apply"


# The forms below are built per indicator: one field per child (``w-<code>``, ``dir-<code>``)
# or per pair of children (``pair-<a>-<b>``). Field names are the codes, so the page and the
# posted data read as before.


def _positive_points(code: str) -> Any:
    def check(form: object, field: Any) -> None:
        value = field.data
        if value is None or value <= 0 or value != value.quantize(Decimal("0.01")):
            raise ValidationError(
                _(
                    "%(code)s: enter a positive number of points with at most 2 decimals.",
                    code=code,
                )
            )

    return check


def direct_weights_form(children: Sequence[Any], points: Decimal, **kwargs: Any) -> WeightsForm:
    """Points typed for each child; they must add up to ``points``."""

    class DirectWeightsForm(WeightsForm):
        def validate(self, extra_validators: Any = None) -> bool:
            if not super().validate(extra_validators):
                return False
            total = sum(self.entered().values())
            if total != points:
                self.form_errors.append(
                    _("The points add up to %(sum)s, not %(points)s.", sum=total, points=points)
                )
                return False
            return True

        def entered(self) -> dict[str, Decimal]:
            return {c.code: self[f"w-{c.code}"].data for c in children}

    for child in children:
        setattr(
            DirectWeightsForm,
            f"w-{child.code}",
            MoneyField(
                f"{child.code} {child.name}",
                validators=[_positive_points(child.code)],
                default=child.weight,
            ),
        )
    return DirectWeightsForm(**kwargs)


def child_pairs(children: Sequence[Any]) -> list[tuple[Any, Any]]:
    """The pairs compared on the AHP page, in the order of the matrix's upper triangle."""
    return [(a, b) for i, a in enumerate(children) for b in children[i + 1 :]]


def _on_scale(form: object, field: Any) -> None:
    if field.data not in SAATY_JUDGMENTS:
        raise ValidationError(
            _("%(pair)s: choose a judgment from the 1–9 scale.", pair=field.label.text)
        )


def ahp_weights_form(
    children: Sequence[Any], applied: dict[str, str] | None = None, **kwargs: Any
) -> WeightsForm:
    """One judgment on Saaty's scale per pair of children, preset to the applied ones."""

    class AhpWeightsForm(WeightsForm):
        def upper(self) -> list[float]:
            return [parse_judgment(self[f"pair-{a.code}-{b.code}"].data) for a, b in pairs_]

    pairs_ = child_pairs(children)
    for a, b in pairs_:
        name = f"pair-{a.code}-{b.code}"
        setattr(
            AhpWeightsForm,
            name,
            SelectField(
                f"{a.code}:{b.code}",
                choices=pairs(SAATY_SCALE),
                default=(applied or {}).get(f"{a.code}-{b.code}", "1"),
                validate_choice=False,  # _on_scale says which pair, in the user's language
                validators=[_on_scale],
            ),
        )
    return AhpWeightsForm(**kwargs)


def _group_lines(n: int) -> Any:
    def check(form: Any, field: Any) -> None:
        lines = [line for line in (field.data or "").splitlines() if line.strip()]
        want = n * (n - 1) // 2
        form.judgments = []
        for number, line in enumerate(lines, start=1):
            try:
                upper = [
                    parse_judgment(x) for x in line.replace("，", ",").replace(",", " ").split()
                ]
            except (ValueError, ZeroDivisionError) as exc:
                raise ValidationError(
                    _("Expert %(k)s: not a judgment on the 1–9 scale.", k=number)
                ) from exc
            if any(not 1 / 9.01 < x < 9.01 for x in upper):  # 0.333 for 1/3 is fine
                raise ValidationError(_("Expert %(k)s: not a judgment on the 1–9 scale.", k=number))
            if len(upper) != want:
                raise ValidationError(
                    _(
                        "Expert %(k)s: %(got)s judgments, %(want)s needed.",
                        k=number,
                        got=len(upper),
                        want=want,
                    )
                )
            form.judgments.append(upper)
        if len(form.judgments) < 2:
            raise ValidationError(_("Enter one line of judgments per expert, at least two."))

    return check


def group_ahp_weights_form(
    children: Sequence[Any], applied: str = "", **kwargs: Any
) -> WeightsForm:
    """One line of judgments per expert, preset to the applied ones; after validation
    ``judgments`` holds them."""

    class GroupAhpWeightsForm(WeightsForm):
        judgments: list[list[float]]
        group = TextAreaField(
            _l("Group AHP (several experts)"),
            validators=[Length(max=20000), _group_lines(len(children))],
            default=applied,
        )

    return GroupAhpWeightsForm(**kwargs)


def _entropy_table(children: Sequence[Any]) -> Any:
    def check(form: Any, field: Any) -> None:
        form.table = entropy_rows(field.data or "", children)

    return check


def entropy_rows(text: str, children: Sequence[Any]) -> list[dict[str, float]]:
    """A pasted table (tab, comma or space separated; header row of codes or names) as one
    dict per evaluated object; ValidationError with the reason otherwise."""
    rows = [
        line.replace("\t", ",").replace("，", ",") for line in text.splitlines() if line.strip()
    ]
    if len(rows) < 4:
        # with two objects min–max normalisation makes every column 0/1: no information
        raise ValidationError(_("Paste a header row and at least three rows of data."))
    split = [[cell.strip() for cell in (r.split(",") if "," in r else r.split())] for r in rows]
    header = split[0]
    index = {}
    for child in children:
        for key in (child.code, child.name):
            if key in header:
                index[child.code] = header.index(key)
                break
        else:
            raise ValidationError(
                _(
                    "No column for %(code)s %(name)s in the header row.",
                    code=child.code,
                    name=child.name,
                )
            )
    data = []
    for number, row in enumerate(split[1:], start=2):
        try:
            data.append({code: float(row[i]) for code, i in index.items()})
        except (ValueError, IndexError) as exc:
            raise ValidationError(_("Row %(row)s is not a row of numbers.", row=number)) from exc
    return data


def entropy_weights_form(children: Sequence[Any], **kwargs: Any) -> WeightsForm:
    """A pasted table and each child's direction; after validation ``table`` holds the rows."""

    class EntropyWeightsForm(WeightsForm):
        table: list[dict[str, float]]
        entropy_table = TextAreaField(
            _l("Entropy weights (from data)"),
            validators=[Length(max=200000), _entropy_table(children)],
        )

        def directions(self) -> dict[str, int]:
            return {c.code: int(self[f"dir-{c.code}"].data) for c in children}

    for child in children:
        setattr(
            EntropyWeightsForm,
            f"dir-{child.code}",
            SelectField(
                f"{child.code} {child.name}",
                choices=pairs([("1", _("more is better")), ("-1", _("less is better"))]),
                default="1",
            ),
        )
    return EntropyWeightsForm(**kwargs)
