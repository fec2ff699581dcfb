"""Archiving an engagement in the background: build the package, then change the state.

A large engagement (250,000 survey responses) takes minutes to package, longer than a
request may run. The request checks the transition (a dry run, rolled back) and starts a
build in a thread; the thread writes the package to disk entry by entry
(:func:`workbench.archive.build_package`), then in a fresh transaction checks that the
engagement did not change meanwhile (its version), records the package and moves the
engagement to 已归档, and commits. The state changes only when the package is complete.

Progress goes to ``instance/archives/engagement-<id>.job.json`` (any worker can show it). A
build holds an exclusive ``flock`` on ``engagement-<id>.lock`` while it runs: a second build
of the same engagement is refused, and a job file saying "running" whose lock is free belongs
to a process that died (shown as interrupted; archiving may be started again).
``ARCHIVE_BUILD_INLINE`` runs the build in the request (tests).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from workbench import archive
from workbench.accounts.models import User
from workbench.core.workflow import EngagementState
from workbench.db import db
from workbench.engagements import services
from workbench.engagements.hub import AlreadyBuilding
from workbench.engagements.models import Engagement
from workbench.surveys.models import Survey, SurveyResponse

_threads: list[threading.Thread] = []


def folder() -> Path:
    path = Path(current_app.instance_path) / "archives"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _job_file(engagement_id: int) -> Path:
    return folder() / f"engagement-{engagement_id}.job.json"


def _lock_file(engagement_id: int) -> Path:
    return folder() / f"engagement-{engagement_id}.lock"


def _write(engagement_id: int, **state: Any) -> None:
    path = _job_file(engagement_id)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({**state, "at": dt.datetime.now(dt.UTC).isoformat()}))
    tmp.replace(path)


def _locked(engagement_id: int) -> bool:
    """Whether a build of the engagement holds its lock (in any process)."""
    with open(_lock_file(engagement_id), "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def status(engagement: Engagement) -> dict[str, Any] | None:
    """The last build's state: ``{"status": queued|running|done|failed|interrupted, "done",
    "total", "error"}``, or None when none was started."""
    try:
        state = json.loads(_job_file(engagement.id).read_text())
    except (OSError, ValueError):
        return None
    if state.get("status") in ("queued", "running") and not _locked(engagement.id):
        state["status"] = "interrupted"
    return dict(state)


def start(app: Flask, engagement: Engagement, actor: User, expected_version: int) -> None:
    """Take the engagement's build lock and build in a thread (or now, inline)."""
    lock = open(_lock_file(engagement.id), "a+b")  # noqa: SIM115 - handed to the thread
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise AlreadyBuilding() from None
    _write(engagement.id, status="queued", done=0, total=0)
    args = (engagement.id, actor.id, expected_version)
    if app.config.get("ARCHIVE_BUILD_INLINE"):
        try:
            run(*args)
        finally:
            lock.close()
        return

    def work() -> None:
        with app.app_context():
            try:
                run(*args)
            finally:
                db.session.remove()
                lock.close()

    thread = threading.Thread(target=work, name=f"archive-{engagement.id}", daemon=True)
    _threads.append(thread)
    thread.start()


def run(engagement_id: int, actor_id: int, expected_version: int) -> None:
    """Build the package, then archive the engagement if it did not change meanwhile."""
    session = db.session
    path: Path | None = None
    try:
        engagement = session.get(Engagement, engagement_id)
        actor = session.get(User, actor_id)
        if engagement is None or actor is None:
            raise services.EngagementError("not_found")
        _write(engagement_id, status="running", done=0, total=0)
        answers_before = _answers(session, engagement_id)
        for debris in folder().glob(f".engagement-{engagement_id}.zip.*.tmp"):
            debris.unlink(missing_ok=True)  # of a build whose process died (we hold the lock)
        package = archive.build_package(
            session,
            engagement,
            folder(),
            Path(current_app.instance_path) / "reports",
            evidence_folder=Path(current_app.instance_path) / "evidence",
            retention_years=int(current_app.config.get("RETENTION_YEARS", 10)),
            progress=lambda done, total: _write(
                engagement_id, status="running", done=done, total=total
            ),
        )
        path = package.path
        session.rollback()  # end the long read; write in a fresh transaction
        engagement = session.get(Engagement, engagement_id)
        actor = session.get(User, actor_id)
        if engagement is None or actor is None:
            raise services.EngagementError("not_found")
        if _changed(session, engagement, package, answers_before):
            raise services.StaleEdit()
        services.transition(
            session,
            actor,
            engagement,
            EngagementState.ARCHIVED,
            expected_version=expected_version,
        )
        archive.record_package(session, actor, engagement, package)
        session.commit()
        total = len(package.manifest["files"])
        _write(
            engagement_id,
            status="done",
            done=total,
            total=total,
            missing=len(package.manifest["missing"]),
        )
    except Exception as exc:  # never leave a job "running"; never a package without the state
        session.rollback()
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        code = str(exc) if isinstance(exc, services.EngagementError) else type(exc).__name__
        if isinstance(exc, services.StaleEdit):
            code = "archive_stale"  # changed while the package was built (error_messages)
        current_app.logger.exception("archive package of engagement %s failed", engagement_id)
        _write(engagement_id, status="failed", done=0, total=0, error=code)


def _answers(session: Any, engagement_id: int) -> tuple[int, int | None]:
    """How many survey responses the engagement has, and the newest id."""
    count, newest = session.execute(
        sa.select(sa.func.count(SurveyResponse.id), sa.func.max(SurveyResponse.id))
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(Survey.engagement_id == engagement_id)
    ).one()
    return int(count), newest


def _changed(
    session: Any, engagement: Engagement, package: archive.Package, answers: tuple[Any, Any]
) -> bool:
    """Whether a stored file or a survey answer came or went while the package was built (the
    engagement's version does not move for those)."""
    instance = Path(current_app.instance_path)
    missing = {(m["kind"], m["id"]) for m in package.manifest["missing"]}
    expected = [
        e
        for e in archive.expected_files(
            session, engagement, instance / "reports", instance / "evidence"
        )
        if (e["kind"], e["id"]) not in missing
    ]
    return bool(
        archive.compare_with_database(package.manifest["files"], expected)
        or _answers(session, engagement.id) != answers
    )


def package_path(engagement: Engagement) -> Path:
    """Where the engagement's package is (whether or not it exists)."""
    return archive.package_path(folder(), engagement)


def package_facts(path: Path) -> dict[str, Any]:
    """A finished package's manifest facts: retention date, file count, missing files."""
    with zipfile.ZipFile(path) as package:
        manifest = json.loads(package.read(archive.MANIFEST))
    return {
        "retain_until": manifest["retain_until"],
        "files": len(manifest["files"]),
        "missing": len(manifest.get("missing", [])),
    }


def wait_all(timeout: float = 60) -> None:
    """Join the background builds (tests and benchmarks)."""
    while _threads:
        _threads.pop().join(timeout)
