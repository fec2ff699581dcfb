"""Load test: respondents answering the public questionnaire at once, against gunicorn.

    .venv/bin/python bench/survey_load.py [--respondents 600] [--concurrency 32] [--rounds 30]
        [--workers 4] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Builds a migrated database (SQLite in WAL mode in a temporary folder, or a scratch PostgreSQL
database ``bench_survey_<random>`` created on the server of ``--database-url`` and dropped
afterwards; the given database is not touched), opens a one-question form survey, and starts
gunicorn on a free port of 127.0.0.1 (the public page's limits raised, since every
respondent comes from 127.0.0.1). Each respondent has its own cookie jar and does what a phone
does: GET /s/<token> (the form, its CSRF token and the session cookie), then POST the answer,
which must be answered by a redirect to .../thanks.

The ceiling is ``bench/_ceiling_app.py``, a bare Flask app with the same two routes (a form;
a POST answered by 303, no session, no database), served by a second gunicorn with the same
settings and driven by the same client code. Unloaded, ``--rounds`` respondents of each
alternate one at a time; under load, ``--respondents`` answer the survey ``--concurrency`` at
a time between two halves of as many ceiling respondents at the same concurrency, so a drift
in the machine's load weighs on both. Intake throughput is printed as a share of the ceiling's
(target >= 50 %), with the servers' CPU time per respondent (from /proc, so the client's own
CPU use does not blur it).

Afterwards it counts the rows stored for the survey: every accepted POST must be one row
(``lost`` = accepted - stored), ten answered sessions POST again (nothing more may be stored)
and ten new sessions send their answer twice at once (one row each at most). Any of these, or
a failed respondent, is printed loudly and makes the exit status 1.

The helpers here (servers, respondents, scratch databases) are reused by
``crash_durability.py`` and ``backup_under_load.py``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
LABELS = ["非常满意", "满意", "一般", "不满意", "非常不满意"]
PG_SCRATCH = "bench_survey"
USER_AGENT = "Mozilla/5.0 (Linux; Android 14) survey_load bench"
TIMEOUT = 60
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
    #: an open-text answer for ``q2`` (a unique marker the durability benches look for)
    text: str | None = None
    opener: urllib.request.OpenerDirector = field(default_factory=browser)
    get_s: float | None = None
    post_s: float | None = None
    get_status: int = 0
    post_status: int = 0
    location: str = ""
    outcome: str = ""  # accepted | a failure label
    data: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    #: time.monotonic() when the POST was sent and when its answer arrived
    posted_at: float | None = None
    answered_at: float | None = None


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
        if r.text is not None:
            r.data["q2"] = r.text
        r.posted_at = time.monotonic()
        r.post_status, body, r.location, r.post_s = fetch(r.opener, url, r.data)
        r.answered_at = time.monotonic()
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


def scratch_postgres(url: str, prefix: str = PG_SCRATCH) -> tuple[str, sa.Engine, str]:
    """Create a scratch database ``<prefix>_<random>`` on the server of ``url``; return its
    URL, an admin engine (on the given database) to drop it with, and its name."""
    given = sa.make_url(url)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    return given.set(database=name).render_as_string(hide_password=False), admin, name


def drop_scratch(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def with_database(url_arg: str, prefix: str, tmp: Path, body: Callable[[str], int]) -> int:
    """Run ``body(url)`` on SQLite in ``tmp`` (no URL given) or on a scratch PostgreSQL
    database on the server of ``url_arg``, dropped afterwards."""
    if not url_arg:
        return body(f"sqlite:///{tmp / 'bench.db'}")
    if not url_arg.startswith("postgresql"):
        sys.exit("--database-url takes a postgresql+psycopg:// URL (SQLite is the default)")
    url, admin, name = scratch_postgres(url_arg, prefix)
    try:
        return body(url)
    finally:
        drop_scratch(admin, name)


def prepare(url: str, instance: Path, *, marker: bool = False) -> tuple[int, str]:
    """Migrate, create an engagement and an open survey; (survey id, token).

    The survey has one Likert question ``q1``; with ``marker`` also an open-text ``q2``."""
    from flask_migrate import upgrade

    from workbench import create_app
    from workbench.accounts.models import Organisation, OrganisationKind, Role
    from workbench.accounts.services import create_user
    from workbench.core.questionnaire import Question
    from workbench.db import db
    from workbench.engagements.models import CommissionScope, EvaluationKind
    from workbench.engagements.services import create_engagement
    from workbench.surveys.builder import create_form, publish, set_questions
    from workbench.surveys.services import questions_of

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
        if marker:
            text = Question(type="text", text="您的意见和建议", required=True)
            set_questions(db.session, user, survey, [*questions_of(survey), text], "bench")
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
        db.session.remove()  # the reload above checked out a connection: closed, not leaked
        db.engine.dispose()
    return result


def gunicorn_cmd(workers: int, port: int, chdir: Path, app_spec: str) -> list[str]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        gunicorn = Path(shutil.which("gunicorn") or "gunicorn")
    return [
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
        str(chdir),
        app_spec,
    ]


def server_env(url: str, secret: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secret or secrets.token_urlsafe(30),  # 40 characters
        "WORKBENCH_ENV": "development",
        "WORKBENCH_SURVEY_RATE_LIMIT": "100000 per minute",
        # every respondent comes from 127.0.0.1, and a bench outruns the survey's ceiling
        "WORKBENCH_SURVEY_ADDRESS_RATE_LIMIT": "100000 per minute",
        "WORKBENCH_SURVEY_CEILING": "100000 per minute",
    }


def start_server(  # type: ignore[no-untyped-def]
    url: str, instance: Path, port: int, workers: int, log: Path, secret: str | None = None
):
    """The workbench under gunicorn, in its own process group (``os.killpg`` stops it)."""
    app_spec = f"workbench:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"
    return subprocess.Popen(
        gunicorn_cmd(workers, port, ROOT, app_spec),
        env=server_env(url, secret),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so stopping it stops the workers
    )


def start_ceiling(port: int, workers: int, log: Path):  # type: ignore[no-untyped-def]
    """``_ceiling_app.py`` under the same gunicorn settings."""
    return subprocess.Popen(
        gunicorn_cmd(workers, port, BENCH, "_ceiling_app:app"),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
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


def server_cpu(master: int) -> float:
    """CPU seconds (user + system) used so far by a gunicorn master's live workers."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(fields[1]) == master:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


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


