#!/usr/bin/env bash
# Set up (if needed), lint, and run every test: unit, property, view logic, browser (Chromium)
# and notebook executions. Extra arguments go to pytest, e.g. -m "not browser" or -k alignment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
echo "[test] ruff check (the project's own settings in pyproject.toml)"
"${PYTHON:-python3}" -m ruff check --output-format concise .
export ORTHOLAB_SMOKE=1
exec "${PYTHON:-python3}" -m pytest "$@"
