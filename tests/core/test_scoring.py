from decimal import Decimal as D

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workbench.core.evaluation import EvaluationInputs, Settings, evaluate
from workbench.core.goals import GoalNature
from workbench.core.indicators import (
    ChecklistMethod,
    DeductionMethod,
    ManualMethod,
    QualitativeMethod,
    RatioMethod,
    SurveyMethod,
    TargetMethod,
    parse_template,
)
from workbench.core.numbers import round_half_up
from workbench.core.scoring import (
    Finding,
    InvalidInput,
    LeafInput,
    LeafResult,
    LeafStatus,
    QualitativeLevel,
    grade,
    score_checklist,
    score_deduction,
    score_leaf,
    score_manual,
    score_qualitative,
    score_ratio,
    score_survey,
    score_target,
    score_template,
    sensitivity,
)


def target(nature, t):
    return TargetMethod(type="target", nature=nature, target=D(str(t)))


# shared/domain §5.2 worked unit cases
@pytest.mark.parametrize(
    ("nature", "w", "t", "a", "expected"),
    [
        (GoalNature.GE, 8, 50, 40, D("6.40")),  # 正向, partial
        (GoalNature.GE, 8, 50, 60, D("8")),  # 正向, exceeded
        (GoalNature.LE, 10, 90, 99, D("9.00")),  # 反向, slightly over
        (GoalNature.LE, 10, 90, 180, D("0")),  # 反向, at 2t
        (GoalNature.EQ, 5, 0, 0, D("5")),  # 等于 with t = 0
        (GoalNature.EQ, 5, 0, 1, D("0")),  # 等于 with t = 0, missed
        (GoalNature.GE, 8, 50, -5, D("0")),  # negative actual counts as 0
        (GoalNature.EQ, 6, 3, 2, D("4")),  # 等于 with t > 0 behaves as 正向
        (GoalNature.LE, 10, 90, 200, D("0")),  # beyond 2t
    ],
)
def test_domain_worked_cases(nature, w, t, a, expected):
    result = score_target(D(w), target(nature, t), LeafInput(actual=D(str(a))))
    assert result.score == expected
    if result.score < D(w):
        assert result.reason_zh and result.reason_en
    else:
        assert result.reason_zh == ""


def test_far_above_target_earns_full_marks_with_a_warning():
    result = score_target(D(8), target(GoalNature.GE, 50), LeafInput(actual=D(65)))
    assert result.score == D(8)
    assert result.warnings and "30.00%" in result.warnings[0]
    just_below = score_target(D(8), target(GoalNature.GE, 50), LeafInput(actual=D("64.99")))
    assert just_below.warnings == ()


def test_target_without_actual_is_unscored_and_qualitative_target_uses_bands():
    assert score_target(D(8), target(GoalNature.GE, 50), LeafInput()).score is None
    qual = score_target(
        D(10),
        TargetMethod(type="target", nature="qualitative"),
        LeafInput(level=QualitativeLevel.PARTIAL, score=D(7)),
    )
    assert qual.score == D(7)


@pytest.mark.parametrize(
    ("level", "score", "ok"),
    [
        (QualitativeLevel.ACHIEVED, "10", True),
        (QualitativeLevel.ACHIEVED, "8", True),
        (QualitativeLevel.ACHIEVED, "7.99", False),
        (QualitativeLevel.PARTIAL, "6", True),
        (QualitativeLevel.PARTIAL, "8", False),
        (QualitativeLevel.PARTIAL, "7.99", True),
        (QualitativeLevel.NOT_ACHIEVED, "0", True),
        (QualitativeLevel.NOT_ACHIEVED, "6", False),
    ],
)
def test_qualitative_score_must_fall_in_its_band(level, score, ok):
    method = QualitativeMethod(type="qualitative")
    data = LeafInput(level=level, score=D(score))
    if ok:
        assert score_qualitative(D(10), method, data).score == D(score)
    else:
        with pytest.raises(InvalidInput, match="does not fit"):
            score_qualitative(D(10), method, data)


