"""Engagement services. They flush and audit; the caller commits once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts.models import Organisation, Role, User
from workbench.audit.services import diff, json_safe, record, snapshot
from workbench.core.budget import (
    MAX_SOURCE_NAME,
    BudgetFigures,
    BudgetTable,
    Denominator,
    FundSource,
    RateKind,
    budget_table,
    resolve_denominators,
    source_name,
)
from workbench.core.goals import GoalNature, GoalRow, normalise_percent
from workbench.core.safefiles import clean_filename
from workbench.core.workflow import REVIEW_DECISIONS, EngagementState, check_transition
from workbench.db import utcnow
from workbench.engagements import revision
from workbench.engagements.models import (
    BudgetLine,
    CommissionScope,
    Engagement,
    EngagementMember,
    EvaluationKind,
    GoalIndicator,
    MemberRole,
)

ENGAGEMENT_FIELDS = [
    "title",
    "client_id",
    "project_name",
    "kind",
    "scope",
    "fiscal_year",
    "planned_start",
    "planned_end",
    "contract_no",
    "fee",
    "description",
    "evaluation_period",
    "data_provider",
    "basis_rules",
    "basis_other",
    "commission_notice",
]
#: the fields the report's framing prints (a change is a data change: the revision moves)
FRAMING_FIELDS = frozenset(ENGAGEMENT_FIELDS[-5:])
GOAL_FIELDS = [
    "level1",
    "level2",
    "name",
    "nature",
    "target_value",
    "unit",
    "actual_value",
    "deviation_reason",
]
BUDGET_FIELDS = ["initial", "adjusted", "available", "executed"]


class EngagementError(ValueError):
    """A user-facing problem; ``str(exc)`` is a code the web layer translates."""


class StaleEdit(EngagementError):
    """The engagement changed since the form was loaded."""

    def __init__(self) -> None:
        super().__init__("engagement_stale")


def _check_version(engagement: Engagement, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != engagement.version:
        raise StaleEdit()


def _touch(engagement: Engagement) -> None:
    """Bump the engagement's version when one of its parts changes."""
    engagement.updated_at = utcnow()


def _snapshot(engagement: Engagement) -> dict[str, Any]:
    data = snapshot(engagement, ENGAGEMENT_FIELDS)
    data["evaluated_units"] = sorted(o.name for o in engagement.evaluated_units)
    return data


#: states after which the commissioning parties are fixed (the report is the bureau's)
PARTIES_FROZEN_STATES = frozenset({EngagementState.ISSUED, EngagementState.ARCHIVED})


def _parties_change(
    engagement: Engagement,
    values: Mapping[str, Any],
    evaluated_units: Iterable[Organisation] | None,
) -> bool:
    """Whether the edit changes the client bureau or the evaluated units."""
    if "client_id" in values and values["client_id"] != engagement.client_id:
        return True
    if "client" in values and values["client"] is not engagement.client:
        return True
    if evaluated_units is None:
        return False
    return {o.id for o in evaluated_units} != {o.id for o in engagement.evaluated_units}


def self_commissioned(engagement: Engagement) -> bool:
    """True when the client is also an evaluated unit: a body may not commission an
    evaluation of itself (财预〔2021〕6号 / 财监〔2021〕4号 independence rules)."""
    return any(o.id == engagement.client_id for o in engagement.evaluated_units)


def create_engagement(
    session: Session,
    actor: User,
    *,
    title: str,
    client: Organisation,
    project_name: str,
    kind: EvaluationKind,
    scope: CommissionScope,
    fiscal_year: int,
    evaluated_units: Iterable[Organisation] = (),
    planned_start: dt.date | None = None,
    planned_end: dt.date | None = None,
    contract_no: str | None = None,
    fee: Decimal | None = None,
    description: str | None = None,
    lead: User | None = None,
    **framing: Any,
) -> Engagement:
    """Create an engagement in state 立项 with ``lead`` (default: the actor) as 项目负责人
    (``framing``: the report's framing facts, :data:`FRAMING_FIELDS`)."""
    unknown = set(framing) - FRAMING_FIELDS
    if unknown:
        raise TypeError(f"unknown engagement field {sorted(unknown)}")
    if planned_start and planned_end and planned_end < planned_start:
        raise EngagementError("end_before_start")
    engagement = Engagement(
        title=title,
        client=client,
        project_name=project_name,
        kind=kind,
        scope=scope,
        fiscal_year=fiscal_year,
        planned_start=planned_start,
        planned_end=planned_end,
        contract_no=contract_no or None,
        fee=fee,
        description=description or None,
        evaluated_units=list(evaluated_units),
        created_by_id=actor.id,
        **framing,
    )
    session.add(engagement)
    lead = lead or actor
    engagement.members.append(EngagementMember(user=lead, role=MemberRole.LEAD))
    session.flush()
    record(
        session,
        actor,
        "engagement.create",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes=diff({}, _snapshot(engagement)),
        summary=engagement.title,
    )
    record(
        session,
        actor,
        "member.add",
        "user",
        lead.id,
        engagement_id=engagement.id,
        changes={"role": {"before": None, "after": MemberRole.LEAD.value}},
        summary=lead.display_name,
    )
    return engagement


