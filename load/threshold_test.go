package load

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseThresholdValid(t *testing.T) {
	for _, tc := range []struct {
		expr             string
		metric, stat, op string
		pct, value       float64
		unit             string
	}{
		{"frame_latency.p99<50ms", "frame_latency", "p", "<", 99, 50, "ms"},
		{"first_frame.p50<=2s", "first_frame", "p", "<=", 50, 2000, "ms"},
		{"frame_latency.p99.9 < 80ms", "frame_latency", "p", "<", 99.9, 80, "ms"},
		{"frame_latency.p(99.9)<1.5ms", "frame_latency", "p", "<", 99.9, 1.5, "ms"},
		{"frame_latency.max<200ms", "frame_latency", "max", "<", 0, 200, "ms"},
		{"frame_latency.mean<20", "frame_latency", "mean", "<", 0, 20, "ms"},
		{"dc_rtt.avg<500us", "dc_rtt", "mean", "<", 0, 0.5, "ms"},
		{"token.med<=1m", "token", "p", "<=", 50, 60000, "ms"},
		{"ice_connect.stddev<5ms", "ice_connect", "stddev", "<", 0, 5, "ms"},
		{"frame_latency.count>=100", "frame_latency", "count", ">=", 0, 100, "count"},
		{"errors.rate<1%", "errors", "rate", "<", 0, 0.01, "ratio"},
		{"errors.rate<0.01", "errors", "rate", "<", 0, 0.01, "ratio"},
		{"errors.count==0", "errors", "count", "==", 0, 0, "count"},
		{"errors.http_429.count==0", "errors.http_429", "count", "==", 0, 0, "count"},
		{"sessions_failed.count==0", "sessions_failed", "count", "==", 0, 0, "count"},
		{"sessions_ready.rate>=99%", "sessions_ready", "rate", ">=", 0, 0.99, "ratio"},
		{"frames.count>1000", "frames", "count", ">", 0, 1000, "count"},
		{"frames.per_s>=29.5/s", "frames", "per_s", ">=", 0, 29.5, "per_s"},
		{"late_frames.rate!=1", "late_frames", "rate", "!=", 0, 1, "ratio"},
		{"sessions_abandoned.count==0", "sessions_abandoned", "count", "==", 0, 0, "count"},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if th.Metric != tc.metric || th.Stat != tc.stat || th.Op != tc.op || th.Pct != tc.pct || math.Abs(th.Value-tc.value) > 1e-9 || th.Unit != tc.unit {
			t.Errorf("%s: got %+v", tc.expr, th)
		}
	}
}

func TestParseThresholdInvalid(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "empty expression"},
		{"frame_latency.p99", "no comparison operator"},
		{"frame_latency<50ms", "has no statistic"},
		{"frame_latency.p99<", "no value after the operator"},
		{"frame_lat.p99<50ms", `unknown metric "frame_lat"`},
		{"frame_latency.p101<50ms", "not between 0 and 100"},
		{"frame_latency.median2<50ms", `unknown statistic "median2"`},
		{"frame_latency.p99<50xs", "is not a duration"},
		{"frame_latency.p99<-5ms", "is not a duration"},
		{"frame_latency.rate<1%", "rate applies to counters"},
		{"frame_latency.per_s>1", "per_s applies to counters"},
		{"frames.p99<5ms", "percentiles apply to latency metrics only"},
		{"frames.max<5", "max applies to latency metrics only"},
		{"frames.rate<5%", "has no rate"},
		{"errors.rate<5", "over 1: write 5% or 0.05"},
		{"errors.rate<150%", "between 0% and 100%"},
		{"frames.count>lots", "not a non-negative number"},
		{"Frame_Latency.p99<5ms", "cannot parse"},
	} {
		_, err := ParseThreshold(tc.expr)
		if err == nil {
			t.Errorf("%q: accepted", tc.expr)
			continue
		}
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %T is not a UsageError", tc.expr, err)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.expr) {
			t.Errorf("%q: error %q does not quote the expression and say %q", tc.expr, err, tc.want)
		}
	}
	if _, err := ParseThresholds([]string{"frames.count>1", "x.p1<1", "y.p1<1"}); err == nil || strings.Count(err.Error(), "unknown metric") != 2 {
		t.Errorf("ParseThresholds should report every bad expression: %v", err)
	}
}

