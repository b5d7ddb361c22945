package load

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/reactor-harness/reactor-harness/reports"
)

// MergeOptions configure Merge.
type MergeOptions struct {
	// OutDir receives the merged folder (created if needed): run.hlog,
	// summary.json, summary.txt and one .hgrm per metric, written with the
	// same writers as a run's. Empty: nothing is written.
	OutDir string
	// Thresholds are evaluated on the merged results, after the thresholds
	// recorded in the shards' summaries (duplicates once): a shard judged
	// its thresholds on its share of the load only.
	Thresholds []string
	// AllowSessionErrors accepts failed sessions in the merged run, as
	// load's --allow-session-errors does for one run.
	AllowSessionErrors bool
}

// MergedShard describes one input folder of a merge; the merged
// summary.json lists them under "shards".
type MergedShard struct {
	Dir          string    `json:"dir"`
	Index        int       `json:"index"`
	Count        int       `json:"count"`
	Status       string    `json:"status"`
	ExitCode     *int      `json:"exit_code,omitempty"`
	Start        time.Time `json:"start"`
	MeasureStart time.Time `json:"measure_start"`
	End          time.Time `json:"end"`
	MeasuredS    float64   `json:"measured_s"`
	Sessions     int64     `json:"sessions_started"`
	Frames       int64     `json:"frames"`
	// ClockOffsetMs and ClockOffsetUncertaintyMs are the shard's clock
	// offset to the target (see EstimateClockOffset), when it recorded one.
	ClockOffsetMs            *float64 `json:"clock_offset_estimate_ms,omitempty"`
	ClockOffsetUncertaintyMs *float64 `json:"clock_offset_uncertainty_ms,omitempty"`
}

// MergeRates are the merged run's rates, each over the union of the
// shards' measured windows (never summed per-shard rates, never over the
// span from the first start to the last end: shards that ran at different
// times would otherwise dilute the rate, vegeta #210/#582).
type MergeRates struct {
	// MeasuredWindowS is the length of the union of the shards' measured
	// windows [measure_start, end]; RunWindowS of their whole windows
	// [start, end]; SpanS runs from the first measure start to the last end.
	MeasuredWindowS float64 `json:"measured_window_s"`
	RunWindowS      float64 `json:"run_window_s"`
	SpanS           float64 `json:"span_s"`
	// Per second of MeasuredWindowS, as the per_s thresholds compute them.
	SessionsPerS float64 `json:"sessions_started_per_s"`
	FramesPerS   float64 `json:"frames_per_s"`
	ErrorsPerS   float64 `json:"errors_per_s"`
	// ErrorsRate is errors.rate: sessions with an error / sessions started
	// (nil when no session started).
	ErrorsRate *float64 `json:"errors_rate"`
}

// MergeResult is a merged run: the Result a single run would give (its
// Summary as written to summary.json, its Results for thresholds, the
// verdicts) plus what the merge knows about its inputs.
type MergeResult struct {
	*Result
	Shards []MergedShard
	Rates  MergeRates
	// Incomplete says why the merged result does not stand for the whole
	// run (a shard interrupted or failed, shards missing or repeated, values
	// dropped); empty when it does. It makes the exit code ExitHarnessError.
	Incomplete []string
}

// ExitCode is the merge's exit code, with load's policy: ExitHarnessError
// when the result is incomplete (a partial run proves nothing either way),
// ExitThresholdsFailed when a threshold failed, otherwise ExitOK.
func (m *MergeResult) ExitCode() int {
	if len(m.Incomplete) > 0 {
		return ExitHarnessError
	}
	return ExitCode(m.Result, nil)
}

// IncompatibleError is returned (wrapped in a *UsageError) when shards cannot
// be merged because their histograms have different geometries (lowest and
// highest trackable value, significant figures): merging them would lose
// precision or values.
type IncompatibleError struct{ Msg string }

func (e *IncompatibleError) Error() string { return "load: shards are incompatible: " + e.Msg }

