package load

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Snapshot is the live state of a run handed to a Progress after every
// interval.
type Snapshot struct {
	Elapsed time.Duration
	Warmup  bool // still in the warm-up
	// Planned is the number of sessions this process will start (closed
	// model: its share of N; open model: what the pacer schedules before
	// the end, capped by max sessions).
	Planned                                  int64
	Started, Ready, Failed, Active, Complete int64
	Frames, Errors                           int64
	// Duration is the planned run length and WarmupEnd when the warm-up
	// ends (0: none).
	Duration, WarmupEnd time.Duration
	// FPS is the complete frames per second over the last interval,
	// summed over the sessions; Freezes the run's freezes so far.
	FPS     float64
	Freezes int64
	// IntervalErrors are the last interval's errors by class.
	IntervalErrors map[string]int64
	// Metric is the latency shown (frame_latency, or
	// one_way_delay_variation when the target stamps no capture times);
	// P50 and P99 are over the rolling window, valid when WindowCount > 0.
	Metric      string
	P50, P99    time.Duration
	WindowCount int64
}

// Progress shows a run's progress. Update is called after every interval
// and Done once at the end, all from one goroutine.
type Progress interface {
	Update(s Snapshot)
	Done(s Snapshot)
}

// IsTerminal reports whether w is a terminal, with the same test mpb uses
// to decide whether to draw (so bars are never drawn where mpb would not).
func IsTerminal(w io.Writer) bool {
	return cupwriter.New(w, false).IsTerminal()
}

// NewProgress returns bars when w is a terminal and plain lines every 5 s
// otherwise (CI logs), never both. Progress should go to stderr.
func NewProgress(w io.Writer) Progress {
	if IsTerminal(w) {
		return NewBarProgress(w)
	}
	return NewLineProgress(w, 5*time.Second)
}

// lineProgress prints a plain line at most every `every`.
type lineProgress struct {
	w     io.Writer
	every time.Duration
	last  time.Duration
	any   bool
}

// NewLineProgress prints one line per `every` of run time (and a last one
// from Done), e.g.
//
//	t=12s sessions=48/50 ready=47 failed=1 frames=12345 frame_latency p50=3.1ms p99=9.8ms errors=1
func NewLineProgress(w io.Writer, every time.Duration) Progress {
	return &lineProgress{w: w, every: every}
}

func (p *lineProgress) Update(s Snapshot) {
	if p.any && s.Elapsed-p.last < p.every {
		return
	}
	p.any, p.last = true, s.Elapsed
	io.WriteString(p.w, FormatProgressLine(s)+"\n")
}

func (p *lineProgress) Done(s Snapshot) { io.WriteString(p.w, FormatProgressLine(s)+"\n") }

// FormatProgressLine formats s as one log line.
func FormatProgressLine(s Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sessions=%d/%d ready=%d failed=%d frames=%d fps=%.1f freezes=%d %s %s errors=%d",
		clockField(s), s.Started, s.Planned, s.Ready, s.Failed, s.Frames, s.FPS, s.Freezes,
		metricOr(s.Metric), latencyPair(s), s.Errors)
	b.WriteString(errorClasses(s.IntervalErrors))
	b.WriteString(warmupMarker(s))
	return b.String()
}

// clockField is "t=12s", or "t=12s/60s" when the run's length is known.
func clockField(s Snapshot) string {
	if s.Duration <= 0 {
		return fmt.Sprintf("t=%ds", int64(s.Elapsed/time.Second))
	}
	return fmt.Sprintf("t=%ds/%s", int64(s.Elapsed/time.Second), fmtSeconds(s.Duration))
}

// fmtSeconds prints whole seconds as "60s" and others with a tenth ("0.6s").
func fmtSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// warmupMarker says the samples are not counted yet, and until when.
func warmupMarker(s Snapshot) string {
	switch {
	case !s.Warmup:
		return ""
	case s.WarmupEnd > 0:
		return " (warm-up until " + fmtSeconds(s.WarmupEnd) + ")"
	default:
		return " (warm-up)"
	}
}

// errorClasses lists the last interval's error classes, most frequent
// first, at most three: " [network_error=2 http_503=1 +1 more]".
func errorClasses(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range m {
		if v > 0 {
			all = append(all, kv{k, v})
		}
	}
	if len(all) == 0 {
		return ""
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || (all[i].v == all[j].v && all[i].k < all[j].k) })
	parts := make([]string, 0, 4)
	for i, e := range all {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("+%d more", len(all)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s=%d", e.k, e.v))
	}
	return " [" + strings.Join(parts, " ") + "]"
}

func metricOr(m string) string {
	if m == "" {
		return FrameLatency.String()
	}
	return m
}

func latencyPair(s Snapshot) string {
	if s.WindowCount == 0 {
		return "p50=- p99=-"
	}
	return "p50=" + fmtMs(s.P50) + " p99=" + fmtMs(s.P99)
}

// fmtMs prints d in ms with one decimal (3.1ms), or more for sub-ms values.
func fmtMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 1 {
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}

// barProgress draws mpb bars: sessions started, ready and failed against the
// plan, and a status line with frames, errors and live p50/p99.
type barProgress struct {
	p                      *mpb.Progress
	started, ready, failed *mpb.Bar
	status                 *mpb.Bar
	mu                     sync.Mutex
	cur                    Snapshot
	closed                 bool
}

// NewBarProgress draws bars on w (a terminal).
func NewBarProgress(w io.Writer) Progress {
	b := &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(250*time.Millisecond))}
	bar := func(name string, extra decor.Decorator) *mpb.Bar {
		return b.p.AddBar(0,
			mpb.PrependDecorators(decor.Name(name, decor.WC{W: 10, C: decor.DindentRight}), decor.CountersNoUnit("%d / %d", decor.WCSyncWidth)),
			mpb.AppendDecorators(extra),
		)
	}
	b.started = bar("started", decor.Any(func(decor.Statistics) string {
		s := b.snapshot()
		return fmt.Sprintf("active %d", s.Active)
	}))
	b.ready = bar("ready", decor.Name(""))
	b.failed = bar("failed", decor.Name(""))
	b.status = b.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
		s := b.snapshot()
		return fmt.Sprintf("%s frames=%d fps=%.1f freezes=%d errors=%d %s %s", clockField(s), s.Frames, s.FPS, s.Freezes,
			s.Errors, metricOr(s.Metric), latencyPair(s)) + errorClasses(s.IntervalErrors) + warmupMarker(s)
	})))
	return b
}

func (b *barProgress) snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

func (b *barProgress) Update(s Snapshot) {
	b.mu.Lock()
	b.cur = s
	b.mu.Unlock()
	total := max(s.Planned, s.Started)
	for _, x := range []struct {
		bar *mpb.Bar
		n   int64
	}{{b.started, s.Started}, {b.ready, s.Ready}, {b.failed, s.Failed}} {
		x.bar.SetTotal(max(total, 1), false)
		x.bar.SetCurrent(x.n)
	}
	b.status.SetTotal(max(total, 1), false)
}

func (b *barProgress) Done(s Snapshot) {
	if b.closed {
		return
	}
	b.closed = true
	b.Update(s)
	for _, bar := range []*mpb.Bar{b.started, b.ready, b.failed, b.status} {
		bar.SetTotal(-1, true)
	}
	b.p.Wait()
}
