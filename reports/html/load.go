package htmlreport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/reactor-harness/reactor-harness/reports"
)

// Point is one point of a plot.
type Point struct{ X, Y float64 }

// Distribution is a percentile distribution: X is the percentile as a
// fraction (0…1), Y the latency in ms.
type Distribution struct {
	Points []Point
	Count  int64
	// Source says where it came from: "<metric>.hgrm", "run.hlog" or
	// "summary.json (7 percentiles)".
	Source string
}

// TimePoint is one interval of the time series (T in seconds since the
// start of the run).
type TimePoint struct {
	T, P50, P99 float64
	Count       int64
}

// Run is one load-run output folder.
type Run struct {
	Label, Dir string
	Summary    *reports.Summary // nil when the folder has none
	// Extra holds top-level summary.json fields this package does not know
	// (newer writers, e.g. per-shard clock offsets), as compact JSON.
	Extra   map[string]string
	Metrics []string // presentation order
	Dists   map[string]*Distribution
	// Series is the per-interval p50/p99 of SeriesMetric; Active the
	// sessions_active gauge; both from the interval log.
	SeriesMetric string
	Series       []TimePoint
	Active       []Point
	Warnings     []string
}

// Files a load folder may hold.
const (
	summaryFile = "summary.json"
	hlogFile    = "run.hlog"
)

// LoadRun reads a load-run output folder: summary.json (optional), run.hlog
// (or the only *.hlog of the folder; optional) and <metric>.hgrm files. At
// least one of them must be there.
func LoadRun(src Source) (*Run, error) {
	dir := src.Path
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("htmlreport: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("htmlreport: %s is not a folder", dir)
	}
	r := &Run{Label: src.Name, Dir: dir, Dists: map[string]*Distribution{}, Extra: map[string]string{}}
	if r.Label == "" {
		r.Label = filepath.Base(filepath.Clean(dir))
	}
	found := false

	// summary.json
	sp := filepath.Join(dir, summaryFile)
	if _, err := os.Stat(sp); err == nil {
		s, err := reports.ReadSummaryFile(sp)
		if err != nil {
			return nil, fmt.Errorf("htmlreport: %w", err)
		}
		r.Summary, found = s, true
		r.Extra = unknownFields(sp)
	}

	// Percentile distributions: .hgrm files first (the run's final word).
	hgrms, _ := filepath.Glob(filepath.Join(dir, "*.hgrm"))
	named := map[string]string{}
	if r.Summary != nil {
		for name, ms := range r.Summary.Metrics {
			if ms.Hgrm != "" {
				named[filepath.Join(dir, filepath.FromSlash(ms.Hgrm))] = name
			}
		}
	}
	for _, p := range hgrms {
		name := named[p]
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(p), ".hgrm")
		}
		d, err := readHgrmFile(p)
		if err != nil {
			r.Warnings = append(r.Warnings, err.Error())
			continue
		}
		d.Source = filepath.Base(p)
		r.Dists[name], found = d, true
	}

	// The interval log: time series, and distributions not in a .hgrm.
	hp := filepath.Join(dir, hlogFile)
	if _, err := os.Stat(hp); err != nil {
		if logs, _ := filepath.Glob(filepath.Join(dir, "*.hlog")); len(logs) == 1 {
			hp = logs[0]
		} else {
			hp = ""
		}
	}
	if hp != "" {
		found = true
		if err := r.readHlog(hp); err != nil {
			r.Warnings = append(r.Warnings, err.Error())
		}
	}

	// Last resort: the summary's percentiles.
	if r.Summary != nil {
		for name, ms := range r.Summary.Metrics {
			if r.Dists[name] == nil && ms.Count > 0 {
				r.Dists[name] = summaryDistribution(ms)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("htmlreport: %s holds no %s, %s or .hgrm file: not a load-run folder", dir, summaryFile, hlogFile)
	}
	r.Metrics = metricOrder(r)
	return r, nil
}

// renderedFields are the summary.json fields the report shows in its own
// way; every other top-level field (written by a newer load runner or by
// the merge, e.g. per-shard clock offsets) is listed among the run
// parameters as compact JSON, so nothing the runner reports is hidden.
var renderedFields = map[string]bool{
	"schema": true, "status": true, "params": true, "shard": true, "start": true, "measure_start": true,
	"end": true, "elapsed_s": true, "measured_s": true, "counters": true, "errors": true, "errors_total": true,
	"metrics": true, "metric_order": true, "warmup": true, "thresholds": true, "thresholds_passed": true,
	"dropped": true, "schedule": true, "files": true, "notes": true, "exit_code": true,
}

// unknownFields returns the top-level fields of summary.json that the
// report does not render itself, as compact JSON (at most 2 KB each);
// empty values are left out.
func unknownFields(path string) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return out
	}
	for k, v := range raw {
		if renderedFields[k] {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			continue
		}
		switch buf.String() {
		case "null", "{}", "[]", `""`, "0", "false":
			continue
		}
		s, _ := truncate(buf.String(), 2048)
		out[k] = s
	}
	return out
}

