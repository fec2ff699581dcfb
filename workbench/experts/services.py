"""Expert-panel services. They flush and audit; the caller commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from workbench.accounts.models import User
from workbench.audit.services import diff, record, snapshot
from workbench.core.indicators import ExpertMethod, Indicator, Template
from workbench.core.panel import EXPERT, INDICATOR, SCORE, Aggregation
from workbench.db import utcnow
from workbench.engagements import revision
from workbench.engagements.models import Engagement
from workbench.experts.models import Conflict, Expert, PanelMember, PanelSettings, SheetScore

EXPERT_FIELDS = ["name", "title", "organisation", "field", "phone", "email", "notes"]
DEFAULT_LINK_DAYS = 30


class PanelError(ValueError):
    """A user-facing problem; ``str(exc)`` is a code the web layer translates."""


@dataclass(frozen=True)
class SheetProblem:
    """One problem on a scoring sheet (indicator code and message code)."""

    code: str
    #: out_of_range | off_step | comment_required | new_reason_required | missing | not_a_number
    problem: str


class SheetStale(PanelError):
    """The sheet was saved elsewhere since it was opened (``str(exc)`` stays ``"stale"``)."""

    def __init__(self) -> None:
        super().__init__("stale")


class SheetInvalid(PanelError):
    """The sheet has problems; nothing was saved."""

    def __init__(self, problems: list[SheetProblem]) -> None:
        super().__init__("sheet_invalid")
        self.problems = problems


# --- registry -----------------------------------------------------------------------------------


def create_expert(session: Session, actor: User, **values: str) -> Expert:
    """Add an expert to the registry."""
    expert = Expert(**{k: (values.get(k) or "").strip() for k in EXPERT_FIELDS})
    if not expert.name:
        raise PanelError("name_required")
    session.add(expert)
    session.flush()
    record(
        session,
        actor,
        "expert.create",
        "expert",
        expert.id,
        changes=diff({}, snapshot(expert, EXPERT_FIELDS)),
        summary=expert.name,
    )
    return expert


def update_expert(session: Session, actor: User, expert: Expert, **values: str) -> Expert:
    """Edit an expert's registry entry."""
    before = snapshot(expert, EXPERT_FIELDS)
    for key in EXPERT_FIELDS:
        if key in values:
            setattr(expert, key, (values[key] or "").strip())
    changes = diff(before, snapshot(expert, EXPERT_FIELDS))
    if changes:
        session.flush()
        record(
            session,
            actor,
            "expert.update",
            "expert",
            expert.id,
            changes=changes,
            summary=expert.name,
        )
    return expert


# --- links ------------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def expert_leaves(template: Template) -> list[Indicator]:
    """The leaves scored by the expert panel (method ``expert``)."""
    return [leaf for leaf in template.leaves() if isinstance(leaf.method, ExpertMethod)]


def settings_of(session: Session, engagement: Engagement) -> PanelSettings:
    row = session.scalar(
        sa.select(PanelSettings).where(PanelSettings.engagement_id == engagement.id)
    )
    if row is None:
        row = PanelSettings(
            engagement_id=engagement.id,
            aggregation=Aggregation.MEAN,
            trim_min_n=5,
            step=Decimal("0.5"),
            round2_open=False,
        )
        session.add(row)
        session.flush()
    return row


def invite(
    session: Session,
    actor: User,
    engagement: Engagement,
    expert: Expert,
    codes: list[str],
    *,
    days: int = DEFAULT_LINK_DAYS,
    weight: Decimal | None = None,
) -> tuple[PanelMember, str]:
    """Seat ``expert`` on the panel (or re-issue the link of an existing seat).

    ``weight`` is the expert's weight for the weighted-mean aggregation (default 1; kept on a
    re-issue unless given).

    Returns the seat and the new token: the only moment the link can be shown.
    """
    if not codes:
        raise PanelError("no_indicators")
    token = secrets.token_urlsafe(32)
    settings_of(session, engagement)  # the panel's settings exist from the first seat on
    member = session.scalar(
        sa.select(PanelMember).where(
            PanelMember.engagement_id == engagement.id, PanelMember.expert_id == expert.id
        )
    )
    action = "panel.reissue" if member is not None else "panel.invite"
    if member is None:
        member = PanelMember(
            engagement_id=engagement.id, expert=expert, indicator_codes=codes, weight=Decimal(1)
        )
        session.add(member)
    else:
        member.indicator_codes = codes
    if weight is not None:
        if weight <= 0:
            raise PanelError("weight_positive")
        member.weight = weight
    member.token_hash = hash_token(token)
    member.token_expires_at = utcnow() + dt.timedelta(days=days)
    member.revoked_at = None
    session.flush()
    revision.bump(session, engagement.id)  # a seat's weight and indicators feed the panel score
    record(
        session,
        actor,
        action,
        "panel_member",
        member.id,
        engagement_id=engagement.id,
        changes={
            "indicators": {"before": None, "after": codes},
            "expires": {"before": None, "after": member.token_expires_at.date().isoformat()},
        },
        summary=expert.name,
    )
    return member, token


