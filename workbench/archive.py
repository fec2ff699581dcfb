"""The archive package (归档包) of an archived engagement, and its verification.

A ZIP with the issued reports, the score table, the expert scores, each survey's raw and
cleaned data, the audit log, and ``manifest.json`` listing every file with its SHA-256 and
size, the engagement, the archiving date and the end of the retention period. No Flask: the
CLI verifies a package anywhere (``flask archive verify PATH``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.models import AuditEntry
from workbench.audit.services import record
from workbench.engagements.models import Engagement
from workbench.xlsx import table_bytes

MANIFEST = "manifest.json"


def package_path(folder: Path, engagement: Engagement) -> Path:
    return folder / f"engagement-{engagement.id}.zip"


def retention_until(archived_on: dt.date, years: int) -> dt.date:
    """The last day the archive must be kept (29 February moves to 28 February)."""
    try:
        return archived_on.replace(year=archived_on.year + years)
    except ValueError:
        return archived_on.replace(year=archived_on.year + years, day=28)


def _safe(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("_")[:80] or "file"


def _files(session: Session, engagement: Engagement, reports_folder: Path) -> dict[str, bytes]:
    from workbench.experts import services as panel
    from workbench.reports.models import ReportVersion
    from workbench.scoring import services as scoring
    from workbench.scoring.spreadsheet import scores_workbook
    from workbench.surveys import services as surveys
    from workbench.surveys.models import Survey

    files: dict[str, bytes] = {}
    issued = session.scalars(
        sa.select(ReportVersion).where(
            ReportVersion.engagement_id == engagement.id, ReportVersion.status == "issued"
        )
    )
    for v in issued:
        path = reports_folder / v.stored_as
        if path.exists():
            files[f"reports/v{v.number}-{_safe(v.report_no or '')}.docx"] = path.read_bytes()
    computed = scoring.compute(session, engagement)
    if computed is not None:
        files["scores/指标体系评分表.xlsx"] = scores_workbook(engagement, computed)
    frame = panel.panel_frame(session, engagement)
    if not frame.empty:
        names = {m.expert_id: m.expert.name for m in panel.panel_members(session, engagement)}
        rows = [
            [r.indicator_code, names.get(r.expert_id, str(r.expert_id)), r.raw_score]
            for r in frame.itertuples()
        ]
        files["experts/专家评分.xlsx"] = table_bytes("专家评分", ["指标", "专家", "评分"], rows)
    for s in session.scalars(sa.select(Survey).where(Survey.engagement_id == engagement.id)):
        for cleaned, label in ((False, "原始数据"), (True, "有效数据")):
            headers, rows = surveys.raw_table(s, cleaned=cleaned)
            files[f"surveys/{s.id}-{_safe(s.title)}-{label}.xlsx"] = table_bytes(
                label, headers, rows
            )
    from workbench.workpapers.models import EvidenceFile

    evidence_folder = reports_folder.parent / "evidence"
    for e in session.scalars(
        sa.select(EvidenceFile).where(EvidenceFile.engagement_id == engagement.id)
    ):
        path = evidence_folder / e.sha256
        if path.exists():
            files[f"evidence/{e.indicator_code or '_'}/v{e.version}-{_safe(e.filename)}"] = (
                path.read_bytes()
            )
    entries = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.engagement_id == engagement.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    files["audit/审计日志.xlsx"] = table_bytes(
        "审计日志",
        ["时间(UTC)", "操作人", "操作", "对象", "变更", "说明"],
        [
            [
                e.at.replace(tzinfo=None) if e.at else None,
                e.actor,
                e.action,
                f"{e.object_type} {e.object_id or ''}",
                json.dumps(e.changes, ensure_ascii=False, default=str)[:30000],
                e.summary or "",
            ]
            for e in entries
        ],
    )
    return files


def build_package(
    session: Session,
    actor: User | None,
    engagement: Engagement,
    folder: Path,
    reports_folder: Path,
    *,
    retention_years: int = 10,
    today: dt.date | None = None,
) -> Path:
    """Write the package of ``engagement`` (replacing an earlier one) and audit its SHA-256."""
    today = today or dt.datetime.now(dt.UTC).date()
    files = _files(session, engagement, reports_folder)
    manifest = {
        "engagement": {"id": engagement.id, "title": engagement.title},
        "archived_on": today.isoformat(),
        "retention_years": retention_years,
        "retain_until": retention_until(today, retention_years).isoformat(),
        "files": [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = package_path(folder, engagement)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    path.write_bytes(buffer.getvalue())
    record(
        session,
        actor,
        "engagement.archive_package",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes={
            "sha256": {"before": None, "after": hashlib.sha256(buffer.getvalue()).hexdigest()},
            "files": {"before": None, "after": len(files)},
        },
        summary=f"retain until {manifest['retain_until']}",
    )
    return path


def verify(path: Path) -> list[str]:
    """Problems found when checking a package against its manifest (empty: intact)."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"not a readable ZIP file: {exc}"]
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (KeyError, ValueError) as exc:
            return [f"no readable {MANIFEST}: {exc}"]
        problems = []
        listed = {f["path"] for f in manifest.get("files", [])}
        for item in manifest.get("files", []):
            try:
                data = archive.read(item["path"])
            except KeyError:
                problems.append(f"missing: {item['path']}")
                continue
            if hashlib.sha256(data).hexdigest() != item["sha256"]:
                problems.append(f"changed: {item['path']}")
        for name in archive.namelist():
            if name != MANIFEST and name not in listed:
                problems.append(f"not in the manifest: {name}")
    return problems
