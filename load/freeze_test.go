package load

import (
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
)

// The webrtc-stats rule: a frame duration ≥ max(3 × avg, avg + 150 ms) of
// the last 30 is a freeze; at 30 fps the bar is avg + 150 ms, at 2 fps it
// is 3 × avg.
func TestFreezeRule(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name   string
		steady time.Duration // the frames before
		gap    time.Duration
		want   bool
	}{
		{"30 fps, just under avg+150ms", ms(33), ms(182), false},
		{"30 fps, at avg+150ms", ms(33), ms(183), true},
		{"30 fps, a 6 s blackout", ms(33), 6 * time.Second, true},
		{"2 fps, avg+150ms is not enough", ms(500), ms(700), false},
		{"2 fps, at 3 × avg", ms(500), ms(1500), true},
		{"16 fps, jitter of 2 frames", ms(62), ms(125), false},
	} {
		var d freezeDetector
		for range 40 {
			if d.observe(tc.steady) {
				t.Fatalf("%s: a steady stream froze", tc.name)
			}
		}
		if got := d.observe(tc.gap); got != tc.want {
			t.Errorf("%s: freeze=%v, want %v", tc.name, got, tc.want)
		}
	}
	var first freezeDetector
	if first.observe(time.Hour) {
		t.Error("the first frame duration has no average to be judged against")
	}
}

// The average is of the last 30 durations only: after a slow start the
// bar follows the stream's current rate.
func TestFreezeWindowSlides(t *testing.T) {
	var d freezeDetector
	for range 30 {
		d.observe(time.Second) // 1 fps
	}
	for range 30 {
		d.observe(33 * time.Millisecond) // then 30 fps
	}
	if !d.observe(250 * time.Millisecond) {
		t.Error("a 250 ms gap at 30 fps is a freeze once the 1 fps frames left the window")
	}
}

// A session's frame recorder counts a stall in its stream as one freeze
// and records the stall's length; the frames around it are not freezes.
func TestFrameRecorderCountsFreezes(t *testing.T) {
	t0 := time.Now()
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	f := newFrameRecorder(rec, SessionConfig{})
	at := t0
	frame := func(gap time.Duration) {
		at = at.Add(gap)
		f.onFrame(client.Frame{Kind: "video", Complete: true, Arrival: at, Packets: 1})
	}
	for range 60 {
		frame(33 * time.Millisecond)
	}
	frame(2 * time.Second) // a blackout of the media path
	for range 60 {
		frame(33 * time.Millisecond)
	}
	agg.Retire(rec)
	agg.Harvest(at)
	res := agg.Results(time.Minute)
	if n := res.Counters["freezes"]; n != 1 {
		t.Fatalf("freezes = %d, want 1", n)
	}
	h := res.Histograms["freeze_duration"]
	if h.TotalCount() != 1 || h.Max() < 1_990_000 || h.Max() > 2_010_000 {
		t.Fatalf("freeze_duration: %d samples, max %d µs", h.TotalCount(), h.Max())
	}
}
