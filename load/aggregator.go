package load

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Aggregator owns the recorders of a run and merges them: at every interval
// boundary (Harvest) it swaps each live recorder's buffer, merges what the
// buffer holds into the interval's histograms, adds the interval to the
// run's totals and to a rolling window, and empties the buffer for reuse.
// A session's recorder is harvested a last time when it is retired.
// Histograms are merged, never percentiles; every Merge's dropped count is
// checked and reported (it is 0 because all histograms share one geometry).
//
// Memory is bounded: per live recorder two sparse buffers; per run one dense
// interval and one dense total histogram per metric, and the window's
// sparse slots. Nothing grows with the run's length.
//
// Harvest, Retire, Results and the window queries may be called from
// different goroutines; they serialise on a mutex that recording never
// takes. An Interval returned by Harvest is valid until the next Harvest.
type Aggregator struct {
	warm     atomic.Bool
	flipWait time.Duration

	mu      sync.Mutex
	live    []*Recorder
	ivStart time.Time
	cur     *accum // receives harvested buffers
	out     *accum // the last interval handed out by Harvest
	total   *accum
	window  [][numMetrics]*hdr.PackedHistogram
	wpos    int
	scratch *hdr.Histogram
	notes   []string
	stuck   int64
}

// accum is a dense accumulation of recorder buffers.
type accum struct {
	hists        [numMetrics]*hdr.Histogram
	counters     [numCounters]int64
	below        [numMetrics]int64
	above        [numMetrics]int64
	truncated    [numMetrics]int64
	dropped      [numMetrics]int64
	warmSamples  [numMetrics]int64
	warmCounters [numCounters]int64
	errors       map[string]int64
}

func newAccum() *accum {
	a := &accum{errors: map[string]int64{}}
	for i := range a.hists {
		a.hists[i] = NewHistogram()
	}
	return a
}

func (a *accum) reset() {
	for _, h := range a.hists {
		if h.TotalCount() > 0 {
			h.Reset()
		}
	}
	errs := a.errors
	clear(errs)
	*a = accum{hists: a.hists, errors: errs}
}

// addSet merges a recorder buffer into a.
func (a *accum) addSet(s *recSet) {
	for m, h := range s.hists {
		if h != nil && h.TotalCount() > 0 {
			a.dropped[m] += h.MergeInto(a.hists[m])
		}
	}
	for i := range s.counters {
		a.counters[i] += s.counters[i]
		a.warmCounters[i] += s.warmCounters[i]
	}
	for i := range s.below {
		a.below[i] += s.below[i]
		a.above[i] += s.above[i]
		a.truncated[i] += s.truncated[i]
		a.warmSamples[i] += s.warmSamples[i]
	}
	for class, n := range s.errors {
		addError(a.errors, class, n)
	}
}

// addAccum merges b into a.
func (a *accum) addAccum(b *accum) {
	for m, h := range b.hists {
		if h.TotalCount() > 0 {
			a.dropped[m] += a.hists[m].Merge(h)
		}
		a.dropped[m] += b.dropped[m]
	}
	for i := range b.counters {
		a.counters[i] += b.counters[i]
		a.warmCounters[i] += b.warmCounters[i]
	}
	for i := range b.below {
		a.below[i] += b.below[i]
		a.above[i] += b.above[i]
		a.truncated[i] += b.truncated[i]
		a.warmSamples[i] += b.warmSamples[i]
	}
	for class, n := range b.errors {
		addError(a.errors, class, n)
	}
}

func addError(m map[string]int64, class string, n int64) {
	if _, ok := m[class]; !ok && len(m) >= MaxErrorClasses {
		class = ClassOverflow
	}
	m[class] += n
}

// AggregatorOption configures an Aggregator.
type AggregatorOption func(*Aggregator)

// WindowSlots sets the rolling window to slots intervals (default 5, i.e.
// the last 5 s at the default 1 s interval).
func WindowSlots(slots int) AggregatorOption {
	return func(a *Aggregator) {
		if slots > 0 {
			a.window = make([][numMetrics]*hdr.PackedHistogram, slots)
		}
	}
}

// NewAggregator returns an empty aggregator whose first interval starts at
// start.
func NewAggregator(start time.Time, opts ...AggregatorOption) *Aggregator {
	a := &Aggregator{
		flipWait: time.Second,
		ivStart:  start,
		cur:      newAccum(),
		out:      newAccum(),
		total:    newAccum(),
		scratch:  NewHistogram(),
	}
	WindowSlots(5)(a)
	for _, o := range opts {
		o(a)
	}
	for i := range a.window {
		for m := range a.window[i] {
			a.window[i][m] = newPacked()
		}
	}
	return a
}

// SetWarmup turns the warm-up on or off: while it is on, samples and
// per-frame counter increments go to the warm-up tally instead of the
// results.
func (a *Aggregator) SetWarmup(on bool) { a.warm.Store(on) }