def test_ratio_thresholds_and_saving():
    m = RatioMethod(
        type="ratio", formula="budget_execution", full_score_at=D("0.95"), zero_score_at=D("0.5")
    )
    assert score_ratio(D(10), m, LeafInput(numerator=D(96), denominator=D(100))).score == D(10)
    assert score_ratio(D(10), m, LeafInput(numerator=D(50), denominator=D(100))).score == 0
    mid = score_ratio(D(9), m, LeafInput(numerator=D("72.5"), denominator=D(100)))
    assert mid.score == D("4.5")  # halfway between 50 % and 95 %
    saving = RatioMethod(type="ratio", formula="saving")
    assert score_ratio(D(4), saving, LeafInput(numerator=D(100), denominator=D(95))).score == 4
    over = score_ratio(D(4), saving, LeafInput(numerator=D(100), denominator=D(110)))
    assert over.score == D("3.6") and "10.00%" in over.reason_zh
    with pytest.raises(InvalidInput):
        score_ratio(D(4), m, LeafInput(numerator=D(1), denominator=D(0)))


def test_deduction_floors_at_zero_and_lists_findings():
    f = (Finding("未公示", D(2)), Finding("超范围支出", D(4)))
    result = score_deduction(D(5), DeductionMethod(type="deduction"), LeafInput(findings=f))
    assert result.score == 0
    assert "未公示" in result.reason_zh and "超范围支出" in result.reason_zh


def test_checklist_counts_elements_and_names_the_missing_ones():
    m = ChecklistMethod(type="checklist", elements=["有目标", "可衡量", "与任务对应"])
    r = score_checklist(D(3), m, LeafInput(met=(True, False, True)))
    assert r.score == D(2) and "可衡量" in r.reason_zh
    with pytest.raises(InvalidInput):
        score_checklist(D(3), m, LeafInput(met=(True,)))


def test_manual_needs_a_reason_below_full_marks():
    with pytest.raises(InvalidInput, match="reason"):
        score_manual(D(5), ManualMethod(type="manual"), LeafInput(score=D(4)))
    r = score_manual(D(5), ManualMethod(type="manual"), LeafInput(score=D(4), reason="台账不全"))
    assert r.score == D(4) and r.reason_zh
    with pytest.raises(InvalidInput, match="outside"):
        score_manual(D(5), ManualMethod(type="manual"), LeafInput(score=D(6)))


def test_survey_proportional_and_banded():
    prop = SurveyMethod(type="survey", target=D("0.9"))
    assert score_survey(D(10), prop, LeafInput(rate=D("0.95"))).score == 10
    banded = SurveyMethod(
        type="survey",
        mode="banded",
        bands=[
            {"min_rate": "0.9", "share": "1"},
            {"min_rate": "0.8", "share": "0.8"},
            {"min_rate": "0", "share": "0.5"},
        ],
    )
    assert score_survey(D(10), banded, LeafInput(rate=D("0.85"))).score == 8
    assert score_survey(D(10), banded, LeafInput(rate=D("0.2"))).score == 5
    with pytest.raises(InvalidInput):
        score_survey(D(10), prop, LeafInput(rate=D("1.2")))


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (89.99, "良"),
        (90, "优"),
        (79.99, "中"),
        (60, "中"),
        (59.99, "差"),
        (100, "优"),
        (0, "差"),
        (D("89.995"), "优"),
        (D("89.994999"), "良"),
    ],
)
def test_grade_boundaries(score, label):
    assert grade(score) == label


def test_grade_labels_and_thresholds_are_configurable():
    bands = [(85, "优秀"), (70, "良好"), (60, "一般"), (0, "较差")]
    assert grade(84.99, bands) == "良好" and grade(85, bands) == "优秀"
    assert grade(-1, bands) == "较差"


TEMPLATE = parse_template(
    {
        "code": "t",
        "name": "测试",
        "indicators": [
            {
                "code": "A",
                "name": "决策",
                "weight": 20,
                "children": [
                    {"code": "A1", "name": "立项", "weight": 10, "method": {"type": "manual"}},
                    {
                        "code": "A2",
                        "name": "目标",
                        "weight": 10,
                        "method": {"type": "checklist", "elements": ["a", "b", "c"]},
                    },
                ],
            },
            {
                "code": "B",
                "name": "产出",
                "weight": 50,
                "children": [
                    {
                        "code": "B1",
                        "name": "数量",
                        "weight": 30,
                        "method": {"type": "target", "nature": "ge", "target": 120},
                    },
                    {"code": "B2", "name": "质量", "weight": 20, "method": {"type": "expert"}},
                ],
            },
            {
                "code": "C",
                "name": "满意度",
                "weight": 30,
                "method": {"type": "survey", "target": 0.9},
            },
        ],
    }
)

