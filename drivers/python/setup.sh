#!/usr/bin/env bash
# Build the two virtual environments the Python driver runs under:
#
#   .venv-1x  reactor-sdk 1.x (ctypes over the native libreactor_ffi)   from requirements-1x.txt
#   .venv-0x  reactor-sdk 0.x (pure Python over aiohttp/aiortc)         from requirements-0x.txt
#
# Both generations install as the same import name (reactor_sdk), hence one venv each.
#
# Idempotent: a venv whose stamp matches (requirements file + interpreter) is left alone, so a
# second run is a fast no-op. A generation that cannot be installed is never dropped silently:
# the reason goes to .venv-<gen>/SKIPPED (and to stderr), and the tests report it as a skip.
#
# Usage: ./setup.sh [--force] [--strict] [1x] [0x]
#   --force   rebuild even when the stamp matches (also retries a recorded SKIPPED)
#   --strict  exit non-zero when any requested generation ends up SKIPPED
#   env PYTHON  interpreter to build the venvs from (default: python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
FORCE=0
STRICT=0
GENS=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --strict) STRICT=1 ;;
    1x|0x) GENS+=("$arg") ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
[ ${#GENS[@]} -eq 0 ] && GENS=(1x 0x)

log() { echo "[setup.sh] $*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  log "interpreter '$PYTHON' not found"
  exit 1
fi

# What the check after install runs inside each venv: import the SDK and, for 1.x, load the native
# library and ask its ABI version, so a wheel whose .so cannot load on this machine is caught here.
check_script() {
  case "$1" in
    1x) cat <<'EOF'
import importlib.metadata as md, reactor_sdk
from reactor_sdk import _ffi
lib = _ffi.get_lib()
print("reactor-sdk", md.version("reactor-sdk"), "abi", lib.reactor_abi_version())
EOF
    ;;
    0x) cat <<'EOF'
import importlib.metadata as md, reactor_sdk, aiortc, av, aiohttp
print("reactor-sdk", md.version("reactor-sdk"), "aiortc", md.version("aiortc"), "av", md.version("av"))
EOF
    ;;
  esac
}

status=0
for gen in "${GENS[@]}"; do
  venv="$HERE/.venv-$gen"
  req="$HERE/requirements-$gen.txt"
  stamp_file="$venv/.stamp"
  if [ ! -f "$req" ]; then
    log "$gen: missing $req"
    status=1
    continue
  fi
  py_id="$("$PYTHON" -c 'import sys, platform; print(sys.version.split()[0], platform.machine(), sys.executable)')"
  want="$( { cat "$req"; echo "$py_id"; } | sha256sum | cut -d' ' -f1)"

  if [ "$FORCE" -eq 0 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$want" ]; then
    if [ -f "$venv/SKIPPED" ]; then
      log "$gen: previously SKIPPED (inputs unchanged; --force to retry): $(head -n 1 "$venv/SKIPPED")"
      [ "$STRICT" -eq 1 ] && status=1
    else
      log "$gen: up to date ($venv)"
    fi
    continue
  fi

  log "$gen: building $venv"
  rm -rf "$venv"
  install_log="$(mktemp)"
  reason=""
  transient=0
  if ! "$PYTHON" -m venv "$venv" >"$install_log" 2>&1; then
    reason="python -m venv failed (on Debian: apt-get install python3-venv)"
  elif ! "$venv/bin/python" -m pip install --no-input --disable-pip-version-check \
        --only-binary :all: --require-hashes -r "$req" >>"$install_log" 2>&1; then
    if grep -qiE "no matching distribution|could not find a version" "$install_log"; then
      reason="pip found no installable wheel for a pinned package on this platform/interpreter ($(uname -m), $py_id)"
    elif grep -qi "hash" "$install_log" && grep -qi "do not match" "$install_log"; then
      reason="hash mismatch against requirements-$gen.txt"
    else
      reason="pip install failed"
      transient=1
    fi
  elif ! check_out="$(check_script "$gen" | "$venv/bin/python" - 2>&1)"; then
    echo "$check_out" >>"$install_log"
    reason="installed, but the import/load check failed: $(echo "$check_out" | tail -n 1)"
  fi

  if [ -n "$reason" ]; then
    mkdir -p "$venv"
    {
      echo "$reason"
      echo "--- when: $(date -u +%Y-%m-%dT%H:%M:%SZ); interpreter: $py_id; platform: $(uname -srm)"
      echo "--- last lines of the install log:"
      tail -n 40 "$install_log"
    } >"$venv/SKIPPED"
    log "$gen: SKIPPED: $reason (details: $venv/SKIPPED)"
    [ "$STRICT" -eq 1 ] && status=1
  else
    rm -f "$venv/SKIPPED"
    log "$gen: ok: $check_out"
  fi
  # A failure that may be passing (network, registry) is retried on the next run; a deterministic
  # one (no wheel for this platform, hash mismatch, library does not load) is remembered.
  if [ "$transient" -eq 0 ]; then
    echo "$want" >"$stamp_file"
  fi
  rm -f "$install_log"
done
exit "$status"
