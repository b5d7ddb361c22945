package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// sameDistribution fails unless a and b have the same count, min, max, mean
// and value at every percentile checked.
func sameDistribution(t *testing.T, what string, got, want *hdr.Histogram) {
	t.Helper()
	if got.TotalCount() != want.TotalCount() || got.Min() != want.Min() || got.Max() != want.Max() || got.Mean() != want.Mean() {
		t.Fatalf("%s: count/min/max/mean %d/%d/%d/%.3f, want %d/%d/%d/%.3f", what,
			got.TotalCount(), got.Min(), got.Max(), got.Mean(), want.TotalCount(), want.Min(), want.Max(), want.Mean())
	}
	for _, q := range []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100} {
		if g, w := got.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
			t.Fatalf("%s: p%v = %d, want %d", what, q, g, w)
		}
	}
	if !got.Equals(want) {
		t.Fatalf("%s: histograms differ", what)
	}
}

func TestMergedSessionsEqualOneHistogramOfAllValues(t *testing.T) {
	agg := NewAggregator(t0)
	single := NewHistogram()
	r := rand.New(rand.NewPCG(7, 8))
	recs := make([]*Recorder, 200)
	for i := range recs {
		recs[i] = agg.NewRecorder(i)
	}
	for round := range 5 {
		for i, rec := range recs {
			for range 200 + i {
				v := int64(r.ExpFloat64()*4000) + int64(i)
				rec.Record(FrameLatency, us(v))
				single.RecordValue(v)
			}
		}
		iv := agg.Harvest(t0.Add(time.Duration(round+1) * time.Second))
		if iv.Dropped != 0 {
			t.Fatalf("interval dropped %d", iv.Dropped)
		}
	}
	for _, rec := range recs[:100] {
		agg.Retire(rec) // half retire, half stay live: both paths merge
	}
	agg.Harvest(t0.Add(6 * time.Second))
	res := agg.Results(6 * time.Second)
	sameDistribution(t, "frame_latency", res.Histograms["frame_latency"], single)
	if res.DroppedTotal() != 0 {
		t.Fatalf("dropped %d, want 0", res.DroppedTotal())
	}
}

func TestOutOfRangeValuesAreCountedNotDropped(t *testing.T) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	rec.Record(FrameLatency, -3*time.Millisecond)
	rec.Record(FrameLatency, 2*time.Hour)
	rec.Record(FrameLatency, time.Hour) // the top of the range is in range
	rec.Record(FrameLatency, 0)         // so is 0
	rec.Record(FrameLatency, 400*time.Nanosecond)
	rec.RecordCorrected(FrameLatencyCorrected, -time.Second, 33*time.Millisecond)
	agg.Harvest(t0.Add(time.Second))
	res := agg.Results(time.Second)
	if got := res.Histograms["frame_latency"].TotalCount(); got != 3 {
		t.Errorf("in-range count %d, want 3", got)
	}
	if res.BelowRange["frame_latency"] != 1 || res.AboveRange["frame_latency"] != 1 || res.BelowRange["frame_latency_corrected"] != 1 {
		t.Errorf("below %v above %v", res.BelowRange, res.AboveRange)
	}
	res.autoNotes()
	if len(res.Notes) == 0 {
		t.Error("negative frame latencies produced no note about clocks")
	}
	ms, ok := MetricSummaryOf(res, "frame_latency_corrected")
	if !ok || ms.BelowRange != 1 || ms.Count != 0 {
		t.Errorf("summary of an out-of-range-only metric: %+v %v", ms, ok)
	}
}

func TestRecordCorrectedBackfills(t *testing.T) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	rec.RecordCorrected(FrameLatencyCorrected, 100*time.Millisecond, 30*time.Millisecond) // 100, 70, 40
	rec.RecordCorrected(FrameLatencyCorrected, 10*time.Millisecond, 30*time.Millisecond)  // 10
	agg.Harvest(t0.Add(time.Second))
	want := NewHistogram()
	want.RecordCorrectedValue(100000, 30000)
	want.RecordCorrectedValue(10000, 30000)
	sameDistribution(t, "corrected", agg.Results(time.Second).Histograms["frame_latency_corrected"], want)

	rec.RecordCorrected(FrameLatencyCorrected, time.Hour, time.Millisecond) // 3.6M back-fill samples asked
	agg.Harvest(t0.Add(2 * time.Second))
	res := agg.Results(time.Second)
	if tr := res.Truncated["frame_latency_corrected"]; tr != 3_600_000-1-maxBackfill {
		t.Errorf("truncated %d, want %d", tr, 3_600_000-1-maxBackfill)
	}
}

