package sdk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Expectations is one target's failure list: the case IDs expected to fail,
// each with a one-line reason (protobuf conformance's failure lists).
type Expectations struct {
	Path    string
	Reasons map[string]string // case ID → reason
	Missing bool              // the file does not exist (no expected failures)
}

// LoadExpectations reads a failure list. Format, one entry per line:
//
//	sdk/token/1   # reason
//
// Blank lines and lines starting with # are ignored. A missing file is an
// empty list. A duplicate ID or a line that is not a case ID is an error.
func LoadExpectations(path string) (*Expectations, error) {
	e := &Expectations{Path: path, Reasons: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		e.Missing = true
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, "#")
		id, reason = strings.TrimSpace(id), strings.TrimSpace(reason)
		if !idRe.MatchString(id) {
			return nil, fmt.Errorf("%s:%d: %q is not a case ID (sdk/<area>/<n>)", path, n, id)
		}
		if _, dup := e.Reasons[id]; dup {
			return nil, fmt.Errorf("%s:%d: %s is listed twice", path, n, id)
		}
		e.Reasons[id] = reason
	}
	return e, sc.Err()
}

// Listed reports whether id is expected to fail, and why.
func (e *Expectations) Listed(id string) (string, bool) {
	r, ok := e.Reasons[id]
	return r, ok
}

// Unknown lists IDs in the file that are not in the catalog.
func (e *Expectations) Unknown() []string {
	var out []string
	for id := range e.Reasons {
		if _, ok := Lookup(id); !ok {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Render writes the file contents: a header, then the entries in catalog
// order (unknown IDs last).
func (e *Expectations) Render(title string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Expected failures of the SDK behaviour suite for %s.\n", title)
	b.WriteString("# One case ID per line, then \"# reason\". The run fails when a case not listed here\n")
	b.WriteString("# fails, or when a listed case passes (a stale entry). Regenerate from a run with\n")
	b.WriteString("# REACTOR_SDK_FIX=1 (see suites/sdk/README.md); reasons already here are kept.\n")
	ids := make([]string, 0, len(e.Reasons))
	for id := range e.Reasons {
		ids = append(ids, id)
	}
	order := map[string]int{}
	for i, c := range Catalog() {
		order[c.ID] = i
	}
	sort.Slice(ids, func(i, j int) bool {
		oi, iok := order[ids[i]]
		oj, jok := order[ids[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return ids[i] < ids[j]
	})
	width := 0
	for _, id := range ids {
		width = max(width, len(id))
	}
	for _, id := range ids {
		reason := oneLine(e.Reasons[id], 240)
		if reason == "" {
			reason = "no reason recorded"
		}
		fmt.Fprintf(&b, "%-*s  # %s\n", width, id, reason)
	}
	return b.Bytes()
}

// oneLine squashes whitespace and bounds the length.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

// Outcome is a case's verdict on one target.
type Outcome string

// Outcomes.
const (
	OutcomePass Outcome = "pass"
	OutcomeFail Outcome = "fail"
	OutcomeNA   Outcome = "n/a"
)

// Verdict is what one run of a case concluded.
type Verdict struct {
	Case    string  `json:"case"`
	Target  string  `json:"target"`
	SDK     string  `json:"sdk,omitempty"` // name and version from hello
	Outcome Outcome `json:"outcome"`
	Message string  `json:"message,omitempty"`
}

// Fix computes the new failure list from this run's verdicts: failing cases
// are listed (keeping an existing reason, else the first line of the
// failure), passing and not-applicable cases are removed, cases that did not
// run keep their entry, IDs no longer in the catalog are dropped.
func (e *Expectations) Fix(verdicts []Verdict) *Expectations {
	out := &Expectations{Path: e.Path, Reasons: map[string]string{}}
	ran := map[string]Verdict{}
	for _, v := range verdicts {
		ran[v.Case] = v
	}
	for id, r := range e.Reasons {
		if _, known := Lookup(id); !known {
			continue
		}
		if _, did := ran[id]; !did {
			out.Reasons[id] = r
		}
	}
	for id, v := range ran {
		if v.Outcome != OutcomeFail {
			continue
		}
		if r, ok := e.Reasons[id]; ok && r != "" {
			out.Reasons[id] = r
			continue
		}
		first, _, _ := strings.Cut(strings.TrimSpace(v.Message), "\n")
		out.Reasons[id] = oneLine(first, 200)
	}
	return out
}