def update_engagement(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    expected_version: int | None,
    evaluated_units: Iterable[Organisation] | None = None,
    report_out: bool = False,
    **values: Any,
) -> Engagement:
    """Edit the engagement's basic facts; refuses a stale form (:class:`StaleEdit`).

    The commissioning parties (client bureau, evaluated units) decide whose portal shows the
    reports: only the lead or an admin changes them, and nobody once a report has gone to the
    bureau (``report_out``: a 征求意见稿 or an issued report; or the engagement issued or
    archived).
    """
    _check_version(engagement, expected_version)
    if evaluated_units is not None:
        evaluated_units = list(evaluated_units)
    if _parties_change(engagement, values, evaluated_units):
        if report_out or engagement.state in PARTIES_FROZEN_STATES:
            raise EngagementError("parties_after_issue")
        if actor.role is not Role.ADMIN and engagement.member_role(actor) is not MemberRole.LEAD:
            raise EngagementError("parties_lead_only")
    start = values.get("planned_start", engagement.planned_start)
    end = values.get("planned_end", engagement.planned_end)
    if start and end and end < start:
        raise EngagementError("end_before_start")
    before = _snapshot(engagement)
    for key, value in values.items():
        if key not in ENGAGEMENT_FIELDS and key != "client":
            raise TypeError(f"unknown engagement field {key}")
        setattr(engagement, key, value)
    if evaluated_units is not None:
        engagement.evaluated_units = list(evaluated_units)
    changes = diff(before, _snapshot(engagement))
    if changes:
        _touch(engagement)  # also bumps the version when only the units changed
        if FRAMING_FIELDS & set(changes):
            revision.bump(session, engagement.id)
        record(
            session,
            actor,
            "engagement.update",
            "engagement",
            engagement.id,
            engagement_id=engagement.id,
            changes=changes,
            summary=engagement.title,
        )
    return engagement


def transition(
    session: Session,
    actor: User,
    engagement: Engagement,
    target: EngagementState,
    *,
    note: str | None = None,
    expected_version: int | None = None,
    issued_report: bool = False,
) -> Engagement:
    """Move the engagement through the workflow (:mod:`workbench.core.workflow`).

    Raises :class:`~workbench.core.errors.InvalidTransition` for a move the workflow forbids,
    :class:`EngagementError` ``("reviewer_only")`` when a review decision is made by someone who
    is not the engagement's 复核人 or an admin, and ``("issued_needs_report")`` for a move to
    已出具 when the engagement has no issued report (``issued_report``: the caller, who may
    read the reports, says whether it has one; issuing a report moves the engagement itself,
    :func:`mark_issued`).
    """
    _check_version(engagement, expected_version)
    source = engagement.state
    check_transition(source, target)
    if (source, target) in REVIEW_DECISIONS and not (
        actor.role is Role.ADMIN or engagement.member_role(actor) is MemberRole.REVIEWER
    ):
        raise EngagementError("reviewer_only")
    if target is EngagementState.ISSUED and not issued_report:
        raise EngagementError("issued_needs_report")
    engagement.state = target
    _touch(engagement)
    session.flush()
    record(
        session,
        actor,
        "engagement.transition",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes={"state": {"before": source.value, "after": target.value}},
        summary=note,
    )
    return engagement


