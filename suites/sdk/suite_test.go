package sdk_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/reactor-harness/reactor-harness/suites/sdk"
)

// Flags mirror the environment variables (flags win); pass them after
// -args: go test ./suites/sdk -args -sdk.fix.
var (
	flagDriver    = flag.String("sdk.driver", "", "run only these targets (key or prefix, comma-separated); env "+sdk.EnvDriver)
	flagDriverCmd = flag.String("sdk.driver-cmd", "", "run this driver command instead of the built-in targets; env "+sdk.EnvDriverCmd)
	flagFix       = flag.Bool("sdk.fix", false, "rewrite the expectations files from this run; env "+sdk.EnvFix+"=1")
	flagReportDir = flag.String("sdk.report-dir", "", "write per-SDK Ginkgo JSON and JUnit reports and driver logs here; env "+sdk.EnvReportDir)
)

// suite state fixed at tree construction.
var (
	root         string
	targets      []*sdk.Target
	expectations = map[string]*sdk.Expectations{}
	fixMode      bool
	reportDir    string
	artifactsDir string
	setupErr     error
)

func getenv(name string) string {
	switch name {
	case sdk.EnvDriver:
		if *flagDriver != "" {
			return *flagDriver
		}
	case sdk.EnvDriverCmd:
		if *flagDriverCmd != "" {
			return *flagDriverCmd
		}
	}
	return os.Getenv(name)
}

func TestSDK(t *testing.T) {
	RunSpecs(t, "SDK behaviour suite")
}

func configure() {
	var err error
	if root, err = sdk.FindRoot("."); err != nil {
		setupErr = err
		return
	}
	fixMode = *flagFix || os.Getenv(sdk.EnvFix) == "1" || strings.EqualFold(os.Getenv(sdk.EnvFix), "true")
	reportDir = *flagReportDir
	if reportDir == "" {
		reportDir = os.Getenv(sdk.EnvReportDir)
	}
	if reportDir != "" {
		if reportDir, err = filepath.Abs(reportDir); err != nil {
			setupErr = err
			return
		}
		artifactsDir = filepath.Join(reportDir, "artifacts")
	} else {
		artifactsDir = filepath.Join(os.TempDir(), fmt.Sprintf("reactor-sdk-suite-%d", os.Getpid()))
	}
	if targets, err = sdk.SelectTargets(root, getenv); err != nil {
		setupErr = err
		return
	}
	for _, t := range targets {
		e, err := sdk.LoadExpectations(t.Expectations)
		if err != nil {
			setupErr = err
			return
		}
		expectations[t.Key] = e
	}
}

var _ = Describe("SDK behaviour", Label("sdk"), func() {
	configure()
	if setupErr != nil {
		It("configures the suite", func() { Fail("suite configuration: " + setupErr.Error()) })
		return
	}
	if err := sdk.ValidateCatalog(); err != nil {
		It("has a valid case catalog", func() { Fail(err.Error()) })
		return
	}
	for _, t := range targets {
		t := t
		Describe(t.Title, Label(t.Label()), func() {
			for _, c := range sdk.Catalog() {
				c := c
				It(c.SpecText(t.Key), Label(c.Labels...), SpecTimeout(c.Timeout+45*time.Second), func(ctx SpecContext) {
					runSpec(ctx, t, c)
				})
			}
		})
	}
})

// verdictEntry is the report entry the ReportAfterSuite reads back.
const verdictEntry = "verdict"

func runSpec(ctx context.Context, t *sdk.Target, c *sdk.Case) {
	if t.Skip != "" {
		// A target that cannot run is a failed set-up, never a pass, unless
		// the user asked to run only what is installed.
		if os.Getenv("REACTOR_SDK_ALLOW_SKIP") != "" {
			Skip(fmt.Sprintf("%s is not available here (REACTOR_SDK_ALLOW_SKIP): %s", t.Title, t.Skip))
		}
		Fail(fmt.Sprintf("%s cannot run here: %s (set REACTOR_SDK_ALLOW_SKIP=1 to skip targets that are not installed)", t.Title, t.Skip))
	}
	dir := filepath.Join(artifactsDir, t.Key, strings.ReplaceAll(c.ID, "/", "_"))
	res := sdk.Execute(ctx, t, c, dir)
	sdkName := res.SDK
	if sdkName == "" {
		sdkName = t.Title
	}
	AddReportEntry("sdk", fmt.Sprintf("%s (target %s)", sdkName, t.Key))
	for _, n := range res.Notes {
		AddReportEntry("finding", n)
	}
	AddReportEntry(verdictEntry, res.Verdict, ReportEntryVisibilityNever)
	exp := expectations[t.Key]
	reason, listed := exp.Listed(c.ID)
	switch res.Outcome {
	case sdk.OutcomeNA:
		if listed && !fixMode {
			Fail(fmt.Sprintf("STALE expectation: %s lists %s as an expected failure (%q), but the case does not apply to %s: %s. Remove the line (or rerun with %s=1).",
				rel(exp.Path), c.ID, reason, sdkName, res.Message, sdk.EnvFix))
		}
		Skip(fmt.Sprintf("%s does not apply to %s: %s", c.ID, sdkName, res.Message))
	case sdk.OutcomePass:
		if listed && !fixMode {
			Fail(fmt.Sprintf("STALE expectation: %s passes on %s now, but %s lists it as an expected failure (%q). Remove the line (or rerun with %s=1).",
				c.ID, sdkName, rel(exp.Path), reason, sdk.EnvFix))
		}
	case sdk.OutcomeFail:
		for name, text := range res.Artifacts {
			AddReportEntry(name, text, ReportEntryVisibilityFailureOrVerbose)
		}
		if listed {
			AddReportEntry("expected failure", fmt.Sprintf("%s (listed in %s): %s", reason, rel(exp.Path), firstLine(res.Message)))
			return
		}
		if fixMode {
			AddReportEntry("new expected failure (fix mode)", firstLine(res.Message))
			return
		}
		Fail(fmt.Sprintf("%s FAILED on %s:\n%s\n\n(Not listed in %s. If this is a known SDK gap, add \"%s  # reason\" there, or rerun with %s=1.)",
			c.ID, sdkName, res.Message, rel(exp.Path), c.ID, sdk.EnvFix))
	}
}

