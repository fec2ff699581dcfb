"""Link tokens and one-time codes never reach the access log (issue #13, "Tokens in access
logs"): the masking function, gunicorn's logger class of ``make run`` and the Werkzeug filter."""

from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.gunicorn_conf import MaskingLogger
from workbench.logmask import MaskTokensFilter, install_werkzeug_filter, mask_tokens

TOKEN = "Zr8fQ-kP2_xY9wLmN3bV7cT1sD4gH6jA0eR5uI8oQ2w"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        (f"GET /x/{TOKEN} HTTP/1.1", "GET /x/*** HTTP/1.1"),
        (f"POST /x/{TOKEN}/sheet HTTP/1.1", "POST /x/***/sheet HTTP/1.1"),
        (f"/x/{TOKEN}/declare", "/x/***/declare"),
        (f"/s/{TOKEN}?t=K7P2QX", "/s/***?t=***"),
        (f"/s/{TOKEN}/thanks", "/s/***/thanks"),
        ("t=K7P2QX", "t=***"),  # gunicorn's %(q)s atom: the query string without "?"
        ("lang=en&t=K7P2QX&x=1", "lang=en&t=***&x=1"),
        ("/s/abc?T=K7", "/s/***?T=***"),
        (
            f"https://pj.example.gov.cn/pj/s/{TOKEN}?t=K7",
            "https://pj.example.gov.cn/pj/s/***?t=***",
        ),
        # nothing else is touched
        ("GET /engagements/3/surveys/2/results?year=2025 HTTP/1.1", None),
        ("GET /experts/?q=张 HTTP/1.1", None),
        ("/login?next=/engagements/", None),
        ("-", None),
        ("at=1&start=2", None),
    ],
)
def test_mask_tokens(raw: str, masked: str | None) -> None:
    assert mask_tokens(raw) == (masked if masked is not None else raw)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    token=st.text(st.characters(categories=("L", "N"), include_characters="-_"), min_size=1),
    code=st.text(st.characters(categories=("L", "N")), min_size=1, max_size=20),
    kind=st.sampled_from(["x", "s"]),
)
def test_no_token_or_code_survives_masking(token: str, code: str, kind: str) -> None:
    line = f"GET /{kind}/{token}?t={code} HTTP/1.1"
    masked = mask_tokens(line)
    assert masked == f"GET /{kind}/***?t=*** HTTP/1.1"


def _request(path: str, query: str = "", referer: str = "-"):  # type: ignore[no-untyped-def]
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + (f"?{query}" if query else ""),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_REFERER": referer,
        "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    headers = [("REFERER", referer), ("USER-AGENT", "Mozilla/5.0")]
    resp = SimpleNamespace(
        status="302 FOUND", sent=10, headers=[("Location", f"/x/{TOKEN}"), ("X-Other", "1")]
    )
    req = SimpleNamespace(headers=headers)
    return resp, req, environ, dt.timedelta(milliseconds=12)


def test_gunicorn_logger_masks_every_atom() -> None:
    logger = MaskingLogger(Config())
    resp, req, environ, took = _request(f"/x/{TOKEN}/sheet", "t=K7P2QX", f"https://h/s/{TOKEN}")
    atoms = logger.atoms(resp, req, environ, took)
    assert atoms["r"] == "GET /x/***/sheet?t=*** HTTP/1.1"
    assert atoms["U"] == "/x/***/sheet"
    assert atoms["q"] == "t=***"
    assert atoms["f"] == "https://h/s/***"
    assert atoms["{referer}i"] == "https://h/s/***"
    assert atoms["{location}o"] == "/x/***"
    assert atoms["{raw_uri}e"] == "/x/***/sheet?t=***"
    assert atoms["s"] == "302" and atoms["h"] == "10.0.0.7"
    assert not [k for k, v in atoms.items() if "K7P2QX" in str(v) or TOKEN in str(v)]


def test_gunicorn_access_lines_carry_no_token(caplog: pytest.LogCaptureFixture) -> None:
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = MaskingLogger(cfg)
    resp, req, environ, took = _request(f"/s/{TOKEN}", "t=K7P2QX")
    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        logger.access(resp, req, environ, took)
    lines = [r.getMessage() for r in caplog.records if r.name == "gunicorn.access"]
    assert len(lines) == 1
    assert '"GET /s/***?t=*** HTTP/1.1" 302' in lines[0]
    assert TOKEN not in lines[0] and "K7P2QX" not in lines[0]


def test_make_run_uses_the_masking_logger() -> None:
    from pathlib import Path

    import workbench.gunicorn_conf as conf

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text(encoding="utf-8")
    assert "-c python:workbench.gunicorn_conf" in makefile
    assert conf.logger_class is MaskingLogger


def test_the_development_server_log_is_masked(app, caplog: pytest.LogCaptureFixture) -> None:
    install_werkzeug_filter()
    install_werkzeug_filter()  # idempotent
    werkzeug = logging.getLogger("werkzeug")
    assert sum(isinstance(f, MaskTokensFilter) for f in werkzeug.filters) == 1
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        werkzeug.info(
            '%s - - [%s] "%s" %s %s', "127.0.0.1", "now", f"GET /x/{TOKEN} HTTP/1.1", 200, "-"
        )
    assert caplog.records[-1].getMessage().endswith('"GET /x/*** HTTP/1.1" 200 -')
