"""The archive package (归档包) of an archived engagement, and its verification.

A ZIP with the issued reports, the score table, the expert scores, each survey's raw and
cleaned data, every evidence file, the audit log, and ``manifest.json`` listing every file
with its SHA-256, size and origin (the database id and the original name), the engagement, the
archiving date and the end of the retention period.

* Entry names never come from user text as such: :func:`entry_name` joins components that
  :func:`safe_part` reduced to one safe path component, and every evidence or report entry
  starts with its database id, so two files never share an entry (``资料 A.pdf``,
  ``资料_A.pdf`` and ``资料:A.pdf`` are three entries; the manifest keeps their names).
* The package is streamed to disk entry by entry (survey tables in chunks of :data:`CHUNK`
  responses through openpyxl's write-only mode), into a temporary file renamed into place
  when complete (:mod:`workbench.storage`): memory stays bounded by one chunk.
* :func:`verify` checks a package against its manifest and, given the database's list of
  stored files (:func:`expected_files`), that every file the database knows is in it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.models import AuditEntry
from workbench.audit.services import record
from workbench.engagements.models import Engagement
from workbench.experts import services as panel
from workbench.reports.models import ReportVersion
from workbench.scoring import services as scoring
from workbench.scoring.spreadsheet import scores_workbook
from workbench.storage import BLOCK, atomic_writer, sha256_of
from workbench.surveys.models import Survey, SurveyResponse
from workbench.surveys.services import raw_row, screened
from workbench.workpapers.models import EvidenceFile
from workbench.xlsx import safe_cell, table_bytes

MANIFEST = "manifest.json"
FORMAT = 2  # manifest format: 2 adds each file's origin (kind, id, original name)
CHUNK = 2000  # survey responses / audit entries read and written per step
PART = 80  # characters in one entry-name component

Progress = Callable[[int, int], None]


def package_path(folder: Path, engagement: Engagement) -> Path:
    return folder / f"engagement-{engagement.id}.zip"


def retention_until(archived_on: dt.date, years: int) -> dt.date:
    """The last day the archive must be kept (29 February moves to 28 February)."""
    try:
        return archived_on.replace(year=archived_on.year + years)
    except ValueError:
        return archived_on.replace(year=archived_on.year + years, day=28)


_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def safe_part(text: object, limit: int = PART) -> str:
    r"""One entry-name component from any text: no separator (``/`` ``\\``), no drive colon,
    no control or format character (NUL, RTL marks), no leading dot (so never ``.`` or
    ``..``), at most ``limit`` characters keeping the extension, never empty ("_").

    >>> safe_part("../../x"), safe_part("..\\..\\win"), safe_part("资料:A.pdf"), safe_part("")
    ('x', 'win', '资料_A.pdf', '_')
    """
    name = unicodedata.normalize("NFC", str(text))
    name = "".join("_" if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in name)
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"_+", "_", name).strip("._ ")
    if len(name) > limit:
        _, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 8 else ""
        name = (name[: limit - len(ext) - 1].rstrip("._ ") + "." + ext) if ext else name[:limit]
    return name or "_"


def entry_name(*parts: object) -> str:
    """A relative entry name: every part made safe by :func:`safe_part`, joined with ``/``."""
    return "/".join(safe_part(p) for p in parts)


def stored_entry_name(origin: dict[str, Any]) -> str:
    """The entry of a stored file: its kind's folder (evidence: then its indicator code), its
    database id (unique), then its original name made safe (kept as it was in the manifest).

    >>> stored_entry_name({"kind": "evidence", "id": 7, "version": 1,
    ...                    "indicator_code": "../../../../x", "name": "资料:A.pdf"})
    'evidence/x/7-v1-资料_A.pdf'
    """
    if origin["kind"] == "report":
        return entry_name("reports", f"{origin['id']}-{safe_part(origin['name'], 60)}.docx")
    return entry_name(
        "evidence",
        origin.get("indicator_code") or "_",
        f"{origin['id']}-v{origin.get('version', 1)}-{safe_part(origin['name'])}",
    )


@dataclass
class Entry:
    """One file of the package: its name, where it came from, and how to write it."""

    name: str
    write: Callable[[IO[bytes]], None]
    origin: dict[str, Any] = field(default_factory=dict)


@dataclass
class Package:
    path: Path
    sha256: str
    manifest: dict[str, Any]


def write_table(
    out: IO[bytes], title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """A one-sheet workbook in openpyxl's write-only mode: rows are streamed to disk as they
    come (``rows`` may be a generator), never held as cell objects."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet((safe_cell(title) or "Sheet")[:31].replace("/", "-"))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=safe_cell(h))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    wb.save(out)


