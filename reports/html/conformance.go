package htmlreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Outcome is the state of one matrix cell.
type Outcome int

// Cell outcomes, from best to worst; a cell that holds several specs (the
// same case ID run twice for one target) shows the worst.
const (
	NotRun       Outcome = iota // the target's report has no spec with this ID
	Passed                      // passed
	Skipped                     // skipped (e.g. destructive case against a real server)
	Pending                     // marked Pending in the suite
	ExpectedFail                // failed, and listed as expected to fail
	Failed                      // failed, panicked, timed out, aborted or interrupted (or a stale expectation)
)

// String returns the outcome's CSS class and label.
func (o Outcome) String() string {
	switch o {
	case Passed:
		return "pass"
	case Skipped:
		return "skip"
	case Pending:
		return "pending"
	case ExpectedFail:
		return "xfail"
	case Failed:
		return "fail"
	}
	return "none"
}

// Label is the short text shown in a cell.
func (o Outcome) Label() string {
	switch o {
	case Passed:
		return "PASS"
	case Skipped:
		return "SKIP"
	case Pending:
		return "PEND"
	case ExpectedFail:
		return "XFAIL"
	case Failed:
		return "FAIL"
	}
	return "—"
}

// caseIDPattern matches the case ID that starts a spec text: "token/1:",
// "sdk/breaking/1:", "session/3.2/1:" (h2spec style: at least one slash).
var caseIDPattern = regexp.MustCompile(`^\s*(?:\[([^\]]*)\]\s*)?([A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.-]+)+)\s*:\s*(.*)$`)

// SplitCaseID returns the case ID at the start of a spec text and the rest
// (the requirement), or ok=false when the text has none. A leading
// "[target] " (as the SDK suite writes "[js-2.9.0] sdk/breaking/1: …") is
// skipped.
func SplitCaseID(text string) (id, rest string, ok bool) {
	_, id, rest, ok = parseSpecText(text)
	return id, rest, ok
}

func parseSpecText(text string) (key, id, rest string, ok bool) {
	m := caseIDPattern.FindStringSubmatch(text)
	if m == nil {
		return "", "", text, false
	}
	return strings.TrimSpace(m[1]), m[2], strings.TrimSpace(m[3]), true
}

// Target identifies a matrix column: an SDK (name and version) or a server.
type Target struct {
	SDK, Version, URL string
	// Key is the suite's short name for the target ("js-2.9.0", from a
	// "sdk:KEY" label, a "[KEY]" spec-text prefix or an "sdk" entry ending
	// "(target KEY)"); specs with one key share a column.
	Key string
	// Detail says more (the server suite's "embedded mock at …, model …");
	// Suite is the suite description. Both show under the column title.
	Detail, Suite string
	// Name overrides the rest when set (from "NAME=FILE" on the command line).
	Name string
}

// Title is the column title.
func (t Target) Title() string {
	switch {
	case t.Name != "":
		return t.Name
	case t.SDK != "" && t.Version != "":
		return t.SDK + " " + t.Version
	case t.SDK != "":
		return t.SDK
	case t.URL != "":
		return t.URL
	case t.Key != "":
		return t.Key
	}
	return t.Suite
}

func (t Target) id() string {
	if t.Name == "" && t.Key != "" {
		return "k:" + t.Key
	}
	return "t:" + t.Title()
}

// merge fills t's empty fields from d.
func (t Target) merge(d Target) Target {
	if t.SDK == "" {
		t.SDK = d.SDK
		if t.Version == "" {
			t.Version = d.Version
		}
	}
	if t.URL == "" {
		t.URL = d.URL
	}
	if t.Key == "" {
		t.Key = d.Key
	}
	if t.Detail == "" {
		t.Detail = d.Detail
	}
	if t.Suite == "" {
		t.Suite = d.Suite
	}
	if t.Name == "" {
		t.Name = d.Name
	}
	return t
}

func (t Target) empty() bool { return t.SDK == "" && t.URL == "" && t.Name == "" && t.Key == "" }

// Entry is one report entry (AddReportEntry) of a spec, made printable.
type Entry struct {
	Name, Location, Value string
	Truncated             bool
}

