package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CasesDocPath is the generated case list, relative to the repository root.
const CasesDocPath = "docs/sdk-cases.md"

// CasesDoc renders docs/sdk-cases.md from the catalog and the built-in
// targets' expectations files.
func CasesDoc(root string) (string, error) {
	var b strings.Builder
	b.WriteString("# SDK behaviour cases\n\n")
	b.WriteString("<!-- Generated from suites/sdk (the case catalog and suites/sdk/expectations/*.txt).\n")
	b.WriteString("     Do not edit: run `REACTOR_SDK_FIX=1 go test ./suites/sdk -run TestCasesDoc` to regenerate. -->\n\n")
	b.WriteString("The SDK suite (`suites/sdk`, see its README) drives real published SDKs through their drivers\n")
	b.WriteString("(`drivers/PROTOCOL.md`) against the in-process mock and judges them from the drivers' events and\n")
	b.WriteString("the mock's request journal. Every case runs once per SDK target; a case that does not apply to an\n")
	b.WriteString("SDK (another protocol generation, a missing feature) is reported as skipped with the reason.\n")
	b.WriteString("Cases marked **WebRTC** need the SDK to reach `ready`, i.e. the mock's WebRTC plane.\n")
	b.WriteString("The Sections column cites the harness's protocol notes (PROTOCOL.md) and the platform's documentation\n")
	b.WriteString("(PLATFORM.md) by section; [protocol.md](protocol.md) summarises each section they cite.\n\n")
	cat := Catalog()
	for _, a := range Areas {
		fmt.Fprintf(&b, "## %s\n\n", a.Title)
		b.WriteString("| ID | Case | Requirement | Sections | Labels |\n|---|---|---|---|---|\n")
		for _, c := range cat {
			if areaName(c.ID) != a.Name {
				continue
			}
			title := c.Title
			if c.WebRTC {
				title += " (**WebRTC**)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.ID, mdEscape(title), mdEscape(c.Requirement),
				strings.Join(c.Sections, "; "), "`"+strings.Join(c.Labels, "` `")+"`")
		}
		b.WriteString("\n")
	}
	b.WriteString("## Expected failures per SDK version\n\n")
	b.WriteString("From `suites/sdk/expectations/<target>.txt`: the cases each pinned SDK is known to fail, with the\n")
	b.WriteString("reason. These are findings about the SDKs (or, where the reason says so, about the mock). A run\n")
	b.WriteString("fails when a case fails that is not listed, or when a listed case passes.\n\n")
	for _, t := range BuiltinTargets(root) {
		e, err := LoadExpectations(t.Expectations)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "### %s (`%s`)\n\n", t.Title, t.Key)
		if len(e.Reasons) == 0 {
			b.WriteString("No expected failures.\n\n")
			continue
		}
		for _, c := range cat {
			if r, ok := e.Reasons[c.ID]; ok {
				fmt.Fprintf(&b, "- `%s` — %s\n", c.ID, mdEscape(r))
			}
		}
		for _, id := range e.Unknown() {
			fmt.Fprintf(&b, "- `%s` (not a case any more) — %s\n", id, mdEscape(e.Reasons[id]))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// WriteCasesDoc regenerates docs/sdk-cases.md.
func WriteCasesDoc(root string) error {
	doc, err := CasesDoc(root)
	if err != nil {
		return err
	}
	p := filepath.Join(root, CasesDocPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(doc), 0o644)
}
