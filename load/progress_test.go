package load

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLineFormat(t *testing.T) {
	s := Snapshot{
		Elapsed: 12*time.Second + 400*time.Millisecond, Planned: 50, Started: 48, Ready: 47, Failed: 1,
		Frames: 12345, Errors: 1, Metric: "frame_latency",
		P50: 3100 * time.Microsecond, P99: 9800 * time.Microsecond, WindowCount: 900,
	}
	want := "t=12s sessions=48/50 ready=47 failed=1 frames=12345 fps=0.0 freezes=0 frame_latency p50=3.1ms p99=9.8ms errors=1"
	if got := FormatProgressLine(s); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s.WindowCount, s.Warmup, s.Metric = 0, true, ""
	want = "t=12s sessions=48/50 ready=47 failed=1 frames=12345 fps=0.0 freezes=0 frame_latency p50=- p99=- errors=1 (warm-up)"
	if got := FormatProgressLine(s); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s.WindowCount, s.Warmup, s.Metric, s.P50 = 1, false, "one_way_delay_variation", 420*time.Microsecond
	if got := FormatProgressLine(s); !strings.Contains(got, "one_way_delay_variation p50=0.42ms p99=9.8ms") {
		t.Errorf("got %q", got)
	}
}

// The live line shows elapsed/total, the warm-up's end, fps, freezes and
// the interval's error classes, the most frequent first.
func TestProgressLineLiveFields(t *testing.T) {
	s := Snapshot{
		Elapsed: 4 * time.Second, Duration: 60 * time.Second, Warmup: true, WarmupEnd: 10 * time.Second,
		Planned: 10, Started: 10, Ready: 9, Frames: 900, FPS: 269.5, Freezes: 2, Errors: 7,
		IntervalErrors: map[string]int64{"network_error": 3, "http_503": 2, "timeout": 1, "dc_closed": 1, "zero": 0},
	}
	got := FormatProgressLine(s)
	for _, want := range []string{"t=4s/60s ", " fps=269.5 ", " freezes=2 ",
		" [network_error=3 http_503=2 dc_closed=1 +1 more]", " (warm-up until 10s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "zero") {
		t.Errorf("a class with no errors in the interval is listed: %q", got)
	}
}

func TestLineProgressPrintsEveryFewSeconds(t *testing.T) {
	var buf bytes.Buffer
	p := NewLineProgress(&buf, 5*time.Second)
	for sec := 1; sec <= 11; sec++ {
		p.Update(Snapshot{Elapsed: time.Duration(sec) * time.Second, Planned: 1})
	}
	p.Done(Snapshot{Elapsed: 12 * time.Second, Planned: 1})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var ts []string
	for _, l := range lines {
		ts = append(ts, strings.Fields(l)[0])
	}
	if got := strings.Join(ts, " "); got != "t=1s t=6s t=11s t=12s" {
		t.Errorf("lines at %s, want t=1s t=6s t=11s t=12s", got)
	}
	if strings.Contains(buf.String(), "\x1b") || strings.Contains(buf.String(), "\r") {
		t.Error("line mode wrote control characters")
	}
}

func TestProgressChoosesLinesOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) {
		t.Fatal("a buffer is not a terminal")
	}
	if _, ok := NewProgress(&buf).(*lineProgress); !ok {
		t.Fatal("NewProgress off a terminal did not choose lines")
	}
}

// Bars never block the runner, even when nothing renders them.
func TestBarProgressDoesNotBlock(t *testing.T) {
	var buf bytes.Buffer
	p := NewBarProgress(&buf)
	for i := range 20 {
		p.Update(Snapshot{Elapsed: time.Duration(i) * time.Second, Planned: 10, Started: int64(min(i, 10)), Ready: int64(min(i, 9)), Failed: 1})
	}
	done := make(chan struct{})
	go func() { p.Done(Snapshot{Elapsed: 20 * time.Second, Planned: 10, Started: 10}); close(done) }()
	select {
	case <-done:
	case <-time.After(liveness):
		t.Fatal("Done hung")
	}
}
