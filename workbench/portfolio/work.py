"""我的待办: what waits for the signed-in user, over the engagements they may see.

Only engagements of :func:`visible_engagements_filter` are read, and the team's items only
where the user is on the team (or an admin): nobody sees another person's work. Experts and
respondents are not users (their personal link is their list).

* 复核 (a reviewer, or the lead for the first level): drafts whose waiting level they may sign.
* The team: comments on a 征求意见稿 without a response; rectification items not done whose
  deadline is past or within :data:`DUE_WITHIN` days; expert sheets not submitted yet.
* A client: 征求意见稿 out for comments that the bureau has not commented on; issued reports;
  rectification items of its engagements that are due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from workbench.accounts.models import Role, User
from workbench.engagements.access import can_edit_engagement, visible_engagements_filter
from workbench.engagements.models import Engagement
from workbench.experts.models import PanelMember
from workbench.reports import services as reports
from workbench.reports.models import RectificationItem, ReportVersion

#: a rectification item is listed from this many days before its deadline
DUE_WITHIN = 14


@dataclass(frozen=True)
class WorkItem:
    kind: str  # review | answer | rectification | sheets | comment | issued
    engagement: Engagement
    title: str  # what it is (plain data; the page labels the kind)
    endpoint: str  # where the work is done (url_for endpoint)
    params: tuple[tuple[str, object], ...]
    anchor: str = ""
    due: dt.date | None = None
    overdue: bool = False


def work_of(session: Session, user: User, levels: Sequence[str], today: dt.date) -> list[WorkItem]:
    """The user's open items, grouped by kind in the page's order."""
    engagements = session.scalars(
        sa.select(Engagement)
        .where(visible_engagements_filter(user))
        .options(selectinload(Engagement.members))
        .order_by(Engagement.fiscal_year.desc(), Engagement.id)
    ).all()
    ids = [e.id for e in engagements]
    by_id = {e.id: e for e in engagements}
    versions = session.scalars(
        sa.select(ReportVersion)
        .where(
            ReportVersion.engagement_id.in_(ids),
            ReportVersion.status.in_(("review", "consultation", "issued")),
        )
        .options(selectinload(ReportVersion.reviews), selectinload(ReportVersion.comments))
        .order_by(ReportVersion.engagement_id, ReportVersion.number)
    ).all()
    items: list[WorkItem] = []
    if user.role is Role.CLIENT:
        items += _client_items(versions, by_id)
    else:
        team = {e.id for e in engagements if can_edit_engagement(user, e)}
        items += _team_items(session, user, versions, by_id, team, levels)
    items += _rectification(session, by_id, user, today)
    return items


def _link(engagement: Engagement, **params: object) -> tuple[tuple[str, object], ...]:
    return (("engagement_id", engagement.id), *params.items())


def _team_items(
    session: Session,
    user: User,
    versions: Sequence[ReportVersion],
    by_id: dict[int, Engagement],
    team: set[int],
    levels: Sequence[str],
) -> list[WorkItem]:
    items = []
    for v in versions:
        e = by_id[v.engagement_id]
        if e.id not in team:
            continue
        level = reports.next_level(v, levels) if v.status == "review" else None
        if level is not None and reports.may_sign(e, user, level):
            items.append(
                WorkItem("review", e, f"v{v.number} · {levels[level]}", "reports.index",
                         _link(e), f"#v{v.number}")
            )  # fmt: skip
        if v.status == "consultation":
            for c in v.comments:
                if not c.response:
                    items.append(
                        WorkItem("answer", e, f"v{v.number} · {c.author or ''}：{c.text[:80]}",
                                 "reports.index", _link(e), f"#v{v.number}")
                    )  # fmt: skip
    waiting = session.scalars(
        sa.select(PanelMember)
        .where(
            PanelMember.engagement_id.in_(team),
            PanelMember.revoked_at.is_(None),
            PanelMember.submitted_round1_at.is_(None),
        )
        .options(selectinload(PanelMember.expert))
        .order_by(PanelMember.engagement_id, PanelMember.id)
    ).all()
    for m in waiting:
        if m.recused:
            continue
        e = by_id[m.engagement_id]
        items.append(WorkItem("sheets", e, m.expert.name, "experts.panel", _link(e)))
    return items


def _client_items(
    versions: Sequence[ReportVersion], by_id: dict[int, Engagement]
) -> list[WorkItem]:
    items = []
    for v in versions:
        e = by_id[v.engagement_id]
        if v.status == "consultation" and not any(c.party == "client" for c in v.comments):
            items.append(
                WorkItem("comment", e, f"v{v.number}", "engagements.detail", _link(e),
                         "#consultation")
            )  # fmt: skip
        elif v.status == "issued":
            items.append(
                WorkItem("issued", e, v.report_no or f"v{v.number}", "engagements.detail",
                         _link(e), "#issued-reports")
            )  # fmt: skip
    return items


def _rectification(
    session: Session, by_id: dict[int, Engagement], user: User, today: dt.date
) -> list[WorkItem]:
    horizon = today + dt.timedelta(days=DUE_WITHIN)
    rows = session.scalars(
        sa.select(RectificationItem)
        .where(
            RectificationItem.engagement_id.in_(list(by_id)),
            RectificationItem.status != "done",
            RectificationItem.deadline.is_not(None),
            RectificationItem.deadline <= horizon,
        )
        .order_by(RectificationItem.deadline, RectificationItem.id)
    ).all()
    items = []
    for r in rows:
        e = by_id[r.engagement_id]
        if user.role is not Role.CLIENT and not can_edit_engagement(user, e):
            continue
        items.append(
            WorkItem("rectification", e, f"{r.number}. {r.title}", "reports.rectification",
                     _link(e), f"#item-{r.id}", r.deadline, reports.overdue(r, today))
        )  # fmt: skip
    return items
