package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// The exit rule, through the binary: a run that measured nothing exits 1
// whatever its thresholds; failed sessions exit 99 unless accepted; the
// verdict and its reason are in summary.json and on the last line.
func TestLoadVerdicts(t *testing.T) {
	bin := buildCLI(t)
	refuseAll := "name: refuse-all\n" + faultLimits + "faults:\n  - {route: \"POST /sessions\", status: 403, detail: refused}\n"
	refuseSecond := "name: refuse-second\n" + faultLimits + "faults:\n  - {route: \"POST /sessions\", nth: 2, status: 403, detail: refused}\n"
	cases := []struct {
		name     string
		scenario string   // for the embedded mock; "" = none
		args     []string // beyond --out and --duration
		code     int
		result   string
	}{
		{"unreachable target", "", []string{"--target", "http://127.0.0.1:1", "--api-key", "x", "--sessions", "2"}, 1, reports.VerdictNoSessionReady},
		{"every session refused", refuseAll, []string{"--sessions", "2", "--threshold", "errors.rate<100%"}, 1, reports.VerdictNoSessionReady},
		{"some sessions failed", refuseSecond, []string{"--sessions", "3"}, 99, reports.VerdictSessionsFailed},
		{"failures accepted by flag", refuseSecond, []string{"--sessions", "3", "--allow-session-errors"}, 0, reports.VerdictPass},
		{"failures judged by a threshold", refuseSecond, []string{"--sessions", "3", "--threshold", "errors.rate<50%"}, 0, reports.VerdictPass},
		{"all ready", "", []string{"--sessions", "2"}, 0, reports.VerdictPass},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "res")
			args := append([]string{"load", "--duration", "3s", "--out", out}, c.args...)
			if c.scenario != "" {
				args = append(args, "--scenario", writeScenario(t, c.scenario))
			}
			code, _, stdout, stderr := runLoadBounded(t, bin, 60*time.Second, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			s, err := reports.ReadSummaryFile(filepath.Join(out, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			if s.Verdict == nil || s.Verdict.Result != c.result || s.Verdict.ExitCode != c.code || s.Verdict.Reason == "" {
				t.Fatalf("summary verdict %+v, want %s (exit %d) with a reason", s.Verdict, c.result, c.code)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "verdict: "+c.result) {
				t.Errorf("last line %q does not give the verdict %s", last, c.result)
			}
		})
	}
}

// A short run needs no warm-up flag, and a usage error is found before the
// embedded mock starts or anything is written.
func TestLoadShortRunAndUsageErrors(t *testing.T) {
	bin := buildCLI(t)
	out := filepath.Join(t.TempDir(), "res")
	if code, _, stdout, stderr := runLoadBounded(t, bin, 60*time.Second, "load", "--duration", "1s", "--sessions", "1", "--out", out); code != 0 {
		t.Fatalf("--duration 1s: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"--threshold", "frame_latency.p99<<5"},
		{"--duration", "2s", "--warmup", "5s"},
		{"--target", "not a url", "--api-key", "x"},
		{"--codec", "v9"},
	} {
		out := filepath.Join(t.TempDir(), "res")
		code, _, stdout, stderr := runLoadBounded(t, bin, 30*time.Second, append([]string{"load", "--out", out}, args...)...)
		if code != exitUsage || strings.Contains(stdout, "embedded mock") || !strings.Contains(stderr, "--") {
			t.Errorf("%v: exit %d, want 2 with a line naming the flag and no mock started\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
		}
		if _, err := filepath.Glob(out); err == nil {
			if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) > 0 {
				t.Errorf("%v: wrote %v for a usage error", args, m)
			}
		}
	}
}
