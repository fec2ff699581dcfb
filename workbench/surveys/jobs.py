"""Survey imports that run in the background, all rows or none, with progress.

The upload is stored under ``instance/uploads``; a :class:`ImportJob` row records the
options and outcome, and progress goes to ``instance/jobs/<id>.json`` (a file, so every
gunicorn worker can report it and no second database connection competes with the import's
write transaction on SQLite). ``SURVEY_IMPORT_INLINE`` runs jobs in the request (tests).

Lifecycle (all transitions are conditional updates, so two requests or two workers never
run one job twice): ``mapping`` → ``queued`` (:func:`claim`, the mapping POST) → ``running``
(:func:`run`) → ``done``, or back to ``mapping`` (a bad file or mapping), or ``failed``. A
queued or running job holds a lease: ``heartbeat_at`` is set when it is queued and claimed,
and while it runs a thread touches ``instance/jobs/<id>.beat`` every
``SURVEY_IMPORT_HEARTBEAT_S`` seconds (a file, not the row: the import's own transaction holds
SQLite's write lock). A job whose lease is older than ``SURVEY_IMPORT_LEASE_S`` lost its
worker (killed, restarted): :func:`reap` marks it failed ("interrupted") and deletes its
upload; it can then be discarded. The upload is deleted when a job finishes, fails for good
or is discarded.

A job reads the file once, checks it column by column (each distinct cell once: 100,000
answers are a few options), lists row-level errors in row order without writing anything,
then inserts in chunks with the driver's executemany inside one transaction, committed once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.questionnaire import MULTI_SEPARATOR
from workbench.core.questionnaire import columns as qcolumns
from workbench.core.safefiles import SURVEY_TABLE, check_table, clean_filename
from workbench.core.surveys import (
    WJX_META,
    WjxFormatError,
    duration_seconds,
    question_number,
    read_table,
    read_wjx,
)
from workbench.db import db, utcnow
from workbench.engagements import revision
from workbench.engagements.models import Engagement
from workbench.storage import store_bytes
from workbench.surveys.models import ImportJob, Survey, SurveyResponse
from workbench.surveys.services import MAX_ROWS, _ip_hash, questions_of, store_group_values
from workbench.xlsx import local_zone

HEARTBEAT_S = 15  # default seconds between a running job's heartbeats
LEASE_S = 180  # default seconds without a heartbeat after which a job's worker is gone
CHUNK = 10_000  # rows per INSERT executemany (and per progress step)
MAX_CELL = 10_000  # characters in one cell
MAX_ERRORS = 200  # row errors listed
WJX_TIME = "%Y/%m/%d %H:%M:%S"  # 问卷星's 提交答卷时间
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
    """Store the upload and a job; it waits for a mapping unless it is a 问卷星 export with
    option texts that becomes a new survey (its columns are taken as they are). An
    option-number export always waits: the evaluator confirms what the numbers are (#15).

    Raises :class:`~workbench.core.safefiles.UnsafeFile` (nothing stored) for a file past the
    upload limits: no job exists for a file that a reader must not open."""
    check_table(data, SURVEY_TABLE)
    filename = clean_filename(filename)
    suffix = Path(filename).suffix.lower()[:6] if Path(filename).suffix else ""
    stored = f"{uuid.uuid4().hex}{suffix}"
    store_bytes(_folder("uploads") / stored, data)  # whole or not at all, before the job row
    job = ImportJob(
        engagement_id=engagement.id,
        survey_id=survey.id if survey else None,
        created_by=actor.id,
        kind=kind,
        filename=filename[:200],
        stored_as=stored,
        status="queued"
        if kind == "wjx" and survey is None and not _is_code(data, filename)
        else "mapping",
        options=dict(options),
    )
    if job.status == "queued":
        job.heartbeat_at = utcnow()
    session.add(job)
    session.flush()
    return job


def _is_code(data: bytes, filename: str) -> bool:
    """Whether a 问卷星 upload is the option-number flavour (False when unreadable: the import
    then fails with the reader's reason, as before)."""
    try:
        return read_wjx(data, filename, nrows=200).flavour == "code"
    except WjxFormatError:
        return False


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


def _beat_file(job_id: int) -> Path:
    return _folder("jobs") / f"{job_id}.beat"


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=int(current_app.config.get("SURVEY_IMPORT_LEASE_S", LEASE_S)))


class _Heartbeat:
    """While a job runs, touch its beat file every ``every`` seconds from a small thread: the
    lease stays alive as long as the process that runs the import does (whatever phase it is
    in), and stops when the process dies."""

    def __init__(self, job_id: int, every: float) -> None:
        self.path = _beat_file(job_id)
        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"beat-{job_id}", daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            with contextlib.suppress(OSError):  # a full disk: the lease ends, the job is reaped
                self.path.touch()

    def __enter__(self) -> _Heartbeat:
        self.path.touch()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.path.unlink(missing_ok=True)


def last_beat(job: ImportJob) -> dt.datetime | None:
    """When the job last showed a sign of life: its lease's start or its worker's heartbeat."""
    moments = [m for m in (job.heartbeat_at or job.created_at,) if m is not None]
    try:
        mtime = _beat_file(job.id).stat().st_mtime
        moments.append(dt.datetime.fromtimestamp(mtime, dt.UTC))
    except OSError:
        pass
    return max(moments) if moments else None


def is_dead(job: ImportJob, now: dt.datetime | None = None) -> bool:
    """A queued or running job whose lease expired: no worker is running it any more."""
    if job.status not in ("queued", "running"):
        return False
    last = last_beat(job)
    return last is None or (now or utcnow()) - last > _lease()


def reap(session: Session, job: ImportJob, now: dt.datetime | None = None) -> bool:
    """Mark ``job`` failed ("interrupted") when its worker is gone, delete its upload and
    commit; True when it did. Conditional on the stored lease, so a job that has just been
    claimed again is left alone; a database busy with a write (SQLite: an import holds the
    lock, so someone is alive) leaves it for the next look."""
    now = now or utcnow()
    if not is_dead(job, now):
        return False
    cutoff = now - _lease()
    try:
        marked = session.execute(
            sa.update(ImportJob)
            .where(
                ImportJob.id == job.id,
                ImportJob.status.in_(("queued", "running")),
                sa.or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < cutoff),
            )
            .values(status="failed", finished_at=now, errors=[["interrupted", {}]])
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except sa.exc.OperationalError:
        session.rollback()
        return False
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.refresh(job)
    current_app.logger.warning("survey import %s: its worker is gone, marked failed", job.id)
    _cleanup(job)
    write_progress(job.id, "failed", 0, 0)
    return True


def _cleanup(job: ImportJob) -> None:
    """Delete a finished, failed or discarded job's upload and heartbeat file."""
    upload_path(job).unlink(missing_ok=True)
    _beat_file(job.id).unlink(missing_ok=True)


def discard(job: ImportJob) -> None:
    """Delete what a job left on disk (the caller deletes the row)."""
    _cleanup(job)
    _progress_file(job.id).unlink(missing_ok=True)


def claim(session: Session, job: ImportJob, mapping: Mapping[str, str]) -> bool:
    """Queue a job that waits for its mapping, with that mapping; False when another request
    did first (a double submit): exactly one request starts the import. Flushes; the caller
    commits before starting the job."""
    claimed = session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == "mapping")
        .values(
            status="queued",
            options={**job.options, "mapping": dict(mapping)},
            errors=[],
            heartbeat_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


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


class _JSONText(sa.types.TypeDecorator[str]):
    """A JSON column written from text that is already JSON (no encoding per row)."""

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None


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


def _text_cells(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A column as codes into its distinct cells, and those cells as stripped text ("" when
    blank or missing; the last entry is for code -1, a missing cell). Every check below runs
    once per distinct cell: 100,000 answers to a question are a handful of options."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, [*(_cell(u) for u in uniques), ""]


def _submitted_utc(
    series: pd.Series, zone: dt.tzinfo
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """提交答卷时间 as naive UTC datetimes (None when blank), a mask of the cells that are not
    dates, and the cell texts (for the error list; None when none is wrong)."""
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):  # read_wjx parsed them already
        local = pd.DatetimeIndex(series)
        bad = np.zeros(n, dtype=bool)
        texts = None
    else:
        codes, cells = _text_cells(series)
        parsed_u = _parsed_dates(cells)
        local = pd.DatetimeIndex(parsed_u[codes])
        blank_u = np.array([not c for c in cells])
        bad = np.isnat(parsed_u[codes]) & ~blank_u[codes]
        texts = [cells[c] for c in codes] if bad.any() else None
    valid = ~np.isnat(local.to_numpy())
    out = np.full(n, None, dtype=object)
    if valid.any():
        wall = local[valid]
        try:  # exports carry local wall-clock times
            utc = wall.tz_localize(zone, ambiguous="raise", nonexistent="raise").tz_convert(dt.UTC)
            out[valid] = utc.tz_localize(None).to_pydatetime()
        except (ValueError, TypeError):  # a time in a DST change: the rule of datetime.replace
            out[valid] = [
                d.replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)
                for d in wall.to_pydatetime()
            ]
    return out, bad, texts


def _parsed_dates(texts: list[str]) -> np.ndarray:
    """Date-time texts as local wall-clock ``datetime64[us]`` (NaT: blank or not a date):
    问卷星's format first, then any format pandas recognises, each text on its own."""
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), format=WJX_TIME, errors="coerce")
    out = parsed.to_numpy(dtype="datetime64[us]", copy=True)
    rest = [k for k, text in enumerate(texts) if text and np.isnat(out[k])]
    if not rest:
        return out
    try:
        mixed = pd.to_datetime(
            pd.Series([texts[k] for k in rest], dtype=object), format="mixed", errors="coerce"
        )
        if isinstance(mixed.dtype, pd.DatetimeTZDtype):
            raise TypeError("offsets")
        out[rest] = mixed.to_numpy(dtype="datetime64[us]")
    except (ValueError, TypeError, OverflowError):  # offsets in the texts: one at a time
        for k in rest:
            value = pd.to_datetime(texts[k], errors="coerce", format="mixed")
            if not pd.isna(value):  # a written offset is ignored: the wall clock counts
                out[k] = (value.tz_localize(None) if value.tzinfo else value).to_datetime64()
    return out


