"""Translatable display names for the domain's enums (the database stores the values)."""

from __future__ import annotations

import datetime as dt
import enum
import re

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from workbench.core.budget import Denominator, FundSource
from workbench.core.goals import GoalNature, GoalStatus
from workbench.core.kinds import (
    CommissionScope,
    EvaluationKind,
    MemberRole,
    OrganisationKind,
    Role,
)
from workbench.core.workflow import EngagementState

_LABELS: list[tuple[enum.Enum, object]] = [
    (OrganisationKind.FIRM, _l("Evaluation firm")),
    (OrganisationKind.CLIENT, _l("Client (commissioning body)")),
    (OrganisationKind.EVALUATED, _l("Evaluated unit")),
    (Role.ADMIN, _l("Administrator")),
    (Role.EVALUATOR, _l("Evaluator")),
    (Role.REVIEWER, _l("Reviewer (quality control)")),
    (Role.CLIENT, _l("Client user")),
    (EngagementState.SETUP, _l("Initiation")),
    (EngagementState.DESIGN, _l("Plan design")),
    (EngagementState.FIELDWORK, _l("Fieldwork (data collection)")),
    (EngagementState.EXPERT_SCORING, _l("Expert scoring")),
    (EngagementState.DRAFTING, _l("Report drafting")),
    (EngagementState.REVIEW, _l("Review")),
    (EngagementState.ISSUED, _l("Issued")),
    (EngagementState.ARCHIVED, _l("Archived")),
    (EvaluationKind.PROJECT, _l("Project expenditure")),
    (EvaluationKind.DEPARTMENT, _l("Department overall expenditure")),
    (EvaluationKind.POLICY, _l("Policy")),
    (CommissionScope.EX_ANTE, _l("Ex-ante assessment and goal review")),
    (CommissionScope.EVALUATION, _l("Performance evaluation or result re-check")),
    (CommissionScope.INDICATORS, _l("Indicator and standard system design")),
    (CommissionScope.RESEARCH, _l("Research study")),
    (MemberRole.LEAD, _l("Engagement lead")),
    (MemberRole.MEMBER, _l("Team member")),
    (MemberRole.REVIEWER, _l("Reviewer")),
    (FundSource.FISCAL, _l("Fiscal appropriation")),
    (FundSource.CARRYOVER, _l("Carried over from last year")),
    (FundSource.OTHER, _l("Other funds")),
    (Denominator.INITIAL, _l("Initial budget")),
    (Denominator.ADJUSTED, _l("Adjusted (full-year) budget")),
    (Denominator.AVAILABLE, _l("Funds actually received")),
    (GoalNature.GE, "≥"),
    (GoalNature.LE, "≤"),
    (GoalNature.EQ, "="),
    (GoalNature.GT, ">"),
    (GoalNature.LT, "<"),
    (GoalNature.QUALITATIVE, _l("Qualitative")),
    (GoalStatus.MET, _l("Achieved")),
    (GoalStatus.NOT_MET, _l("Not achieved")),
    (GoalStatus.UNKNOWN, _l("To be judged")),
]


#: Keyed by (enum class, value): StrEnum members of different enums with the same value
#: (Role.CLIENT and OrganisationKind.CLIENT are both "client") compare and hash equal.
LABELS: dict[tuple[type, str], object] = {(type(m), m.value): text for m, text in _LABELS}


def label(value: object) -> str:
    """The display name of an enum member (its value if it has none)."""
    if isinstance(value, enum.Enum):
        return str(LABELS.get((type(value), value.value), value.value))
    return "" if value is None else str(value)


def choices(cls: type[enum.Enum]) -> list[SelectChoice]:
    """Select-field options for an enum, in declaration order."""
    return [SelectChoice(m.value, label(m)) for m in cls]


def pairs(items: list[tuple[object, object]]) -> list[SelectChoice]:
    """Select-field options from ``(value, label)`` pairs."""
    return [SelectChoice(value, str(text)) for value, text in items]


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

