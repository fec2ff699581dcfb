"""Backup and restore round trip on SQLite while respondents keep answering.

    .venv/bin/python bench/backup_under_load.py [--concurrency 16] [--workers 4]
        [--before 200] [--after 100]

Builds a SQLite database (WAL) in a temporary folder with an open survey that has an
open-text question, starts gunicorn, and keeps ``--concurrency`` respondents answering, each
with a unique open-text answer (``marker-<n>``) and the times its POST was sent and answered.
Once ``--before`` responses are acknowledged, it runs ``flask backup`` (workbench/cli.py: the
SQLite online backup API) as a separate process while the load goes on, lets ``--after`` more
respondents answer, and stops the load. Then ``flask restore --yes`` puts the backup into a
fresh instance (a new, empty folder), and the bench checks the restored database:

* ``PRAGMA integrity_check`` is ``ok`` and ``alembic_version`` is the migrations' head;
* it holds every response acknowledged before the backup started;
* it holds no response whose POST was sent after the backup finished, and nothing that was
  never acknowledged (every stored row was acknowledged: the server was not killed);
* gunicorn started on the restored database accepts a new respondent.

It also checks that the live database holds every acknowledged response. Exit status 1 on
any failure.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import sqlalchemy as sa
from survey_load import (
    ROOT,
    Respondent,
    answer,
    free_port,
    prepare,
    server_env,
    server_log_excerpt,
    start_server,
    stop_server,
    stored_texts,
    wait_until_up,
)


def flask(url: str, instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app workbench <args>`` on the database ``url`` (as an operator runs it)."""
    app_spec = f"workbench:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"
    return subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", app_spec, *args],
        cwd=ROOT,
        env=server_env(url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def migrations_head() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(ROOT / "migrations")).get_heads())


def run(args: argparse.Namespace, tmp: Path) -> int:
    live_db = tmp / "live" / "workbench.db"
    live_db.parent.mkdir()
    url = f"sqlite:///{live_db}"
    instance = tmp / "instance"
    survey_id, token = prepare(url, instance, marker=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    survey_url = f"{base}/s/{token}"
    log = tmp / "gunicorn.log"
    proc = start_server(url, instance, port, args.workers, log)
    wait_until_up(proc, base, log)

    numbers = count()
    stop = threading.Event()
    lock = threading.Lock()
    done: list[Respondent] = []

    def respondent_loop() -> None:
        while not stop.is_set():
            with lock:
                n = next(numbers)
            r = answer(Respondent(n, f"marker-{n}"), survey_url)
            with lock:
                done.append(r)

    def acknowledged() -> int:
        with lock:
            return sum(1 for r in done if r.outcome == "accepted")

    backup = tmp / "backups" / "workbench-backup.db"
    with ThreadPoolExecutor(args.concurrency) as pool:
        try:
            for _ in range(args.concurrency):
                pool.submit(respondent_loop)
            while acknowledged() < args.before:
                time.sleep(0.05)
            with lock:
                acked_before_start = {r.text for r in done if r.outcome == "accepted"}
            started = time.monotonic()
            result = flask(url, instance, "backup", str(backup))
            finished = time.monotonic()
            target = acknowledged() + args.after
            while acknowledged() < target:
                time.sleep(0.05)
        finally:
            stop.set()
    stop_server(proc)

    if result.returncode != 0:
        print(f"*** flask backup failed ({result.returncode}): {result.stderr[-2000:]}")
        return 1
    outcomes = Counter(r.outcome for r in done)
    acked = {r.text for r in done if r.outcome == "accepted"}
    sent_before_end = {r.text for r in done if r.posted_at is not None and r.posted_at < finished}
    during = {
        r.text
        for r in done
        if r.outcome == "accepted"
        and r.answered_at is not None
        and started <= r.answered_at
        and r.answered_at < finished
    }

    # restore into a fresh instance (an empty folder: no database there yet)
    fresh_db = tmp / "fresh" / "workbench.db"
    fresh_db.parent.mkdir()
    fresh_url, fresh_instance = f"sqlite:///{fresh_db}", tmp / "fresh-instance"
    restored = flask(fresh_url, fresh_instance, "restore", str(backup), "--yes")
    if restored.returncode != 0:
        print(f"*** flask restore failed ({restored.returncode}): {restored.stderr[-2000:]}")
        return 1

    con = sqlite3.connect(fresh_db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        revision = {row[0] for row in con.execute("SELECT version_num FROM alembic_version")}
    finally:
        con.close()
    head = migrations_head()
    engine, live = sa.create_engine(fresh_url), sa.create_engine(url)
    try:
        in_backup, in_live = stored_texts(engine, survey_id), stored_texts(live, survey_id)
    finally:
        engine.dispose()
        live.dispose()
    missing = sorted(acked_before_start - set(in_backup))
    too_late = sorted(set(in_backup) - sent_before_end)
    unacked = sorted(set(in_backup) - acked)
    twice = sorted(m for m, c in in_backup.items() if c > 1)
    live_missing = sorted(acked - set(in_live))

    # the restored instance serves: one respondent answers through gunicorn
    port2 = free_port()
    log2 = tmp / "gunicorn-restored.log"
    proc2 = start_server(fresh_url, fresh_instance, port2, 1, log2)
    try:
        wait_until_up(proc2, f"http://127.0.0.1:{port2}", log2)
        after = answer(Respondent(10**6, "marker-restored"), f"http://127.0.0.1:{port2}/s/{token}")
    finally:
        stop_server(proc2)

    print(
        f"workers={args.workers} concurrency={args.concurrency}: flask backup took "
        f"{finished - started:.2f} s under load ({backup.stat().st_size // 1024} KiB); "
        f"respondents' outcomes {dict(outcomes)}"
    )
    print(
        f"acknowledged before the backup started {len(acked_before_start)}, during it "
        f"{len(during)}, in all {len(acked)}; live database holds {sum(in_live.values())} "
        f"(missing {len(live_missing)})"
    )
    print(
        f"restored: {sum(in_backup.values())} responses; missing of those acknowledged before "
        f"the start {len(missing)}; sent after the backup finished {len(too_late)}; never "
        f"acknowledged {len(unacked)}; twice {len(twice)}"
    )
    print(
        f"restored integrity_check: {integrity}; alembic_version {sorted(revision)} "
        f"(head {sorted(head)}); a new respondent on the restored instance: {after.outcome}"
    )

    ok = True
    if integrity != "ok" or revision != head:
        print("*** the restored database is damaged or not at the migrations' head ***")
        ok = False
    if missing or too_late or unacked or twice:
        print(
            f"*** WRONG CONTENTS: missing {missing[:5]}, too late {too_late[:5]}, "
            f"never acknowledged {unacked[:5]}, twice {twice[:5]} ***"
        )
        ok = False
    if live_missing:
        print(f"*** LOST in the live database: {live_missing[:5]} ***")
        ok = False
    failures = {k: v for k, v in outcomes.items() if k != "accepted"}
    if failures:
        print(f"*** FAILED respondents: {failures}; first: ***")
        for r in [r for r in done if r.outcome != "accepted"][:5]:
            print(f"  #{r.n} {r.outcome}: {' '.join(r.detail.split())[:200]}")
        print(server_log_excerpt(log))
        ok = False
    if after.outcome != "accepted":
        print(f"*** the restored instance refused a respondent: {after.outcome} {after.detail}")
        print(server_log_excerpt(log2))
        ok = False
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--before", type=int, default=200, help="acknowledged responses before the backup"
    )
    parser.add_argument(
        "--after", type=int, default=100, help="acknowledged responses after the backup"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
