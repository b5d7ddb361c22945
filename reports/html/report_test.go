package htmlreport

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func fixtureOptions() Options {
	return Options{
		Title: "reactor-harness report (fixtures)",
		Conformance: []Source{
			{Path: "testdata/ginkgo/server-mock.json"},
			{Path: "testdata/ginkgo/sdk-js.json"},
			{Path: "testdata/ginkgo/sdk-python.json"},
		},
		Runs:      []Source{{Path: "testdata/load/run-a"}, {Path: "testdata/load/run-b"}},
		Generated: time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC),
	}
}

// wantTargets and wantCells describe the fixture matrix: 18 case IDs over
// 4 targets (the server, two JS SDK versions from one report, Python),
// servers first, SDK versions in natural order.
var (
	wantTargets = []string{"http://127.0.0.1:8080", "@reactor-team/js-sdk 2.2.1", "@reactor-team/js-sdk 2.9.0", "reactor-sdk 1.13.0"}
	wantCells   = map[string][4]Outcome{
		"token/1":         {Passed, NotRun, NotRun, NotRun},
		"token/2":         {Failed, NotRun, NotRun, NotRun},
		"token/3":         {Skipped, NotRun, NotRun, NotRun},
		"session/10":      {Pending, NotRun, NotRun, NotRun},
		"signal/2":        {Failed, NotRun, NotRun, NotRun},
		"sdk/breaking/1":  {NotRun, ExpectedFail, Passed, Passed},
		"sdk/breaking/3":  {NotRun, Failed, Passed, Passed},
		"sdk/lifecycle/2": {NotRun, Skipped, Passed, Failed},
		"sdk/uploads/1":   {NotRun, NotRun, NotRun, Passed},
	}
)

const wantCases = 18

func TestMatrixFromFixtures(t *testing.T) {
	m, err := BuildMatrix(fixtureOptions().Conformance, nil)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, tg := range m.Targets {
		titles = append(titles, tg.Title())
	}
	if strings.Join(titles, "|") != strings.Join(wantTargets, "|") {
		t.Fatalf("targets = %q, want %q", titles, wantTargets)
	}
	if len(m.Cases) != wantCases {
		t.Fatalf("%d cases, want %d", len(m.Cases), wantCases)
	}
	// Natural order: session/2 before session/10.
	var ids []string
	for _, c := range m.Cases {
		ids = append(ids, c.ID)
	}
	if i, j := indexOf(ids, "session/2"), indexOf(ids, "session/10"); i < 0 || j < 0 || i > j {
		t.Errorf("order: %q", ids)
	}
	for _, c := range m.Cases {
		want, ok := wantCells[c.ID]
		if !ok {
			continue
		}
		for j, cell := range c.Cells {
			if cell.Outcome != want[j] {
				t.Errorf("%s × %s = %v, want %v", c.ID, titles[j], cell.Outcome, want[j])
			}
		}
	}
	// The failure of token/2 carries its message, location and HTTP entry.
	c := m.Cases[indexOf(ids, "token/2")]
	r := c.Cells[0].Results[0]
	if !strings.Contains(r.Message, "want status 401") || !strings.HasSuffix(r.FailureLocation, "cases.go:56") || len(r.Entries) != 1 || r.Entries[0].Name != "http exchange" {
		t.Errorf("token/2 result = %+v", r)
	}
	if c.Requirement != "a token request without an API key is refused with 401 and a JSON detail" {
		t.Errorf("requirement = %q", c.Requirement)
	}
	if got := m.Targets[0].Counts; got["pass"] != 7 || got["fail"] != 2 || got["skip"] != 1 || got["pending"] != 1 || got["none"] != 7 {
		t.Errorf("server counts = %v", got)
	}
}

func TestExpectationsFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "expected_failures.txt")
	os.WriteFile(p, []byte("# js 2.2.1\nsdk/breaking/3   # legacy answer route\nsdk/lifecycle/1  # stale on purpose\n"), 0o644)
	exp, err := ParseExpectations(strings.NewReader("a/1 # r\n\n# c\nb/2\n"))
	if err != nil || exp["a/1"] != "r" || len(exp) != 2 {
		t.Fatalf("ParseExpectations = %v, %v", exp, err)
	}
	f, _ := os.Open(p)
	defer f.Close()
	listed, _ := ParseExpectations(f)
	m, err := BuildMatrix(fixtureOptions().Conformance, Expectations{"@reactor-team/js-sdk 2.2.1": listed})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Cases {
		switch c.ID {
		case "sdk/breaking/3":
			if c.Cells[1].Outcome != ExpectedFail || c.Cells[2].Outcome != Passed {
				t.Errorf("listed failure: %v / %v", c.Cells[1].Outcome, c.Cells[2].Outcome)
			}
		case "sdk/lifecycle/1":
			if c.Cells[1].Outcome != Failed || !strings.Contains(c.Cells[1].Results[0].Note, "stale") {
				t.Errorf("stale expectation: %v %q", c.Cells[1].Outcome, c.Cells[1].Results[0].Note)
			}
		}
	}
}

func TestSplitCaseID(t *testing.T) {
	for in, want := range map[string]string{
		"token/1: POST /tokens …":      "token/1",
		"sdk/breaking/1: tokens":       "sdk/breaking/1",
		"session/3.2/1:x":              "session/3.2/1",
		"no id here: really":           "",
		"http://host: not an id":       "",
		"  signal/7 : trickle ICE ok ": "signal/7",
	} {
		id, _, ok := SplitCaseID(in)
		if (want == "") == ok || id != want {
			t.Errorf("SplitCaseID(%q) = %q, %v", in, id, ok)
		}
	}
}

func TestTargetDetection(t *testing.T) {
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"sdk:reactor-sdk@0.8.0"}, "reactor-sdk 0.8.0"},
		{[]string{"sdk:js-sdk", "sdk-version:2.9.0"}, "js-sdk 2.9.0"},
		{[]string{"target:staging"}, "staging"},
	} {
		if got := labelTarget(tc.labels).Title(); got != tc.want {
			t.Errorf("labelTarget(%q) = %q, want %q", tc.labels, got, tc.want)
		}
	}
	if n, v := splitNameVersion("@reactor-team/js-sdk", ""); n != "@reactor-team/js-sdk" || v != "" {
		t.Errorf("npm scope split: %q %q", n, v)
	}
}

