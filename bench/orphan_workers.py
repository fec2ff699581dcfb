"""Kill only the gunicorn master (SIGKILL) and watch its workers: how long do orphans serve,
and when can a new server bind the port?

    .venv/bin/python bench/orphan_workers.py [--config python:workbench.gunicorn_conf | --no-config]
        [--workers 2] [--timeout 120] [--watch 90]

Starts ``gunicorn wsgi:app`` as ``make serve`` does (sync workers, ``--timeout``), waits until
it answers, keeps ``--clients`` clients requesting pages, sends SIGKILL to the master only
(not its process group), then once a second records how many of the former workers are
alive, whether the port still answers, and whether a second gunicorn could bind it. Prints the
time until the last worker is gone and until a new server could start.

Measured (2 cores, 2 workers, 4 clients): without our config the orphans served for the whole
60 s watched and the port stayed taken; with ``workbench/gunicorn_conf.py`` (PR_SET_PDEATHSIG) no
request was answered after the kill, the port was free at once, the workers exited in ~5 s.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not serving
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def can_bind(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="python:workbench.gunicorn_conf")
    parser.add_argument("--no-config", action="store_true", help="gunicorn without our hooks")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--clients", type=int, default=4, help="clients keeping it busy")
    parser.add_argument("--watch", type=int, default=90, help="seconds to watch the orphans")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/wb.db",
            "SECRET_KEY": "orphan-bench-secret-key-0123456789-abcdef",
            "WORKBENCH_ENV": "development",
        }
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "workbench", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        config = ["--config", "/dev/null"] if args.no_config else ["--config", args.config]
        cmd = [
            str(Path(sys.executable).with_name("gunicorn")),
            *config,
            "--workers",
            str(args.workers),
            "--worker-class",
            "sync",
            "--timeout",
            str(args.timeout),
            "--no-control-socket",
            "--bind",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ]
        log = open(Path(tmp) / "gunicorn.log", "wb")  # noqa: SIM115
        master = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        for _ in range(100):
            if answers(port):
                break
            time.sleep(0.2)
        else:
            print((Path(tmp) / "gunicorn.log").read_text())
            return 1
        children = subprocess.run(
            ["pgrep", "-P", str(master.pid)], capture_output=True, text=True
        ).stdout.split()
        workers = [int(p) for p in children]
        print(f"master {master.pid}, workers {workers}, port {port}, config {config[1]}")
        stop = threading.Event()

        def traffic() -> None:  # steady load: a sync worker then never waits idle
            while not stop.is_set():
                answers(port)

        load = [threading.Thread(target=traffic, daemon=True) for _ in range(args.clients)]
        for thread in load:
            thread.start()
        time.sleep(1)
        os.kill(master.pid, signal.SIGKILL)
        master.wait()
        killed = time.monotonic()
        last_worker = new_server = None
        while time.monotonic() - killed < args.watch:
            t = time.monotonic() - killed
            living = [p for p in workers if alive(p)]
            serving = bool(living) and answers(port)
            bindable = can_bind(port)
            print(f"t={t:5.1f}s workers alive {len(living)} answers {serving} bindable {bindable}")
            if not living and last_worker is None:
                last_worker = t
            if bindable and not serving and new_server is None:
                new_server = t
            if last_worker is not None and new_server is not None:
                break
            time.sleep(1)
        stop.set()
        for p in workers:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        print(
            f"last worker gone after {last_worker if last_worker is not None else '>watch'} s; "
            f"port free after {new_server if new_server is not None else '>watch'} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
