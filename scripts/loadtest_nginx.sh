#!/usr/bin/env bash
# The shared-Wi-Fi load test through a real nginx on 127.0.0.1: installs nginx when missing
# (Debian package, through scripts/install-system-deps.sh), then runs bench/nginx_wifi.py:
# 200 respondents from one address, 20 at a time, behind nginx with WORKBENCH_TRUSTED_PROXIES=1;
# every one must be stored and none excluded. Extra arguments go to the bench, e.g.
#   scripts/loadtest_nginx.sh --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  scripts/install-system-deps.sh nginx
fi
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" bench/nginx_wifi.py --respondents 200 --concurrency 20 "$@"
