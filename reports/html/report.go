package htmlreport

import (
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// Options says what goes into a report.
type Options struct {
	// Title of the page; "reactor-harness report" when empty.
	Title string
	// Conformance lists Ginkgo --json-report files. A Source name, when
	// given, names the file's column (otherwise it is detected; see
	// BuildMatrix).
	Conformance []Source
	// Expectations lists expectations files (one case ID per line, "#
	// reason"); the Source name is the column title the file applies to.
	Expectations []Source
	// Runs lists load-run output folders; a Source name labels the run. With
	// two or more runs the report adds a comparison section.
	Runs []Source
	// Out is the file Build writes (atomically).
	Out string
	// Generated is the time printed in the header (time.Now() when zero).
	Generated time.Time
}

// Build reads the inputs and writes the report to opts.Out.
func Build(opts Options) error {
	if opts.Out == "" {
		return errors.New("htmlreport: no output file")
	}
	doc, err := newDocument(opts)
	if err != nil {
		return err
	}
	return reports.WriteFileAtomic(opts.Out, func(w io.Writer) error { return doc.write(w) })
}

// Render reads the inputs and writes the report to w.
func Render(w io.Writer, opts Options) error {
	doc, err := newDocument(opts)
	if err != nil {
		return err
	}
	return doc.write(w)
}

// ClassifyInputs sorts command-line arguments ("[NAME=]PATH") into
// Ginkgo reports (files) and load-run folders (directories), for a CLI
// that takes both as positional arguments.
func ClassifyInputs(args []string) (conformance, runs []Source, err error) {
	for _, a := range args {
		s := ParseSource(a)
		if _, statErr := os.Stat(s.Path); statErr != nil {
			// "a=b" may be a path with '=' in it.
			if _, err2 := os.Stat(a); err2 == nil {
				s = Source{Path: a}
			} else {
				return nil, nil, fmt.Errorf("htmlreport: %w", statErr)
			}
		}
		st, _ := os.Stat(s.Path)
		if st.IsDir() {
			runs = append(runs, s)
		} else {
			conformance = append(conformance, s)
		}
	}
	return conformance, runs, nil
}

//go:embed report.tmpl
var reportTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(n, total int) string {
		if total == 0 {
			return "0"
		}
		return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64)
	},
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return ""
		}
		return d.Round(time.Millisecond).String()
	},
}).Parse(reportTemplate))

type document struct {
	Title      string
	Generated  string
	Matrix     *Matrix
	Runs       []*runView
	Compare    *compareView
	Inputs     []string
	TotalFails int
}

func newDocument(opts Options) (*document, error) {
	doc := &document{Title: opts.Title, Generated: opts.Generated.UTC().Format("2006-01-02 15:04:05 UTC")}
	if doc.Title == "" {
		doc.Title = "reactor-harness report"
	}
	if opts.Generated.IsZero() {
		doc.Generated = time.Now().UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if len(opts.Conformance) == 0 && len(opts.Runs) == 0 {
		return nil, errors.New("htmlreport: nothing to report: give Ginkgo JSON reports and/or load-run folders")
	}
	exp := Expectations{}
	for _, s := range opts.Expectations {
		f, err := os.Open(s.Path)
		if err != nil {
			return nil, fmt.Errorf("htmlreport: %w", err)
		}
		m, err := ParseExpectations(io.LimitReader(f, 16<<20))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("htmlreport: %s: %w", s.Path, err)
		}
		if exp[s.Name] == nil {
			exp[s.Name] = map[string]string{}
		}
		for k, v := range m {
			exp[s.Name][k] = v
		}
		doc.Inputs = append(doc.Inputs, "expectations "+s.Path+" → "+s.Name)
	}
	if len(opts.Conformance) > 0 {
		m, err := BuildMatrix(opts.Conformance, exp)
		if err != nil {
			return nil, err
		}
		doc.Matrix = m
		for _, t := range m.Targets {
			doc.TotalFails += t.Counts["fail"]
		}
		for _, s := range opts.Conformance {
			doc.Inputs = append(doc.Inputs, "Ginkgo report "+s.Path)
		}
	}
	var runs []*Run
	for i, s := range opts.Runs {
		r, err := LoadRun(s)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
		doc.Runs = append(doc.Runs, newRunView(r, i))
		doc.Inputs = append(doc.Inputs, "load run "+s.Path)
	}
	disambiguate(doc.Runs)
	if len(runs) >= 2 {
		doc.Compare = newCompareView(doc.Runs)
	}
	return doc, nil
}