func firstLine(s string) string {
	f, _, _ := strings.Cut(s, "\n")
	return f
}

func rel(p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}

// ReportAfterSuite compares the run with the expectations files as a whole
// (IDs no longer in the catalog are stale), rewrites them in fix mode, and
// writes a JSON and a JUnit report per SDK target.
var _ = ReportAfterSuite("SDK expectations and per-SDK reports", func(report Report) {
	if setupErr != nil {
		return
	}
	verdicts := map[string][]sdk.Verdict{}
	for _, sr := range report.SpecReports {
		for _, e := range sr.ReportEntries {
			if e.Name != verdictEntry {
				continue
			}
			if v, ok := decodeVerdict(e); ok {
				verdicts[v.Target] = append(verdicts[v.Target], v)
			}
		}
	}
	var problems []string
	for _, t := range targets {
		exp := expectations[t.Key]
		if fixMode {
			if len(verdicts[t.Key]) == 0 {
				continue // did not run here (skipped or filtered): keep the file
			}
			fixed := exp.Fix(verdicts[t.Key])
			if err := os.MkdirAll(filepath.Dir(exp.Path), 0o755); err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if err := os.WriteFile(exp.Path, fixed.Render(t.Title), 0o644); err != nil {
				problems = append(problems, err.Error())
			} else {
				fmt.Fprintf(os.Stderr, "sdk suite: wrote %s (%d expected failures)\n", rel(exp.Path), len(fixed.Reasons))
			}
			continue
		}
		if unknown := exp.Unknown(); len(unknown) > 0 {
			problems = append(problems, fmt.Sprintf("STALE expectations in %s: %s are not cases any more; remove them (or rerun with %s=1)",
				rel(exp.Path), strings.Join(unknown, ", "), sdk.EnvFix))
		}
	}
	if fixMode && len(verdicts) > 0 {
		if err := sdk.WriteCasesDoc(root); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if reportDir != "" {
		if err := writePerSDKReports(report, verdicts); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		Fail(strings.Join(problems, "\n"))
	}
})

// decodeVerdict reads a verdict entry: the value itself in a serial run,
// its JSON when the report came from parallel processes.
func decodeVerdict(e types.ReportEntry) (sdk.Verdict, bool) {
	if v, ok := e.Value.GetRawValue().(sdk.Verdict); ok {
		return v, true
	}
	raw := []byte(e.Value.AsJSON)
	if len(raw) == 0 {
		b, err := json.Marshal(e.Value.GetRawValue())
		if err != nil {
			return sdk.Verdict{}, false
		}
		raw = b
	}
	var v sdk.Verdict
	if err := json.Unmarshal(raw, &v); err != nil || v.Case == "" {
		return sdk.Verdict{}, false
	}
	return v, true
}

func writePerSDKReports(report Report, verdicts map[string][]sdk.Verdict) error {
	if err := os.MkdirAll(reportDir, 0o755); err != nil {
		return err
	}
	var summary []map[string]any
	for _, t := range targets {
		sub := report
		sub.SuiteDescription = "SDK behaviour suite: " + t.Title
		sub.SpecReports = nil
		counts := map[string]int{}
		for _, sr := range report.SpecReports {
			if sr.LeafNodeType != types.NodeTypeIt || !containsLabel(sr.Labels(), t.Label()) {
				continue
			}
			sub.SpecReports = append(sub.SpecReports, sr)
			counts[sr.State.String()]++
		}
		base := filepath.Join(reportDir, "sdk-"+t.Key)
		if err := reporters.GenerateJSONReport(sub, base+".json"); err != nil {
			return err
		}
		if err := reporters.GenerateJUnitReport(sub, base+".junit.xml"); err != nil {
			return err
		}
		var cases []map[string]any
		for _, v := range verdicts[t.Key] {
			reason, listed := expectations[t.Key].Listed(v.Case)
			entry := map[string]any{"case": v.Case, "outcome": v.Outcome, "expected_failure": listed}
			if listed {
				entry["expected_reason"] = reason
			}
			if v.Outcome != sdk.OutcomePass {
				entry["message"] = firstLine(v.Message)
			}
			cases = append(cases, entry)
		}
		summary = append(summary, map[string]any{"target": t.Key, "title": t.Title, "skip": t.Skip, "specs": counts, "cases": cases})
	}
	sort.Slice(summary, func(i, j int) bool { return summary[i]["target"].(string) < summary[j]["target"].(string) })
	b, _ := json.MarshalIndent(summary, "", "  ")
	return os.WriteFile(filepath.Join(reportDir, "sdk-summary.json"), b, 0o644)
}

func containsLabel(labels []string, l string) bool {
	for _, x := range labels {
		if x == l {
			return true
		}
	}
	return false
}
