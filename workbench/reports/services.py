"""Findings, report builds, QA, review, consultation and issuing. Flush and audit only.

A build stores the .docx under ``instance/reports/`` (named by its SHA-256) with its QA
result. Review levels come from ``REPORT_REVIEW_LEVELS`` (default 项目负责人复核, 质控复核);
each level is signed by a team member with the right role. The 征求意见稿 goes to the client
and the evaluated unit, whose comments are recorded with a response; the 正式稿 is issued
only when no blocking QA check fails (warnings are shown, they block nothing), every level
has signed, and every comment has a response. An issued version never changes: re-issuing
builds a new version.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from jinja2 import TemplateError, UndefinedError
from sqlalchemy.orm import Session, selectinload

from workbench.accounts.models import Role, User
from workbench.audit.services import record
from workbench.core.numbers import clean_text
from workbench.core.reportqa import (
    DEFAULT_LOSS_THRESHOLD,
    PrintedReport,
    Problem,
    blocking,
    run_checks,
    run_printed_checks,
)
from workbench.core.safefiles import check_zip, clean_filename
from workbench.db import utcnow
from workbench.engagements import revision
from workbench.engagements import services as engagements
from workbench.engagements.models import Engagement, MemberRole
from workbench.reports.context import ReportContext, build_context, grade_of
from workbench.reports.models import (
    Finding,
    Recommendation,
    RectificationFile,
    RectificationItem,
    ReportComment,
    ReportReview,
    ReportTemplateFile,
    ReportVersion,
    WorkPhase,
)
from workbench.reports.printed import printed_report
from workbench.reports.render import TEMPLATES, bundled_path, render
from workbench.reports.sandbox import TemplateRefused
from workbench.scoring import services as scoring
from workbench.storage import store_bytes
from workbench.workpapers import services as workpapers

__all__ = ["blocking", "bundled_path"]

KINDS = ("experience", "problem", "other")
KIND_ZH = {"experience": "经验做法", "problem": "存在问题", "other": "其他"}
DEFAULT_LEVELS = ("项目负责人复核", "质控复核")
#: who may sign each default level (team role); admins may sign any level
LEVEL_ROLES = {0: MemberRole.LEAD, 1: MemberRole.REVIEWER}


class ReportError(ValueError):
    """A user-facing problem; ``code`` is translated by the web layer."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


# --- work phases (工作过程) --------------------------------------------------------------------

#: the phase kinds a team records (their printed names: workbench.core.reporting.PHASE_KINDS)
PHASE_KINDS = (
    "preparation",
    "fieldwork",
    "interview",
    "analysis",
    "exchange",
    "expert_review",
    "drafting",
)


def phases_of(session: Session, engagement: Engagement) -> list[WorkPhase]:
    """The engagement's recorded phases in date order."""
    return list(
        session.scalars(
            sa.select(WorkPhase)
            .where(WorkPhase.engagement_id == engagement.id)
            .order_by(WorkPhase.start, WorkPhase.end, WorkPhase.id)
        )
    )


def save_phase(
    session: Session,
    actor: User,
    engagement: Engagement,
    phase: WorkPhase | None,
    *,
    kind: str,
    start: dt.date | None,
    end: dt.date | None = None,
    place: str = "",
    participants: str = "",
    text: str = "",
) -> WorkPhase:
    """Add or change a recorded phase (audited; bumps the data revision)."""
    if kind not in PHASE_KINDS:
        raise ReportError("phase_kind")
    if start is None:
        raise ReportError("phase_start_required")
    if end is not None and end < start:
        raise ReportError("phase_end_before_start")
    before = None
    if phase is None:
        phase = WorkPhase(engagement_id=engagement.id)
        session.add(phase)
    else:
        before = {"kind": phase.kind, "start": phase.start.isoformat(), "place": phase.place}
    phase.kind, phase.start, phase.end = kind, start, end
    phase.place = clean_text(place).strip()[:200]
    phase.participants = clean_text(participants).strip()[:500]
    phase.text = clean_text(text).strip()
    session.flush()
    revision.bump(session, engagement.id)
    after = {"kind": kind, "start": start.isoformat(), "place": phase.place}
    record(
        session,
        actor,
        "phase.save",
        "work_phase",
        phase.id,
        engagement_id=engagement.id,
        changes={"phase": {"before": before, "after": after}},
        summary=f"{kind} {start.isoformat()}",
    )
    return phase


