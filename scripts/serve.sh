#!/usr/bin/env bash
# Set up (if needed) and serve the dashboard on the built-in default data.
# Extra arguments go to `ortholab serve`, e.g. --port 5007 --address 0.0.0.0 --no-show.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m widgets.cli serve "$@"
