package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const htmlTestdata = "../../reports/html/testdata"

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "report.html")
	exp := filepath.Join(dir, "js.expected")
	if err := os.WriteFile(exp, []byte("token/1 # predates POST /tokens\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"report", "--out", out, "--title", "CLI test report", "--expectations", "js=" + exp,
		filepath.Join(htmlTestdata, "ginkgo", "sdk-js.json"), "mock=" + filepath.Join(htmlTestdata, "ginkgo", "server-mock.json"),
		"A=" + filepath.Join(htmlTestdata, "load", "run-a")}
	if code := dispatch(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CLI test report", "<svg", "mock"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(stdout.String(), "2 conformance report(s), 1 load run(s)") {
		t.Errorf("stdout %q", stdout.String())
	}
	// run-b failed a threshold: the report is written and the exit code says so.
	out2 := filepath.Join(dir, "b.html")
	if code := dispatch([]string{"report", "--out", out2, filepath.Join(htmlTestdata, "load", "run-a"), filepath.Join(htmlTestdata, "load", "run-b")}, &stdout, &stderr); code != exitThresholdsFailed {
		t.Fatalf("exit %d, want 99", code)
	}
	if _, err := os.Stat(out2); err != nil {
		t.Fatal(err)
	}
}

func TestReportUsageErrors(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(htmlTestdata, "load", "run-a")
	for name, args := range map[string][]string{
		"no inputs":          {"report", "--out", filepath.Join(dir, "r.html")},
		"missing input":      {"report", "--out", filepath.Join(dir, "r.html"), filepath.Join(dir, "nope.json")},
		"bad flag":           {"report", "--frobnicate", run},
		"expectations form":  {"report", "--out", filepath.Join(dir, "r.html"), "--expectations", "just-a-file", run},
		"expectations found": {"report", "--out", filepath.Join(dir, "r.html"), "--expectations", "js=" + filepath.Join(dir, "none"), run},
	} {
		var stdout, stderr bytes.Buffer
		if code := dispatch(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr.String())
		}
	}
	// A Ginkgo file that is not JSON: the harness cannot build the report.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"report", "--out", filepath.Join(dir, "r.html"), bad}, &stdout, &stderr); code != exitHarnessError {
		t.Errorf("unreadable report: exit %d, want 1 (%s)", code, stderr.String())
	}
	if code := dispatch([]string{"report", "-h"}, &stdout, &stderr); code != exitOK {
		t.Errorf("-h: exit %d", code)
	}
}

func TestMergeUsageErrorsInProcess(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no folders":    {"merge", "--out", filepath.Join(dir, "m")},
		"bad flag":      {"merge", "--frobnicate"},
		"bad threshold": {"merge", "--threshold", "frame_latency.p99", filepath.Join(htmlTestdata, "load", "run-a")},
		"missing":       {"merge", filepath.Join(dir, "nope")},
		"out is input":  {"merge", "--out", filepath.Join(htmlTestdata, "load", "run-a"), filepath.Join(htmlTestdata, "load", "run-a")},
	} {
		var stdout, stderr bytes.Buffer
		if code := dispatch(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr.String())
		}
	}
}

// TestMergeFlagsAfterFolders: `merge DIR --out X` works as well as
// `merge --out X DIR` (and the fixture run merges on its own).
func TestMergeFlagsAfterFolders(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m")
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"merge", filepath.Join(htmlTestdata, "load", "run-a"), "--out", out}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	for _, f := range []string{"summary.json", "run.hlog", "summary.txt", "frame_latency.hgrm"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(stdout.String(), "reactor-harness merge: 1 shard folder(s)") {
		t.Errorf("stdout %q", stdout.String())
	}
}

// Inputs and flags may come in any order, and "--" ends the flags, as they
// did before the CLI moved to cobra.
func TestReportArgsInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  string
		out  string
	}{
		{[]string{"a", "b"}, "a b", "report.html"},
		{[]string{"--out", "o", "a", "b"}, "a b", "o"},
		{[]string{"a", "--out", "o", "b"}, "a b", "o"},
		{[]string{"a", "b", "--out=o"}, "a b", "o"},
		{[]string{"--out", "o", "--", "-a", "--out"}, "-a --out", "o"},
		{nil, "", "report.html"},
	} {
		cmd := newReportCmd()
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		out, _ := cmd.Flags().GetString("out")
		if pos := strings.Join(cmd.Flags().Args(), " "); pos != tc.pos || out != tc.out {
			t.Errorf("%q: pos %q out %q", tc.args, pos, out)
		}
	}
}
