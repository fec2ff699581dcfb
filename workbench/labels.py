"""Translatable display names for the domain's enums (the database stores the values)."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from workbench.accounts.models import OrganisationKind, Role
from workbench.core.budget import Denominator, FundSource
from workbench.core.goals import GoalNature, GoalStatus
from workbench.core.workflow import EngagementState
from workbench.engagements.models import CommissionScope, EvaluationKind, MemberRole

LABELS: dict[enum.Enum, object] = {
    OrganisationKind.FIRM: _l("Evaluation firm"),
    OrganisationKind.CLIENT: _l("Client (commissioning body)"),
    OrganisationKind.EVALUATED: _l("Evaluated unit"),
    Role.ADMIN: _l("Administrator"),
    Role.EVALUATOR: _l("Evaluator"),
    Role.REVIEWER: _l("Reviewer (quality control)"),
    Role.CLIENT: _l("Client user"),
    EngagementState.SETUP: _l("Initiation"),
    EngagementState.DESIGN: _l("Plan design"),
    EngagementState.FIELDWORK: _l("Fieldwork (data collection)"),
    EngagementState.EXPERT_SCORING: _l("Expert scoring"),
    EngagementState.DRAFTING: _l("Report drafting"),
    EngagementState.REVIEW: _l("Review"),
    EngagementState.ISSUED: _l("Issued"),
    EngagementState.ARCHIVED: _l("Archived"),
    EvaluationKind.PROJECT: _l("Project expenditure"),
    EvaluationKind.DEPARTMENT: _l("Department overall expenditure"),
    EvaluationKind.POLICY: _l("Policy"),
    CommissionScope.EX_ANTE: _l("Ex-ante assessment and goal review"),
    CommissionScope.EVALUATION: _l("Performance evaluation or result re-check"),
    CommissionScope.INDICATORS: _l("Indicator and standard system design"),
    CommissionScope.RESEARCH: _l("Research study"),
    MemberRole.LEAD: _l("Engagement lead"),
    MemberRole.MEMBER: _l("Team member"),
    MemberRole.REVIEWER: _l("Reviewer"),
    FundSource.FISCAL: _l("Fiscal appropriation"),
    FundSource.CARRYOVER: _l("Carried over from last year"),
    FundSource.OTHER: _l("Other funds"),
    Denominator.INITIAL: _l("Initial budget"),
    Denominator.ADJUSTED: _l("Adjusted (full-year) budget"),
    Denominator.AVAILABLE: _l("Funds actually received"),
    GoalNature.GE: "≥",
    GoalNature.LE: "≤",
    GoalNature.EQ: "=",
    GoalNature.GT: ">",
    GoalNature.LT: "<",
    GoalNature.QUALITATIVE: _l("Qualitative"),
    GoalStatus.MET: _l("Achieved"),
    GoalStatus.NOT_MET: _l("Not achieved"),
    GoalStatus.UNKNOWN: _l("To be judged"),
}


def label(value: object) -> str:
    """The display name of an enum member (its value if it has none)."""
    if isinstance(value, enum.Enum):
        return str(LABELS.get(value, value.value))
    return "" if value is None else str(value)


def choices(cls: type[enum.Enum]) -> list[SelectChoice]:
    """Select-field options for an enum, in declaration order."""
    return [SelectChoice(m.value, label(m)) for m in cls]


def pairs(items: list[tuple[object, object]]) -> list[SelectChoice]:
    """Select-field options from ``(value, label)`` pairs."""
    return [SelectChoice(value, str(text)) for value, text in items]