// Result is what one spec reported for one case and one target.
type Result struct {
	Outcome     Outcome
	State       string // Ginkgo's state: passed, failed, timedout, …
	Text        string // the spec's full text (containers + leaf)
	Requirement string
	Labels      []string
	Location    string
	RunTime     time.Duration
	Attempts    int
	// Failure message and location (also the skip reason for skipped specs).
	Message, FailureLocation string
	Output                   string // captured GinkgoWriter/stdout tail, for failures
	Note                     string // e.g. "expected to fail: …"
	Entries                  []Entry
	Source                   string // the report file
}

// Case is a matrix row.
type Case struct {
	ID          string
	Area        string // the part of ID before the first slash
	Requirement string
	Cells       []*Cell // one per Matrix.Targets entry
	Bad         bool    // some cell failed
	// AreaStart marks the first case of its area; AreaBad that some case
	// of the area failed.
	AreaStart, AreaBad bool
}

// Cell is one case × target.
type Cell struct {
	Outcome Outcome
	Results []Result
	Anchor  string // id of its details block
}

// SuiteProblem is a failure outside any case (BeforeSuite, AfterSuite, a
// report node): it is shown apart from the matrix.
type SuiteProblem struct {
	Target, Node, Message, Location, Source string
}

// TargetSummary counts a column's outcomes.
type TargetSummary struct {
	Target
	Counts map[string]int
	Files  []string
}

// Matrix is the conformance section's model.
type Matrix struct {
	Targets  []TargetSummary
	Cases    []*Case
	Problems []SuiteProblem
}

// CellRef is one cell with its row and column, for the details list.
type CellRef struct {
	Case   *Case
	Target string
	*Cell
}

// Details returns the cells that have results: those that did not pass
// first (passing=false), or the passing ones (passing=true).
func (m *Matrix) Details(passing bool) []CellRef {
	var out []CellRef
	for _, c := range m.Cases {
		for j, cell := range c.Cells {
			if len(cell.Results) > 0 && (cell.Outcome == Passed) == passing {
				out = append(out, CellRef{Case: c, Target: m.Targets[j].Title(), Cell: cell})
			}
		}
	}
	return out
}

// Span is the number of matrix columns (case, requirement, targets).
func (m *Matrix) Span() int { return 2 + len(m.Targets) }

// Source is one input: a path and an optional display name (the target of
// a Ginkgo report, the label of a load run, the target of an expectations
// file).
type Source struct {
	Name, Path string
}

// ParseSource parses "NAME=PATH" or "PATH". A path that itself contains '='
// can be given as "=PATH".
func ParseSource(s string) Source {
	if i := strings.IndexByte(s, '='); i >= 0 {
		return Source{Name: s[:i], Path: s[i+1:]}
	}
	return Source{Path: s}
}

// Limits on what one report contributes, so the HTML stays small.
const (
	maxEntryBytes  = 6 << 10
	maxOutputBytes = 4 << 10
	maxReportBytes = 256 << 20
)

// ReadGinkgoReports reads a Ginkgo --json-report file ([]types.Report; a
// single types.Report object is accepted too).
func ReadGinkgoReports(path string) ([]types.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("htmlreport: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("htmlreport: %s: %w", path, err)
	}
	if len(data) > maxReportBytes {
		return nil, fmt.Errorf("htmlreport: %s: larger than %d MiB", path, maxReportBytes>>20)
	}
	trimmed := strings.TrimSpace(string(data))
	var reports []types.Report
	if strings.HasPrefix(trimmed, "{") {
		var r types.Report
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("htmlreport: %s: not a Ginkgo JSON report: %w", path, err)
		}
		reports = []types.Report{r}
	} else if err := json.Unmarshal(data, &reports); err != nil {
		return nil, fmt.Errorf("htmlreport: %s: not a Ginkgo JSON report: %w", path, err)
	}
	for _, r := range reports {
		if r.SuitePath == "" && r.SuiteDescription == "" && len(r.SpecReports) == 0 {
			return nil, fmt.Errorf("htmlreport: %s: not a Ginkgo JSON report (no SuitePath, SuiteDescription or SpecReports)", path)
		}
	}
	return reports, nil
}

