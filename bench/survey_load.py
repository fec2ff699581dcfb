"""Load test: respondents answering the public questionnaire at once, against gunicorn.

    .venv/bin/python bench/survey_load.py [--respondents 200] [--concurrency 20] [--rounds 30]
        [--workers 2] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a migrated database (SQLite in a temporary folder, or a scratch PostgreSQL database
``bench_survey`` created on the server of ``--database-url`` and dropped afterwards; the given
database is not touched), opens a one-question form survey, and starts gunicorn on a free port
of 127.0.0.1 (the public page's per-IP limit raised, since every respondent comes from
127.0.0.1). Each respondent has its own cookie jar and does what a phone does: GET /s/<token>
(the form, its CSRF token and the session cookie), then POST the answer, which must be
answered by a redirect to .../thanks.

The baseline is GET /login on the same server (a form with a CSRF token and a fresh session,
no database work). Unloaded, ``--rounds`` respondents alternate with baseline requests one at a
time, so the ratio is what a request costs whatever else the machine is doing; under load,
``--respondents`` answer ``--concurrency`` at a time, between two halves of as many baseline
requests at the same concurrency.

Afterwards it counts the rows stored for the survey: every accepted POST must be one row
(``lost`` = accepted - stored), ten answered sessions POST again (nothing more may be stored)
and ten new sessions send their answer twice at once (one row each at most). Any of these, or
a failed respondent, is printed loudly and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
PG_SCRATCH = "bench_survey"
USER_AGENT = "Mozilla/5.0 (Linux; Android 14) survey_load bench"
TIMEOUT = 60


class FormParser(HTMLParser):
    """The first POST form's hidden inputs and the choices offered for ``q1``."""

    def __init__(self) -> None:
        super().__init__()
        self.in_form = False
        self.done = False
        self.hidden: dict[str, str] = {}
        self.choices: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and a.get("method", "").lower() == "post":
            self.in_form = True
        elif tag == "input" and self.in_form:
            if a.get("type") == "hidden" and a.get("name"):
                self.hidden[a["name"]] = a.get("value", "")
            elif a.get("name") == "q1" and a.get("type") in ("radio", "checkbox"):
                self.choices.append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self.in_form:
            self.in_form, self.done = False, True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # hand the 3xx back, so the POST's own latency and Location are measured


def browser() -> urllib.request.OpenerDirector:
    """A respondent: its own cookie jar, redirects not followed."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    opener.addheaders = [("User-Agent", USER_AGENT)]
    return opener


def fetch(
    opener: urllib.request.OpenerDirector, url: str, data: dict[str, str] | None = None
) -> tuple[int, str, str, float]:
    """(status, body, Location, seconds); HTTP errors are results, not exceptions."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    start = time.perf_counter()
    try:
        with opener.open(url, data=body, timeout=TIMEOUT) as resp:
            status, text, location = resp.status, resp.read().decode(), resp.headers["Location"]
    except urllib.error.HTTPError as exc:
        status, text, location = (
            exc.code,
            exc.read().decode(errors="replace"),
            exc.headers["Location"],
        )
    return status, text, location or "", time.perf_counter() - start


@dataclass
class Respondent:
    n: int
    opener: urllib.request.OpenerDirector = field(default_factory=browser)
    get_s: float | None = None
    post_s: float | None = None
    get_status: int = 0
    post_status: int = 0
    location: str = ""
    outcome: str = ""  # accepted | a failure label
    data: dict[str, str] = field(default_factory=dict)
    detail: str = ""


def answer(r: Respondent, url: str) -> Respondent:
    try:
        r.get_status, page, _, r.get_s = fetch(r.opener, url)
        if r.get_status != 200:
            r.outcome, r.detail = f"GET {r.get_status}", page[:300]
            return r
        form = FormParser()
        form.feed(page)
        if "csrf_token" not in form.hidden:
            r.outcome, r.detail = "GET 200 without csrf_token", page[:300]
            return r
        choices = [c for c in form.choices if c] or LABELS
        r.data = {**form.hidden, "q1": choices[r.n % len(choices)]}
        r.post_status, body, r.location, r.post_s = fetch(r.opener, url, r.data)
        if 300 <= r.post_status < 400 and r.location.rstrip("/").endswith("/thanks"):
            r.outcome = "accepted"
        elif 300 <= r.post_status < 400:
            r.outcome, r.detail = f"POST {r.post_status} -> {r.location}", ""
        else:
            r.outcome, r.detail = f"POST {r.post_status}", body[:300]
    except Exception as exc:  # a connection reset or timeout is a result of the load test
        r.outcome, r.detail = f"error {type(exc).__name__}", str(exc)[:300]
    return r