@dataclass
class _Checked:
    """The checked rows of a file, by column (see :func:`build_rows`)."""

    n: int
    answers: list[tuple[np.ndarray, np.ndarray]]  # codes, JSON '"column": "answer"' per code
    row_no: list[str]
    submitted: np.ndarray  # naive UTC datetime or None
    duration: list[float | None]
    channel: list[str]
    ip_hash: np.ndarray


def build_rows(
    job: ImportJob,
    frame: pd.DataFrame,
    plan: _Plan,
    flavour: str,
    salt: str,
    tick: Callable[[int], None] = lambda n: None,
) -> _Checked:
    """Check every row; raise :class:`ImportFailed` with row-level errors (in row order, at
    most ``MAX_ERRORS``), or return the rows to insert."""
    n = len(frame)
    if n == 0:
        raise ImportFailed([("no_rows", {})])
    if n > MAX_ROWS:
        raise ImportFailed([("too_many_rows", {"n": n, "max": MAX_ROWS})])
    tick(0)
    # per answer column: the problem of each distinct cell (None: fine) and what it stores
    answer_cols: list[tuple[str, np.ndarray, list[tuple[str, dict[str, Any]] | None]]] = []
    answers: list[tuple[np.ndarray, np.ndarray]] = []
    bad_rows = np.zeros(n, dtype=bool)
    for header, target in plan.answers.items():
        codes, cells = _text_cells(frame[header])
        problems: list[tuple[str, dict[str, Any]] | None] = []
        stored: list[str] = []
        choices = plan.decode.get(target)
        for value in cells:
            problem: tuple[str, dict[str, Any]] | None = None
            if len(value) > MAX_CELL:
                problem = ("huge_cell", {"column": header, "n": len(value), "max": MAX_CELL})
            elif choices is not None:
                decoded = _decode(value, choices, flavour)
                if decoded is None:
                    allowed = [c for c in choices if c != "__multiple__"]
                    problem = (
                        "bad_answer",
                        {
                            "column": header,
                            "value": value[:50],
                            "allowed": " / ".join(allowed)[:200],
                        },
                    )
                else:
                    value = decoded
            problems.append(problem)
            stored.append(value)
        flagged = np.array([p is not None for p in problems])[codes]
        bad_rows |= flagged
        answer_cols.append((header, codes, problems))
        # json.dumps' defaults, as the ORM's JSON type writes every other response: SQLite
        # JSON paths over the answers match the ASCII-escaped keys
        key = json.dumps(target)
        pieces = np.array([f"{key}: {json.dumps(v)}" for v in stored], dtype=object)
        answers.append((codes, pieces))
    zone = local_zone()
    submitted = np.full(n, None, dtype=object)
    bad_date = np.zeros(n, dtype=bool)
    date_texts: list[str] | None = None
    if "meta:submitted" in plan.roles:
        submitted, bad_date, date_texts = _submitted_utc(frame[plan.roles["meta:submitted"]], zone)
    duration: list[float | None] = [None] * n
    bad_duration = np.zeros(n, dtype=bool)
    duration_texts: list[str] = []
    duration_codes = np.zeros(n, dtype=np.intp)
    if "meta:duration" in plan.roles:
        codes, duration_texts = _text_cells(frame[plan.roles["meta:duration"]])
        seconds = [duration_seconds(t) if t else math.nan for t in duration_texts]
        bad_u = np.array(
            [bool(t) and math.isnan(s) for t, s in zip(duration_texts, seconds, strict=True)]
        )
        values = [None if math.isnan(s) else s for s in seconds]
        duration = [values[c] for c in codes.tolist()]
        bad_duration = bad_u[codes]
        duration_codes = codes
    bad_rows |= bad_date | bad_duration
    if bad_rows.any():
        errors: list[tuple[str, dict[str, Any]]] = []
        for i in np.flatnonzero(bad_rows).tolist():
            line = i + 2  # spreadsheet row number (row 1 is the header)
            for _header, codes, problems in answer_cols:
                problem = problems[codes[i]]
                if problem is not None:
                    errors.append((problem[0], {"row": line, **problem[1]}))
            if bad_date[i]:
                errors.append(("bad_date", {"row": line, "value": date_texts[i][:30]}))
            if bad_duration[i]:
                text = duration_texts[duration_codes[i]]
                errors.append(("bad_duration", {"row": line, "value": text[:30]}))
            if len(errors) >= MAX_ERRORS:
                errors.append(("more", {}))
                break
        raise ImportFailed(errors)
    existing = (
        db.session.scalar(
            sa.select(sa.func.count(SurveyResponse.id)).where(
                SurveyResponse.survey_id == plan.survey.id
            )
        )
        or 0
    )
    if "meta:row_no" in plan.roles:
        codes, cells = _text_cells(frame[plan.roles["meta:row_no"]])
        row_no = [(cells[c] or str(existing + i + 1))[:20] for i, c in enumerate(codes.tolist())]
    else:
        row_no = [str(existing + i + 1)[:20] for i in range(n)]
    channel = [""] * n
    if plan.channel:
        parts = [_text_cells(frame[h]) for h in plan.channel]
        joined: dict[tuple[int, ...], str] = {}
        combos = zip(*(codes.tolist() for codes, _ in parts), strict=True)
        for i, combo in enumerate(combos):
            text = joined.get(combo)
            if text is None:
                texts = (cells[c] for (_, cells), c in zip(parts, combo, strict=True))
                text = joined[combo] = " / ".join(t for t in texts if t)[:100]
            channel[i] = text
    ip_hash = np.full(n, "", dtype=object)
    if "meta:ip" in plan.roles:
        codes, cells = _text_cells(frame[plan.roles["meta:ip"]])
        hashes = np.array([_ip_hash(job.engagement_id, c, salt) for c in cells], dtype=object)
        ip_hash = hashes[codes]
    tick(n)
    return _Checked(n, answers, row_no, submitted, duration, channel, ip_hash)


