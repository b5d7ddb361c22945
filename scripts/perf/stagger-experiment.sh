#!/usr/bin/env bash
# Experiment, not a change to the mock: how much of the latency at hundreds
# of sessions comes from the mock sending every stream's frame at the same
# instant (one clock tick for all streams)? stagger-experiment.patch gives
# each stream a phase (32 slots across the frame interval; capture stamp,
# send time and delay all shift with it). This script copies the working
# tree to a temporary folder, applies the patch there, builds it, and runs
# the same measurements as accuracy.sh (N=200, D=0 and 50 ms) and
# capacity.sh (N=300/400/500) with the patched binary, tag "stagger".
# Results: $OUT/stagger.jsonl and tables on stdout.
source "$(dirname "$0")/common.sh"
J=$OUT/stagger.jsonl
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
tar --exclude=./drivers/js/node_modules --exclude=./results --exclude=./bin --exclude=./.git -cf - . | tar -xf - -C "$TMP"
(cd "$TMP" && patch -s -p1 < "$ROOT/scripts/perf/stagger-experiment.patch" && go build -o "$TMP/reactor-harness" ./cmd/reactor-harness)
SBIN=$TMP/reactor-harness
for rep in $(seq "$REPS"); do
  for scen in delay-50ms load-unlimited; do
    d=50; [ $scen = load-unlimited ] && d=0
    python3 scripts/perf/perfrun.py --bin "$SBIN" --mode embedded --scenario fixtures/scenarios/$scen.yaml \
      --sessions 200 --ramp 6s --duration 29s --warmup 9s --tag "stagger D=${d}ms" --jsonl "$J" \
      --out "$OUT/stagger-acc-$scen-200-$rep"
  done
  for n in ${NS:-300 400 500}; do
    ramp=$(( n / 30 )); warm=$(( ramp + 5 )); dur=$(( warm + 30 ))
    for args in "" "--ping-interval 0"; do
      python3 scripts/perf/perfrun.py --bin "$SBIN" --mode embedded --scenario fixtures/scenarios/load-unlimited.yaml \
        --sessions "$n" --ramp ${ramp}s --warmup ${warm}s --duration ${dur}s --tag "stagger capacity${args:+ $args}" \
        --jsonl "$J" --out "$OUT/stagger-cap-$n-$rep${args:+-noping}" -- $args
    done
  done
done
stats "$J" --by tag,sessions --fields fl_min_ms,fl_p50_ms,fl_p99_ms,fps_per_session,packets_lost,missing_frames,errors,runner_cpu_cores,others_cores
