package load

import (
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Recorder collects one session's measurements. It is owned by one goroutine
// at a time (the session's); a session that records from several goroutines
// (say, a track reader and a command loop) gives each its own Fork. Recording
// takes no lock: each call brackets its update with two uncontended atomic
// adds (a writer–reader phaser), and the Aggregator swaps the recorder's
// double buffer at interval boundaries without stopping it. Memory per
// recorder is two sets of sparse (packed) histograms that grow with the
// number of distinct buckets used, never with the number of samples.
//
// A Recorder must not be used after its SessionFunc has returned: the Runner
// retires it then, and later samples are silently lost (never raced).
type Recorder struct {
	id   int
	agg  *Aggregator
	sess *sessionState
	ph   *phaser

	active atomic.Pointer[recSet]

	// Reader side, guarded by agg.mu.
	spare   *recSet
	pending *recSet // old buffer of a flip that timed out
	pf      pendingFlip
	slot    int // index in agg.live, -1 when retired
}

// sessionState is shared by a session's recorder and its forks.
type sessionState struct {
	errored atomic.Bool
	ready   atomic.Bool
	mu      sync.Mutex
	forks   []*Recorder
}

// recSet is one buffer of a recorder.
type recSet struct {
	hists        [numMetrics]*hdr.PackedHistogram
	counters     [numCounters]int64
	below        [numMetrics]int64
	above        [numMetrics]int64
	truncated    [numMetrics]int64
	warmSamples  [numMetrics]int64
	warmCounters [numCounters]int64
	errors       map[string]int64
	notes        []string
}

// maxBackfill bounds the coordinated-omission back-fill of one
// RecordCorrected call (a 1 h stall at 30 fps needs 108,000).
const maxBackfill = 1 << 17

// maxNotesPerSet bounds the notes one recorder buffer keeps per interval.
const maxNotesPerSet = 8

// ID returns the session index the recorder belongs to.
func (r *Recorder) ID() int { return r.id }

// Record records one latency sample of metric m. Negative durations and
// durations over 1 h are counted as out of range, not recorded. During the
// warm-up a steady-state sample only increments the metric's warm-up tally;
// connect-phase samples are always kept (see Metric.SteadyState).
func (r *Recorder) Record(m Metric, d time.Duration) {
	b, c := r.begin()
	b.Record(m, d)
	r.end(c)
}

// RecordCorrected records d and, as HdrHistogram's RecordCorrectedValue
// does, back-fills the samples a stall hid from a producer that emits every
// expectedInterval (d−i, d−2i, … down to i): use it for frame latency at the
// stream's frame interval (33.3 ms at 30 fps). At most 131,072 samples are
// back-filled per call; the rest are counted as truncated.
func (r *Recorder) RecordCorrected(m Metric, d, expectedInterval time.Duration) {
	b, c := r.begin()
	b.RecordCorrected(m, d, expectedInterval)
	r.end(c)
}

// Count adds n to counter c (n may be 0; negative n is ignored).
// Increments of per-frame counters during the warm-up go to the warm-up
// tally.
func (r *Recorder) Count(c Counter, n int64) {
	b, ph := r.begin()
	b.Count(c, n)
	r.end(ph)
}

// recBatch updates a recorder's active buffer inside one phaser section
// (see begin), so that a caller recording several values at once — every
// received frame does — pays for one section instead of one per value.
type recBatch struct {
	s    *recSet
	warm bool
}

// begin enters the recorder for a batch of updates; end(c) leaves it. No
// other method of the recorder may be called in between.
func (r *Recorder) begin() (recBatch, int64) {
	c := r.ph.enter()
	return recBatch{s: r.active.Load(), warm: r.agg.warm.Load()}, c
}

func (r *Recorder) end(c int64) { r.ph.exit(c) }

// Record is Recorder.Record within a batch.
func (b recBatch) Record(m Metric, d time.Duration) {
	switch {
	case m >= numMetrics:
	case b.warm && m.SteadyState():
		b.s.warmSamples[m]++
	default:
		b.s.record(m, d)
	}
}

// RecordCorrected is Recorder.RecordCorrected within a batch.
func (b recBatch) RecordCorrected(m Metric, d, expectedInterval time.Duration) {
	switch {
	case m >= numMetrics:
	case b.warm && m.SteadyState():
		b.s.warmSamples[m]++
	case b.s.record(m, d):
		b.s.backfill(m, micros(d), micros(expectedInterval))
	}
}

// Count is Recorder.Count within a batch.
func (b recBatch) Count(c Counter, n int64) {
	switch {
	case c >= numCounters || n < 0:
	case c.isSample() && b.warm:
		b.s.warmCounters[c] += n
	default:
		b.s.counters[c] += n
	}
}

// Ready marks the session ready (counted once per session, forks included).
func (r *Recorder) Ready() {
	if r.sess.ready.CompareAndSwap(false, true) {
		r.Count(SessionsReady, 1)
	}
}

// Error counts one error of class (http_429, timeout, ice_failed, …; see
// NormalizeClass). The first error of a session also counts the session in
// sessions_errored, which errors.rate is computed from. Errors are never
// excluded by the warm-up.
func (r *Recorder) Error(class string) {
	class = NormalizeClass(class)
	first := r.sess.errored.CompareAndSwap(false, true)
	c := r.ph.enter()
	s := r.active.Load()
	if s.errors == nil {
		s.errors = make(map[string]int64, 4)
	}
	if _, ok := s.errors[class]; !ok && len(s.errors) >= MaxErrorClasses {
		class = ClassOverflow
	}
	s.errors[class]++
	if first {
		s.counters[SessionsErrored]++
	}
	r.ph.exit(c)
}

// Note attaches a note to the run's summary (deduplicated, at most MaxNotes
// per run), e.g. "target does not stamp capture times; frame_latency
// replaced by one_way_delay_variation".
func (r *Recorder) Note(text string) {
	if text == "" {
		return
	}
	c := r.ph.enter()
	s := r.active.Load()
	dup := false
	for _, n := range s.notes {
		if n == text {
			dup = true
			break
		}
	}
	if !dup && len(s.notes) < maxNotesPerSet {
		s.notes = append(s.notes, text)
	}
	r.ph.exit(c)
}

// Fork returns another recorder of the same session for use by another
// goroutine. Forks are merged like any recorder and retired with their
// parent; the session counts as ready or errored once whichever records it.
func (r *Recorder) Fork() *Recorder {
	f := r.agg.newRecorder(r.id, r.sess)
	r.sess.mu.Lock()
	r.sess.forks = append(r.sess.forks, f)
	r.sess.mu.Unlock()
	return f
}

// micros converts d to µs, rounding to the nearest microsecond.
func micros(d time.Duration) int64 {
	if d >= 0 {
		return int64((d + 500*time.Nanosecond) / time.Microsecond)
	}
	return int64((d - 500*time.Nanosecond) / time.Microsecond)
}

// record records d into metric m and reports whether it was in range.
func (s *recSet) record(m Metric, d time.Duration) bool {
	if d < 0 {
		s.below[m]++
		return false
	}
	if d > time.Duration(HighestMicros)*time.Microsecond {
		s.above[m]++
		return false
	}
	s.recordMicros(m, micros(d))
	return true
}

func (s *recSet) recordMicros(m Metric, v int64) {
	h := s.hists[m]
	if h == nil {
		h = newPacked()
		s.hists[m] = h
	}
	_ = h.RecordValue(v) // in range by construction
}

func (s *recSet) backfill(m Metric, v, interval int64) {
	if interval <= 0 || v <= interval {
		return
	}
	missing := v - interval
	for n := 0; missing >= interval; n++ {
		if n == maxBackfill {
			s.truncated[m] += missing / interval
			return
		}
		s.recordMicros(m, missing)
		missing -= interval
	}
}

// reset empties the set for reuse, keeping its storage.
func (s *recSet) reset() {
	for _, h := range s.hists {
		if h != nil {
			h.Reset()
		}
	}
	s.counters = [numCounters]int64{}
	s.below = [numMetrics]int64{}
	s.above = [numMetrics]int64{}
	s.truncated = [numMetrics]int64{}
	s.warmSamples = [numMetrics]int64{}
	s.warmCounters = [numCounters]int64{}
	clear(s.errors)
	s.notes = s.notes[:0]
}
