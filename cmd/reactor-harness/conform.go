package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/reactor-harness/reactor-harness/suites/server"
	"github.com/spf13/cobra"
)

func newConformCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conform server|sdk [flags]",
		Short: "run a conformance suite: of a server (server) or of an SDK through its driver (sdk)",
		Long: `Runs a conformance catalog and prints one line per case. Exit codes: 0 every case passed
(or failed as expected), 99 a case failed, 1 interrupted, 2 a usage mistake or an SDK target
that cannot run here.`,
		Example: `  reactor-harness conform server
  reactor-harness conform sdk --sdk js-2.9.0`,
		Args: cobra.NoArgs,
		// A suite is required: a bare "conform" is a usage mistake.
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Usage()
			return exitError(exitUsage)
		},
	}
	cmd.AddCommand(newConformServerCmd(), newConformSDKCmd())
	return cmd
}

// conformFlags are the settings of one catalog run.
type conformFlags struct {
	cfg                 server.Config
	name                string
	cases, labels       string
	jsonOut, junitOut   string
	caseTimeout         time.Duration
	listOnly, showFails bool
}

func newConformServerCmd() *cobra.Command {
	f := &conformFlags{cfg: server.ConfigFromEnv()}
	cmd := &cobra.Command{
		Use:   "server [flags]",
		Short: "run the server conformance catalog against a target (the embedded mock by default)",
		Long: `Runs the server catalog (suites/server: one requirement string per case, each citing its
protocol section) against a Reactor deployment or a mock, without Ginkgo. Destructive cases
need the reactor-harness mock's admin API (--admin-api). Report names are stable across runs:
the suite is "reactor-harness server conformance" and the target is named by --name.`,
		Example: `  # the embedded mock
  reactor-harness conform server

  # a deployment, with a JUnit report for CI test history
  reactor-harness conform server --target https://api.example --api-key "$REACTOR_API_KEY" \
    --name staging --junit-report server.xml

  # only the token and signalling cases, listed first
  reactor-harness conform server --cases 'token/*,signal/*' --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exit(runConformServer(f, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&f.cfg.BaseURL, "target", f.cfg.BaseURL, "server base `URL` (env REACTOR_BASE_URL); empty = the embedded mock")
	fs.StringVar(&f.cfg.APIKey, "api-key", f.cfg.APIKey, "API `key` (env REACTOR_API_KEY)")
	fs.StringVar(&f.cfg.Model, "model", f.cfg.Model, "`model` the cases use (default helios)")
	fs.BoolVar(&f.cfg.AdminAPI, "admin-api", f.cfg.AdminAPI, "the target is a reactor-harness mock whose /__admin/ API destructive cases may use")
	fs.StringVar(&f.cfg.LocalURL, "local-url", f.cfg.LocalURL, "local-runtime API base `URL` (local cases are skipped without it on external targets)")
	fs.StringVar(&f.name, "name", "", "target `name` in reports (default embedded-mock, or the target's host)")
	fs.StringVar(&f.cases, "cases", "", "comma-separated case IDs or `patterns` (token/*, signal/3); default all")
	fs.StringVar(&f.labels, "labels", "", "comma-separated `labels`; a case runs if it has any of them")
	fs.DurationVar(&f.caseTimeout, "case-timeout", 2*time.Minute, "bound on one case")
	fs.BoolVar(&f.listOnly, "dry-run", false, "list the selected cases without running them")
	fs.StringVar(&f.jsonOut, "json-report", "", "write a Ginkgo-format JSON report to `file` (readable by reactor-harness report)")
	fs.StringVar(&f.junitOut, "junit-report", "", "write a JUnit XML report to `file`")
	groupFlags(fs, "Target", "target", "api-key", "model", "admin-api", "local-url", "name")
	groupFlags(fs, "Selection", "cases", "labels", "case-timeout", "dry-run")
	groupFlags(fs, "Reports", "json-report", "junit-report")
	return cmd
}

// runConformServer runs the server catalog (suites/server) against a target
// without Ginkgo, for users who want one command: it prints one line per
// case and exits 0 when nothing failed, 99 when a case failed.
func runConformServer(f *conformFlags, stdout, stderr io.Writer) int {
	selected, err := selectCases(server.Catalog(), f.cases, f.labels)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform server:", err)
		return exitUsage
	}
	if f.listOnly {
		for _, c := range selected {
			fmt.Fprintln(stdout, c.SpecText())
		}
		return exitOK
	}
	for _, err := range []error{checkURLFlag("--target", f.cfg.BaseURL), checkURLFlag("--local-url", f.cfg.LocalURL)} {
		if err != nil {
			fmt.Fprintln(stderr, "reactor-harness conform server:", err)
			return exitUsage
		}
	}
	tgt, emb, err := server.ResolveTarget(f.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform server:", err)
		return exitUsage
	}
	defer emb.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "conformance: %d cases against %s\n", len(selected), tgt.Describe())
	rep := runCatalog(ctx, tgt, conformTargetName(f.name, tgt), selected, f.caseTimeout, stdout)
	if err := writeConformReports(rep, f); err != nil {
		fmt.Fprintln(stderr, "reactor-harness conform server:", err)
		return exitHarnessError
	}
	return conformExit(rep, ctx.Err() != nil, stdout)
}

// selectCases filters by ID patterns (path.Match on the ID) and labels.
func selectCases(all []server.Case, cases, labels string) ([]server.Case, error) {
	pats := splitList(cases)
	for _, p := range pats {
		if _, err := path.Match(p, "x"); err != nil {
			return nil, fmt.Errorf("--cases: bad pattern %q", p)
		}
	}
	want := splitList(labels)
	var out []server.Case
	for _, c := range all {
		if (len(pats) == 0 || matchAny(pats, c.ID)) && (len(want) == 0 || hasAny(c.Labels, want)) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no case matches --cases/--labels")
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func matchAny(pats []string, id string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(p, id); ok || p == id {
			return true
		}
	}
	return false
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

// runCatalog runs the cases one after another (destructive cases change
// the mock's scenario, so a serial run is the safe default) and returns a
// Ginkgo-shaped report.
func runCatalog(ctx context.Context, tgt *server.Target, name string, cases []server.Case, timeout time.Duration, out io.Writer) types.Report {
	rep := types.Report{SuitePath: "suites/server", SuiteDescription: serverSuiteName,
		SuiteSucceeded: true, StartTime: time.Now()}
	rep.SuiteConfig.LabelFilter = ""
	for _, c := range cases {
		if ctx.Err() != nil {
			break
		}
		sr := runCase(ctx, tgt, name, c, timeout)
		rep.SpecReports = append(rep.SpecReports, sr)
		if sr.State.Is(types.SpecStateFailureStates) {
			rep.SuiteSucceeded = false
		}
		fmt.Fprintf(out, "%-7s %-12s %6.0fms  %s\n", outcomeWord(sr.State), c.ID, float64(sr.RunTime.Microseconds())/1000, oneLine(sr))
	}
	rep.EndTime = time.Now()
	rep.RunTime = rep.EndTime.Sub(rep.StartTime)
	return rep
}

func runCase(ctx context.Context, tgt *server.Target, name string, c server.Case, timeout time.Duration) (sr types.SpecReport) {
	sr = types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: c.SpecText(), LeafNodeLabels: c.Labels,
		ContainerHierarchyTexts: []string{"Reactor server " + name, areaTitle(c.ID)},
		LeafNodeLocation:        types.CodeLocation{FileName: c.File, LineNumber: c.Line}, StartTime: time.Now()}
	defer func() { sr.EndTime = time.Now(); sr.RunTime = sr.EndTime.Sub(sr.StartTime) }()
	switch {
	case c.Pending != "":
		sr.State = types.SpecStatePending
		sr.Failure.Message = c.Pending
		return sr
	case c.Destructive && !tgt.Admin:
		sr.State = types.SpecStateSkipped
		sr.Failure.Message = "destructive case: needs the reactor-harness mock's admin API (--admin-api)"
		return sr
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	run := server.NewRun(tgt)
	err := c.Check(cctx, run)
	cleanCtx, cancelClean := context.WithTimeout(context.Background(), 30*time.Second)
	_ = run.Cleanup(cleanCtx)
	cancelClean()
	var skip *server.SkipError
	switch {
	case errors.As(err, &skip):
		sr.State, sr.Failure.Message = types.SpecStateSkipped, skip.Reason
	case err != nil:
		sr.State = types.SpecStateFailed
		sr.Failure.Message = fmt.Sprintf("%s failed: %s\n  requirement: %s [PROTOCOL.md §%s]", c.ID, err, c.Requirement, c.Section)
	default:
		sr.State = types.SpecStatePassed
	}
	return sr
}

// serverSuiteName is the suite of every server conformance report: the
// same on every run, so CI test history sees one suite, not one per port.
const serverSuiteName = "reactor-harness server conformance"

// conformTargetName names the target in reports: --name, else
// "embedded-mock", else the target's host (without a port the next run
// might not share).
func conformTargetName(name string, tgt *server.Target) string {
	switch {
	case name != "":
		return name
	case tgt.Embedded:
		return "embedded-mock"
	}
	if u, err := url.Parse(tgt.BaseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "target"
}

func areaTitle(id string) string {
	prefix, _, _ := strings.Cut(id, "/")
	for _, a := range server.Areas {
		if a.Prefix == prefix {
			return a.Title
		}
	}
	return prefix
}

func outcomeWord(s types.SpecState) string {
	switch s {
	case types.SpecStatePassed:
		return "PASS"
	case types.SpecStateSkipped:
		return "SKIP"
	case types.SpecStatePending:
		return "PENDING"
	}
	return "FAIL"
}

// oneLine is the first line of a failure or skip reason, for the console.
func oneLine(sr types.SpecReport) string {
	msg, _, _ := strings.Cut(sr.Failure.Message, "\n")
	if len(msg) > 160 {
		msg = msg[:157] + "..."
	}
	return msg
}

func writeConformReports(rep types.Report, f *conformFlags) error {
	if f.jsonOut != "" {
		if err := reporters.GenerateJSONReport(rep, f.jsonOut); err != nil {
			return fmt.Errorf("json report: %w", err)
		}
	}
	if f.junitOut != "" {
		if err := reporters.GenerateJUnitReport(rep, f.junitOut); err != nil {
			return fmt.Errorf("junit report: %w", err)
		}
	}
	return nil
}

// conformExit prints the closing tally and picks the exit code: 99 when a
// case failed (the target failed the requirement), 1 when interrupted.
func conformExit(rep types.Report, interrupted bool, out io.Writer) int {
	var passed, failed, skipped int
	for _, sr := range rep.SpecReports {
		switch {
		case sr.State == types.SpecStatePassed:
			passed++
		case sr.State.Is(types.SpecStateFailureStates):
			failed++
		default:
			skipped++
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	switch {
	case interrupted:
		return exitHarnessError
	case failed > 0:
		return exitThresholdsFailed
	}
	return exitOK
}
