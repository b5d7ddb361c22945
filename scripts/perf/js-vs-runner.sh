#!/usr/bin/env bash
# Side by side in one run (issue 4 "Performance targets"): one mock process
# (load-unlimited.yaml) streams to N clients of the published JS SDK 2.9.0
# in one Node process on @roamhq/wrtc (drivers/js/bench/bench.mjs) and, at
# the same time, to N sessions of `reactor-harness load`; CPU per session of
# each from /proc over the same window (30 s runs, 10 s warm-up, 3 s ramp).
# N in $NS (default "5 10 20"), REPS repetitions; SINK=1 adds runs where the
# JS clients attach an RTCVideoSink (decoded frames delivered to JS).
# Results: $OUT/js-vs-runner.jsonl and a table on stdout.
source "$(dirname "$0")/common.sh"
J=$OUT/js-vs-runner.jsonl
NS=${NS:-5 10 20}
[ -d drivers/js/node_modules/@roamhq/wrtc ] || npm --prefix drivers/js ci
for rep in $(seq "$REPS"); do
  for n in $NS; do
    for sink in "" ${SINK:+--sink}; do
      perfrun --mode separate --scenario fixtures/scenarios/load-unlimited.yaml --sessions "$n" \
        --ramp 3s --duration 30s --warmup 10s --tag "js-vs-runner${sink:+ sink}" --jsonl "$J" \
        --out "$OUT/jsvs-$n-$rep${sink:+-sink}" \
        --side "node drivers/js/bench/bench.mjs --url {url} --sessions $n --duration 30 --warmup 10 --ramp 3 $sink"
    done
  done
done
python3 - "$J" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in rows:
    s = r.get("side_result") or {}
    if not s or not r.get("runner_cpu_cores"):
        continue
    js = r["side_cpu_cores"] * 1000 / max(s.get("ready", 0), 1)   # ms CPU per session-second, /proc
    go = r["runner_cpu_cores"] * 1000 / max(r["ready"], 1)
    groups.setdefault((r["tag"], r["sessions"]), []).append((js, go, js / go, s.get("fps_per_session"), r["fps_per_session"], r["others_cores"]))
def mmm(v):
    v = sorted(v)
    return f"{v[0]:.2f} / {statistics.median(v):.2f} / {v[-1]:.2f}"
print("| run | N | JS SDK ms CPU per session-s | runner ms CPU per session-s | JS ÷ runner | JS fps/session | runner fps/session | others (cores) |")
print("|---|---|---|---|---|---|---|---|")
for (tag, n), g in sorted(groups.items()):
    cols = list(zip(*g))
    print(f"| {tag} | {n} | " + " | ".join(mmm(c) for c in cols) + f" | (runs: {len(g)})")
PY
