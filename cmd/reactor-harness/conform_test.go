package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/reactor-harness/reactor-harness/suites/server"
)

func TestSelectCases(t *testing.T) {
	all := server.Catalog()
	got, err := selectCases(all, "token/1,signal/*", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.ID != "token/1" && !strings.HasPrefix(c.ID, "signal/") {
			t.Fatalf("selected %s", c.ID)
		}
	}
	if len(got) < 2 {
		t.Fatalf("selected %d cases", len(got))
	}
	if _, err := selectCases(all, "nope/*", ""); err == nil {
		t.Fatal("empty selection accepted")
	}
	byLabel, _ := selectCases(all, "", "uploads")
	for _, c := range byLabel {
		if !hasAny(c.Labels, []string{"uploads"}) {
			t.Fatalf("%s lacks the label", c.ID)
		}
	}
}

// TestConformServerCommand runs a slice of the catalog through the real
// binary against the embedded mock, then against a mock whose scenario
// breaks the token endpoint, where it must fail with exit 99 and say why.
func TestConformServerCommand(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "conf.json")
	out, err := exec.Command(bin, "conform", "server", "--cases", "token/*,session/1", "--json-report", jsonPath,
		"--junit-report", filepath.Join(dir, "conf.xml")).CombinedOutput()
	if err != nil {
		t.Fatalf("conform server against the embedded mock: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "PASS    token/1") || !strings.Contains(string(out), " 0 failed") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var reps []types.Report
	if err := json.Unmarshal(raw, &reps); err != nil || len(reps) != 1 || len(reps[0].SpecReports) < 10 {
		t.Fatalf("JSON report: %v (%d reports)", err, len(reps))
	}
	if _, err := os.Stat(filepath.Join(dir, "conf.xml")); err != nil {
		t.Fatalf("JUnit report missing: %v", err)
	}

	scen := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(scen, []byte("name: broken\nfaults: [{route: 'POST /tokens', status: 500, detail: 'token service down'}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startMockProcess(t, bin, scen, "rk_mock_key")
	cmd := exec.Command(bin, "conform", "server", "--target", url, "--api-key", "rk_mock_key", "--cases", "token/1")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitThresholdsFailed {
		t.Fatalf("broken target: exit %v, want %d\n%s", err, exitThresholdsFailed, buf.String())
	}
	if !strings.Contains(buf.String(), "FAIL    token/1") || !strings.Contains(buf.String(), "500") {
		t.Fatalf("failure not explained:\n%s", buf.String())
	}
}

// TestConformSDKCommand runs two SDK cases through the real binary with
// the JS driver as a "brought" driver, and checks a stale expectation is
// caught: the case passes, so listing it as failing must exit 99.
func TestConformSDKCommand(t *testing.T) {
	if _, err := os.Stat("../../drivers/js/node_modules"); err != nil {
		t.Fatal("drivers/js/node_modules missing: run `bash drivers/js/setup.sh` (make test does)")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	exp := filepath.Join(dir, "mine.txt")
	if err := os.WriteFile(exp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() (string, int) {
		cmd := exec.Command(bin, "conform", "sdk", "--driver", "node drivers/js/driver.mjs --sdk 2.9.0", "--name", "mine",
			"--expectations", exp, "--cases", "sdk/breaking/6", "--json-report", filepath.Join(dir, "sdk.json"))
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := run()
	if code != 0 || !strings.Contains(out, "PASS    sdk/breaking/6") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if err := os.WriteFile(exp, []byte("sdk/breaking/6  # wrongly listed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run()
	if code != exitThresholdsFailed || !strings.Contains(out, "STALE") {
		t.Fatalf("stale entry not caught: exit %d\n%s", code, out)
	}
}

// TestConformSDKTargetThatCannotRun: a requested SDK that cannot run here
// (no node on PATH) is a failed job, exit 2 with the reason; --allow-skip
// turns it into a reported skip, exit 0, and still never says PASS.
func TestConformSDKTargetThatCannotRun(t *testing.T) {
	bin := buildCLI(t)
	run := func(extra ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"conform", "sdk", "--sdk", "js-2.9.0", "--cases", "sdk/breaking/6"}, extra...)...)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	out, errs, code := run()
	if code != exitUsage || !strings.Contains(errs, "cannot run here") || strings.Contains(out, "PASS") {
		t.Errorf("unrunnable target: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	out, errs, code = run("--allow-skip")
	if code != exitOK || !strings.Contains(out, "skipped (--allow-skip)") || strings.Contains(out, "PASS") {
		t.Errorf("--allow-skip: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestConformJUnitNamesStable: CI test history keys on suite and class
// names, so two runs against two embedded mocks (two random ports) must
// name them the same, and never by port.
func TestConformJUnitNamesStable(t *testing.T) {
	dir := t.TempDir()
	names := func(i int) string {
		path := filepath.Join(dir, fmt.Sprintf("r%d.xml", i))
		var out, errb bytes.Buffer
		if code := dispatch([]string{"conform", "server", "--cases", "token/1,token/2", "--junit-report", path}, &out, &errb); code != exitOK {
			t.Fatalf("run %d: exit %d\n%s%s", i, code, out.String(), errb.String())
		}
		var doc struct {
			Suites []struct {
				Name  string `xml:"name,attr"`
				Cases []struct {
					Class string `xml:"classname,attr"`
					Name  string `xml:"name,attr"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		raw, err := os.ReadFile(path)
		if err != nil || xml.Unmarshal(raw, &doc) != nil || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 2 {
			t.Fatalf("run %d: report %v\n%s", i, err, raw)
		}
		s := doc.Suites[0].Name
		for _, c := range doc.Suites[0].Cases {
			s += "|" + c.Class + "|" + c.Name
		}
		return s
	}
	a, b := names(1), names(2)
	if a != b {
		t.Errorf("names differ between runs:\n%s\n%s", a, b)
	}
	if strings.Contains(a, "127.0.0.1") || !strings.Contains(a, "reactor-harness server conformance") || !strings.Contains(a, "embedded-mock") {
		t.Errorf("names %q", a)
	}
}