func testResults() *Results {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	for v := int64(1); v <= 100; v++ {
		rec.Record(FrameLatency, time.Duration(v)*time.Millisecond) // 1..100 ms
	}
	rec.Record(FirstFrame, 1500*time.Millisecond)
	rec.Count(SessionsStarted, 10)
	rec.Count(SessionsReady, 9)
	rec.Count(SessionsFailed, 1)
	rec.Count(Frames, 3000)
	rec.Count(LateFrames, 30)
	rec.Error("http_429")
	agg.Harvest(t0.Add(time.Second))
	return agg.Results(100 * time.Second)
}

func TestThresholdVerdicts(t *testing.T) {
	res := testResults()
	for _, tc := range []struct {
		expr     string
		pass     bool
		observed float64 // NaN: no data
	}{
		{"frame_latency.p50<=50ms", false, 50.015}, // HdrHistogram reports the highest equivalent value
		{"frame_latency.p50<=51ms", true, 50.015},
		{"frame_latency.p99<50ms", false, 99.007},
		{"frame_latency.max<200ms", true, 100.031},
		{"frame_latency.min>=1ms", true, 1},
		{"frame_latency.mean<51ms", true, 50.5036},
		{"frame_latency.count==100", true, 100},
		{"first_frame.p50<=2s", true, 1500.159},
		{"dc_rtt.p50<5ms", false, math.NaN()},
		{"dc_rtt.count==0", true, 0},
		{"errors.rate<1%", false, 0.1},
		{"errors.rate<=10%", true, 0.1},
		{"errors.count==1", true, 1},
		{"errors.http_429.count==1", true, 1},
		{"errors.timeout.count==0", true, 0},
		{"sessions_failed.count==0", false, 1},
		{"sessions_ready.rate>=90%", true, 0.9},
		{"frames.count>1000", true, 3000},
		{"frames.per_s>=30", true, 30},
		{"late_frames.rate<1%", false, 0.01},
		{"missing_frames.rate<1%", true, 0},
		{"packets_lost.rate<1%", false, math.NaN()},
	} {
		th, err := ParseThreshold(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		v := th.Evaluate(res)
		if v.Pass != tc.pass {
			t.Errorf("%s: pass=%v, want %v (observed %v %s)", tc.expr, v.Pass, tc.pass, v.Observed, v.Detail)
		}
		if math.IsNaN(tc.observed) != math.IsNaN(v.Observed) || (!math.IsNaN(tc.observed) && math.Abs(v.Observed-tc.observed) > 0.001) {
			t.Errorf("%s: observed %v, want %v", tc.expr, v.Observed, tc.observed)
		}
		if math.IsNaN(v.Observed) && v.Detail == "" {
			t.Errorf("%s: no data but no detail", tc.expr)
		}
	}
	// The summary's percentile and the threshold's agree.
	ms, _ := MetricSummaryOf(res, "frame_latency")
	th, _ := ParseThreshold("frame_latency.p99<1ms")
	if v := th.Evaluate(res); v.Observed != ms.P99Ms {
		t.Errorf("threshold p99 %v, summary p99 %v", v.Observed, ms.P99Ms)
	}
	rv := ReportVerdicts([]Verdict{th.Evaluate(res), mustParse(t, "dc_rtt.p50<1ms").Evaluate(res)})
	if rv[0].Observed == nil || rv[1].Observed != nil || rv[1].Detail == "" {
		t.Errorf("report verdicts %+v", rv)
	}
}

func mustParse(t *testing.T, s string) Threshold {
	t.Helper()
	th, err := ParseThreshold(s)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func TestExitCodes(t *testing.T) {
	pass := &Result{Verdicts: []Verdict{{Pass: true}}}
	fail := &Result{Verdicts: []Verdict{{Pass: true}, {Pass: false}}}
	for _, tc := range []struct {
		name string
		res  *Result
		err  error
		want int
	}{
		{"all pass", pass, nil, ExitOK},
		{"no thresholds", &Result{}, nil, ExitOK},
		{"a threshold failed", fail, nil, ExitThresholdsFailed},
		{"usage", nil, usagef("bad"), ExitUsage},
		{"wrapped usage", nil, errors.Join(errors.New("x"), &UsageError{Err: errors.New("y")}), ExitUsage},
		{"interrupted", pass, ErrInterrupted, ExitHarnessError},
		{"interrupted and failing", fail, ErrInterrupted, ExitHarnessError},
		{"harness error", nil, errors.New("disk full"), ExitHarnessError},
	} {
		if got := ExitCode(tc.res, tc.err); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
	if ExitOK != 0 || ExitHarnessError != 1 || ExitUsage != 2 || ExitThresholdsFailed != 99 {
		t.Fatal("exit codes changed: the README and the CLI document 0, 1, 2, 99")
	}
}