#: Audit-log actions as people read them.
ACTION_LABELS: dict[str, object] = {
    "auth.login": _l("Logged in"),
    "auth.login_failed": _l("Failed login"),
    "auth.logout": _l("Logged out"),
    "user.sessions": _l("Sessions ended"),
    "user.create": _l("User created"),
    "user.update": _l("User changed"),
    "user.password": _l("Password changed"),
    "organisation.create": _l("Organisation created"),
    "organisation.update": _l("Organisation changed"),
    "engagement.create": _l("Engagement created"),
    "engagement.update": _l("Basic facts changed"),
    "engagement.transition": _l("Status changed"),
    "member.add": _l("Team member added"),
    "member.update": _l("Team role changed"),
    "member.remove": _l("Team member removed"),
    "budget.update": _l("Funds changed"),
    "goals.update_text": _l("Goals changed"),
    "goal.create": _l("Goal indicator added"),
    "goal.update": _l("Goal indicator changed"),
    "goal.delete": _l("Goal indicator deleted"),
    "goals.import": _l("Goal table imported"),
    "indicators.instantiate": _l("Indicator system set up"),
    "indicators.update": _l("Indicator changed"),
    "indicators.weights": _l("Indicator points changed"),
    "indicators.add": _l("Indicator added"),
    "indicators.remove": _l("Indicator removed"),
    "score.update": _l("Score changed"),
    "expert.create": _l("Expert added"),
    "expert.update": _l("Expert changed"),
    "panel.invite": _l("Expert invited"),
    "panel.reissue": _l("Expert link re-issued"),
    "panel.revoke": _l("Expert link withdrawn"),
    "panel.declare": _l("Expert declaration"),
    "panel.submit": _l("Expert sheet submitted"),
    "panel.reopen": _l("Expert sheet reopened"),
    "panel.round2": _l("Revision round opened"),
    "panel.settings": _l("Panel settings changed"),
    "survey.import": _l("Survey responses imported"),
    "survey.import_discard": _l("Survey import discarded"),
    "survey.mapping": _l("Survey items and levels changed"),
    "survey.create": _l("Questionnaire created"),
    "survey.questions": _l("Questionnaire changed"),
    "survey.publish": _l("Survey collection settings changed"),
    "survey.tokens": _l("One-time codes generated"),
    "survey.cleaning": _l("Screening rules changed"),
    "survey.override": _l("Screening decision on a response"),
    "finding.save": _l("Finding saved"),
    "finding.delete": _l("Finding deleted"),
    "phase.save": _l("Work phase saved"),
    "phase.delete": _l("Work phase deleted"),
    "recommendation.save": _l("Recommendation saved"),
    "recommendation.delete": _l("Recommendation deleted"),
    "report.build": _l("Report draft built"),
    "report.submit": _l("Report sent for review"),
    "report.review": _l("Report review decision"),
    "report.consult": _l("Report sent for comments"),
    "report.comment": _l("Comment on the report recorded"),
    "report.respond": _l("Response to a comment"),
    "report.issue": _l("Report issued"),
    "report.template": _l("Report template uploaded"),
    "organisation.result_rules": _l("Result application rules changed"),
    "rectification.update": _l("Rectification item updated"),
    "engagement.archive_package": _l("Archive package made"),
    "workpapers.request_list": _l("Standard request list added"),
    "workpapers.request": _l("Document requested"),
    "workpapers.received": _l("Document received or missing"),
    "workpapers.evidence": _l("Evidence file uploaded"),
    "workpapers.paper": _l("Working paper saved"),
    "workpapers.review": _l("Working paper reviewed"),
}

#: Survey and import states.
SURVEY_STATUS: dict[str, object] = {
    "draft": _l("draft"),
    "open": _l("open"),
    "closed": _l("closed"),
    "mapping": _l("waiting for the column mapping"),
    "queued": _l("queued"),
    "running": _l("running"),
    "done": _l("done"),
    "failed": _l("failed"),
}