func TestWarmupSamplesAreTalliedApart(t *testing.T) {
	agg := NewAggregator(t0)
	agg.SetWarmup(true)
	rec := agg.NewRecorder(0)
	rec.Count(SessionsStarted, 1)
	for range 5 {
		rec.Record(FrameLatency, 5*time.Millisecond)
	}
	rec.Count(Frames, 3)
	rec.Error("http_503")
	rec.Record(Token, 40*time.Millisecond) // connect phases are kept during the warm-up
	agg.Harvest(t0.Add(time.Second))
	agg.SetWarmup(false)
	for range 7 {
		rec.Record(FrameLatency, 9*time.Millisecond)
	}
	rec.Count(Frames, 7)
	agg.Harvest(t0.Add(2 * time.Second))
	res := agg.Results(time.Second)
	if h := res.Histograms["frame_latency"]; h.TotalCount() != 7 || h.Min() < 8000 {
		t.Errorf("measured frame_latency count %d min %d, want 7 samples of 9ms", h.TotalCount(), h.Min())
	}
	if res.WarmupSamples["frame_latency"] != 5 || res.WarmupCounters["frames"] != 3 || res.Counters["frames"] != 7 {
		t.Errorf("warm-up samples %v counters %v, frames %d", res.WarmupSamples, res.WarmupCounters, res.Counters["frames"])
	}
	if h := res.Histograms["token"]; h == nil || h.TotalCount() != 1 || res.WarmupSamples["token"] != 0 {
		t.Errorf("connect-phase sample recorded during the warm-up must be kept: %v", res.WarmupSamples)
	}
	if res.Counters["sessions_started"] != 1 || res.Errors["http_503"] != 1 || res.Counters["sessions_errored"] != 1 {
		t.Errorf("session counts and errors must count during the warm-up: %v %v", res.Counters, res.Errors)
	}
}

func TestErrorsAndNotesAreBounded(t *testing.T) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	for i := range 3 * MaxErrorClasses {
		rec.Error("class_" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
		rec.Error("Timeout!") // normalised
	}
	for i := range 100 {
		rec.Note("note " + string(rune('a'+i%50)))
	}
	agg.Harvest(t0.Add(time.Second))
	res := agg.Results(time.Second)
	if len(res.Errors) > MaxErrorClasses {
		t.Errorf("%d error classes kept, max %d", len(res.Errors), MaxErrorClasses)
	}
	if res.Errors["timeout_"] != int64(3*MaxErrorClasses) || res.Errors[ClassOverflow] == 0 {
		t.Errorf("timeout_=%d overflow=%d", res.Errors["timeout_"], res.Errors[ClassOverflow])
	}
	if res.Counters["sessions_errored"] != 1 {
		t.Errorf("sessions_errored = %d, want 1", res.Counters["sessions_errored"])
	}
	if len(res.Notes) > MaxNotes {
		t.Errorf("%d notes", len(res.Notes))
	}
}

func TestForksMergeWithTheirSession(t *testing.T) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(3)
	fork := rec.Fork()
	if fork.ID() != 3 || agg.Live() != 2 {
		t.Fatalf("fork id %d, live %d", fork.ID(), agg.Live())
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rec.Record(DCRTT, time.Millisecond); rec.Ready(); rec.Error("x") }()
	go func() { defer wg.Done(); fork.Record(DCRTT, time.Millisecond); fork.Ready(); fork.Error("y") }()
	wg.Wait()
	agg.Retire(rec)
	if agg.Live() != 0 {
		t.Fatalf("live %d after retiring the parent", agg.Live())
	}
	agg.Harvest(t0.Add(time.Second))
	res := agg.Results(time.Second)
	if res.Histograms["dc_rtt"].TotalCount() != 2 || res.Counters["sessions_ready"] != 1 || res.Counters["sessions_errored"] != 1 {
		t.Fatalf("dc_rtt %d ready %d errored %d", res.Histograms["dc_rtt"].TotalCount(), res.Counters["sessions_ready"], res.Counters["sessions_errored"])
	}
}

// Recording goes on while the aggregator harvests: no sample is lost or
// counted twice, and -race sees no race (the phaser orders the buffers).
func TestHarvestWhileRecording(t *testing.T) {
	agg := NewAggregator(t0)
	const writers, perWriter = 8, 20000
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := range writers {
		rec := agg.NewRecorder(w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				rec.Record(InterFrameGap, us(int64(i%5000)+1))
				rec.Count(Frames, 1)
			}
			agg.Retire(rec)
		}()
	}
	harvests := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var total int64
	for !stop.Load() {
		select {
		case <-done:
			stop.Store(true)
		default:
		}
		iv := agg.Harvest(t0.Add(time.Duration(harvests) * time.Millisecond))
		total += iv.Histograms[InterFrameGap].TotalCount()
		harvests++
		if harvests > 1_000_000 {
			t.Fatal("writers never finished")
		}
	}
	iv := agg.Harvest(t0.Add(time.Hour))
	total += iv.Histograms[InterFrameGap].TotalCount()
	res := agg.Results(time.Hour)
	if total != writers*perWriter || res.Histograms["inter_frame_gap"].TotalCount() != writers*perWriter || res.Counters["frames"] != writers*perWriter {
		t.Fatalf("harvested %d samples, totals %d, frames %d; want %d each", total, res.Histograms["inter_frame_gap"].TotalCount(), res.Counters["frames"], writers*perWriter)
	}
	t.Logf("%d harvests during recording", harvests)
}

