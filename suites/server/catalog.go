package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Check is a case's executable body: it talks to the target through r and
// returns nil when the server meets the requirement, or an error that says
// what was sent, what was expected and what was received. Checks are plain
// functions so that the Ginkgo suite, the meta tests (which point them at a
// deliberately broken mock) and any other runner can call them.
type Check func(ctx context.Context, r *Run) error

// Case is one entry of the catalog, in the h2spec style: a stable ID
// ("token/1"), the PROTOCOL.md section it checks, a one-line MUST-style
// requirement and labels for --label-filter.
type Case struct {
	ID          string
	Section     string // PROTOCOL.md section, e.g. "1.1"
	Requirement string
	Labels      []string
	// Destructive cases change the mock's scenario or force states through
	// the admin API; they run Serial and are skipped on other targets.
	Destructive bool
	// Serial cases change state shared by the whole server (the local
	// runtime's single session) and must not run beside others.
	Serial bool
	// Pending, when set, says why the case cannot run yet.
	Pending string
	Check   Check
	// File and Line locate the registration, so reports point at the case.
	File string
	Line int
}

// Area groups the cases of one catalog file.
type Area struct {
	Prefix string // ID prefix: "token"
	Title  string // container text
	Label  string // label every case of the area carries
	File   string // the catalog file, for docs
}

// Areas lists the catalog's areas in report order.
var Areas = []Area{
	{"token", "tokens §1.1", "token", "token.go"},
	{"session", "session lifecycle §1.2", "session", "session.go"},
	{"state", "session states §2.1", "session", "states.go"},
	{"version", "version negotiation and conventions §1.0", "versioning", "versioning.go"},
	{"upload", "uploads §1.2", "uploads", "uploads.go"},
	{"limits", "quotas and rate limits §1.2", "limits", "limits.go"},
	{"legacy", "legacy (pre-overhaul) protocol §1.2", "legacy", "legacy.go"},
	{"signal", "WebRTC signalling §1.3", "signalling", "signalling.go"},
	{"media", "media §5", "media", "media.go"},
	{"data", "data channels §3", "data-channel", "datachannel.go"},
	{"chunk", "data-channel chunking §9.2", "data-channel", "chunking.go"},
	{"stats", "client stats §9.3", "data-channel", "stats.go"},
	{"local", "local runtime API §1.4", "local-runtime", "local.go"},
	{"cors", "browser cross-origin access (CORS) §1.0", "cors", "cors.go"},
	{"model", "hosted models §9.6", "models", "models.go"},
}

// KnownLabels are the labels a case may carry.
var KnownLabels = []string{"token", "session", "signalling", "media", "data-channel", "uploads",
	"versioning", "limits", "local-runtime", "legacy", "cors", "models", "destructive"}

// LabelDestructive marks cases that need the mock's admin API.
const LabelDestructive = "destructive"

var registry []*Case

// SkipError is returned by a check that cannot run against this target
// (not a failure): the Ginkgo suite turns it into Skip with the reason.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

func skipf(format string, a ...any) error { return &SkipError{Reason: fmt.Sprintf(format, a...)} }

// register adds a case. It is called from the init functions of the area
// files; the area's label and "destructive" are added automatically.
func register(c Case) {
	if a, ok := areaOf(c.ID); ok && !slices.Contains(c.Labels, a.Label) {
		c.Labels = append([]string{a.Label}, c.Labels...)
	}
	if c.Destructive && !slices.Contains(c.Labels, LabelDestructive) {
		c.Labels = append(c.Labels, LabelDestructive)
	}
	if _, file, line, ok := runtime.Caller(1); ok {
		c.File, c.Line = file, line
	}
	cc := c
	registry = append(registry, &cc)
}

func areaOf(id string) (Area, bool) {
	prefix, _, _ := strings.Cut(id, "/")
	for _, a := range Areas {
		if a.Prefix == prefix {
			return a, true
		}
	}
	return Area{}, false
}

func idNumber(id string) int {
	_, n, _ := strings.Cut(id, "/")
	v, _ := strconv.Atoi(n)
	return v
}

func areaIndex(id string) int {
	prefix, _, _ := strings.Cut(id, "/")
	for i, a := range Areas {
		if a.Prefix == prefix {
			return i
		}
	}
	return len(Areas)
}

// Catalog returns every case, ordered by area then number.
func Catalog() []Case {
	out := make([]Case, 0, len(registry))
	for _, c := range registry {
		out = append(out, *c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ai, aj := areaIndex(out[i].ID), areaIndex(out[j].ID)
		if ai != aj {
			return ai < aj
		}
		return idNumber(out[i].ID) < idNumber(out[j].ID)
	})
	return out
}

