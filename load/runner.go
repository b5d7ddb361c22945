package load

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// SessionFunc runs one session: typically token, create, connect, stream
// until ctx is done, disconnect. id is the session's global index (0-based,
// across shards). It records into rec (from its own goroutine; use
// rec.Fork() for others), calls rec.Ready() once the session is ready, and
// returns when ctx is done — promptly, since the Runner waits only for the
// grace period. An error returned before the run's end counts the session as
// failed (classified by ErrorClass unless the session already recorded an
// error); whatever it returns after the run's end counts it as completed.
// A panic is recovered and counted as a failure of class "panic".
type SessionFunc func(ctx context.Context, id int, rec *Recorder) error

// Runner starts sessions on a Pacer's schedule, harvests their recorders
// every interval, and writes results as it goes.
type Runner struct {
	cfg        config
	fn         SessionFunc
	pacer      Pacer
	model      string
	thresholds []Threshold
	planned    int64
}

// New validates the options and returns a Runner. Configuration mistakes
// are *UsageError (ExitUsage).
func New(fn SessionFunc, opts ...Option) (*Runner, error) {
	if fn == nil {
		return nil, usagef("load: no SessionFunc")
	}
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.clock == nil {
		c.clock = RealClock()
	}
	if !c.set["duration"] {
		c.duration = DefaultDuration
	}
	if !c.set["interval"] {
		c.interval = DefaultInterval
	}
	if !c.set["window"] {
		c.window = DefaultWindow
	}
	if !c.set["grace"] {
		c.grace = DefaultGrace
	}
	if !c.set["shard"] {
		c.shardIndex, c.shardCount = 0, 1
	}
	switch {
	case c.duration <= 0:
		return nil, usagef("duration must be positive, got %v", c.duration)
	case c.warmup < 0 || c.warmup >= c.duration:
		return nil, usagef("warm-up (%v) must be at least 0 and shorter than the duration (%v)", c.warmup, c.duration)
	case c.ramp < 0 || c.ramp > c.duration:
		return nil, usagef("ramp (%v) must be at least 0 and no longer than the duration (%v)", c.ramp, c.duration)
	case c.interval < 10*time.Millisecond:
		return nil, usagef("interval must be at least 10ms, got %v", c.interval)
	case c.grace < 0:
		return nil, usagef("grace must not be negative, got %v", c.grace)
	case c.shardCount < 1 || c.shardIndex < 0 || c.shardIndex >= c.shardCount:
		return nil, usagef("shard %d/%d: want 0 ≤ i < n", c.shardIndex, c.shardCount)
	case c.rate < 0 || math.IsNaN(c.rate) || math.IsInf(c.rate, 0):
		return nil, usagef("rate must be a positive number of sessions per second, got %v", c.rate)
	case c.sessions < 0:
		return nil, usagef("sessions must not be negative, got %d", c.sessions)
	case c.maxSessions < 0:
		return nil, usagef("max sessions must not be negative, got %d", c.maxSessions)
	case c.rate > 0 && c.sessions > 0:
		return nil, usagef("choose the closed model (sessions) or the open model (rate), not both")
	case c.maxSessions > 0 && c.rate == 0 && c.pacer == nil:
		return nil, usagef("max sessions applies to the open model (rate)")
	}
	r := &Runner{cfg: c, fn: fn}
	switch {
	case c.pacer != nil:
		r.pacer, r.model = c.pacer, "custom"
	case c.rate > 0 && c.ramp > 0:
		r.pacer, r.model = LinearRamp{From: 0, To: c.rate, Over: c.ramp}, "open"
	case c.rate > 0:
		r.pacer, r.model = ConstantRate{PerSecond: c.rate}, "open"
	default:
		if c.sessions == 0 {
			r.cfg.sessions = 1
		}
		r.pacer, r.model = Closed{N: r.cfg.sessions, Ramp: c.ramp}, "closed"
	}
	ths, err := ParseThresholds(c.thresholds)
	if err != nil {
		return nil, err
	}
	r.thresholds = ths
	r.planned = r.countPlanned()
	return r, nil
}

// globalIndex returns the k-th session index of this shard.
func (r *Runner) globalIndex(k int64) uint64 {
	return uint64(r.cfg.shardIndex) + uint64(k)*uint64(r.cfg.shardCount)
}

// countPlanned counts the sessions this process will start if nothing
// interrupts it.
func (r *Runner) countPlanned() int64 {
	var k int64
	for ; k < MaxPlannedSessions; k++ {
		g := r.globalIndex(k)
		if r.cfg.maxSessions > 0 && g >= uint64(r.cfg.maxSessions) {
			break
		}
		wait, stop := r.pacer.Pace(0, g)
		if stop || wait >= r.cfg.duration {
			break
		}
	}
	return k
}

