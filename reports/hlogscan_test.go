package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestHlogScannerAgreesWithReadHlog: the scanner yields every interval and
// counter line in file order, with the times and histograms ReadHlog
// merges, and skips what ReadHlog skips.
func TestHlogScannerAgreesWithReadHlog(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 123_000_000, time.UTC)
	var buf bytes.Buffer
	w, err := NewHlogWriter(&buf, start, "[Shard: 1/4]")
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		s, e := start.Add(time.Duration(k)*time.Second), start.Add(time.Duration(k+1)*time.Second)
		for _, tag := range []string{"token", "frame_latency"} {
			h := NewHistogram()
			for v := int64(1); v <= int64(10*(k+1)); v++ {
				_ = h.RecordValue(v * 997)
			}
			if err := w.WriteInterval(tag, s, e, h); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteCounters(s, e, map[string]int64{"frames": int64(30 * (k + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("Tag=token,3.000,1.000,torn")
	text := buf.String()

	l, err := ReadHlog(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	sc := NewHlogScanner(strings.NewReader(text))
	merged := map[string]int64{}
	var ivs, counters int
	for n := 0; n < 100 && sc.Scan(); n++ {
		r := sc.Record()
		if r.IsCounters() {
			if c := l.Counters[counters]; !c.Start.Equal(r.Start) || !c.End.Equal(r.End) || c.Values["frames"] != r.Counters["frames"] {
				t.Errorf("counters %d: %+v vs %+v", counters, r, c)
			}
			counters++
			continue
		}
		iv := l.Intervals[ivs]
		if iv.Tag != r.Tag || !iv.Start.Equal(r.Start) || !iv.End.Equal(r.End) || iv.Count != r.Histogram.TotalCount() {
			t.Errorf("interval %d: %s %v–%v n=%d vs %+v", ivs, r.Tag, r.Start, r.End, r.Histogram.TotalCount(), iv)
		}
		if r.Histogram.SignificantFigures() != HistogramSigFigs || r.Histogram.HighestTrackableValue() != HistogramHighest {
			t.Errorf("geometry %d %d", r.Histogram.SignificantFigures(), r.Histogram.HighestTrackableValue())
		}
		merged[r.Tag] += r.Histogram.TotalCount()
		ivs++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if ivs != len(l.Intervals) || counters != len(l.Counters) || sc.Skipped != l.Skipped || sc.Skipped != 1 {
		t.Fatalf("scanner %d intervals %d counters %d skipped; ReadHlog %d %d %d", ivs, counters, sc.Skipped, len(l.Intervals), len(l.Counters), l.Skipped)
	}
	if merged["token"] != l.Metrics["token"].TotalCount() || !sc.RunStart.Equal(start) || !sc.StartTime.Equal(start.Truncate(time.Second)) {
		t.Fatalf("token %d vs %d, run start %v, start %v", merged["token"], l.Metrics["token"].TotalCount(), sc.RunStart, sc.StartTime)
	}
	if len(sc.Comments) == 0 || !strings.Contains(strings.Join(sc.Comments, "\n"), "[Shard: 1/4]") {
		t.Errorf("comments %q", sc.Comments)
	}
}