// Expectations maps a target title to the case IDs expected to fail for it,
// each with its reason.
type Expectations map[string]map[string]string

// ParseExpectations reads an expectations file in the protobuf
// conformance "failure list" habit: one case ID per line, optionally
// followed by "# reason"; blank lines and lines starting with '#' are
// ignored.
func ParseExpectations(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		id, reason, _ := strings.Cut(line, "#")
		id = strings.TrimSpace(id)
		if f := strings.Fields(id); len(f) > 0 {
			id = strings.TrimSuffix(f[0], ":")
		}
		out[id] = strings.TrimSpace(reason)
	}
	return out, sc.Err()
}

// Target detection. A column is named, in this order, by the Source name
// given for the file; by the spec's own report entries, labels or "[KEY]"
// spec-text prefix (one report may cover several SDK versions); by entries
// of suite-level nodes (BeforeSuite, ReportAfterSuite …) and the suite's
// labels; and last by the suite description and the file name. Specs that
// name the same key share a column, titled from whichever spec of that key
// gave an SDK name and version.
//
// Recognised entry names (case-insensitive; '-', '_' and spaces ignored):
// "sdk" (a string "name version", "name@version", optionally ending
// "(target KEY)", or an object with name and version), "sdk_name",
// "sdk_version", and for servers "target", "target_url", "base_url",
// "server", "server_url", "reactor_base_url" (a URL, or a sentence holding
// one, such as "embedded mock at http://127.0.0.1:8080, model …").
// Recognised labels: "sdk:KEY" (also parsed as "NAME@VERSION"),
// "sdk-version:V", "sdkversion:V", "target:NAME".
var (
	sdkKeys     = map[string]bool{"sdk": true, "sdkname": true}
	versionKeys = map[string]bool{"sdkversion": true}
	urlKeys     = map[string]bool{"target": true, "targeturl": true, "baseurl": true, "server": true, "serverurl": true, "reactorbaseurl": true}
	urlPattern  = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^\s,;"')]+`)
	keySuffix   = regexp.MustCompile(`\s*\(target ([^()]+)\)\s*$`)
)

// isXFailKey reports whether an entry or label name marks an expected
// failure: "expected failure", "expected-fail", "xfail", "known failure",
// "new expected failure (fix mode)" ….
func isXFailKey(name string) bool {
	k := normKey(name)
	return strings.Contains(k, "expectedfail") || k == "xfail" || k == "knownfailure"
}

func normKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func entryTarget(entries types.ReportEntries) Target {
	var t Target
	for _, e := range entries {
		k := normKey(e.Name)
		raw := e.GetRawValue()
		switch {
		case sdkKeys[k]:
			switch v := raw.(type) {
			case map[string]any:
				t.SDK = firstString(v, "name", "sdk", "package")
				if ver := firstString(v, "version", "sdk_version", "sdkVersion"); ver != "" {
					t.Version = ver
				}
				t.Key = firstString(v, "key", "target")
			default:
				s := entryString(e)
				if m := keySuffix.FindStringSubmatch(s); m != nil {
					t.Key = strings.TrimSpace(m[1])
					s = s[:len(s)-len(m[0])]
				}
				t.SDK, t.Version = splitNameVersion(s, t.Version)
			}
		case versionKeys[k]:
			t.Version = entryString(e)
		case urlKeys[k]:
			s := entryString(e)
			if m, ok := raw.(map[string]any); ok {
				s = firstString(m, "url", "base_url", "baseURL", "name")
			}
			if u := urlPattern.FindString(s); u != "" && u != s {
				t.URL, t.Detail = u, s
			} else {
				t.URL = s
			}
		}
	}
	return t
}

func labelTarget(labels []string) Target {
	var t Target
	for _, l := range labels {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch normKey(k) {
		case "sdk", "sdkname":
			t.Key = v
			if strings.Contains(v, "@") {
				t.SDK, t.Version = splitNameVersion(v, t.Version)
			}
		case "sdkversion":
			t.Version = v
		case "target":
			t.Key = v
		}
	}
	if t.SDK == "" && t.Version != "" {
		t.SDK = t.Key
	}
	return t
}