// CasesOf returns the cases of one area, in order.
func CasesOf(a Area) []Case {
	var out []Case
	for _, c := range Catalog() {
		if strings.HasPrefix(c.ID, a.Prefix+"/") {
			out = append(out, c)
		}
	}
	return out
}

// Lookup finds a case by ID.
func Lookup(id string) (Case, bool) {
	for _, c := range registry {
		if c.ID == id {
			return *c, true
		}
	}
	return Case{}, false
}

// SpecText is the Ginkgo spec text: "token/1: <requirement> [§1.1]".
func (c Case) SpecText() string {
	return fmt.Sprintf("%s: %s [§%s]", c.ID, c.Requirement, c.Section)
}

var (
	idRe      = regexp.MustCompile(`^[a-z]+/[1-9][0-9]*$`)
	sectionRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	// Ginkgo refuses these characters in labels.
	badLabelRe = regexp.MustCompile(`[&|!,()/]`)
)

// ValidateCatalog checks the registry's invariants: unique well-formed IDs
// in known areas, a section, a MUST/SHOULD requirement on one line, known
// labels, a check for every case that is not pending.
func ValidateCatalog() error {
	var errs []error
	seen := map[string]bool{}
	for _, c := range registry {
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", c.ID, fmt.Sprintf(format, a...)))
		}
		if !idRe.MatchString(c.ID) {
			bad("ID must look like area/N")
		}
		if _, ok := areaOf(c.ID); !ok {
			bad("unknown area")
		}
		if seen[c.ID] {
			bad("duplicate ID")
		}
		seen[c.ID] = true
		if !sectionRe.MatchString(c.Section) {
			bad("section %q must be a PROTOCOL.md section number like 1.2", c.Section)
		}
		if !strings.Contains(c.Requirement, "MUST") && !strings.Contains(c.Requirement, "SHOULD") {
			bad("requirement must be MUST/SHOULD-style: %q", c.Requirement)
		}
		if strings.ContainsAny(c.Requirement, "\n\r") {
			bad("requirement must be one line")
		}
		for _, l := range c.Labels {
			if !slices.Contains(KnownLabels, l) || badLabelRe.MatchString(l) {
				bad("unknown label %q", l)
			}
		}
		if c.Destructive != slices.Contains(c.Labels, LabelDestructive) {
			bad("the destructive label and the Destructive flag disagree")
		}
		if c.Check == nil && c.Pending == "" {
			bad("no check and no pending reason")
		}
	}
	return errors.Join(errs...)
}

// Markdown renders the catalog as docs/server-cases.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Server conformance cases\n\n")
	b.WriteString("<!-- Generated from the registry in suites/server by\n")
	b.WriteString("     go test ./suites/server -run TestCatalogDoc -args -update-catalog\n")
	b.WriteString("     Do not edit by hand: TestCatalogDoc fails when this file is stale. -->\n\n")
	b.WriteString("Every case of the server suite (`suites/server/`), in the h2spec style: a stable ID, the\n")
	b.WriteString("protocol section it checks (PROTOCOL.md §N, summarised in [protocol.md](protocol.md)), a one-line\n")
	b.WriteString("requirement and its Ginkgo labels. Select cases with\n")
	b.WriteString("`ginkgo --label-filter=...` or `--focus='token/1:'`; see `suites/server/README.md`.\n\n")
	b.WriteString("*destructive* cases change the mock's scenario or force states through its admin API: they run\n")
	b.WriteString("serially and are skipped against servers without that API. *pending* cases cannot run yet;\n")
	b.WriteString("the reason is given.\n\n")
	total, pending, destructive := 0, 0, 0
	for _, a := range Areas {
		cases := CasesOf(a)
		if len(cases) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s (`%s`, label `%s`)\n\n", a.Title, a.File, a.Label)
		b.WriteString("| ID | § | Requirement | Labels | Status |\n|---|---|---|---|---|\n")
		for _, c := range cases {
			total++
			status := "runs"
			switch {
			case c.Pending != "":
				pending++
				status = "pending: " + c.Pending
			case c.Destructive:
				destructive++
				status = "runs (mock only)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.ID, c.Section, mdEscape(c.Requirement),
				"`"+strings.Join(c.Labels, "`, `")+"`", mdEscape(status))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d cases: %d run against any server, %d need the mock's admin API, %d pending.\n",
		total, total-pending-destructive, destructive, pending)
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
