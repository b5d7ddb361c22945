package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFreshCloneJSDriverTests: the README promises that a fresh clone's
// make targets install what they need. A clone of this commit (so no
// node_modules) runs the JS driver's test target and must pass; npm's cache
// is shared with the user's, so after the first time this costs seconds.
func TestFreshCloneJSDriverTests(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: clones the repository and runs npm ci")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("%s is not a git checkout (%v): nothing to clone", root, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "clone")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "MAKEFLAGS=", "MAKELEVEL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v (deadline: %v)\n%s", name, strings.Join(args, " "), err, ctx.Err(), out)
		}
	}
	// --no-checkout then checkout: cloning a git worktree would otherwise
	// check out the main repository's HEAD, not this one.
	run("git", "clone", "--quiet", "--no-checkout", root, dir)
	run("git", "-C", dir, "checkout", "--quiet", strings.TrimSpace(string(rev)))
	if _, err := os.Stat(filepath.Join(dir, "drivers", "js", "node_modules")); !os.IsNotExist(err) {
		t.Fatalf("the clone already has node_modules (%v)", err)
	}
	run("make", "-C", dir, "test-js")
	if _, err := os.Stat(filepath.Join(dir, "drivers", "js", "node_modules", ".reactor-harness-lock.sha256")); err != nil {
		t.Errorf("make test-js passed but did not install the driver's packages: %v", err)
	}
}