func (d *document) write(w io.Writer) error {
	if err := tmpl.Execute(w, d); err != nil {
		return fmt.Errorf("htmlreport: %w", err)
	}
	return nil
}

// disambiguate gives runs with the same label their parent folder too
// ("shard-0/merged" and "shard-1/merged").
func disambiguate(runs []*runView) {
	seen := map[string]int{}
	for _, r := range runs {
		seen[r.Label]++
	}
	for _, r := range runs {
		if seen[r.Label] > 1 {
			r.Label = filepath.Base(filepath.Dir(filepath.Clean(r.Dir))) + "/" + r.Label
		}
	}
	seen = map[string]int{}
	for i, r := range runs {
		if seen[r.Label]++; seen[r.Label] > 1 {
			r.Label += " #" + strconv.Itoa(i+1)
		}
	}
}

type kv struct{ K, V string }

type metricRow struct {
	Name, Count, P50, P90, P99, P999, Max, Mean, Note, Source string
}

type errRow struct {
	Class string
	Count int64
	Pct   string
}

type thresholdRow struct {
	Expr, Observed, Detail string
	Pass                   bool
}

type runView struct {
	*Run
	ID         string
	Color      string
	Status     string
	Verdict    string // "pass", "fail" or "" (no thresholds)
	Params     []kv
	ParamMap   map[string]string
	Counters   []kv
	Errors     []errRow
	ErrorTotal int64
	Thresholds []thresholdRow
	Rows       []metricRow
	Charts     []template.HTML
	Latency    template.HTML
	ActiveTS   template.HTML
	Notes      []string
}

func ms(v float64) string { return fmtNum(v) }

func secs(v float64) string {
	if v == 0 {
		return "0 s"
	}
	return fmtNum(v) + " s"
}

