package sdk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatalogIsValid(t *testing.T) {
	if err := ValidateCatalog(); err != nil {
		t.Fatal(err)
	}
	if len(Catalog()) == 0 {
		t.Fatal("empty catalog")
	}
}

// TestCasesDoc keeps docs/sdk-cases.md in step with the catalog and the
// expectations files. REACTOR_SDK_FIX=1 rewrites it.
func TestCasesDoc(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(EnvFix) == "1" {
		// Fix mode: rewrite and stop (the suite's ReportAfterSuite may rewrite
		// it again concurrently after updating the expectations files).
		if err := WriteCasesDoc(root); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := CasesDoc(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, CasesDocPath))
	if err != nil || string(got) != want {
		t.Fatalf("%s is stale (or missing: %v); regenerate it with `%s=1 go test ./suites/sdk -run TestCasesDoc`", CasesDocPath, err, EnvFix)
	}
}

// TestExpectationFilesParse checks every committed expectations file: it
// parses, and lists only cases of the catalog.
func TestExpectationFilesParse(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "suites", "sdk", "expectations", "*.txt"))
	for _, f := range files {
		e, err := LoadExpectations(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if u := e.Unknown(); len(u) > 0 {
			t.Errorf("%s lists cases that do not exist: %v", f, u)
		}
		for id, reason := range e.Reasons {
			if strings.TrimSpace(reason) == "" {
				t.Errorf("%s: %s has no reason", f, id)
			}
		}
	}
}

func TestExpectationsRoundTripAndFix(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.txt")
	content := "# header\n\nsdk/token/1   # no refresh\nsdk/breaking/5 # has the helper\n"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := LoadExpectations(p)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := e.Listed("sdk/token/1"); !ok || r != "no refresh" {
		t.Fatalf("Listed: %q %v", r, ok)
	}
	fixed := e.Fix([]Verdict{
		{Case: "sdk/token/1", Outcome: OutcomeFail, Message: "other words"},
		{Case: "sdk/breaking/5", Outcome: OutcomePass},
		{Case: "sdk/waiting/2", Outcome: OutcomeFail, Message: "silent\nmore"},
		{Case: "sdk/lifecycle/12", Outcome: OutcomeNA},
	})
	if len(fixed.Reasons) != 2 || fixed.Reasons["sdk/token/1"] != "no refresh" || fixed.Reasons["sdk/waiting/2"] != "silent" {
		t.Fatalf("fix: %v", fixed.Reasons)
	}
	out := string(fixed.Render("Test SDK"))
	if !strings.Contains(out, "sdk/token/1    # no refresh") || strings.Index(out, "sdk/token/1") > strings.Index(out, "sdk/waiting/2") {
		t.Fatalf("render:\n%s", out)
	}
	if err := os.WriteFile(p, []byte("sdk/token/1\nsdk/token/1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadExpectations(p); err == nil {
		t.Fatal("a duplicate must be an error")
	}
	if err := os.WriteFile(p, []byte("token/1 # not an sdk id\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadExpectations(p); err == nil {
		t.Fatal("a malformed id must be an error")
	}
	missing, err := LoadExpectations(filepath.Join(dir, "none.txt"))
	if err != nil || !missing.Missing || len(missing.Reasons) != 0 {
		t.Fatalf("missing file: %v %+v", err, missing)
	}
}

func TestSelectTargets(t *testing.T) {
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	all, err := SelectTargets(root, get)
	if err != nil || len(all) != 4 {
		t.Fatalf("all: %v %d", err, len(all))
	}
	for _, tg := range all {
		if tg.Skip == "" {
			continue
		}
		if !strings.Contains(tg.Skip, "npm ci") && !strings.Contains(tg.Skip, "setup.sh") && !strings.Contains(tg.Skip, "cannot be installed") && !strings.Contains(tg.Skip, "node") && !strings.Contains(tg.Skip, "--browser") {
			t.Errorf("%s: skip reason does not say what to do: %s", tg.Key, tg.Skip)
		}
	}
	env[EnvDriver] = "js"
	js, err := SelectTargets(root, get)
	if err != nil || len(js) != 4 || !strings.HasPrefix(js[0].Key, "js-") {
		t.Fatalf("js: %v %v", err, js)
	}
	env[EnvDriver] = "js-2.9.0@chromium"
	br, err := SelectTargets(root, get)
	if err != nil || len(br) != 1 || br[0].Browser != DefaultBrowser || br[0].Command[1] != "browser-driver.mjs" {
		t.Fatalf("js-2.9.0@chromium: %v %+v", err, br)
	}
	SetBrowser(br, "/nonexistent/chromium")
	if br[0].Skip == "" || !strings.Contains(br[0].Skip, "/nonexistent/chromium") || br[0].Env[0] != EnvBrowser+"=/nonexistent/chromium" {
		t.Fatalf("--browser to a missing binary: skip %q env %v", br[0].Skip, br[0].Env)
	}
	env[EnvDriver] = "python-1.13.0"
	one, err := SelectTargets(root, get)
	if err != nil || len(one) != 1 || one[0].Key != "python-1.13.0" {
		t.Fatalf("one: %v %v", err, one)
	}
	env[EnvDriver] = "ruby"
	if _, err := SelectTargets(root, get); err == nil {
		t.Fatal("unknown target must be an error")
	}
	env[EnvDriverCmd] = "my-driver --flag"
	env[EnvDriverName] = "mysdk-1.0"
	c, err := SelectTargets(root, get)
	if err != nil || len(c) != 1 || c[0].Key != "mysdk-1.0" || c[0].Command[2] != "exec my-driver --flag" ||
		!strings.HasSuffix(c[0].Expectations, filepath.Join("expectations", "mysdk-1.0.txt")) {
		t.Fatalf("custom: %v %+v", err, c)
	}
	env[EnvDriverName] = "bad name"
	if _, err := SelectTargets(root, get); err == nil {
		t.Fatal("a name with a space must be an error")
	}
}