// Planned returns the number of sessions this process will start.
func (r *Runner) Planned() int64 { return r.planned }

// Result is the outcome of a run.
type Result struct {
	Summary     *reports.Summary
	Results     *Results
	Verdicts    []Verdict
	Interrupted bool
}

// ThresholdsPassed reports whether every threshold passed.
func (r *Result) ThresholdsPassed() bool {
	for _, v := range r.Verdicts {
		if !v.Pass {
			return false
		}
	}
	return true
}

// WriteText writes the short human summary (for stdout).
func (r *Result) WriteText(w io.Writer) error { return reports.WriteText(w, r.Summary) }

// run is the state of one Run.
type run struct {
	*Runner
	clk     Clock
	t0      time.Time
	agg     *Aggregator
	out     *output
	sessCtx context.Context

	wg        sync.WaitGroup
	active    atomic.Int64
	completed atomic.Int64
	lateStart atomic.Int64
	maxLag    atomic.Int64
	launched  atomic.Int64
	warming   bool
}

// Run runs the load until the duration ends or ctx is cancelled, and returns
// the results. Files in the output folder are written as the run goes
// (run.hlog appended and summary.json replaced at every interval) and
// completed at the end; a cancelled run still writes them and returns
// ErrInterrupted with its partial Result. Every wait is bounded: sessions
// that do not return within the grace period after the end are abandoned
// (counted, and their recorders harvested as they are).
func (r *Runner) Run(ctx context.Context) (*Result, error) {
	ru := &run{Runner: r, clk: r.cfg.clock}
	ru.t0 = ru.clk.Now()
	slots := int(math.Ceil(float64(r.cfg.window) / float64(r.cfg.interval)))
	ru.agg = NewAggregator(ru.t0, WindowSlots(max(slots, 1)))
	if r.cfg.warmup > 0 {
		ru.warming = true
		ru.agg.SetWarmup(true)
	}
	var err error
	if r.cfg.outDir != "" {
		if ru.out, err = newOutput(r.cfg.outDir, ru.t0, r.hlogComments()); err != nil {
			return nil, err
		}
	}
	sessCtx, cancelSessions := context.WithCancel(ctx)
	defer cancelSessions()
	ru.sessCtx = sessCtx

	ru.flush(ru.t0, reports.StatusRunning, nil) // an empty but valid summary.json from the start

	stopArrivals := make(chan struct{})
	arrivalsDone := make(chan struct{})
	go ru.arrivals(stopArrivals, arrivalsDone)

	interrupted := ru.tick(ctx)

	close(stopArrivals)
	<-arrivalsDone // returns at once: it only waits on timers and stopArrivals
	cancelSessions()
	abandoned := ru.waitSessions()

	end := ru.clk.Now()
	status := reports.StatusComplete
	if interrupted {
		status = reports.StatusInterrupted
	}
	res := ru.finish(end, status, abandoned)
	if ru.out != nil {
		if ferr := ru.out.close(); ferr != nil {
			return res, ferr
		}
	}
	if interrupted {
		return res, ErrInterrupted
	}
	return res, nil
}

func (r *Runner) hlogComments() []string {
	c := []string{fmt.Sprintf("[Shard: %d/%d]", r.cfg.shardIndex, r.cfg.shardCount)}
	return append(c, fmt.Sprintf("[Model: %s]", r.model))
}

// arrivals starts this shard's sessions at their scheduled times.
func (ru *run) arrivals(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for k := int64(0); k < MaxPlannedSessions; k++ {
		g := ru.globalIndex(k)
		if ru.cfg.maxSessions > 0 && g >= uint64(ru.cfg.maxSessions) {
			return
		}
		elapsed := ru.clk.Now().Sub(ru.t0)
		wait, last := ru.pacer.Pace(elapsed, g)
		if last {
			return
		}
		due := elapsed + wait
		if due >= ru.cfg.duration {
			return
		}
		if wait > 0 {
			c, release := ru.clk.Timer(wait)
			select {
			case <-c:
				release()
			case <-stop:
				release()
				return
			}
		}
		select {
		case <-stop:
			return
		default:
		}
		if lag := ru.clk.Now().Sub(ru.t0) - due; lag > 0 {
			if lag > 10*time.Millisecond {
				ru.lateStart.Add(1)
			}
			for cur := ru.maxLag.Load(); int64(lag) > cur && !ru.maxLag.CompareAndSwap(cur, int64(lag)); cur = ru.maxLag.Load() {
			}
		}
		ru.launch(int(g))
	}
}