#: survey_responses as the import writes it: the answers arrive as JSON text, encoded once per
#: distinct answer rather than once per row by the column type
_RESPONSES = sa.table(
    SurveyResponse.__tablename__,
    sa.column("survey_id", sa.Integer()),
    sa.column("row_no", sa.String()),
    sa.column("source", sa.String()),
    sa.column("submitted_at", sa.DateTime()),  # naive UTC, as UTCDateTime stores it
    sa.column("duration_s", sa.Float()),
    sa.column("channel", sa.String()),
    sa.column("ip_hash", sa.String()),
    sa.column("ua_hash", sa.String()),
    sa.column("device_hash", sa.String()),
    sa.column("answers", _JSONText()),
    sa.column("override_note", sa.String()),
)


def insert_rows(
    session: Session,
    survey_id: int,
    rows: _Checked,
    tick: Callable[[int], None] = lambda n: None,
) -> None:
    """Insert the checked rows in chunks inside the session's transaction: on PostgreSQL
    with COPY, elsewhere with one INSERT compiled for the database, its values converted by
    column and sent with the driver's executemany (SQLAlchemy's per-row parameter handling
    was a quarter of the import)."""
    connection = session.connection()
    dialect = connection.dialect
    compiled = sa.insert(_RESPONSES).compile(dialect=dialect)
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    convert = {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in _RESPONSES.c}
    copy_sql = (
        f"COPY {_RESPONSES.name} ({', '.join(c.name for c in _RESPONSES.c)}) FROM STDIN"
        if dialect.name == "postgresql" and dialect.driver == "psycopg"
        else ""
    )
    for start in range(0, rows.n, CHUNK):
        stop = min(start + CHUNK, rows.n)
        size = stop - start
        pieces = [pieces[codes[start:stop]] for codes, pieces in rows.answers]
        values: dict[str, Sequence[Any]] = {
            "survey_id": [survey_id] * size,
            "row_no": rows.row_no[start:stop],
            "source": ["import"] * size,
            "submitted_at": rows.submitted[start:stop].tolist(),
            "duration_s": rows.duration[start:stop],
            "channel": rows.channel[start:stop],
            "ip_hash": rows.ip_hash[start:stop].tolist(),
            "ua_hash": [""] * size,
            "device_hash": [""] * size,
            "answers": ["{" + ", ".join(parts) + "}" for parts in zip(*pieces, strict=True)],
            "override_note": [""] * size,
        }
        if copy_sql:  # PostgreSQL: COPY on the session's connection, in its transaction
            driver = connection.connection.driver_connection
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in zip(*(values[c.name] for c in _RESPONSES.c), strict=True):
                    copy.write_row(row)
            tick(stop)
            continue
        for name, process in convert.items():
            if process is not None:
                values[name] = [None if v is None else process(v) for v in values[name]]
        params: list[Any] = list(zip(*(values[name] for name in names), strict=True))
        if not compiled.positional:
            params = [dict(zip(names, row, strict=True)) for row in params]
        connection.exec_driver_sql(compiled.string, params)
        tick(stop)


