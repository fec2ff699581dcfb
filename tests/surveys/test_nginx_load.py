"""200 respondents on one Wi-Fi through a real nginx on 127.0.0.1 (bench/nginx_wifi.py):
all stored, none excluded on the shared address alone. nginx is installed by
scripts/install-system-deps.sh (``make test``); skipped where it is missing."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import nginx_wifi  # noqa: E402

from tests.conftest import PG_URL, USE_PG  # noqa: E402

pytestmark = pytest.mark.skipif(nginx_wifi.nginx_binary() is None, reason="nginx is not installed")


def test_200_respondents_behind_nginx_from_one_address(tmp_path):
    """On the suite's database server: SQLite in tmp_path, or a scratch PostgreSQL database
    (created and dropped by the bench) when the suite runs on PostgreSQL."""
    result: dict = {}

    def body(url: str) -> int:
        result.update(nginx_wifi.run(url, tmp_path, respondents=200, concurrency=20, workers=2))
        return 0

    pg = PG_URL if USE_PG else ""
    nginx_wifi.sl.with_database(pg, "test_wifi", tmp_path, body)
    assert result["outcomes"] == {"accepted": 200}  # no 429, no error
    assert result["stored"] == 200 and result["addresses"] == 1
    assert result["burst"] == 0 and result["excluded"] == 0
