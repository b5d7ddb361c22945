package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/reactor-harness/reactor-harness/reports"
	htmlreport "github.com/reactor-harness/reactor-harness/reports/html"
	"github.com/spf13/cobra"
)

// runReport is `reactor-harness report [--out report.html] [--title T]
// [--expectations TARGET=FILE]... [NAME=]PATH...`: one self-contained HTML
// file from Ginkgo JSON reports (files) and load-run folders (see
// docs/report.md). Exit codes: 0, or 99 when a load run in the report
// failed a threshold (the report is written either way), 1 when the report
// could not be built, 2 a usage mistake.
func newReportCmd() *cobra.Command {
	var out, title string
	var expectations []string
	cmd := &cobra.Command{
		Use:   "report [flags] [NAME=]PATH...",
		Short: "write one self-contained HTML report (Ginkgo JSON reports, load folders)",
		Long: `Writes one self-contained HTML file. Each PATH is a Ginkgo --json-report file (a column of
the conformance matrix) or a load-run folder (summary.json, run.hlog, <metric>.hgrm); NAME=
titles it. Two or more load folders are compared. The report is written either way; the exit
code is the worst verdict of the load runs in it (1 beats 99), as load and merge judge them.`,
		Example: `  # a conformance matrix of two SDK runs
  reactor-harness report --out matrix.html js=js.json python=py.json

  # compare two load runs
  reactor-harness report --out compare.html before=results/load-a after=results/load-b`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("no inputs (Ginkgo JSON reports or load-run folders)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, inputs []string) error {
			return exit(runReport(inputs, out, title, expectations, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&out, "out", "o", "report.html", "HTML `file` to write")
	fs.StringVar(&title, "title", "", "page title (default \"reactor-harness report\")")
	fs.StringArrayVar(&expectations, "expectations", nil, "`TARGET=FILE`: expected failures (one case ID per line, \"# reason\") for the column titled TARGET (repeatable)")
	return cmd
}

// runReport builds the report of inputs into out.
func runReport(inputs []string, out, title string, expectations []string, stdout, stderr io.Writer) int {
	conformance, runs, err := htmlreport.ClassifyInputs(inputs)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness report:", err)
		return exitUsage
	}
	opts := htmlreport.Options{Title: title, Conformance: conformance, Runs: runs, Out: out}
	for _, e := range expectations {
		src := htmlreport.ParseSource(e)
		if src.Name == "" || src.Path == "" || !strings.Contains(e, "=") {
			fmt.Fprintf(stderr, "reactor-harness report: --expectations %q: want TARGET=FILE\n", e)
			return exitUsage
		}
		if st, err := os.Stat(src.Path); err != nil || st.IsDir() {
			fmt.Fprintf(stderr, "reactor-harness report: --expectations %q: %s is not a readable file\n", e, src.Path)
			return exitUsage
		}
		opts.Expectations = append(opts.Expectations, src)
	}
	if dir := filepath.Dir(out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "reactor-harness report:", err)
			return exitHarnessError
		}
	}
	if err := htmlreport.Build(opts); err != nil {
		fmt.Fprintln(stderr, "reactor-harness report:", err)
		return exitHarnessError
	}
	fmt.Fprintf(stdout, "report: %d conformance report(s), %d load run(s) → %s\n", len(conformance), len(runs), out)
	code := exitOK
	for _, r := range runs {
		s, err := reports.ReadSummaryFile(filepath.Join(r.Path, "summary.json"))
		if err != nil {
			continue // a folder with only .hgrm or run.hlog has no verdicts
		}
		switch v := s.Verdict; {
		case v != nil && v.ExitCode != exitOK:
			fmt.Fprintf(stdout, "  %s: %s: %s\n", r.Path, v.Result, v.Reason)
			code = worseExit(code, v.ExitCode)
		case !s.ThresholdsPassed:
			fmt.Fprintf(stdout, "  %s: a threshold failed\n", r.Path)
			code = worseExit(code, exitThresholdsFailed)
		}
	}
	return code
}

// worseExit keeps the graver of two exit codes: the harness failing to do its
// job (1) outweighs a target failing (99), which outweighs success.
func worseExit(a, b int) int {
	if a == exitHarnessError || b == exitHarnessError {
		return exitHarnessError
	}
	return max(a, b)
}