def run(job_id: int) -> None:
    """Run one queued job in the current app context: everything in one transaction. The job
    is claimed with a conditional update first: a job another worker runs (or ran) is left
    alone."""
    session = db.session
    claimed = session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "queued")
        .values(status="running", heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return
    job = session.get(ImportJob, job_id, populate_existing=True)
    if job is None:
        return
    every = float(current_app.config.get("SURVEY_IMPORT_HEARTBEAT_S", HEARTBEAT_S))
    with _Heartbeat(job_id, every):
        _run(session, job)


def _run(session: Session, job: ImportJob) -> None:
    job_id = job.id
    salt = current_app.config["SECRET_KEY"]
    try:
        write_progress(job_id, "reading", 0, 0)
        frame, flavour = read_frame(job)
        total = len(frame)
        plan = _plan(session, job, frame, flavour)
        rows = build_rows(
            job, frame, plan, flavour, salt, lambda n: write_progress(job_id, "checking", n, total)
        )
        del frame
        insert_rows(
            session, plan.survey.id, rows, lambda n: write_progress(job_id, "saving", n, total)
        )
        if plan.survey.group_column:  # the imported rows' groups, for quota counts
            store_group_values(session, plan.survey, only_missing=True)
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
            changes={"responses": {"before": None, "after": rows.n}},
            summary=f"{plan.survey.title} ← {job.filename}",
        )
        revision.bump(session, job.engagement_id)
        finished = session.execute(
            sa.update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == "running")
            .values(status="done", rows=rows.n, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if finished.rowcount != 1:  # type: ignore[attr-defined]
            # declared dead meanwhile (its lease expired) and failed or discarded: the rows
            # are not kept, so that what the page says stays true
            session.rollback()
            return
        session.commit()
        write_progress(job_id, "done", total, total)
        _cleanup(job)
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
    session = db.session
    job = session.get(ImportJob, job_id, populate_existing=True)
    if job is None:
        return
    # a mapped file goes back to its mapping (fix it and try again; the upload is kept);
    # a new survey from a 问卷星 export fails for good (its upload is deleted)
    status = "mapping" if job.options.get("mapping") or job.kind == "table" else "failed"
    failed = session.execute(
        sa.update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == "running")
        .values(
            status=status,
            finished_at=utcnow(),
            errors=[[code, params] for code, params in errors[: MAX_ERRORS + 1]],
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    write_progress(job_id, "failed", 0, 0)
    if failed.rowcount == 1 and status == "failed":  # type: ignore[attr-defined]
        _cleanup(job)


def start(app: Flask, job: ImportJob) -> None:
    """Run a queued job now (tests, ``SURVEY_IMPORT_INLINE``) or in a background thread. A
    job still waiting for its mapping, whose options carry it already, is claimed first."""
    if job.status == "mapping":
        claim(db.session, job, job.options.get("mapping") or {})
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