def _bytes(data: bytes) -> Callable[[IO[bytes]], None]:
    return lambda out: out.write(data)


def _copy(path: Path) -> Callable[[IO[bytes]], None]:
    def write(out: IO[bytes]) -> None:
        with open(path, "rb") as src:
            shutil.copyfileobj(src, out, BLOCK)

    return write


def survey_chunks(session: Session, survey: Any, *, cleaned: bool) -> Iterator[list[list[Any]]]:
    """The raw (or cleaned) data rows of a survey, :data:`CHUNK` responses at a time: the
    answers of one chunk are read with one query, so memory holds one chunk of answers."""
    columns = list(survey.columns)
    items = [item for item in screened(survey) if not (cleaned and item.excluded)]
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        answers = dict(
            session.execute(
                sa.select(SurveyResponse.id, SurveyResponse.answers).where(
                    SurveyResponse.id.in_([item.response.id for item in chunk])
                )
            ).all()
        )
        yield [raw_row(item, answers.get(item.response.id) or {}, columns) for item in chunk]


SURVEY_HEADERS = ("序号", "提交答卷时间", "所用时间（秒）", "来源")
SURVEY_TAIL = ("剔除", "原因", "人工判定", "判定理由")


def _survey_table(session: Session, survey: Any, label: str, cleaned: bool) -> Entry:
    headers = [*SURVEY_HEADERS, *survey.columns, *SURVEY_TAIL]

    def write(out: IO[bytes]) -> None:
        rows = (row for chunk in survey_chunks(session, survey, cleaned=cleaned) for row in chunk)
        write_table(out, label, headers, rows)

    return Entry(
        entry_name("surveys", f"{survey.id}-{safe_part(survey.title, 60)}-{label}.xlsx"),
        write,
        {"kind": "survey", "id": survey.id, "name": survey.title},
    )


def _audit_rows(session: Session, engagement: Engagement) -> Iterator[list[Any]]:
    stmt = (
        sa.select(AuditEntry)
        .where(AuditEntry.engagement_id == engagement.id)
        .order_by(AuditEntry.at, AuditEntry.id)
        .execution_options(yield_per=CHUNK)
    )
    for e in session.scalars(stmt):
        yield [
            e.at.replace(tzinfo=None) if e.at else None,
            e.actor,
            e.action,
            f"{e.object_type} {e.object_id or ''}",
            json.dumps(e.changes, ensure_ascii=False, default=str)[:30000],
            e.summary or "",
        ]


def stored_files(
    session: Session, engagement: Engagement, reports_folder: Path, evidence_folder: Path
) -> list[tuple[dict[str, Any], Path]]:
    """The files the database says belong to the engagement's record: issued reports and
    every version of every evidence file, with their origin (kind, id, name, SHA-256, size)."""
    out: list[tuple[dict[str, Any], Path]] = []
    for v in session.scalars(
        sa.select(ReportVersion)
        .where(ReportVersion.engagement_id == engagement.id, ReportVersion.status == "issued")
        .order_by(ReportVersion.number)
    ):
        origin = {
            "kind": "report",
            "id": v.id,
            "name": f"v{v.number} {v.report_no or ''}".strip(),
            "sha256": v.sha256,
            "size": v.size,
        }
        out.append((origin, reports_folder / v.stored_as))
    for e in session.scalars(
        sa.select(EvidenceFile)
        .where(EvidenceFile.engagement_id == engagement.id)
        .order_by(EvidenceFile.id)
    ):
        origin = {
            "kind": "evidence",
            "id": e.id,
            "name": e.filename,
            "indicator_code": e.indicator_code,
            "version": e.version,
            "sha256": e.sha256,
            "size": e.size,
        }
        out.append((origin, evidence_folder / e.sha256))
    return out