def stored_texts(engine: sa.Engine, survey_id: int) -> Counter[str]:
    """The open-text answers stored for the survey (the markers), with their counts."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sa.column("answers"))
            .select_from(sa.table("survey_responses"))
            .where(sa.column("survey_id") == survey_id)
        ).scalars()
        found: Counter[str] = Counter()
        for answers in rows:
            if isinstance(answers, str):  # SQLite hands back JSON text through sa.column
                answers = json.loads(answers)
            found.update(str(v) for v in answers.values() if str(v).startswith("marker-"))
        return found


def ms(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0] * 1000
    return statistics.quantiles(xs, n=100, method="inclusive")[round(q * 100) - 1] * 1000


def server_log_excerpt(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


@dataclass
class Burst:
    """Respondents sent at a fixed concurrency: wall time and the server's CPU time."""

    respondents: list[Respondent]
    wall: float
    cpu: float

    def __add__(self, other: Burst) -> Burst:
        return Burst(
            self.respondents + other.respondents, self.wall + other.wall, self.cpu + other.cpu
        )

    @property
    def ok(self) -> list[Respondent]:
        return [r for r in self.respondents if r.outcome == "accepted"]


def burst(
    pool: ThreadPoolExecutor, url: str, master: int, numbers: range, text: bool = False
) -> Burst:
    cpu0, start = server_cpu(master), time.perf_counter()
    done = list(
        pool.map(lambda n: answer(Respondent(n, f"marker-{n}" if text else None), url), numbers)
    )
    return Burst(done, time.perf_counter() - start, server_cpu(master) - cpu0)


