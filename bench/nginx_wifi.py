"""Load test: a village answering on one Wi-Fi, through a real nginx on 127.0.0.1.

    .venv/bin/python bench/nginx_wifi.py [--respondents 200] [--concurrency 20] [--workers 2]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

(``scripts/loadtest_nginx.sh`` installs nginx first when it is missing, then runs this.)

Builds a migrated scratch database (as ``survey_load.py``), opens a survey with the burst
screening rule on (more than 2 responses in 10 minutes), starts the workbench under gunicorn on
a free local port with ``WORKBENCH_TRUSTED_PROXIES=1`` and the default public limits, and an
nginx on another free port of 127.0.0.1 proxying to it with ``X-Forwarded-For`` (a temporary
config in a temporary prefix). ``--respondents`` respondents, each with its own cookie jar and
their own answers, all from one address (127.0.0.1), answer through nginx ``--concurrency`` at
a time. Then it counts the stored rows and screens them: every respondent must be stored (no
429) and none excluded (the shared address alone is no reason). Prints the numbers as JSON; the
exit status is 1 when either fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import survey_load as sl

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def start_nginx(binary: str, prefix: Path, port: int, upstream: int) -> subprocess.Popen[bytes]:
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, upstream=upstream))
    with (prefix / "nginx.out").open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def screen(url: str, instance: Path, survey_id: int) -> dict[str, int]:
    """Rows stored, the burst flags and exclusions of the survey, as the workbench screens."""
    from workbench import create_app
    from workbench.db import db
    from workbench.surveys import services
    from workbench.surveys.models import Survey, SurveyResponse

    app = create_app({"INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        survey = db.session.get(Survey, survey_id)
        log = services.exclusion_log(services.screened(survey))
        addresses = db.session.scalar(
            sa.select(sa.func.count(sa.distinct(SurveyResponse.ip_hash))).where(
                SurveyResponse.survey_id == survey_id
            )
        )
        stored = db.session.scalar(
            sa.select(sa.func.count(SurveyResponse.id)).where(SurveyResponse.survey_id == survey_id)
        )
        db.session.remove()  # its connection closed, not left to the garbage collector
        db.engine.dispose()
    return {
        "stored": int(stored or 0),
        "addresses": int(addresses or 0),
        "burst": log["burst"],
        "excluded": log["excluded"],
    }


def set_burst_rule(url: str, survey_id: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE surveys SET cleaning = :rules WHERE id = :id"),
            {"rules": json.dumps({"burst_count": 2, "burst_minutes": 10}), "id": survey_id},
        )
    engine.dispose()


def run(url: str, tmp: Path, *, respondents: int, concurrency: int, workers: int) -> dict:
    binary = nginx_binary()
    if binary is None:
        raise SystemExit("nginx is not installed: run scripts/loadtest_nginx.sh")
    instance = tmp / "instance"
    instance.mkdir()
    survey_id, token = sl.prepare(url, instance, marker=True)
    set_burst_rule(url, survey_id)
    app_port, proxy_port = sl.free_port(), sl.free_port()
    log = tmp / "gunicorn.log"
    env = {**sl.server_env(url), "WORKBENCH_TRUSTED_PROXIES": "1"}
    for name in ("RATE_LIMIT", "ADDRESS_RATE_LIMIT", "CEILING"):
        env.pop(f"WORKBENCH_SURVEY_{name}", None)  # the defaults, as deployed
    app_spec = f"workbench:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"
    with log.open("ab") as out:  # the child keeps its own descriptor
        server = subprocess.Popen(
            sl.gunicorn_cmd(workers, app_port, sl.ROOT, app_spec),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    prefix = tmp / "nginx"
    prefix.mkdir()
    proxy = start_nginx(binary, prefix, proxy_port, app_port)
    try:
        base = f"http://127.0.0.1:{proxy_port}"
        sl.wait_until_up(server, f"http://127.0.0.1:{app_port}", log)
        sl.wait_until_up(proxy, base, prefix / "error.log")
        people = [sl.Respondent(n, text=f"第{n}户：自来水有时浑浊") for n in range(respondents)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            done = list(pool.map(lambda r: sl.answer(r, f"{base}/s/{token}"), people))
        seconds = time.perf_counter() - started
    finally:
        sl.stop_server(proxy)
        sl.stop_server(server)
    outcomes = Counter(r.outcome for r in done)
    return {
        "respondents": respondents,
        "concurrency": concurrency,
        "accepted": outcomes.get("accepted", 0),
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 1),
        **screen(url, instance, survey_id),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--respondents", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nginx_wifi_") as name:
        tmp = Path(name)
        result: dict = {}

        def body(url: str) -> int:
            result.update(
                run(
                    url,
                    tmp,
                    respondents=args.respondents,
                    concurrency=args.concurrency,
                    workers=args.workers,
                )
            )
            return 0

        sl.with_database(args.database_url, "bench_wifi", tmp, body)
    print(json.dumps(result, ensure_ascii=False))
    ok = result["accepted"] == result["stored"] == args.respondents and result["excluded"] == 0
    if not ok:
        print("FAIL: not every respondent was stored, or some were excluded", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