def revoke(session: Session, actor: User, member: PanelMember) -> None:
    """Switch the personal link off (the seat and its scores stay)."""
    member.revoked_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "panel.revoke",
        "panel_member",
        member.id,
        engagement_id=member.engagement_id,
        summary=member.expert.name,
    )


def member_for_token(session: Session, token: str) -> PanelMember | None:
    """The seat a token opens, or None (unknown token)."""
    if not token or len(token) > 200:
        return None
    return session.scalar(sa.select(PanelMember).where(PanelMember.token_hash == hash_token(token)))


def link_state(member: PanelMember) -> str:
    """``ok``, ``revoked`` or ``expired``."""
    if member.revoked_at is not None:
        return "revoked"
    if member.token_expires_at <= utcnow():
        return "expired"
    return "ok"


# --- declarations and sheets ------------------------------------------------------------------


def declare(
    session: Session,
    member: PanelMember,
    *,
    has_conflict: bool,
    text: str,
    confidentiality: bool,
    entered_by: User | None = None,
) -> None:
    """Record the expert's conflict-of-interest declaration and confidentiality undertaking.

    A declared relationship recuses the expert: the sheet is blocked, and the lead sees it on
    the panel page and in the audit log.
    """
    if member.declared_at is not None:
        raise PanelError("already_declared")
    if not confidentiality:
        raise PanelError("confidentiality_required")
    if has_conflict and not text.strip():
        raise PanelError("conflict_text_required")
    if len(text) > 2000:
        raise PanelError("conflict_text_too_long")
    now = utcnow()
    member.conflict = Conflict.DECLARED if has_conflict else Conflict.NONE
    member.conflict_text = text.strip()
    member.declared_at = now
    member.confidentiality_at = now
    session.flush()
    revision.bump(session, member.engagement_id)  # a declared conflict recuses the expert
    record(
        session,
        entered_by,
        "panel.declare",
        "panel_member",
        member.id,
        engagement_id=member.engagement_id,
        actor_label=None if entered_by else f"{member.expert.name}（专家）",
        changes={
            "conflict": {"before": None, "after": member.conflict.value},
            "confidentiality": {"before": None, "after": now.isoformat()},
        },
        summary=(("回避：" + member.conflict_text) if has_conflict else "")
        + (f"（书面声明，由 {entered_by.display_name} 代为录入）" if entered_by else ""),
    )


def submitted_at(member: PanelMember, round_no: int) -> dt.datetime | None:
    return member.submitted_round1_at if round_no == 1 else member.submitted_round2_at


def current_round(session: Session, member: PanelMember) -> int:
    """The round this expert works on: the revision round only after their own round 1 (an
    expert who has not scored yet must not see the panel's median first)."""
    round2 = settings_of(session, member.engagement).round2_open
    return 2 if round2 and member.submitted_round1_at is not None else 1


def scores_of(member: PanelMember, round_no: int) -> dict[str, SheetScore]:
    return {s.indicator_code: s for s in member.scores if s.round == round_no}


