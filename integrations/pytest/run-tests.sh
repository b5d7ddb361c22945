#!/usr/bin/env bash
# Builds this folder's own venv (.venv, from requirements-test.txt with hashes; rebuilt only
# when that file or the interpreter changes), installs the plugin into it from this folder as a
# user would (no editable install, no index), and runs both suites against $REACTOR_HARNESS.
#
# Usage: REACTOR_HARNESS=/path/to/reactor-harness ./run-tests.sh [pytest args]
#   env PYTHON  interpreter to build the venv from (default: python3)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$HERE/.venv"
: "${REACTOR_HARNESS:?set REACTOR_HARNESS to the reactor-harness binary (make build)}"
log() { echo "[integrations/pytest] $*" >&2; }

want="$( { cat "$HERE/requirements-test.txt"; "$PYTHON" -c 'import sys; print(sys.version, sys.executable)'; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$VENV/.stamp" ] || [ "$(cat "$VENV/.stamp")" != "$want" ]; then
  log "building $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
    --only-binary :all: --require-hashes -r "$HERE/requirements-test.txt"
  echo "$want" >"$VENV/.stamp"
fi

# Reinstalled every run, so the suites always test the current files; the build backend and
# the dependency (pytest) are already in the venv, so no index is needed.
"$VENV/bin/python" -m pip uninstall -q -y pytest-reactor-mock >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install --no-input --disable-pip-version-check -q \
  --no-index --no-build-isolation "$HERE"

cd "$HERE/tests"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider -q plugin sdk "$@"
