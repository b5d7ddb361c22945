package imageref

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestTag(t *testing.T) {
	long := strings.Repeat("a", 200)
	for in, want := range map[string]string{
		"":        "dev",
		"(devel)": "dev",
		"v0.4.0":  "v0.4.0",
		"v0.0.0-20261207202908-7793ac5f1e2b+dirty": "v0.0.0-20261207202908-7793ac5f1e2b-dirty",
		"+x": "x",
		"+":  "dev",
		long: long[:128],
	} {
		if got := Tag(in); got != want {
			t.Errorf("Tag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromBuildInfo(t *testing.T) {
	if got := FromBuildInfo(nil); got != "reactor-harness:dev" {
		t.Errorf("nil build info: %q", got)
	}
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}
	if got := FromBuildInfo(bi); got != "reactor-harness:v1.2.3" {
		t.Errorf("v1.2.3: %q", got)
	}
	if !strings.HasPrefix(Default(), Name+":") {
		t.Errorf("Default() = %q", Default())
	}
}