def mark_issued(session: Session, actor: User, engagement: Engagement, *, note: str) -> bool:
    """Issuing a report moves the engagement to 已出具, from whatever stage it stood at (the
    report workflow, not the status buttons, decides that the report is out); audited as a
    transition in the issuing transaction. False (nothing changed) when it already is
    已出具 or archived (a re-issue)."""
    source = engagement.state
    if source in (EngagementState.ISSUED, EngagementState.ARCHIVED):
        return False
    engagement.state = EngagementState.ISSUED
    _touch(engagement)
    session.flush()
    record(
        session,
        actor,
        "engagement.transition",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes={"state": {"before": source.value, "after": EngagementState.ISSUED.value}},
        summary=note,
    )
    return True


# --- team -------------------------------------------------------------------------------------


def add_member(
    session: Session, actor: User, engagement: Engagement, user: User, role: MemberRole
) -> EngagementMember:
    """Put a staff user on the team, or change their role if already on it."""
    if not user.is_staff:
        raise EngagementError("member_not_staff")
    if role is MemberRole.REVIEWER and user.role not in (Role.REVIEWER, Role.ADMIN):
        raise EngagementError("reviewer_role_needed")
    existing = next((m for m in engagement.members if m.user_id == user.id), None)
    before = existing.role.value if existing else None
    if existing is not None:
        if (
            existing.role is MemberRole.LEAD
            and role is not MemberRole.LEAD
            and _leads(engagement) == 1
        ):
            raise EngagementError("last_lead")
        existing.role = role
        member = existing
    else:
        member = EngagementMember(user=user, role=role)
        engagement.members.append(member)
    session.flush()
    if before != role.value:
        record(
            session,
            actor,
            "member.add" if before is None else "member.update",
            "user",
            user.id,
            engagement_id=engagement.id,
            changes={"role": {"before": before, "after": role.value}},
            summary=user.display_name,
        )
    return member


def _leads(engagement: Engagement) -> int:
    return sum(1 for m in engagement.members if m.role is MemberRole.LEAD)


def remove_member(
    session: Session, actor: User, engagement: Engagement, member: EngagementMember
) -> None:
    """Take someone off the team; the last 项目负责人 cannot be removed."""
    if member.role is MemberRole.LEAD and _leads(engagement) == 1:
        raise EngagementError("last_lead")
    engagement.members.remove(member)
    session.flush()
    record(
        session,
        actor,
        "member.remove",
        "user",
        member.user_id,
        engagement_id=engagement.id,
        changes={"role": {"before": member.role.value, "after": None}},
        summary=member.user.display_name,
    )


# --- budget -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundLine:
    """One row of the funds table as the team entered it: the 资金来源 name, its figures
    (万元, by :data:`BUDGET_FIELDS`) and, for a row already stored, its id (so that a rename
    keeps the row)."""

    name: str
    values: Mapping[str, Decimal | None]
    line_id: int | None = None


def budget_of(
    engagement: Engagement, declared: Mapping[RateKind, Denominator] | None = None
) -> BudgetTable:
    """The engagement's funds table with derived rates, one row per configured source in
    the team's order.

    ``declared``: the denominators the indicator system's template declares; they win over
    the engagement's settings (see :func:`workbench.scoring.services.budget_for`, which
    passes them)."""
    lines = sorted(engagement.budget_lines, key=lambda line: (line.position, line.id or 0))
    figures = [
        BudgetFigures(
            source=line.name,
            initial=line.initial,
            adjusted=line.adjusted,
            available=line.available,
            executed=line.executed,
        )
        for line in lines
    ]
    used, fixed = resolve_denominators(
        {
            RateKind.FUNDING: engagement.funding_denominator,
            RateKind.EXECUTION: engagement.execution_denominator,
        },
        declared or {},
    )
    return budget_table(figures, used[RateKind.FUNDING], used[RateKind.EXECUTION], fixed)


def _fund_lines(
    lines: Sequence[FundLine] | Mapping[FundSource | str, Mapping[str, Decimal | None]],
) -> list[FundLine]:
    """The rows to store; a mapping (source → figures, the pre-#15 call) skips blank rows."""
    if isinstance(lines, Mapping):
        return [
            FundLine(source_name(source), values)
            for source, values in lines.items()
            if any(v is not None for v in values.values())
        ]
    return [FundLine(source_name(line.name), line.values, line.line_id) for line in lines]


