#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only where missing (idempotent).
#   chromium        - the browser the Playwright tests drive (no `playwright install`: offline)
#   fonts-noto-cjk  - so Chinese renders in screenshots instead of tofu boxes
# Usage: scripts/install-system-deps.sh [extra-package ...]
set -euo pipefail

want=(chromium fonts-noto-cjk "$@")
missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${want[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
