package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runImpaired runs load against the embedded mock under a scenario and
// returns its summary.
func runImpaired(t *testing.T, scenario string, args ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	sc := filepath.Join(dir, "impair.yaml")
	if err := os.WriteFile(sc, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for i, a := range args { // a caller's --out wins
		if a == "--out" && i+1 < len(args) {
			out = args[i+1]
		}
	}
	var stdout, stderr bytes.Buffer
	code := dispatch(append([]string{"load", "--scenario", sc, "--out", out, "--warmup", "0"}, args...), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("load exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

func num(m map[string]any, path ...string) float64 {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	f, _ := v.(float64)
	return f
}

// 5 % random loss on the mock's outbound RTP is what the runner measures:
// packets_lost ≈ 5 % of the packets (no NACK, so nothing is repaired).
func TestImpairmentLossMeasured(t *testing.T) {
	sum := runImpaired(t, "media:\n  impair_seed: 7\n  impairments:\n    - {at: 0s, loss: 5%, traffic: rtp, direction: send}\n",
		"--sessions", "4", "--duration", "8s", "--interceptors", "reports")
	got, lost := num(sum, "counters", "packets"), num(sum, "counters", "packets_lost")
	rate := lost / (got + lost)
	t.Logf("packets %v, lost %v: %.2f %%", got, lost, 100*rate)
	if got < 1000 || rate < 0.04 || rate > 0.065 {
		t.Fatalf("packets_lost %.2f %% of %v packets, want 5 %% (4–6.5)", 100*rate, got+lost)
	}
}

// A 6 s blackout of everything is one freeze of ≈ 6 s per session, and the
// sessions ride it out (ICE disconnects and comes back; nothing fails).
// Shorter freezes of a loaded machine (a GC pause, a starved reader) may
// come on top; they are not the blackout's and are not counted here.
func TestImpairmentBlackoutIsOneFreeze(t *testing.T) {
	dir := t.TempDir()
	sum := runImpaired(t, "media:\n  impairments:\n    - {at: 4s, for: 6s, blackout: true}\n",
		"--sessions", "2", "--duration", "14s", "--out", dir)
	long := freezesAtLeast(t, filepath.Join(dir, "freeze_duration.hgrm"), 5500)
	maxMs := num(sum, "metrics", "freeze_duration", "max_ms")
	t.Logf("freezes %v, of them ≥ 5.5 s: %d, longest %.0f ms", num(sum, "counters", "freezes"), long, maxMs)
	if long != 2 {
		t.Fatalf("%d freezes of ≥ 5.5 s for 2 sessions through one 6 s blackout", long)
	}
	if maxMs > 7000 {
		t.Fatalf("longest freeze %.0f ms, want ≈ 6000", maxMs)
	}
	if num(sum, "counters", "sessions_failed") != 0 {
		t.Fatal("a session failed in a blackout shorter than ICE's failed timeout")
	}
}

// freezesAtLeast counts the samples of a .hgrm percentile file at or
// above ms: the total minus the highest cumulative count below it.
func freezesAtLeast(t *testing.T, path string, ms float64) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	below, total := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		v, err1 := strconv.ParseFloat(f[0], 64)
		n, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		total = max(total, n)
		if v < ms {
			below = max(below, n)
		}
	}
	return total - below
}