def double_tap(url: str) -> list[str]:
    """A new session GETs the form, then sends its answer twice at once (a double tap on a
    slow phone): one of the two may be stored, never both. The two POSTs' outcomes."""
    opener = browser()
    status, page, _, _ = fetch(opener, url)
    form = FormParser()
    form.feed(page)
    if status != 200 or "csrf_token" not in form.hidden:
        return [f"GET {status}"]
    data = {**form.hidden, "q1": LABELS[0]}
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def tap() -> None:
        barrier.wait()
        status, _, location, _ = fetch(opener, url, data)
        outcomes.append("accepted" if location.rstrip("/").endswith("/thanks") else str(status))

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


def login_page(url: str) -> tuple[int, float]:
    status, _, _, seconds = fetch(browser(), url)
    return status, seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_postgres(url: str) -> tuple[str, sa.Engine]:
    """Create the scratch database on the server of ``url``; return its URL and an admin
    engine (on the given database) to drop it with."""
    given = sa.make_url(url)
    if given.database == PG_SCRATCH:
        sys.exit(f"--database-url names {PG_SCRATCH} itself; give the server's usual database")
    admin = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_SCRATCH}
        )
        if exists:
            admin.dispose()
            sys.exit(f"database {PG_SCRATCH} already exists (a previous run?); drop it first")
        conn.execute(sa.text(f"CREATE DATABASE {PG_SCRATCH}"))
    return given.set(database=PG_SCRATCH).render_as_string(hide_password=False), admin


def prepare(url: str, instance: Path) -> tuple[int, str]:
    """Migrate, create an engagement and an open one-question survey; (survey id, token)."""
    from flask_migrate import upgrade

    from workbench import create_app
    from workbench.accounts.models import Organisation, OrganisationKind, Role
    from workbench.accounts.services import create_user
    from workbench.db import db
    from workbench.engagements.models import CommissionScope, EvaluationKind
    from workbench.engagements.services import create_engagement
    from workbench.surveys.builder import create_form, publish

    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": url,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_PARALLELISM": 1,
        }
    )
    with app.app_context():
        upgrade()
        client = Organisation(name="临川县财政局", kind=OrganisationKind.CLIENT)
        db.session.add(client)
        user = create_user(
            db.session,
            None,
            username="bench",
            display_name="Bench",
            password="bench-password-1",
            role=Role.EVALUATOR,
        )
        engagement = create_engagement(
            db.session,
            user,
            title="农村饮水安全工程绩效评价",
            client=client,
            project_name="农村饮水安全巩固提升工程",
            kind=EvaluationKind.PROJECT,
            scope=CommissionScope.EVALUATION,
            fiscal_year=2025,
        )
        survey = create_form(
            db.session,
            user,
            engagement,
            title="受益群众满意度调查",
            group="受益群众",
            population=None,
            start_from=None,
        )
        publish(
            db.session,
            user,
            survey,
            status="open",
            opens_at=None,
            closes_at=None,
            target_n=None,
            distributed=None,
            require_token=False,
            group_column=None,
            group_targets={},
        )
        db.session.commit()
        result = survey.id, str(survey.public_token)
        db.engine.dispose()
    return result


def start_server(url: str, instance: Path, port: int, workers: int, log: Path):  # type: ignore[no-untyped-def]
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        gunicorn = Path(shutil.which("gunicorn") or "gunicorn")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(30),  # 40 characters
        "WORKBENCH_ENV": "development",
        "WORKBENCH_SURVEY_RATE_LIMIT": "100000 per minute",
    }
    app_spec = f"workbench:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"
    cmd = [
        str(gunicorn),
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "120",
        "--no-control-socket",  # not the shared ~/.gunicorn/gunicorn.ctl of a `make serve`
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        app_spec,
    ]
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops the workers
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until_up(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            sys.exit(f"gunicorn exited with status {proc.returncode}")
        try:
            if login_page(base + "/login")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("gunicorn did not answer GET /login within 60 s")


def count_rows(engine: sa.Engine, survey_id: int) -> tuple[int, int, int]:
    """(rows stored for the survey, distinct row numbers, distinct device hashes)."""
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT row_no), count(DISTINCT device_hash) "
                    "FROM survey_responses WHERE survey_id = :s"
                ),
                {"s": survey_id},
            ).one()
        )


