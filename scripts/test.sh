#!/usr/bin/env bash
# Sets up the project and runs the whole test suite, browser and PostgreSQL tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Debian packages the tests drive: Chromium for the browser tests (through Playwright; Playwright's own
# browser download needs a network this project does not assume) and a PostgreSQL server, of which
# the Dagster and MLflow server tests start throw-away clusters
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# a cheap first guard: the Dagster definitions load (dagster-dg-cli)
DAGSTER_HOME="$PWD/dagster_home" .venv/bin/dg check defs --use-active-venv
.venv/bin/python -m pytest -q "$@"
