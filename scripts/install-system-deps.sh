#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only where missing (idempotent).
#   chromium        - the browser the Playwright tests drive (no `playwright install`: offline)
#   fonts-noto-cjk  - so Chinese renders in screenshots instead of tofu boxes
#   libreoffice-writer-nogui, poppler-utils - render Word reports to PDF/PNG (tests, PDF download)
#   python3-uno     - LibreOffice's UNO bridge for the system python3: the PDF conversion
#                     (workbench/reports/lo_pdf.py) updates the contents page and the fields
#   fonts-arphic-ukai - a 楷体 face; scripts/fontconfig maps 仿宋/宋体/黑体/楷体 to the free faces
#   nginx           - the reverse proxy of the shared-Wi-Fi load test (tests/surveys/test_nginx_load.py,
#                     scripts/loadtest_nginx.sh), run on its own config and port; the system
#                     service the package installs is stopped and disabled again
# Usage: scripts/install-system-deps.sh [extra-package ...]
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
want=(chromium fonts-noto-cjk fonts-arphic-ukai libreoffice-writer-nogui python3-uno poppler-utils nginx "$@")

install_aliases() {
  local target=/etc/fonts/conf.d/64-zh-cn-office-aliases.conf
  if ! cmp -s "$here/fontconfig/64-zh-cn-office-aliases.conf" "$target" 2>/dev/null; then
    $SUDO cp "$here/fontconfig/64-zh-cn-office-aliases.conf" "$target" && $SUDO fc-cache -f >/dev/null || true
  fi
}

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  install_aliases
  echo "system packages: all present (${want[*]})"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}"
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true  # the tests start their own
fi
install_aliases