func TestLoadRunFromFixture(t *testing.T) {
	r, err := LoadRun(Source{Path: "testdata/load/run-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) > 0 {
		t.Errorf("warnings: %q", r.Warnings)
	}
	if r.Metrics[0] != "token" || len(r.Metrics) != 9 {
		t.Errorf("metrics = %q", r.Metrics)
	}
	d := r.Dists["frame_latency"]
	if d == nil || d.Source != "frame_latency.hgrm" || d.Count != r.Summary.Metrics["frame_latency"].Count {
		t.Fatalf("frame_latency distribution = %+v", d)
	}
	if got, want := at(d, 0.99), r.Summary.Metrics["frame_latency"].P99Ms; got < want*0.99 || got > want*1.01 {
		t.Errorf("p99 from .hgrm %v, summary %v", got, want)
	}
	if r.SeriesMetric != "frame_latency" || len(r.Series) != 30 || len(r.Active) != 30 {
		t.Errorf("series %s: %d points, active %d points", r.SeriesMetric, len(r.Series), len(r.Active))
	}
	if last := r.Active[len(r.Active)-1]; last.Y != 48 {
		t.Errorf("last sessions_active = %v", last)
	}
	for _, p := range r.Series {
		if !(p.P50 > 0 && p.P99 >= p.P50) {
			t.Errorf("bad interval %+v", p)
		}
	}
}

// A folder with only an interval log (no summary, no .hgrm) still reports:
// distributions come from the log's merged histograms. Two copies of the
// same log merged into one file (as shards would be) give the same
// percentiles per interval and twice the sessions.
func TestLoadRunHlogOnlyAndMergedShards(t *testing.T) {
	data, err := os.ReadFile("testdata/load/run-a/run.hlog")
	if err != nil {
		t.Fatal(err)
	}
	one := t.TempDir()
	os.WriteFile(filepath.Join(one, "run.hlog"), data, 0o644)
	two := t.TempDir()
	os.WriteFile(filepath.Join(two, "run.hlog"), append(append([]byte{}, data...), data...), 0o644)
	a, err := LoadRun(Source{Path: one})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadRun(Source{Path: two})
	if err != nil {
		t.Fatal(err)
	}
	if a.Summary != nil || a.Dists["frame_latency"] == nil || a.Dists["frame_latency"].Source != "run.hlog" {
		t.Fatalf("hlog-only run: %+v", a.Dists["frame_latency"])
	}
	if b.Dists["frame_latency"].Count != 2*a.Dists["frame_latency"].Count {
		t.Errorf("merged count %d, single %d", b.Dists["frame_latency"].Count, a.Dists["frame_latency"].Count)
	}
	if len(a.Series) != len(b.Series) {
		t.Fatalf("series lengths %d vs %d", len(a.Series), len(b.Series))
	}
	for i := range a.Series {
		// Percentile ranks round, so p99 of a doubled histogram may be the
		// next recorded value: equal within a few per cent.
		if d := b.Series[i].P99/a.Series[i].P99 - 1; d < -0.05 || d > 0.05 || b.Series[i].Count != 2*a.Series[i].Count {
			t.Errorf("interval %d: %+v vs %+v", i, a.Series[i], b.Series[i])
		}
		if b.Active[i].Y != 2*a.Active[i].Y {
			t.Errorf("active %d: %v vs %v", i, a.Active[i], b.Active[i])
		}
	}
	if _, err := LoadRun(Source{Path: t.TempDir()}); err == nil {
		t.Error("an empty folder was accepted")
	}
}

func TestReadHgrm(t *testing.T) {
	in := " Value\tPercentile\tTotalCount\t1/(1-Percentile)\n\n       1.000     0.000000            1         1.00\n       2.000     0.500000            5         2.00\n      10.000     1.000000           10          inf\n#[Mean    =        3.000, StdDeviation   =        1.000]\n"
	d, err := ReadHgrm(strings.NewReader(in))
	if err != nil || len(d.Points) != 3 || d.Count != 10 || d.Points[2] != (Point{1, 10}) {
		t.Fatalf("ReadHgrm = %+v, %v", d, err)
	}
	if _, err := ReadHgrm(strings.NewReader("garbage here now\n")); err == nil {
		t.Error("garbage accepted")
	}
}

// The report is one self-contained file: no external fetch, everything
// escaped, every cell linked to a details block.
func TestRenderSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, fixtureOptions()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := buf.Len(); n > 400<<10 {
		t.Errorf("report is %d KB", n>>10)
	}
	for _, re := range []string{`(?i)<(script|link|img|iframe)[^>]+(src|href)=`, `(?i)url\(`, `(?i)@import`} {
		if m := regexp.MustCompile(re).FindString(out); m != "" {
			t.Errorf("external reference %q", m)
		}
	}
	if strings.Contains(out, "<script>alert") {
		t.Error("a report entry was not escaped")
	}
	if !strings.Contains(out, "&lt;script&gt;alert(&#39;entries are escaped&#39;)") {
		t.Error("escaped entry not found")
	}
	if strings.Contains(out, "ZgotmplZ") {
		t.Error("html/template rejected a value (ZgotmplZ)")
	}
	// Every link into the page has its anchor.
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(out, -1) {
		if !strings.Contains(out, `id="`+m[1]+`"`) {
			t.Errorf("dangling link #%s", m[1])
		}
	}
	if got := strings.Count(out, `<td class="c `); got != wantCases*len(wantTargets) {
		t.Errorf("%d cells, want %d", got, wantCases*len(wantTargets))
	}
	if got := strings.Count(out, `<svg class="chart dist"`); got != 9+9+9 {
		t.Errorf("%d distribution charts, want 27 (9 per run, 9 overlaid)", got)
	}
	if !strings.Contains(out, `id="compare"`) {
		t.Error("no comparison section")
	}
}

