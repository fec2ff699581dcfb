"""Working papers: request list, evidence files (type by content, SHA-256, versions), notes.
Flush and audit only; files live under ``instance/evidence/<sha256>``."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.numbers import clean_text
from workbench.core.safefiles import clean_filename, load_yaml
from workbench.db import utcnow
from workbench.engagements.access import MAX_ID
from workbench.engagements.models import Engagement
from workbench.storage import StorageError, store_bytes
from workbench.workpapers.models import EvidenceFile, RequestItem, WorkingPaper

LIBRARY = Path(__file__).resolve().parents[2] / "scoring_templates" / "requests"
MAX_EVIDENCE = 20 * 1024 * 1024
EXTENSIONS = {
    "pdf": (".pdf",),
    "docx": (".docx",),
    "xlsx": (".xlsx",),
    "png": (".png",),
    "jpeg": (".jpg", ".jpeg"),
}


class WorkpaperError(ValueError):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


def sniff(data: bytes) -> str | None:
    """The file type from its content (not its name): pdf, docx, xlsx, png, jpeg, or None.

    >>> sniff(b"%PDF-1.7 ..."), sniff(b"\\x89PNG\\r\\n\\x1a\\n..."), sniff(b"MZ...")
    ('pdf', 'png', None)
    """
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            if any(n.startswith("word/") for n in names):
                return "docx"
            if any(n.startswith("xl/") for n in names):
                return "xlsx"
    return None


def request_list(session: Session, engagement: Engagement) -> list[RequestItem]:
    return list(
        session.scalars(
            sa.select(RequestItem)
            .where(RequestItem.engagement_id == engagement.id)
            .order_by(RequestItem.position, RequestItem.id)
        )
    )


def load_standard_list(session: Session, actor: User, engagement: Engagement, name: str) -> int:
    """Add the items of a reusable list (``scoring_templates/requests/<name>.yaml``)."""
    path = LIBRARY / f"{name}.yaml"
    if not path.is_file() or path.parent != LIBRARY:
        raise WorkpaperError("workpaper_no_list")
    data = load_yaml(path.read_bytes())
    start = len(request_list(session, engagement))
    items = data.get("items", [])
    for k, item in enumerate(items):
        session.add(
            RequestItem(
                engagement_id=engagement.id,
                position=start + k,
                title=str(item["title"])[:300],
                indicator_codes=[str(c) for c in item.get("indicators", [])],
            )
        )
    session.flush()
    record(
        session,
        actor,
        "workpapers.request_list",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes={"items": {"before": start, "after": start + len(items)}},
        summary=data.get("title", name),
    )
    return len(items)


def add_request(
    session: Session, actor: User, engagement: Engagement, title: str, codes: Sequence[str]
) -> RequestItem:
    title = clean_text(title).strip()
    if not title:
        raise WorkpaperError("workpaper_title_required")
    item = RequestItem(
        engagement_id=engagement.id,
        position=len(request_list(session, engagement)),
        title=title[:300],
        indicator_codes=[clean_text(c).strip()[:40] for c in codes if c.strip()],
    )
    session.add(item)
    session.flush()
    record(
        session, actor, "workpapers.request", "request_item", item.id,
        engagement_id=engagement.id, changes={"title": {"before": None, "after": item.title}},
    )  # fmt: skip
    return item


def set_received(
    session: Session, actor: User, item: RequestItem, received: bool, note: str = ""
) -> None:
    before = item.received
    item.received, item.note = received, clean_text(note).strip()[:500]
    session.flush()
    record(
        session, actor, "workpapers.received", "request_item", item.id,
        engagement_id=item.engagement_id,
        changes={"received": {"before": before, "after": received}}, summary=item.title,
    )  # fmt: skip


def evidence_of(session: Session, engagement: Engagement) -> list[EvidenceFile]:
    return list(
        session.scalars(
            sa.select(EvidenceFile)
            .where(EvidenceFile.engagement_id == engagement.id)
            .order_by(EvidenceFile.filename, EvidenceFile.version)
        )
    )


MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "jpeg": "image/jpeg",
}


def set_shared(session: Session, actor: User, evidence: EvidenceFile, shared: bool) -> None:
    """Share a document with the expert panel (the experts may download it from their sheet)
    or stop sharing it. Audited."""
    if evidence.shared_with_panel == shared:
        return
    evidence.shared_with_panel = shared
    session.flush()  # no revision bump: no score reads it (as for the evidence itself)
    record(
        session, actor, "workpapers.share", "evidence", evidence.id,
        engagement_id=evidence.engagement_id,
        changes={"shared_with_panel": {"before": not shared, "after": shared}},
        summary=f"{evidence.filename} v{evidence.version}",
    )  # fmt: skip


def shared_documents(session: Session, engagement: Engagement) -> list[EvidenceFile]:
    """The documents the team shared with the engagement's expert panel."""
    return [e for e in evidence_of(session, engagement) if e.shared_with_panel]