// splitNameVersion splits "name 1.2.3" or "name@1.2.3" (not a leading '@'
// of an npm scope).
func splitNameVersion(s, version string) (string, string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '@'); i > 0 {
		return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	}
	if f := strings.Fields(s); len(f) == 2 && len(f[1]) > 0 && (f[1][0] == 'v' || (f[1][0] >= '0' && f[1][0] <= '9')) {
		return f[0], f[1]
	}
	return s, version
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			switch v := v.(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return ""
}

func entryString(e types.ReportEntry) string {
	if s, ok := e.GetRawValue().(string); ok {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(e.Value.Representation)
}

// entryText renders an entry's value for the details block: strings as
// they are, other values as indented JSON.
func entryText(e types.ReportEntry) string {
	switch v := e.GetRawValue().(type) {
	case nil:
		return e.Value.Representation
	case string:
		return v
	default:
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			return string(b)
		}
		return e.Value.Representation
	}
}

func truncate(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "\n… (" + strconv.Itoa(len(s)-cut) + " more bytes)", true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := len(s) - n
	for cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut++
	}
	return "… (" + strconv.Itoa(cut) + " bytes before)\n" + s[cut:]
}

func location(l types.CodeLocation) string {
	if l.FileName == "" {
		return l.CustomMessage
	}
	return l.FileName + ":" + strconv.Itoa(l.LineNumber)
}

// classify maps a spec to a cell outcome. A spec is expected to fail when
// (a) it carries a report entry or a label named "expected failure" (or
// expected-fail, xfail, known-failure; see isXFailKey) — the suite then says itself that
// the case failed as expected, so the outcome is XFAIL whatever Ginkgo's
// state (suites that intercept the failure pass or skip the spec), unless
// the failure message calls the expectation stale; or (b) the case is
// listed for the target in an expectations file — then a failure is XFAIL
// and a pass is FAIL (stale expectation); or (c) it was skipped with a
// message starting "expected fail".
func classify(sr types.SpecReport, listed bool, listedReason string) (Outcome, string) {
	marker, reason := false, ""
	for _, e := range sr.ReportEntries {
		if isXFailKey(e.Name) {
			marker, reason = true, entryString(e)
		}
	}
	for _, l := range sr.Labels() {
		if isXFailKey(l) {
			marker = true
		}
	}
	msg := sr.Failure.Message
	lower := strings.ToLower(msg)
	stale := strings.Contains(lower, "stale") || strings.Contains(lower, "unexpectedly passed")
	why := func(r string) string {
		if r == "" {
			return "expected to fail"
		}
		return "expected to fail: " + r
	}
	switch {
	case sr.State.Is(types.SpecStatePending):
		return Pending, ""
	case sr.State.Is(types.SpecStateFailureStates):
		if stale {
			return Failed, "stale expectation: the case is listed as expected to fail"
		}
		if marker {
			return ExpectedFail, why(reason)
		}
		if listed {
			return ExpectedFail, why(listedReason)
		}
		return Failed, ""
	case sr.State.Is(types.SpecStateSkipped):
		if marker || strings.HasPrefix(lower, "expected fail") || strings.HasPrefix(lower, "expected-fail") || strings.HasPrefix(lower, "xfail") {
			if reason == "" {
				reason = msg
			}
			return ExpectedFail, why(reason)
		}
		return Skipped, ""
	case sr.State.Is(types.SpecStatePassed):
		if marker {
			return ExpectedFail, why(reason)
		}
		if listed {
			return Failed, "stale expectation: listed as expected to fail (" + listedReason + ") but passed"
		}
		return Passed, ""
	}
	return Failed, "unknown spec state " + sr.State.String()
}

// specHit is one spec read from a report, before columns are assigned.
type specHit struct {
	target Target
	sr     types.SpecReport
	source string
}