def save_sheet(
    session: Session,
    member: PanelMember,
    template: Template,
    values: Mapping[str, tuple[str, str]],
    *,
    round_no: int,
    submit: bool,
    entered_by: User | None = None,
    expected_version: int | None = None,
) -> None:
    """Save (and optionally submit) the expert's scores for one round.

    ``expected_version`` is the seat's version the sheet was opened with: a sheet saved since
    (in another tab or window) raises :class:`SheetStale` (``PanelError("stale")``). Every save
    bumps the version.

    ``entered_by`` is the evaluator who keys in a paper or Excel sheet on the expert's behalf;
    the audit log says so.

    ``values`` maps indicator code → (score text, comment). Each score must lie in 0..max on
    the panel's step; a comment is required below full marks (and, in round 2, for a change
    from round 1); submitting needs every assigned indicator scored. A submitted round is
    locked. All or nothing: any problem raises :class:`SheetInvalid` and saves nothing.
    """
    if member.recused:
        raise PanelError("recused")
    if member.declared_at is None:
        raise PanelError("not_declared")
    if submitted_at(member, round_no) is not None:
        raise PanelError("already_submitted")
    if expected_version is not None and member.version != expected_version:
        raise SheetStale()
    step = settings_of(session, member.engagement).step
    leaves = {leaf.code: leaf for leaf in template.leaves() if leaf.code in member.indicator_codes}
    previous = scores_of(member, 1) if round_no == 2 else {}
    problems: list[SheetProblem] = []
    parsed: dict[str, tuple[Decimal | None, str]] = {}
    for code, leaf in leaves.items():
        raw, comment = values.get(code, ("", ""))
        raw, comment = (raw or "").strip(), (comment or "").strip()
        if not raw:
            if submit:
                problems.append(SheetProblem(code, "missing"))
            parsed[code] = (None, comment)
            continue
        try:
            score = Decimal(raw)
        except InvalidOperation:
            problems.append(SheetProblem(code, "not_a_number"))
            continue
        if not score.is_finite() or score < 0 or score > leaf.weight:
            problems.append(SheetProblem(code, "out_of_range"))
            continue
        if step and score != leaf.weight and score % step != 0:
            problems.append(SheetProblem(code, "off_step"))
            continue
        changed = code in previous and previous[code].score != score
        if not comment and code in previous and not changed:
            comment = previous[code].comment  # an unchanged score keeps its round-1 reason
        if changed and submit and _same_text(comment, previous[code].comment):
            # a changed score needs a new reason: the round-1 comment does not explain it
            problems.append(SheetProblem(code, "new_reason_required"))
            continue
        if (score < leaf.weight or changed) and not comment and submit:
            problems.append(SheetProblem(code, "comment_required"))
            continue
        parsed[code] = (score, comment)
    if problems:
        raise SheetInvalid(problems)
    existing = scores_of(member, round_no)
    for code, (score, comment) in parsed.items():
        row = existing.get(code)
        if row is None:
            row = SheetScore(indicator_code=code, round=round_no)
            member.scores.append(row)
        row.score, row.comment = score, comment
    # the scores are child rows: make the seat's own row change too, so that its version goes
    # up and a concurrent save from the same version fails (StaleDataError) instead of mixing
    flag_modified(member, "indicator_codes")
    if submit:
        if round_no == 1:
            member.submitted_round1_at = utcnow()
        else:
            member.submitted_round2_at = utcnow()
    session.flush()
    if submit:  # only submitted rounds count: a draft changes no result
        revision.bump(session, member.engagement_id)
        record(
            session,
            entered_by,
            "panel.submit",
            "panel_member",
            member.id,
            engagement_id=member.engagement_id,
            actor_label=None if entered_by else f"{member.expert.name}（专家）",
            changes={
                f"{c}.r{round_no}": {"before": None, "after": str(s)}
                for c, (s, _comment) in parsed.items()
            },
            summary=f"第 {round_no} 轮"
            + (
                f"，由 {entered_by.display_name} 代为录入 / entered on the expert's behalf"
                if entered_by
                else ""
            ),
        )


def _same_text(comment: str, before: str) -> bool:
    """Whether a round-2 reason is empty or only repeats the round-1 comment (spacing aside)."""
    return "".join(comment.split()) in ("", "".join((before or "").split()))


def undo_recusal(session: Session, actor: User, member: PanelMember, reason: str) -> None:
    """Undo a recusal the expert declared by mistake (lead only, with a reason; audited).

    The declaration stays recorded (time, confidentiality); the seat counts as having no
    conflict from now on, so the expert's link opens the scoring sheet.
    """
    reason = reason.strip()
    if not reason:
        raise PanelError("reason_required")
    if not member.recused:
        raise PanelError("not_recused")
    before_text = member.conflict_text
    member.conflict = Conflict.NONE
    session.flush()
    revision.bump(session, member.engagement_id)  # the expert's scores may count again
    record(
        session,
        actor,
        "panel.undo_recusal",
        "panel_member",
        member.id,
        engagement_id=member.engagement_id,
        changes={"conflict": {"before": Conflict.DECLARED.value, "after": Conflict.NONE.value}},
        summary=f"{member.expert.name}: {reason}（原声明 / declared: {before_text}）",
    )


def save_expert_info(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    named_in_report: bool,
    deadline: dt.date | None,
    contact: str,
) -> None:
    """What the experts are told: whether the report names them next to their scores (else
    专家A, 专家B, …), the deadline and whom at the firm to ask. Audited."""
    contact = contact.strip()
    if len(contact) > 200:
        raise PanelError("contact_too_long")
    settings = settings_of(session, engagement)
    fields = ["named_in_report", "deadline", "contact"]
    before = snapshot(settings, fields)
    settings.named_in_report, settings.deadline, settings.contact = (
        named_in_report,
        deadline,
        contact,
    )
    changes = diff(before, snapshot(settings, fields))
    if changes:
        session.flush()
        revision.bump(session, engagement.id)  # the report's expert table changes with it
        record(
            session,
            actor,
            "panel.expert_info",
            "panel_settings",
            settings.id,
            engagement_id=engagement.id,
            changes=changes,
        )