// NewRecorder returns a recorder for session id, registered for harvesting.
func (a *Aggregator) NewRecorder(id int) *Recorder {
	return a.newRecorder(id, &sessionState{})
}

func (a *Aggregator) newRecorder(id int, sess *sessionState) *Recorder {
	r := &Recorder{id: id, agg: a, sess: sess, ph: newPhaser(), spare: &recSet{}}
	r.active.Store(&recSet{})
	a.mu.Lock()
	r.slot = len(a.live)
	a.live = append(a.live, r)
	a.mu.Unlock()
	return r
}

// Live returns the number of registered, not yet retired recorders
// (sessions and their forks).
func (a *Aggregator) Live() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.live)
}

// Retire harvests r (and its forks) a last time into the current interval
// and unregisters them. Retiring twice is harmless.
func (a *Aggregator) Retire(r *Recorder) {
	r.sess.mu.Lock()
	forks := r.sess.forks
	r.sess.forks = nil
	r.sess.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, rr := range append(forks, r) {
		if rr.slot < 0 {
			continue
		}
		a.harvestLocked(rr)
		last := a.live[len(a.live)-1]
		a.live[rr.slot] = last
		last.slot = rr.slot
		a.live = a.live[:len(a.live)-1]
		rr.slot = -1
	}
}

// harvestLocked moves what r recorded since its last harvest into a.cur.
func (a *Aggregator) harvestLocked(r *Recorder) {
	if r.pending != nil {
		// A previous flip timed out: its buffer may be read only once the
		// writers of that phase have left.
		if !r.ph.drain(&r.pf, a.flipWait) {
			a.stuck++
			return
		}
		a.takeSet(r, r.pending)
		r.pending = nil
	}
	old := r.active.Swap(r.spare)
	r.spare = nil
	if !r.ph.flip(&r.pf, a.flipWait) {
		a.stuck++
		r.pending = old
		r.spare = &recSet{}
		return
	}
	a.takeSet(r, old)
}

func (a *Aggregator) takeSet(r *Recorder, s *recSet) {
	a.cur.addSet(s)
	for _, n := range s.notes {
		a.addNoteLocked(n)
	}
	s.reset()
	if r.spare == nil {
		r.spare = s
	}
}

// Note adds a run-level note (deduplicated, at most MaxNotes).
func (a *Aggregator) Note(text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addNoteLocked(text)
}

func (a *Aggregator) addNoteLocked(text string) {
	for _, n := range a.notes {
		if n == text {
			return
		}
	}
	if len(a.notes) < MaxNotes {
		a.notes = append(a.notes, text)
	}
}

// Interval is what one Harvest collected. Its histograms belong to the
// aggregator and are valid until the next Harvest.
type Interval struct {
	Start, End time.Time
	// Histograms holds this interval's samples per metric (µs).
	Histograms [numMetrics]*hdr.Histogram
	// Counters and Errors are this interval's increments.
	Counters [numCounters]int64
	Errors   map[string]int64
	// Totals are the run's running totals after this interval.
	Totals      [numCounters]int64
	ErrorsTotal int64
	// Dropped counts values lost merging this interval (always 0 unless a
	// bug); Stuck counts recorder flips that timed out so far.
	Dropped int64
	Stuck   int64
}

// Harvest closes the current interval at end: it collects every live
// recorder, adds the interval to the totals and the rolling window, and
// returns it. Only one goroutine may call Harvest.
func (a *Aggregator) Harvest(end time.Time) *Interval {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.live {
		a.harvestLocked(r)
	}
	a.cur, a.out = a.out, a.cur
	a.cur.reset()
	iv := a.out
	a.total.addAccum(iv)

	slot := &a.window[a.wpos%len(a.window)]
	a.wpos++
	var dropped int64
	for m, h := range iv.hists {
		slot[m].Reset()
		if h.TotalCount() > 0 {
			dropped += slot[m].MergeFrom(h)
		}
		dropped += iv.dropped[m]
	}

	out := &Interval{
		Start: a.ivStart, End: end,
		Histograms: iv.hists, Counters: iv.counters, Errors: iv.errors,
		Totals: a.total.counters, Dropped: dropped, Stuck: a.stuck,
	}
	for _, n := range a.total.errors {
		out.ErrorsTotal += n
	}
	a.ivStart = end
	return out
}

// WindowQuantiles returns metric m's values (µs) at the given percentiles
// (0–100) over the rolling window, and the window's sample count.
func (a *Aggregator) WindowQuantiles(m Metric, percentiles ...float64) ([]int64, int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scratch.Reset()
	for i := range a.window {
		a.window[i][m].MergeInto(a.scratch)
	}
	n := a.scratch.TotalCount()
	if n == 0 {
		return make([]int64, len(percentiles)), 0
	}
	return a.scratch.ValueAtPercentilesSlice(percentiles), n
}

// Results returns a copy of the run's merged results so far (everything
// harvested; call Harvest first to include the current interval). measured
// is the length of the measured window, used for per-second rates.
func (a *Aggregator) Results(measured time.Duration) *Results {
	return a.results(measured, true)
}

