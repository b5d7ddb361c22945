#!/usr/bin/env bash
# Starts the mock on a free loopback port, runs $RUN with its addresses in the environment,
# stops the mock, and exits with $RUN's status. The mock's stdin is a pipe this script holds,
# so the mock also ends if the step is cancelled. MOCK_ARGS: extra mock flags.
set -euo pipefail
die() { echo "::error::reactor-harness mock: $*" >&2; exit 1; }
[ -n "${RUN:-}" ] || die "the run input is required in mode mock"
bin="${REACTOR_HARNESS:-reactor-harness}"
work="$(mktemp -d)"
mkfifo "$work/stdin"
# shellcheck disable=SC2086 # MOCK_ARGS are flags, split on purpose
"$bin" mock --listen 127.0.0.1:0 --json --exit-on-stdin-close ${MOCK_ARGS:-} <"$work/stdin" >"$work/ready" 2>"$work/stderr" &
pid=$!
exec 3>"$work/stdin" # the write end: open while this script runs
for _ in $(seq 300); do # up to 30 s
  [ -s "$work/ready" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; die "the mock exited before it was ready"; }
  sleep 0.1
done
[ -s "$work/ready" ] || { kill "$pid"; cat "$work/stderr" >&2; die "no ready line within 30 s"; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$work/ready"; }
export REACTOR_MOCK_BASE_URL REACTOR_MOCK_API_KEY REACTOR_MOCK_ADMIN_URL
REACTOR_MOCK_BASE_URL="$(field base_url)"
REACTOR_MOCK_API_KEY="$(field api_key)"
REACTOR_MOCK_ADMIN_URL="$(field admin_url)"
echo "mock Reactor at $REACTOR_MOCK_BASE_URL (admin API at $REACTOR_MOCK_ADMIN_URL)"
set +e
bash -c "$RUN"
rc=$?
set -e
exec 3>&- # closing stdin stops the mock
wait "$pid" || { echo "the mock's stderr:" >&2; cat "$work/stderr" >&2; }
rm -rf "$work"
exit "$rc"
