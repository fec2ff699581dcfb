"""Questionnaires: the question types, their answer columns and answer checking (no Flask).

A questionnaire is a list of questions. Every answer is stored under a *column header* in the
style of a 问卷星 export (``"3、您对…的满意程度"``; a matrix item is ``"5、题干—子项"``), so
responses collected on the public page, imported from 问卷星 or from a generic CSV are all
analysed by the same code. Multiple-choice answers are joined with ``┋`` as in 问卷星.

The YAML files in ``scoring_templates/surveys/`` use the same format::

    title: 受益群众满意度调查问卷
    group: 受益群众
    questions:
      - {type: single, text: 您的性别, options: [男, 女]}
      - {type: likert, text: 您对供水水质的满意程度, satisfaction: true, dont_know: true}
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.core.numbers import clean_text
from workbench.core.safefiles import load_yaml

MULTI_SEPARATOR = "┋"
DEFAULT_LIKERT = ("非常满意", "满意", "一般", "不满意", "非常不满意")
DONT_KNOW_LABEL = "不了解/说不清"
QUESTION_TYPES = ("single", "multiple", "likert", "matrix", "rating", "number", "text", "textarea")
MAX_TEXT = 2000  # characters kept of a free-text answer
#: options that mean "none of these": a multiple choice takes one of them only on its own
NONE_OPTIONS = ("暂未发现明显问题", "以上都没有", "以上均无", "以上都不是", "都没有", "没有", "无")
#: an option starting so ("其他", "其他（请注明）") gets a text box; its text is kept with the
#: answer as 问卷星 exports it: ``其他〖text〗``
OTHER_PREFIX = "其他"
MAX_OTHER = 200


class Question(BaseModel):
    """One question. ``labels`` are the Likert levels from most to least satisfied."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["single", "multiple", "likert", "matrix", "rating", "number", "text", "textarea"]
    text: Annotated[str, Field(min_length=1, max_length=500)]
    required: bool = True
    section: Annotated[str, Field(max_length=200)] = ""
    help: Annotated[str, Field(max_length=500)] = ""
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    items: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    labels: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=lambda: list(DEFAULT_LIKERT)
    )
    dont_know: bool = False
    #: counts towards the satisfaction rate (Likert and matrix questions)
    satisfaction: bool = False
    #: attention check: the answer a careful respondent gives
    expected: Annotated[str, Field(max_length=200)] = ""
    #: number questions: allowed range
    minimum: float | None = None
    maximum: float | None = None

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type in ("single", "multiple"):
            if len(self.options) < 2:
                raise ValueError("a choice question needs at least 2 options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be different")
        if self.type in ("likert", "matrix") and (
            len(self.labels) != 5 or len(set(self.labels)) != 5
        ):
            raise ValueError("a Likert scale needs 5 different labels")
        if self.type == "matrix" and len(self.items) < 2:
            raise ValueError("a matrix question needs at least 2 items")
        if len(set(self.items)) != len(self.items):
            raise ValueError("matrix items must be different")
        if self.type not in ("likert", "matrix") and self.satisfaction:
            raise ValueError("only Likert and matrix questions count as satisfaction items")
        if self.expected and self.expected not in self.choices():
            raise ValueError("the expected answer must be one of the question's choices")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("the minimum is above the maximum")
        return self

    def exclusive_options(self) -> list[str]:
        """The options of a multiple choice that are ticked only on their own (``NONE_OPTIONS``).

        >>> q = Question(type="multiple", text="问题", options=["漏水", "暂未发现明显问题"])
        >>> q.exclusive_options()
        ['暂未发现明显问题']
        """
        return [o for o in self.options if o in NONE_OPTIONS] if self.type == "multiple" else []

    def other_option(self) -> str | None:
        """The choice option that asks for the respondent's own words, if any."""
        if self.type not in ("single", "multiple"):
            return None
        return next((o for o in self.options if o.startswith(OTHER_PREFIX)), None)

    def choices(self) -> list[str]:
        """The answers a respondent can pick (empty for free answers)."""
        if self.type in ("single", "multiple"):
            return list(self.options)
        if self.type in ("likert", "matrix"):
            return [*self.labels, *([DONT_KNOW_LABEL] if self.dont_know else [])]
        if self.type == "rating":
            return [str(i) for i in range(11)]
        return []


