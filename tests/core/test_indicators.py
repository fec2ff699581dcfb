from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from workbench.core.indicators import InvalidTemplate, dump_yaml, load_template, parse_template

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "scoring_templates").glob("*.yaml"))


def leaf(code, weight, method=None):
    return {"code": code, "name": code, "weight": weight, "method": method or {"type": "manual"}}


def test_bad_template_reports_every_error_with_path():
    data = {
        "code": "t",
        "name": "T",
        "indicators": [
            {
                "code": "A",
                "name": "a",
                "weight": 60,
                "tag": "output",
                "children": [
                    leaf("A1", 30),
                    leaf("A2", 20, {"type": "ratio", "formula": "nonsense"}),
                ],
            },
            {"code": "B", "name": "b", "weight": 30, "children": [leaf("B1", 30)]},
        ],
    }
    with pytest.raises(InvalidTemplate) as info:
        parse_template(data, "mine.yaml")
    text = [str(e) for e in info.value.errors]
    assert any("mine.yaml: indicators[0].children[1].method.formula" in t for t in text)
    assert any("A: children's weights add up to 50, not 60" in t for t in text)
    assert any("top-level weights add up to 90, not 100" in t for t in text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"indicators": [leaf("A", 100), leaf("B", 0)]}, "greater than 0"),
        ({"indicators": [leaf("A", 50), leaf("A", 50)]}, "used twice"),
        ({"indicators": [{"code": "A", "name": "a", "weight": 100}]}, "needs a scoring method"),
        ({"indicators": [{**leaf("A", 100), "children": [leaf("A1", 100)]}]}, "has no method"),
        ({"indicators": [leaf("A", 100, {"type": "checklist", "elements": []})]}, "at least 1"),
        ({"indicators": [leaf("A", 100, {"type": "survey", "mode": "banded"})]}, "needs bands"),
        ({"indicators": [leaf("A", 100, {"type": "magic"})]}, "magic"),
        ({"indicators": [leaf("A", 100, {"type": "ratio", "zero_score_at": 1})]}, "below"),
        (
            {
                "min_output_benefit": 60,
                "indicators": [
                    {**leaf("A", 50), "tag": "output"},
                    {**leaf("B", 50), "tag": "decision"},
                ],
            },
            "below the required 60",
        ),
        ({"indicators": [leaf("bad code!", 100)]}, "pattern"),
    ],
)
def test_rules_are_enforced(data, message):
    with pytest.raises(InvalidTemplate, match=message):
        parse_template({"code": "t", "name": "T", **data})


def test_yaml_round_trip_keeps_decimal_weights():
    t = parse_template(
        {
            "code": "t",
            "name": "T",
            "indicators": [
                leaf("A", 33.3),
                leaf("B", 66.7, {"type": "target", "nature": "ge", "target": 95}),
            ],
        }
    )
    text = dump_yaml(t)
    assert "weight: 33.3" in text
    assert parse_template(yaml.safe_load(text)) == t
    assert t.find("A").weight == D("33.3")


def test_unreadable_yaml_is_reported(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: [unclosed", encoding="utf-8")
    with pytest.raises(InvalidTemplate, match=r"bad\.yaml: cannot read YAML"):
        load_template(bad)


def test_at_least_four_templates_are_bundled():
    assert len(BUNDLED) >= 4


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_templates_are_valid_and_complete(path):
    t = load_template(path)
    assert sum(i.weight for i in t.indicators) == 100
    for _depth, node in t.walk():
        if node.is_leaf:
            assert node.definition or node.key_points, node.code
            assert node.criteria, node.code
    assert parse_template(yaml.safe_load(dump_yaml(t))) == t


# --- budget-rate denominators declared by the template (#14) -------------------------------


def _execution(denominator, formula="budget_execution", code="A"):
    return leaf(code, 50, {"type": "ratio", "formula": formula, "denominator": denominator})


@pytest.mark.parametrize(
    ("indicators", "message"),
    [
        ([_execution("available"), _execution("available", "funding", "B")], "资金到位率"),
        ([_execution("available", "ratio"), leaf("B", 50)], "only declared for"),
        ([_execution("nowhere"), leaf("B", 50)], "denominator"),
        ([_execution("available"), _execution("adjusted", code="B")], "elsewhere"),
    ],
)
def test_declared_denominators_are_checked(indicators, message):
    with pytest.raises(InvalidTemplate, match=message):
        parse_template({"code": "t", "name": "T", "indicators": indicators})


def test_declared_denominator_round_trips_and_is_reported():
    t = parse_template(
        {"code": "t", "name": "T", "indicators": [_execution("available"), leaf("B", 50)]}
    )
    assert {k.value: v.value for k, v in t.declared_denominators().items()} == {
        "execution": "available"
    }
    text = dump_yaml(t)
    assert "denominator: available" in text
    assert parse_template(yaml.safe_load(text)) == t


# What each bundled template's own indicator text says the budget rates divide by.
TEXT_DENOMINATORS = {
    "project-2020.yaml": {"execution": "available"},  # 实际支出资金 ÷ 实际到位资金
    "self-evaluation.yaml": {"execution": "adjusted"},  # 全年执行数 ÷ 全年预算数(调整后)
    "department-2013.yaml": {},  # no budget_execution / funding leaf
    "oecd-dac.yaml": {},
}
DENOMINATOR_TEXT = {"available": "实际到位资金", "adjusted": "全年预算数", "initial": "年初预算"}


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_templates_declare_what_their_text_says(path):
    t = load_template(path)
    declared = {k.value: v.value for k, v in t.declared_denominators().items()}
    assert declared == TEXT_DENOMINATORS[path.name]
    for leaf_ in t.leaves():
        method = leaf_.method
        if getattr(method, "denominator", None) is not None:
            # the key points' formula names the declared denominator after the ÷
            formula = next(line for line in leaf_.key_points.splitlines() if "÷" in line)
            assert DENOMINATOR_TEXT[method.denominator.value] in formula.split("÷")[1]
