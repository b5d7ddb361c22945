#!/usr/bin/env bash
# Instrument accuracy (issue 4 "Performance targets"): the mock delays every
# frame by D = 50 ms after stamping its capture time; the runner's
# frame_latency p50 must read D (±0.5 ms at 1 session, ±2 ms at 200).
# D = 0 runs (load-unlimited.yaml) give the pipeline's own transit, the
# residual that is not the runner's error. Embedded mock (one process) and
# separate mock process (`reactor-harness mock` + `load --target`).
# Each run: 20 s (3 s warm-up) at 1 session; 29 s (6 s ramp, 9 s warm-up,
# 20 s measured) at 200. REPS repetitions (default 3). Results:
# $OUT/accuracy.jsonl and a min/median/max table on stdout.
source "$(dirname "$0")/common.sh"
J=$OUT/accuracy.jsonl
for rep in $(seq "$REPS"); do
  for mode in embedded separate; do
    for scen in delay-50ms load-unlimited; do
      d=50; [ $scen = load-unlimited ] && d=0
      perfrun --mode $mode --scenario fixtures/scenarios/$scen.yaml --sessions 1 \
        --duration 20s --warmup 3s --tag "D=${d}ms" --jsonl "$J" --out "$OUT/acc-$mode-$scen-1-$rep"
      perfrun --mode $mode --scenario fixtures/scenarios/$scen.yaml --sessions 200 --ramp 6s \
        --duration 29s --warmup 9s --tag "D=${d}ms" --jsonl "$J" --out "$OUT/acc-$mode-$scen-200-$rep"
    done
  done
done
stats "$J" --by tag,mode,sessions --fields fl_min_ms,fl_p50_ms,fl_p99_ms,rl_p99_ms,fps_per_session,packets_lost,missing_frames,others_cores