func TestWindowQuantiles(t *testing.T) {
	agg := NewAggregator(t0, WindowSlots(2))
	rec := agg.NewRecorder(0)
	rec.Record(FrameLatency, 100*time.Millisecond)
	agg.Harvest(t0.Add(time.Second))
	for range 99 {
		rec.Record(FrameLatency, time.Millisecond)
	}
	agg.Harvest(t0.Add(2 * time.Second))
	q, n := agg.WindowQuantiles(FrameLatency, 50, 100)
	if n != 100 || q[0] != 1000 || q[1] < 100000 {
		t.Fatalf("window %v n=%d", q, n)
	}
	agg.Harvest(t0.Add(3 * time.Second)) // the 100 ms sample leaves the window
	agg.Harvest(t0.Add(4 * time.Second)) // and so do the rest
	if _, n := agg.WindowQuantiles(FrameLatency, 50); n != 0 {
		t.Fatalf("window still holds %d samples", n)
	}
	if agg.Results(0).Histograms["frame_latency"].TotalCount() != 100 {
		t.Fatal("totals lost samples when the window rotated")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	for i := range 10000 { // populate the buckets first
		rec.Record(FrameLatency, us(int64(i)))
	}
	i := int64(0)
	allocs := testing.AllocsPerRun(10000, func() {
		i++
		rec.Record(FrameLatency, us(i%10000))
		rec.Count(Frames, 1)
	})
	if allocs != 0 {
		t.Fatalf("Record allocates %.1f times per call", allocs)
	}
}

func TestMetricAndCounterNames(t *testing.T) {
	want := []string{"token", "session_create", "time_to_ready", "signalling", "ice_connect", "first_frame",
		"frame_latency", "frame_latency_corrected", "inter_frame_gap", "command_to_effect", "dc_rtt", "one_way_delay_variation",
		"receive_lag", "freeze_duration"}
	if len(Metrics()) != len(want) {
		t.Fatalf("%d metrics, want %d", len(Metrics()), len(want))
	}
	for i, m := range Metrics() {
		if m.String() != want[i] {
			t.Errorf("metric %d = %s, want %s", i, m, want[i])
		}
		if p, ok := ParseMetric(want[i]); !ok || p != m {
			t.Errorf("ParseMetric(%s)", want[i])
		}
	}
	for _, c := range Counters() {
		if p, ok := ParseCounter(c.String()); !ok || p != c {
			t.Errorf("ParseCounter(%s)", c)
		}
	}
}

// A writer that stays inside its critical section (starved for longer than
// the flip wait) delays its samples to a later interval; nothing is lost or
// read while it may still write.
func TestHarvestCarriesOverAStuckWriter(t *testing.T) {
	agg := NewAggregator(t0)
	agg.flipWait = 5 * time.Millisecond
	rec := agg.NewRecorder(0)
	for range 5 {
		rec.Record(DCRTT, time.Millisecond)
	}
	c := rec.ph.enter() // a writer caught mid-record
	iv := agg.Harvest(t0.Add(time.Second))
	if iv.Stuck != 1 || iv.Histograms[DCRTT].TotalCount() != 0 {
		t.Fatalf("stuck %d, harvested %d; want 1, 0", iv.Stuck, iv.Histograms[DCRTT].TotalCount())
	}
	for range 3 {
		rec.Record(DCRTT, time.Millisecond) // goes to the new buffer
	}
	iv = agg.Harvest(t0.Add(2 * time.Second)) // still stuck: nothing read
	if iv.Histograms[DCRTT].TotalCount() != 0 {
		t.Fatalf("read %d samples while the writer was inside", iv.Histograms[DCRTT].TotalCount())
	}
	rec.ph.exit(c)
	iv = agg.Harvest(t0.Add(3 * time.Second))
	if iv.Histograms[DCRTT].TotalCount() != 8 {
		t.Fatalf("after the writer left: %d samples, want 8", iv.Histograms[DCRTT].TotalCount())
	}
	res := agg.Results(time.Second)
	res.autoNotes()
	if res.FlipTimeouts != 2 || res.Histograms["dc_rtt"].TotalCount() != 8 || len(res.Notes) == 0 {
		t.Fatalf("timeouts %d, total %d, notes %q", res.FlipTimeouts, res.Histograms["dc_rtt"].TotalCount(), res.Notes)
	}
}

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

func TestErrorClass(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, ClassTimeout},
		{fmt.Errorf("dial: %w", netTimeout{}), ClassTimeout},
		{fmt.Errorf("wrapped: %w", classed("HTTP 429")), "http_429"},
		{errors.New("boom"), ClassOther},
		{classed(""), ClassOther},
	} {
		if got := ErrorClass(tc.err); got != tc.want {
			t.Errorf("ErrorClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