def reopen(session: Session, actor: User, member: PanelMember, round_no: int, reason: str) -> None:
    """Unlock a submitted sheet (lead only, with a reason; audited)."""
    if not reason.strip():
        raise PanelError("reason_required")
    if submitted_at(member, round_no) is None:
        raise PanelError("not_submitted")
    if round_no == 1 and settings_of(session, member.engagement).round2_open:
        raise PanelError("round1_closed")  # reopening round 1 now would drop the scores
    before = submitted_at(member, round_no)
    if round_no == 1:
        member.submitted_round1_at = None
    else:
        member.submitted_round2_at = None
    session.flush()
    revision.bump(session, member.engagement_id)
    record(
        session,
        actor,
        "panel.reopen",
        "panel_member",
        member.id,
        engagement_id=member.engagement_id,
        changes={
            f"submitted_round{round_no}": {
                "before": before.isoformat() if before else None,
                "after": None,
            }
        },
        summary=f"{member.expert.name}: {reason.strip()}",
    )


def open_round2(session: Session, actor: User, engagement: Engagement) -> None:
    """Start the Delphi revision round: experts see the panel's median and IQR."""
    settings = settings_of(session, engagement)
    if settings.round2_open:
        raise PanelError("round2_open")
    members = panel_members(session, engagement)
    if not any(m.submitted_round1_at for m in members if not m.recused):
        raise PanelError("nothing_submitted")
    settings.round2_open = True
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "panel.round2",
        "panel_settings",
        settings.id,
        engagement_id=engagement.id,
        changes={"round2_open": {"before": False, "after": True}},
    )


def save_settings(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    aggregation: Aggregation,
    trim_min_n: int,
    step: Decimal,
) -> None:
    settings = settings_of(session, engagement)
    fields = ["aggregation", "trim_min_n", "step"]
    before = snapshot(settings, fields)
    settings.aggregation, settings.trim_min_n, settings.step = aggregation, trim_min_n, step
    changes = diff(before, snapshot(settings, fields))
    if changes:
        session.flush()
        revision.bump(session, engagement.id)
        record(
            session,
            actor,
            "panel.settings",
            "panel_settings",
            settings.id,
            engagement_id=engagement.id,
            changes=changes,
        )


# --- results ----------------------------------------------------------------------------------


def panel_members(session: Session, engagement: Engagement) -> list[PanelMember]:
    return list(
        session.scalars(
            sa.select(PanelMember)
            .where(PanelMember.engagement_id == engagement.id)
            .order_by(PanelMember.id)
            # the scores and names of every seat in two queries, not two per seat
            .options(selectinload(PanelMember.scores), selectinload(PanelMember.expert))
        )
    )


def recused(session: Session, engagement: Engagement) -> list[PanelMember]:
    """The panel members who declared a conflict of interest (shown on the engagement page)."""
    return list(
        session.scalars(
            sa.select(PanelMember).where(
                PanelMember.engagement_id == engagement.id,
                PanelMember.conflict == Conflict.DECLARED,
            )
        ).all()
    )


def panel_frame(
    session: Session,
    engagement: Engagement,
    round_no: int | None = None,
    members: list[PanelMember] | None = None,
) -> pd.DataFrame:
    """Submitted, non-recused scores as a long frame (indicator_code, expert_id, raw_score).

    ``round_no=None`` gives each expert's effective score: round 2 where submitted, else
    round 1. ``members``: the seats if already loaded (``panel_members``).
    """
    rows = []
    for member in panel_members(session, engagement) if members is None else members:
        if member.recused:
            continue
        r1 = scores_of(member, 1) if member.submitted_round1_at else {}
        r2 = scores_of(member, 2) if member.submitted_round2_at else {}
        chosen = {1: r1, 2: r2}.get(round_no) if round_no else {**r1, **r2}
        for code, row in (chosen or {}).items():
            if row.score is not None:
                rows.append({INDICATOR: code, EXPERT: member.expert_id, SCORE: float(row.score)})
    return pd.DataFrame(rows, columns=[INDICATOR, EXPERT, SCORE])


def round1_summary(session: Session, engagement: Engagement) -> dict[str, dict[str, float]]:
    """Median and interquartile range of the submitted round-1 scores per indicator."""
    frame = panel_frame(session, engagement, round_no=1)
    out = {}
    for code, group in frame.groupby(INDICATOR):
        values = group[SCORE]
        out[str(code)] = {
            "median": float(values.median()),
            "q1": float(values.quantile(0.25)),
            "q3": float(values.quantile(0.75)),
            "n": len(values),
        }
    return out
