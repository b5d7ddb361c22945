package mockrun_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/internal/mockrun"
)

// These tests run the real CLI as a test runner would: they prove the
// contract from outside the process, not by calling its functions.

func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reactor-harness")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/reactor-harness")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func readReady(t *testing.T, r *bufio.Reader) mockrun.Ready {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v (%q)", err, line)
	}
	var ready mockrun.Ready
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	return ready
}

func TestJSONReadyLineNamesTheRealPort(t *testing.T) {
	bin := buildCLI(t)
	cmd := exec.Command(bin, "mock", "--json", "--listen", "127.0.0.1:0", "--exit-on-stdin-close")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ready := readReady(t, bufio.NewReader(stdout))
	u, err := url.Parse(ready.BaseURL)
	if err != nil || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("base_url %q has no real port", ready.BaseURL)
	}
	if ready.Event != "ready" || ready.PID != cmd.Process.Pid || ready.APIKey == "" {
		t.Fatalf("ready = %+v (child pid %d)", ready, cmd.Process.Pid)
	}
	res, err := http.Get(ready.AdminURL + "/requests")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/requests: %s", ready.AdminURL, res.Status)
	}
	stdin.Close()
	waitExit(t, cmd)
}

func TestExitsWhenStdinCloses(t *testing.T) {
	bin := buildCLI(t)
	cmd := exec.Command(bin, "mock", "--json", "--listen", "127.0.0.1:0", "--exit-on-stdin-close")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	readReady(t, bufio.NewReader(stdout))
	stdin.Close()
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit code %d after stdin closed, want 0", code)
	}
}

func TestStdinCloseIgnoredWithoutTheFlag(t *testing.T) {
	bin := buildCLI(t)
	cmd := exec.Command(bin, "mock", "--json", "--listen", "127.0.0.1:0")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ready := readReady(t, bufio.NewReader(stdout))
	stdin.Close()
	time.Sleep(time.Second)
	if !listening(ready.BaseURL) {
		t.Fatal("the mock stopped on stdin close without --exit-on-stdin-close")
	}
}

// TestExitsWhenParentDies starts the mock from a shell (its parent), kills
// the shell with SIGKILL (no chance to clean up, as a crashed runner) and
// expects the orphaned mock to stop listening.
func TestExitsWhenParentDies(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	bin := buildCLI(t)
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	script := fmt.Sprintf("%q mock --json --listen 127.0.0.1:0 >%q 2>%q </dev/null & wait", bin, readyFile, readyFile+".err")
	shell := exec.Command("/bin/sh", "-c", script)
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	ready := waitReadyFile(t, readyFile)
	if !listening(ready.BaseURL) {
		t.Fatal("mock not listening before its parent died")
	}
	defer func() { // never leave the mock behind, even if the test fails
		if p, err := os.FindProcess(ready.PID); err == nil {
			p.Kill()
		}
	}()
	if err := shell.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	shell.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for listening(ready.BaseURL) {
		if time.Now().After(deadline) {
			errTail, _ := os.ReadFile(readyFile + ".err")
			t.Fatalf("orphaned mock still listening 10 s after its parent was killed; its stderr:\n%s", errTail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitReadyFile(t *testing.T, path string) mockrun.Ready {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			var ready mockrun.Ready
			if err := json.Unmarshal([]byte(line), &ready); err != nil {
				t.Fatalf("ready line %q: %v", line, err)
			}
			return ready
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no ready line within 20 s")
	return mockrun.Ready{}
}

func listening(baseURL string) bool {
	u, err := url.Parse(baseURL)
	if err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(10 * time.Second):
		t.Fatal("the mock did not exit within 10 s")
		return -1
	}
}
