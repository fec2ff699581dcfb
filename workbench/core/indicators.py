"""Indicator systems (指标体系): the scoring-template format, its validation and loading.

A template is a tree of indicators of any depth. Every node has a code, a name and a weight
(分值, points); a leaf also has a scoring method with its parameters. The rules checked here:

* the children's weights add up exactly to their parent's weight, and the top level to the
  template's ``total`` (100 by default);
* codes are unique; every leaf has a method and no inner node has one;
* method parameters are valid for their method (see :mod:`workbench.core.scoring`);
* where the template sets ``min_output_benefit`` (部门评价/财政评价: 产出 + 效益 ≥ 60), the
  weights of the first-level nodes tagged ``output`` and ``benefit`` reach it.

The format is documented in ``docs/scoring-templates.md``; bundled templates live in
``scoring_templates/``. Errors are reported with the file, the path inside it (e.g.
``indicators[2].children[0].weight``) and a message.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from workbench.core.budget import ALLOWED_DENOMINATORS, RATE_NAME_ZH, Denominator, RateKind
from workbench.core.goals import GoalNature
from workbench.core.safefiles import load_yaml

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"


class Tag(enum.StrEnum):
    """What a first-level indicator stands for (used by the weight rules and the report)."""

    DECISION = "decision"  # 决策
    PROCESS = "process"  # 过程
    OUTPUT = "output"  # 产出
    BENEFIT = "benefit"  # 效益 / 效果
    INPUT = "input"  # 投入 (2013 / 部门整体)
    SATISFACTION = "satisfaction"  # 满意度
    EXECUTION = "execution"  # 预算执行率 (自评表)
    OTHER = "other"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetMethod(_Strict):
    """A goal indicator against its actual value (指标性质 ≥ ≤ = > < 定性)."""

    type: Literal["target"]
    nature: GoalNature | None = None  # None: taken from the linked goal indicator
    target: Decimal | None = None
    unit: str = ""
    goal: str | None = Field(None, description="name of the engagement goal indicator to use")
    overshoot_warning: Decimal = Field(Decimal("0.3"), ge=0)


class RatioFormula(enum.StrEnum):
    #: 预算执行率: 执行数 ÷ the template's declared denominator, else the engagement's
    BUDGET_EXECUTION = "budget_execution"
    #: 资金到位率: 到位资金 ÷ the template's declared denominator, else the engagement's
    FUNDING = "funding"
    RATIO = "ratio"  # entered numerator ÷ entered denominator (完成率, 达标率 …)
    SAVING = "saving"  # 成本节约率: (计划成本 − 实际成本) ÷ 计划成本


BUDGET_RATE_OF: dict[RatioFormula, RateKind] = {
    RatioFormula.BUDGET_EXECUTION: RateKind.EXECUTION,
    RatioFormula.FUNDING: RateKind.FUNDING,
}


class RatioMethod(_Strict):
    """A rate from engagement figures, scored proportionally between two thresholds.

    ``denominator`` (``budget_execution``/``funding`` only) is the budget figure the template's
    own indicator text divides by (``adjusted`` 调整后预算数, ``initial`` 年初预算数,
    ``available`` 实际到位资金, execution rate only); declared, it wins over the engagement's
    setting."""

    type: Literal["ratio"]
    formula: RatioFormula = RatioFormula.RATIO
    denominator: Denominator | None = None
    numerator_label: str = ""
    denominator_label: str = ""
    full_score_at: Decimal = Field(Decimal(1), gt=0)  # rate at (or above) which: full marks
    zero_score_at: Decimal = Field(Decimal(0), ge=0)  # rate at (or below) which: 0

    @model_validator(mode="after")
    def _thresholds(self) -> RatioMethod:
        if self.zero_score_at >= self.full_score_at:
            raise ValueError("zero_score_at must be below full_score_at")
        if self.denominator is not None:
            kind = BUDGET_RATE_OF.get(self.formula)
            if kind is None:
                raise ValueError(
                    "denominator is only declared for the budget_execution and funding formulas"
                )
            if self.denominator not in ALLOWED_DENOMINATORS[kind]:
                allowed = ", ".join(d.value for d in ALLOWED_DENOMINATORS[kind])
                raise ValueError(
                    f"{RATE_NAME_ZH[kind]} cannot be divided by {self.denominator.value} "
                    f"(allowed: {allowed})"
                )
        return self


class QualitativeMethod(_Strict):
    """Three bands: 达成 [80 %, 100 %], 部分达成 [60 %, 80 %), 未达成 [0, 60 %) of the weight."""

    type: Literal["qualitative"]


class DeductionMethod(_Strict):
    """扣分制: each finding deducts points, never below 0."""

    type: Literal["deduction"]
    default_points: Decimal | None = Field(None, gt=0)


class ChecklistMethod(_Strict):
    """要素计数: n of m elements met, each worth ``points_each`` (default weight ÷ m)."""

    type: Literal["checklist"]
    elements: list[str] = Field(min_length=1)
    points_each: Decimal | None = Field(None, gt=0)


class ExpertMethod(_Strict):
    """The aggregated expert-panel score (entered until the panel module fills it)."""

    type: Literal["expert"]


class SurveyBand(_Strict):
    min_rate: Decimal = Field(ge=0, le=1)
    share: Decimal = Field(ge=0, le=1)  # share of the weight awarded


class SurveyMethod(_Strict):
    """A satisfaction rate (0–1) mapped to points: proportional to ``target`` or banded."""

    type: Literal["survey"]
    mode: Literal["proportional", "banded"] = "proportional"
    target: Decimal = Field(Decimal(1), gt=0, le=1)
    bands: list[SurveyBand] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bands(self) -> SurveyMethod:
        if self.mode == "banded" and not self.bands:
            raise ValueError("banded survey scoring needs bands")
        return self


class ManualMethod(_Strict):
    """The evaluator's score; a reason is required below full marks."""

    type: Literal["manual"]