#: Audited field names as people read them.
FIELD_LABELS: dict[str, object] = {
    "title": _l("Engagement title"),
    "client_id": _l("Client"),
    "project_name": _l("Project under evaluation"),
    "kind": _l("Evaluation kind"),
    "scope": _l("Commission scope"),
    "fiscal_year": _l("Fiscal year"),
    "planned_start": _l("Planned start"),
    "planned_end": _l("Planned end"),
    "contract_no": _l("Contract number"),
    "fee": _l("Contract fee (yuan)"),
    "description": _l("Project overview"),
    "evaluated_units": _l("Evaluated unit(s)"),
    "evaluation_period": _l("Evaluation period"),
    "data_provider": _l("Data provided by (responsible for the data)"),
    "basis_rules": _l("Basis of the evaluation"),
    "basis_other": _l("Further rules (one a line)"),
    "commission_notice": _l("Commission notice"),
    "state": _l("Status"),
    "status": _l("Status"),
    "responses": _l("Responses"),
    "columns": _l("Satisfaction items"),
    "leaf": _l("Indicator fed"),
    "measure": _l("Measure"),
    "questions": _l("Questions"),
    "closes_at": _l("Closes at"),
    "target_n": _l("Target sample"),
    "require_token": _l("One-time codes required"),
    "tokens": _l("Codes"),
    "rules": _l("Screening rules"),
    "override": _l("Decision"),
    "version": _l("Version"),
    "qa": _l("Failed quality checks"),
    "decision": _l("Decision"),
    "party": _l("From"),
    "response": _l("Response"),
    "report_no": _l("Report number"),
    "sha256": _l("SHA-256"),
    "text": _l("Text"),
    "finding": _l("Finding"),
    "role": _l("Role"),
    "overall_goal": _l("Overall goal"),
    "annual_goal": _l("Annual goal"),
    "level1": _l("Level-1 indicator"),
    "level2": _l("Level-2 indicator"),
    "name": _l("Name"),
    "nature": _l("Nature"),
    "target_value": _l("Target value"),
    "unit": _l("Unit"),
    "actual_value": _l("Actual value"),
    "deviation_reason": _l("Reason for deviation"),
    "goals": _l("Goal indicators"),
    "funding_denominator": _l("Denominator of the funding rate"),
    "execution_denominator": _l("Denominator of the execution rate"),
    "initial": _l("Initial budget"),
    "adjusted": _l("Adjusted budget"),
    "available": _l("Funds received"),
    "executed": _l("Executed"),
    "source": _l("Source"),
    "position": _l("Position"),
    "template": _l("Indicator system template"),
    "data": _l("Recorded values"),
    "not_applicable": _l("Not applicable"),
    "display_name": _l("Full name"),
    "email": _l("E-mail"),
    "organisation_id": _l("Organisation"),
    "is_enabled": _l("Enabled"),
    "username": _l("User name"),
    "region": _l("Region"),
    "contact": _l("Contact"),
    "conflict": _l("Conflict of interest"),
    "confidentiality": _l("Confidentiality undertaking"),
    "indicators": _l("Indicators"),
    "expires": _l("Link valid until"),
    "submitted_round1": _l("Round 1 submitted"),
    "submitted_round2": _l("Round 2 submitted"),
    "round2_open": _l("Revision round"),
    "aggregation": _l("Aggregation"),
    "trim_min_n": _l("Trim only from this many scores"),
    "step": _l("Score step"),
    "r1": _l("Round 1"),
    "r2": _l("Round 2"),
}

