package load

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// Threshold is a k6-like pass/fail criterion on the merged results:
//
//	frame_latency.p99<50ms     first_frame.p50<=2s       frame_latency.p(99.9)<80ms
//	frame_latency.max<200ms    frame_latency.mean<20ms   dc_rtt.stddev<5ms
//	errors.rate<1%             errors.count==0           errors.http_429.count==0
//	sessions_failed.count==0   sessions_ready.rate>=99%  frames.count>1000
//	frames.per_s>=29.5         late_frames.rate<0.5%     missing_frames.rate<0.1%
//
// The left side is <metric>.<statistic>. Latency metrics (token,
// session_create, …, one_way_delay_variation) take pNN or p(NN) (a
// percentile 0–100, e.g. p99.9), med, min, max, mean (or avg), stddev and
// count. Counters (frames, packets, packets_lost, late_frames,
// missing_frames, freezes, sessions_started, sessions_ready, sessions_failed,
// sessions_errored, sessions_completed, sessions_abandoned) and errors (all
// classes) or errors.<class> take count and per_s (per second of the
// measured window), and those with a denominator take rate:
//
//	errors.rate          sessions with at least one error / sessions started
//	sessions_*.rate      sessions_* / sessions started
//	late_frames.rate     late frames / frames
//	missing_frames.rate  missing frames / (frames + missing frames)
//	packets_lost.rate    packets lost / (packets + packets lost)
//
// Operators: <, <=, >, >=, ==, !=. Latency values take a unit (50ms, 2s,
// 1.5ms, 500us); a bare number means milliseconds, as in k6. Rates are
// written 1% or 0.01. A threshold on a latency statistic or a rate with no
// data fails ("no data"), since an empty measurement proves nothing.
type Threshold struct {
	Expr   string  // as written
	Metric string  // frame_latency, errors, errors.http_429, frames, …
	Stat   string  // p, med, min, max, mean, stddev, count, rate, per_s
	Pct    float64 // the percentile for Stat "p", 0–100
	Op     string  // <, <=, >, >=, ==, !=
	Value  float64 // in Unit
	Unit   string  // "ms", "ratio", "count" or "per_s"
}

// String returns the expression as written.
func (t Threshold) String() string { return t.Expr }

var (
	thresholdRE = regexp.MustCompile(`^\s*([a-z0-9_.]+?)\.(p\d+(?:\.\d+)?|p\(\s*\d+(?:\.\d+)?\s*\)|[a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$`)
	opRE        = regexp.MustCompile(`<=|>=|==|!=|<|>`)
)

// extraCounters are counters the Runner adds to Results.
var extraCounters = []string{"sessions_completed", "sessions_abandoned"}

