# Shared settings of the scripts/perf/*.sh measurements (sourced).
# Run from anywhere; everything is relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-$ROOT/bin/reactor-harness}
OUT=${OUT:-$ROOT/results/perf}
REPS=${REPS:-3}
mkdir -p "$OUT"
# Hundreds of sessions need a socket and an HTTP connection each in the
# runner: raise the soft descriptor limit to the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ -x "$BIN" ] || make -s build
perfrun() { python3 "$ROOT/scripts/perf/perfrun.py" --bin "$BIN" "$@"; }
stats() { python3 "$ROOT/scripts/perf/stats.py" "$@"; }
