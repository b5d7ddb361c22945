package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLoadFlagsUsage: a bad interceptor set is refused before anything
// starts; the cost flags parse.
func TestLoadFlagsUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"load", "--interceptors", "bogus"}, &out, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), "--interceptors") || strings.Contains(out.String(), "embedded mock") {
		t.Fatalf("bad --interceptors: code %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	f, code := parseLoadFlags([]string{"--interceptors", "reports", "--cpuprofile", "cpu.prof"}, &errb)
	if code >= 0 || f.interceptors != "reports" || f.cpuProfile != "cpu.prof" {
		t.Fatalf("parse: code %d, flags %+v", code, f)
	}
}

// TestLoadScenarioWithTarget: the scenario scripts only the embedded mock,
// so together with --target it is a usage error, not silently dropped.
func TestLoadScenarioWithTarget(t *testing.T) {
	var errb bytes.Buffer
	if f, code := parseLoadFlags([]string{"--target", "http://127.0.0.1:1", "--scenario", "s.yaml"}, &errb); code != exitUsage || f != nil ||
		!strings.Contains(errb.String(), "--scenario configures the embedded mock") || !strings.Contains(errb.String(), "mock --scenario FILE") {
		t.Fatalf("--scenario with --target: code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if f, code := parseLoadFlags([]string{"--scenario", "s.yaml"}, &errb); code >= 0 || f.scenario != "s.yaml" {
		t.Fatalf("--scenario alone: code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if f, code := parseLoadFlags([]string{"--target", "http://127.0.0.1:1"}, &errb); code >= 0 || f.target != "http://127.0.0.1:1" {
		t.Fatalf("--target alone: code %d, stderr %q", code, errb.String())
	}
}
