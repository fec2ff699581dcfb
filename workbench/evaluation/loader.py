"""Gather the plain inputs of :func:`workbench.core.evaluation.evaluate` for one engagement,
and keep the result per data revision."""

from __future__ import annotations

import threading
from collections import OrderedDict
from decimal import Decimal

from sqlalchemy.orm import Session

from workbench.core.evaluation import (
    EngagementResult,
    EvaluationInputs,
    PanelInput,
    Settings,
    Source,
    evaluate,
)
from workbench.core.indicators import RatioMethod, SurveyMethod, TargetMethod, Template
from workbench.core.scoring import LeafInput
from workbench.engagements import revision
from workbench.engagements.models import Engagement
from workbench.experts import services as panel_services
from workbench.scoring import frames
from workbench.scoring import services as scoring
from workbench.surveys.services import survey_rates

#: results kept in this process (each a few hundred kB at most); least recently used goes first
CACHE_SIZE = 64
_cache: OrderedDict[tuple[object, ...], EngagementResult | None] = OrderedDict()
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _source_of(template: Template, code: str) -> Source:
    method = template.find(code).method
    if isinstance(method, RatioMethod):
        return Source.BUDGET
    if isinstance(method, SurveyMethod):
        return Source.SURVEY
    if isinstance(method, TargetMethod):
        return Source.GOAL
    return Source.NONE


def _panel(session: Session, engagement: Engagement) -> PanelInput | None:
    members = panel_services.panel_members(session, engagement)
    frame = panel_services.panel_frame(session, engagement, members=members)
    if frame.empty:
        return None
    settings = panel_services.settings_of(session, engagement)
    return PanelInput(
        frame=frame,
        aggregation=settings.aggregation,
        trim_min_n=settings.trim_min_n,
        expert_weights={m.expert_id: float(m.weight) for m in members},
        expert_names={m.expert_id: m.expert.name for m in members},
        anonymous=not settings.named_in_report,
    )


def load_inputs(session: Session, engagement: Engagement) -> EvaluationInputs | None:
    """The engagement's inputs as plain data; None without an indicator system."""
    system = scoring.system_of(session, engagement)
    if system is None:
        return None
    template = scoring.template_of(system)
    rows = {r.code: r for r in scoring.stored_inputs(session, engagement)}
    entered: dict[str, LeafInput] = {
        code: frames.input_from_json(r.data) for code, r in rows.items()
    }
    goals = [
        {
            "name": g.name,
            "nature": g.nature.value,
            "target_value": g.target_value,
            "actual_value": g.actual_value,
        }
        for g in engagement.goals
    ]
    budget = scoring.budget_for(session, engagement, template)
    rates: dict[str, Decimal] = survey_rates(session, engagement)
    derived = frames.derived_inputs(template, budget, goals, None, rates)
    return EvaluationInputs(
        template=template,
        entered=entered,
        derived=derived,
        derived_sources={code: _source_of(template, code) for code in derived},
        not_applicable=frozenset(code for code, r in rows.items() if r.not_applicable),
        panel=_panel(session, engagement),
        # carried for the pages and exports: the indicator system as evaluated (评分标准,
        # the tree's shape) and what the engagement's own data gives each leaf
        figures={
            "budget": budget,
            "survey_rates": rates,
            "derived": derived,
            "template": template,
            # how each level's points were set (AHP judgments, matrix, CR): the Excel export
            "weight_notes": dict(system.weight_notes or {}),
        },
        revision=revision.current(session, engagement.id),
    )


def result_of(
    session: Session, engagement: Engagement, settings: Settings | None = None
) -> EngagementResult | None:
    """The evaluated result of ``engagement`` at its current data revision (cached)."""
    bind = session.get_bind()
    key = (
        str(bind.url),
        engagement.id,
        engagement.created_at,
        revision.keys(session, [engagement.id]).get(engagement.id),
        settings,
    )
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    inputs = load_inputs(session, engagement)
    result = None if inputs is None else evaluate(inputs, settings)
    with _lock:
        _cache[key] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result
