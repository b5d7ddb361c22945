package sdk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Environment variables the suite reads (flags of the test binary mirror
// them; see suite_test.go).
const (
	// EnvDriver selects targets by key or key prefix, comma-separated
	// ("js-2.9.0", "js", "python-1.13.0,js-2.2.1"). Empty = every built-in
	// target but the "@chromium" ones.
	EnvDriver = "REACTOR_SDK_DRIVER"
	// EnvDriverCmd runs one driver a maintainer brings instead of the
	// built-in ones (a shell command line, run with sh -c).
	EnvDriverCmd = "REACTOR_SDK_DRIVER_CMD"
	// EnvDriverName names that driver's target (default "custom"); it picks
	// expectations/<name>.txt unless EnvExpectations says otherwise.
	EnvDriverName = "REACTOR_SDK_DRIVER_NAME"
	// EnvDriverDir is the custom driver's working directory (default: the
	// repository root; a relative path is relative to it).
	EnvDriverDir = "REACTOR_SDK_DRIVER_DIR"
	// EnvExpectations is the custom driver's expectations file (relative to
	// the repository root).
	EnvExpectations = "REACTOR_SDK_EXPECTATIONS"
	// EnvFix rewrites the expectations files from this run's verdicts.
	EnvFix = "REACTOR_SDK_FIX"
	// EnvReportDir receives per-SDK Ginkgo JSON and JUnit reports, and the
	// drivers' stderr and transcripts.
	EnvReportDir = "REACTOR_SDK_REPORT_DIR"
	// EnvBrowser is the browser binary the "@chromium" targets launch
	// (default DefaultBrowser).
	EnvBrowser = "REACTOR_BROWSER"
)

// DefaultBrowser is the Chromium the "@chromium" targets launch.
const DefaultBrowser = "/usr/bin/chromium"

// BrowserSuffix marks a target whose SDK runs in headless Chromium.
const BrowserSuffix = "@chromium"

// Target is one SDK version the suite runs against, through its driver.
type Target struct {
	Key     string // "js-2.9.0": report names, labels, expectations file
	Title   string // "@reactor-team/js-sdk 2.9.0"
	Command []string
	Dir     string
	Env     []string
	// WantSDK and WantVersion, when set, must match hello's sdk.name and
	// sdk.version: the key promises a version and must not silently drift.
	WantSDK     string
	WantVersion string
	// Skip, when set, is why the target cannot run here.
	Skip string
	// Expectations is the path of the expectations file.
	Expectations string
	// Builtin is false for a driver brought with EnvDriverCmd.
	Builtin bool
	// Browser is the browser binary of an "@chromium" target ("" otherwise).
	Browser string
}

// Label is the Ginkgo label every spec of the target carries.
func (t *Target) Label() string { return "sdk:" + t.Key }

// FindRoot walks up from dir to the repository root (the folder holding
// go.mod and drivers/PROTOCOL.md).
func FindRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "drivers", "PROTOCOL.md")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("repository root not found (no go.mod next to drivers/PROTOCOL.md above " + dir + ")")
		}
		d = parent
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// BuiltinTargets are the SDK versions the repository pins, with the reason
// each cannot run here (if it cannot).
func BuiltinTargets(root string) []*Target {
	expect := func(key string) string { return filepath.Join(root, "suites", "sdk", "expectations", key+".txt") }
	jsDir := filepath.Join(root, "drivers", "js")
	pyDir := filepath.Join(root, "drivers", "python")
	var out []*Target
	for _, v := range []struct{ version, alias string }{{"2.9.0", "js-sdk-290"}, {"2.2.1", "js-sdk-221"}} {
		t := &Target{Key: "js-" + v.version, Title: "@reactor-team/js-sdk " + v.version,
			Command: []string{"node", "driver.mjs", "--sdk", v.version}, Dir: jsDir,
			WantSDK: "@reactor-team/js-sdk", WantVersion: v.version, Expectations: expect("js-" + v.version), Builtin: true}
		switch {
		case !fileExists(filepath.Join(jsDir, "node_modules")):
			t.Skip = "drivers/js/node_modules is missing: run `npm ci --prefix drivers/js` to install the pinned JS SDKs"
		case !fileExists(filepath.Join(jsDir, "node_modules", "@reactor-team", v.alias)):
			t.Skip = fmt.Sprintf("drivers/js/node_modules has no @reactor-team/%s: run `npm ci --prefix drivers/js`", v.alias)
		default:
			if _, err := exec.LookPath("node"); err != nil {
				t.Skip = "node is not on PATH (the JS driver needs Node ≥ 20)"
			}
		}
		out = append(out, t, browserTarget(t))
	}
	for _, v := range []struct{ gen, version string }{{"1x", "1.13.0"}, {"0x", "0.8.0"}} {
		venv := filepath.Join(pyDir, ".venv-"+v.gen)
		version := pinnedPyVersion(filepath.Join(pyDir, "requirements-"+v.gen+".txt"), v.version)
		t := &Target{Key: "python-" + version, Title: "reactor-sdk " + version + " (Python)",
			Command: []string{filepath.Join(venv, "bin", "python"), "driver.py"}, Dir: pyDir,
			WantSDK: "reactor-sdk", WantVersion: version, Expectations: expect("python-" + version), Builtin: true}
		switch {
		case fileExists(filepath.Join(venv, "SKIPPED")):
			b, _ := os.ReadFile(filepath.Join(venv, "SKIPPED"))
			first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
			t.Skip = fmt.Sprintf("reactor-sdk %s cannot be installed here (recorded by drivers/python/setup.sh in %s): %s",
				v.gen, filepath.Join("drivers", "python", ".venv-"+v.gen, "SKIPPED"), first)
		case !fileExists(filepath.Join(venv, "bin", "python")):
			t.Skip = fmt.Sprintf("drivers/python/.venv-%s is missing: run drivers/python/setup.sh", v.gen)
		}
		out = append(out, t)
	}
	return out
}

