package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// liveness bounds how long (in real time) a test waits for the runner's
// goroutines to reach a state. It is a hang guard, never a speed assertion.
const liveness = 20 * time.Second

type outcome struct {
	res *Result
	err error
}

// fakeRun runs a Runner on a fake clock and lets the test step through it.
type fakeRun struct {
	t      *testing.T
	clk    *FakeClock
	runner *Runner
	cancel context.CancelFunc
	done   chan outcome
	dues   []time.Duration // this shard's schedule
	end    time.Duration
	starts sync.Map // id → time.Time
	n      atomic.Int64
}

// startFake builds the runner (sessions run fn after the harness notes their
// start time) and starts it.
func startFake(t *testing.T, fn SessionFunc, opts ...Option) *fakeRun {
	t.Helper()
	f := &fakeRun{t: t, clk: NewFakeClock(t0), done: make(chan outcome, 1)}
	wrapped := func(ctx context.Context, id int, rec *Recorder) error {
		f.starts.Store(id, f.clk.Now())
		f.n.Add(1)
		if fn == nil {
			<-ctx.Done()
			return ctx.Err()
		}
		return fn(ctx, id, rec)
	}
	r, err := New(wrapped, append(opts, WithClock(f.clk))...)
	if err != nil {
		t.Fatal(err)
	}
	f.runner = r
	f.end = r.cfg.duration
	for k := int64(0); k < r.planned; k++ {
		w, _ := r.pacer.Pace(0, r.globalIndex(k))
		f.dues = append(f.dues, max(w, 0))
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		res, err := r.Run(ctx)
		f.done <- outcome{res, err}
	}()
	return f
}

// idle reports whether, at fake time now, every session due has started and
// the runner's goroutines have armed their next timers.
func (f *fakeRun) idle(now time.Time) bool {
	el := now.Sub(t0)
	var dueNow, later int
	for _, d := range f.dues {
		if d <= el {
			dueNow++
		} else {
			later++
		}
	}
	want := 1 // the interval ticker
	if later > 0 {
		want++ // the arrivals
	}
	return f.n.Load() == int64(dueNow) && f.clk.Pending() >= want
}

// drive advances the fake clock timer by timer until the run returns.
// Before each step it waits for the runner to be idle; at or after the end
// of the run it first gives sessions up to settle to return. at is called
// at each idle point and may act (cancel, release sessions, …); when it
// returns true, drive waits for the run to return instead of advancing.
func (f *fakeRun) drive(settle time.Duration, at func(now time.Time) bool) outcome {
	f.t.Helper()
	for step := 0; step < 100000; step++ {
		now := f.clk.Now()
		if now.Sub(t0) >= f.end {
			select {
			case o := <-f.done:
				return o
			case <-time.After(settle):
			}
		} else {
			deadline := time.Now().Add(liveness)
			for !f.idle(now) {
				select {
				case o := <-f.done:
					return o
				case <-time.After(time.Millisecond):
				}
				if time.Now().After(deadline) {
					f.t.Fatalf("runner not idle at +%v: %d sessions started, %d timers armed", now.Sub(t0), f.n.Load(), f.clk.Pending())
				}
			}
			if at != nil && at(now) {
				select {
				case o := <-f.done:
					return o
				case <-time.After(liveness):
					f.t.Fatal("run did not return")
				}
			}
		}
		select {
		case o := <-f.done:
			return o
		default:
		}
		if !f.clk.AdvanceToNext() {
			select {
			case o := <-f.done:
				return o
			case <-time.After(liveness):
				f.t.Fatal("run neither returned nor armed a timer")
			}
		}
	}
	f.t.Fatal("run did not end")
	return outcome{}
}

func (f *fakeRun) startTimes() map[int]time.Duration {
	out := map[int]time.Duration{}
	f.starts.Range(func(k, v any) bool {
		out[k.(int)] = v.(time.Time).Sub(t0)
		return true
	})
	return out
}

