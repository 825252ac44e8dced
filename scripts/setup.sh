#!/usr/bin/env bash
# Install Ortholab and everything it needs into the current Python environment.
#   bash scripts/setup.sh          runtime (dashboard, notebooks, MiniLM, Dask)
#   bash scripts/setup.sh test     + test tools and Debian's Chromium for browser tests
# Idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

# A plain `torch` requirement with no torch installed can pull a multi-GB CUDA build. Install
# the CPU build 2.13.0 first where torch is missing; a machine that already has torch (for
# example a CUDA build on a GPU box) keeps it, since pyproject's range accepts it.
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing torch 2.13.0"
  "$PY" -m pip install --quiet "torch==2.13.0"
fi

extras="text,scale"
if [ "${1:-}" = "test" ]; then extras="text,scale,test"; fi
# Skip pip when this environment already holds this checkout's install with these extras:
# a stamp of (interpreter, extras, pyproject.toml) written after the last successful install,
# and the packages still importable. Any change to pyproject.toml installs again.
stamp_file=".ortholab-setup-stamp"
exe="$("$PY" -c 'import sys; print(sys.executable)')"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp="$exe $extras $hash"
# (the test extras include the runtime ones, so a test install serves too)
if [ -f "$stamp_file" ] && { [ "$(cat "$stamp_file")" = "$stamp" ] \
     || [ "$(cat "$stamp_file")" = "$exe text,scale,test $hash" ]; } \
   && "$PY" -c "import lab, widgets, panel, plotly, torch" >/dev/null 2>&1; then
  echo "[setup] ortholab[$extras] already installed (delete $stamp_file to force)"
else
  echo "[setup] installing ortholab[$extras]"
  "$PY" -m pip install --quiet -e ".[$extras]"
  echo "$stamp" > "$stamp_file"
fi

if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "[setup] installing Debian's chromium for the browser tests"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "[setup] done"
