package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/reactor-harness/reactor-harness/reports"
)

// unlimitedScenario lifts the mock's account quotas: 4 shard processes and
// a single run share one mock, and a load run is not a quota test.
const unlimitedScenario = `name: merge-equivalence
limits: {max_concurrent_sessions: 1073741824, creates_per_minute: 1073741824}
`

// startMockProcess runs `reactor-harness mock` on a free loopback port and
// returns its base URL; the process is stopped (SIGINT, then kill) when
// the test ends.
func startMockProcess(t *testing.T, bin, scenario, key string) string {
	t.Helper()
	cmd := exec.Command(bin, "mock", "--listen", "127.0.0.1:0", "--scenario", scenario, "--api-key", key)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	urls := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() { // drains stdout until the process exits
			if u, ok := strings.CutPrefix(sc.Text(), "mock Reactor listening on "); ok && !sent {
				urls <- u
				sent = true
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case u := <-urls:
		return u
	case <-done:
		t.Fatal("mock exited before printing its URL")
	case <-time.After(30 * time.Second):
		t.Fatal("mock printed no URL within 30 s")
	}
	return ""
}

// runCLI runs the binary with a deadline and returns its exit code and
// output.
func runCLI(ctx context.Context, bin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), out.String(), errb.String()
	default:
		return -1, out.String(), errb.String() + "\n" + err.Error()
	}
}

// mergedSummaryFile is the part of a merged summary.json beyond
// reports.Summary that the test checks.
type mergedSummaryFile struct {
	reports.Summary
	Shards []struct {
		Index         int       `json:"index"`
		MeasureStart  time.Time `json:"measure_start"`
		End           time.Time `json:"end"`
		ClockOffsetMs *float64  `json:"clock_offset_estimate_ms"`
	} `json:"shards"`
	Rates struct {
		MeasuredWindowS float64 `json:"measured_window_s"`
		FramesPerS      float64 `json:"frames_per_s"`
	} `json:"rates"`
}