INPUTS = {
    "A1": LeafInput(score=D("8.5"), reason="可研论证不充分"),
    "A2": LeafInput(met=(True, True, False)),
    "B1": LeafInput(actual=D("100")),
    "B2": LeafInput(score=D("17.333333")),
    "C": LeafInput(rate=D("0.853")),
}


def test_totals_subtotals_grade_and_reasons():
    result = score_template(TEMPLATE, INPUTS)
    by = {n.code: n for n in result.nodes}
    assert by["A"].score == D("8.5") + D(20) / 3
    assert by["B"].score == D(25) + D("17.333333")
    assert result.complete and result.total == result.raw_total
    assert result.grade == grade(result.total)
    for n in result.nodes:
        if n.is_leaf and n.score is not None and n.score < n.weight:
            assert n.reason_zh, n.code


def _evaluated(template, inputs):
    """What is printed: the evaluated result's official scores (``core.evaluation``)."""
    return evaluate(EvaluationInputs(template, entered=inputs), Settings(sensitivity_draws=0))


def test_printed_subtotals_equal_the_sum_of_printed_parts():
    result = _evaluated(TEMPLATE, INPUTS)
    for n in result.nodes:
        kids = result.children(n.code)
        if kids:
            assert sum(k.score for k in kids) == n.score, n.code
    assert sum(n.score for n in result.dimensions) == result.raw_total
    exact = score_template(TEMPLATE, INPUTS)
    for n in exact.nodes:
        if n.is_leaf:
            assert result.node(n.code).score == round_half_up(n.score), n.code


def test_not_applicable_indicators_are_excluded_and_the_rest_rescaled():
    result = score_template(TEMPLATE, INPUTS, not_applicable=["B2"])
    assert result.applicable_weight == 80
    assert result.rescaled
    assert result.total == result.raw_total * 100 / 80
    assert result.excluded == ["B2"]


def test_missing_inputs_leave_the_total_open():
    partial = {k: v for k, v in INPUTS.items() if k != "C"}
    result = score_template(TEMPLATE, partial)
    assert not result.complete and result.total is None and result.grade is None
    assert result.missing == ["C"]
    printed = _evaluated(TEMPLATE, partial)
    assert printed.node("C").score is None and printed.unassessed == ("C",)
    assert printed.node("B").score == round_half_up(result.nodes[3].score)
    assert printed.node("A1").score == D("8.50")  # scored leaves print while the total is open


def test_invalid_input_names_the_indicator():
    bad = {**INPUTS, "A1": LeafInput(score=D(12))}
    with pytest.raises(InvalidInput, match="A1 立项"):
        score_template(TEMPLATE, bad)


def test_sensitivity_is_reproducible_and_bounded():
    result = score_template(TEMPLATE, INPUTS)
    s1 = sensitivity(result, draws=500, seed=7)
    s2 = sensitivity(result, draws=500, seed=7)
    assert s1 == s2
    assert 0 <= s1.probability_same_grade <= 1
    assert sum(s1.grade_shares.values()) == pytest.approx(1)
    assert s1.p05 <= s1.p95
    assert s1.draws == 500 and s1.base_grade == result.grade
    no_noise = sensitivity(result, draws=50, weight_noise=0.0)
    assert no_noise.probability_same_grade == 1.0
    assert no_noise.p05 == pytest.approx(float(result.total))


ONE_LEAF = parse_template(
    {
        "code": "t",
        "name": "T",
        "indicators": [{"code": "A", "name": "a", "weight": 100, "method": {"type": "manual"}}],
    }
)


@pytest.mark.parametrize(
    ("total", "down", "up"),
    [
        ("90.01", 0.02, None),  # 89.99 is the first printed total below 优
        ("89.995", 0.01, None),  # prints as 90.00: 优, and any loss drops it
        ("89.994", 10.0, 0.01),  # prints as 89.99: 良
        ("85.5", 5.51, 4.5),
        ("59.99", None, 0.01),
    ],
)
def test_sensitivity_margins_are_the_smallest_printed_changes_that_flip_the_grade(total, down, up):
    result = score_template(ONE_LEAF, {"A": LeafInput(score=D(total), reason="x")})
    s = sensitivity(result, draws=5)
    assert s.margin_down == (pytest.approx(down) if down is not None else None)
    assert s.margin_up == (pytest.approx(up) if up is not None else None)
    if down is not None:
        assert grade(D(total) - D(str(down))) != result.grade
        assert grade(D(total) - D(str(down)) + D("0.01")) == result.grade