func TestOpenModelKeepsScheduleWhileSessionsStall(t *testing.T) {
	// Every session stalls (like a target that never answers) until the run
	// ends; arrivals must go on at 10/s regardless.
	f := startFake(t, nil, WithRate(10), WithDuration(2*time.Second), WithInterval(500*time.Millisecond))
	o := f.drive(liveness, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	starts := f.startTimes()
	if len(starts) != 20 {
		t.Fatalf("%d sessions started, want 20", len(starts))
	}
	for id := range 20 {
		if want := time.Duration(id) * 100 * time.Millisecond; starts[id] != want {
			t.Errorf("session %d started at +%v, want +%v", id, starts[id], want)
		}
	}
	s := o.res.Summary
	if s.Counters["sessions_started"] != 20 || s.Counters["sessions_completed"] != 20 || s.Counters["sessions_failed"] != 0 {
		t.Errorf("counters %v", s.Counters)
	}
	if s.Schedule.LateStarts != 0 || s.Schedule.MaxStartLagMs != 0 || s.Params.Model != "open" || s.Params.Rate != 10 {
		t.Errorf("schedule %+v params %+v", s.Schedule, s.Params)
	}
}

func TestOpenModelWithRampAndMaxSessions(t *testing.T) {
	f := startFake(t, nil, WithRate(10), WithRamp(2*time.Second), WithMaxSessions(25), WithDuration(5*time.Second))
	o := f.drive(liveness, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	starts := f.startTimes()
	if len(starts) != 25 {
		t.Fatalf("%d sessions, want 25 (max)", len(starts))
	}
	p := LinearRamp{To: 10, Over: 2 * time.Second}
	for id, at := range starts {
		if want, _ := p.Pace(0, uint64(id)); at != want {
			t.Errorf("session %d at %v, want %v", id, at, want)
		}
	}
}

func TestClosedModelRunsExactlyN(t *testing.T) {
	var calls atomic.Int64
	f := startFake(t, func(ctx context.Context, id int, rec *Recorder) error {
		calls.Add(1)
		rec.Ready()
		if id%2 == 0 {
			return nil // ends early: not replaced
		}
		<-ctx.Done()
		return ctx.Err()
	}, WithSessions(7), WithDuration(3*time.Second))
	o := f.drive(liveness, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	starts := f.startTimes()
	if calls.Load() != 7 || len(starts) != 7 {
		t.Fatalf("%d calls, %d distinct ids; want 7", calls.Load(), len(starts))
	}
	for id := range 7 {
		if at, ok := starts[id]; !ok || at != 0 {
			t.Errorf("session %d: started %v at +%v", id, ok, at)
		}
	}
	c := o.res.Summary.Counters
	if c["sessions_started"] != 7 || c["sessions_ready"] != 7 || c["sessions_completed"] != 7 {
		t.Errorf("counters %v", c)
	}
	if o.res.Summary.Params.Model != "closed" || o.res.Summary.Params.Sessions != 7 {
		t.Errorf("params %+v", o.res.Summary.Params)
	}
}

func TestClosedModelRamp(t *testing.T) {
	f := startFake(t, nil, WithSessions(4), WithRamp(time.Second), WithDuration(2*time.Second))
	if o := f.drive(liveness, nil); o.err != nil {
		t.Fatal(o.err)
	}
	for id, at := range f.startTimes() {
		if want := time.Duration(id) * 250 * time.Millisecond; at != want {
			t.Errorf("session %d at %v, want %v", id, at, want)
		}
	}
}

func TestShardRunsItsShareOnTheGlobalSchedule(t *testing.T) {
	f := startFake(t, nil, WithSessions(10), WithShard(1, 3), WithDuration(time.Second))
	o := f.drive(liveness, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	var ids []int
	for id := range f.startTimes() {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	if !equalInts(ids, []int{1, 4, 7}) {
		t.Errorf("shard 1/3 of 10 ran %v, want [1 4 7]", ids)
	}
	if sh := o.res.Summary.Shard; sh.Index != 1 || sh.Count != 3 {
		t.Errorf("shard %+v", sh)
	}

	// Open model: rate 30/s over 3 shards is 10/s each, at the global times.
	f = startFake(t, nil, WithRate(30), WithShard(2, 3), WithDuration(time.Second))
	if o := f.drive(liveness, nil); o.err != nil {
		t.Fatal(o.err)
	}
	starts := f.startTimes()
	if len(starts) != 10 {
		t.Fatalf("shard 2/3 at 30/s for 1s started %d, want 10", len(starts))
	}
	for id, at := range starts {
		if want, _ := (ConstantRate{PerSecond: 30}).Pace(0, uint64(id)); id%3 != 2 || at != want {
			t.Errorf("session %d at %v, want %v", id, at, want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRunnerWarmupExcludesEarlySamples(t *testing.T) {
	proceed := make(chan struct{})
	var recorded atomic.Bool
	f := startFake(t, func(ctx context.Context, id int, rec *Recorder) error {
		rec.Record(FrameLatency, 5*time.Millisecond) // during the warm-up
		rec.Count(Frames, 1)
		select {
		case <-proceed:
		case <-ctx.Done():
			return nil
		}
		rec.Record(FrameLatency, 7*time.Millisecond)
		rec.Count(Frames, 1)
		recorded.Store(true)
		<-ctx.Done()
		return nil
	}, WithSessions(1), WithWarmup(time.Second), WithDuration(3*time.Second), WithOutDir(t.TempDir()))
	o := f.drive(liveness, func(now time.Time) bool {
		if now.Sub(t0) >= 1500*time.Millisecond && !recorded.Load() {
			close(proceed)
			for deadline := time.Now().Add(liveness); !recorded.Load() && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		return false
	})
	if o.err != nil {
		t.Fatal(o.err)
	}
	s := o.res.Summary
	if m := s.Metrics["frame_latency"]; m.Count != 1 || m.MinMs < 6.9 {
		t.Errorf("frame_latency %+v, want the one 7ms sample", m)
	}
	if s.Warmup.Samples["frame_latency"] != 1 || s.Warmup.Counters["frames"] != 1 || s.Counters["frames"] != 1 {
		t.Errorf("warm-up %+v frames %d", s.Warmup, s.Counters["frames"])
	}
	if s.MeasuredS != 2 || !s.MeasureStart.Equal(t0.Add(time.Second)) {
		t.Errorf("measured %vs from %v", s.MeasuredS, s.MeasureStart)
	}
}

type classed string

func (c classed) Error() string      { return "failed: " + string(c) }
func (c classed) ErrorClass() string { return string(c) }

func TestFailuresPanicsAndThresholds(t *testing.T) {
	f := startFake(t, func(ctx context.Context, id int, rec *Recorder) error {
		switch id {
		case 0:
			return classed("http_429")
		case 1:
			panic("boom")
		case 2:
			rec.Error("ice_failed")
			return errors.New("ice failed")
		case 3:
			return context.DeadlineExceeded
		}
		rec.Ready()
		<-ctx.Done()
		return errors.New("closed during teardown") // after the end: completed
	}, WithSessions(5), WithDuration(time.Second), WithThresholds("sessions_failed.count==0", "sessions_started.count==5"))
	o := f.drive(liveness, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	s := o.res.Summary
	if s.Counters["sessions_failed"] != 4 || s.Counters["sessions_completed"] != 1 || s.Counters["sessions_errored"] != 4 {
		t.Errorf("counters %v", s.Counters)
	}
	want := map[string]int64{"http_429": 1, "panic": 1, "ice_failed": 1, "timeout": 1}
	for k, v := range want {
		if s.Errors[k] != v {
			t.Errorf("errors %v, want %v", s.Errors, want)
			break
		}
	}
	if s.ThresholdsPassed || s.Thresholds[0].Pass || !s.Thresholds[1].Pass {
		t.Errorf("verdicts %+v", s.Thresholds)
	}
	if got := ExitCode(o.res, o.err); got != ExitThresholdsFailed || s.ExitCode == nil || *s.ExitCode != ExitThresholdsFailed {
		t.Errorf("exit %d, summary exit %v; want 99", got, s.ExitCode)
	}
	if !strings.Contains(strings.Join(s.Notes, "\n"), "panicked: boom") {
		t.Errorf("notes %q lack the panic", s.Notes)
	}
}

func TestCancelledRunLeavesValidPartialResults(t *testing.T) {
	dir := t.TempDir()
	f := startFake(t, func(ctx context.Context, id int, rec *Recorder) error {
		for i := range 10 {
			rec.Record(FrameLatency, time.Duration(i+1)*time.Millisecond)
			rec.Count(Frames, 1)
		}
		rec.Ready()
		<-ctx.Done()
		return ctx.Err()
	}, WithSessions(3), WithDuration(time.Minute), WithOutDir(dir), WithThresholds("frames.count>1000"))
	var midRun *reports.Summary
	o := f.drive(liveness, func(now time.Time) bool {
		el := now.Sub(t0)
		if el == 2*time.Second && midRun == nil {
			s, err := reports.ReadSummaryFile(filepath.Join(dir, "summary.json"))
			if err != nil {
				t.Errorf("summary.json mid-run: %v", err)
			}
			midRun = s
		}
		if el >= 3*time.Second {
			f.cancel() // SIGINT
			return true
		}
		return false
	})
	if !errors.Is(o.err, ErrInterrupted) || o.res == nil || !o.res.Interrupted {
		t.Fatalf("err %v, res %v", o.err, o.res)
	}
	if ExitCode(o.res, o.err) != ExitHarnessError {
		t.Errorf("exit %d, want 1", ExitCode(o.res, o.err))
	}
	if midRun == nil || midRun.Status != reports.StatusRunning || midRun.Counters["frames"] != 30 || midRun.Metrics["frame_latency"].Count != 30 {
		t.Fatalf("mid-run summary %+v", midRun)
	}
	s, err := reports.ReadSummaryFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != reports.StatusInterrupted || s.ExitCode == nil || *s.ExitCode != ExitHarnessError {
		t.Errorf("status %s exit %v", s.Status, s.ExitCode)
	}
	if s.Counters["frames"] != 30 || s.Counters["sessions_ready"] != 3 || s.Metrics["frame_latency"].Count != 30 || s.ElapsedS != 3 {
		t.Errorf("final summary: frames %d ready %d count %d elapsed %v", s.Counters["frames"], s.Counters["sessions_ready"], s.Metrics["frame_latency"].Count, s.ElapsedS)
	}
	if s.Metrics["frame_latency"].Hgrm != "frame_latency.hgrm" {
		t.Errorf("hgrm %q", s.Metrics["frame_latency"].Hgrm)
	}
	if _, err := os.Stat(filepath.Join(dir, "frame_latency.hgrm")); err != nil {
		t.Error(err)
	}
	if len(s.Thresholds) != 1 || s.Thresholds[0].Pass {
		t.Errorf("thresholds %+v", s.Thresholds)
	}
	l, err := reports.ReadHlogFile(filepath.Join(dir, "run.hlog"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Skipped != 0 || l.Dropped != 0 {
		t.Errorf("hlog skipped %d dropped %d", l.Skipped, l.Dropped)
	}
	sameDistribution(t, "hlog frame_latency", l.Metrics["frame_latency"], o.res.Results.Histograms["frame_latency"])
	if len(l.Counters) == 0 || l.Counters[len(l.Counters)-1].Values["frames"] != 30 {
		t.Errorf("hlog counters %+v", l.Counters)
	}
	if !l.RunStart.Equal(t0) {
		t.Errorf("hlog run start %v", l.RunStart)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestStuckSessionsAreAbandonedAfterGrace(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := startFake(t, func(ctx context.Context, id int, rec *Recorder) error {
		rec.Record(DCRTT, time.Millisecond)
		<-release // ignores ctx
		return nil
	}, WithSessions(2), WithDuration(time.Second), WithGrace(3*time.Second))
	o := f.drive(20*time.Millisecond, nil)
	if o.err != nil {
		t.Fatal(o.err)
	}
	s := o.res.Summary
	if s.Counters["sessions_abandoned"] != 2 || s.Metrics["dc_rtt"].Count != 2 {
		t.Errorf("abandoned %d, dc_rtt %d; want 2, 2 (harvested while stuck)", s.Counters["sessions_abandoned"], s.Metrics["dc_rtt"].Count)
	}
	if s.ElapsedS != 4 {
		t.Errorf("elapsed %vs, want 4 (1s run + 3s grace)", s.ElapsedS)
	}
	if !strings.Contains(strings.Join(s.Notes, "\n"), "abandoned") {
		t.Errorf("notes %q", s.Notes)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	nop := func(context.Context, int, *Recorder) error { return nil }
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"both models", []Option{WithRate(1), WithSessions(2)}},
		{"negative rate", []Option{WithRate(-1)}},
		{"warm-up ≥ duration", []Option{WithDuration(time.Second), WithWarmup(time.Second)}},
		{"ramp > duration", []Option{WithDuration(time.Second), WithRamp(2 * time.Second)}},
		{"zero duration", []Option{WithDuration(0)}},
		{"tiny interval", []Option{WithInterval(time.Millisecond)}},
		{"shard out of range", []Option{WithShard(3, 3)}},
		{"max sessions, closed", []Option{WithSessions(2), WithMaxSessions(3)}},
		{"bad threshold", []Option{WithThresholds("frame_latency.p99<fast")}},
	} {
		_, err := New(nop, tc.opts...)
		var ue *UsageError
		if !errors.As(err, &ue) || ExitCode(nil, err) != ExitUsage {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("nil SessionFunc accepted")
	}
	r, err := New(nop)
	if err != nil || r.Planned() != 1 || r.model != "closed" || r.cfg.duration != DefaultDuration {
		t.Errorf("defaults: %v planned %d model %s", err, r.Planned(), r.model)
	}
}

// A short run on the real clock: files are complete and consistent.
func TestRealClockRun(t *testing.T) {
	dir := t.TempDir()
	var progress bytes.Buffer
	r, err := New(func(ctx context.Context, id int, rec *Recorder) error {
		rec.Record(Token, 2*time.Millisecond)
		rec.Ready()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				rec.Record(FrameLatency, time.Duration(1+i%7)*time.Millisecond)
				rec.RecordCorrected(FrameLatencyCorrected, time.Duration(1+i%7)*time.Millisecond, 5*time.Millisecond)
				rec.Count(Frames, 1)
			}
		}
	}, WithSessions(4), WithDuration(600*time.Millisecond), WithInterval(100*time.Millisecond),
		WithOutDir(dir), WithProgress(NewLineProgress(&progress, 0)), WithThresholds("frames.count>0", "frame_latency.p99<1s"),
		WithParam("target", "embedded mock"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ExitCode(res, err) != ExitOK || res.Summary.Status != reports.StatusComplete {
		t.Fatalf("exit %d status %s: %+v", ExitCode(res, err), res.Summary.Status, res.Summary.Thresholds)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s reports.Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Params.Extra["target"] != "embedded mock" || s.Counters["sessions_started"] != 4 || s.Metrics["token"].Count != 4 {
		t.Errorf("summary %+v", s)
	}
	for _, f := range s.Files {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	l, err := reports.ReadHlogFile(filepath.Join(dir, "run.hlog"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"token", "frame_latency", "frame_latency_corrected"} {
		sameDistribution(t, name, l.Metrics[name], res.Results.Histograms[name])
	}
	if !strings.Contains(progress.String(), "t=0s/0.6s sessions=4/4 ready=4 failed=0") {
		t.Errorf("progress:\n%s", progress.String())
	}
	var text bytes.Buffer
	res.WriteText(&text)
	if !strings.Contains(text.String(), "frame_latency") || !strings.Contains(text.String(), "PASS  frames.count>0") {
		t.Errorf("text summary:\n%s", text.String())
	}
}