func newRunView(r *Run, i int) *runView {
	v := &runView{Run: r, ID: "run" + strconv.Itoa(i+1), Color: color(i), ParamMap: map[string]string{}}
	add := func(k, val string) {
		if val == "" {
			return
		}
		v.Params = append(v.Params, kv{k, val})
		v.ParamMap[k] = val
	}
	if s := r.Summary; s != nil {
		v.Status = s.Status
		if len(s.Thresholds) > 0 {
			v.Verdict = "fail"
			if s.ThresholdsPassed {
				v.Verdict = "pass"
			}
		}
		p := s.Params
		add("model", p.Model)
		if p.Sessions > 0 {
			add("sessions", strconv.Itoa(p.Sessions))
		}
		if p.Rate > 0 {
			add("rate", fmtNum(p.Rate)+" sessions/s")
		}
		if p.MaxSessions > 0 {
			add("max sessions", strconv.Itoa(p.MaxSessions))
		}
		if p.RampS > 0 {
			add("ramp", secs(p.RampS))
		}
		add("duration", secs(p.DurationS))
		if p.WarmupS > 0 {
			add("warm-up", secs(p.WarmupS))
		}
		add("interval", secs(p.IntervalS))
		if p.GraceS > 0 {
			add("grace", secs(p.GraceS))
		}
		for _, k := range sortedKeys(p.Extra) {
			add(k, p.Extra[k])
		}
		if s.Shard.Count > 1 {
			add("shard", fmt.Sprintf("%d/%d", s.Shard.Index, s.Shard.Count))
		}
		add("status", s.Status)
		if !s.Start.IsZero() {
			add("start", s.Start.UTC().Format("2006-01-02 15:04:05.000 UTC"))
		}
		add("elapsed", secs(s.ElapsedS))
		add("measured", secs(s.MeasuredS))
		if n := sumValues(s.Warmup.Samples); n > 0 {
			add("warm-up samples left out", strconv.FormatInt(n, 10))
		}
		if s.Schedule.Started > 0 {
			add("schedule", fmt.Sprintf("%d started, %d late (>10 ms), worst lag %s ms", s.Schedule.Started, s.Schedule.LateStarts, ms(s.Schedule.MaxStartLagMs)))
		}
		if s.Dropped != 0 {
			add("dropped in merge", strconv.FormatInt(s.Dropped, 10))
		}
		if s.ExitCode != nil {
			add("exit code", strconv.Itoa(*s.ExitCode))
		}
		for _, k := range sortedKeys(r.Extra) {
			add(k, r.Extra[k])
		}
		for _, k := range sortedKeys(s.Counters) {
			v.Counters = append(v.Counters, kv{k, strconv.FormatInt(s.Counters[k], 10)})
		}
		v.ErrorTotal = s.ErrorsTotal
		var total int64
		for _, n := range s.Errors {
			total += n
		}
		if v.ErrorTotal < total {
			v.ErrorTotal = total
		}
		for k, n := range s.Errors {
			v.Errors = append(v.Errors, errRow{Class: k, Count: n, Pct: strconv.FormatFloat(100*float64(n)/math.Max(1, float64(v.ErrorTotal)), 'f', 1, 64)})
		}
		sort.Slice(v.Errors, func(i, j int) bool {
			if v.Errors[i].Count != v.Errors[j].Count {
				return v.Errors[i].Count > v.Errors[j].Count
			}
			return v.Errors[i].Class < v.Errors[j].Class
		})
		for _, t := range s.Thresholds {
			row := thresholdRow{Expr: t.Expr, Pass: t.Pass, Detail: t.Detail, Observed: "—"}
			if t.Observed != nil {
				row.Observed = fmtNum(*t.Observed) + " " + t.Unit
			}
			v.Thresholds = append(v.Thresholds, row)
		}
		v.Notes = s.Notes
	}
	for _, name := range r.Metrics {
		d := r.Dists[name]
		row := metricRow{Name: name, Source: d.Source, Count: strconv.FormatInt(d.Count, 10)}
		if r.Summary != nil {
			if m, ok := r.Summary.Metrics[name]; ok {
				row.Count = strconv.FormatInt(m.Count, 10)
				row.P50, row.P90, row.P99, row.P999, row.Max, row.Mean = ms(m.P50Ms), ms(m.P90Ms), ms(m.P99Ms), ms(m.P999Ms), ms(m.MaxMs), ms(m.MeanMs)
				var notes []string
				if m.BelowRange+m.AboveRange > 0 {
					notes = append(notes, fmt.Sprintf("out of range: %d below, %d above", m.BelowRange, m.AboveRange))
				}
				if m.Dropped > 0 {
					notes = append(notes, fmt.Sprintf("%d dropped", m.Dropped))
				}
				if m.CorrectionTruncated > 0 {
					notes = append(notes, fmt.Sprintf("%d correction samples truncated", m.CorrectionTruncated))
				}
				row.Note = strings.Join(notes, "; ")
			}
		}
		if row.P50 == "" {
			row.P50, row.P90, row.P99, row.P999, row.Max = ms(at(d, 0.5)), ms(at(d, 0.9)), ms(at(d, 0.99)), ms(at(d, 0.999)), ms(at(d, 1))
		}
		v.Rows = append(v.Rows, row)
		v.Charts = append(v.Charts, distChart(name, []*Distribution{d}, []string{name}).svg())
	}
	maxT := 0.0
	for _, p := range r.Series {
		maxT = math.Max(maxT, p.T)
	}
	for _, p := range r.Active {
		maxT = math.Max(maxT, p.X)
	}
	if len(r.Series) > 0 {
		p50 := series{Name: "p50", Color: palette[0]}
		p99 := series{Name: "p99", Color: palette[1]}
		maxY := 0.0
		for _, p := range r.Series {
			p50.Points = append(p50.Points, Point{p.T, p.P50})
			p99.Points = append(p99.Points, Point{p.T, p.P99})
			maxY = math.Max(maxY, p.P99)
		}
		c := chart{Title: r.SeriesMetric + " per interval", Class: "ts", X: timeAxis(maxT), Y: niceAxis(maxY, 5, ""), Series: []series{p50, p99}}
		c.Y.Title = "latency (ms)"
		v.Latency = c.svg()
	}
	if len(r.Active) > 0 {
		s := series{Name: "sessions_active", Color: palette[2], Step: true, Points: r.Active}
		maxY := 0.0
		for _, p := range r.Active {
			maxY = math.Max(maxY, p.Y)
		}
		c := chart{Title: "active sessions", Class: "ts", X: timeAxis(maxT), Y: niceAxis(maxY, 4, ""), Series: []series{s}}
		c.Y.Title = "sessions"
		v.ActiveTS = c.svg()
	}
	return v
}