// mergedSummary is summary.json of a merged folder: the run's fields plus
// "shards" and "rates" (which the HTML report lists with the parameters).
type mergedSummary struct {
	*reports.Summary
	Shards []MergedShard `json:"shards"`
	Rates  MergeRates    `json:"rates"`
	// ClockOffsets repeats the shards' clock offsets compactly, by "i/n".
	ClockOffsets map[string]float64 `json:"clock_offsets_ms,omitempty"`
}

// summaryTextName is the merged folder's copy of the text summary.
const summaryTextName = "summary.txt"

// shardIn is one input folder as read.
type shardIn struct {
	dir  string
	sum  *reports.Summary
	hlog string
	// per-tag sample counts of the shard's interval log
	counts map[string]int64
}

// Merge merges the output folders of the shards of one run (or of several
// runs of the same load, e.g. from several machines) into one result, as if
// one process had run all their sessions:
//
//   - each metric's histogram is the merge of every interval histogram of
//     every shard's run.hlog (never an average of percentiles); shards
//     whose histograms have different geometries are refused
//     (*IncompatibleError), and the aggregate has the shards' geometry, so
//     no value is dropped (dropped counts are checked and reported);
//   - counters, error classes, out-of-range and warm-up tallies are summed
//     from the shards' summary.json;
//   - rates are computed over the union of the shards' measured windows
//     (see MergeRates); the Results' Measured is that union, so per_s
//     thresholds use it too;
//   - thresholds (the shards' own and opts.Thresholds) are evaluated on the
//     merged results;
//   - the merged folder (opts.OutDir) gets run.hlog (every shard's
//     intervals and counter lines, in time order, on one time base),
//     summary.json (with "shards": per-shard window, status, exit code and
//     clock offset, and "rates"), summary.txt and one .hgrm per metric.
//
// Problems that make the result stand for less than the whole run (an
// interrupted or failed shard, missing or repeated shard indexes, values
// dropped) are listed in Incomplete and as notes; the folder is written
// anyway. Usage mistakes (no folder, a folder that is not a load run's,
// a bad threshold, OutDir among the inputs) are *UsageError.
func Merge(dirs []string, opts MergeOptions) (*MergeResult, error) {
	if len(dirs) == 0 {
		return nil, usagef("merge: no shard folders given")
	}
	if _, err := ParseThresholds(opts.Thresholds); err != nil {
		return nil, err // a typo is a usage error before any file is read
	}
	shards, err := readShards(dirs, opts.OutDir)
	if err != nil {
		return nil, err
	}
	m := &merger{shards: shards, out: opts.OutDir}
	ths := m.thresholds(opts.Thresholds)
	m.checkShards()
	if err := m.mergeLogs(); err != nil {
		return nil, err
	}
	res := m.results()
	verdicts, _ := EvaluateAll(ths, res)
	mr := &MergeResult{Result: &Result{Results: res, Verdicts: verdicts}, Incomplete: m.incomplete}
	mr.Shards = m.shardInfo()
	mr.Rates = m.rates(res)
	sum := m.summary(res, verdicts, mr)
	mr.Summary = sum
	mr.Interrupted = len(mr.Incomplete) > 0
	verdict := reports.Judge(sum, reports.VerdictPolicy{AllowSessionErrors: opts.AllowSessionErrors})
	if mr.Interrupted {
		verdict = reports.RunVerdict{Result: "incomplete", ExitCode: ExitHarnessError,
			Reason: "a shard is missing or did not finish: " + strings.Join(mr.Incomplete, "; ")}
	}
	sum.Verdict = &verdict
	code := mr.ExitCode()
	sum.ExitCode = &code
	if m.out != "" {
		if err := m.write(mr); err != nil {
			m.discard()
			return mr, err
		}
	}
	return mr, nil
}

// thresholds returns the caller's thresholds (already parsed once) and
// the shards' own, each expression once. A shard's threshold this version
// cannot parse is left out with a note rather than failing the merge.
func (m *merger) thresholds(given []string) []Threshold {
	seen := map[string]bool{}
	var out []Threshold
	add := func(e, from string) {
		k := strings.TrimSpace(e)
		if seen[k] {
			return
		}
		seen[k] = true
		t, err := ParseThreshold(e)
		if err != nil {
			m.note("threshold %q of %s is not re-evaluated: %v", e, from, err)
			return
		}
		out = append(out, t)
	}
	for _, e := range given {
		add(e, "the merge")
	}
	for _, sh := range m.shards {
		for _, v := range sh.sum.Thresholds {
			add(v.Expr, sh.dir)
		}
	}
	return out
}

