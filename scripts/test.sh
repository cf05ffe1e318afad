#!/usr/bin/env bash
# Sets up the project and runs the whole test suite, browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the browser tests drive Debian's Chromium through Playwright (Playwright's own browser download needs a
# network this project does not assume)
if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/python -m pytest -q "$@"
