package livemetrics_test

import (
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/reactor-harness/reactor-harness/livemetrics"
	"github.com/reactor-harness/reactor-harness/load"
)

func interval(latenciesUS ...int64) *load.Interval {
	iv := &load.Interval{Errors: map[string]int64{"network_error": 2}}
	for _, m := range load.Metrics() {
		iv.Histograms[m] = load.NewHistogram()
	}
	for _, v := range latenciesUS {
		_ = iv.Histograms[load.FrameLatency].RecordValue(v)
	}
	iv.Counters[load.Frames] = int64(len(latenciesUS))
	return iv
}

func family(t *testing.T, e *livemetrics.Exporter, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// The histogram sees every HDR sample, in seconds, in native and classic
// buckets; counters add the intervals' increments; labels mark the shard.
func TestExporterReplaysIntervals(t *testing.T) {
	e := livemetrics.New(livemetrics.WithShard(1, 3))
	var lat []int64
	for i := range 1000 {
		lat = append(lat, 1000+int64(i)) // 1.000–1.999 ms
	}
	e.AddInterval(interval(lat...), load.Snapshot{Active: 7, Elapsed: 3 * time.Second, Warmup: true})
	e.AddInterval(interval(lat[:500]...), load.Snapshot{Active: 5, Elapsed: 4 * time.Second})

	h := family(t, e, "reactor_harness_frame_latency_seconds").GetMetric()[0]
	if got := h.GetHistogram().GetSampleCount(); got != 1500 {
		t.Fatalf("sample count %d, want 1500", got)
	}
	want := (1000*1.4995e-3 + 500*1.2495e-3) // the samples' sum, to the HDR's resolution
	if s := h.GetHistogram().GetSampleSum(); math.Abs(s-want)/want > 0.002 {
		t.Fatalf("sample sum %.6f s, want %.6f s", s, want)
	}
	if len(h.GetHistogram().GetPositiveSpan()) == 0 || len(h.GetHistogram().GetBucket()) != len(livemetrics.Buckets) {
		t.Fatalf("want native spans and %d classic buckets: %v", len(livemetrics.Buckets), h.GetHistogram())
	}
	if l := h.GetLabel(); len(l) != 1 || l[0].GetName() != "shard" || l[0].GetValue() != "1" {
		t.Fatalf("labels %v", l)
	}
	if v := family(t, e, "reactor_harness_frames_total").GetMetric()[0].GetCounter().GetValue(); v != 1500 {
		t.Fatalf("frames_total %v", v)
	}
	if v := family(t, e, "reactor_harness_errors_total").GetMetric()[0].GetCounter().GetValue(); v != 4 {
		t.Fatalf("errors_total %v", v)
	}
	if v := family(t, e, "reactor_harness_sessions_active").GetMetric()[0].GetGauge().GetValue(); v != 5 {
		t.Fatalf("sessions_active %v", v)
	}
	if v := family(t, e, "reactor_harness_warmup").GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Fatalf("warmup %v after the warm-up", v)
	}
}

// A scrape in the text format names every metric before the first interval.
func TestExporterServesBeforeTheRun(t *testing.T) {
	srv := httptest.NewServer(livemetrics.New().Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"reactor_harness_frame_latency_seconds_bucket{le=\"0.001\"} 0",
		"reactor_harness_sessions_started_total 0", "reactor_harness_sessions_active 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(string(b), "shard=") {
		t.Error("an unsharded run has a shard label")
	}
}

func BenchmarkAddInterval(b *testing.B) {
	e := livemetrics.New()
	var lat []int64
	for i := range 30_000 { // one second of 1,000 sessions at 30 fps
		lat = append(lat, 500+int64(i%20_000))
	}
	iv := interval(lat...)
	b.ReportAllocs()
	for b.Loop() {
		e.AddInterval(iv, load.Snapshot{})
	}
}
