"""The portfolio across engagements and years, with result application (结果应用).

Clients see issued results only (the score and grade of the latest issued report); the
evaluation team sees the live score of engagements not issued yet, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from workbench.accounts.models import Organisation, Role, User
from workbench.audit.services import record
from workbench.core.numbers import round_half_up
from workbench.core.results import Rule, recommend, rules_from
from workbench.engagements.access import visible_engagements_filter
from workbench.engagements.models import Engagement
from workbench.engagements.services import budget_of
from workbench.reports.models import ReportVersion
from workbench.scoring import services as scoring
from workbench.scoring.models import IndicatorSystem


@dataclass
class PortfolioRow:
    engagement: Engagement
    issued: ReportVersion | None
    total: str | None
    grade: str | None
    dimensions: dict[str, str] = field(default_factory=dict)  # name → 得分率 printed
    current: Decimal | None = None  # 调整后预算数 (万元)
    action: str = ""
    recommended: str = "—"


def _rate(score: str, weight: str) -> str:
    try:
        return f"{round_half_up(Decimal(score) / Decimal(weight) * 100)}%"
    except (ArithmeticError, ValueError):
        return "—"


def rules_for(organisation: Organisation | None) -> dict[str, Rule]:
    return rules_from(organisation.result_rules if organisation else None)


def portfolio(
    session: Session,
    user: User,
    *,
    year: int | None = None,
    grade: str | None = None,
) -> list[PortfolioRow]:
    """One row per visible engagement: issued (or, for the team, live) score and action."""
    stmt = (
        sa.select(Engagement)
        .where(visible_engagements_filter(user))
        # what every row reads, in one query each rather than one per engagement
        .options(
            selectinload(Engagement.budget_lines),
            selectinload(Engagement.goals),
            selectinload(Engagement.client),
        )
    )
    if year:
        stmt = stmt.where(Engagement.fiscal_year == year)
    engagements = session.scalars(stmt.order_by(Engagement.fiscal_year.desc(), Engagement.id)).all()
    ids = [e.id for e in engagements]
    latest_issued: dict[int, ReportVersion] = {}
    for version in session.scalars(
        sa.select(ReportVersion)
        .where(ReportVersion.engagement_id.in_(ids), ReportVersion.status == "issued")
        .order_by(ReportVersion.number)
    ):
        latest_issued[version.engagement_id] = version  # the highest number wins
    scored = set(
        session.scalars(
            sa.select(IndicatorSystem.engagement_id).where(IndicatorSystem.engagement_id.in_(ids))
        )
    )
    rows = []
    for e in engagements:
        issued = latest_issued.get(e.id)
        row = PortfolioRow(engagement=e, issued=issued, total=None, grade=None)
        if issued is not None:
            row.total, row.grade = issued.total, issued.grade
            row.dimensions = {d["name"]: _rate(d["score"], d["weight"]) for d in issued.dimensions}
        elif user.role is not Role.CLIENT and e.id in scored:
            scores = scoring.compute(session, e)
            if scores is not None and scores.result.complete and scores.result.total is not None:
                row.total = f"{round_half_up(scores.result.total):.2f}"
                row.grade = scores.result.grade
                for n in scores.result.nodes:
                    if n.parent is None and n.applicable and n.code in scores.printed:
                        row.dimensions[n.name] = _rate(str(scores.printed[n.code]), str(n.weight))
        budget = budget_of(e).total.figures
        row.current = budget.adjusted if budget.adjusted is not None else budget.initial
        advice = recommend(row.grade, row.current, rules_for(e.client))
        if advice is not None:
            row.action, row.recommended = advice.action, advice.printed
        if grade and row.grade != grade:
            continue
        rows.append(row)
    return rows


def dimension_names(rows: list[PortfolioRow]) -> list[str]:
    """The first-level dimensions over all rows, in first-seen order (the table's columns)."""
    names: list[str] = []
    for row in rows:
        names += [d for d in row.dimensions if d not in names]
    return names


def save_rules(
    session: Session, actor: User, organisation: Organisation, rules: dict[str, dict[str, str]]
) -> None:
    """A bureau's own grade → action mapping (unreadable entries keep the defaults)."""
    before = organisation.result_rules or {}
    cleaned = {g: {"action": r.action, "share": str(r.share)} for g, r in rules_from(rules).items()}
    organisation.result_rules = cleaned
    session.flush()
    record(
        session,
        actor,
        "organisation.result_rules",
        "organisation",
        organisation.id,
        changes={"rules": {"before": before or None, "after": cleaned}},
        summary=organisation.name,
    )