def delete_phase(session: Session, actor: User, phase: WorkPhase) -> None:
    """Delete a recorded phase (audited; bumps the data revision)."""
    record(
        session,
        actor,
        "phase.delete",
        "work_phase",
        phase.id,
        engagement_id=phase.engagement_id,
        changes={
            "phase": {
                "before": {"kind": phase.kind, "start": phase.start.isoformat()},
                "after": None,
            }
        },
        summary=f"{phase.kind} {phase.start.isoformat()}",
    )
    engagement_id = phase.engagement_id
    session.delete(phase)
    session.flush()
    revision.bump(session, engagement_id)


# --- findings ---------------------------------------------------------------------------------


def findings_of(session: Session, engagement: Engagement) -> list[Finding]:
    return list(
        session.scalars(
            sa.select(Finding)
            .where(Finding.engagement_id == engagement.id)
            .order_by(Finding.kind, Finding.position, Finding.id)
            .options(selectinload(Finding.recommendations))
        )
    )


def recommendations_of(session: Session, engagement: Engagement) -> list[Recommendation]:
    return list(
        session.scalars(
            sa.select(Recommendation)
            .where(Recommendation.engagement_id == engagement.id)
            .order_by(Recommendation.position, Recommendation.id)
        )
    )


def save_finding(
    session: Session,
    actor: User,
    engagement: Engagement,
    finding: Finding | None,
    *,
    kind: str,
    title: str,
    text: str,
    cause: str = "",
    indicator_codes: Sequence[str] = (),
    evidence: str = "",
) -> Finding:
    """Add or change an experience, problem or other matter."""
    if kind not in KINDS:
        raise ReportError("bad_kind")
    if not title.strip():
        raise ReportError("title_required")
    if kind == "problem" and not cause.strip():
        raise ReportError("cause_required")
    title, text, cause, evidence = (clean_text(x).strip() for x in (title, text, cause, evidence))
    codes = [clean_text(c).strip()[:40] for c in indicator_codes if c.strip()]
    known = _indicator_codes(session, engagement)
    unknown = [c for c in codes if known and c not in known]
    if unknown:
        raise ReportError("unknown_codes", "、".join(unknown))
    before = None
    if finding is None:
        finding = Finding(
            engagement_id=engagement.id, position=len(findings_of(session, engagement))
        )
        session.add(finding)
    else:
        before = finding.title
    finding.kind, finding.title, finding.text = kind, title[:200], text
    finding.cause, finding.evidence = cause, evidence
    finding.indicator_codes = codes
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "finding.save",
        "finding",
        finding.id,
        engagement_id=engagement.id,
        changes={"finding": {"before": before, "after": finding.title}},
        # the log is read in Chinese: the kind as the report names it, not its stored value
        summary=f"{KIND_ZH.get(kind, kind)}：{finding.title}",
    )
    return finding


def _indicator_codes(session: Session, engagement: Engagement) -> set[str]:
    """Codes of the engagement's indicator system (empty when there is none yet)."""
    system = scoring.system_of(session, engagement)
    if system is None:
        return set()
    template = scoring.template_of(system)
    codes: set[str] = set()

    def walk(nodes) -> None:  # type: ignore[no-untyped-def]
        for node in nodes:
            codes.add(node.code)
            walk(node.children)

    walk(template.indicators)
    return codes


def delete_finding(session: Session, actor: User, finding: Finding) -> None:
    record(
        session,
        actor,
        "finding.delete",
        "finding",
        finding.id,
        engagement_id=finding.engagement_id,
        changes={"finding": {"before": finding.title, "after": None}},
        summary=finding.title,
    )
    engagement_id = finding.engagement_id
    session.delete(finding)
    session.flush()
    revision.bump(session, engagement_id)


