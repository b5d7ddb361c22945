#!/usr/bin/env bash
# Side by side in one run (issue 4 "Performance targets"): one mock process
# (load-unlimited.yaml) streams to N clients of the published JS SDK 2.9.0
# in one Node process on @roamhq/wrtc (drivers/js/bench/bench.mjs) and, at
# the same time, to N sessions of `reactor-harness load`; CPU per session of
# each from /proc over the same window (30 s runs, 10 s warm-up, 3 s ramp).
# N in $NS (default "5 10 20"), REPS repetitions; SINK=1 adds runs where the
# JS clients attach an RTCVideoSink (decoded frames delivered to JS);
# LOAD_ARGS adds runner flags (e.g. "--ping-interval 5s", the JS SDK's own
# ping period) and is recorded in the tag.
# Results: $OUT/js-vs-runner.jsonl and a table on stdout.
source "$(dirname "$0")/common.sh"
J=$OUT/js-vs-runner.jsonl
NS=${NS:-5 10 20}
[ -d drivers/js/node_modules/@roamhq/wrtc ] || npm --prefix drivers/js ci
for rep in $(seq "$REPS"); do
  for n in $NS; do
    for sink in "" ${SINK:+--sink}; do
      perfrun --mode separate --scenario fixtures/scenarios/load-unlimited.yaml --sessions "$n" \
        --ramp 3s --duration 30s --warmup 10s --tag "js-vs-runner${sink:+ sink}${LOAD_ARGS:+ runner $LOAD_ARGS}" \
        --jsonl "$J" --out "$OUT/jsvs-$n-$rep${sink:+-sink}${LOAD_ARGS:+-$(echo $LOAD_ARGS | tr -c 'a-z0-9\n' _)}" \
        --side "node drivers/js/bench/bench.mjs --url {url} --sessions $n --duration 30 --warmup 10 --ramp 3 $sink" \
        -- ${LOAD_ARGS:-}
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
# Marginal cost: the slope of median process CPU between the smallest and
# largest N of a tag (fixed per-process costs cancel out).
med = {}
for r in rows:
    s = r.get("side_result") or {}
    if s and r.get("runner_cpu_cores"):
        med.setdefault((r["tag"], r["sessions"]), []).append((r["side_cpu_cores"], r["runner_cpu_cores"]))
for tag in sorted({t for t, _ in med}):
    ns = sorted(n for t, n in med if t == tag)
    if len(ns) < 2:
        continue
    lo, hi = ns[0], ns[-1]
    js = [statistics.median(x[0] for x in med[(tag, n)]) for n in (lo, hi)]
    go = [statistics.median(x[1] for x in med[(tag, n)]) for n in (lo, hi)]
    djs, dgo = (js[1] - js[0]) / (hi - lo) * 1000, (go[1] - go[0]) / (hi - lo) * 1000
    print(f"{tag}: marginal CPU per added session (N {lo}→{hi}, medians): JS {djs:.2f} ms/s, runner {dgo:.2f} ms/s, ratio {djs / dgo:.1f}")
PY
