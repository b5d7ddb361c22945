#!/usr/bin/env bash
# Cost (issue 4 "Performance targets"): the runner's memory per streaming
# session and CPU per 1,000 frames, with the mock in its own process so the
# runner's figures are its own. Memory per session = (RSS at N=200 − RSS at
# N=1) / 199, both after warm-up; memory must not grow with run length:
# RSS after warm-up vs at the end of a 30 s and a 120 s run at N=200.
# REPS repetitions. Results: $OUT/cost.jsonl and a table on stdout.
source "$(dirname "$0")/common.sh"
J=$OUT/cost.jsonl
N=${N:-200}
for rep in $(seq "$REPS"); do
  perfrun --mode separate --scenario fixtures/scenarios/load-unlimited.yaml --sessions 1 \
    --duration 30s --warmup 10s --tag "cost-30s" --jsonl "$J" --out "$OUT/cost-1-30s-$rep"
  perfrun --mode separate --scenario fixtures/scenarios/load-unlimited.yaml --sessions "$N" \
    --ramp 6s --duration 30s --warmup 10s --tag "cost-30s" --jsonl "$J" --out "$OUT/cost-$N-30s-$rep"
  perfrun --mode separate --scenario fixtures/scenarios/load-unlimited.yaml --sessions "$N" \
    --ramp 6s --duration 120s --warmup 10s --tag "cost-120s" --jsonl "$J" --out "$OUT/cost-$N-120s-$rep"
done
stats "$J" --by tag,sessions --fields runner_rss_warm_mb,runner_rss_end_mb,runner_rss_max_mb,runner_cpu_cores,runner_cpu_ms_per_1k_frames,runner_cpu_ms_per_session_s,fps_per_session,others_cores
python3 - "$J" "$N" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
one = [r["runner_rss_warm_mb"] for r in rows if r["sessions"] == 1 and r["tag"] == "cost-30s"]
for tag in ("cost-30s", "cost-120s"):
    big = [r["runner_rss_warm_mb"] for r in rows if r["sessions"] == n and r["tag"] == tag]
    grow = [r["runner_rss_end_mb"] - r["runner_rss_warm_mb"] for r in rows if r["sessions"] == n and r["tag"] == tag]
    if one and big:
        per = (statistics.median(big) - statistics.median(one)) / (n - 1) * 1024
        print(f"{tag}: RSS per session (median N={n} − median N=1, after warm-up) = {per:.0f} kB; "
              f"RSS growth warm-up→end min/median/max = {min(grow):.1f} / {statistics.median(grow):.1f} / {max(grow):.1f} MB")
PY