// at interpolates nothing: it returns the first value at or above
// percentile p of d (HdrHistogram's "value at percentile").
func at(d *Distribution, p float64) float64 {
	for _, pt := range d.Points {
		if pt.X >= p-1e-12 {
			return pt.Y
		}
	}
	if n := len(d.Points); n > 0 {
		return d.Points[n-1].Y
	}
	return 0
}

func sumValues(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

type compareCell struct {
	P50, P99, P999, Max, Delta string
	Worse                      bool
}

type compareRow struct {
	Metric string
	Cells  []compareCell
}

type paramRow struct {
	Key    string
	Values []string
	Differ bool
}

type compareView struct {
	Runs   []*runView
	Rows   []compareRow
	Params []paramRow
	Charts []template.HTML
	TS     template.HTML
}

func newCompareView(runs []*runView) *compareView {
	c := &compareView{Runs: runs}
	seen := map[string]bool{}
	var metrics []string
	for _, r := range runs {
		for _, m := range r.Metrics {
			if !seen[m] {
				seen[m] = true
				metrics = append(metrics, m)
			}
		}
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Label
	}
	for _, m := range metrics {
		row := compareRow{Metric: m}
		dists := make([]*Distribution, len(runs))
		base := math.NaN()
		for i, r := range runs {
			d := r.Dists[m]
			dists[i] = d
			if d == nil {
				row.Cells = append(row.Cells, compareCell{P50: "—", P99: "—", P999: "—", Max: "—"})
				continue
			}
			p99 := at(d, 0.99)
			cell := compareCell{P50: ms(at(d, 0.5)), P99: ms(p99), P999: ms(at(d, 0.999)), Max: ms(at(d, 1))}
			if i == 0 {
				base = p99
			} else if base > 0 {
				delta := 100 * (p99 - base) / base
				cell.Delta = fmt.Sprintf("%+.1f%%", delta)
				cell.Worse = delta > 0
			}
			row.Cells = append(row.Cells, cell)
		}
		c.Rows = append(c.Rows, row)
		c.Charts = append(c.Charts, distChart(m, dists, names).svg())
	}
	keys := map[string]bool{}
	var order []string
	for _, r := range runs {
		for _, p := range r.Params {
			if !keys[p.K] {
				keys[p.K] = true
				order = append(order, p.K)
			}
		}
	}
	for _, k := range order {
		pr := paramRow{Key: k}
		for _, r := range runs {
			pr.Values = append(pr.Values, r.ParamMap[k])
		}
		for _, v := range pr.Values[1:] {
			if v != pr.Values[0] {
				pr.Differ = true
			}
		}
		c.Params = append(c.Params, pr)
	}
	// Overlaid p99 frame-latency time series.
	var ss []series
	maxT, maxY := 0.0, 0.0
	metric := ""
	for i, r := range runs {
		if len(r.Series) == 0 {
			continue
		}
		if metric == "" {
			metric = r.SeriesMetric
		}
		s := series{Name: r.Label + " p99", Color: color(i)}
		for _, p := range r.Series {
			s.Points = append(s.Points, Point{p.T, p.P99})
			maxT, maxY = math.Max(maxT, p.T), math.Max(maxY, p.P99)
		}
		ss = append(ss, s)
	}
	if len(ss) > 0 {
		ch := chart{Title: metric + " p99 per interval", Class: "ts", X: timeAxis(maxT), Y: niceAxis(maxY, 5, ""), Series: ss}
		ch.Y.Title = "latency (ms)"
		c.TS = ch.svg()
	}
	return c
}