Method = Annotated[
    TargetMethod
    | RatioMethod
    | QualitativeMethod
    | DeductionMethod
    | ChecklistMethod
    | ExpertMethod
    | SurveyMethod
    | ManualMethod,
    Field(discriminator="type"),
]
METHOD_TYPES = (
    "target",
    "ratio",
    "qualitative",
    "deduction",
    "checklist",
    "expert",
    "survey",
    "manual",
)


class Indicator(_Strict):
    """One node of the tree. Leaves carry a ``method``; inner nodes carry ``children``."""

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = None
    weight: Decimal = Field(gt=0, le=1000)
    tag: Tag | None = None
    definition: str = ""  # 指标解释
    key_points: str = ""  # 评价要点
    criteria: str = ""  # 评分标准
    data_source: str = ""  # 数据来源
    method: Method | None = None
    children: list[Indicator] = Field(default_factory=list)

    @field_validator("name", "definition", "key_points", "criteria", "data_source", mode="before")
    @classmethod
    def _trim(cls, value: Any) -> Any:
        # YAML block scalars end with a newline, spreadsheet cells do not: the same text
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _shape(self) -> Indicator:
        if self.children and self.method is not None:
            raise ValueError(f"{self.code}: an indicator with children has no method")
        if not self.children and self.method is None:
            raise ValueError(f"{self.code}: a leaf indicator needs a scoring method")
        if self.children:
            total = sum((c.weight for c in self.children), Decimal(0))
            if total != self.weight:
                raise ValueError(
                    f"{self.code}: children's weights add up to {total}, not {self.weight}"
                )
        if isinstance(self.method, ChecklistMethod) and self.method.points_each is not None:
            most = self.method.points_each * len(self.method.elements)
            if most < self.weight:
                raise ValueError(
                    f"{self.code}: {len(self.method.elements)} elements × "
                    f"{self.method.points_each} cannot reach the weight {self.weight}"
                )
        return self

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def walk(self, depth: int = 1) -> Iterator[tuple[int, Indicator]]:
        """This node and its descendants, depth-first, with their level (1 = top)."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


class Template(_Strict):
    """A whole indicator system."""

    code: str = Field(pattern=CODE_PATTERN)
    name: str = Field(min_length=1)
    name_en: str | None = None
    language: Literal["zh", "en"] = "zh"
    source: str = ""
    description: str = ""
    total: Decimal = Field(Decimal(100), gt=0)
    min_output_benefit: Decimal | None = None
    indicators: list[Indicator] = Field(min_length=1)

    @field_validator("name", "source", "description", mode="before")
    @classmethod
    def _trim(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _whole(self) -> Template:
        total = sum((i.weight for i in self.indicators), Decimal(0))
        if total != self.total:
            raise ValueError(f"top-level weights add up to {total}, not {self.total}")
        seen: set[str] = set()
        for _depth, node in self.walk():
            if node.code in seen:
                raise ValueError(f"indicator code {node.code} is used twice")
            seen.add(node.code)
        declared: dict[RateKind, Denominator] = {}
        for leaf in self.leaves():
            method = leaf.method
            if isinstance(method, RatioMethod) and method.denominator is not None:
                kind = BUDGET_RATE_OF[method.formula]
                if declared.setdefault(kind, method.denominator) is not method.denominator:
                    raise ValueError(
                        f"{leaf.code}: {RATE_NAME_ZH[kind]} is divided by "
                        f"{declared[kind].value} elsewhere in the template, "
                        f"not {method.denominator.value}"
                    )
        if self.min_output_benefit is not None:
            ob = sum(
                (i.weight for i in self.indicators if i.tag in (Tag.OUTPUT, Tag.BENEFIT)),
                Decimal(0),
            )
            if ob < self.min_output_benefit:
                raise ValueError(
                    f"产出 + 效益 weights are {ob}, below the required {self.min_output_benefit}"
                )
        return self

    def walk(self) -> Iterator[tuple[int, Indicator]]:
        for node in self.indicators:
            yield from node.walk()

    def leaves(self) -> list[Indicator]:
        return [n for _d, n in self.walk() if n.is_leaf]

    def find(self, code: str) -> Indicator:
        for _d, node in self.walk():
            if node.code == code:
                return node
        raise KeyError(code)

    def depth(self) -> int:
        return max(d for d, _n in self.walk())

    def declared_denominators(self) -> dict[RateKind, Denominator]:
        """The budget-rate denominators the template's leaves declare (at most one per rate,
        checked on validation).

        >>> t = parse_template({"code": "t", "name": "T", "total": 5, "indicators": [
        ...     {"code": "B12", "name": "预算执行率", "weight": 5, "method": {
        ...         "type": "ratio", "formula": "budget_execution", "denominator": "available"}}]})
        >>> {k.value: v.value for k, v in t.declared_denominators().items()}
        {'execution': 'available'}
        """
        out: dict[RateKind, Denominator] = {}
        for leaf in self.leaves():
            method = leaf.method
            if isinstance(method, RatioMethod) and method.denominator is not None:
                out[BUDGET_RATE_OF[method.formula]] = method.denominator
        return out


@dataclass(frozen=True)
class TemplateError:
    """One problem in a template: where (file and path) and what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class InvalidTemplate(ValueError):
    """A template failed validation; ``errors`` lists every problem found."""

    def __init__(self, errors: list[TemplateError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in METHOD_TYPES:  # pydantic's discriminated-union tag, not a key in the file
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_template(data: Any, file: str = "<template>") -> Template:
    """Validate a template given as a mapping (e.g. from YAML).

    Raises
    ------
    InvalidTemplate
        With one :class:`TemplateError` per problem (file, path, message).

    Examples
    --------
    >>> t = parse_template({"code": "t", "name": "T", "total": 10, "indicators": [
    ...     {"code": "A", "name": "甲", "weight": 10, "method": {"type": "manual"}}]})
    >>> [n.code for n in t.leaves()]
    ['A']
    >>> parse_template({"code": "t", "name": "T", "indicators": [
    ...     {"code": "A", "name": "甲", "weight": 90, "method": {"type": "manual"}}]})
    Traceback (most recent call last):
    ...
    workbench.core.indicators.InvalidTemplate: <template>: top-level weights add up to 90, not 100
    """
    if not isinstance(data, dict):
        raise InvalidTemplate([TemplateError(file, "", "a template must be a mapping")])
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            message = str(err["msg"]).removeprefix("Value error, ")
            errors.append(TemplateError(file, _path(tuple(err["loc"])), message))
        # A field error stops pydantic before the sums are checked; check them anyway, so
        # that one pass reports every problem.
        known = {e.message for e in errors}
        errors += [e for e in _weight_sum_errors(data, file) if e.message not in known]
        raise InvalidTemplate(errors) from None


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if not isinstance(value, bool) else None
    except ArithmeticError:
        return None


def _weight_sum_errors(data: dict[str, Any], file: str) -> list[TemplateError]:
    """Weight-sum problems found on the raw mapping, independent of other errors."""
    errors: list[TemplateError] = []

    def check(nodes: Any, expected: Decimal | None, path: str, owner: str) -> None:
        if not isinstance(nodes, list):
            return
        weights = [_number(n.get("weight")) if isinstance(n, dict) else None for n in nodes]
        if expected is not None and weights and all(w is not None for w in weights):
            total = sum(weights, Decimal(0))  # type: ignore[arg-type]
            if total != expected:
                message = (
                    f"{owner}: children's weights add up to {total}, not {expected}"
                    if owner
                    else f"top-level weights add up to {total}, not {expected}"
                )
                errors.append(TemplateError(file, path, message))
        for i, node in enumerate(nodes):
            if isinstance(node, dict) and node.get("children"):
                check(
                    node["children"],
                    _number(node.get("weight")),
                    f"{path}[{i}]",
                    str(node.get("code", "")),
                )

    check(data.get("indicators"), _number(data.get("total", 100)), "indicators", "")
    return errors


def load_template(path: str | Path) -> Template:
    """Read and validate a YAML template file."""
    path = Path(path)
    try:
        data = load_yaml(path.read_bytes())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidTemplate([TemplateError(path.name, "", f"cannot read YAML: {exc}")]) from exc
    return parse_template(data, file=path.name)


def template_to_dict(template: Template) -> dict[str, Any]:
    """A plain mapping (defaults left out; numbers stay :class:`~decimal.Decimal`)."""
    return template.model_dump(mode="python", exclude_defaults=True)


class _Dumper(yaml.SafeDumper):
    """Writes Decimals as plain YAML numbers and enums as their values."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.Node:
    text = format(value.normalize(), "f")
    tag = "tag:yaml.org,2002:int" if "." not in text else "tag:yaml.org,2002:float"
    return dumper.represent_scalar(tag, text)


def _represent_enum(dumper: yaml.SafeDumper, value: enum.Enum) -> yaml.Node:
    return dumper.represent_str(str(value.value))


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_multi_representer(enum.Enum, _represent_enum)


def dump_yaml(template: Template) -> str:
    """The template as YAML text (round-trips through :func:`parse_template`)."""
    return yaml.dump(
        template_to_dict(template), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100
    )