def test_sensitivity_resamples_expert_panels():
    result = score_template(TEMPLATE, INPUTS)
    spread = sensitivity(
        result, draws=400, weight_noise=0.0, expert_scores={"B2": [10, 20, 20, 19, 18]}
    )
    assert spread.p95 - spread.p05 > 0


# --- properties -------------------------------------------------------------------------------

weights = st.decimals(min_value=D("0.5"), max_value=D(30), places=2)
amounts = st.decimals(min_value=D(-50), max_value=D(1000), places=3)
positive = st.decimals(min_value=D("0.01"), max_value=D(1000), places=2)


@settings(max_examples=200, deadline=None)
@given(
    w=weights,
    t=positive,
    a=amounts,
    nature=st.sampled_from(
        [GoalNature.GE, GoalNature.GT, GoalNature.LE, GoalNature.LT, GoalNature.EQ]
    ),
)
def test_every_target_score_lies_in_zero_to_weight(w, t, a, nature):
    result = score_target(
        w, TargetMethod(type="target", nature=nature, target=t), LeafInput(actual=a)
    )
    assert 0 <= result.score <= w


@settings(max_examples=200, deadline=None)
@given(
    w=weights, t=positive, a=amounts, delta=st.decimals(min_value=D(0), max_value=D(100), places=2)
)
def test_more_is_better_score_never_falls_when_the_actual_rises(w, t, a, delta):
    m = TargetMethod(type="target", nature=GoalNature.GE, target=t)
    lower = score_target(w, m, LeafInput(actual=a)).score
    higher = score_target(w, m, LeafInput(actual=a + delta)).score
    assert higher >= lower


@settings(max_examples=150, deadline=None)
@given(w=weights, num=st.decimals(min_value=D(0), max_value=D(500), places=2), den=positive)
def test_every_ratio_score_lies_in_zero_to_weight(w, num, den):
    result = score_ratio(w, RatioMethod(type="ratio"), LeafInput(numerator=num, denominator=den))
    assert 0 <= result.score <= w


@settings(max_examples=100, deadline=None)
@given(
    scores=st.tuples(*(st.decimals(min_value=D(0), max_value=D(1), places=4) for _ in range(5))),
    rate=st.decimals(min_value=D(0), max_value=D(1), places=3),
)
def test_total_lies_in_zero_to_hundred(scores, rate):
    inputs = {
        "A1": LeafInput(score=scores[0] * 10, reason="x"),
        "A2": LeafInput(met=(scores[1] > D("0.5"), True, False)),
        "B1": LeafInput(actual=scores[2] * 200),
        "B2": LeafInput(score=scores[3] * 20),
        "C": LeafInput(rate=rate),
    }
    result = score_template(TEMPLATE, inputs)
    assume(result.total is not None)
    assert 0 <= result.total <= 100
    assert result.grade in {"优", "良", "中", "差"}


@settings(max_examples=150, deadline=None)
@given(
    w=weights,
    met=st.lists(st.booleans(), min_size=1, max_size=8),
    findings=st.lists(st.decimals(min_value=D(0), max_value=D(20), places=2), max_size=5),
    rate=st.decimals(min_value=D(0), max_value=D(1), places=4),
    target_rate=st.decimals(min_value=D("0.01"), max_value=D(1), places=2),
)
def test_every_other_method_scores_within_zero_to_weight(w, met, findings, rate, target_rate):
    checklist = ChecklistMethod(type="checklist", elements=[f"e{i}" for i in range(len(met))])
    scores = [
        score_checklist(w, checklist, LeafInput(met=tuple(met))).score,
        score_deduction(
            w,
            DeductionMethod(type="deduction"),
            LeafInput(findings=tuple(Finding("x", p) for p in findings))
            if findings
            else LeafInput(no_deduction=True, reason="已核查"),
        ).score,
        score_survey(
            w, SurveyMethod(type="survey", target=target_rate), LeafInput(rate=rate)
        ).score,
    ]
    assert all(0 <= s <= w for s in scores)


# --- regressions found in review ---------------------------------------------------------------


