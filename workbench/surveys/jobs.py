"""Survey imports that run in the background, all rows or none, with progress.

The upload is stored under ``instance/uploads``; a :class:`ImportJob` row records the
options and outcome, and progress goes to ``instance/jobs/<id>.json`` (a file, so every
gunicorn worker can report it and no second database connection competes with the import's
write transaction on SQLite). ``SURVEY_IMPORT_INLINE`` runs jobs in the request (tests).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.questionnaire import MULTI_SEPARATOR
from workbench.core.questionnaire import columns as qcolumns
from workbench.core.surveys import (
    WJX_META,
    WjxFormatError,
    duration_seconds,
    question_number,
    read_table,
    read_wjx,
)
from workbench.db import db, utcnow
from workbench.engagements.models import Engagement
from workbench.surveys.builder import questions_of
from workbench.surveys.models import ImportJob, Survey, SurveyResponse
from workbench.surveys.services import MAX_ROWS, _ip_hash
from workbench.xlsx import local_zone

CHUNK = 5000
MAX_CELL = 10_000  # characters in one cell
MAX_ERRORS = 200  # row errors listed
META_ROLES = ("meta:row_no", "meta:submitted", "meta:duration", "meta:channel", "meta:ip")
WJX_ROLE = {
    "序号": "meta:row_no",
    "提交答卷时间": "meta:submitted",
    "所用时间": "meta:duration",
    "来源": "meta:channel",
    "来源详情": "meta:channel",
    "来自IP": "meta:ip",
}
_threads: list[threading.Thread] = []


class ImportFailed(Exception):
    """The file cannot be imported; ``errors`` lists why as ``(code, params)`` (row-level
    where possible), translated by the web layer."""

    def __init__(self, errors: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__(errors[0][0] if errors else "import failed")
        self.errors = errors


def _folder(name: str) -> Path:
    path = Path(current_app.instance_path) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def create(
    session: Session,
    actor: User,
    engagement: Engagement,
    *,
    kind: str,
    data: bytes,
    filename: str,
    options: Mapping[str, Any],
    survey: Survey | None,
) -> ImportJob:
    """Store the upload and a job; it waits for a mapping unless it is a 问卷星 export that
    becomes a new survey (its columns are taken as they are)."""
    suffix = Path(filename).suffix.lower()[:6] if Path(filename).suffix else ""
    stored = f"{uuid.uuid4().hex}{suffix}"
    (_folder("uploads") / stored).write_bytes(data)
    job = ImportJob(
        engagement_id=engagement.id,
        survey_id=survey.id if survey else None,
        created_by=actor.id,
        kind=kind,
        filename=filename[:200],
        stored_as=stored,
        status="queued" if kind == "wjx" and survey is None else "mapping",
        options=dict(options),
    )
    session.add(job)
    session.flush()
    return job


def upload_path(job: ImportJob) -> Path:
    return _folder("uploads") / job.stored_as


def read_frame(job: ImportJob, nrows: int | None = None) -> tuple[pd.DataFrame, str]:
    """The file as text cells with its header row, and the 问卷星 flavour (or "text")."""
    path = upload_path(job)
    if job.kind == "wjx":
        data = read_wjx(path, job.filename, nrows=nrows)
        frame = pd.concat([data.meta[list(WJX_META)], data.answers], axis=1)
        return frame, data.flavour
    return read_table(path, job.filename, nrows=nrows), "text"


def guess_mapping(survey: Survey | None, headers: list[str]) -> dict[str, str]:
    """File header → survey column or ``meta:*`` role, or "" (ignored): the survey's
    remembered mapping first, then 问卷星 metadata names, equal headers, question numbers."""
    remembered = survey.import_map if survey else {}
    targets = list(survey.columns) if survey else []
    by_number: dict[int, list[str]] = {}
    for col in targets:
        n = question_number(col)
        if n is not None:
            by_number.setdefault(n, []).append(col)
    bare_targets: dict[str, str] = {}
    for col in targets:
        bare_targets.setdefault(_bare(col), col)
    out: dict[str, str] = {}
    for header in headers:
        if header in remembered and (
            remembered[header] in targets
            or remembered[header] in META_ROLES
            or not remembered[header]
        ):
            out[header] = remembered[header]
        elif header in WJX_ROLE:
            out[header] = WJX_ROLE[header]
        elif survey is None:
            out[header] = "new"
        elif header in targets:
            out[header] = header
        elif _bare(header) in bare_targets:
            out[header] = bare_targets[_bare(header)]
        else:
            n = question_number(header)
            candidates = by_number.get(n, []) if n is not None else []
            item = re.split(r"[—－-]", header)[-1].strip()
            match = [c for c in candidates if c.endswith(f"—{item}")] or (
                candidates if len(candidates) == 1 else []
            )
            out[header] = match[0] if match else ""
    return out


def _bare(header: str) -> str:
    """A header without its question number and type note: "3、您的性别 (单选题)" → "您的性别"."""
    text = re.sub(r"^\s*(第\s*\d+\s*题|\d+\s*[、.．])\s*", "", header)
    return re.sub(r"\s*[(（][^()（）]*题[^()（）]*[)）]\s*", "", text).strip()


def _progress_file(job_id: int) -> Path:
    return _folder("jobs") / f"{job_id}.json"


def write_progress(job_id: int, phase: str, done: int, total: int) -> None:
    path = _progress_file(job_id)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"phase": phase, "done": done, "total": total}))
    tmp.replace(path)


def progress(job: ImportJob) -> dict[str, Any]:
    try:
        data = json.loads(_progress_file(job.id).read_text())
    except (OSError, ValueError):
        data = {"phase": "waiting", "done": 0, "total": 0}
    data["status"] = job.status
    return data


@dataclass
class _Plan:
    survey: Survey
    answers: dict[str, str]  # file header → survey column
    roles: dict[str, str]  # meta role → file header (first one wins; channel joins)
    channel: list[str]
    decode: dict[str, list[str]]  # survey column → choices, for option numbers


def _plan(session: Session, job: ImportJob, frame: pd.DataFrame, flavour: str) -> _Plan:
    mapping: dict[str, str] = dict(job.options.get("mapping") or {})
    survey = session.get(Survey, job.survey_id) if job.survey_id else None
    if survey is None:  # a new survey made of the file's question columns
        if not mapping:
            mapping = guess_mapping(None, list(frame.columns))
        new_cols = [h for h in frame.columns if mapping.get(h) == "new"]
        if not new_cols:
            raise ImportFailed([("no_columns", {})])
        opts = job.options
        survey = Survey(
            engagement_id=job.engagement_id,
            title=str(opts.get("title") or job.filename)[:200],
            respondent_group=str(opts.get("group") or "")[:100],
            population=opts.get("population"),
            source_name=job.filename,
            flavour=flavour,
            kind="import",
            columns=new_cols,
            satisfaction_columns=[],
            level_map={},
        )
        session.add(survey)
        session.flush()
        job.survey_id = survey.id
        mapping = {h: (h if t == "new" else t) for h, t in mapping.items()}
    unknown = [t for t in mapping.values() if t and t not in survey.columns and t not in META_ROLES]
    if unknown:
        raise ImportFailed([("unknown_target", {"column": unknown[0]})])
    targets = [t for t in mapping.values() if t and not t.startswith("meta:")]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ImportFailed([("same_target", {"column": twice[0]})])
    if not targets:
        raise ImportFailed([("no_target", {})])
    roles: dict[str, str] = {}
    channel: list[str] = []
    for header, target in mapping.items():
        if target == "meta:channel":
            channel.append(header)
        elif target.startswith("meta:"):
            roles.setdefault(target, header)
    decode: dict[str, list[str]] = {}
    if survey.kind == "form":
        questions = questions_of(survey)
        for col in qcolumns(questions):
            q = questions[col.question]
            if q.type in ("single", "likert", "matrix", "rating"):
                decode[col.header] = q.choices()
            elif q.type == "multiple":
                decode[col.header] = [*q.choices(), "__multiple__"]
    return _Plan(
        survey,
        {h: t for h, t in mapping.items() if t and not t.startswith("meta:")},
        roles,
        channel,
        decode,
    )


def _cell(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).strip()


def _decode(value: str, choices: list[str], flavour: str) -> str | None:
    """An answer as the survey stores it, or None when it is not one of the choices."""
    if not value or value == "(跳过)":
        return ""
    multiple = choices and choices[-1] == "__multiple__"
    allowed = choices[:-1] if multiple else choices
    if multiple:
        parts = [p.strip() for p in value.split(MULTI_SEPARATOR) if p.strip()]
        return value if all(p in allowed for p in parts) else None
    if value in allowed:
        return value
    if flavour == "code" and value.isdigit() and 1 <= int(value) <= len(allowed):
        return allowed[int(value) - 1]
    if value.endswith("分") and value[:-1] in allowed:  # 问卷星 text export of 0–10 ratings
        return value[:-1]
    return None


def build_rows(
    job: ImportJob,
    frame: pd.DataFrame,
    plan: _Plan,
    flavour: str,
    salt: str,
    tick: Callable[[int], None] = lambda n: None,
) -> list[dict[str, Any]]:
    """Check every row; raise :class:`ImportFailed` with row-level errors, or return the rows
    to insert."""
    if len(frame) == 0:
        raise ImportFailed([("no_rows", {})])
    if len(frame) > MAX_ROWS:
        raise ImportFailed([("too_many_rows", {"n": len(frame), "max": MAX_ROWS})])
    errors: list[tuple[str, dict[str, Any]]] = []
    rows: list[dict[str, Any]] = []
    zone = local_zone()
    columns = {h: frame[h].tolist() for h in frame.columns}
    existing = (
        db.session.scalar(
            sa.select(sa.func.count(SurveyResponse.id)).where(
                SurveyResponse.survey_id == plan.survey.id
            )
        )
        or 0
    )
    for i in range(len(frame)):
        line = i + 2  # spreadsheet row number (row 1 is the header)
        answers: dict[str, str] = {}
        for header, target in plan.answers.items():
            value = _cell(columns[header][i])
            if len(value) > MAX_CELL:
                errors.append(
                    ("huge_cell", {"row": line, "column": header, "n": len(value), "max": MAX_CELL})
                )
                continue
            if target in plan.decode:
                decoded = _decode(value, plan.decode[target], flavour)
                if decoded is None:
                    allowed = [c for c in plan.decode[target] if c != "__multiple__"]
                    errors.append(
                        (
                            "bad_answer",
                            {
                                "row": line,
                                "column": header,
                                "value": value[:50],
                                "allowed": " / ".join(allowed)[:200],
                            },
                        )
                    )
                    continue
                value = decoded
            answers[target] = value
        meta = {role: _cell(columns[h][i]) for role, h in plan.roles.items()}
        submitted = None
        if meta.get("meta:submitted"):
            parsed = pd.to_datetime(meta["meta:submitted"], errors="coerce", format="mixed")
            if pd.isna(parsed):
                errors.append(("bad_date", {"row": line, "value": meta["meta:submitted"][:30]}))
            else:
                # exports carry local wall-clock times
                submitted = parsed.to_pydatetime().replace(tzinfo=zone).astimezone(dt.UTC)
        duration = None
        if meta.get("meta:duration"):
            seconds = duration_seconds(meta["meta:duration"])
            if math.isnan(seconds):
                errors.append(("bad_duration", {"row": line, "value": meta["meta:duration"][:30]}))
            else:
                duration = seconds
        if len(errors) >= MAX_ERRORS:
            errors.append(("more", {}))
            break
        rows.append(
            {
                "survey_id": plan.survey.id,
                "row_no": (meta.get("meta:row_no") or str(existing + i + 1))[:20],
                "source": "import",
                "submitted_at": submitted,
                "duration_s": duration,
                "channel": " / ".join(
                    _cell(columns[h][i]) for h in plan.channel if _cell(columns[h][i])
                )[:100],
                "ip_hash": _ip_hash(job.engagement_id, meta.get("meta:ip", ""), salt),
                "ua_hash": "",
                "device_hash": "",
                "answers": answers,
                "override_note": "",
            }
        )
        if i % 1000 == 0:
            tick(i)
    if errors:
        raise ImportFailed(errors)
    return rows


def run(job_id: int) -> None:
    """Run one job in the current app context: everything in one transaction."""
    session = db.session
    job = session.get(ImportJob, job_id)
    if job is None or job.status not in ("queued",):
        return
    job.status = "running"
    session.commit()
    salt = current_app.config["SECRET_KEY"]
    try:
        write_progress(job_id, "reading", 0, 0)
        frame, flavour = read_frame(job)
        total = len(frame)
        plan = _plan(session, job, frame, flavour)
        rows = build_rows(
            job, frame, plan, flavour, salt, lambda n: write_progress(job_id, "checking", n, total)
        )
        for start in range(0, len(rows), CHUNK):
            session.execute(sa.insert(SurveyResponse), rows[start : start + CHUNK])
            write_progress(job_id, "saving", min(start + CHUNK, len(rows)), total)
        if job.options.get("mapping"):
            plan.survey.import_map = {**plan.survey.import_map, **job.options["mapping"]}
        actor = session.get(User, job.created_by) if job.created_by else None
        record(
            session,
            actor,
            "survey.import",
            "survey",
            plan.survey.id,
            engagement_id=job.engagement_id,
            changes={"responses": {"before": None, "after": len(rows)}},
            summary=f"{plan.survey.title} ← {job.filename}",
        )
        job.status, job.rows, job.finished_at = "done", len(rows), utcnow()
        session.commit()
        write_progress(job_id, "done", total, total)
        upload_path(job).unlink(missing_ok=True)
    except (ImportFailed, WjxFormatError) as exc:
        session.rollback()
        _fail(
            job_id,
            exc.errors if isinstance(exc, ImportFailed) else [("unreadable", {"reason": str(exc)})],
        )
    except Exception as exc:  # never leave a job "running" forever
        session.rollback()
        current_app.logger.exception("survey import %s failed", job_id)
        _fail(job_id, [("unexpected", {"reason": type(exc).__name__})])


def _fail(job_id: int, errors: list[tuple[str, dict[str, Any]]]) -> None:
    job = db.session.get(ImportJob, job_id)
    if job is None:
        return
    job.status, job.finished_at = "failed", utcnow()
    job.errors = [[code, params] for code, params in errors[: MAX_ERRORS + 1]]
    if job.options.get("mapping") or job.kind == "table":
        job.status = "mapping"  # let the evaluator fix the mapping and try again
    db.session.commit()
    write_progress(job_id, "failed", 0, 0)


def start(app: Flask, job: ImportJob) -> None:
    """Run now (tests, ``SURVEY_IMPORT_INLINE``) or in a background thread."""
    job.status = "queued"
    db.session.commit()
    if app.config.get("SURVEY_IMPORT_INLINE"):
        run(job.id)
        return

    def work(job_id: int = job.id) -> None:
        with app.app_context():
            try:
                run(job_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"survey-import-{job.id}", daemon=True)
    _threads.append(thread)
    thread.start()


def wait_all(timeout: float = 60) -> None:
    """Join the background imports (tests and the CLI)."""
    while _threads:
        _threads.pop().join(timeout)