func readShards(dirs []string, out string) ([]*shardIn, error) {
	var outAbs string
	if out != "" {
		outAbs, _ = filepath.Abs(out)
	}
	seen := map[string]string{}
	shards := make([]*shardIn, 0, len(dirs))
	for _, d := range dirs {
		dir := filepath.Clean(d)
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, usagef("merge: %s: %v", d, err)
		}
		if prev, dup := seen[abs]; dup {
			return nil, usagef("merge: folder %s given twice (also as %s)", d, prev)
		}
		seen[abs] = d
		if abs == outAbs {
			return nil, usagef("merge: the output folder %s is also an input: give --out another folder", d)
		}
		st, err := os.Stat(dir)
		if err != nil {
			return nil, usagef("merge: %v", err)
		}
		if !st.IsDir() {
			return nil, usagef("merge: %s is not a folder (give the output folders of `reactor-harness load`)", d)
		}
		sp, hp := filepath.Join(dir, summaryName), filepath.Join(dir, hlogName)
		for _, p := range []string{sp, hp} {
			if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
				return nil, usagef("merge: %s has no %s: not the output folder of `reactor-harness load`", d, filepath.Base(p))
			}
		}
		s, err := reports.ReadSummaryFile(sp)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		shards = append(shards, &shardIn{dir: d, sum: s, hlog: hp, counts: map[string]int64{}})
	}
	return shards, nil
}

// merger holds a merge in progress.
type merger struct {
	shards     []*shardIn
	out        string
	tmpHlog    string // the merged log being written, renamed at the end
	geom       *geometry
	totals     map[string]*hdr.Histogram
	dropped    map[string]int64
	runStart   time.Time
	notes      []string
	incomplete []string
}

type geometry struct {
	lowest, highest, sigfigs int64
	from                     string // "shard dir, tag" of the first histogram seen
}

func (g geometry) String() string {
	return fmt.Sprintf("%d…%d µs, %d significant figures", g.lowest, g.highest, g.sigfigs)
}

func (m *merger) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, n := range m.notes {
		if n == s {
			return
		}
	}
	m.notes = append(m.notes, s)
}

func (m *merger) fail(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	m.incomplete = append(m.incomplete, s)
	m.note("%s", s)
}

// discard removes the temporary merged log after a failure.
func (m *merger) discard() {
	if m.tmpHlog != "" {
		_ = os.Remove(m.tmpHlog)
		m.tmpHlog = ""
	}
}

// newHistogram returns an empty aggregate of the shards' geometry.
func (m *merger) newHistogram() *hdr.Histogram {
	if m.geom == nil {
		return reports.NewHistogram()
	}
	return hdr.New(m.geom.lowest, m.geom.highest, int(m.geom.sigfigs))
}

// checkGeometry refuses a histogram whose geometry differs from the first.
func (m *merger) checkGeometry(sh *shardIn, tag string, p *hdr.PackedHistogram) error {
	g := geometry{p.LowestTrackableValue(), p.HighestTrackableValue(), p.SignificantFigures(), sh.dir + ", " + tag}
	if m.geom == nil {
		m.geom = &g
		return nil
	}
	if g.lowest != m.geom.lowest || g.highest != m.geom.highest || g.sigfigs != m.geom.sigfigs {
		return &UsageError{Err: &IncompatibleError{Msg: fmt.Sprintf("%s has histograms of %s but %s has %s; merging them would lose values or precision",
			sh.dir, g, strings.SplitN(m.geom.from, ", ", 2)[0], *m.geom)}}
	}
	return nil
}

