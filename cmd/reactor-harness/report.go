package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/reactor-harness/reactor-harness/reports"
	htmlreport "github.com/reactor-harness/reactor-harness/reports/html"
)

// runReport is `reactor-harness report [--out report.html] [--title T]
// [--expectations TARGET=FILE]... [NAME=]PATH...`: one self-contained HTML
// file from Ginkgo JSON reports (files) and load-run folders (see
// docs/report.md). Exit codes: 0, or 99 when a load run in the report
// failed a threshold (the report is written either way), 1 when the report
// could not be built, 2 a usage mistake.
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "report.html", "HTML file to write")
	title := fs.String("title", "", "page title (default \"reactor-harness report\")")
	var expectations multiFlag
	fs.Var(&expectations, "expectations", "TARGET=FILE: expected failures (one case ID per line, \"# reason\") for the column titled TARGET (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: reactor-harness report [--out report.html] [--title T] [--expectations TARGET=FILE]... [NAME=]PATH...")
		fmt.Fprintln(stderr, "\nEach PATH is a Ginkgo --json-report file (a conformance matrix column) or a load-run folder")
		fmt.Fprintln(stderr, "(summary.json, run.hlog, <metric>.hgrm); NAME= titles it. Two or more load folders are compared.")
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	inputs, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(inputs) == 0 {
		fmt.Fprintln(stderr, "reactor-harness report: no inputs (Ginkgo JSON reports or load-run folders)")
		fs.Usage()
		return exitUsage
	}
	conformance, runs, err := htmlreport.ClassifyInputs(inputs)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness report:", err)
		return exitUsage
	}
	opts := htmlreport.Options{Title: *title, Conformance: conformance, Runs: runs, Out: *out}
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
	if dir := filepath.Dir(*out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(stderr, "reactor-harness report:", err)
			return exitHarnessError
		}
	}
	if err := htmlreport.Build(opts); err != nil {
		fmt.Fprintln(stderr, "reactor-harness report:", err)
		return exitHarnessError
	}
	fmt.Fprintf(stdout, "report: %d conformance report(s), %d load run(s) → %s\n", len(conformance), len(runs), *out)
	code = exitOK
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
