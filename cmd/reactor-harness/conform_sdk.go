package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/reactor-harness/reactor-harness/suites/sdk"
	"github.com/spf13/cobra"
)

// sdkConformFlags are the settings of one SDK-suite run.
type sdkConformFlags struct {
	browser                               string
	driver, name, dir, expectations, sdks string
	cases, jsonOut, junitOut, artifacts   string
	fix, listOnly, allowSkip              bool
}

func newConformSDKCmd() *cobra.Command {
	f := &sdkConformFlags{}
	cmd := &cobra.Command{
		Use:   "sdk (--sdk KEY | --driver CMD) [flags]",
		Short: "run the SDK behaviour catalog through an SDK's driver",
		Long: `Runs the SDK behaviour catalog (suites/sdk) through a driver: a built-in one for a published
SDK (--sdk js-2.9.0, --sdk python, ...) or your SDK's own (--driver, see drivers/PROTOCOL.md).
Each case is judged against the target's expected-failures file: an unlisted failure or a
stale entry exits 99. A requested target that cannot run here (its packages are not
installed) exits 2 unless --allow-skip.`,
		Example: `  # every built-in JavaScript target
  reactor-harness conform sdk --sdk js

  # your own SDK's driver, with a JUnit report
  reactor-harness conform sdk --driver 'node ./driver.mjs' --name my-sdk --junit-report sdk.xml

  # record today's failures as expected
  reactor-harness conform sdk --sdk python-1.13.0 --fix`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exit(runConformSDK(f, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&f.sdks, "sdk", "", "built-in targets by `key` or prefix (js-2.9.0, python, ...), comma-separated")
	fs.StringVar(&f.browser, "browser", "", "the browser `binary` the @chromium targets launch (default "+sdk.DefaultBrowser+")")
	fs.StringVar(&f.driver, "driver", "", "instead of --sdk: your driver's `command` line (run with sh -c; see drivers/PROTOCOL.md)")
	fs.StringVar(&f.name, "name", "custom", "target `name` for reports and the default expectations file")
	fs.StringVar(&f.dir, "dir", "", "the driver's working `directory` (default: the current one)")
	fs.StringVar(&f.expectations, "expectations", "", "expected-failures `file` (default suites/sdk/expectations/<name>.txt)")
	fs.BoolVar(&f.allowSkip, "allow-skip", false, "a target that cannot run here is reported and skipped (exit 0) instead of exiting 2")
	fs.StringVar(&f.cases, "cases", "", "comma-separated case IDs or `patterns` (sdk/token/*); default all")
	fs.BoolVar(&f.listOnly, "dry-run", false, "list the selected cases without running them")
	fs.BoolVar(&f.fix, "fix", false, "rewrite the expectations file from this run")
	fs.StringVar(&f.jsonOut, "json-report", "", "write a Ginkgo-format JSON report to `file` (readable by reactor-harness report)")
	fs.StringVar(&f.junitOut, "junit-report", "", "write a JUnit XML report to `file`")
	fs.StringVar(&f.artifacts, "artifacts", "", "`folder` for driver logs and transcripts (default a temporary one)")
	groupFlags(fs, "Target", "sdk", "browser", "driver", "name", "dir", "expectations", "allow-skip")
	groupFlags(fs, "Selection", "cases", "dry-run", "fix")
	groupFlags(fs, "Reports", "json-report", "junit-report", "artifacts")
	return cmd
}

// runConformSDK runs the SDK behaviour catalog (suites/sdk) through a
// driver — a maintainer's own, or the built-in ones — and judges each case
// against the target's expected-failures file: an unlisted failure or a
// stale entry exits 99.
func runConformSDK(f *sdkConformFlags, stdout, stderr io.Writer) int {
	targets, err := sdkTargets(f)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform sdk:", err)
		return exitUsage
	}
	cases, err := selectSDKCases(f.cases)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform sdk:", err)
		return exitUsage
	}
	if f.listOnly {
		for _, c := range cases {
			fmt.Fprintln(stdout, c.SpecText(targets[0].Key))
		}
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := exitOK
	for _, t := range targets {
		c := runSDKTarget(ctx, f, t, cases, stdout, stderr)
		code = max(code, c)
	}
	return code
}

func sdkTargets(f *sdkConformFlags) ([]*sdk.Target, error) {
	cwd, _ := os.Getwd()
	root, err := sdk.FindRoot(cwd)
	if err != nil {
		root = cwd // a driver brought from outside the repository
	}
	env := map[string]string{}
	switch {
	case f.driver != "" && f.sdks != "":
		return nil, fmt.Errorf("give --driver or --sdk, not both")
	case f.driver != "":
		dir := f.dir
		if dir == "" {
			dir = cwd
		}
		env[sdk.EnvDriverCmd], env[sdk.EnvDriverName], env[sdk.EnvDriverDir] = f.driver, f.name, absPath(dir)
		if f.expectations != "" {
			env[sdk.EnvExpectations] = absPath(f.expectations)
		}
	case f.sdks != "":
		env[sdk.EnvDriver] = f.sdks
	default:
		return nil, fmt.Errorf("--driver CMD (your SDK's driver) or --sdk KEY (a built-in one) is required")
	}
	ts, err := sdk.SelectTargets(root, func(k string) string { return env[k] })
	if err == nil && f.browser != "" {
		sdk.SetBrowser(ts, absPath(f.browser))
	}
	return ts, err
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func selectSDKCases(patterns string) ([]*sdk.Case, error) {
	pats := splitList(patterns)
	var out []*sdk.Case
	for _, c := range sdk.Catalog() {
		if len(pats) == 0 || matchAny(pats, c.ID) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no case matches --cases %q", patterns)
	}
	return out, nil
}

// runSDKTarget runs every case on one target and reports; it returns the
// target's exit code.
func runSDKTarget(ctx context.Context, f *sdkConformFlags, t *sdk.Target, cases []*sdk.Case, stdout, stderr io.Writer) int {
	if t.Skip != "" {
		if f.allowSkip {
			fmt.Fprintf(stdout, "%s: skipped (--allow-skip): %s\n", t.Title, t.Skip)
			return exitOK
		}
		// A requested SDK that never ran is not a pass: set-up is missing.
		fmt.Fprintf(stderr, "reactor-harness conform sdk: %s cannot run here: %s (or --allow-skip to run only what is installed)\n", t.Title, t.Skip)
		return exitUsage
	}
	exp, err := sdk.LoadExpectations(t.Expectations)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform sdk:", err)
		return exitUsage
	}
	dir := f.artifacts
	if dir == "" {
		if dir, err = os.MkdirTemp("", "conform-sdk-"); err != nil {
			fmt.Fprintln(stderr, "reactor-harness conform sdk:", err)
			return exitHarnessError
		}
	}
	fmt.Fprintf(stdout, "SDK conformance: %d cases on %s (expectations %s)\n", len(cases), t.Title, t.Expectations)
	rep := types.Report{SuitePath: "suites/sdk", SuiteDescription: "Reactor SDK behaviour (" + t.Title + ")",
		SuiteSucceeded: true, StartTime: time.Now()}
	var verdicts []sdk.Verdict
	for _, c := range cases {
		if ctx.Err() != nil {
			break
		}
		res := sdk.Execute(ctx, t, c, filepath.Join(dir, t.Key, safeName(c.ID)))
		verdicts = append(verdicts, res.Verdict)
		sr := sdkSpecReport(t, c, res, exp)
		if sr.State.Is(types.SpecStateFailureStates) {
			rep.SuiteSucceeded = false
		}
		rep.SpecReports = append(rep.SpecReports, sr)
		fmt.Fprintf(stdout, "%-7s %-20s %6.0fms  %s\n", sdkWord(sr), c.ID, float64(res.Elapsed.Milliseconds()), oneLine(sr))
	}
	rep.EndTime = time.Now()
	rep.RunTime = rep.EndTime.Sub(rep.StartTime)
	if f.fix {
		fixed := exp.Fix(verdicts)
		if err := os.WriteFile(t.Expectations, fixed.Render(t.Title), 0o644); err != nil {
			fmt.Fprintln(stderr, "reactor-harness conform sdk: --fix:", err)
			return exitHarnessError
		}
		fmt.Fprintf(stdout, "rewrote %s\n", t.Expectations)
	}
	if err := writeConformReports(rep, &conformFlags{jsonOut: f.jsonOut, junitOut: f.junitOut}); err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform sdk:", err)
		return exitHarnessError
	}
	if f.fix {
		conformExit(rep, false, stdout)
		return exitOK
	}
	return conformExit(rep, ctx.Err() != nil, stdout)
}