def expected_files(
    session: Session, engagement: Engagement, reports_folder: Path, evidence_folder: Path
) -> list[dict[str, Any]]:
    """The database's list of stored files the package must hold (for :func:`verify`)."""
    return [o for o, _ in stored_files(session, engagement, reports_folder, evidence_folder)]


def _entries(
    session: Session,
    engagement: Engagement,
    reports_folder: Path,
    evidence_folder: Path,
    missing: list[dict[str, Any]],
) -> list[Entry]:
    entries: list[Entry] = []
    for origin, path in stored_files(session, engagement, reports_folder, evidence_folder):
        if not path.is_file() or path.stat().st_size != origin["size"]:
            missing.append({**origin, "reason": "not on disk" if not path.is_file() else "size"})
            continue
        entries.append(Entry(stored_entry_name(origin), _copy(path), origin))
    computed = scoring.compute(session, engagement)
    if computed is not None:
        entries.append(
            Entry("scores/指标体系评分表.xlsx", _bytes(scores_workbook(engagement, computed)))
        )
    frame = panel.panel_frame(session, engagement)
    if not frame.empty:
        names = {m.expert_id: m.expert.name for m in panel.panel_members(session, engagement)}
        rows = [
            [r.indicator_code, names.get(r.expert_id, str(r.expert_id)), r.raw_score]
            for r in frame.itertuples()
        ]
        entries.append(
            Entry(
                "experts/专家评分.xlsx",
                _bytes(table_bytes("专家评分", ["指标", "专家", "评分"], rows)),
            )
        )
    for s in session.scalars(
        sa.select(Survey).where(Survey.engagement_id == engagement.id).order_by(Survey.id)
    ):
        for cleaned, label in ((False, "原始数据"), (True, "有效数据")):
            entries.append(_survey_table(session, s, label, cleaned))
    entries.append(
        Entry(
            "audit/审计日志.xlsx",
            lambda out: write_table(
                out,
                "审计日志",
                ["时间(UTC)", "操作人", "操作", "对象", "变更", "说明"],
                _audit_rows(session, engagement),
            ),
        )
    )
    return entries


def build_package(
    session: Session,
    engagement: Engagement,
    folder: Path,
    reports_folder: Path,
    *,
    evidence_folder: Path | None = None,
    retention_years: int = 10,
    today: dt.date | None = None,
    progress: Progress | None = None,
) -> Package:
    """Write the package of ``engagement`` (replacing an earlier one) entry by entry to a
    temporary file, renamed into place when complete. Reads only: the caller records it
    (:func:`record_package`) and commits."""
    today = today or dt.datetime.now(dt.UTC).date()
    evidence_folder = evidence_folder or reports_folder.parent / "evidence"
    missing: list[dict[str, Any]] = []
    entries = _entries(session, engagement, reports_folder, evidence_folder, missing)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):  # ids make names unique; never overwrite silently
        raise ValueError("two archive entries share a name")
    listed: list[dict[str, Any]] = []
    folder.mkdir(parents=True, exist_ok=True)
    path = package_path(folder, engagement)
    if progress:
        progress(0, len(entries))
    with atomic_writer(path) as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as package:
            for done, entry in enumerate(entries, start=1):
                with tempfile.TemporaryFile(dir=folder) as spool:
                    entry.write(spool)
                    spool.seek(0)
                    digest, size = hashlib.sha256(), 0
                    with package.open(entry.name, "w", force_zip64=True) as dst:
                        while block := spool.read(BLOCK):
                            digest.update(block)
                            size += len(block)
                            dst.write(block)
                item = {"path": entry.name, "sha256": digest.hexdigest(), "size": size}
                if entry.origin:
                    item["origin"] = {
                        k: v for k, v in entry.origin.items() if k not in ("sha256", "size")
                    }
                listed.append(item)
                if progress:
                    progress(done, len(entries))
            manifest = {
                "format": FORMAT,
                "engagement": {"id": engagement.id, "title": engagement.title},
                "archived_on": today.isoformat(),
                "retention_years": retention_years,
                "retain_until": retention_until(today, retention_years).isoformat(),
                "files": sorted(listed, key=lambda f: f["path"]),
                "missing": missing,
            }
            package.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        fh.flush()
        sha256 = sha256_of(Path(fh.name))
    return Package(path, sha256, manifest)