def shared_download(
    session: Session, engagement: Engagement, evidence_id: int, folder: Path
) -> tuple[str, str, bytes] | None:
    """(file name, MIME type, content) of a document shared with ``engagement``'s panel;
    None for any other id (another engagement's, or not shared)."""
    if not 0 < evidence_id <= MAX_ID:  # a huge id overflows the driver
        return None
    evidence = session.get(EvidenceFile, evidence_id)
    if (
        evidence is None
        or evidence.engagement_id != engagement.id
        or not evidence.shared_with_panel
    ):
        return None
    return evidence.filename, MIME[evidence.kind], (folder / evidence.sha256).read_bytes()


def upload_evidence(
    session: Session,
    actor: User,
    engagement: Engagement,
    folder: Path,
    data: bytes,
    filename: str,
    *,
    indicator_code: str | None = None,
    request_item: RequestItem | None = None,
) -> EvidenceFile:
    """Store a file whose content is a PDF, Word, Excel or image file; the same name again
    is the next version (the earlier ones are kept)."""
    if not data:
        raise WorkpaperError("workpaper_empty")
    if len(data) > MAX_EVIDENCE:
        raise WorkpaperError("workpaper_too_large")
    kind = sniff(data)
    if kind is None:
        raise WorkpaperError("workpaper_bad_type", filename)
    name = clean_filename(filename, default=f"evidence.{kind}")
    if not name.lower().endswith(EXTENSIONS[kind]):
        raise WorkpaperError("workpaper_type_mismatch", name)
    digest = hashlib.sha256(data).hexdigest()
    try:
        store_bytes(folder / digest, data, sha256=digest)  # whole or not at all, before the row
    except StorageError as exc:
        raise WorkpaperError("workpaper_storage", str(exc)) from exc
    previous = session.scalar(
        sa.select(sa.func.max(EvidenceFile.version)).where(
            EvidenceFile.engagement_id == engagement.id, EvidenceFile.filename == name
        )
    )
    evidence = EvidenceFile(
        engagement_id=engagement.id,
        indicator_code=(clean_text(indicator_code).strip()[:40] or None)
        if indicator_code
        else None,
        request_item_id=request_item.id if request_item else None,
        filename=name,
        kind=kind,
        version=(previous or 0) + 1,
        sha256=digest,
        size=len(data),
        uploaded_by_id=actor.id,
    )
    session.add(evidence)
    if request_item is not None:
        request_item.received = True
    session.flush()
    record(
        session, actor, "workpapers.evidence", "evidence", evidence.id,
        engagement_id=engagement.id,
        changes={"sha256": {"before": None, "after": digest}},
        summary=f"{name} v{evidence.version}",
    )  # fmt: skip
    return evidence


def paper_of(session: Session, engagement: Engagement, code: str) -> WorkingPaper | None:
    return session.scalar(
        sa.select(WorkingPaper).where(
            WorkingPaper.engagement_id == engagement.id, WorkingPaper.indicator_code == code
        )
    )


def save_paper(
    session: Session,
    actor: User,
    engagement: Engagement,
    code: str,
    *,
    checked_object: str,
    data_source: str,
    problems: str,
    scoring_note: str,
) -> WorkingPaper:
    """Write the working paper of an indicator; a change sends it back to draft."""
    paper = paper_of(session, engagement, code)
    if paper is None:
        paper = WorkingPaper(engagement_id=engagement.id, indicator_code=code)
        session.add(paper)
    paper.checked_object = clean_text(checked_object).strip()
    paper.data_source = clean_text(data_source).strip()
    paper.problems = clean_text(problems).strip()
    paper.scoring_note = clean_text(scoring_note).strip()
    paper.status, paper.reviewed_by, paper.reviewed_at = "draft", "", None
    session.flush()
    record(
        session, actor, "workpapers.paper", "working_paper", paper.id,
        engagement_id=engagement.id, changes={"status": {"before": None, "after": "draft"}},
        summary=code,
    )  # fmt: skip
    return paper


def review_paper(session: Session, actor: User, paper: WorkingPaper) -> None:
    """The 复核人 (or an admin) marks a working paper reviewed."""
    paper.status, paper.reviewed_by, paper.reviewed_at = "reviewed", actor.display_name, utcnow()
    session.flush()
    record(
        session, actor, "workpapers.review", "working_paper", paper.id,
        engagement_id=paper.engagement_id,
        changes={"status": {"before": "draft", "after": "reviewed"}}, summary=paper.indicator_code,
    )  # fmt: skip