// ParseThreshold parses one expression; errors say what is wrong and what
// would be right.
func ParseThreshold(expr string) (Threshold, error) {
	fail := func(format string, args ...any) (Threshold, error) {
		return Threshold{}, usagef("threshold %q: %s", expr, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(expr) == "" {
		return fail("empty expression (write e.g. frame_latency.p99<50ms)")
	}
	if !opRE.MatchString(expr) {
		return fail("no comparison operator (one of <, <=, >, >=, ==, !=), e.g. frame_latency.p99<50ms")
	}
	m := thresholdRE.FindStringSubmatch(expr)
	if m == nil {
		left := strings.TrimSpace(expr[:opRE.FindStringIndex(expr)[0]])
		if !strings.Contains(left, ".") {
			return fail("%q has no statistic: write <metric>.<statistic>, e.g. %s.p99 or %s.count", left, left, left)
		}
		if strings.TrimSpace(expr[opRE.FindStringIndex(expr)[1]:]) == "" {
			return fail("no value after the operator")
		}
		return fail("cannot parse %q as <metric>.<statistic> (lower case, e.g. frame_latency.p99)", left)
	}
	t := Threshold{Expr: strings.TrimSpace(expr), Metric: m[1], Op: m[3]}
	stat, raw := m[2], m[4]
	kind, ok := metricKind(t.Metric)
	if !ok {
		return fail("unknown metric %q (latency metrics: %s; counters: %s; errors, errors.<class>)",
			t.Metric, strings.Join(MetricNames(), ", "), strings.Join(counterList(), ", "))
	}
	switch {
	case strings.HasPrefix(stat, "p") && stat != "per_s":
		if kind != kindLatency {
			return fail("%s is a counter: percentiles apply to latency metrics only; use count, per_s or rate", t.Metric)
		}
		num := strings.Trim(strings.TrimPrefix(stat, "p"), "() ")
		p, err := strconv.ParseFloat(num, 64)
		if err != nil || p < 0 || p > 100 {
			return fail("percentile %q is not between 0 and 100", num)
		}
		t.Stat, t.Pct = "p", p
	case stat == "med" || stat == "median":
		if kind != kindLatency {
			return fail("%s is a counter: %s applies to latency metrics only", t.Metric, stat)
		}
		t.Stat, t.Pct = "p", 50
	case stat == "avg":
		t.Stat = "mean"
	default:
		t.Stat = stat
	}
	switch t.Stat {
	case "p", "min", "max", "mean", "stddev":
		if kind != kindLatency {
			return fail("%s is a counter: %s applies to latency metrics only; use count, per_s or rate", t.Metric, t.Stat)
		}
		t.Unit = "ms"
	case "count":
		t.Unit = "count"
	case "per_s":
		if kind == kindLatency {
			return fail("per_s applies to counters; for a latency metric use count, a percentile, min, max, mean or stddev")
		}
		t.Unit = "per_s"
	case "rate":
		if kind == kindLatency {
			return fail("rate applies to counters; for a latency metric use a percentile, min, max, mean or stddev")
		}
		if _, _, ok := rateTerms(t.Metric); !ok {
			return fail("%s has no rate (rates: errors, sessions_*, late_frames, missing_frames, packets_lost); use count or per_s", t.Metric)
		}
		t.Unit = "ratio"
	default:
		return fail("unknown statistic %q (latency: pNN, p(NN), med, min, max, mean, stddev, count; counters: count, per_s, rate)", stat)
	}
	v, err := parseThresholdValue(raw, t.Unit)
	if err != nil {
		return fail("%v", err)
	}
	t.Value = v
	return t, nil
}

// ParseThresholds parses every expression and joins the errors.
func ParseThresholds(exprs []string) ([]Threshold, error) {
	out := make([]Threshold, 0, len(exprs))
	var msgs []string
	for _, e := range exprs {
		t, err := ParseThreshold(e)
		if err != nil {
			msgs = append(msgs, err.Error())
			continue
		}
		out = append(out, t)
	}
	if len(msgs) > 0 {
		return nil, usagef("%s", strings.Join(msgs, "; "))
	}
	return out, nil
}

type metricKindT int

const (
	kindLatency metricKindT = iota
	kindCounter
	kindErrors
)

func metricKind(name string) (metricKindT, bool) {
	if _, ok := ParseMetric(name); ok {
		return kindLatency, true
	}
	if _, ok := ParseCounter(name); ok {
		return kindCounter, true
	}
	for _, c := range extraCounters {
		if name == c {
			return kindCounter, true
		}
	}
	if name == "errors" {
		return kindErrors, true
	}
	if class, ok := strings.CutPrefix(name, "errors."); ok && class != "" && NormalizeClass(class) == class {
		return kindErrors, true
	}
	return 0, false
}

func counterList() []string {
	var out []string
	for _, c := range Counters() {
		out = append(out, c.String())
	}
	return append(out, extraCounters...)
}

// rateTerms returns the numerator and the denominator counters of name's
// rate ("errors" numerates sessions_errored).
func rateTerms(name string) (num string, den []string, ok bool) {
	switch name {
	case "errors":
		return "sessions_errored", []string{"sessions_started"}, true
	case "sessions_ready", "sessions_failed", "sessions_errored", "sessions_completed", "sessions_abandoned":
		return name, []string{"sessions_started"}, true
	case "late_frames":
		return name, []string{"frames"}, true
	case "missing_frames":
		return name, []string{"frames", "missing_frames"}, true
	case "packets_lost":
		return name, []string{"packets", "packets_lost"}, true
	}
	return "", nil, false
}

func parseThresholdValue(raw, unit string) (float64, error) {
	raw = strings.TrimSpace(raw)
	bad := func(want string) (float64, error) {
		return 0, fmt.Errorf("value %q is not %s", raw, want)
	}
	switch unit {
	case "ms":
		if v, err := strconv.ParseFloat(raw, 64); err == nil {
			if v < 0 {
				return bad("a non-negative duration")
			}
			return v, nil // bare number: milliseconds, as in k6
		}
		d, err := time.ParseDuration(strings.ReplaceAll(raw, "µs", "us"))
		if err != nil || d < 0 {
			return bad("a duration (e.g. 50ms, 2s, 1.5ms, 500us)")
		}
		return float64(d) / float64(time.Millisecond), nil
	case "ratio":
		if s, ok := strings.CutSuffix(raw, "%"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || v < 0 || v > 100 {
				return bad("a percentage between 0% and 100%")
			}
			return v / 100, nil
		}
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 {
			return bad("a rate (e.g. 1% or 0.01)")
		}
		if v > 1 {
			return 0, fmt.Errorf("rate %q is over 1: write %s%% or %g", raw, raw, v/100)
		}
		return v, nil
	case "per_s":
		v, err := strconv.ParseFloat(strings.TrimSuffix(raw, "/s"), 64)
		if err != nil || v < 0 {
			return bad("a non-negative number per second (e.g. 29.5 or 29.5/s)")
		}
		return v, nil
	default:
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 {
			return bad("a non-negative number")
		}
		return v, nil
	}
}

// Verdict is an evaluated threshold.
type Verdict struct {
	Threshold
	Observed float64 // in Unit; NaN when there was no data
	Pass     bool
	Detail   string // why there is no data, when there is none
}

// Evaluate evaluates t against res.
func (t Threshold) Evaluate(res *Results) Verdict {
	v := Verdict{Threshold: t, Observed: math.NaN()}
	obs, detail := t.observe(res)
	if detail != "" {
		v.Detail = detail
		return v
	}
	v.Observed = obs
	switch t.Op {
	case "<":
		v.Pass = obs < t.Value
	case "<=":
		v.Pass = obs <= t.Value
	case ">":
		v.Pass = obs > t.Value
	case ">=":
		v.Pass = obs >= t.Value
	case "==":
		v.Pass = obs == t.Value
	case "!=":
		v.Pass = obs != t.Value
	}
	return v
}

func (t Threshold) observe(res *Results) (float64, string) {
	if kind, _ := metricKind(t.Metric); kind == kindLatency {
		h := res.Histograms[t.Metric]
		if t.Stat == "count" {
			if h == nil {
				return 0, ""
			}
			return float64(h.TotalCount()), ""
		}
		if h == nil || h.TotalCount() == 0 {
			return 0, "no " + t.Metric + " samples"
		}
		const ms = 1000.0
		switch t.Stat {
		case "p":
			return float64(h.ValueAtQuantile(t.Pct)) / ms, ""
		case "min":
			return float64(h.Min()) / ms, ""
		case "max":
			return float64(h.Max()) / ms, ""
		case "mean":
			return h.Mean() / ms, ""
		case "stddev":
			return h.StdDev() / ms, ""
		}
		return 0, "unknown statistic"
	}
	count := counterValue(res, t.Metric)
	switch t.Stat {
	case "count":
		return float64(count), ""
	case "per_s":
		if res.Measured <= 0 {
			return 0, "no measured time"
		}
		return float64(count) / res.Measured.Seconds(), ""
	case "rate":
		num, den, _ := rateTerms(t.Metric)
		var d int64
		for _, name := range den {
			d += res.Counters[name]
		}
		if d == 0 {
			return 0, "no " + strings.Join(den, " or ")
		}
		return float64(res.Counters[num]) / float64(d), ""
	}
	return 0, "unknown statistic"
}

func counterValue(res *Results, name string) int64 {
	if name == "errors" {
		return res.ErrorsTotal()
	}
	if class, ok := strings.CutPrefix(name, "errors."); ok {
		return res.Errors[class]
	}
	return res.Counters[name]
}

// EvaluateAll evaluates every threshold and reports whether all passed.
func EvaluateAll(ths []Threshold, res *Results) ([]Verdict, bool) {
	out := make([]Verdict, len(ths))
	pass := true
	for i, t := range ths {
		out[i] = t.Evaluate(res)
		pass = pass && out[i].Pass
	}
	return out, pass
}

// ReportVerdicts converts verdicts to the summary's form.
func ReportVerdicts(vs []Verdict) []reports.ThresholdVerdict {
	out := make([]reports.ThresholdVerdict, len(vs))
	for i, v := range vs {
		out[i] = reports.ThresholdVerdict{Expr: v.Expr, Unit: v.Unit, Pass: v.Pass, Detail: v.Detail}
		if !math.IsNaN(v.Observed) {
			o := v.Observed
			out[i].Observed = &o
		}
	}
	return out
}
