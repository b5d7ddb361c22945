package reports

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func randomHistogram(r *rand.Rand, n int, scale float64) *hdr.Histogram {
	h := NewHistogram()
	for range n {
		v := int64(r.ExpFloat64()*scale) + 1
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
	}
	return h
}

func TestHlogRoundTripMergesPerTag(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	var buf bytes.Buffer
	w, err := NewHlogWriter(&buf, start, "[Shard: 0/1]")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*hdr.Histogram{"frame_latency": NewHistogram(), "token": NewHistogram()}
	for i := range 10 {
		s := start.Add(time.Duration(i) * time.Second)
		e := s.Add(time.Second)
		for tag, total := range want {
			h := randomHistogram(r, 500+i, 3000)
			total.Merge(h)
			if err := w.WriteInterval(tag, s, e, h); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteCounters(s, e, map[string]int64{"frames": int64(i * 30), "sessions_active": 5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	l, err := ReadHlog(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if l.Skipped != 0 || l.Dropped != 0 {
		t.Fatalf("skipped %d dropped %d, want 0", l.Skipped, l.Dropped)
	}
	for tag, h := range want {
		got := l.Metrics[tag]
		if got == nil || !got.Equals(h) {
			t.Errorf("%s: merged histogram read back differs (count %d vs %d)", tag, got.TotalCount(), h.TotalCount())
		}
	}
	if !l.RunStart.Equal(start) {
		t.Errorf("RunStart = %v, want %v", l.RunStart, start)
	}
	if got, want := l.StartTime, start.Truncate(time.Second); !got.Equal(want) {
		t.Errorf("StartTime = %v, want %v", got, want)
	}
	if len(l.Intervals) != 20 || len(l.Counters) != 10 {
		t.Fatalf("%d intervals, %d counter lines; want 20, 10", len(l.Intervals), len(l.Counters))
	}
	if iv := l.Intervals[0]; !iv.Start.Equal(start.Truncate(time.Millisecond)) || iv.End.Sub(iv.Start) != time.Second {
		t.Errorf("first interval %v–%v, want %v + 1s", iv.Start, iv.End, start)
	}
	if c := l.Counters[9]; c.Values["frames"] != 270 || c.Values["sessions_active"] != 5 || !c.Start.Equal(start.Add(9*time.Second)) {
		t.Errorf("last counters %+v", c)
	}
	if !l.First.Equal(start) || !l.Last.Equal(start.Add(10*time.Second)) {
		t.Errorf("window %v–%v", l.First, l.Last)
	}
	if len(l.Comments) == 0 || !strings.Contains(strings.Join(l.Comments, "\n"), "[Shard: 0/1]") {
		t.Errorf("comments %q lack the shard line", l.Comments)
	}

	// HdrHistogram's own reader reads the same file.
	lr := hdr.NewHistogramLogReader(bytes.NewReader(buf.Bytes()))
	lib := map[string]*hdr.Histogram{}
	for range 1000 {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		if lib[h.Tag()] == nil {
			lib[h.Tag()] = NewHistogram()
		}
		lib[h.Tag()].Merge(h)
	}
	for tag, h := range want {
		if lib[tag] == nil || !lib[tag].Equals(h) {
			t.Errorf("%s: HistogramLogReader disagrees", tag)
		}
	}
}

func TestHlogTornLastLineIsSkipped(t *testing.T) {
	var buf bytes.Buffer
	start := time.Unix(1_800_000_000, 0)
	w, _ := NewHlogWriter(&buf, start)
	h := NewHistogram()
	h.RecordValue(1234)
	w.WriteInterval("dc_rtt", start, start.Add(time.Second), h)
	w.WriteInterval("dc_rtt", start.Add(time.Second), start.Add(2*time.Second), h)
	w.Close()
	torn := buf.Bytes()[:buf.Len()-20] // a writer killed mid-line
	l, err := ReadHlog(bytes.NewReader(torn))
	if err != nil {
		t.Fatal(err)
	}
	if l.Skipped != 1 || l.Metrics["dc_rtt"].TotalCount() != 1 {
		t.Fatalf("skipped %d, count %d; want 1, 1", l.Skipped, l.Metrics["dc_rtt"].TotalCount())
	}
}

func TestHlogRejectsBadTags(t *testing.T) {
	w, _ := NewHlogWriter(&bytes.Buffer{}, time.Now())
	if err := w.WriteInterval("a b", time.Now(), time.Now(), NewHistogram()); err == nil {
		t.Fatal("a tag with a space was accepted")
	}
}

func TestHlogMergeShards(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	start := time.Unix(1_800_000_000, 0)
	all := NewHistogram()
	var logs []*Hlog
	for shard := range 4 {
		var buf bytes.Buffer
		w, _ := NewHlogWriter(&buf, start.Add(time.Duration(shard)*100*time.Millisecond))
		h := randomHistogram(r, 1000, 5000)
		all.Merge(h)
		w.WriteInterval("frame_latency", start, start.Add(time.Duration(shard+1)*time.Second), h)
		w.Close()
		l, err := ReadHlog(&buf)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	m := logs[0]
	for _, l := range logs[1:] {
		m.Merge(l)
	}
	if !m.Metrics["frame_latency"].Equals(all) || m.Dropped != 0 {
		t.Fatal("merged shards differ from one histogram of all values")
	}
	if !m.Last.Equal(start.Add(4*time.Second)) || !m.First.Equal(start) {
		t.Fatalf("union window %v–%v", m.First, m.Last)
	}
}

func TestWriteHgrmFormat(t *testing.T) {
	h := NewHistogram()
	for v := int64(1000); v <= 100000; v += 1000 { // 1 ms … 100 ms
		h.RecordValue(v)
	}
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{" Value\tPercentile\tTotalCount\t1/(1-Percentile)", "#[Mean    =", "#[Max     =      100.031", "Total count    =          100]", "#[Buckets ="} {
		if !strings.Contains(out, want) {
			t.Errorf("hgrm lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "       1.000     0.000000            1         1.00") {
		t.Errorf("first row not in ms:\n%s", out[:200])
	}
}

func TestSummaryFileIsReplacedAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.json")
	for i := range 3 {
		s := &Summary{Schema: SummarySchema, Status: StatusRunning, Counters: map[string]int64{"frames": int64(i)}}
		if err := WriteSummaryFile(path, s); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ReadSummaryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Counters["frames"] != 2 {
		t.Fatalf("frames = %d", s.Counters["frames"])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	raw, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "status", "params", "shard", "start", "end", "counters", "errors", "metrics", "warmup", "thresholds", "dropped", "notes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
}

func TestWriteText(t *testing.T) {
	obs := 9.8
	obs2 := 0.02
	s := &Summary{
		Schema: SummarySchema, Status: StatusComplete, ElapsedS: 30, MeasuredS: 25,
		Params:   Params{Model: "closed", Sessions: 50},
		Warmup:   Warmup{DurationS: 5},
		Counters: map[string]int64{"sessions_started": 50, "sessions_ready": 49, "sessions_failed": 1, "frames": 1234},
		Errors:   map[string]int64{"http_429": 1}, ErrorsTotal: 1,
		Metrics: map[string]MetricSummary{
			"token":         {Count: 50, P50Ms: 1.5},
			"frame_latency": {Count: 1234, P50Ms: 3.1, P99Ms: 9.8},
		},
		MetricOrder: []string{"token", "frame_latency"},
		Thresholds: []ThresholdVerdict{
			{Expr: "frame_latency.p99<50ms", Observed: &obs, Unit: "ms", Pass: true},
			{Expr: "errors.rate<1%", Observed: &obs2, Unit: "ratio", Pass: false},
			{Expr: "dc_rtt.p50<5ms", Unit: "ms", Detail: "no dc_rtt samples"},
		},
		Notes: []string{"target does not stamp capture times"},
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"complete after 30.0s (25.0s measured after a 5s warm-up), closed model, 50 sessions",
		"started 50  ready 49  failed 1",
		"errors    1 (http_429=1)",
		"thresholds: 2 of 3 failed",
		"PASS  frame_latency.p99<50ms",
		"observed 9.8ms",
		"FAIL  errors.rate<1%",
		"observed 2%",
		"observed no data (no dc_rtt samples)",
		"  - target does not stamp capture times",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "\ntoken") > strings.Index(out, "\nframe_latency") {
		t.Errorf("metrics not in MetricOrder:\n%s", out)
	}
}
