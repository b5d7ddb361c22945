package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/reactor-harness/reactor-harness/reports"
)

// synthShard describes a load-output folder written by hand with package
// reports' writers, as the Runner writes one.
type synthShard struct {
	index, count int
	start        time.Time
	warmup       time.Duration
	length       time.Duration
	interval     time.Duration
	status       string
	thresholds   []string
	extra        map[string]string
	// samples[k] are the values (µs) recorded in interval k, per metric.
	samples []map[string][]int64
	// frames per interval (counter), sessions started
	frames   []int64
	sessions int64
	errors   map[string]int64
	sigfigs  int // 0 = the standard 3
}

func (s synthShard) histogram() *hdr.Histogram {
	if s.sigfigs != 0 {
		return hdr.New(LowestMicros, HighestMicros, s.sigfigs)
	}
	return NewHistogram()
}

// write writes run.hlog and summary.json for s under dir and returns the
// per-metric totals it recorded.
func (s synthShard) write(t *testing.T, dir string) map[string]*hdr.Histogram {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hw, err := reports.CreateHlog(filepath.Join(dir, hlogName), s.start, fmt.Sprintf("[Shard: %d/%d]", s.index, s.count), "[Model: closed]")
	if err != nil {
		t.Fatal(err)
	}
	res := &Results{
		Histograms: map[string]*hdr.Histogram{}, Counters: map[string]int64{}, Errors: map[string]int64{},
		BelowRange: map[string]int64{}, AboveRange: map[string]int64{}, Truncated: map[string]int64{}, Dropped: map[string]int64{},
		Measured: s.length - s.warmup,
	}
	for _, name := range MetricNames() {
		res.Histograms[name] = s.histogram()
	}
	var frames int64
	for k, ivs := range s.samples {
		ivStart := s.start.Add(time.Duration(k) * s.interval)
		ivEnd := ivStart.Add(s.interval)
		for _, name := range MetricNames() {
			vals := ivs[name]
			if len(vals) == 0 {
				continue
			}
			h := s.histogram()
			for _, v := range vals {
				if err := h.RecordValue(v); err != nil {
					t.Fatal(err)
				}
				if err := res.Histograms[name].RecordValue(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := hw.WriteInterval(name, ivStart, ivEnd, h); err != nil {
				t.Fatal(err)
			}
		}
		if k < len(s.frames) {
			frames += s.frames[k]
		}
		if err := hw.WriteCounters(ivStart, ivEnd, map[string]int64{"frames": frames, "sessions_active": s.sessions, "sessions_started": s.sessions}); err != nil {
			t.Fatal(err)
		}
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	res.Counters["frames"] = frames
	res.Counters["sessions_started"] = s.sessions
	res.Counters["sessions_ready"] = s.sessions
	for k, v := range s.errors {
		res.Errors[k] = v
		res.Counters["sessions_errored"]++
	}
	ths, err := ParseThresholds(s.thresholds)
	if err != nil {
		t.Fatal(err)
	}
	verdicts, pass := EvaluateAll(ths, res)
	status := s.status
	if status == "" {
		status = reports.StatusComplete
	}
	code := ExitOK
	sum := &reports.Summary{
		Schema: reports.SummarySchema, Status: status,
		Params: reports.Params{Model: "closed", Sessions: 8, DurationS: s.length.Seconds(), WarmupS: s.warmup.Seconds(), IntervalS: s.interval.Seconds(), GraceS: 5, Extra: s.extra},
		Shard:  reports.Shard{Index: s.index, Count: s.count},
		Start:  s.start, MeasureStart: s.start.Add(s.warmup), End: s.start.Add(s.length),
		ElapsedS: s.length.Seconds(), MeasuredS: (s.length - s.warmup).Seconds(),
		Counters: res.Counters, Errors: res.Errors, ErrorsTotal: res.ErrorsTotal(),
		Metrics: map[string]reports.MetricSummary{}, MetricOrder: MetricNames(),
		Thresholds: ReportVerdicts(verdicts), ThresholdsPassed: pass,
		Schedule: reports.Schedule{Started: s.sessions}, Notes: []string{},
		ExitCode: &code,
	}
	for _, name := range MetricNames() {
		if ms, ok := MetricSummaryOf(res, name); ok {
			sum.Metrics[name] = ms
		}
	}
	if err := reports.WriteSummaryFile(filepath.Join(dir, summaryName), sum); err != nil {
		t.Fatal(err)
	}
	return res.Histograms
}

var mergeT0 = time.Date(2026, 3, 1, 12, 0, 0, 250_000_000, time.UTC)

// synthValues returns n latency-like values (µs) spanning several orders of
// magnitude, so that every bucket size of the histogram is exercised.
func synthValues(rng *rand.Rand, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(math.Exp(rng.Float64()*14)) + 1 // 1 µs … ~1.2 s
	}
	return out
}

// TestMergeOfShardsEqualsOneLogOfAllValues is the key property of the
// merge: the merged histogram of N shards' interval logs is the histogram
// of all their values, bucket for bucket, so every percentile is
// identical (never an average of percentiles).
func TestMergeOfShardsEqualsOneLogOfAllValues(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	const shards, intervals = 4, 6
	metrics := []string{"token", "ice_connect", "frame_latency", "frame_latency_corrected", "dc_rtt"}
	shardSamples := make([][]map[string][]int64, shards)
	all := make([]map[string][]int64, intervals)
	for k := range intervals {
		all[k] = map[string][]int64{}
	}
	for i := range shards {
		shardSamples[i] = make([]map[string][]int64, intervals)
		for k := range intervals {
			shardSamples[i][k] = map[string][]int64{}
			for _, m := range metrics {
				vals := synthValues(rng, 200+rng.IntN(300))
				shardSamples[i][k][m] = vals
				all[k][m] = append(all[k][m], vals...)
			}
		}
	}
	var dirs []string
	for i := range shards {
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		// Shards start a few ms apart, as separate processes do.
		synthShard{index: i, count: shards, start: mergeT0.Add(time.Duration(i) * 7 * time.Millisecond), length: intervals * time.Second,
			interval: time.Second, samples: shardSamples[i], frames: []int64{10, 10, 10, 10, 10, 10}, sessions: 2}.write(t, d)
		dirs = append(dirs, d)
	}
	single := synthShard{index: 0, count: 1, start: mergeT0, length: intervals * time.Second, interval: time.Second,
		samples: all, frames: []int64{40, 40, 40, 40, 40, 40}, sessions: 8}
	singleHists := single.write(t, filepath.Join(dir, "single"))

	merged, err := Merge(dirs, MergeOptions{OutDir: filepath.Join(dir, "merged")})
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Merge([]string{filepath.Join(dir, "single")}, MergeOptions{OutDir: filepath.Join(dir, "single-merged")})
	if err != nil {
		t.Fatal(err)
	}
	if merged.Summary.Dropped != 0 || merged.Results.DroppedTotal() != 0 {
		t.Fatalf("dropped %d", merged.Summary.Dropped)
	}
	if code := merged.ExitCode(); code != ExitOK {
		t.Fatalf("exit code %d, incomplete %q", code, merged.Incomplete)
	}
	pcts := []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100}
	for _, m := range metrics {
		got, want := merged.Results.Histograms[m], singleHists[m]
		if !got.Equals(want) {
			t.Errorf("%s: merged histogram differs from the histogram of all values (count %d vs %d)", m, got.TotalCount(), want.TotalCount())
		}
		g, w := got.ValueAtPercentilesSlice(pcts), want.ValueAtPercentilesSlice(pcts)
		for i := range pcts {
			if g[i] != w[i] {
				t.Errorf("%s p%v: merged %d µs, all values %d µs", m, pcts[i], g[i], w[i])
			}
		}
		if merged.Summary.Metrics[m] != alone.Summary.Metrics[m] {
			t.Errorf("%s summary: merged %+v, single %+v", m, merged.Summary.Metrics[m], alone.Summary.Metrics[m])
		}
		// The .hgrm files are the same text.
		a, errA := os.ReadFile(filepath.Join(dir, "merged", m+".hgrm"))
		b, errB := os.ReadFile(filepath.Join(dir, "single-merged", m+".hgrm"))
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Errorf("%s.hgrm differs between the merged shards and the single log (%v, %v)", m, errA, errB)
		}
	}
	// The merged interval log holds every interval of every shard and
	// reads back to the same totals.
	l, err := reports.ReadHlogFile(filepath.Join(dir, "merged", hlogName))
	if err != nil {
		t.Fatal(err)
	}
	if l.Skipped != 0 || l.Dropped != 0 || len(l.Intervals) != shards*intervals*len(metrics) || len(l.Counters) != shards*intervals {
		t.Fatalf("merged log: %d intervals, %d counter lines, skipped %d, dropped %d", len(l.Intervals), len(l.Counters), l.Skipped, l.Dropped)
	}
	for _, m := range metrics {
		if !l.Metrics[m].Equals(singleHists[m]) {
			t.Errorf("%s: merged run.hlog does not read back to the histogram of all values", m)
		}
	}
	for i := 1; i < len(l.Intervals); i++ {
		if l.Intervals[i].End.Before(l.Intervals[i-1].End) {
			t.Fatalf("merged log not in time order at interval %d", i)
		}
	}
	if !l.RunStart.Equal(mergeT0) {
		t.Errorf("merged log run start %v, want the earliest shard's %v", l.RunStart, mergeT0)
	}
	// summary.json of the merged folder reads with the ordinary reader,
	// and counts add up.
	s, err := reports.ReadSummaryFile(filepath.Join(dir, "merged", summaryName))
	if err != nil {
		t.Fatal(err)
	}
	if s.Counters["frames"] != 240 || s.Counters["sessions_started"] != 8 || s.Shard.Count != 1 || s.ExitCode == nil || *s.ExitCode != 0 {
		t.Fatalf("merged summary: frames %d sessions %d shard %+v exit %v", s.Counters["frames"], s.Counters["sessions_started"], s.Shard, s.ExitCode)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "merged", summaryName))
	for _, k := range []string{`"shards"`, `"rates"`, `"measured_window_s"`} {
		if !strings.Contains(string(raw), k) {
			t.Errorf("merged summary.json lacks %s", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "merged", summaryTextName)); err != nil {
		t.Error(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "merged", ".*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestMergeRatesOverUnionOfWindows: rates are counts over the union of the
// shards' measured windows — not the sum of per-shard rates, and not the
// span from the first start to the last end when shards ran at different
// times (vegeta #210/#582).
func TestMergeRatesOverUnionOfWindows(t *testing.T) {
	for _, tc := range []struct {
		name       string
		offset     time.Duration // shard 1's start after shard 0's
		wantWindow time.Duration
	}{
		{"overlapping", 5 * time.Second, 15 * time.Second},
		{"disjoint", 20 * time.Second, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var dirs []string
			for i := range 2 {
				d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
				samples := make([]map[string][]int64, 11)
				for k := range samples {
					samples[k] = map[string][]int64{"frame_latency": {1000, 2000}}
				}
				frames := make([]int64, 11)
				for k := 1; k < 11; k++ {
					frames[k] = 30 // 300 frames over the 10 s measured
				}
				synthShard{index: i, count: 2, start: mergeT0.Add(time.Duration(i) * tc.offset), warmup: time.Second, length: 11 * time.Second,
					interval: time.Second, samples: samples, frames: frames, sessions: 4, errors: map[string]int64{"http_5xx": 1}}.write(t, d)
				dirs = append(dirs, d)
			}
			res, err := Merge(dirs, MergeOptions{Thresholds: []string{"frames.per_s<45", "sessions_started.per_s<1", "errors.rate<30%"}})
			if err != nil {
				t.Fatal(err)
			}
			w := tc.wantWindow.Seconds()
			if res.Results.Measured != tc.wantWindow || res.Rates.MeasuredWindowS != w {
				t.Fatalf("measured window %v (rates %v s), want %v", res.Results.Measured, res.Rates.MeasuredWindowS, tc.wantWindow)
			}
			wantFrames := 600 / w
			sumOfShardRates := 2 * 300 / 10.0
			if math.Abs(res.Rates.FramesPerS-wantFrames) > 1e-9 || res.Rates.FramesPerS == sumOfShardRates {
				t.Fatalf("frames/s %v, want %v (the sum of the shards' rates would be %v)", res.Rates.FramesPerS, wantFrames, sumOfShardRates)
			}
			if math.Abs(res.Rates.SessionsPerS-8/w) > 1e-9 || res.Rates.ErrorsRate == nil || *res.Rates.ErrorsRate != 0.25 {
				t.Fatalf("sessions/s %v, errors.rate %v", res.Rates.SessionsPerS, res.Rates.ErrorsRate)
			}
			// per_s thresholds use the same window.
			for _, v := range res.Verdicts {
				if !v.Pass {
					t.Errorf("%s failed: observed %v", v.Expr, v.Observed)
				}
			}
			if tc.name == "disjoint" {
				if res.Rates.SpanS != 30 || !strings.Contains(strings.Join(res.Summary.Notes, "\n"), "do not overlap") {
					t.Errorf("span %v, notes %q", res.Rates.SpanS, res.Summary.Notes)
				}
			}
		})
	}
}

func TestUnionLength(t *testing.T) {
	at := func(s float64) time.Time { return mergeT0.Add(time.Duration(s * float64(time.Second))) }
	for _, tc := range []struct {
		w    [][2]float64
		want float64
	}{
		{nil, 0},
		{[][2]float64{{0, 10}}, 10},
		{[][2]float64{{0, 10}, {5, 15}}, 15},
		{[][2]float64{{20, 30}, {0, 10}}, 20},
		{[][2]float64{{0, 10}, {2, 3}, {9, 12}, {20, 21}}, 13},
		{[][2]float64{{0, 10}, {10, 20}}, 20},
		{[][2]float64{{5, 5}, {7, 6}}, 0},
	} {
		ws := make([][2]time.Time, len(tc.w))
		for i, w := range tc.w {
			ws[i] = [2]time.Time{at(w[0]), at(w[1])}
		}
		if got := unionLength(ws).Seconds(); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.w, got, tc.want)
		}
	}
}

func TestMergeThresholdsAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, s synthShard) string {
		d := filepath.Join(dir, name)
		if s.samples == nil {
			s.samples = []map[string][]int64{{"frame_latency": {10_000, 20_000, 30_000}}}
		}
		s.start, s.length, s.interval = mergeT0, time.Second, time.Second
		s.frames, s.sessions = []int64{3}, 1
		s.write(t, d)
		return d
	}
	a := mk("a", synthShard{index: 0, count: 2, thresholds: []string{"frame_latency.p50<25ms"}})
	b := mk("b", synthShard{index: 1, count: 2, samples: []map[string][]int64{{"frame_latency": {40_000, 50_000, 60_000}}}})
	c := mk("c", synthShard{index: 1, count: 2, status: reports.StatusInterrupted})

	// The shard's own threshold passed on its share; on the merged
	// histogram (p50 = 30 ms) it fails.
	res, err := Merge([]string{a, b}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Verdicts) != 1 || res.Verdicts[0].Pass || res.ExitCode() != ExitThresholdsFailed {
		t.Fatalf("verdicts %+v, exit %d", res.Verdicts, res.ExitCode())
	}
	// Given to merge too: evaluated once.
	res, err = Merge([]string{a, b}, MergeOptions{Thresholds: []string{"frame_latency.p50<25ms", "frame_latency.max<=61ms"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Verdicts) != 2 || res.Verdicts[1].Expr != "frame_latency.max<=61ms" || !res.Verdicts[1].Pass {
		t.Fatalf("verdicts %+v", res.Verdicts)
	}
	// An interrupted shard makes the merged run incomplete: exit 1, like
	// an interrupted load.
	res, err = Merge([]string{a, c}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode() != ExitHarnessError || res.Summary.Status != reports.StatusInterrupted || !res.Interrupted {
		t.Fatalf("exit %d, status %s, incomplete %q", res.ExitCode(), res.Summary.Status, res.Incomplete)
	}
	// A missing shard: exit 1, and a note says which.
	res, err = Merge([]string{a}, MergeOptions{Thresholds: []string{"frame_latency.p50<25ms"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode() != ExitHarnessError || !strings.Contains(strings.Join(res.Summary.Notes, "\n"), "1/2 are missing") {
		t.Fatalf("exit %d, notes %q", res.ExitCode(), res.Summary.Notes)
	}
	// The same shard twice from different folders: exit 1.
	b2 := mk("b2", synthShard{index: 1, count: 2})
	if res, err = Merge([]string{a, b, b2}, MergeOptions{}); err != nil || res.ExitCode() != ExitHarnessError {
		t.Fatalf("repeated shard: %v, %v", err, res)
	}
	// Passing thresholds: 0.
	if res, err = Merge([]string{b, mk("a2", synthShard{index: 0, count: 2})}, MergeOptions{Thresholds: []string{"frame_latency.p50>=10ms"}}); err != nil || res.ExitCode() != ExitOK {
		t.Fatalf("pass: %v, exit %v", err, res.ExitCode())
	}
}

func TestMergeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	synthShard{index: 0, count: 1, start: mergeT0, length: time.Second, interval: time.Second,
		samples: []map[string][]int64{{"token": {100}}}, sessions: 1}.write(t, good)
	notRun := filepath.Join(dir, "empty")
	if err := os.Mkdir(notRun, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dirs []string
		opts MergeOptions
		want string
	}{
		{"nothing", nil, MergeOptions{}, "no shard folders"},
		{"missing", []string{filepath.Join(dir, "nope")}, MergeOptions{}, "no such file"},
		{"file", []string{file}, MergeOptions{}, "not a folder"},
		{"not a run", []string{notRun}, MergeOptions{}, "no summary.json"},
		{"twice", []string{good, good + "/"}, MergeOptions{}, "given twice"},
		{"out is input", []string{good}, MergeOptions{OutDir: good}, "also an input"},
		{"bad threshold", []string{good}, MergeOptions{Thresholds: []string{"frame_latency.p99<"}}, "threshold"},
	} {
		_, err := Merge(tc.dirs, tc.opts)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) || ExitCode(nil, err) != ExitUsage {
			t.Errorf("%s: %v, want a usage error about %q", tc.name, err, tc.want)
		}
	}
}

// TestMergeRefusesDifferentGeometry: histograms of another precision cannot
// be merged without losing it; the merge says so and writes nothing.
func TestMergeRefusesDifferentGeometry(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, index, sigfigs int) string {
		d := filepath.Join(dir, name)
		synthShard{index: index, count: 2, start: mergeT0, length: time.Second, interval: time.Second, sigfigs: sigfigs,
			samples: []map[string][]int64{{"frame_latency": {1234, 5678}}}, sessions: 1}.write(t, d)
		return d
	}
	a, b := mk("a", 0, 3), mk("b", 1, 2)
	out := filepath.Join(dir, "merged")
	_, err := Merge([]string{a, b}, MergeOptions{OutDir: out})
	var ie *IncompatibleError
	if !errors.As(err, &ie) || ExitCode(nil, err) != ExitUsage || !strings.Contains(err.Error(), "significant figures") {
		t.Fatalf("err %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("files written despite the refusal: %v", entries)
	}
}

// TestMergeToleratesATornLog: a shard killed while writing leaves a torn
// last line; the merge skips it, says so, and keeps the rest.
func TestMergeToleratesATornLog(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "a")
	synthShard{index: 0, count: 1, start: mergeT0, length: 2 * time.Second, interval: time.Second,
		samples: []map[string][]int64{{"token": {100}}, {"token": {200}}}, sessions: 1}.write(t, d)
	f, err := os.OpenFile(filepath.Join(d, hlogName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("Tag=token,2.000,1.000,0.300,HISTFAAAAC")
	f.Close()
	res, err := Merge([]string{d}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results.Histograms["token"].TotalCount() != 2 || !strings.Contains(strings.Join(res.Summary.Notes, "\n"), "1 malformed lines") {
		t.Fatalf("count %d, notes %q", res.Results.Histograms["token"].TotalCount(), res.Summary.Notes)
	}
}

// TestMergeOfRunnerShards runs the real Runner as 4 shards and as one
// process, with sessions that record the same values whatever process runs
// them, and checks that merging the shards' folders gives exactly the
// single run's histograms and counts.
func TestMergeOfRunnerShards(t *testing.T) {
	dir := t.TempDir()
	const sessions = 12
	fn := func(ctx context.Context, id int, rec *Recorder) error {
		rng := rand.New(rand.NewPCG(uint64(id), 3))
		rec.Record(Token, time.Duration(1000+id*37)*time.Microsecond)
		rec.Record(ICEConnect, time.Duration(rng.IntN(50_000)+500)*time.Microsecond)
		for range 100 {
			rec.Record(FrameLatency, time.Duration(rng.IntN(20_000)+2000)*time.Microsecond)
			rec.Count(Frames, 1)
		}
		rec.Record(DCRTT, time.Duration(1000+id*10)*time.Microsecond)
		rec.Ready()
		<-ctx.Done()
		return nil
	}
	run := func(out string, opts ...Option) *Result {
		r, err := New(fn, append(opts, WithSessions(sessions), WithDuration(300*time.Millisecond), WithInterval(50*time.Millisecond), WithOutDir(out))...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	var dirs []string
	for i := range 4 {
		d := filepath.Join(dir, fmt.Sprintf("shard-%d", i))
		run(d, WithShard(i, 4))
		dirs = append(dirs, d)
	}
	single := run(filepath.Join(dir, "single"))
	merged, err := Merge(dirs, MergeOptions{OutDir: filepath.Join(dir, "merged")})
	if err != nil {
		t.Fatal(err)
	}
	if merged.ExitCode() != ExitOK {
		t.Fatalf("exit %d: %q", merged.ExitCode(), merged.Incomplete)
	}
	for _, m := range []string{"token", "ice_connect", "frame_latency", "dc_rtt"} {
		if !merged.Results.Histograms[m].Equals(single.Results.Histograms[m]) {
			t.Errorf("%s: merged shards %d samples, single run %d; histograms differ", m,
				merged.Results.Histograms[m].TotalCount(), single.Results.Histograms[m].TotalCount())
		}
		if merged.Summary.Metrics[m].P99Ms != single.Summary.Metrics[m].P99Ms {
			t.Errorf("%s p99: %v vs %v", m, merged.Summary.Metrics[m].P99Ms, single.Summary.Metrics[m].P99Ms)
		}
	}
	for _, c := range []string{"frames", "sessions_started", "sessions_ready", "sessions_completed"} {
		if merged.Summary.Counters[c] != single.Summary.Counters[c] {
			t.Errorf("%s: merged %d, single %d", c, merged.Summary.Counters[c], single.Summary.Counters[c])
		}
	}
	// Every shard recorded its clock offset estimate; the merge lists them.
	for _, sh := range merged.Shards {
		if sh.ClockOffsetMs == nil || sh.ClockOffsetUncertaintyMs == nil {
			t.Fatalf("shard %d/%d has no clock offset", sh.Index, sh.Count)
		}
	}
	if _, ok := merged.Summary.Params.Extra[ExtraClockOffset]; ok {
		t.Error("the merged params carry one shard's clock offset")
	}
}

func TestEstimateClockOffset(t *testing.T) {
	res := func(lat, rtt []int64, below int64) *Results {
		r := &Results{Histograms: map[string]*hdr.Histogram{}, BelowRange: map[string]int64{}}
		for _, name := range MetricNames() {
			r.Histograms[name] = NewHistogram()
		}
		for _, v := range lat {
			_ = r.Histograms["frame_latency"].RecordValue(v)
		}
		for _, v := range rtt {
			_ = r.Histograms["dc_rtt"].RecordValue(v)
		}
		if below > 0 {
			r.BelowRange["frame_latency"] = below
		}
		return r
	}
	// Host 3 ms ahead, 1 ms each way: frames read 4 ms at best, round trips 2 ms.
	co := EstimateClockOffset(res([]int64{4000, 4500, 9000}, []int64{2000, 2600, 8000}, 0))
	if !co.OK || co.EstimateMs != 3 || co.UncertaintyMs != 1 {
		t.Fatalf("%+v", co)
	}
	for name, r := range map[string]*Results{
		"negative":  res([]int64{4000}, []int64{2000}, 3),
		"no frames": res(nil, []int64{2000}, 0),
		"no pings":  res([]int64{4000}, nil, 0),
	} {
		if co := EstimateClockOffset(r); co.OK || co.Note == "" {
			t.Errorf("%s: %+v", name, co)
		}
	}
	// In a summary: params.extra gets the keys (without touching the
	// Runner's shared map) and a note explains the method.
	shared := map[string]string{"target": "x"}
	s := &reports.Summary{Params: reports.Params{Extra: shared}}
	annotateClockOffset(s, res([]int64{4000}, []int64{2000}, 0))
	if s.Params.Extra[ExtraClockOffset] != "3.000" || s.Params.Extra[ExtraClockOffsetUncertainty] != "1.000" || len(shared) != 1 || len(s.Notes) != 1 {
		t.Fatalf("extra %v, shared %v, notes %q", s.Params.Extra, shared, s.Notes)
	}
}