func (ru *run) launch(id int) {
	rec := ru.agg.NewRecorder(id)
	rec.Count(SessionsStarted, 1)
	ru.launched.Add(1)
	ru.active.Add(1)
	ru.wg.Add(1)
	go func() {
		defer ru.wg.Done()
		defer ru.active.Add(-1)
		err := ru.call(id, rec)
		switch {
		case err == nil || ru.sessCtx.Err() != nil:
			ru.completed.Add(1)
		default:
			rec.Count(SessionsFailed, 1)
			if !rec.sess.errored.Load() {
				rec.Error(ErrorClass(err))
			}
		}
		ru.agg.Retire(rec)
	}()
}

// panicError is a recovered panic.
type panicError struct {
	v     any
	stack []byte
}

func (e *panicError) Error() string      { return fmt.Sprintf("session panicked: %v\n%s", e.v, e.stack) }
func (e *panicError) ErrorClass() string { return ClassPanic }

func (ru *run) call(id int, rec *Recorder) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{v: v, stack: debug.Stack()}
			ru.agg.Note(fmt.Sprintf("a session panicked: %v", v))
		}
	}()
	return ru.fn(ru.sessCtx, id, rec)
}

// tick harvests and flushes every interval until the end of the run or ctx
// is cancelled; it reports whether ctx was cancelled first.
func (ru *run) tick(ctx context.Context) (interrupted bool) {
	end := ru.t0.Add(ru.cfg.duration)
	warmEnd := ru.t0.Add(ru.cfg.warmup)
	next := ru.t0.Add(ru.cfg.interval)
	maxTicks := int64(ru.cfg.duration/ru.cfg.interval) + 4
	for i := int64(0); i < 2*maxTicks; i++ {
		wake := minTime(next, end)
		if ru.warming {
			wake = minTime(wake, warmEnd)
		}
		now := ru.clk.Now()
		c, release := ru.clk.Timer(wake.Sub(now))
		select {
		case <-c:
			release()
		case <-ctx.Done():
			release()
			return true
		}
		now = ru.clk.Now()
		if ru.warming && !now.Before(warmEnd) {
			ru.warming = false
			ru.agg.SetWarmup(false)
		}
		if !now.Before(end) {
			return false
		}
		if !now.Before(next) {
			ru.flush(now, reports.StatusRunning, nil)
			for !next.After(now) {
				next = next.Add(ru.cfg.interval)
			}
		}
	}
	return false
}

// waitSessions waits up to the grace period for sessions to return and
// returns how many did not.
func (ru *run) waitSessions() int64 {
	done := make(chan struct{})
	go func() { ru.wg.Wait(); close(done) }()
	c, release := ru.clk.Timer(ru.cfg.grace)
	defer release()
	select {
	case <-done:
		return 0
	case <-c:
		return ru.active.Load()
	}
}

// flush harvests the interval ending at now, appends it to run.hlog,
// rewrites summary.json and updates the progress.
func (ru *run) flush(now time.Time, status string, final *finalInfo) *Results {
	iv := ru.agg.Harvest(now)
	if ru.out != nil && now.After(iv.Start) {
		ru.out.interval(iv, ru.active.Load())
	}
	res := ru.agg.results(ru.measured(now), false)
	ru.addRunnerCounters(res, final)
	verdicts, _ := EvaluateAll(ru.thresholds, res)
	sum := ru.summary(now, status, res, verdicts, final)
	if ru.out != nil {
		ru.out.summary(sum)
	}
	p := ru.cfg.progress
	if p == nil && len(ru.cfg.outputs) == 0 {
		return res
	}
	s := ru.snapshot(now, iv)
	for _, o := range ru.cfg.outputs {
		o.AddInterval(iv, s)
	}
	if p != nil {
		if final != nil {
			p.Done(s)
		} else if now.After(ru.t0) {
			p.Update(s)
		}
	}
	return res
}

type finalInfo struct {
	abandoned int64
	verdicts  []Verdict
	sum       *reports.Summary
}

func (ru *run) finish(end time.Time, status string, abandoned int64) *Result {
	fi := &finalInfo{abandoned: abandoned}
	ru.flush(end, status, fi) // harvests everything, abandoned recorders included
	res := ru.agg.Results(ru.measured(end))
	ru.addRunnerCounters(res, fi)
	res.autoNotes()
	if abandoned > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d sessions did not return within the %v grace period and were abandoned", abandoned, ru.cfg.grace))
	}
	verdicts, _ := EvaluateAll(ru.thresholds, res)
	result := &Result{Results: res, Verdicts: verdicts, Interrupted: status == reports.StatusInterrupted}
	sum := ru.summary(end, status, res, verdicts, fi)
	if ru.out != nil {
		sum.Files = ru.out.hgrms(res, sum)
	}
	verdict := reports.Judge(sum, reports.VerdictPolicy{AllowSessionErrors: ru.cfg.allowSessionErrors})
	if ru.out != nil && ru.out.err != nil {
		verdict = reports.RunVerdict{Result: "output_failed", ExitCode: ExitHarnessError,
			Reason: fmt.Sprintf("writing the results failed: %v", ru.out.err)}
	}
	code := verdict.ExitCode
	sum.Verdict = &verdict
	sum.ExitCode = &code
	if ru.out != nil {
		ru.out.summary(sum)
	}
	result.Summary = sum
	return result
}