#: Fields whose stored value is an enum value: field name → enum class.
ENUM_FIELDS: dict[str, type[enum.Enum]] = {
    "state": EngagementState,
    "kind": EvaluationKind,
    "scope": CommissionScope,
    "role": MemberRole,
    "nature": GoalNature,
    "funding_denominator": Denominator,
    "execution_denominator": Denominator,
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def field_label(field: str) -> str:
    """``fiscal.executed`` reads as "Fiscal appropriation · Executed"."""
    if "." in field:
        head, tail = field.split(".", 1)
        try:
            head_text = label(FundSource(head))
        except ValueError:
            head_text = head
        return f"{head_text} · {FIELD_LABELS.get(tail, VALUE_KEYS.get(tail, tail))}"
    return str(FIELD_LABELS.get(field, VALUE_KEYS.get(field, field)))


#: Keys inside a structured audit value (a leaf's recorded data, a scoring method, screening
#: rules) as people read them: the audit log shows lines, never a raw dict.
VALUE_KEYS: dict[str, object] = {
    "type": _l("Scoring method"),
    "met": _l("Points met"),
    "evidence": _l("Evidence referred to"),
    "reason": _l("Reason for the score"),
    "findings": _l("Findings"),
    "text": _l("Text"),
    "points": _l("Points"),
    "numerator": _l("Numerator"),
    "denominator": _l("Denominator"),
    "level": _l("Level"),
    "score": _l("Score"),
    "actual": _l("Actual value"),
    "target": _l("Target value"),
    "nature": _l("Nature"),
    "unit": _l("Unit"),
    "goal": _l("Linked performance goal"),
    "rate": _l("Satisfaction rate (%)"),
    "not_applicable": _l("Not applicable"),
    "no_deduction": _l("No deduction (无扣分事项)"),
    "formula": _l("Formula"),
    "full_score_at": _l("Full marks at a rate of (%)"),
    "zero_score_at": _l("No points at a rate of (%)"),
    "numerator_label": _l("Numerator label"),
    "denominator_label": _l("Denominator label"),
    "elements": _l("Elements (one per line)"),
    "points_each": _l("Points per element met"),
    "default_points": _l("Points deducted per finding"),
    "mode": _l("Survey scoring"),
    "bands": _l("Bands (one per line: lowest rate % | share of the points %)"),
    "min_rate": _l("Lowest rate"),
    "share": _l("Share of the points"),
    "min_seconds": _l("Shortest answering time (seconds)"),
    "min_median_fraction": _l("Shortest time as a share of the median"),
    "burst_count": _l("Answers in a burst"),
    "burst_minutes": _l("Burst window (minutes)"),
    "attention": _l("Attention check"),
    "duplicates": _l("Duplicate answers"),
    "criteria": _l("Scoring criteria (评分标准)"),
    "method": _l("Scoring method"),
    "weight": _l("Points"),
    "definition": _l("Definition (指标解释)"),
    "key_points": _l("Key points (评价要点)"),
    "data_source": _l("Data source"),
    "name_en": _l("English name"),
    "goals_imported": _l("Goal indicators imported"),
    "goals_removed": _l("Goal indicators removed"),
}
#: Stored words inside those values, by the key they stand under.
VALUE_WORDS: dict[str, dict[str, object]] = {
    "type": {
        "target": _l("Target vs actual"),
        "ratio": _l("Rate"),
        "qualitative": _l("Qualitative"),
        "deduction": _l("Deductions"),
        "checklist": _l("Checklist"),
        "expert": _l("Expert panel"),
        "survey": _l("Survey"),
        "manual": _l("Evaluator's score"),
    },
    "level": {
        "achieved": _l("Achieved (80–100%)"),
        "partial": _l("Partly achieved (60–80%)"),
        "not_achieved": _l("Not achieved (0–60%)"),
    },
    "conflict": {"none": _l("No conflict declared"), "declared": _l("Conflict declared")},
    "status": {"draft": _l("Draft"), "open": _l("Open"), "closed": _l("Closed")},
    "measure": {"rate": _l("Satisfaction rate"), "mean": _l("Mean")},
    "mode": {"proportional": _l("In proportion to the target"), "banded": _l("By bands")},
}


def _readable(key: str, value: object) -> str:
    """A structured value as one readable line: ``键：值；键：值``, lists joined with 、."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if isinstance(value, dict):
        return "；".join(
            f"{VALUE_KEYS.get(str(k), k)}：{_readable(str(k), v)}" for k, v in value.items()
        )
    if isinstance(value, list):
        if key == "met" and all(isinstance(v, bool) for v in value):
            return str(_l("%(n)s of %(m)s", n=sum(value), m=len(value)))
        return "、".join(
            f"（{_readable(key, v)}）" if isinstance(v, dict) else _readable(key, v) for v in value
        )
    words = VALUE_WORDS.get(key, {})
    return str(words.get(value, value)) if isinstance(value, str) else str(value)


def field_value(field: str, value: object, names: dict[int, str] | None = None) -> str:
    """A before/after value as people read it (enum labels, organisation names)."""
    if value is None or value == "":
        return "—"
    key = field.rsplit(".", 1)[-1]
    if isinstance(value, dict | list) or key in VALUE_WORDS:
        return _readable(key, value)
    if key in ENUM_FIELDS and isinstance(value, str):
        try:
            return label(ENUM_FIELDS[key](value))
        except ValueError:
            return value
    if key in ("client_id", "organisation_id") and isinstance(value, int) and names:
        return names.get(value, str(value))
    if isinstance(value, bool):
        return str(_l("Yes") if value else _l("No"))
    if isinstance(value, str) and _ISO_TIME.match(value):
        return format_datetime(dt.datetime.fromisoformat(value), "yyyy-MM-dd HH:mm")
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)
