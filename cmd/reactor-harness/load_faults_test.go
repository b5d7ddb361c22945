package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// Issue 4 item 6, "faults seen from the client side", against the real
// binary: a target that answers 429/503, stalls past the client's timeouts,
// or dies mid-run is recorded as errors by class; the runner finishes within
// a bound, never hangs or crashes, leaves a valid results folder, and exits
// with the documented code (99 a threshold failed, 1 interrupted). The
// subtests run in parallel: about 16 s in all.

// faultLimits lifts the quotas so that only the injected faults fail.
const faultLimits = "limits: {max_concurrent_sessions: 1073741824, creates_per_minute: 1073741824}\n"

func TestLoadFaults(t *testing.T) {
	bin := buildCLI(t)

	t.Run("create_answers_429_and_503", func(t *testing.T) {
		t.Parallel()
		scen := writeScenario(t, "name: faults-create\n"+faultLimits+`faults:
  - {route: "POST /sessions", nth: 2, status: 429, retry_after: 1}
  - {route: "POST /sessions", nth: 3, status: 503}
`)
		out := filepath.Join(t.TempDir(), "res")
		code, wall, stdout, stderr := runLoadBounded(t, bin, 30*time.Second, "load", "--scenario", scen,
			"--sessions", "5", "--duration", "4s", "--warmup", "0s", "--out", out,
			"--threshold", "errors.rate<1%")
		s := checkResultsFolder(t, out, code, reports.StatusComplete)
		if code != exitThresholdsFailed {
			t.Fatalf("exit %d, want %d (errors.rate threshold failed)\nstdout:\n%s\nstderr:\n%s", code, exitThresholdsFailed, stdout, stderr)
		}
		if wall > 4*time.Second+10*time.Second {
			t.Errorf("a 4 s run took %v", wall)
		}
		if s.Errors["http_429"] != 1 || s.Errors["http_503"] != 1 || s.ErrorsTotal != 2 {
			t.Errorf("errors %v (total %d), want exactly one http_429 and one http_503", s.Errors, s.ErrorsTotal)
		}
		if got := s.Counters["sessions_failed"]; got != 2 {
			t.Errorf("sessions_failed = %d, want 2", got)
		}
		if got := s.Counters["sessions_ready"]; got != 3 {
			t.Errorf("sessions_ready = %d, want 3 (the sessions the faults spared)", got)
		}
		if s.Counters["frames"] == 0 {
			t.Error("the sessions the faults spared streamed no frames")
		}
	})

	t.Run("polls_stall_past_client_timeout", func(t *testing.T) {
		t.Parallel()
		// Every GET /sessions/{id} is held 15 s; the client gives up on
		// an HTTP request after 10 s (client.Timeouts.HTTP).
		scen := writeScenario(t, "name: faults-stall\n"+faultLimits+`faults:
  - {route: "GET /sessions/{id}", latency: 15s}
`)
		out := filepath.Join(t.TempDir(), "res")
		code, wall, stdout, stderr := runLoadBounded(t, bin, 40*time.Second, "load", "--scenario", scen,
			"--sessions", "2", "--duration", "13s", "--warmup", "0s", "--out", out,
			"--threshold", "errors.timeout.count==0")
		s := checkResultsFolder(t, out, code, reports.StatusComplete)
		// No session became ready: the harness measured nothing, so the
		// verdict is 1 whatever the thresholds say.
		if code != 1 || s.Verdict == nil || s.Verdict.Result != reports.VerdictNoSessionReady {
			t.Fatalf("exit %d verdict %+v, want 1 no_session_ready\nstdout:\n%s\nstderr:\n%s", code, s.Verdict, stdout, stderr)
		}
		if wall > 13*time.Second+10*time.Second {
			t.Errorf("a 13 s run took %v: a wait without a deadline?", wall)
		}
		if s.Errors["timeout"] != 2 || s.Counters["sessions_failed"] != 2 || s.Counters["sessions_ready"] != 0 {
			t.Errorf("errors %v, counters %v: want both sessions failed with class timeout", s.Errors, s.Counters)
		}
	})

	t.Run("mock_process_killed_mid_run", func(t *testing.T) {
		t.Parallel()
		scen := writeScenario(t, "name: faults-kill\n"+faultLimits)
		mock, url := startKillableMock(t, bin, scen)
		out := filepath.Join(t.TempDir(), "res")
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "load", "--target", url, "--api-key", "rk_mock_key",
			"--sessions", "3", "--duration", "15s", "--warmup", "1s", "--out", out,
			"--threshold", "errors.rate<1%")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 5 * time.Second
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill the mock once every session streams (summary.json is
		// rewritten every interval).
		if !waitSummary(filepath.Join(out, "summary.json"), 10*time.Second, func(s *reports.Summary) bool {
			return s.Counters["sessions_ready"] == 3
		}) {
			t.Error("the 3 sessions were not ready within 10 s")
		}
		_ = mock.Process.Kill()
		err := cmd.Wait()
		wall := time.Since(start)
		code := exitCodeOf(err)
		s := checkResultsFolder(t, out, code, reports.StatusComplete)
		if code != exitThresholdsFailed {
			t.Fatalf("exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", code, err, exitThresholdsFailed, stdout.String(), stderr.String())
		}
		if wall > 15*time.Second+10*time.Second {
			t.Errorf("a 15 s run took %v after its target died", wall)
		}
		if s.Errors[lostClass] != 3 || s.Counters["sessions_failed"] != 3 {
			t.Errorf("errors %v, counters %v: want 3 sessions failed with class %s", s.Errors, s.Counters, lostClass)
		}
		if s.Counters["frames"] == 0 {
			t.Error("no frames before the kill")
		}
	})

	t.Run("sigint_leaves_partial_results", func(t *testing.T) {
		t.Parallel()
		scen := writeScenario(t, "name: faults-sigint\n"+faultLimits)
		out := filepath.Join(t.TempDir(), "res")
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "load", "--scenario", scen, "--sessions", "2",
			"--duration", "60s", "--warmup", "1s", "--out", out)
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !waitSummary(filepath.Join(out, "summary.json"), 15*time.Second, func(s *reports.Summary) bool {
			return s.Counters["frames"] > 0
		}) {
			t.Error("no frames within 15 s")
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		sent := time.Now()
		err := cmd.Wait()
		if d := time.Since(sent); d > 15*time.Second {
			t.Errorf("exited %v after SIGINT", d)
		}
		code := exitCodeOf(err)
		s := checkResultsFolder(t, out, code, reports.StatusInterrupted)
		if code != exitHarnessError {
			t.Fatalf("exit %d (%v) after SIGINT, want %d", code, err, exitHarnessError)
		}
		if s.Counters["frames"] == 0 {
			t.Error("the partial result lost the frames measured before SIGINT")
		}
	})
}