// unionLength returns the total length of the union of [start, end)
// windows.
func unionLength(windows [][2]time.Time) time.Duration {
	ws := make([][2]time.Time, 0, len(windows))
	for _, w := range windows {
		if w[1].After(w[0]) {
			ws = append(ws, w)
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i][0].Before(ws[j][0]) })
	var total time.Duration
	var cur [2]time.Time
	for i, w := range ws {
		switch {
		case i == 0:
			cur = w
		case !w[0].After(cur[1]):
			if w[1].After(cur[1]) {
				cur[1] = w[1]
			}
		default:
			total += cur[1].Sub(cur[0])
			cur = w
		}
	}
	if len(ws) > 0 {
		total += cur[1].Sub(cur[0])
	}
	return total
}

func (m *merger) measuredWindows() [][2]time.Time {
	w := make([][2]time.Time, len(m.shards))
	for i, sh := range m.shards {
		w[i] = [2]time.Time{sh.sum.MeasureStart, sh.sum.End}
	}
	return w
}

// results builds the merged Results.
func (m *merger) results() *Results {
	res := &Results{
		Histograms:     map[string]*hdr.Histogram{},
		Counters:       map[string]int64{},
		Errors:         map[string]int64{},
		BelowRange:     map[string]int64{},
		AboveRange:     map[string]int64{},
		Truncated:      map[string]int64{},
		Dropped:        map[string]int64{},
		WarmupSamples:  map[string]int64{},
		WarmupCounters: map[string]int64{},
		Measured:       unionLength(m.measuredWindows()),
	}
	for _, name := range MetricNames() {
		res.Histograms[name] = m.newHistogram()
	}
	maps.Copy(res.Histograms, m.totals)
	for name, d := range m.dropped {
		res.Dropped[name] += d
	}
	var notes []string
	for _, sh := range m.shards {
		s := sh.sum
		for k, v := range s.Counters {
			res.Counters[k] += v
		}
		for k, v := range s.Errors {
			addError(res.Errors, k, v)
		}
		for name, ms := range s.Metrics {
			putAdd(res.BelowRange, name, ms.BelowRange)
			putAdd(res.AboveRange, name, ms.AboveRange)
			putAdd(res.Truncated, name, ms.CorrectionTruncated)
			putAdd(res.Dropped, name, ms.Dropped)
		}
		for k, v := range s.Warmup.Samples {
			putAdd(res.WarmupSamples, k, v)
		}
		for k, v := range s.Warmup.Counters {
			putAdd(res.WarmupCounters, k, v)
		}
		notes = append(notes, s.Notes...)
	}
	res.Notes = dedupe(notes)
	if d := res.DroppedTotal(); d > 0 {
		m.fail("%d values were dropped merging histograms: the merged percentiles miss them", d)
	}
	return res
}