def test_a_target_leaf_without_nature_is_unscored_until_filled():
    template = parse_template(
        {
            "code": "t",
            "name": "T",
            "indicators": [{"code": "A", "name": "a", "weight": 100, "method": {"type": "target"}}],
        }
    )
    result = score_template(template, {})
    assert result.missing == ["A"] and result.total is None
    with pytest.raises(InvalidInput, match="nature"):
        score_template(template, {"A": LeafInput(actual=D(5), target=D(6))})


def test_the_total_is_a_100_point_score_whatever_the_template_total():
    template = parse_template(
        {
            "code": "t",
            "name": "T",
            "total": 10,
            "indicators": [{"code": "A", "name": "a", "weight": 10, "method": {"type": "manual"}}],
        }
    )
    result = score_template(template, {"A": LeafInput(score=D(10))})
    assert result.total == 100 and result.grade == "优"


def test_out_of_range_numbers_are_an_input_error_not_a_crash():
    m = TargetMethod(type="target", nature="ge", target=D(5))
    from workbench.core.indicators import Indicator

    leaf = Indicator(code="A", name="a", weight=D(5), method=m)
    from workbench.core.scoring import score_leaf

    with pytest.raises(InvalidInput, match="out of range"):
        score_leaf(leaf, LeafInput(actual=D("1" + "0" * 40)))


def test_a_fully_met_checklist_earns_exactly_its_weight():
    m = ChecklistMethod(type="checklist", elements=["a", "b", "c"])
    result = score_checklist(D(10), m, LeafInput(met=(True, True, True)))
    assert result.score == D(10) and result.reason_zh == ""


def test_saving_with_zero_costs():
    saving = RatioMethod(type="ratio", formula="saving")
    assert score_ratio(D(4), saving, LeafInput(numerator=D(10), denominator=D(0))).score == 4
    assert score_ratio(D(4), saving, LeafInput(numerator=D(0), denominator=D(0))).score == 4
    nothing_planned = score_ratio(D(4), saving, LeafInput(numerator=D(0), denominator=D(3)))
    assert nothing_planned.score == 0 and "计划成本为 0" in nothing_planned.reason_zh


def test_a_qualitative_level_needs_its_score():
    with pytest.raises(InvalidInput, match="both"):
        score_qualitative(
            D(10), QualitativeMethod(type="qualitative"), LeafInput(level=QualitativeLevel.ACHIEVED)
        )


# --- no score without assessment (#14) ---------------------------------------------------------

CHECKS = ChecklistMethod(type="checklist", elements=["有制度", "已执行"])
ASSESSED_BY_HAND = parse_template(
    {
        "code": "t",
        "name": "T",
        "indicators": [
            {"code": "D", "name": "扣分", "weight": 40, "method": {"type": "deduction"}},
            {"code": "C", "name": "要点", "weight": 20, "method": CHECKS.model_dump()},
            {"code": "M", "name": "评价组", "weight": 20, "method": {"type": "manual"}},
            {"code": "Q", "name": "定性", "weight": 20, "method": {"type": "qualitative"}},
        ],
    }
)


@pytest.mark.parametrize("code", ["D", "C", "M", "Q"])
def test_a_leaf_nobody_assessed_has_no_score(code):
    leaf = ASSESSED_BY_HAND.find(code)
    for data in (None, LeafInput(), LeafInput(reason="看过了", evidence="凭证")):
        result = score_leaf(leaf, data)
        assert result.score is None and result.status is LeafStatus.UNASSESSED
        assert result.deducted is None and not result.assessed


def test_a_fresh_engagement_starts_with_no_points_at_all():
    result = score_template(ASSESSED_BY_HAND, {})
    assert not result.complete and result.total is None and result.grade is None
    assert result.raw_total == 0
    assert result.missing == ["D", "C", "M", "Q"]
    assert [n.code for n in result.unassessed] == ["D", "C", "M", "Q"]
    printed = _evaluated(ASSESSED_BY_HAND, {})
    assert [n.score for n in printed.leaves] == [None] * 4  # nothing, least of all full marks


