#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 3000x:
# an input count, not a duration — a time budget makes the fuzz engine fail
# with "context deadline exceeded" when it expires mid-minimisation on a
# loaded machine).
# Go allows one fuzz target per invocation, so targets are found and run in turn.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-3000x}
status=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz $pkg $target ($fuzztime)"
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" >/tmp/fuzz-$$.log 2>&1; then
      cat /tmp/fuzz-$$.log
      status=1
    fi
  done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' . | sort)
rm -f /tmp/fuzz-$$.log
exit $status