class Questionnaire(BaseModel):
    """A questionnaire file of the library (or a survey's questions)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Annotated[str, Field(min_length=1, max_length=200)]
    group: Annotated[str, Field(max_length=100)] = ""
    description: Annotated[str, Field(max_length=2000)] = ""
    questions: list[Question] = Field(min_length=1, max_length=200)


@dataclass(frozen=True)
class Column:
    """One answer column of a question (a matrix has one per item)."""

    header: str
    question: int  # index into the question list
    item: str | None = None


def columns(questions: Sequence[Question]) -> list[Column]:
    """Answer columns in 问卷星 header style, numbered from 1.

    >>> qs = [Question(type="single", text="性别", options=["男", "女"]),
    ...       Question(type="matrix", text="满意程度", items=["水质", "水压"])]
    >>> [c.header for c in columns(qs)]
    ['1、性别', '2、满意程度—水质', '2、满意程度—水压']
    """
    out: list[Column] = []
    for i, q in enumerate(questions):
        base = f"{i + 1}、{q.text}"
        if q.type == "matrix":
            out += [Column(f"{base}—{item}", i, item) for item in q.items]
        else:
            out.append(Column(base, i))
    return out


def satisfaction_columns(questions: Sequence[Question]) -> list[str]:
    """Headers of the columns that count towards the satisfaction rate."""
    return [c.header for c in columns(questions) if questions[c.question].satisfaction]


def level_map(questions: Sequence[Question]) -> dict[str, str]:
    """Answer label → standard level (非常满意 … 非常不满意, 不了解), by position on the scale,
    so custom labels such as 很好/较好/一般/较差/很差 are analysed on the standard scale."""
    out: dict[str, str] = {}
    for q in questions:
        if q.type in ("likert", "matrix"):
            for label, level in zip(q.labels, DEFAULT_LIKERT, strict=True):
                out.setdefault(label, level)
            if q.dont_know:
                out.setdefault(DONT_KNOW_LABEL, "不了解")
    return out


def check_answers(
    questions: Sequence[Question], form: Mapping[str, Sequence[str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check a submitted form (``q<i>`` or ``q<i>.<j>`` → values) against the questions.

    Returns ``(answers by header, errors by field name)``; errors are codes the web layer
    translates: ``required``, ``choice``, ``exclusive``, ``number``, ``range``, ``too_long``,
    ``other_too_long``.
    The text of an "其他" option comes as ``q<i>.other`` and is kept as ``其他〖text〗``.

    >>> q = Question(type="multiple", text="问题", options=["漏水", "暂未发现明显问题", "其他"])
    >>> check_answers([q], {"q1": ["漏水", "暂未发现明显问题"]})[1]
    {'q1': 'exclusive'}
    >>> check_answers([q], {"q1": ["漏水", "其他"], "q1.other": [" 水压低 "]})[0]
    {'1、问题': '漏水┋其他〖水压低〗'}
    """
    answers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for col in columns(questions):
        q = questions[col.question]
        name = (
            f"q{col.question + 1}"
            if col.item is None
            else (f"q{col.question + 1}.{q.items.index(col.item) + 1}")
        )
        values = [clean_text(v).strip() for v in form.get(name, []) if clean_text(v).strip()]
        if not values:
            if q.required:
                errors[name] = "required"
            answers[col.header] = ""
            continue
        allowed = q.choices()
        other, other_error = _other_text(q, form.get(f"{name}.other", []))
        if other_error:
            errors[name] = other_error
        if q.type == "multiple":
            picked = [v for v in allowed if v in values]  # questionnaire order
            if len(picked) != len(set(values)):
                errors[name] = "choice"
            elif len(picked) > 1 and set(picked) & set(q.exclusive_options()):
                errors[name] = "exclusive"
            answers[col.header] = MULTI_SEPARATOR.join(
                f"{v}〖{other}〗" if other and v == q.other_option() else v for v in picked
            )
            continue
        value = values[0]
        if allowed and value not in allowed:
            errors[name] = "choice"
        elif other and value == q.other_option():
            value = f"{value}〖{other}〗"
        elif q.type == "number":
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                errors[name] = "number"
            else:
                if (q.minimum is not None and number < q.minimum) or (
                    q.maximum is not None and number > q.maximum
                ):
                    errors[name] = "range"
        elif len(value) > MAX_TEXT:
            errors[name] = "too_long"
        answers[col.header] = value
    return answers, errors


def _other_text(q: Question, posted: Sequence[str]) -> tuple[str, str | None]:
    """The words typed for the question's "其他" option (brackets removed), and an error code
    when they are too long."""
    if q.other_option() is None:
        return "", None
    text = " ".join(clean_text(v).strip() for v in posted if clean_text(v).strip())
    text = text.replace("〖", "(").replace("〗", ")")
    return (text, None) if len(text) <= MAX_OTHER else ("", "other_too_long")


class QuestionnaireError(ValueError):
    """A questionnaire file that does not follow the format; the message names the place."""


def parse_questionnaire(data: object, source: str = "questionnaire") -> Questionnaire:
    """Validate a parsed YAML/JSON mapping; errors name the question (1-based) and field."""
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:10]:
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == "questions" and isinstance(loc[1], int):
                loc[1] = f"Q{loc[1] + 1}"
            place = ".".join(str(x) for x in loc) or "file"
            parts.append(f"{place}: {err['msg']}")
        raise QuestionnaireError(f"{source}: " + "; ".join(parts)) from exc


def load_questionnaire(path: Path) -> Questionnaire:
    """Read one YAML file of the library."""
    try:
        data = load_yaml(path.read_bytes())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise QuestionnaireError(f"{path.name}: {exc}") from exc
    return parse_questionnaire(data, path.name)


def library(folder: Path) -> dict[str, Questionnaire]:
    """All questionnaires of a folder by file stem, sorted."""
    return {p.stem: load_questionnaire(p) for p in sorted(folder.glob("*.yaml"))}


def dump_questionnaire(q: Questionnaire) -> str:
    """YAML text of a questionnaire (defaults left out), for download and re-upload."""
    data = q.model_dump(mode="json", exclude_defaults=True)
    data["questions"] = [
        {"type": qq.type, "text": qq.text, **qq.model_dump(mode="json", exclude_defaults=True)}
        for qq in q.questions
    ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def split_lines(text: str) -> list[str]:
    """Textarea → list of non-empty stripped lines."""
    return [line.strip() for line in re.split(r"[\r\n]+", text or "") if line.strip()]


def sections(questions: Iterable[Question]) -> list[tuple[str, list[int]]]:
    """Consecutive questions grouped by section title (for the form layout)."""
    out: list[tuple[str, list[int]]] = []
    for i, q in enumerate(questions):
        if not out or (q.section and q.section != out[-1][0]):
            out.append((q.section, []))
        out[-1][1].append(i)
    return out
