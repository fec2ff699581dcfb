"""Crash durability: kill -9 gunicorn (master and workers) while respondents are answering.

    .venv/bin/python bench/crash_durability.py [--respondents 400] [--concurrency 16]
        [--workers 4] [--kill-after 150]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Builds a database (SQLite in WAL mode in a temporary folder, or a scratch PostgreSQL database
``bench_crash_<random>`` on the server of ``--database-url``, dropped afterwards) with an open
survey that has an open-text question, and starts gunicorn. Respondents answer ``--concurrency``
at a time, each with a unique open-text answer (``marker-<n>``). As soon as ``--kill-after``
responses have been acknowledged (a 303 to .../thanks), the whole process group of gunicorn -
master and workers - gets SIGKILL at once (``os.killpg``), mid-request for most workers. The
respondents still queued meet a refused connection.

Then gunicorn is started again on the same database and the bench checks, through a fresh
connection, that every acknowledged marker is stored (exactly once), and prints how many
responses were stored without their acknowledgement reaching the client (committed just before
the kill: allowed), and whether SQLite's ``PRAGMA integrity_check`` passes. The restarted server
must accept a new respondent. Exit status 1 when anything acknowledged is missing, stored twice,
or the database is damaged.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa
from survey_load import (
    Respondent,
    answer,
    free_port,
    prepare,
    server_log_excerpt,
    start_server,
    stored_texts,
    wait_until_up,
    with_database,
)


def run(args: argparse.Namespace, url: str, tmp: Path) -> int:
    instance = tmp / "instance"
    survey_id, token = prepare(url, instance, marker=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    survey_url = f"{base}/s/{token}"
    log = tmp / "gunicorn.log"
    secret = "crash-durability-bench-secret-key-0123456789"  # the same after the restart
    proc = start_server(url, instance, port, args.workers, log, secret)
    wait_until_up(proc, base, log)

    acknowledged = 0
    lock = threading.Lock()
    killed = threading.Event()
    killed_at: list[float] = []

    def one(n: int) -> Respondent:
        nonlocal acknowledged
        if killed.is_set():  # no point queueing on a dead server; counted as never sent
            return Respondent(n, f"marker-{n}", outcome="not sent")
        r = answer(Respondent(n, f"marker-{n}"), survey_url)
        with lock:
            if r.outcome == "accepted":
                acknowledged += 1
            if acknowledged >= args.kill_after and not killed.is_set():
                os.killpg(proc.pid, signal.SIGKILL)  # master and workers, no clean-up at all
                killed_at.append(time.monotonic())
                killed.set()
        return r

    start = time.monotonic()
    with ThreadPoolExecutor(args.concurrency) as pool:
        done = list(pool.map(one, range(args.respondents)))
    proc.wait()
    if not killed.is_set():
        print("*** the run ended before the kill: raise --respondents or lower --kill-after ***")
        return 1
    outcomes = Counter(r.outcome for r in done)
    acked = {r.text for r in done if r.outcome == "accepted"}
    in_flight = [r for r in done if r.posted_at is not None and r.outcome != "accepted"]

    # restart on the same database
    proc = start_server(url, instance, port, args.workers, log, secret)
    try:
        wait_until_up(proc, base, log)
        after = answer(Respondent(10**6, "marker-after-restart"), survey_url)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    engine = sa.create_engine(url)
    try:
        stored = stored_texts(engine, survey_id)
        integrity = "n/a (PostgreSQL)"
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                integrity = conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()
    finally:
        engine.dispose()
    stored.pop("marker-after-restart", None)
    missing = sorted(acked - set(stored))
    twice = sorted(m for m, c in stored.items() if c > 1)
    unacked = sorted(set(stored) - acked)
    phantom = [m for m in unacked if m not in {r.text for r in in_flight}]

    print(
        f"database={sa.make_url(url).get_backend_name()} workers={args.workers} "
        f"concurrency={args.concurrency}: SIGKILL to the process group after "
        f"{args.kill_after} acknowledgements, {killed_at[0] - start:.1f} s into the run"
    )
    print(f"respondents' outcomes: {dict(outcomes)}")
    print(f"POSTs in flight at the kill (sent, no acknowledgement): {len(in_flight)}")
    print(
        f"acknowledged {len(acked)}, stored {sum(stored.values())}, missing {len(missing)}, "
        f"stored twice {len(twice)}, stored without acknowledgement {len(unacked)} "
        f"(of the {len(in_flight)} in flight)"
    )
    print(f"integrity_check: {integrity}; after the restart a new respondent: {after.outcome}")

    ok = True
    if missing:
        print(f"*** MISSING: {len(missing)} acknowledged responses, e.g. {missing[:5]} ***")
        ok = False
    if twice or phantom:
        print(f"*** UNEXPECTED rows: twice {twice[:5]}, never sent {phantom[:5]} ***")
        ok = False
    if integrity not in ("ok", "n/a (PostgreSQL)"):
        print(f"*** DAMAGED database: {integrity} ***")
        ok = False
    if after.outcome != "accepted":
        print(f"*** the restarted server refused a respondent: {after.outcome} {after.detail}")
        print(server_log_excerpt(log))
        ok = False
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--respondents", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--kill-after", type=int, default=150, help="acknowledged responses before the kill"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL: a scratch database bench_crash_<random> is created on that "
        "server and dropped afterwards; default SQLite",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(
            with_database(
                args.database_url, "bench_crash", Path(tmp), lambda url: run(args, url, Path(tmp))
            )
        )


if __name__ == "__main__":
    main()