def ms(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0] * 1000
    return statistics.quantiles(xs, n=100, method="inclusive")[round(q * 100) - 1] * 1000


def server_log_excerpt(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def run(args: argparse.Namespace, url: str, tmp: Path) -> int:
    instance = tmp / "instance"
    survey_id, token = prepare(url, instance)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    login_url, survey_url = f"{base}/login", f"{base}/s/{token}"
    log = tmp / "gunicorn.log"
    proc = start_server(url, instance, port, args.workers, log)
    engine = sa.create_engine(url)
    try:
        wait_until_up(proc, base, log)
        status, page, _, _ = fetch(browser(), survey_url)
        if status != 200 or "csrf_token" not in page:
            print(f"GET /s/<token> answered {status}:\n{page[:500]}", file=sys.stderr)
            print(server_log_excerpt(log), file=sys.stderr)
            return 1

        # 1. unloaded: one request at a time, respondents alternating with the baseline, so
        #    the ratio is the cost of a request whatever else the machine is doing
        warm = [answer(Respondent(-1 - i), survey_url) for i in range(3)]
        alone: list[Respondent] = []
        alone_base: list[tuple[int, float]] = []
        for i in range(args.rounds):
            alone_base.append(login_page(login_url))
            alone.append(answer(Respondent(-4 - i), survey_url))

        # 2. under load, at the same concurrency: half the baseline requests, the respondents,
        #    the other half (so a drift in the machine's load weighs on both sides)
        def baseline_burst(n: int) -> tuple[list[tuple[int, float]], float]:
            start = time.perf_counter()
            results = list(pool.map(lambda _: login_page(login_url), range(n)))
            return results, time.perf_counter() - start

        with ThreadPoolExecutor(args.concurrency) as pool:
            first, first_wall = baseline_burst(args.respondents // 2)
            start = time.perf_counter()
            done = list(
                pool.map(lambda r: answer(r, survey_url), map(Respondent, range(args.respondents)))
            )
            wall = time.perf_counter() - start
            second, second_wall = baseline_burst(args.respondents - args.respondents // 2)
        loaded_base, base_wall = first + second, first_wall + second_wall

        stored, distinct_rows, _ = count_rows(engine, survey_id)
        everyone = warm + alone + done
        accepted = [r for r in everyone if r.outcome == "accepted"]
        lost = len(accepted) - stored

        # 3. answered sessions POST again (one after the other per session, 10 sessions)
        again = [r for r in done if r.outcome == "accepted"][:10]
        repost: Counter[int] = Counter()
        lock = threading.Lock()

        def post_again(r: Respondent) -> None:
            status, _, _, _ = fetch(r.opener, survey_url, r.data)
            with lock:
                repost[status] += 1

        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(post_again, again))
        after, _, _ = count_rows(engine, survey_id)
        extra = after - stored

        # 4. new sessions send their answer twice at once
        taps = [double_tap(survey_url) for _ in range(10)]
        tapped, distinct_rows, devices = count_rows(engine, survey_id)
        tap_sessions = sum(1 for t in taps if "accepted" in t)
        tap_extra = tapped - after - tap_sessions
    finally:
        engine.dispose()
        stop_server(proc)

    def ok_times(pairs: list[tuple[int, float]]) -> list[float]:
        return [seconds for status, seconds in pairs if status == 200]

    def gets(rs: list[Respondent]) -> list[float]:
        return [r.get_s for r in rs if r.get_s is not None and r.get_status == 200]

    def posts(rs: list[Respondent]) -> list[float]:
        return [r.post_s for r in rs if r.post_s is not None and r.outcome == "accepted"]

    def line(name: str, xs: list[float], b50: float) -> str:
        return (
            f"  {name:<16} p50 {ms(xs, 0.5):8.2f} ms  p95 {ms(xs, 0.95):8.2f} ms  "
            f"ratio p50 {ms(xs, 0.5) / b50:6.1f}x"
        )

    base_alone, base_loaded = ok_times(alone_base), ok_times(loaded_base)
    b_alone, b_loaded = ms(base_alone, 0.5), ms(base_loaded, 0.5)
    failures = Counter(r.outcome for r in everyone if r.outcome != "accepted")
    sent = sum(1 for r in everyone if r.post_status)
    done_ok = sum(1 for r in done if r.outcome == "accepted")

    print(
        f"database={sa.make_url(url).get_backend_name()} workers={args.workers} "
        f"respondents={args.rounds} one at a time + {args.respondents} at "
        f"concurrency={args.concurrency}"
    )
    print(f"unloaded, alternating with the baseline ({args.rounds} rounds):")
    print(f"  {'GET /login':<16} p50 {b_alone:8.2f} ms  p95 {ms(base_alone, 0.95):8.2f} ms")
    print(line("GET  /s/<token>", gets(alone), b_alone))
    print(line("POST /s/<token>", posts(alone), b_alone))
    print(f"under load ({args.concurrency} at once; ratios to the loaded baseline):")
    print(f"  {'GET /login':<16} p50 {b_loaded:8.2f} ms  p95 {ms(base_loaded, 0.95):8.2f} ms")
    print(line("GET  /s/<token>", gets(done), b_loaded))
    print(line("POST /s/<token>", posts(done), b_loaded))
    base_rate, rate = len(base_loaded) / base_wall, done_ok / wall
    print(
        f"  throughput {rate:6.1f} responses/s (GET + POST), baseline {base_rate:6.1f} "
        f"GET /login/s: ratio {base_rate / rate:5.1f} login pages per response"
    )
    print(f"POSTs sent {sent}, accepted (303 -> thanks) {len(accepted)}, stored rows {stored}")
    print(f"failures: {dict(failures) or 'none'}")
    if len(base_alone) + len(base_loaded) != len(alone_base) + len(loaded_base):
        print("baseline GET /login non-200 answers (left out of its latencies)")
    print(
        f"re-POST from {len(again)} answered sessions: statuses {dict(repost)}, "
        f"extra rows stored {extra}"
    )
    print(
        f"double tap from {len(taps)} new sessions: outcomes {dict(Counter(map(tuple, taps)))}, "
        f"rows stored {tapped - after} (expected {tap_sessions})"
    )
    print(
        f"stored rows in all {tapped}: distinct device hashes {devices}, "
        f"distinct 序号 {distinct_rows}"
    )
    if distinct_rows != tapped:
        print(f"note: {tapped - distinct_rows} stored rows repeat another row's number (序号)")

    ok = True
    if lost > 0:
        print(f"*** LOST: {lost} accepted responses are not in the database ***")
        ok = False
    elif lost < 0:
        print(f"*** UNEXPECTED: {-lost} more rows stored than POSTs accepted ***")
        ok = False
    if extra:
        print(f"*** DUPLICATES: {extra} re-POSTs from answered sessions were stored ***")
        ok = False
    if tap_extra:
        print(f"*** DUPLICATES: {tap_extra} double-tapped sessions stored two responses ***")
        ok = False
    if failures:
        print("*** FAILED respondents; first details: ***")
        for r in [r for r in everyone if r.outcome != "accepted"][:5]:
            print(f"  #{r.n} {r.outcome}: {' '.join(r.detail.split())[:200]}")
        print("--- server log (last lines) ---")
        print(server_log_excerpt(log))
        ok = False
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=30, help="unloaded respondents, one at a time"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL: a scratch database bench_survey is created on that server "
        "and dropped afterwards (the given database is not touched); default SQLite",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if not args.database_url:
            sys.exit(run(args, f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp)))
        if not args.database_url.startswith("postgresql"):
            sys.exit("--database-url takes a postgresql+psycopg:// URL (SQLite is the default)")
        url, admin = scratch_postgres(args.database_url)
        try:
            status = run(args, url, Path(tmp))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_SCRATCH} WITH (FORCE)"))
            admin.dispose()
        sys.exit(status)


if __name__ == "__main__":
    main()