def record_package(
    session: Session, actor: User | None, engagement: Engagement, package: Package
) -> None:
    """Audit the package's SHA-256 and file count (flush only)."""
    missing = package.manifest["missing"]
    record(
        session,
        actor,
        "engagement.archive_package",
        "engagement",
        engagement.id,
        engagement_id=engagement.id,
        changes={
            "sha256": {"before": None, "after": package.sha256},
            "files": {"before": None, "after": len(package.manifest["files"])},
        },
        summary=f"retain until {package.manifest['retain_until']}"
        + (f"; {len(missing)} stored file(s) missing" if missing else ""),
    )


def manifest_of(path: Path) -> dict[str, Any] | None:
    """The package's manifest, or None when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as package:
            data = json.loads(package.read(MANIFEST))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return data if isinstance(data, dict) else None


def unsafe_name(name: str) -> bool:
    """Whether an entry name could escape the folder it is extracted to."""
    parts = name.split("/")
    return (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or re.match(r"^[A-Za-z]:", name) is not None
        or any(p in ("", ".", "..") for p in parts)
    )


def _sha256_entry(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as src:
        while block := src.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _label(item: dict[str, Any]) -> str:
    name = f" {item['name']}" if item.get("name") else ""
    return f"{item['kind']} #{item['id']}{name} (sha256 {item['sha256'][:12]}…)"


def verify(
    path: Path,
    expected: list[dict[str, Any]] | None = None,
    *,
    engagement_id: int | None = None,
) -> list[str]:
    """Problems found when checking a package (empty: intact).

    Every file listed in the manifest must be in the ZIP with its SHA-256, and nothing else
    (entry names must be safe relative paths). With ``expected`` (the database's stored files,
    :func:`expected_files`), every one of them must be in the package with the same SHA-256,
    and the package must hold no report or evidence file the database does not know."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"not a readable ZIP file: {exc}"]
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (KeyError, ValueError, zipfile.BadZipFile) as exc:
            return [f"no readable {MANIFEST}: {exc}"]
        problems = []
        files = manifest.get("files", [])
        got = (manifest.get("engagement") or {}).get("id")
        if engagement_id is not None and got != engagement_id:
            problems.append(f"the package is of engagement {got}, not {engagement_id}")
        listed = {f["path"] for f in files}
        for item in files:
            try:
                digest = _sha256_entry(archive, item["path"])
            except KeyError:
                problems.append(f"missing: {item['path']}")
                continue
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                problems.append(f"unreadable: {item['path']} ({exc})")
                continue
            if digest != item["sha256"]:
                problems.append(f"changed: {item['path']}")
        for name in archive.namelist():
            if unsafe_name(name):
                problems.append(f"unsafe entry name: {name!r}")
            if name != MANIFEST and name not in listed:
                problems.append(f"not in the manifest: {name}")
    if expected is not None:
        problems += compare_with_database(files, expected)
    return problems


def compare_with_database(files: list[dict[str, Any]], expected: list[dict[str, Any]]) -> list[str]:
    """The database's stored files against the manifest: by origin (kind, id) when the
    manifest records it, else (format 1 packages) by SHA-256 and count."""
    problems = []
    by_origin = {
        (f["origin"]["kind"], f["origin"]["id"]): f
        for f in files
        if isinstance(f.get("origin"), dict) and "id" in f["origin"]
    }
    if by_origin or not files:
        for want in expected:
            found = by_origin.get((want["kind"], want["id"]))
            if found is None:
                problems.append(f"not in the package: {_label(want)}")
            elif found["sha256"] != want["sha256"]:
                problems.append(f"differs from the database: {found['path']} ({_label(want)})")
        known = {(w["kind"], w["id"]) for w in expected}
        for key, f in sorted(by_origin.items(), key=lambda kv: kv[1]["path"]):
            if key[0] in ("report", "evidence") and key not in known:
                problems.append(f"not in the database: {f['path']}")
        return problems
    have: dict[str, int] = {}
    for f in files:
        have[f["sha256"]] = have.get(f["sha256"], 0) + 1
    for want in expected:
        if have.get(want["sha256"], 0) > 0:
            have[want["sha256"]] -= 1
        else:
            problems.append(f"not in the package: {_label(want)}")
    return problems