// BuildMatrix reads the Ginkgo reports and builds the conformance matrix
// (target detection is described above entryTarget; outcomes on classify).
func BuildMatrix(sources []Source, exp Expectations) (*Matrix, error) {
	var hits []specHit
	titles := map[string]Target{} // key → a target of that key that names its SDK
	for _, src := range sources {
		reports, err := ReadGinkgoReports(src.Path)
		if err != nil {
			return nil, err
		}
		base := filepath.Base(src.Path)
		for _, rep := range reports {
			// Report-level target: entries of suite-level nodes, then the
			// suite's labels, then description and file name.
			def := Target{}
			for _, sr := range rep.SpecReports {
				if sr.LeafNodeType.Is(types.NodeTypesForSuiteLevelNodes) {
					def = def.merge(entryTarget(sr.ReportEntries))
				}
			}
			def = def.merge(labelTarget(rep.SuiteLabels))
			def.Suite = rep.SuiteDescription
			if def.empty() {
				def.Name = strings.TrimSpace(rep.SuiteDescription + " (" + strings.TrimSuffix(base, filepath.Ext(base)) + ")")
			}
			if src.Name != "" {
				def = Target{Name: src.Name, Suite: rep.SuiteDescription}
			}
			for _, sr := range rep.SpecReports {
				t := def
				if src.Name == "" {
					own := entryTarget(sr.ReportEntries).merge(labelTarget(sr.Labels()))
					if key, _, _, ok := parseSpecText(sr.LeafNodeText); ok && key != "" && own.Key == "" {
						own.Key = key
					}
					if !own.empty() {
						t = own.merge(Target{Detail: def.Detail, Suite: def.Suite})
						if t.URL == "" && t.SDK == "" && t.Key == "" {
							t.URL = def.URL
						}
					}
					if t.Key != "" && t.SDK != "" {
						if _, seen := titles[t.Key]; !seen {
							titles[t.Key] = t
						}
					}
				}
				hits = append(hits, specHit{t, sr, base})
			}
		}
	}

	m := &Matrix{}
	colOf := map[string]int{}
	column := func(t Target, base string) int {
		if t.Key != "" && t.SDK == "" && t.Name == "" {
			if named, ok := titles[t.Key]; ok {
				t.SDK, t.Version = named.SDK, named.Version
			}
		}
		id := t.id()
		i, ok := colOf[id]
		if !ok {
			i = len(m.Targets)
			colOf[id] = i
			m.Targets = append(m.Targets, TargetSummary{Target: t, Counts: map[string]int{}})
		} else if m.Targets[i].SDK == "" && t.SDK != "" {
			m.Targets[i].SDK, m.Targets[i].Version = t.SDK, t.Version
		}
		if !contains(m.Targets[i].Files, base) {
			m.Targets[i].Files = append(m.Targets[i].Files, base)
		}
		return i
	}

	cases := map[string]*Case{}
	areaRank := map[string]int{}
	type placed struct {
		c   *Case
		col int
		r   Result
	}
	var cells []placed
	for _, h := range hits {
		sr := h.sr
		if !sr.LeafNodeType.Is(types.NodeTypeIt) {
			// Suite-level nodes carry no case; show their failures.
			if sr.State.Is(types.SpecStateFailureStates) {
				col := column(h.target, h.source)
				m.Problems = append(m.Problems, SuiteProblem{
					Target: m.Targets[col].Title(), Node: strings.TrimSpace(sr.LeafNodeType.String() + " " + sr.LeafNodeText),
					Message: sr.Failure.Message, Location: location(sr.Failure.Location), Source: h.source,
				})
			}
			continue
		}
		_, id, req, ok := parseSpecText(sr.LeafNodeText)
		if !ok {
			for _, ct := range sr.ContainerHierarchyTexts {
				if _, id, _, ok = parseSpecText(ct); ok {
					req = sr.LeafNodeText
					break
				}
			}
		}
		if !ok {
			id, req = sr.FullText(), ""
		}
		col := column(h.target, h.source)
		reason, listed := exp[m.Targets[col].Title()][id]
		outcome, note := classify(sr, listed, reason)
		r := Result{
			Outcome: outcome, State: sr.State.String(), Text: sr.FullText(), Requirement: req,
			Labels: sr.Labels(), Location: location(sr.LeafNodeLocation), RunTime: sr.RunTime,
			Attempts: sr.NumAttempts, Note: note, Source: h.source,
		}
		if sr.State.Is(types.SpecStateFailureStates | types.SpecStateSkipped) {
			r.Message = sr.Failure.Message
			r.FailureLocation = location(sr.Failure.Location)
			if sr.Failure.ForwardedPanic != "" {
				r.Message += "\n\npanic: " + sr.Failure.ForwardedPanic
			}
		}
		if sr.State.Is(types.SpecStateFailureStates) {
			r.Output = tail(sr.CombinedOutput(), maxOutputBytes)
			for _, af := range sr.AdditionalFailures {
				r.Message += "\n\nalso (" + af.State.String() + "): " + af.Failure.Message
			}
		}
		for _, e := range sr.ReportEntries {
			if e.Visibility == types.ReportEntryVisibilityNever && !sr.State.Is(types.SpecStateFailureStates) {
				continue // bookkeeping entries (e.g. the SDK suite's "verdict")
			}
			v, cut := truncate(entryText(e), maxEntryBytes)
			r.Entries = append(r.Entries, Entry{Name: e.Name, Location: location(e.Location), Value: v, Truncated: cut})
		}
		c := cases[id]
		if c == nil {
			area, _, _ := strings.Cut(id, "/")
			if _, ok := areaRank[area]; !ok {
				areaRank[area] = len(areaRank)
			}
			c = &Case{ID: id, Area: area, Requirement: req}
			cases[id] = c
		}
		if c.Requirement == "" {
			c.Requirement = req
		}
		cells = append(cells, placed{c, col, r})
	}

	// Columns: servers first, then SDKs by name and version (natural
	// order: 2.2.1 before 2.9.0 before 2.10.0), then the rest, each group
	// in the order first seen.
	order := make([]int, len(m.Targets))
	for i := range order {
		order[i] = i
	}
	kind := func(t Target) int {
		switch {
		case t.Name != "":
			return 2
		case t.SDK != "":
			return 1
		case t.URL != "":
			return 0
		}
		return 2
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := m.Targets[order[i]].Target, m.Targets[order[j]].Target
		if ka, kb := kind(a), kind(b); ka != kb {
			return ka < kb
		}
		if kind(a) == 1 && a.SDK != b.SDK {
			return a.SDK < b.SDK
		}
		if kind(a) == 1 && a.Version != b.Version {
			return naturalLess(a.Version, b.Version)
		}
		return false
	})
	newCol := make([]int, len(order))
	sorted := make([]TargetSummary, len(order))
	for to, from := range order {
		newCol[from] = to
		sorted[to] = m.Targets[from]
	}
	m.Targets = sorted
	for i := range cells {
		cells[i].col = newCol[cells[i].col]
	}

	for _, c := range cases {
		m.Cases = append(m.Cases, c)
	}
	// Areas in the order the suites first ran them (token before session
	// before signal …), case IDs in natural order within an area.
	sort.Slice(m.Cases, func(i, j int) bool {
		a, b := m.Cases[i], m.Cases[j]
		if a.Area != b.Area {
			return areaRank[a.Area] < areaRank[b.Area]
		}
		return naturalLess(a.ID, b.ID)
	})
	for i, c := range m.Cases {
		c.Cells = make([]*Cell, len(m.Targets))
		for j := range c.Cells {
			c.Cells[j] = &Cell{Anchor: fmt.Sprintf("r%d-t%d", i, j)}
		}
	}
	for _, p := range cells {
		cell := p.c.Cells[p.col]
		cell.Results = append(cell.Results, p.r)
		if p.r.Outcome > cell.Outcome {
			cell.Outcome = p.r.Outcome
		}
	}
	areaBad := map[string]bool{}
	for i, c := range m.Cases {
		for j, cell := range c.Cells {
			m.Targets[j].Counts[cell.Outcome.String()]++
			if cell.Outcome == Failed {
				c.Bad = true
			}
		}
		c.AreaStart = i == 0 || m.Cases[i-1].Area != c.Area
		areaBad[c.Area] = areaBad[c.Area] || c.Bad
	}
	for _, c := range m.Cases {
		c.AreaBad = areaBad[c.Area]
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// naturalLess orders "token/2" before "token/10".
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func leadingDigits(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
