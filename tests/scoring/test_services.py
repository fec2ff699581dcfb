from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from workbench.audit.models import AuditEntry
from workbench.core.budget import Denominator, FundSource
from workbench.core.evaluation import Source
from workbench.core.scoring import InvalidInput, LeafInput, QualitativeLevel
from workbench.engagements import services as engagements
from workbench.evaluation import result_of
from workbench.scoring import services
from workbench.scoring.models import IndicatorInput


@pytest.fixture
def scored(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    template = services.bundled_templates()["project-2020"]
    services.instantiate(session, lead, engagement, template)
    session.commit()
    return engagement, lead


def test_bundled_templates_are_loaded():
    assert {"project-2020", "self-evaluation", "department-overall", "oecd-dac"} <= set(
        services.bundled_templates()
    )


def test_budget_leaves_are_filled_from_the_funds_table(session, scored):
    engagement, lead = scored
    engagements.save_budget(
        session,
        lead,
        engagement,
        lines={
            FundSource.FISCAL: {
                "initial": D(100),
                "adjusted": D(100),
                "available": D(90),
                "executed": D(81),
            }
        },
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.AVAILABLE,
        expected_version=None,
    )
    session.commit()
    result = result_of(session, engagement)
    assert result.node("B11").score == D(3) * D("0.9")  # 90 / 100
    assert result.node("B12").score == D(5) * D("0.9")  # 81 / 90 (denominator: funds received)
    assert result.node("B11").source is result.node("B12").source is Source.BUDGET


def test_inputs_are_validated_audited_and_scored(session, scored):
    engagement, lead = scored
    with pytest.raises(InvalidInput):
        services.save_input(
            session, lead, engagement, "C41", LeafInput(level=QualitativeLevel.ACHIEVED, score=D(3))
        )
    session.rollback()
    services.save_input(
        session,
        lead,
        engagement,
        "C41",
        LeafInput(level=QualitativeLevel.ACHIEVED, score=D("6.5"), reason="超支"),
    )
    session.commit()
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "score.update"))
    assert entry.changes["data"]["after"]["score"] == "6.5"
    c41 = result_of(session, engagement).node("C41")
    assert c41.score == D("6.5") and c41.reason_zh and c41.evaluator_reason == "超支"
    assert c41.basis_zh == c41.reason_zh + "评价组意见：超支。"  # kept next to the engine's


def test_a_stale_score_form_is_refused(session, scored):
    engagement, lead = scored
    row = services.save_input(session, lead, engagement, "D11", LeafInput(score=D(18), reason="a"))
    session.commit()
    seen = row.version
    services.save_input(
        session, lead, engagement, "D11", LeafInput(score=D(17), reason="b"), expected_version=seen
    )
    session.commit()
    with pytest.raises(services.ScoringError, match="stale"):
        services.save_input(
            session,
            lead,
            engagement,
            "D11",
            LeafInput(score=D(16), reason="c"),
            expected_version=seen,
        )


def test_replacing_a_scored_system_needs_confirmation(session, scored):
    engagement, lead = scored
    services.save_input(session, lead, engagement, "D11", LeafInput(score=D(20)))
    session.commit()
    other = services.bundled_templates()["self-evaluation"]
    with pytest.raises(services.ScoringError, match="scores_exist"):
        services.instantiate(session, lead, engagement, other)
    services.instantiate(session, lead, engagement, other, replace=True)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(IndicatorInput)) == 0
    assert services.system_of(session, engagement).source_code == "self-evaluation"


def test_points_must_add_up_to_the_parent(session, scored):
    engagement, lead = scored
    system = services.system_of(session, engagement)
    with pytest.raises(services.ScoringError, match="add up"):
        services.set_child_weights(session, lead, system, "A", {"A1": D(6), "A2": D(5), "A3": D(5)})
    session.rollback()
    shares = {"A1": 0.5, "A2": 1 / 3, "A3": 1 / 6}
    points = services.scale_to_points(shares, D(15))
    assert sum(points.values()) == D(15)
    services.set_child_weights(session, lead, system, "A", points, {"method": "ahp"})
    session.commit()
    template = services.template_of(system)
    assert template.find("A1").weight == D("7.50")
    assert system.weight_notes["A"]["method"] == "ahp"


def test_tree_changes_after_scoring_started_are_flagged_in_the_audit(session, scored):
    engagement, lead = scored
    system = services.system_of(session, engagement)
    services.save_input(session, lead, engagement, "D11", LeafInput(score=D(20)))
    services.add_leaf(session, lead, system, "D1", "D13", "可持续影响", D(5), "D11")
    session.commit()
    template = services.template_of(system)
    assert template.find("D11").weight == D(15) and template.find("D13").weight == D(5)
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "indicators.add"))
    assert "after scoring started" in entry.summary
    services.remove_node(session, lead, system, "D13", "D11")
    session.commit()
    assert services.template_of(system).find("D11").weight == D(20)


def test_every_bundled_template_scores_on_a_fresh_engagement(session, make_engagement):
    engagement = make_engagement()
    lead = engagement.members[0].user
    for code, template in services.bundled_templates().items():
        services.instantiate(session, lead, engagement, template, replace=True)
        result = result_of(session, engagement)
        assert result is not None and not result.complete, code


def test_budget_rate_is_not_derived_from_a_partly_recorded_source(session, scored):
    engagement, lead = scored
    engagements.save_budget(
        session,
        lead,
        engagement,
        lines={
            FundSource.FISCAL: {
                "initial": D(800),
                "adjusted": D(800),
                "available": D(800),
                "executed": D(760),
            },
            FundSource.OTHER: {
                "initial": None,
                "adjusted": D(200),
                "available": None,
                "executed": None,
            },
        },
        funding_denominator=Denominator.ADJUSTED,
        execution_denominator=Denominator.ADJUSTED,
        expected_version=None,
    )
    result = result_of(session, engagement)
    assert "B12" not in result.figures["derived"]
    assert result.node("B12").source is Source.NONE and result.node("B12").score is None


def test_points_with_more_decimals_are_kept():
    points = services.scale_to_points({"a": 0.5, "b": 0.5}, D("3.335"))
    assert sum(points.values()) == D("3.335")