func TestBuildWritesFile(t *testing.T) {
	opts := fixtureOptions()
	opts.Runs = opts.Runs[:1]
	opts.Out = filepath.Join(t.TempDir(), "report.html")
	if err := Build(opts); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(opts.Out)
	if err != nil || !bytes.HasPrefix(data, []byte("<!DOCTYPE html>")) || bytes.Contains(data, []byte(`id="compare"`)) {
		t.Fatalf("report: %d bytes, %v", len(data), err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, Options{Conformance: opts.Conformance[:1]}); err != nil || !strings.Contains(buf.String(), `id="matrix"`) || strings.Contains(buf.String(), `class="run"`) {
		t.Errorf("conformance-only report: %v", err)
	}
	if err := Build(Options{Out: opts.Out}); err == nil {
		t.Error("no inputs accepted")
	}
	if err := Build(Options{Out: opts.Out, Conformance: []Source{{Path: "testdata/load/run-a/summary.json"}}}); err == nil {
		t.Error("a summary.json was accepted as a Ginkgo report")
	}
}

func TestClassifyInputs(t *testing.T) {
	conf, runs, err := ClassifyInputs([]string{"testdata/ginkgo/sdk-js.json", "A=testdata/load/run-a", "testdata/load/run-b"})
	if err != nil || len(conf) != 1 || len(runs) != 2 || runs[0].Name != "A" {
		t.Fatalf("ClassifyInputs = %v %v %v", conf, runs, err)
	}
	if _, _, err := ClassifyInputs([]string{"testdata/nope"}); err == nil {
		t.Error("missing input accepted")
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// The shapes the repository's own suites write (suites/server and
// suites/sdk): "[KEY] id: …" spec texts under a Describe labelled
// "sdk:KEY", an "sdk" entry "NAME VERSION (target KEY)", skips without
// entries when a target cannot run, "expected failure" entries on passed
// specs, "STALE expectation" failures, and a server target described in a
// SynchronizedBeforeSuite entry.
func TestRealSuiteShapes(t *testing.T) {
	dir := t.TempDir()
	sdkSpec := func(key, text string, state types.SpecState, msg string, entries map[string]any) types.SpecReport {
		sr := types.SpecReport{
			ContainerHierarchyTexts:  []string{"SDK behaviour", "title " + key},
			ContainerHierarchyLabels: [][]string{{"sdk"}, {"sdk:" + key}},
			LeafNodeType:             types.NodeTypeIt, LeafNodeText: "[" + key + "] " + text, State: state,
			Failure: types.Failure{Message: msg},
		}
		for k, v := range entries {
			vis := types.ReportEntryVisibilityAlways
			if k == "verdict" {
				vis = types.ReportEntryVisibilityNever
			}
			sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: k, Value: types.WrapEntryValue(v), Visibility: vis})
		}
		return sr
	}
	sdkName := func(key, name string) map[string]any {
		return map[string]any{"sdk": name + " (target " + key + ")", "verdict": "{Case:x}"}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	sdkRep := types.Report{SuiteDescription: "SDK behaviour suite", SpecReports: []types.SpecReport{
		sdkSpec("js-2.9.0", "sdk/breaking/1: tokens are minted with POST (PLATFORM.md §2)", types.SpecStatePassed, "", sdkName("js-2.9.0", "@reactor-team/js-sdk 2.9.0")),
		sdkSpec("js-2.10.0", "sdk/breaking/1: tokens are minted with POST (PLATFORM.md §2)", types.SpecStatePassed, "", sdkName("js-2.10.0", "@reactor-team/js-sdk 2.10.0")),
		sdkSpec("js-2.2.1", "sdk/breaking/1: tokens are minted with POST (PLATFORM.md §2)", types.SpecStatePassed, "",
			with(sdkName("js-2.2.1", "@reactor-team/js-sdk 2.2.1"), "expected failure", "predates POST /tokens (listed in expectations/js-2.2.1.txt): 405")),
		sdkSpec("js-2.2.1", "sdk/breaking/2: version errors surface", types.SpecStateFailed,
			"STALE expectation: sdk/breaking/2 passes on @reactor-team/js-sdk 2.2.1 now, but … lists it", sdkName("js-2.2.1", "@reactor-team/js-sdk 2.2.1")),
		sdkSpec("js-2.2.1", "sdk/breaking/3: answer route", types.SpecStateFailed, "sdk/breaking/3 FAILED on @reactor-team/js-sdk 2.2.1", sdkName("js-2.2.1", "@reactor-team/js-sdk 2.2.1")),
		// A target that cannot run here: skipped before any entry.
		sdkSpec("js-2.9.0", "sdk/breaking/2: version errors surface", types.SpecStateSkipped, "@reactor-team/js-sdk 2.9.0 is not available here: npm", nil),
		{LeafNodeType: types.NodeTypeReportAfterSuite, State: types.SpecStatePassed},
	}}
	serverRep := types.Report{SuiteDescription: "Reactor server conformance", SpecReports: []types.SpecReport{
		{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStatePassed, ReportEntries: types.ReportEntries{
			{Name: "target", Value: types.WrapEntryValue(`embedded mock at http://127.0.0.1:45501, model "helios"`)},
		}},
		{ContainerHierarchyTexts: []string{"Reactor server", "tokens §1.1"}, LeafNodeType: types.NodeTypeIt, State: types.SpecStatePassed,
			LeafNodeText: "token/1: POST /tokens MUST mint a JWT [§1.1]", LeafNodeLabels: []string{"token"}},
		{LeafNodeType: types.NodeTypeSynchronizedAfterSuite, State: types.SpecStateFailed, Failure: types.Failure{Message: "closing the mock: boom"}},
	}}
	var paths []Source
	for name, rep := range map[string]types.Report{"sdk.json": sdkRep, "server.json": serverRep} {
		data, err := json.Marshal([]types.Report{rep})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		paths = append(paths, Source{Path: p})
	}
	sort.Slice(paths, func(i, j int) bool { return paths[i].Path < paths[j].Path })
	m, err := BuildMatrix(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, tg := range m.Targets {
		titles = append(titles, tg.Title())
	}
	want := []string{"http://127.0.0.1:45501", "@reactor-team/js-sdk 2.2.1", "@reactor-team/js-sdk 2.9.0", "@reactor-team/js-sdk 2.10.0"}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Fatalf("columns %q, want %q", titles, want)
	}
	if m.Targets[0].Detail != `embedded mock at http://127.0.0.1:45501, model "helios"` {
		t.Errorf("server detail %q", m.Targets[0].Detail)
	}
	cell := map[string]*Cell{}
	for _, c := range m.Cases {
		for j, cl := range c.Cells {
			cell[c.ID+" "+titles[j]] = cl
		}
	}
	for k, want := range map[string]Outcome{
		"sdk/breaking/1 @reactor-team/js-sdk 2.2.1":  ExpectedFail,
		"sdk/breaking/2 @reactor-team/js-sdk 2.2.1":  Failed,
		"sdk/breaking/3 @reactor-team/js-sdk 2.2.1":  Failed,
		"sdk/breaking/2 @reactor-team/js-sdk 2.9.0":  Skipped, // same column though it has no entry
		"sdk/breaking/1 @reactor-team/js-sdk 2.10.0": Passed,
		"token/1 http://127.0.0.1:45501":             Passed,
	} {
		if c := cell[k]; c == nil || c.Outcome != want {
			t.Errorf("%s = %v, want %v", k, c, want)
		}
	}
	if r := cell["sdk/breaking/2 @reactor-team/js-sdk 2.2.1"].Results[0]; !strings.Contains(r.Note, "stale") {
		t.Errorf("stale note %q", r.Note)
	}
	r := cell["sdk/breaking/1 @reactor-team/js-sdk 2.2.1"].Results[0]
	if !strings.Contains(r.Note, "predates POST") || r.Requirement != "tokens are minted with POST (PLATFORM.md §2)" {
		t.Errorf("xfail result %+v", r)
	}
	for _, e := range r.Entries {
		if e.Name == "verdict" {
			t.Error("a Visibility=never entry of a passing spec is shown")
		}
	}
	if len(m.Problems) != 1 || !strings.Contains(m.Problems[0].Message, "boom") || m.Problems[0].Target != "http://127.0.0.1:45501" {
		t.Errorf("problems %+v", m.Problems)
	}
}

// Summary fields the report does not know (a newer runner's, such as
// per-shard clock offsets) are shown, not dropped.
func TestUnknownSummaryFieldsShown(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/load/run-a/summary.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(data, &m)
	m["clock_offsets_ms"] = map[string]any{"shard-0": 1.25, "shard-1": -0.75}
	m["empty_thing"] = map[string]any{}
	data, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(dir, "summary.json"), data, 0o644)
	var buf bytes.Buffer
	if err := Render(&buf, Options{Runs: []Source{{Path: dir}}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "clock_offsets_ms") || !strings.Contains(out, "&#34;shard-1&#34;:-0.75") {
		t.Error("clock_offsets_ms not shown")
	}
	if strings.Contains(out, "empty_thing") {
		t.Error("an empty field is shown")
	}
}
