package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// commandPaths is every command a user can ask help for.
var commandPaths = [][]string{
	{}, {"mock"}, {"load"}, {"conform"}, {"conform", "server"}, {"conform", "sdk"},
	{"merge"}, {"report"}, {"k8s-manifest"}, {"version"},
}

// TestHelpEveryCommand: -h, --help and "help CMD" all print the command's
// own help on stdout and exit 0.
func TestHelpEveryCommand(t *testing.T) {
	for _, path := range commandPaths {
		name := strings.Join(append([]string{"reactor-harness"}, path...), " ")
		for _, args := range [][]string{
			append(append([]string{}, path...), "-h"),
			append(append([]string{}, path...), "--help"),
			append([]string{"help"}, path...),
		} {
			var out, errb bytes.Buffer
			code := dispatch(args, &out, &errb)
			if code != exitOK || errb.Len() != 0 {
				t.Errorf("%q: exit %d, stderr %q", args, code, errb.String())
				continue
			}
			if !strings.Contains(out.String(), "Usage:\n  "+name) {
				t.Errorf("%q: help is not %s's:\n%s", args, name, out.String())
			}
		}
	}
}

// TestHelpHasExamples: every testing and results command shows how it is
// used, and load's help lists the threshold metrics.
func TestHelpHasExamples(t *testing.T) {
	for _, path := range commandPaths[1:] {
		if path[0] == "version" || (len(path) == 1 && path[0] == "conform") {
			continue
		}
		var out, errb bytes.Buffer
		dispatch(append(append([]string{}, path...), "--help"), &out, &errb)
		if !strings.Contains(out.String(), "Examples:\n") {
			t.Errorf("%v: no examples in help", path)
		}
	}
	var out, errb bytes.Buffer
	dispatch([]string{"help", "load"}, &out, &errb)
	for _, want := range []string{"frame_latency", "p99", "--threshold", "Thresholds ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("load help lacks %q", want)
		}
	}
}

// TestUsageMistakes: a mistake on the command line is one line on stderr
// naming it, exit 2, and the run never starts (nothing is written to --out).
func TestUsageMistakes(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"load", "--no-such-flag", "--out", out}, "unknown flag: --no-such-flag"},
		{[]string{"load", "--threshold", "frame_latency.p99<<3", "--out", out}, "threshold"},
		{[]string{"load", "--threshold", "no_such_metric.p99<3ms", "--out", out}, "no_such_metric"},
		{[]string{"load", "--duration", "ten", "--out", out}, `invalid argument "ten" for "--duration"`},
		{[]string{"load", "--sessions", "-3", "--out", out}, "--sessions"},
		{[]string{"load", "--target", "ftp://x", "--api-key", "k", "--out", out}, "--target"},
		{[]string{"load", "stray", "--out", out}, `unknown command "stray"`},
		{[]string{"conform", "server", "--target", "::bad"}, "--target"},
		{[]string{"conform", "sdk"}, "--sdk"},
		{[]string{"conform", "sdk", "--sdk", "no-such-sdk"}, "no-such-sdk"},
		{[]string{"report"}, "report"},
		{[]string{"merge"}, "merge"},
	} {
		var stdout, stderr bytes.Buffer
		code := dispatch(tc.args, &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != exitUsage || len(lines) != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q (want one line with %q)", tc.args, code, stderr.String(), tc.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused run wrote %s (%v)", out, err)
	}
}

// TestSingleDashLongFlags: scripts written for the Go-flag CLI (-sessions 2)
// keep working; short flags and values are left alone.
func TestSingleDashLongFlags(t *testing.T) {
	root := newRootCmd(nil, nil)
	got := longFlagsWithOneDash(root, []string{"load", "-sessions", "2", "-duration=5s", "-o", "x", "--", "-sessions"})
	want := []string{"load", "--sessions", "2", "--duration=5s", "-o", "x", "--", "-sessions"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
	var out, errb bytes.Buffer
	if code := dispatch([]string{"conform", "server", "-cases", "token/1", "-dry-run"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "token/1") {
		t.Errorf("single-dash conform server: exit %d, out %q, err %q", code, out.String(), errb.String())
	}
}

// TestCompletion: cobra's completion scripts are served for the shells it
// knows.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_reactor-harness", "zsh": "#compdef reactor-harness", "fish": "complete -c reactor-harness"} {
		var out, errb bytes.Buffer
		if code := dispatch([]string{"completion", shell}, &out, &errb); code != exitOK || !strings.Contains(out.String(), want) {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, out.Len(), errb.String())
		}
	}
}

// TestVersion: --version and version name the version set at link time and
// the commit recorded in the binary's build info (go build -buildvcs=true in
// a git checkout records it; a git worktree or a source archive does not).
func TestVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "reactor-harness")
	build := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X main.version=v9.8.7", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := "no VCS revision recorded"
	if _, rev, ok := strings.Cut(string(info), "vcs.revision="); ok {
		want = "revision " + rev[:12]
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if !strings.HasPrefix(string(out), "reactor-harness v9.8.7 (") || !strings.Contains(string(out), want) {
			t.Errorf("%v: %q, want v9.8.7 and %q", args, out, want)
		}
	}
}