def _check_fund_lines(items: Sequence[FundLine]) -> None:
    names = [item.name for item in items]
    if any(not name for name in names):
        raise EngagementError("fund_source_name_missing")
    if any(len(name) > MAX_SOURCE_NAME for name in names):
        raise EngagementError("fund_source_name_too_long")
    if len(set(names)) != len(names):
        raise EngagementError("fund_source_repeated")
    if any(v is not None and v < 0 for item in items for v in item.values.values()):
        raise EngagementError("negative_amount")


def save_budget(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    lines: Sequence[FundLine] | Mapping[FundSource | str, Mapping[str, Decimal | None]],
    funding_denominator: Denominator,
    execution_denominator: Denominator,
    expected_version: int | None,
) -> BudgetTable:
    """Replace the funds table (万元) and the rate denominators (audited per field).

    The table becomes exactly ``lines``, in that order: a row matched by id (or, without an
    id, by name) keeps its identity and may be renamed; stored rows not given are removed.
    Audit keys are ``<source>.<field>``; ``<source>.source`` records an added, renamed or
    removed row."""
    _check_version(engagement, expected_version)
    items = _fund_lines(lines)
    _check_fund_lines(items)
    by_id = {line.id: line for line in engagement.budget_lines}
    by_name = {line.name: line for line in engagement.budget_lines}
    matched: list[BudgetLine | None] = []
    for item in items:
        if item.line_id is not None:
            if item.line_id not in by_id:
                raise StaleEdit()
            matched.append(by_id[item.line_id])
        else:
            matched.append(by_name.get(item.name))
    changes: dict[str, dict[str, Any]] = {}
    kept = {id(line) for line in matched if line is not None}
    for line in list(engagement.budget_lines):
        if id(line) not in kept:
            changes[f"{line.name}.source"] = {"before": line.name, "after": None}
            engagement.budget_lines.remove(line)
    session.flush()  # removed rows free their names before a rename takes one
    for position, (item, line) in enumerate(zip(items, matched, strict=True)):
        if line is None:
            line = BudgetLine(name=item.name, position=position)
            engagement.budget_lines.append(line)
            changes[f"{item.name}.source"] = {"before": None, "after": item.name}
        elif line.name != item.name:
            changes[f"{item.name}.source"] = {"before": line.name, "after": item.name}
            line.name = item.name
        if line.position != position:
            changes[f"{item.name}.position"] = {"before": line.position + 1, "after": position + 1}
            line.position = position
        for key in BUDGET_FIELDS:
            old, new = getattr(line, key), item.values.get(key)
            if (old is None) != (new is None) or (old is not None and Decimal(old) != new):
                changes[f"{item.name}.{key}"] = {
                    "before": json_safe(old),
                    "after": json_safe(new),
                }
            setattr(line, key, new)
    for attr, value in (
        ("funding_denominator", funding_denominator),
        ("execution_denominator", execution_denominator),
    ):
        if getattr(engagement, attr) is not value:
            changes[attr] = {"before": getattr(engagement, attr).value, "after": value.value}
            setattr(engagement, attr, value)
    if changes:
        _touch(engagement)
        session.flush()
        revision.bump(session, engagement.id)
        record(
            session,
            actor,
            "budget.update",
            "engagement",
            engagement.id,
            engagement_id=engagement.id,
            changes=changes,
        )
    return budget_of(engagement)


# --- performance goals ------------------------------------------------------------------------


def save_goal_texts(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    overall_goal: str | None,
    annual_goal: str | None,
    expected_version: int | None,
) -> None:
    """Set 总体目标 and 年度目标."""
    _check_version(engagement, expected_version)
    before = snapshot(engagement, ["overall_goal", "annual_goal"])
    engagement.overall_goal = overall_goal or None
    engagement.annual_goal = annual_goal or None
    changes = diff(before, snapshot(engagement, ["overall_goal", "annual_goal"]))
    if changes:
        _touch(engagement)
        session.flush()
        revision.bump(session, engagement.id)
        record(
            session,
            actor,
            "goals.update_text",
            "engagement",
            engagement.id,
            engagement_id=engagement.id,
            changes=changes,
        )