// sdkSpecReport judges a verdict against the expectations: a listed failure
// passes (as an expected failure), an unlisted failure or a stale entry fails.
func sdkSpecReport(t *sdk.Target, c *sdk.Case, res *sdk.Result, exp *sdk.Expectations) types.SpecReport {
	sr := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: c.SpecText(t.Key), LeafNodeLabels: append([]string{t.Label()}, c.Labels...),
		ContainerHierarchyTexts: []string{"Reactor SDK behaviour", t.Title}, RunTime: res.Elapsed}
	reason, listed := exp.Listed(c.ID)
	switch {
	case res.Outcome == sdk.OutcomeFail && listed:
		sr.State = types.SpecStatePassed
		sr.ReportEntries = append(sr.ReportEntries, types.ReportEntry{Name: "expected failure", Value: types.WrapEntryValue(reason + " — " + res.Message)})
	case res.Outcome == sdk.OutcomeFail:
		sr.State, sr.Failure.Message = types.SpecStateFailed, res.Message
	case listed:
		sr.State = types.SpecStateFailed
		sr.Failure.Message = fmt.Sprintf("STALE expectation: %s is listed as failing (%s) but its outcome is %s; remove it or run with --fix", c.ID, reason, res.Outcome)
	case res.Outcome == sdk.OutcomeNA:
		sr.State, sr.Failure.Message = types.SpecStateSkipped, res.Message
	default:
		sr.State = types.SpecStatePassed
	}
	return sr
}

func sdkWord(sr types.SpecReport) string {
	if sr.State == types.SpecStatePassed && len(sr.ReportEntries) > 0 {
		return "XFAIL"
	}
	return outcomeWord(sr.State)
}

func safeName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if c == '/' {
			b[i] = '_'
		}
	}
	return string(b)
}
