package mockserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShippedScenariosParse(t *testing.T) {
	files, err := filepath.Glob("../fixtures/scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario fixtures found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Name == "" || sc.Name != strings.TrimSuffix(filepath.Base(f), ".yaml") {
				t.Fatalf("scenario name %q should match its file name", sc.Name)
			}
		})
	}
}

func TestDefaultFixtureMatchesBuiltIn(t *testing.T) {
	sc, err := LoadScenario("../fixtures/scenarios/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultScenario()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, sc), mustJSON(t, def); a != b {
		t.Fatalf("fixtures/scenarios/default.yaml drifted from DefaultScenario():\n%s\n%s", a, b)
	}
}

func TestScenarioErrors(t *testing.T) {
	cases := map[string]string{
		"unknown field":       "profile: current\ntimngs: {}\n",
		"bad profile":         "profile: ancient\n",
		"bad duration":        "timings: {assign_delay: soon}\n",
		"negative polls":      "timings: {pending_polls: -1}\n",
		"fault without route": "faults: [{status: 500}]\n",
		"fault bad status":    "faults: [{route: 'GET /x', status: 42}]\n",
		"fault does nothing":  "faults: [{route: 'GET /x'}]\n",
		"api range inverted":  "versions: {api_min: 3, api_max: 2}\n",
		"webrtc range bad":    "versions: {webrtc_min: 'x'}\n",
		"not yaml":            "{[",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseScenario([]byte(src)); err == nil {
				t.Fatalf("accepted %q", src)
			}
		})
	}
}

func TestDurationForms(t *testing.T) {
	sc, err := ParseScenario([]byte("timings: {assign_delay: 1.5, recover_window: '250ms'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Timings.AssignDelay.D() != 1500*time.Millisecond || sc.Timings.RecoverWindow.D() != 250*time.Millisecond {
		t.Fatalf("durations: %v %v", sc.Timings.AssignDelay.D(), sc.Timings.RecoverWindow.D())
	}
}

func TestLoadScenarioMissingFile(t *testing.T) {
	if _, err := LoadScenario(filepath.Join(t.TempDir(), "nope.yaml")); !os.IsNotExist(err) {
		t.Fatalf("want not-exist error, got %v", err)
	}
}

func TestExplicitZeroAPIVersionIsKept(t *testing.T) {
	sc, err := ParseScenario([]byte("versions: {api_min: 0, api_max: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Versions.APIMin != 0 || sc.Versions.APIMax != 0 {
		t.Fatalf("explicit 0..0 replaced by defaults: %+v", sc.Versions)
	}
	sc, err = ParseScenario([]byte("versions: {webrtc_max: '1.1'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Versions.APIMin != 1 || sc.Versions.APIMax != 1 {
		t.Fatalf("absent API bounds must default to 1..1: %+v", sc.Versions)
	}
	if _, err := ParseScenario([]byte("versions: {api_mni: 0}\n")); err == nil {
		t.Fatal("unknown field inside versions accepted")
	}
}