def save_recommendation(
    session: Session,
    actor: User,
    engagement: Engagement,
    recommendation: Recommendation | None,
    *,
    text: str,
    problem_ids: Sequence[int],
) -> Recommendation:
    """A recommendation answers at least one problem of the same engagement."""
    text = clean_text(text)
    if not text.strip():
        raise ReportError("text_required")
    problems = [
        f
        for f in findings_of(session, engagement)
        if f.kind == "problem" and f.id in set(problem_ids)
    ]
    if not problems:
        raise ReportError("problem_required")
    if recommendation is None:
        recommendation = Recommendation(
            engagement_id=engagement.id,
            text="",
            position=len(recommendations_of(session, engagement)),
        )
        session.add(recommendation)
    recommendation.text = text.strip()
    recommendation.problems = problems
    session.flush()
    revision.bump(session, engagement.id)
    record(
        session,
        actor,
        "recommendation.save",
        "recommendation",
        recommendation.id,
        engagement_id=engagement.id,
        changes={"text": {"before": None, "after": recommendation.text[:200]}},
        summary=recommendation.text[:200],
    )
    return recommendation


def delete_recommendation(session: Session, actor: User, recommendation: Recommendation) -> None:
    record(
        session,
        actor,
        "recommendation.delete",
        "recommendation",
        recommendation.id,
        engagement_id=recommendation.engagement_id,
        changes={"text": {"before": recommendation.text[:200], "after": None}},
    )
    engagement_id = recommendation.engagement_id
    session.delete(recommendation)
    session.flush()
    revision.bump(session, engagement_id)


# --- templates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateChoice:
    key: str  # bundled name or "file:<id>"
    label: str
    path: Path


def template_choices(
    session: Session, engagement: Engagement, folder: Path
) -> list[TemplateChoice]:
    """The bundled templates, then the firm's and the engagement's own.

    A firm-wide template counts only if an admin uploaded it (only admins may, see
    docs/permissions.md): one a team member uploaded firm-wide under an earlier version is
    offered nowhere, not even on the engagements of its uploader.
    """
    out = [TemplateChoice(k, str(v), bundled_path(k)) for k, v in TEMPLATES.items()]
    by_admin = sa.select(User.id).where(User.role == Role.ADMIN)
    owned = session.scalars(
        sa.select(ReportTemplateFile)
        .where(
            sa.or_(
                ReportTemplateFile.engagement_id == engagement.id,
                sa.and_(
                    ReportTemplateFile.engagement_id.is_(None),
                    ReportTemplateFile.organisation_id.in_(_firm_ids(session, engagement)),
                    ReportTemplateFile.uploaded_by_id.in_(by_admin),
                ),
            )
        )
        .order_by(ReportTemplateFile.id)
    )
    for t in owned:
        out.append(TemplateChoice(f"file:{t.id}", t.name, folder / t.stored_as))
    return out


def _firm_ids(session: Session, engagement: Engagement) -> list[int]:
    ids = {m.user.organisation_id for m in engagement.members if m.user.organisation_id}
    return sorted(i for i in ids if i is not None)


# --- builds ---------------------------------------------------------------------------------


def review_levels(config_value: str | None) -> list[str]:
    levels = [x.strip() for x in (config_value or "").split(",") if x.strip()]
    return levels or list(DEFAULT_LEVELS)


def qa(
    context: ReportContext,
    printed: PrintedReport | None = None,
    *,
    template: Path | None = None,
    threshold: Decimal = DEFAULT_LOSS_THRESHOLD,
) -> list[Problem]:
    """Every check: on the context's strings, and on the report as printed — ``printed`` (a
    build read back), else the context rendered into ``template`` (default: the bundled
    project report) without its charts, which print no text.

    ``threshold``: points a leaf may lose without a finding (``addressed``)."""
    problems = run_checks(context.values, list(context.tables.values()), grade_of)
    if printed is None:
        bare = ReportContext(values=context.values, tables=context.tables, charts={})
        try:
            printed = printed_report(render(bare, template or bundled_path("project")))
        except (TemplateRefused, TemplateError, ValueError, RecursionError) as exc:
            # the page must not fail: the build says the same, refusing to store the file
            detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            problems.append(Problem("render", f"报告无法生成：{detail}", "", (("detail", detail),)))
            return problems
    codes = context.values.get("indicator_codes") or {}
    problems += run_printed_checks(printed, codes, threshold)
    return problems


def qa_template(engagement: Engagement) -> Path:
    """The bundled template the live checks read: the report of the engagement's kind."""
    return bundled_path("department" if engagement.kind.value == "department" else "project")


VOLATILE = ("draft_mark", "report_no", "report_date", "report_date_en")


