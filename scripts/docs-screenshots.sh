#!/usr/bin/env bash
# Rebuilds docs/report.png and docs/report-load.png from REAL runs: the server
# catalog (an excerpt, to keep the picture short) and the SDK suite against
# the mock, and two 20-session load runs (the second with a 20 ms frame delay
# injected by the mock, which frame_latency must show). Needs make build,
# npm ci --prefix drivers/js and Debian's chromium. Takes about 3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin=bin/reactor-harness
make -s build
$bin conform server --cases 'signal/1,signal/2,media/*,data/1,data/2' --json-report "$out/server.json" >/dev/null
REACTOR_SDK_REPORT_DIR="$out/sdk" go run github.com/onsi/ginkgo/v2/ginkgo -p --procs=3 ./suites/sdk >/dev/null
printf 'name: delay-20ms\nlimits: {max_concurrent_sessions: 1073741824, creates_per_minute: 1073741824}\nmedia: {frame_delay: 20ms, udp_mux: true}\n' >"$out/delay.yaml"
$bin load --sessions 20 --ramp 2s --duration 20s --warmup 4s --out "$out/baseline" \
  --threshold 'frame_latency.p99<50ms' --threshold 'errors.rate<1%' >/dev/null 2>&1
$bin load --scenario "$out/delay.yaml" --sessions 20 --ramp 2s --duration 20s --warmup 4s --out "$out/delay-20ms" \
  --threshold 'frame_latency.p99<50ms' >/dev/null 2>&1
$bin report --out "$out/matrix.html" --title "reactor-harness report: server conformance (excerpt), four SDKs, two load runs" \
  "$out/server.json" "$out"/sdk/sdk-*.json baseline="$out/baseline" delay-20ms="$out/delay-20ms" >/dev/null
$bin report --out "$out/load.html" --title "reactor-harness report: two load runs (20 sessions; the second with a 20 ms frame delay)" \
  baseline="$out/baseline" delay-20ms="$out/delay-20ms" >/dev/null
shot() { # page, height, png
  rm -rf "$out/chrome"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --disable-quic --user-data-dir="$out/chrome" --hide-scrollbars \
    --window-size=1400,"$2" --screenshot="$3" "file://$1" 2>/dev/null
}
shot "$out/matrix.html" 1250 docs/report.png
shot "$out/load.html" 2300 docs/report-load.png
echo "wrote docs/report.png docs/report-load.png"