func putAdd(m map[string]int64, k string, v int64) {
	if v != 0 {
		m[k] += v
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (m *merger) shardInfo() []MergedShard {
	out := make([]MergedShard, len(m.shards))
	for i, sh := range m.shards {
		s := sh.sum
		ms := MergedShard{
			Dir: sh.dir, Index: s.Shard.Index, Count: s.Shard.Count, Status: s.Status, ExitCode: s.ExitCode,
			Start: s.Start, MeasureStart: s.MeasureStart, End: s.End, MeasuredS: s.MeasuredS,
			Sessions: s.Counters["sessions_started"], Frames: s.Counters["frames"],
		}
		if v, err := strconv.ParseFloat(s.Params.Extra[ExtraClockOffset], 64); err == nil {
			ms.ClockOffsetMs = &v
		}
		if v, err := strconv.ParseFloat(s.Params.Extra[ExtraClockOffsetUncertainty], 64); err == nil {
			ms.ClockOffsetUncertaintyMs = &v
		}
		out[i] = ms
	}
	return out
}

func (m *merger) rates(res *Results) MergeRates {
	runW := make([][2]time.Time, len(m.shards))
	first, last := time.Time{}, time.Time{}
	for i, sh := range m.shards {
		runW[i] = [2]time.Time{sh.sum.Start, sh.sum.End}
		if first.IsZero() || sh.sum.MeasureStart.Before(first) {
			first = sh.sum.MeasureStart
		}
		if sh.sum.End.After(last) {
			last = sh.sum.End
		}
	}
	r := MergeRates{
		MeasuredWindowS: res.Measured.Seconds(),
		RunWindowS:      unionLength(runW).Seconds(),
		SpanS:           max(last.Sub(first), 0).Seconds(),
	}
	if w := r.MeasuredWindowS; w > 0 {
		r.SessionsPerS = float64(res.Counters["sessions_started"]) / w
		r.FramesPerS = float64(res.Counters["frames"]) / w
		r.ErrorsPerS = float64(res.ErrorsTotal()) / w
	}
	if n := res.Counters["sessions_started"]; n > 0 {
		v := float64(res.Counters["sessions_errored"]) / float64(n)
		r.ErrorsRate = &v
	}
	if r.SpanS > r.MeasuredWindowS+0.5 {
		m.note("the shards' measured windows do not overlap entirely: rates are over their union (%.1f s), not the span from the first start to the last end (%.1f s)", r.MeasuredWindowS, r.SpanS)
	}
	return r
}

// coverage checks which shard indexes the inputs cover.
func (m *merger) coverage() {
	counts := map[int]bool{}
	for _, sh := range m.shards {
		counts[sh.sum.Shard.Count] = true
	}
	n := m.shards[0].sum.Shard.Count
	if len(counts) != 1 || n <= 1 {
		if len(m.shards) > 1 {
			var ks []string
			for _, sh := range m.shards {
				ks = append(ks, fmt.Sprintf("%d/%d", sh.sum.Shard.Index, sh.sum.Shard.Count))
			}
			m.note("merging %d runs that are not the shards of one sharded run (shards %s): their sessions add up", len(m.shards), strings.Join(ks, " "))
		}
		return
	}
	have := map[int]int{}
	for _, sh := range m.shards {
		have[sh.sum.Shard.Index]++
	}
	var missing, twice []string
	for i := 0; i < n; i++ {
		switch {
		case have[i] == 0:
			missing = append(missing, fmt.Sprintf("%d/%d", i, n))
		case have[i] > 1:
			twice = append(twice, fmt.Sprintf("%d/%d", i, n))
		}
	}
	if len(missing) > 0 {
		m.fail("shards %s are missing: the merged result covers %d of the %d shards", strings.Join(missing, " "), n-len(missing), n)
	}
	if len(twice) > 0 {
		m.fail("shards %s are given more than once (different folders): their sessions are counted twice", strings.Join(twice, " "))
	}
}

// checkShards notes shards that did not complete and parameters that
// differ.
func (m *merger) checkShards() {
	m.coverage()
	first := m.shards[0].sum
	for _, sh := range m.shards {
		s := sh.sum
		name := fmt.Sprintf("shard %d/%d (%s)", s.Shard.Index, s.Shard.Count, sh.dir)
		if s.Status == reports.StatusRunning {
			m.fail("%s never finished (its summary.json still says running: killed?): its results cover only what it measured", name)
		} else if s.Status != reports.StatusComplete {
			m.fail("%s is %s, not complete: its results cover only what it measured", name, s.Status)
		} else if s.ExitCode != nil && *s.ExitCode == ExitHarnessError {
			m.fail("%s exited %d (harness error)", name, *s.ExitCode)
		}
		if s.Dropped > 0 {
			m.note("%s reports %d values dropped", name, s.Dropped)
		}
		if sh != m.shards[0] && !sameParams(first.Params, s.Params) {
			m.note("%s was run with other parameters than %s (%s): the merged parameters are the first shard's", name, m.shards[0].dir, paramsDiff(first.Params, s.Params))
		}
	}
}

// runExtraSkip are params.extra keys that differ per shard by nature.
var runExtraSkip = map[string]bool{ExtraClockOffset: true, ExtraClockOffsetUncertainty: true}

func comparableParams(p reports.Params) reports.Params {
	p.Extra = maps.Clone(p.Extra)
	for k := range runExtraSkip {
		delete(p.Extra, k)
	}
	if len(p.Extra) == 0 {
		p.Extra = nil
	}
	return p
}

func sameParams(a, b reports.Params) bool {
	return reflect.DeepEqual(comparableParams(a), comparableParams(b))
}

func paramsDiff(a, b reports.Params) string {
	a, b = comparableParams(a), comparableParams(b)
	var d []string
	add := func(name string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			d = append(d, fmt.Sprintf("%s %v vs %v", name, x, y))
		}
	}
	add("model", a.Model, b.Model)
	add("sessions", a.Sessions, b.Sessions)
	add("rate", a.Rate, b.Rate)
	add("max sessions", a.MaxSessions, b.MaxSessions)
	add("ramp", a.RampS, b.RampS)
	add("duration", a.DurationS, b.DurationS)
	add("warm-up", a.WarmupS, b.WarmupS)
	add("interval", a.IntervalS, b.IntervalS)
	for _, k := range sortedUnion(a.Extra, b.Extra) {
		add(k, a.Extra[k], b.Extra[k])
	}
	if len(d) == 0 {
		return "grace"
	}
	return strings.Join(d, ", ")
}

func sortedUnion(a, b map[string]string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// summary builds the merged summary.json content.
func (m *merger) summary(res *Results, verdicts []Verdict, mr *MergeResult) *reports.Summary {
	first := m.shards[0].sum
	params := first.Params
	params.Extra = comparableParams(first.Params).Extra
	s := &reports.Summary{
		Schema:      reports.SummarySchema,
		Status:      mergedStatus(m.shards),
		Params:      params,
		Shard:       reports.Shard{Index: 0, Count: 1},
		Counters:    res.Counters,
		Errors:      res.Errors,
		ErrorsTotal: res.ErrorsTotal(),
		Metrics:     map[string]reports.MetricSummary{},
		MetricOrder: MetricNames(),
		Warmup: reports.Warmup{
			DurationS: first.Warmup.DurationS,
			Samples:   res.WarmupSamples,
			Counters:  res.WarmupCounters,
		},
		Thresholds:       ReportVerdicts(verdicts),
		ThresholdsPassed: true,
		Dropped:          res.DroppedTotal(),
		MeasuredS:        res.Measured.Seconds(),
	}
	for _, sh := range m.shards {
		x := sh.sum
		if s.Start.IsZero() || x.Start.Before(s.Start) {
			s.Start = x.Start
		}
		if s.MeasureStart.IsZero() || x.MeasureStart.Before(s.MeasureStart) {
			s.MeasureStart = x.MeasureStart
		}
		if x.End.After(s.End) {
			s.End = x.End
		}
		s.Schedule.Started += x.Schedule.Started
		s.Schedule.LateStarts += x.Schedule.LateStarts
		s.Schedule.MaxStartLagMs = math.Max(s.Schedule.MaxStartLagMs, x.Schedule.MaxStartLagMs)
	}
	s.ElapsedS = s.End.Sub(s.Start).Seconds()
	for _, v := range verdicts {
		if !v.Pass {
			s.ThresholdsPassed = false
		}
	}
	names := append([]string(nil), MetricNames()...)
	var extraTags []string
	for tag := range res.Histograms {
		if _, known := ParseMetric(tag); !known && tag != "" {
			extraTags = append(extraTags, tag)
		}
	}
	sort.Strings(extraTags)
	for _, name := range append(names, extraTags...) {
		if ms, ok := MetricSummaryOf(res, name); ok {
			s.Metrics[name] = ms
		}
	}

	var ks, offsets []string
	for _, sh := range mr.Shards {
		ks = append(ks, fmt.Sprintf("%d/%d", sh.Index, sh.Count))
		if sh.ClockOffsetMs != nil {
			o := fmt.Sprintf("%d/%d %+.3f", sh.Index, sh.Count, *sh.ClockOffsetMs)
			if sh.ClockOffsetUncertaintyMs != nil {
				o += fmt.Sprintf(" ± %.3f", *sh.ClockOffsetUncertaintyMs)
			}
			offsets = append(offsets, o+" ms")
		}
	}
	notes := []string{fmt.Sprintf("merged from %d shard folder(s) (%s) by histogram; rates over the union of their measured windows, %.1f s", len(m.shards), strings.Join(ks, " "), mr.Rates.MeasuredWindowS)}
	if len(offsets) > 0 {
		notes = append(notes, "clock offsets to the target per shard: "+strings.Join(offsets, ", "))
	}
	notes = append(notes, m.notes...)
	s.Notes = dedupe(append(notes, res.Notes...))
	return s
}

func mergedStatus(shards []*shardIn) string {
	rank := map[string]int{reports.StatusComplete: 0, reports.StatusRunning: 1, reports.StatusInterrupted: 2, reports.StatusFailed: 3}
	worst := reports.StatusComplete
	for _, sh := range shards {
		st := sh.sum.Status
		if st == reports.StatusRunning {
			st = reports.StatusInterrupted // a shard that never finished writing
		}
		r, ok := rank[st]
		if !ok {
			r, st = rank[reports.StatusFailed], reports.StatusFailed
		}
		if r > rank[worst] {
			worst = st
		}
	}
	return worst
}

// write writes the merged folder.
func (m *merger) write(mr *MergeResult) error {
	dir := m.out
	if err := os.Rename(m.tmpHlog, filepath.Join(dir, hlogName)); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	m.tmpHlog = ""
	s := mr.Summary
	files := []string{summaryName, hlogName, summaryTextName}
	for _, name := range append(MetricNames(), extraMetricNames(s)...) {
		p := filepath.Join(dir, name+".hgrm")
		h := mr.Results.Histograms[name]
		if h == nil || h.TotalCount() == 0 {
			// A previous merge into this folder may have left one.
			if _, known := ParseMetric(name); known {
				_ = os.Remove(p)
			}
			continue
		}
		if err := reports.WriteHgrmFile(p, h); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		ms := s.Metrics[name]
		ms.Hgrm = name + ".hgrm"
		s.Metrics[name] = ms
		files = append(files, ms.Hgrm)
	}
	s.Files = files
	doc := &mergedSummary{Summary: s, Shards: mr.Shards, Rates: mr.Rates}
	for _, sh := range mr.Shards {
		if sh.ClockOffsetMs != nil {
			if doc.ClockOffsets == nil {
				doc.ClockOffsets = map[string]float64{}
			}
			k := fmt.Sprintf("%d/%d", sh.Index, sh.Count)
			if _, dup := doc.ClockOffsets[k]; dup {
				k += " " + sh.Dir
			}
			doc.ClockOffsets[k] = *sh.ClockOffsetMs
		}
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, summaryName), func(w io.Writer) error {
		return writeJSONIndented(w, doc)
	}); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if err := reports.WriteFileAtomic(filepath.Join(dir, summaryTextName), func(w io.Writer) error {
		return mr.WriteText(w)
	}); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

func extraMetricNames(s *reports.Summary) []string {
	var out []string
	for name := range s.Metrics {
		if _, known := ParseMetric(name); !known {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// WriteText writes the merged run's text summary: a line per shard, then
// the summary a single run prints.
func (m *MergeResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "reactor-harness merge: %d shard folder(s), rates over the union of their measured windows (%.1f s): %.2f sessions/s, %.1f frames/s, %.2f errors/s",
		len(m.Shards), m.Rates.MeasuredWindowS, m.Rates.SessionsPerS, m.Rates.FramesPerS, m.Rates.ErrorsPerS)
	if m.Rates.ErrorsRate != nil {
		fmt.Fprintf(&b, ", errors.rate %.2f%%", *m.Rates.ErrorsRate*100)
	}
	b.WriteString("\n")
	for _, sh := range m.Shards {
		fmt.Fprintf(&b, "  shard %d/%d  %-11s %s → %s  sessions %d  frames %d", sh.Index, sh.Count, sh.Status,
			sh.Start.UTC().Format("15:04:05.000"), sh.End.UTC().Format("15:04:05.000"), sh.Sessions, sh.Frames)
		if sh.ClockOffsetMs != nil {
			fmt.Fprintf(&b, "  clock offset %+.3f ms", *sh.ClockOffsetMs)
			if sh.ClockOffsetUncertaintyMs != nil {
				fmt.Fprintf(&b, " ± %.3f", *sh.ClockOffsetUncertaintyMs)
			}
		}
		fmt.Fprintf(&b, "  %s\n", sh.Dir)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return m.Result.WriteText(w)
}