def content_hash(context: ReportContext) -> str:
    """What the report says, without its draft mark, number and date."""
    import json

    values = {k: v for k, v in context.values.items() if k not in VOLATILE}
    if isinstance(values.get("en"), dict):
        values["en"] = {
            k: v for k, v in values["en"].items() if k not in ("draft_mark", "report_no")
        }
    tables = {k: [t.headers, t.rows] for k, t in sorted(context.tables.items())}
    text = json.dumps([values, tables], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def build(
    session: Session,
    actor: User | None,
    engagement: Engagement,
    template: TemplateChoice,
    folder: Path,
    *,
    report_no: str = "",
    draft: bool = True,
    threshold: Decimal = DEFAULT_LOSS_THRESHOLD,
    pdf: Callable[[bytes], bytes] | None = None,
) -> ReportVersion:
    """Build a new version of the report and store it with its QA result (the checks over
    the printed report read the built file back; ``threshold``: see :func:`qa`).

    ``pdf``: a converter (:func:`to_pdf`); its PDF is stored and hashed with the version. It
    runs before anything is written, so no write lock is held while LibreOffice works."""
    context = build_context(session, engagement, report_no=report_no, draft=draft)
    try:
        data = render(context, template.path)
    except (TemplateRefused, UndefinedError) as exc:  # a stored template, refused by the sandbox
        raise ReportError("template_refused", str(exc)[:200]) from exc
    except (TemplateError, ValueError, RecursionError) as exc:
        # a stored template that no longer fits the data: python-docx refuses a core property
        # past 255 characters once a variable in it grew, a tag nested too deeply …
        raise ReportError("template_refused", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    problems = qa(context, printed_report(data), threshold=threshold)  # what the reader sees
    pdf_data = pdf(data) if pdf is not None else None
    digest = hashlib.sha256(data).hexdigest()
    store_bytes(folder / f"{digest}.docx", data, sha256=digest)  # whole or not at all
    pdf_digest = hashlib.sha256(pdf_data).hexdigest() if pdf_data is not None else None
    if pdf_data is not None:
        store_bytes(folder / f"{pdf_digest}.pdf", pdf_data, sha256=pdf_digest)
    number = 1 + (
        session.scalar(
            sa.select(sa.func.max(ReportVersion.number)).where(
                ReportVersion.engagement_id == engagement.id
            )
        )
        or 0
    )
    version = ReportVersion(
        engagement_id=engagement.id,
        number=number,
        template=template.key,
        status="draft",
        stored_as=f"{digest}.docx",
        sha256=digest,
        size=len(data),
        pdf_stored_as=f"{pdf_digest}.pdf" if pdf_digest else None,
        pdf_sha256=pdf_digest,
        qa=[
            {
                "check": p.check,
                "message": p.message,
                "fix": p.fix,
                "params": list(p.params),
                "severity": p.severity,
            }
            for p in problems
        ],
        total=context.values.get("total"),
        grade=context.values.get("grade"),
        content_hash=content_hash(context),
        dimensions=[
            {"name": d["name"], "weight": d["weight"], "score": d["score"]}
            for d in context.values.get("dimensions", [])
        ],
        created_by_id=actor.id if actor else None,
    )
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        "report.build",
        "report",
        version.id,
        engagement_id=engagement.id,
        changes={
            "version": {"before": None, "after": number},
            "qa": {"before": None, "after": len(problems)},
        },
        summary=f"v{number} {template.label}: {version.total} {version.grade}",
    )
    return version


def file_of(version: ReportVersion, folder: Path) -> bytes:
    data = (folder / version.stored_as).read_bytes()
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise ReportError("tampered")
    return data


def pdf_of(
    session: Session,
    version: ReportVersion,
    folder: Path,
    convert: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """The PDF of ``version``: an issued version's stored PDF (checked against its SHA-256),
    made and stored now if it was issued without one (LibreOffice missing then, or issued
    before PDFs were kept), so every download is the same file; a draft's converted afresh."""
    convert = convert or to_pdf
    if version.status != "issued":
        return convert(file_of(version, folder))
    if version.pdf_stored_as:
        data = (folder / version.pdf_stored_as).read_bytes()
        if hashlib.sha256(data).hexdigest() != version.pdf_sha256:
            raise ReportError("tampered")
        return data
    data = convert(file_of(version, folder))
    digest = hashlib.sha256(data).hexdigest()
    store_bytes(folder / f"{digest}.pdf", data, sha256=digest)
    version.pdf_stored_as, version.pdf_sha256 = f"{digest}.pdf", digest
    session.flush()
    return data


def _team_role(engagement: Engagement, user: User) -> MemberRole | None:
    return engagement.member_role(user)


def submit_for_review(session: Session, actor: User, version: ReportVersion) -> None:
    """A draft whose QA passes goes to the first review level."""
    if version.status != "draft":
        raise ReportError("not_draft")
    if blocking(version.qa):  # warnings are for the reviewers to weigh
        raise ReportError("qa_failed")
    version.status = "review"
    session.flush()
    record(
        session,
        actor,
        "report.submit",
        "report",
        version.id,
        engagement_id=version.engagement_id,
        changes={"status": {"before": "draft", "after": "review"}},
        summary=f"v{version.number}",
    )


def next_level(version: ReportVersion, levels: Sequence[str]) -> int | None:
    """Index of the level waiting for a sign-off (None when all have signed)."""
    approved = [r.level for r in version.reviews if r.decision == "approve"]
    for i in range(len(levels)):
        if i not in approved:
            return i
    return None


def may_sign(engagement: Engagement, user: User, level: int) -> bool:
    if user.role is Role.ADMIN:
        return True
    role = _team_role(engagement, user)
    wanted = LEVEL_ROLES.get(level, MemberRole.REVIEWER)
    return role is wanted


def sign(
    session: Session,
    actor: User,
    engagement: Engagement,
    version: ReportVersion,
    levels: Sequence[str],
    *,
    approve: bool,
    comment: str,
) -> None:
    """Sign off (or reject) the level that is waiting. A rejection returns it to draft."""
    comment = clean_text(comment)  # NUL reaches the audit summary too (PostgreSQL refuses it)
    if version.status != "review":
        raise ReportError("not_in_review")
    level = next_level(version, levels)
    if level is None:
        raise ReportError("all_signed")
    if not may_sign(engagement, actor, level):
        # name the role that signs this level (the reviewer refused at 项目负责人复核 must read
        # that the lead signs it, not a vague "another member")
        wanted = LEVEL_ROLES.get(level, MemberRole.REVIEWER)
        raise ReportError(
            "lead_signs" if wanted is MemberRole.LEAD else "reviewer_signs", levels[level]
        )
    if not approve and not comment.strip():
        raise ReportError("comment_required")
    session.add(
        ReportReview(
            version_id=version.id,
            level=level,
            level_name=levels[level],
            user_id=actor.id,
            reviewer=actor.display_name,
            decision="approve" if approve else "reject",
            comment=comment.strip(),
        )
    )
    if not approve:
        version.status = "withdrawn"  # a new build answers the rejection
    try:
        session.flush()
    except sa.exc.IntegrityError:
        # the unique index on (version, level): someone signed this level at the same moment
        raise ReportError("already_signed", levels[level]) from None
    session.refresh(version)
    record(
        session,
        actor,
        "report.review",
        "report",
        version.id,
        engagement_id=engagement.id,
        changes={"decision": {"before": None, "after": "approve" if approve else "reject"}},
        summary=f"v{version.number} {levels[level]}: {comment.strip()[:200]}",
    )


def send_for_comments(
    session: Session,
    actor: User,
    version: ReportVersion,
    levels: Sequence[str],
    *,
    template: TemplateChoice | None = None,
    folder: Path | None = None,
) -> None:
    """After every level has signed, the 征求意见稿 goes to the client and evaluated unit.

    With ``template`` and ``folder`` (the pages always give them) the file is built again
    with a header naming who signed at which level, in place of the draft's "未经复核签发";
    what it says must be what was signed (else ``changed_since_review``)."""
    if version.status != "review" or next_level(version, levels) is not None:
        raise ReportError("not_signed")
    before = version.sha256
    if template is not None and folder is not None:
        _sign_header(session, version, template, folder)
    version.status = "consultation"
    session.flush()
    changes = {"status": {"before": "review", "after": "consultation"}}
    if version.sha256 != before:
        changes["sha256"] = {"before": before, "after": version.sha256}
    record(
        session,
        actor,
        "report.consult",
        "report",
        version.id,
        engagement_id=version.engagement_id,
        changes=changes,
        summary=f"v{version.number}",
    )


def _sign_header(
    session: Session, version: ReportVersion, template: TemplateChoice, folder: Path
) -> None:
    """Re-render the signed draft with its sign-offs in the header (the text is unchanged:
    the draft mark is left out of the content hash)."""
    engagement = session.get(Engagement, version.engagement_id)
    assert engagement is not None
    signed = sorted((r for r in version.reviews if r.decision == "approve"), key=lambda r: r.level)
    context = build_context(
        session,
        engagement,
        draft=True,
        signoffs=tuple((r.level_name, r.reviewer, r.at) for r in signed),
    )
    if content_hash(context) != version.content_hash:
        raise ReportError("changed_since_review")
    try:
        data = render(context, template.path)
    except (TemplateError, ValueError, RecursionError) as exc:
        raise ReportError("template_refused", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    digest = hashlib.sha256(data).hexdigest()
    store_bytes(folder / f"{digest}.docx", data, sha256=digest)
    version.stored_as, version.sha256, version.size = f"{digest}.docx", digest, len(data)


#: the longest comment on the 征求意见稿 and the longest response (characters); the boxes say
#: so before anything is typed, and the services refuse a longer text (nothing is cut)
COMMENT_MAX = 2000


def _check_length(text: str) -> None:
    if len(text) > COMMENT_MAX:
        raise ReportError("comment_too_long", str(COMMENT_MAX))


def add_comment(
    session: Session, actor: User, version: ReportVersion, *, party: str, author: str, text: str
) -> ReportComment:
    if version.status != "consultation":
        raise ReportError("not_consultation")
    text = clean_text(text)  # NUL reaches the audit summary too (PostgreSQL refuses it)
    if party not in ("client", "unit") or not text.strip():
        raise ReportError("comment_text_required")
    _check_length(text.strip())
    comment = ReportComment(
        version_id=version.id,
        party=party,
        author=clean_text(author).strip()[:120],
        text=text.strip(),
    )
    session.add(comment)
    session.flush()
    record(
        session,
        actor,
        "report.comment",
        "report",
        version.id,
        engagement_id=version.engagement_id,
        changes={"party": {"before": None, "after": party}},
        summary=text.strip()[:200],
    )
    return comment


def respond(session: Session, actor: User, comment: ReportComment, response: str) -> None:
    response = clean_text(response)  # NUL reaches the audit entry too (PostgreSQL refuses it)
    if not response.strip():
        raise ReportError("response_required")
    _check_length(response.strip())
    comment.response = response.strip()
    comment.responded_by_id = actor.id
    session.flush()
    record(
        session,
        actor,
        "report.respond",
        "report",
        comment.version_id,
        engagement_id=comment.version.engagement_id,
        changes={"response": {"before": None, "after": response.strip()[:200]}},
    )


def issue(
    session: Session,
    actor: User,
    engagement: Engagement,
    version: ReportVersion,
    template: TemplateChoice,
    folder: Path,
    levels: Sequence[str],
    *,
    report_no: str,
    when: dt.date | None = None,
    threshold: Decimal = DEFAULT_LOSS_THRESHOLD,
    pdf: Callable[[bytes], bytes] | None = None,
) -> ReportVersion:
    """Issue the 正式稿: a new, immutable version built without the draft mark, carrying the
    report number, date and SHA-256. Needs no blocking QA problem (warnings are allowed),
    every sign-off and every comment answered. ``pdf`` (:func:`to_pdf`): its PDF is made
    now, stored and hashed like the Word file (a failed conversion refuses the issue)."""
    if actor.role is not Role.ADMIN and _team_role(engagement, actor) not in (
        MemberRole.REVIEWER,
        MemberRole.LEAD,
    ):
        raise ReportError("not_allowed")
    if version.status != "consultation":
        raise ReportError("not_consultation")
    if any(not c.response for c in version.comments):
        raise ReportError("unanswered")
    # cut to the column first, so that the uniqueness check sees the number that is stored
    report_no = clean_text(report_no).strip()[:100].strip()
    if not report_no:
        raise ReportError("report_no_required")
    if session.scalar(sa.select(ReportVersion.id).where(ReportVersion.report_no == report_no)):
        raise ReportError("report_no_used", report_no)
    final = build(
        session,
        actor,
        engagement,
        template,
        folder,
        report_no=report_no,
        draft=False,
        threshold=threshold,
        pdf=pdf,
    )
    if blocking(final.qa):
        raise ReportError("qa_failed")
    if final.content_hash != version.content_hash:
        # findings, scores or data changed after the sign-offs: they signed another text
        raise ReportError("changed_since_review")
    # claim the signed version with a conditional update: of two simultaneous issues of it
    # exactly one goes on (PostgreSQL: the row lock makes the other wait, then match nothing;
    # SQLite: the write lock, taken when the new version was inserted, does the same)
    versions = ReportVersion.__table__
    claimed = session.execute(
        sa.update(versions)
        .where(versions.c.id == version.id, versions.c.status == "consultation")
        .values(status="superseded")
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ReportError("already_issued")
    version.status = "superseded"  # as stored
    final.status = "issued"
    final.report_no = report_no[:100]
    final.issued_at = utcnow()
    final.issued_by_id = actor.id
    for other in session.scalars(
        sa.select(ReportVersion).where(
            ReportVersion.engagement_id == engagement.id,
            ReportVersion.id != final.id,
            ReportVersion.status.in_(("draft", "review", "consultation")),
        )
    ):
        other.status = "superseded"  # one issued text; open drafts end with it
    for c in version.comments:  # the consultation record travels with the issued text
        session.add(_copy(c, version_id=final.id))
    _open_rectification(session, engagement, final)
    for r in version.reviews:  # the sign-offs stand for the issued text
        session.add(_copy(r, version_id=final.id))
    session.flush()
    record(
        session,
        actor,
        "report.issue",
        "report",
        final.id,
        engagement_id=engagement.id,
        changes={
            "status": {"before": "consultation", "after": "issued"},
            "report_no": {"before": None, "after": final.report_no},
            "sha256": {"before": None, "after": final.sha256},
            "pdf_sha256": {"before": None, "after": final.pdf_sha256},
        },
        summary=f"v{final.number} {final.report_no}",
    )
    # the engagement is 已出具 from this moment, in the same transaction (never 立项 or 复核
    # next to an issued report)
    engagements.mark_issued(
        session, actor, engagement, note=f"报告出具：v{final.number} {final.report_no}"
    )
    return final


def _copy(row, **changes):  # type: ignore[no-untyped-def]
    """A new row with ``row``'s column values (not its id), ``changes`` applied."""
    columns = {c.key: getattr(row, c.key) for c in sa.inspect(row).mapper.column_attrs}
    columns.pop("id", None)
    return type(row)(**{**columns, **changes})


# --- rectification (整改) -----------------------------------------------------------------------


RECTIFICATION_STATUSES = ("open", "progress", "done")


def _open_rectification(session: Session, engagement: Engagement, issued: ReportVersion) -> None:
    """Every problem of the issued report becomes an item to follow up."""
    recs = recommendations_of(session, engagement)
    problems = [f for f in findings_of(session, engagement) if f.kind == "problem"]
    problems.sort(key=lambda f: (f.position, f.id))
    for number, problem in enumerate(problems, start=1):
        answers = [r.text for r in recs if problem in r.problems]
        session.add(
            RectificationItem(
                engagement_id=engagement.id,
                version_id=issued.id,
                number=number,
                title=problem.title,
                recommendation="；".join(answers),
            )
        )


def rectification_items(session: Session, engagement: Engagement) -> list[RectificationItem]:
    return list(
        session.scalars(
            sa.select(RectificationItem)
            .where(RectificationItem.engagement_id == engagement.id)
            .order_by(RectificationItem.version_id.desc(), RectificationItem.number)
        )
    )


def update_rectification(
    session: Session,
    actor: User,
    item: RectificationItem,
    *,
    owner: str,
    deadline: dt.date | None,
    status: str,
    note: str,
) -> None:
    if status not in RECTIFICATION_STATUSES:
        raise ReportError("report_bad_status")
    _check_length(clean_text(note).strip())
    before = item.status
    item.owner = clean_text(owner).strip()[:120]
    item.deadline = deadline
    item.status = status
    item.note = clean_text(note).strip()
    session.flush()
    record(
        session,
        actor,
        "rectification.update",
        "rectification",
        item.id,
        engagement_id=item.engagement_id,
        changes={"status": {"before": before, "after": status}},
        summary=f"{item.number}. {item.title}",
    )


def attach_rectification(
    session: Session,
    actor: User,
    item: RectificationItem,
    folder: Path,
    data: bytes,
    filename: str,
) -> RectificationFile:
    """Attach a file to a rectification item: its size is checked first, then its content
    (a zip container by :func:`workbench.core.safefiles.check_zip` before anything opens it),
    and it is stored under its SHA-256, whole or not at all, before the row is written."""
    if not data:
        raise ReportError("workpaper_empty")
    if len(data) > workpapers.MAX_EVIDENCE:
        raise ReportError("workpaper_too_large")
    if data.startswith(b"PK"):
        check_zip(data)  # bounded work before the type sniffing opens the archive
    kind = workpapers.sniff(data)
    if kind is None:
        raise ReportError("workpaper_bad_type", clean_filename(filename, default="upload"))
    name = clean_filename(filename, default=f"attachment{workpapers.EXTENSIONS[kind][0]}")
    if not name.lower().endswith(workpapers.EXTENSIONS[kind]):
        raise ReportError("workpaper_type_mismatch", name)
    digest = hashlib.sha256(data).hexdigest()
    store_bytes(folder / digest, data, sha256=digest)  # the name is never part of the path
    attached = RectificationFile(
        item_id=item.id,
        engagement_id=item.engagement_id,
        filename=name[:200],
        kind=kind,
        sha256=digest,
        size=len(data),
        uploaded_by_id=actor.id,
    )
    session.add(attached)
    session.flush()
    record(
        session,
        actor,
        "rectification.attach",
        "rectification",
        item.id,
        engagement_id=item.engagement_id,
        changes={"sha256": {"before": None, "after": digest}},
        summary=f"{item.number}. {name}"[:200],
    )
    return attached


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_today(zone: str = "Asia/Shanghai") -> dt.date:
    """Today as people in the bureau read it (Beijing): from 00:00 to 08:00 there the UTC
    date is still yesterday, and a deadline of yesterday is already past."""
    from zoneinfo import ZoneInfo

    return _now().astimezone(ZoneInfo(zone)).date()


def overdue(item: RectificationItem, today: dt.date) -> bool:
    return item.status != "done" and item.deadline is not None and item.deadline < today


# --- PDF --------------------------------------------------------------------------------------


def versions_in(
    session: Session, engagement: Engagement, statuses: tuple[str, ...]
) -> list[ReportVersion]:
    """The engagement's report versions in ``statuses``, newest first (the engagement page)."""
    return list(
        session.scalars(
            sa.select(ReportVersion)
            .where(ReportVersion.engagement_id == engagement.id, ReportVersion.status.in_(statuses))
            .order_by(ReportVersion.number.desc())
        ).all()
    )


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


#: the UNO script that updates the contents page and the fields before the PDF export
UNO_SCRIPT = Path(__file__).with_name("lo_pdf.py")


@functools.cache
def uno_python() -> str | None:
    """A Python with LibreOffice's UNO bridge (Debian ``python3-uno``), or None."""
    for candidate in ("/usr/bin/python3", "/usr/lib/libreoffice/program/python"):
        if not Path(candidate).exists():
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "import uno"], capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return candidate
    return None


def to_pdf(docx: bytes, timeout: int = 120) -> bytes:
    """Convert with LibreOffice in its own profile (parallel runs would otherwise collide).

    With the UNO bridge the contents page and the fields are updated first (a plain
    ``--convert-to`` prints the TOC field empty); without it, the plain conversion."""
    binary = soffice()
    if binary is None:
        raise ReportError("no_soffice")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "report.docx"
        source.write_bytes(docx)
        pdf = Path(tmp) / "report.pdf"
        python = uno_python()
        if python is not None:
            command = [python, str(UNO_SCRIPT), binary, f"{tmp}/profile", str(source), str(pdf)]
        else:
            command = [
                binary,
                f"-env:UserInstallation=file://{tmp}/profile",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                tmp,
                str(source),
            ]
        # its own process group: on a timeout LibreOffice goes too, not only the script
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        try:
            _out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise ReportError("pdf_failed", f"LibreOffice: timeout {timeout}s") from None
        if process.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
            reason = err.decode("utf-8", "replace").strip()[-200:] or f"exit {process.returncode}"
            raise ReportError("pdf_failed", reason)
        return pdf.read_bytes()