// browserTarget is the Chromium twin of a Node JS target: the same pinned
// SDK, bundled into a page by drivers/js/browser-driver.mjs.
func browserTarget(node *Target) *Target {
	t := *node
	t.Key = node.Key + BrowserSuffix
	t.Title = node.Title + " in headless Chromium"
	t.Command = []string{"node", "browser-driver.mjs", "--sdk", node.WantVersion}
	t.Expectations = filepath.Join(filepath.Dir(node.Expectations), t.Key+".txt")
	t.Browser = DefaultBrowser
	t.Env = []string{EnvBrowser + "=" + t.Browser}
	if t.Skip == "" && !fileExists(filepath.Join(node.Dir, "node_modules", "esbuild")) {
		t.Skip = "drivers/js/node_modules has no esbuild: run `npm ci --prefix drivers/js`"
	}
	if t.Skip == "" && !fileExists(t.Browser) {
		t.Skip = "no browser at " + t.Browser + " (pass --browser PATH)"
	}
	return &t
}

// SetBrowser points every "@chromium" target at another browser binary.
func SetBrowser(ts []*Target, path string) {
	for _, t := range ts {
		if t.Browser == "" {
			continue
		}
		t.Browser = path
		t.Env = []string{EnvBrowser + "=" + path}
		if strings.HasPrefix(t.Skip, "no browser at ") {
			t.Skip = ""
		}
		if !fileExists(path) {
			t.Skip = "no browser at " + path + " (pass --browser PATH)"
		}
	}
}

var pinRe = regexp.MustCompile(`(?m)^reactor-sdk==([0-9][0-9A-Za-z.]*)`)

// pinnedPyVersion reads the reactor-sdk pin from a requirements file.
func pinnedPyVersion(reqFile, fallback string) string {
	b, err := os.ReadFile(reqFile)
	if err != nil {
		return fallback
	}
	if m := pinRe.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return fallback
}

// SelectTargets returns the targets to run: the custom driver when
// EnvDriverCmd is set, else the built-in targets filtered by EnvDriver.
func SelectTargets(root string, getenv func(string) string) ([]*Target, error) {
	if cmd := strings.TrimSpace(getenv(EnvDriverCmd)); cmd != "" {
		name := strings.TrimSpace(getenv(EnvDriverName))
		if name == "" {
			name = "custom"
		}
		if badLabelRe.MatchString(name) {
			return nil, fmt.Errorf("%s=%q: a target name may not contain any of &|!,()/ or spaces", EnvDriverName, name)
		}
		// Relative paths are relative to the repository root (go test runs
		// the suite inside suites/sdk, which would surprise).
		dir := getenv(EnvDriverDir)
		if dir == "" {
			dir = root
		} else if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		exp := getenv(EnvExpectations)
		if exp == "" {
			exp = filepath.Join(root, "suites", "sdk", "expectations", name+".txt")
		} else if !filepath.IsAbs(exp) {
			exp = filepath.Join(root, exp)
		}
		return []*Target{{Key: name, Title: name + " (driver: " + cmd + ")",
			Command: []string{"/bin/sh", "-c", "exec " + cmd}, Dir: dir, Expectations: exp}}, nil
	}
	all := BuiltinTargets(root)
	if b := strings.TrimSpace(getenv(EnvBrowser)); b != "" {
		SetBrowser(all, b)
	}
	sel := strings.TrimSpace(getenv(EnvDriver))
	if sel == "" {
		return withoutBrowsers(all), nil
	}
	var out []*Target
	for _, want := range strings.Split(sel, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, t := range all {
			if t.Key == want || strings.HasPrefix(t.Key, want+"-") {
				found = true
				if !containsTarget(out, t) {
					out = append(out, t)
				}
			}
		}
		if !found {
			keys := make([]string, len(all))
			for i, t := range all {
				keys[i] = t.Key
			}
			return nil, fmt.Errorf("%s=%q: no target %q (known: %s, or a prefix such as js or python)", EnvDriver, sel, want, strings.Join(keys, ", "))
		}
	}
	return out, nil
}

// withoutBrowsers drops the "@chromium" targets: they run only when named
// (or by a prefix such as js), since a browser run takes minutes more
// (make test-sdk-chromium).
func withoutBrowsers(ts []*Target) []*Target {
	var out []*Target
	for _, t := range ts {
		if t.Browser == "" {
			out = append(out, t)
		}
	}
	return out
}

func containsTarget(ts []*Target, t *Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