func (ru *run) measured(now time.Time) time.Duration {
	return max(now.Sub(ru.t0.Add(ru.cfg.warmup)), 0)
}

func (ru *run) addRunnerCounters(res *Results, fi *finalInfo) {
	res.Counters["sessions_completed"] = ru.completed.Load()
	if fi != nil {
		res.Counters["sessions_abandoned"] = fi.abandoned
	} else {
		res.Counters["sessions_abandoned"] = 0
	}
	res.Counters["sessions_active"] = ru.active.Load()
}

func (ru *run) snapshot(now time.Time, iv *Interval) Snapshot {
	m := FrameLatency
	q, n := ru.agg.WindowQuantiles(m, 50, 99)
	if n == 0 {
		if q2, n2 := ru.agg.WindowQuantiles(OneWayDelayVariation, 50, 99); n2 > 0 {
			m, q, n = OneWayDelayVariation, q2, n2
		}
	}
	return Snapshot{
		Elapsed: now.Sub(ru.t0), Warmup: ru.warming, Planned: ru.planned,
		Started: iv.Totals[SessionsStarted], Ready: iv.Totals[SessionsReady], Failed: iv.Totals[SessionsFailed],
		Active: ru.active.Load(), Complete: ru.completed.Load(),
		Frames: iv.Totals[Frames], Errors: iv.ErrorsTotal,
		Duration: ru.cfg.duration, Freezes: iv.Totals[Freezes], FPS: perSecond(iv.Counters[Frames], iv.End.Sub(iv.Start)),
		IntervalErrors: iv.Errors, WarmupEnd: ru.cfg.warmup,
		Metric: m.String(), P50: time.Duration(q[0]) * time.Microsecond, P99: time.Duration(q[1]) * time.Microsecond,
		WindowCount: n,
	}
}

// perSecond is n over d, 0 for an empty interval.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// output writes the run's files.
type output struct {
	dir  string
	hlog *reports.HlogWriter
	err  error // first write error; the run goes on and reports it at the end
}

const (
	hlogName    = "run.hlog"
	summaryName = "summary.json"
)

func newOutput(dir string, start time.Time, comments []string) (*output, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("load: output folder: %w", err)
	}
	hw, err := reports.CreateHlog(filepath.Join(dir, hlogName), start, comments...)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return &output{dir: dir, hlog: hw}, nil
}

func (o *output) keep(err error) {
	if err != nil && o.err == nil {
		o.err = err
	}
}

func (o *output) interval(iv *Interval, active int64) {
	for m, h := range iv.Histograms {
		if h.TotalCount() > 0 {
			o.keep(o.hlog.WriteInterval(Metric(m).String(), iv.Start, iv.End, h))
		}
	}
	counters := make(map[string]int64, numCounters+3)
	for c := Counter(0); c < numCounters; c++ {
		counters[c.String()] = iv.Totals[c]
	}
	counters["sessions_active"] = active
	counters["errors"] = iv.ErrorsTotal
	o.keep(o.hlog.WriteCounters(iv.Start, iv.End, counters))
	o.keep(o.hlog.Flush())
}

func (o *output) summary(s *reports.Summary) {
	o.keep(reports.WriteSummaryFile(filepath.Join(o.dir, summaryName), s))
}

// hgrms writes one .hgrm per metric with samples and returns the folder's
// files.
func (o *output) hgrms(res *Results, s *reports.Summary) []string {
	files := []string{summaryName, hlogName}
	for _, name := range MetricNames() {
		h := res.Histograms[name]
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		file := name + ".hgrm"
		if err := reports.WriteHgrmFile(filepath.Join(o.dir, file), h); err != nil {
			o.keep(err)
			continue
		}
		ms := s.Metrics[name]
		ms.Hgrm = file
		s.Metrics[name] = ms
		files = append(files, file)
	}
	return files
}

func (o *output) close() error {
	o.keep(o.hlog.Close())
	if o.err != nil {
		return fmt.Errorf("load: writing results: %w", o.err)
	}
	return nil
}
