"""The evaluated result: one set of official numbers (issue #14)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.evaluation import (
    EvaluationInputs,
    PanelInput,
    Settings,
    Source,
    evaluate,
    points,
)
from workbench.core.indicators import parse_template
from workbench.core.numbers import round_half_up
from workbench.core.scoring import LeafInput, LeafStatus, grade

NO_MC = Settings(sensitivity_draws=0)


def _template(dims: list[list[Decimal]], method: str = "expert") -> dict:
    indicators = []
    for i, leaves in enumerate(dims):
        indicators.append(
            {
                "code": f"D{i}",
                "name": ["决策", "过程", "产出", "效益"][i % 4] + str(i),
                "weight": sum(leaves, Decimal(0)),
                "children": [
                    {
                        "code": f"D{i}L{j}",
                        "name": f"指标{i}{j}",
                        "weight": w,
                        "method": {"type": method},
                    }
                    for j, w in enumerate(leaves)
                ],
            }
        )
    return {"code": "t", "name": "T", "indicators": indicators}


def test_identical_leaves_print_identically_and_subtotals_add_up() -> None:
    # three leaves of 10 scoring 10/3 each: the old apportioning printed 3.33/3.33/3.34
    t = parse_template(
        {
            "code": "t",
            "name": "T",
            "indicators": [
                {
                    "code": "A",
                    "name": "产出",
                    "weight": 70,
                    "children": [
                        {
                            "code": f"A{k}",
                            "name": f"甲{k}",
                            "weight": 10,
                            "method": {"type": "expert"},
                        }
                        for k in range(3)
                    ]
                    + [{"code": "A9", "name": "甲9", "weight": 40, "method": {"type": "expert"}}],
                },
                {"code": "B", "name": "决策", "weight": 30, "method": {"type": "expert"}},
            ],
        }
    )
    third = Decimal(10) / 3
    r = evaluate(
        EvaluationInputs(
            t,
            entered={
                "A0": LeafInput(score=third),
                "A1": LeafInput(score=third),
                "A2": LeafInput(score=third),
                "A9": LeafInput(score=Decimal(40)),
                "B": LeafInput(score=Decimal(30)),
            },
        ),
        NO_MC,
    )
    assert [r.node(f"A{k}").printed_score for k in range(3)] == ["3.33"] * 3
    assert r.node("A").printed_score == "49.99"  # 3 × 3.33 + 40: a calculator agrees
    assert r.printed_total == "79.99"
    assert r.grade == "中"  # read from the printed total
    assert r.node("A").printed_rate == "71.41%"


def test_not_applicable_converts_to_100_and_says_so() -> None:
    t = parse_template(_template([[Decimal(30), Decimal(10)], [Decimal(60)]]))
    r = evaluate(
        EvaluationInputs(
            t,
            entered={
                "D0L0": LeafInput(score=Decimal("26.5")),
                "D1L0": LeafInput(score=Decimal(53)),
            },
            not_applicable=frozenset({"D0L1"}),
        ),
        NO_MC,
    )
    assert r.node("D0L1").status is LeafStatus.NOT_APPLICABLE
    assert (r.applicable_weight, r.raw_total) == (Decimal(90), Decimal("79.5"))
    assert r.total == Decimal("88.33")
    assert r.node("D0").weight == Decimal(30)  # the applicable 分值
    sentence = r.total_sentence_zh()
    assert "适用指标分值90.00分" in sentence
    assert "得分79.50分" in sentence
    assert "88.33分" in sentence


def test_unassessed_leaves_block_the_total_and_are_listed() -> None:
    t = parse_template(_template([[Decimal(50), Decimal(50)]]))
    r = evaluate(EvaluationInputs(t, entered={"D0L0": LeafInput(score=Decimal(40))}), NO_MC)
    assert r.unassessed == ("D0L1",)
    assert r.node("D0L1").status is LeafStatus.UNASSESSED
    assert r.node("D0L1").printed_score == "—"
    assert r.total is None
    assert r.grade is None
    assert r.node("D0").score is None


def test_a_stored_value_that_no_longer_fits_is_invalid_not_scored() -> None:
    t = parse_template(_template([[Decimal(50), Decimal(50)]]))
    r = evaluate(
        EvaluationInputs(
            t, entered={"D0L0": LeafInput(score=Decimal(80)), "D0L1": LeafInput(score=Decimal(50))}
        ),
        NO_MC,
    )
    assert r.invalid == ("D0L0",)
    assert r.node("D0L0").status is LeafStatus.INVALID
    assert r.node("D0L0").warnings
    assert r.total is None


def test_provenance_panel_versus_entered_by_hand() -> None:
    t = parse_template(_template([[Decimal(10), Decimal(90)]]))
    frame = pd.DataFrame(
        {
            "indicator_code": ["D0L0", "D0L0", "D0L0"],
            "expert_id": [1, 2, 3],
            "raw_score": [9.0, 8.0, 8.0],
        }
    )
    by_panel = evaluate(
        EvaluationInputs(
            t,
            entered={"D0L1": LeafInput(score=Decimal(80))},
            panel=PanelInput(frame, expert_names={1: "甲", 2: "乙", 3: "丙"}),
        ),
        NO_MC,
    )
    leaf = by_panel.node("D0L0")
    assert leaf.source is Source.PANEL
    assert leaf.printed_score == "8.33"
    assert by_panel.panel is not None
    assert by_panel.panel.leaves["D0L0"].official == leaf.score
    assert "专家组评分" in leaf.reason_zh
    by_hand = evaluate(
        EvaluationInputs(
            t,
            entered={"D0L0": LeafInput(score=Decimal(8)), "D0L1": LeafInput(score=Decimal(80))},
        ),
        NO_MC,
    )
    leaf = by_hand.node("D0L0")
    assert leaf.source is Source.ENTERED
    assert "专家组评分" not in leaf.reason_zh
    assert "评价组录入" in leaf.reason_zh
    assert by_hand.panel is None


def test_the_evaluators_reason_is_kept_next_to_the_engines() -> None:
    t = parse_template(_template([[Decimal(100)]], method="manual"))
    r = evaluate(
        EvaluationInputs(
            t,
            entered={"D0L0": LeafInput(score=Decimal(90), reason="台账不全", evidence="抽查记录")},
        ),
        NO_MC,
    )
    node = r.node("D0L0")
    assert node.evaluator_reason == "台账不全"
    assert "台账不全" in node.basis_zh
    assert "抽查记录" in node.basis_zh


def test_output_and_benefit_share_is_checked_on_the_applicable_set() -> None:
    # 决策 20, 过程 20, 产出 30, 效益 30: 60 % — with 效益's leaf N/A it drops to 30/70
    t = parse_template(_template([[Decimal(20)], [Decimal(20)], [Decimal(30)], [Decimal(30)]]))
    full = {f"D{i}L0": LeafInput(score=Decimal(10)) for i in range(4)}
    assert evaluate(EvaluationInputs(t, entered=full), NO_MC).warnings == ()
    r = evaluate(EvaluationInputs(t, entered=full, not_applicable=frozenset({"D3L0"})), NO_MC)
    assert r.warnings
    assert "60%" in r.warnings[0]


def test_sensitivity_is_reproducible() -> None:
    t = parse_template(_template([[Decimal(40), Decimal(60)]]))
    inputs = EvaluationInputs(
        t, entered={"D0L0": LeafInput(score=Decimal(36)), "D0L1": LeafInput(score=Decimal(50))}
    )
    a = evaluate(inputs, Settings(sensitivity_draws=200))
    b = evaluate(inputs, Settings(sensitivity_draws=200))
    assert a.sensitivity is not None
    assert a.sensitivity == b.sensitivity
    assert a.sensitivity.base_grade == a.grade


weights = st.integers(min_value=1, max_value=40).map(Decimal)
shares = st.integers(min_value=0, max_value=10_000)


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict, dict[str, LeafInput], frozenset[str]]:
    dims = draw(st.lists(st.lists(weights, min_size=1, max_size=4), min_size=1, max_size=4))
    spec = _template(dims)
    entered: dict[str, LeafInput] = {}
    leaves = [(f"D{i}L{j}", w) for i, ls in enumerate(dims) for j, w in enumerate(ls)]
    same = draw(st.booleans())
    first_share = draw(shares)
    for code, w in leaves:
        share = first_share if same else draw(shares)
        entered[code] = LeafInput(score=w * Decimal(share) / Decimal(10_000) / 3 * 3)
    na = draw(st.sets(st.sampled_from([c for c, _ in leaves]), max_size=len(leaves) - 1))
    # the top level must still sum to 100 for the template: scale by giving it as total
    spec["total"] = sum((w for _, w in leaves), Decimal(0))
    return spec, entered, frozenset(na)


@given(trees())
def test_printed_parts_add_up_and_the_grade_matches_the_printed_total(case) -> None:
    spec, entered, na = case
    r = evaluate(EvaluationInputs(parse_template(spec), entered=entered, not_applicable=na), NO_MC)
    assert r.complete
    for node in r.nodes:
        if node.is_leaf or not node.applicable:
            continue
        kids = [k for k in r.children(node.code) if k.applicable]
        assert node.score == sum((k.score for k in kids if k.score is not None), Decimal(0))
        assert node.weight == sum((k.weight for k in kids), Decimal(0))
    leaves = r.applicable_leaves
    assert r.raw_total == sum((n.score for n in leaves if n.score is not None), Decimal(0))
    assert points(r.raw_total) == f"{r.raw_total:.2f}"  # sums of 2-decimal figures stay exact
    expected = round_half_up(r.raw_total * 100 / r.applicable_weight)
    assert r.total == (r.raw_total if r.applicable_weight == 100 else expected)
    assert r.grade == grade(r.total)
    # identical exact inputs on identical weights print identically
    seen: dict[tuple[Decimal, Decimal | None], str] = {}
    for n in leaves:
        key = (n.weight, n.exact)
        assert seen.setdefault(key, n.printed_score) == n.printed_score