func metricOrder(r *Run) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] && r.Dists[n] != nil {
			seen[n] = true
			out = append(out, n)
		}
	}
	if r.Summary != nil {
		for _, n := range r.Summary.MetricOrder {
			add(n)
		}
	}
	rest := make([]string, 0, len(r.Dists))
	for n := range r.Dists {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	for _, n := range rest {
		add(n)
	}
	return out
}

// ReadHgrm parses the percentile distribution text of HdrHistogram
// (" Value Percentile TotalCount 1/(1-Percentile)", values in ms).
func ReadHgrm(rd io.Reader) (*Distribution, error) {
	d := &Distribution{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	lines := 0
	for sc.Scan() {
		if lines++; lines > 1_000_000 {
			return nil, errors.New("too many lines")
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "Value") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		v, err1 := strconv.ParseFloat(f[0], 64)
		p, err2 := strconv.ParseFloat(f[1], 64)
		n, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || p < 0 || p > 1 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		d.Points = append(d.Points, Point{X: p, Y: v})
		d.Count = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(d.Points) == 0 {
		return nil, errors.New("no percentile lines")
	}
	return d, nil
}

func readHgrmFile(path string) (*Distribution, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := ReadHgrm(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// histogramDistribution is what a .hgrm of h would hold (values µs → ms).
func histogramDistribution(h *hdr.Histogram) *Distribution {
	d := &Distribution{Count: h.TotalCount()}
	for _, b := range h.CumulativeDistributionWithTicks(reports.HgrmTicksPerHalfDistance) {
		d.Points = append(d.Points, Point{X: b.Quantile / 100, Y: float64(b.ValueAt) / 1000})
	}
	return d
}

func summaryDistribution(ms reports.MetricSummary) *Distribution {
	return &Distribution{
		Count:  ms.Count,
		Source: "summary.json (7 percentiles)",
		Points: []Point{
			{0, ms.MinMs}, {0.5, ms.P50Ms}, {0.9, ms.P90Ms}, {0.95, ms.P95Ms},
			{0.99, ms.P99Ms}, {0.999, ms.P999Ms}, {1, ms.MaxMs},
		},
	}
}

// readHlog fills the distributions the .hgrm files did not, and the time
// series. Interval histograms of one metric that share an interval slot
// (the logs of several shards merged into one file) are merged before
// their percentiles are taken; sessions_active gauges of one slot are
// added up.
func (r *Run) readHlog(path string) error {
	l, err := reports.ReadHlogFile(path)
	if err != nil {
		return fmt.Errorf("htmlreport: %w", err)
	}
	if l.Skipped > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d malformed lines skipped", filepath.Base(path), l.Skipped))
	}
	for name, h := range l.Metrics {
		if r.Dists[name] == nil && name != "" && h.TotalCount() > 0 {
			d := histogramDistribution(h)
			d.Source = filepath.Base(path)
			r.Dists[name] = d
		}
	}
	start := l.RunStart
	if start.IsZero() && r.Summary != nil {
		start = r.Summary.Start
	}
	if start.IsZero() {
		start = l.StartTime
	}
	if start.IsZero() {
		start = l.First
	}

	// Which metric: frame latency if the log has it.
	counts := map[string]int{}
	for _, iv := range l.Intervals {
		counts[iv.Tag]++
	}
	for _, cand := range []string{"frame_latency", "frame_latency_corrected"} {
		if counts[cand] > 0 {
			r.SeriesMetric = cand
			break
		}
	}
	if r.SeriesMetric == "" {
		best := -1
		for tag, n := range counts {
			if n > best || (n == best && tag < r.SeriesMetric) {
				r.SeriesMetric, best = tag, n
			}
		}
	}
	slot := intervalSlot(l, r.Summary)
	slotOf := func(t time.Time) int64 { return int64(math.Round(t.Sub(start).Seconds() / slot)) }

	if r.SeriesMetric != "" {
		series, err := intervalSeries(path, r.SeriesMetric, slotOf)
		if err != nil {
			r.Warnings = append(r.Warnings, err.Error())
		}
		for _, s := range series {
			s.T = float64(s.slot) * slot
			r.Series = append(r.Series, s.TimePoint)
		}
	}

	active := map[int64]float64{}
	var slots []int64
	for _, c := range l.Counters {
		v, ok := c.Values["sessions_active"]
		if !ok {
			continue
		}
		k := slotOf(c.End)
		if _, seen := active[k]; !seen {
			slots = append(slots, k)
		}
		active[k] += float64(v)
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i] < slots[j] })
	for _, k := range slots {
		r.Active = append(r.Active, Point{X: float64(k) * slot, Y: active[k]})
	}
	return nil
}

// intervalSlot is the interval length in seconds: the run's interval, or
// the most common interval length of the log.
func intervalSlot(l *reports.Hlog, s *reports.Summary) float64 {
	if s != nil && s.Params.IntervalS > 0 {
		return s.Params.IntervalS
	}
	freq := map[int64]int{}
	var best int64
	for _, iv := range l.Intervals {
		ms := iv.End.Sub(iv.Start).Milliseconds()
		if ms <= 0 {
			continue
		}
		freq[ms]++
		if freq[ms] > freq[best] {
			best = ms
		}
	}
	if best <= 0 {
		return 1
	}
	return float64(best) / 1000
}

type slotPoint struct {
	TimePoint
	slot int64
}

// intervalSeries reads the interval histograms of one tag with
// HdrHistogram's log reader (reports.Hlog keeps percentiles per interval,
// not histograms) and merges those of one slot. Slots are keyed by the end
// of the interval, so a partial first interval lands in its own slot.
func intervalSeries(path, tag string, slotOf func(time.Time) int64) ([]slotPoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := hdr.NewHistogramLogReader(io.LimitReader(f, reports.MaxHlogLineBytes*4))
	merged := map[int64]*hdr.Histogram{}
	var order []int64
	var readErr error
	for n := 0; n < reports.MaxHlogLines; n++ {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			readErr = fmt.Errorf("htmlreport: %s: stopped reading intervals: %w", filepath.Base(path), err)
			break
		}
		if h == nil {
			break
		}
		if h.Tag() != tag {
			continue
		}
		k := slotOf(time.UnixMilli(h.EndTimeMs()))
		dst := merged[k]
		if dst == nil {
			dst = reports.NewHistogram()
			merged[k] = dst
			order = append(order, k)
		}
		dst.Merge(h)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	out := make([]slotPoint, 0, len(order))
	for _, k := range order {
		h := merged[k]
		if h.TotalCount() == 0 {
			continue
		}
		out = append(out, slotPoint{slot: k, TimePoint: TimePoint{
			P50: float64(h.ValueAtQuantile(50)) / 1000, P99: float64(h.ValueAtQuantile(99)) / 1000, Count: h.TotalCount(),
		}})
	}
	return out, readErr
}
