"""The serving lock: ``instance/serving.lock``, held shared by every process that serves.

Every web process (each gunicorn worker through ``wsgi.py``, and ``flask run`` at its first
request) takes a shared ``flock`` on the file and keeps it until it exits. ``flask restore``
takes it exclusively without waiting: while any server process lives (including workers
orphaned by a killed master) the restore is refused, so no process keeps writing to the
replaced database file. The kernel drops the lock when a process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from flask import Flask, abort

LOCK_NAME = "serving.lock"
_held: dict[str, IO[bytes]] = {}


class Busy(RuntimeError):
    """The lock is held the other way (a server is running, or a restore is)."""


def lock_path(instance_path: str | Path) -> Path:
    return Path(instance_path) / LOCK_NAME


def hold(app: Flask) -> None:
    """Take the shared serving lock for the life of this process (idempotent)."""
    path = lock_path(app.instance_path)
    if str(path) in _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")  # noqa: SIM115 - kept open: the lock lives as long as the process
    try:
        fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise Busy(f"{path} is held exclusively: a restore is running") from None
    _held[str(path)] = fh


def release(app: Flask) -> None:
    """Give the shared lock up (tests)."""
    fh = _held.pop(str(lock_path(app.instance_path)), None)
    if fh is not None:
        fh.close()


@contextlib.contextmanager
def exclusive(instance_path: str | Path) -> Iterator[None]:
    """Hold the lock exclusively (no server may run meanwhile), or raise :class:`Busy`."""
    path = lock_path(instance_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"{path} is held by a serving process") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def init_app(app: Flask) -> None:
    """Serve only while holding the lock: the first request of a process takes it (``flask
    run``; gunicorn workers already took it in ``wsgi.py``). Not under ``TESTING``."""

    @app.before_request
    def _hold_serving_lock() -> None:
        if not app.testing:
            try:
                hold(app)
            except Busy:
                abort(503)  # a restore is replacing the database
