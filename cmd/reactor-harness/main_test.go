package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildCLI compiles the command once per test binary run.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reactor-harness")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestDispatchUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch(nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "mock") {
		t.Fatalf("no args: code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := dispatch([]string{"frobnicate"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("unknown command: code %d, stderr %q", code, errb.String())
	}
	if code := dispatch([]string{"mock", "--no-such-flag"}, &out, &errb); code != exitUsage {
		t.Fatalf("bad flag: code %d", code)
	}
	if code := dispatch([]string{"mock", "--scenario", "/nonexistent.yaml"}, &out, &errb); code != exitUsage {
		t.Fatalf("missing scenario: code %d", code)
	}
}

// TestMockCommandServesAndShutsDown runs the real binary: it must print the
// base URL and key, mint a token with that key, and exit 0 on SIGINT.
func TestMockCommandServesAndShutsDown(t *testing.T) {
	bin := buildCLI(t)
	cmd := exec.Command(bin, "mock", "--listen", "127.0.0.1:0", "--scenario", "../../fixtures/scenarios/slow-gpu.yaml")
	cmd.Env = append(os.Environ(), "REACTOR_API_KEY=rk_from_env")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var url, key string
	deadline := time.Now().Add(20 * time.Second)
	for (url == "" || key == "") && time.Now().Before(deadline) && sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "mock Reactor listening on "); ok {
			url = u
		}
		if k, ok := strings.CutPrefix(line, "api key: "); ok {
			key = k
		}
	}
	if url == "" || key != "rk_from_env" {
		t.Fatalf("startup lines missing: url=%q key=%q", url, key)
	}
	req, _ := http.NewRequest("POST", url+"/tokens", nil)
	req.Header.Set("Reactor-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		JWT string `json:"jwt"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.JWT == "" {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	resp, err = http.Get(url + "/__admin/scenario")
	if err != nil {
		t.Fatal(err)
	}
	var scen struct {
		Name string `json:"name"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&scen)
	resp.Body.Close()
	if scen.Name != "slow-gpu" {
		t.Fatalf("scenario file not applied: %q", scen.Name)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("mock did not exit within 15 s of SIGINT")
	}
}