// results builds Results; without clone, the histograms are the totals
// themselves, valid until the next Harvest (for the goroutine that calls
// Harvest).
func (a *Aggregator) results(measured time.Duration, clone bool) *Results {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.total
	res := &Results{
		Histograms:     make(map[string]*hdr.Histogram, numMetrics),
		Counters:       make(map[string]int64, numCounters+4),
		Errors:         make(map[string]int64, len(t.errors)),
		BelowRange:     map[string]int64{},
		AboveRange:     map[string]int64{},
		Truncated:      map[string]int64{},
		Dropped:        map[string]int64{},
		WarmupSamples:  map[string]int64{},
		WarmupCounters: map[string]int64{},
		Notes:          append([]string(nil), a.notes...),
		Measured:       measured,
		FlipTimeouts:   a.stuck,
	}
	for m := Metric(0); m < numMetrics; m++ {
		name := m.String()
		if clone {
			res.Histograms[name] = t.hists[m].Clone()
		} else {
			res.Histograms[name] = t.hists[m]
		}
		putNonZero(res.BelowRange, name, t.below[m])
		putNonZero(res.AboveRange, name, t.above[m])
		putNonZero(res.Truncated, name, t.truncated[m])
		putNonZero(res.Dropped, name, t.dropped[m])
		putNonZero(res.WarmupSamples, name, t.warmSamples[m])
	}
	for c := Counter(0); c < numCounters; c++ {
		res.Counters[c.String()] = t.counters[c]
		putNonZero(res.WarmupCounters, c.String(), t.warmCounters[c])
	}
	for k, v := range t.errors {
		res.Errors[k] = v
	}
	return res
}

func putNonZero(m map[string]int64, k string, v int64) {
	if v != 0 {
		m[k] = v
	}
}

// Results are a run's merged measurements: what thresholds are evaluated
// against and what the summary is built from. The merge command of a
// sharded run builds one from the shards' files.
type Results struct {
	// Histograms holds every metric's merged histogram (µs), by name;
	// metrics without samples are present and empty.
	Histograms map[string]*hdr.Histogram
	// Counters by name (Counter names, plus sessions_completed,
	// sessions_abandoned and sessions_active when a Runner made them).
	Counters map[string]int64
	// Errors by class.
	Errors map[string]int64
	// Per metric, non-zero entries only: values below 0 or above 1 h,
	// back-fill samples truncated, values dropped by merges, samples
	// recorded during the warm-up.
	BelowRange, AboveRange, Truncated, Dropped, WarmupSamples map[string]int64
	// WarmupCounters holds per-frame counter increments during the warm-up.
	WarmupCounters map[string]int64
	Notes          []string
	// Measured is the length of the measured window (after the warm-up).
	Measured time.Duration
	// FlipTimeouts counts recorder buffer swaps that waited too long (0
	// unless a recording goroutine was starved for over a second).
	FlipTimeouts int64
}

// ErrorsTotal returns the number of errors of all classes.
func (r *Results) ErrorsTotal() int64 {
	var n int64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// DroppedTotal returns the number of values lost merging.
func (r *Results) DroppedTotal() int64 {
	var n int64
	for _, v := range r.Dropped {
		n += v
	}
	return n
}

// autoNotes adds the notes the results imply.
func (r *Results) autoNotes() {
	add := func(s string) {
		for _, n := range r.Notes {
			if n == s {
				return
			}
		}
		r.Notes = append(r.Notes, s)
	}
	if r.Histograms[FrameLatency.String()].TotalCount() == 0 && r.Histograms[OneWayDelayVariation.String()].TotalCount() > 0 {
		add("target does not stamp capture times; frame_latency replaced by one_way_delay_variation")
	}
	if lag := r.Histograms[ReceiveLag.String()]; lag.TotalCount() > 0 {
		add(fmt.Sprintf("a frame arrives when its last packet reached the runner's socket (kernel receive timestamps), so the runner's own "+
			"delays are not in frame_latency; receive_lag is that delay (p99 %.3f ms): a large one means the runner, not the target, was busy",
			float64(lag.ValueAtQuantile(99))/1000))
	}
	if d := r.DroppedTotal(); d > 0 {
		add(fmt.Sprintf("%d values were dropped merging histograms (a bug: all histograms share one geometry)", d))
	}
	names := make([]string, 0, len(r.BelowRange))
	for k := range r.BelowRange {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == FrameLatency.String() || k == FrameLatencyCorrected.String() {
			add(fmt.Sprintf("%d negative %s values (capture time ahead of the receiver's clock): clocks are not synchronised", r.BelowRange[k], k))
		}
	}
	if r.FlipTimeouts > 0 {
		add(fmt.Sprintf("%d recorder harvests timed out; their samples were carried to a later interval (lost if the session ended meanwhile)", r.FlipTimeouts))
	}
}