def _goal_values(values: Mapping[str, Any]) -> dict[str, Any]:
    data = {k: values.get(k) or "" for k in GOAL_FIELDS}
    data["nature"] = GoalNature(values["nature"])
    if data["nature"] is not GoalNature.QUALITATIVE:
        data["target_value"], data["actual_value"], data["unit"] = normalise_percent(
            data["target_value"], data["actual_value"], data["unit"]
        )
    return data


def add_goal(session: Session, actor: User, engagement: Engagement, **values: Any) -> GoalIndicator:
    """Add a goal indicator after the last one of its level-1 group (or at the end)."""
    data = _goal_values(values)
    same_group = [g.position for g in engagement.goals if g.level1 == data["level1"]]
    if same_group:
        position = max(same_group) + 1
        for g in engagement.goals:
            if g.position >= position:
                g.position += 1
    else:
        position = max((g.position for g in engagement.goals), default=0) + 1
    goal = GoalIndicator(position=position, **data)
    engagement.goals.append(goal)
    _touch(engagement)
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "goal.create",
        "goal_indicator",
        goal.id,
        engagement_id=engagement.id,
        changes=diff({}, snapshot(goal, GOAL_FIELDS)),
        summary=goal.name,
    )
    return goal


def update_goal(session: Session, actor: User, goal: GoalIndicator, **values: Any) -> None:
    """Edit a goal indicator."""
    before = snapshot(goal, GOAL_FIELDS)
    for key, value in _goal_values(values).items():
        setattr(goal, key, value)
    changes = diff(before, snapshot(goal, GOAL_FIELDS))
    if changes:
        _touch(goal.engagement)
        session.flush()
        revision.bump(session, goal.engagement_id)
        record(
            session,
            actor,
            "goal.update",
            "goal_indicator",
            goal.id,
            engagement_id=goal.engagement_id,
            changes=changes,
            summary=goal.name,
        )


def delete_goal(session: Session, actor: User, goal: GoalIndicator) -> None:
    """Remove a goal indicator (its values stay in the audit log)."""
    engagement = goal.engagement
    record(
        session,
        actor,
        "goal.delete",
        "goal_indicator",
        goal.id,
        engagement_id=engagement.id,
        changes=diff(snapshot(goal, GOAL_FIELDS), {}),
        summary=goal.name,
    )
    engagement.goals.remove(goal)
    _touch(engagement)
    session.flush()
    revision.bump(session, engagement.id)


def import_goals(
    session: Session,
    actor: User,
    engagement: Engagement,
    rows: list[GoalRow],
    *,
    replace: bool,
    filename: str,
) -> int:
    """Add (or, with ``replace``, replace all goals with) validated rows in one step."""
    removed = len(engagement.goals) if replace else 0
    if replace:
        engagement.goals.clear()
        session.flush()
    start = max((g.position for g in engagement.goals), default=0)
    for offset, row in enumerate(rows, start=1):
        engagement.goals.append(
            GoalIndicator(
                position=start + offset,
                level1=row.level1,
                level2=row.level2,
                name=row.name,
                nature=row.nature,
                target_value=row.target_value,
                unit=row.unit,
                actual_value=row.actual_value,
                deviation_reason=row.deviation_reason,
            )
        )
    _touch(engagement)
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "goals.import",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes={
            "goals_imported": {"before": None, "after": len(rows)},
            **({"goals_removed": {"before": None, "after": removed}} if replace else {}),
        },
        summary=clean_filename(filename, default=""),
    )
    return len(rows)


def list_engagements_query(
    visible: sa.ColumnElement[bool],
    *,
    q: str | None = None,
    year: int | None = None,
    client_id: int | None = None,
    state: EngagementState | None = None,
) -> sa.Select[Any]:
    """A select of the visible engagements matching the filters, newest first."""
    stmt = sa.select(Engagement).where(visible)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            sa.or_(
                Engagement.title.ilike(like),
                Engagement.project_name.ilike(like),
                Engagement.contract_no.ilike(like),
            )
        )
    if year:
        stmt = stmt.where(Engagement.fiscal_year == year)
    if client_id:
        stmt = stmt.where(Engagement.client_id == client_id)
    if state:
        stmt = stmt.where(Engagement.state == state)
    return stmt.options(sa.orm.selectinload(Engagement.client)).order_by(
        Engagement.fiscal_year.desc(), Engagement.id.desc()
    )
