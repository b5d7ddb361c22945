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