def run(args: argparse.Namespace, url: str, tmp: Path) -> int:
    instance = tmp / "instance"
    survey_id, token = prepare(url, instance)
    port, ceiling_port = free_port(), free_port()
    base, ceiling_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ceiling_port}"
    survey_url, ceiling_url = f"{base}/s/{token}", f"{ceiling_base}/s/{token}"
    log, ceiling_log = tmp / "gunicorn.log", tmp / "ceiling.log"
    proc = start_server(url, instance, port, args.workers, log)
    ceiling = start_ceiling(ceiling_port, args.workers, ceiling_log)
    engine = sa.create_engine(url)
    try:
        wait_until_up(proc, base, log)
        wait_until_up(ceiling, ceiling_base, ceiling_log)
        status, page, _, _ = fetch(browser(), survey_url)
        if status != 200 or "csrf_token" not in page:
            print(f"GET /s/<token> answered {status}:\n{page[:500]}", file=sys.stderr)
            print(server_log_excerpt(log), file=sys.stderr)
            return 1

        # 1. unloaded: one respondent at a time, the ceiling's alternating with the survey's,
        #    so the ratio is the cost of a request whatever else the machine is doing
        warm = [answer(Respondent(-1 - i), survey_url) for i in range(3)]
        for i in range(3):
            answer(Respondent(i), ceiling_url)
        alone: list[Respondent] = []
        alone_ceiling: list[Respondent] = []
        for i in range(args.rounds):
            alone_ceiling.append(answer(Respondent(i), ceiling_url))
            alone.append(answer(Respondent(-4 - i), survey_url))

        # 2. under load, at the same concurrency: half the ceiling's respondents, the survey's,
        #    the other half (so a drift in the machine's load weighs on both sides)
        n = args.respondents
        with ThreadPoolExecutor(args.concurrency) as pool:
            burst(pool, ceiling_url, ceiling.pid, range(args.concurrency))  # warm the pool
            top = burst(pool, ceiling_url, ceiling.pid, range(n // 2))
            load = burst(pool, survey_url, proc.pid, range(n))
            top = top + burst(pool, ceiling_url, ceiling.pid, range(n - n // 2))
        done = load.respondents

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
        stop_server(ceiling)

    def gets(rs: list[Respondent]) -> list[float]:
        return [r.get_s for r in rs if r.get_s is not None and r.get_status == 200]

    def posts(rs: list[Respondent]) -> list[float]:
        return [r.post_s for r in rs if r.post_s is not None and r.outcome == "accepted"]

    def latency(name: str, rs: list[Respondent], ref: list[Respondent] | None = None) -> str:
        g, p = gets(rs), posts(rs)
        text = (
            f"  {name:<22} GET p50 {ms(g, 0.5):7.2f} p99 {ms(g, 0.99):7.2f} ms   "
            f"POST p50 {ms(p, 0.5):7.2f} p99 {ms(p, 0.99):7.2f} ms"
        )
        if ref is not None:
            text += f"   POST p50 {ms(p, 0.5) / ms(posts(ref), 0.5):5.1f}x ceiling"
        return text

    def rates(name: str, b: Burst) -> str:
        ok = len(b.ok)
        errors = len(b.respondents) - ok
        return (
            f"  {name:<22} {ok / b.wall:8.1f} respondents/s {2 * ok / b.wall:8.1f} requests/s  "
            f"server CPU {1000 * b.cpu / max(ok, 1):6.2f} ms/respondent  errors {errors}"
        )

    failures = Counter(r.outcome for r in everyone if r.outcome != "accepted")
    ceiling_failures = Counter(
        r.outcome for r in alone_ceiling + top.respondents if r.outcome != "accepted"
    )
    sent = sum(1 for r in everyone if r.post_status)
    intake, ceiling_rate = len(load.ok) / load.wall, len(top.ok) / top.wall

    print(
        f"database={sa.make_url(url).get_backend_name()} workers={args.workers} (sync) "
        f"respondents={args.rounds} one at a time + {n} at concurrency={args.concurrency}"
    )
    print(f"unloaded, one respondent at a time, alternating ({args.rounds} rounds each):")
    print(latency("ceiling (bare Flask)", alone_ceiling))
    print(latency("survey /s/<token>", alone, alone_ceiling))
    print(f"under load ({args.concurrency} at once; GET + POST per respondent):")
    print(latency("ceiling (bare Flask)", top.respondents))
    print(latency("survey /s/<token>", done, top.respondents))
    print(rates("ceiling (bare Flask)", top))
    print(rates("survey /s/<token>", load))
    print(
        f"  intake {intake:.1f} respondents/s = {100 * intake / ceiling_rate:.0f} % of the "
        f"ceiling (target >= 50 %); server CPU per respondent "
        f"{(load.cpu / max(len(load.ok), 1)) / (top.cpu / max(len(top.ok), 1)):.1f}x the ceiling's"
    )
    print(f"POSTs sent {sent}, accepted (303 -> thanks) {len(accepted)}, stored rows {stored}")
    print(
        f"failures: {dict(failures) or 'none'}; "
        f"ceiling failures: {dict(ceiling_failures) or 'none'}"
    )
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
    parser.add_argument("--respondents", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=30, help="unloaded respondents, one at a time"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL URL: a scratch database bench_survey_<random> is created on that "
        "server and dropped afterwards (the given database is not touched); default SQLite",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(
            with_database(
                args.database_url, PG_SCRATCH, Path(tmp), lambda url: run(args, url, Path(tmp))
            )
        )


if __name__ == "__main__":
    main()