// TestShardMergeEquivalence is issue 7's shard-merge test: one mock
// process, the same load run as 4 `load --shard i/4` processes at once and
// merged with `merge`, and as one process. What must hold exactly holds
// exactly; what depends on timing gets a stated tolerance.
func TestShardMergeEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 6 processes and runs two 6 s loads")
	}
	const (
		shards   = 4
		sessions = "8"
		key      = "rk_merge_test"
	)
	bin := buildCLI(t)
	dir := t.TempDir()
	scenario := filepath.Join(dir, "unlimited.yaml")
	if err := os.WriteFile(scenario, []byte(unlimitedScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startMockProcess(t, bin, scenario, key)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	loadArgs := []string{"load", "--target", url, "--api-key", key, "--sessions", sessions, "--duration", "6s", "--warmup", "1s"}

	t0 := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, shards)
	errs := make([]string, shards)
	var dirs []string
	for i := range shards {
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		dirs = append(dirs, d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, errs[i] = runCLI(ctx, bin, append(loadArgs, "--shard", fmt.Sprintf("%d/%d", i, shards), "--out", d)...)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != exitOK {
			t.Fatalf("shard %d exited %d: %s", i, c, errs[i])
		}
	}
	tShards := time.Since(t0)
	mergedDir := filepath.Join(dir, "merged")
	code, mout, merr := runCLI(ctx, bin, append([]string{"merge", "--out", mergedDir}, dirs...)...)
	if code != exitOK {
		t.Fatalf("merge exited %d:\n%s\n%s", code, mout, merr)
	}
	t1 := time.Now()
	singleDir := filepath.Join(dir, "single")
	if code, _, serr := runCLI(ctx, bin, append(loadArgs, "--out", singleDir)...); code != exitOK {
		t.Fatalf("single run exited %d: %s", code, serr)
	}
	tSingle := time.Since(t1)

	var merged mergedSummaryFile
	raw, err := os.ReadFile(filepath.Join(mergedDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &merged); err != nil {
		t.Fatal(err)
	}
	single, err := reports.ReadSummaryFile(filepath.Join(singleDir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}

	// 1. Session counts are equal exactly: the 4 shards start sessions
	// 0,4 / 1,5 / 2,6 / 3,7, together the single run's 8.
	for _, c := range []string{"sessions_started", "sessions_ready", "sessions_completed", "sessions_failed"} {
		if merged.Counters[c] != single.Counters[c] {
			t.Errorf("%s: merged %d, single %d", c, merged.Counters[c], single.Counters[c])
		}
	}
	if merged.Counters["sessions_started"] != 8 {
		t.Errorf("merged sessions_started %d, want 8", merged.Counters["sessions_started"])
	}

	// 2. Frames within ±15%. Each process counts frames in its own
	// measured window (its own start + 1 s warm-up … + 6 s); at 30 fps the
	// expectation is 8 × 5 s × 30 = 1200 in both runs. The windows of
	// separate processes start a few ms to a few hundred ms apart, and
	// a frame straddling a window edge lands on either side (±1 frame per
	// session per edge, < 2%), but on 2 busy cores (the whole test suite
	// runs in parallel) the mock can fall behind its 30 fps for a while in
	// one run and not the other: 15% leaves room for ~0.75 s of lost
	// emission without hiding a real miscount (a lost shard is -25%).
	mf, sf := float64(merged.Counters["frames"]), float64(single.Counters["frames"])
	if sf == 0 || math.Abs(mf-sf)/sf > 0.15 {
		t.Errorf("frames: merged %v, single %v (more than 15%% apart)", mf, sf)
	}

	// 3. Connect-phase histograms count one sample per session in both.
	// first_frame is the exception: the client clamps "ready → first
	// frame" to 0 when the first frame beats the connected event (it can
	// on a busy machine), and the load session does not record a 0, so
	// each run may lack a sample or two, independently of the merge.
	for _, m := range []string{"token", "session_create", "time_to_ready", "signalling", "ice_connect"} {
		if merged.Metrics[m].Count != single.Metrics[m].Count || merged.Metrics[m].Count != 8 {
			t.Errorf("%s count: merged %d, single %d, want 8", m, merged.Metrics[m].Count, single.Metrics[m].Count)
		}
	}
	for name, n := range map[string]int64{"merged": merged.Metrics["first_frame"].Count, "single": single.Metrics["first_frame"].Count} {
		if n < 6 || n > 8 {
			t.Errorf("first_frame count of the %s run: %d, want 6–8", name, n)
		}
	}
	// 4. Frame latency: both ~1 ms on loopback; the runs are different
	// samples of the same process, so only a generous bound.
	if d := math.Abs(merged.Metrics["frame_latency"].P50Ms - single.Metrics["frame_latency"].P50Ms); d > 2 {
		t.Errorf("frame_latency p50: merged %.3f ms, single %.3f ms (> 2 ms apart)", merged.Metrics["frame_latency"].P50Ms, single.Metrics["frame_latency"].P50Ms)
	}

	// 5. Exactly: the merged histograms are the histograms of every
	// shard's samples (from the shards' own interval logs), bucket for
	// bucket, and the merged summary's percentiles are theirs.
	union := &reports.Hlog{Metrics: map[string]*hdr.Histogram{}}
	for _, d := range dirs {
		l, err := reports.ReadHlogFile(filepath.Join(d, "run.hlog"))
		if err != nil {
			t.Fatal(err)
		}
		union.Merge(l)
	}
	ml, err := reports.ReadHlogFile(filepath.Join(mergedDir, "run.hlog"))
	if err != nil {
		t.Fatal(err)
	}
	if union.Dropped != 0 || ml.Dropped != 0 || merged.Dropped != 0 {
		t.Errorf("dropped: union %d, merged log %d, merged summary %d", union.Dropped, ml.Dropped, merged.Dropped)
	}
	for name, h := range union.Metrics {
		if !ml.Metrics[name].Equals(h) {
			t.Errorf("%s: the merged run.hlog is not the union of the shards' samples", name)
		}
		q := h.ValueAtPercentilesSlice([]float64{50, 99})
		ms := merged.Metrics[name]
		if ms.Count != h.TotalCount() || ms.P50Ms != float64(q[0])/1000 || ms.P99Ms != float64(q[1])/1000 {
			t.Errorf("%s: merged summary count %d p50 %v p99 %v; union of shards %d %v %v", name, ms.Count, ms.P50Ms, ms.P99Ms,
				h.TotalCount(), float64(q[0])/1000, float64(q[1])/1000)
		}
	}

	// 6. Rates over the union of the shards' measured windows.
	var first, last time.Time
	for _, sh := range merged.Shards {
		if first.IsZero() || sh.MeasureStart.Before(first) {
			first = sh.MeasureStart
		}
		if sh.End.After(last) {
			last = sh.End
		}
		if sh.ClockOffsetMs == nil {
			t.Errorf("shard %d reports no clock offset", sh.Index)
		}
	}
	window := last.Sub(first).Seconds() // the windows overlap: union = first start … last end
	if len(merged.Shards) != shards || math.Abs(merged.Rates.MeasuredWindowS-window) > 1e-6 ||
		math.Abs(merged.Rates.FramesPerS-mf/window) > 1e-6 || math.Abs(merged.MeasuredS-window) > 1e-6 {
		t.Errorf("rates: window %v s (want %v), frames/s %v (want %v)", merged.Rates.MeasuredWindowS, window, merged.Rates.FramesPerS, mf/window)
	}
	singleRate := sf / single.MeasuredS
	t.Logf("4 shards in %.1fs, single in %.1fs", tShards.Seconds(), tSingle.Seconds())
	t.Logf("sessions started/ready: merged %d/%d, single %d/%d", merged.Counters["sessions_started"], merged.Counters["sessions_ready"], single.Counters["sessions_started"], single.Counters["sessions_ready"])
	t.Logf("frames: merged %.0f (%.1f/s over %.3f s), single %.0f (%.1f/s over %.3f s), %+.1f%%", mf, merged.Rates.FramesPerS, window, sf, singleRate, single.MeasuredS, 100*(mf-sf)/sf)
	for _, m := range []string{"frame_latency", "dc_rtt", "signalling", "first_frame"} {
		t.Logf("%s: merged n=%d p50 %.3f p99 %.3f ms; single n=%d p50 %.3f p99 %.3f ms", m,
			merged.Metrics[m].Count, merged.Metrics[m].P50Ms, merged.Metrics[m].P99Ms, single.Metrics[m].Count, single.Metrics[m].P50Ms, single.Metrics[m].P99Ms)
	}
	for _, sh := range merged.Shards {
		if sh.ClockOffsetMs != nil {
			t.Logf("shard %d clock offset estimate %+.3f ms", sh.Index, *sh.ClockOffsetMs)
		}
	}

	// The CLI's exit codes on the same folders: a failed threshold is 99
	// (judged on the merged result), a missing shard 1, no folder 2; the
	// report of the merged and single runs is written, and exits 99 when
	// a run in it failed a threshold.
	if code, out, _ := runCLI(ctx, bin, append([]string{"merge", "--out", filepath.Join(dir, "m99"), "--threshold", "frame_latency.p50<1us"}, dirs...)...); code != exitThresholdsFailed || !strings.Contains(out, "FAIL") {
		t.Errorf("merge with a failing threshold exited %d:\n%s", code, out)
	}
	if code, _, _ := runCLI(ctx, bin, append([]string{"merge", "--out", filepath.Join(dir, "m1")}, dirs[:3]...)...); code != exitHarnessError {
		t.Errorf("merge of 3 of 4 shards exited %d, want 1", code)
	}
	if code, _, _ := runCLI(ctx, bin, "merge", filepath.Join(dir, "nope")); code != exitUsage {
		t.Errorf("merge of a missing folder exited %d, want 2", code)
	}
	report := filepath.Join(dir, "report.html")
	if code, out, errOut := runCLI(ctx, bin, "report", "--out", report, "merged="+mergedDir, "single="+singleDir); code != exitOK {
		t.Errorf("report exited %d:\n%s\n%s", code, out, errOut)
	}
	if code, _, _ := runCLI(ctx, bin, "report", "--out", filepath.Join(dir, "r99.html"), filepath.Join(dir, "m99")); code != exitThresholdsFailed {
		t.Errorf("report of a run with a failed threshold exited %d, want 99", code)
	}
	if b, err := os.ReadFile(report); err != nil || !bytes.Contains(b, []byte("clock_offsets_ms")) || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("report lacks the merged run's clock offsets or plots (%v)", err)
	}
}
