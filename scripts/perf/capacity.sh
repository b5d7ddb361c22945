#!/usr/bin/env bash
# Capacity (issue 4 "Performance targets"): the largest N at which 30 fps
# streams hold with frame_latency p99 < 50 ms and no lost or missing frames,
# mock and runner together on this machine (embedded mock, one process, one
# UDP socket on the mock side: load-unlimited.yaml). Steps N over $NS
# (default 100 200 300 400 500 600); each run joins at 30 sessions/s
# (--ramp N/30 s, at least 5 s), warms up for the ramp + 5 s and measures
# 30 s. A run passes when every session is ready, errors = 0, packets_lost =
# 0, missing_frames = 0, fps per session >= 29.7 and frame_latency p99 < 50
# ms. "keeps up" counts the passing runs in which the runner's own
# receive_lag p99 was also under 50 ms (frame_latency ends at the kernel's
# receive timestamp, so the runner's delays are reported there instead).
# MODE=separate runs the mock as its own process (CPU per process);
# LOAD_ARGS adds load flags (e.g. LOAD_ARGS="--ping-interval 0": no
# data-channel round-trip probes) and is recorded in the run's tag.
# Results: $OUT/capacity.jsonl and a table on stdout.
source "$(dirname "$0")/common.sh"
J=$OUT/capacity.jsonl
NS=${NS:-100 200 300 400 500 600}
MODE=${MODE:-embedded}
for rep in $(seq "$REPS"); do
  for n in $NS; do
    ramp=$(( n / 30 )); [ $ramp -lt 5 ] && ramp=5
    warm=$(( ramp + 5 )); dur=$(( warm + 30 ))
    perfrun --mode "$MODE" --scenario fixtures/scenarios/load-unlimited.yaml --sessions "$n" \
      --ramp ${ramp}s --warmup ${warm}s --duration ${dur}s --tag "capacity-$MODE${LOAD_ARGS:+ $LOAD_ARGS}" \
      --jsonl "$J" --out "$OUT/cap-$MODE-$n-$rep${LOAD_ARGS:+-$(echo $LOAD_ARGS | tr -c 'a-z0-9\n' _)}" \
      ${PERF_RECORD:+--perf-record $PERF_RECORD} -- ${LOAD_ARGS:-}
  done
done
python3 - "$J" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def ok(r):
    return (r["ready"] == r["sessions"] and r["errors"] == 0 and r["packets_lost"] == 0
            and r["missing_frames"] == 0 and (r["fps_per_session"] or 0) >= 29.7
            and (r["fl_p99_ms"] or 1e9) < 50)
def mmm(v):
    v = sorted(x for x in v if x is not None)
    if not v: return "–"
    f = lambda x: f"{x:.3g}" if isinstance(x, float) else str(x)
    return f"{f(v[0])} / {f(statistics.median(v))} / {f(v[-1])}"
g = {}
for r in rows:
    g.setdefault((r["tag"], r["sessions"]), []).append(r)
cols = ["fl_p50_ms", "fl_p99_ms", "rl_p99_ms", "fps_per_session", "packets_lost", "missing_frames", "errors",
        "runner_cpu_cores", "mock_cpu_cores", "runner_rss_end_mb", "mock_rss_end_mb", "others_cores"]
def keeps_up(r):
    return ok(r) and (r.get("rl_p99_ms") or 0) < 50
print("| run | N | pass | keeps up | " + " | ".join(cols) + " |")
print("|---|---|---|---|" + "---|" * len(cols))
for (tag, n), rs in sorted(g.items()):
    print(f"| {tag} | {n} | {sum(ok(r) for r in rs)}/{len(rs)} | {sum(keeps_up(r) for r in rs)}/{len(rs)} | " +
          " | ".join(mmm([r.get(c) for r in rs]) for c in cols) + " |")
PY