def test_no_deduction_is_explicit_and_needs_its_basis():
    m = DeductionMethod(type="deduction")
    with pytest.raises(InvalidInput, match="basis"):
        score_deduction(D(5), m, LeafInput(no_deduction=True))
    with pytest.raises(InvalidInput, match="basis"):
        score_deduction(D(5), m, LeafInput(no_deduction=True, reason="  "))
    with pytest.raises(InvalidInput, match="not both"):
        score_deduction(
            D(5), m, LeafInput(no_deduction=True, reason="x", findings=(Finding("y", D(1)),))
        )
    r = score_leaf(
        ASSESSED_BY_HAND.find("D"),
        LeafInput(no_deduction=True, reason="抽查凭证30份未见问题", evidence="凭证抽查表"),
    )
    assert r.score == D(40) and r.status is LeafStatus.SCORED
    assert "未发现扣分事项" in r.reason_zh
    assert r.evaluator_reason == "抽查凭证30份未见问题" and r.evidence == "凭证抽查表"
    # findings worth 0 points are an assessment too, and are listed
    zero = score_deduction(D(5), m, LeafInput(findings=(Finding("轻微瑕疵", D(0)),)))
    assert zero.score == D(5) and "轻微瑕疵" in zero.reason_zh


def test_recorded_results_make_every_hand_assessed_leaf_scored():
    inputs = {
        "D": LeafInput(no_deduction=True, reason="未见问题"),
        "C": LeafInput(met=(False, False)),  # answered: nothing met is 0, not unassessed
        "M": LeafInput(score=D(20)),
        "Q": LeafInput(level=QualitativeLevel.ACHIEVED, score=D(18), reason="基本达成"),
    }
    result = score_template(ASSESSED_BY_HAND, inputs)
    assert result.complete and result.unassessed == [] and result.raw_total == D(78)
    by = {n.code: n for n in result.nodes}
    assert by["C"].score == 0 and by["C"].status is LeafStatus.SCORED


def test_an_unassessed_result_cannot_carry_a_score():
    with pytest.raises(ValueError, match="unassessed"):
        LeafResult(D(5), D(5), status=LeafStatus.UNASSESSED)
    assert LeafResult(None, D(5)).status is LeafStatus.UNASSESSED
    assert LeafResult(D(0), D(5)).status is LeafStatus.SCORED


@pytest.mark.parametrize(
    ("code", "data", "engine"),
    [
        ("C", LeafInput(met=(True, False), reason="制度未执行到位", evidence="检查记录"), "已执行"),
        (
            "D",
            LeafInput(findings=(Finding("凭证缺失", D(2)),), reason="抽查发现", evidence="凭证"),
            "凭证缺失",
        ),
        ("M", LeafInput(score=D(15), reason="台账不全", evidence="台账"), "15.00"),
        (
            "Q",
            LeafInput(
                level=QualitativeLevel.PARTIAL, score=D(13), reason="效果一般", evidence="访谈"
            ),
            "部分达成年度指标",
        ),
    ],
)
def test_the_evaluators_reason_is_kept_next_to_the_engines(code, data, engine):
    r = score_leaf(ASSESSED_BY_HAND.find(code), data)
    assert engine in r.reason_zh and r.reason_en
    assert data.reason not in r.reason_zh  # not folded into the engine's sentence …
    assert r.evaluator_reason == data.reason and r.evidence == data.evidence  # … but kept
    assert r.basis_zh == r.reason_zh + data.reason + "。"
    node = next(n for n in score_template(ASSESSED_BY_HAND, {code: data}).nodes if n.code == code)
    assert node.evaluator_reason == data.reason and node.evidence == data.evidence
    assert node.basis_zh == r.basis_zh


def test_the_evaluators_reason_survives_on_target_and_ratio_leaves():
    r = score_target(D(8), target(GoalNature.GE, 50), LeafInput(actual=D(40), reason="汛期影响"))
    assert "汛期影响" not in r.reason_zh  # score_target itself only explains
    t = parse_template(
        {
            "code": "t",
            "name": "T",
            "indicators": [
                {"code": "R", "name": "率", "weight": 50, "method": {"type": "ratio"}},
                {
                    "code": "T",
                    "name": "标",
                    "weight": 50,
                    "method": {"type": "target", "nature": "ge", "target": 50},
                },
            ],
        }
    )
    result = score_template(
        t,
        {
            "R": LeafInput(numerator=D(9), denominator=D(10), reason="两笔款项未拨付"),
            "T": LeafInput(actual=D(40), reason="汛期影响"),
        },
    )
    by = {n.code: n for n in result.nodes}
    assert by["R"].reason_zh and by["R"].evaluator_reason == "两笔款项未拨付"
    assert by["T"].basis_zh.startswith(by["T"].reason_zh) and by["T"].basis_zh.endswith(
        "汛期影响。"
    )