// lostClass is load.ClassTransportLost, spelled out so the test also pins
// the name users see in summary.json.
const lostClass = "transport_lost"

func writeScenario(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runLoadBounded runs the binary with a hard deadline and returns its exit
// code, wall time and output.
func runLoadBounded(t *testing.T, bin string, limit time.Duration, args ...string) (int, time.Duration, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	code, stdout, stderr := runCLI(ctx, bin, args...)
	wall := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("load did not exit within %v (hung)\nstdout:\n%s\nstderr:\n%s", limit, stdout, stderr)
	}
	return code, wall, stdout, stderr
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		return ee.ExitCode()
	}
	return -1 // killed by a signal or the deadline: a crash or a hang
}

// checkResultsFolder checks what every run must leave, however it ended:
// summary.json parses with the given status and the process's exit code,
// run.hlog reads with no torn line and at least one interval, and every
// file summary.json lists exists.
func checkResultsFolder(t *testing.T, dir string, code int, status string) *reports.Summary {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if !json.Valid(raw) {
		t.Fatalf("summary.json is not valid JSON:\n%s", raw)
	}
	s, err := reports.ReadSummaryFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if s.Status != status {
		t.Errorf("summary status %q, want %q", s.Status, status)
	}
	if s.ExitCode == nil || *s.ExitCode != code {
		t.Errorf("summary exit_code %v, process exited %d", s.ExitCode, code)
	}
	var total int64
	for _, n := range s.Errors {
		total += n
	}
	if total != s.ErrorsTotal {
		t.Errorf("errors by class %v add up to %d, errors_total %d", s.Errors, total, s.ErrorsTotal)
	}
	l, err := reports.ReadHlogFile(filepath.Join(dir, "run.hlog"))
	if err != nil {
		t.Fatalf("run.hlog: %v", err)
	}
	if l.Skipped != 0 || len(l.Counters) == 0 {
		t.Errorf("run.hlog: %d malformed lines, %d counter lines", l.Skipped, len(l.Counters))
	}
	for _, f := range s.Files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("summary lists %s: %v", f, err)
		}
	}
	return s
}

// waitSummary polls summary.json until cond holds or limit passes.
func waitSummary(path string, limit time.Duration, cond func(*reports.Summary) bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if s, err := reports.ReadSummaryFile(path); err == nil && cond(s) {
			return true
		}
	}
	return false
}

// startKillableMock runs `reactor-harness mock` and returns the process (to
// kill) and its URL; it is killed at the end of the test in any case.
func startKillableMock(t *testing.T, bin, scenario string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "mock", "--listen", "127.0.0.1:0", "--scenario", scenario)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	urls := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "mock Reactor listening on "); ok {
				select {
				case urls <- u:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case u := <-urls:
		return cmd, u
	case <-time.After(20 * time.Second):
		t.Fatal("mock printed no URL within 20 s")
	}
	return nil, ""
}
