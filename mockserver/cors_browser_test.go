package mockserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reactor-harness/reactor-harness/internal/chromium"
)

// The CORS layer proven with the runtime browser apps use: headless Debian
// Chromium loads a page from one loopback origin and calls the mock on
// another, exactly as a web app calls the platform.

const chromiumPath = chromium.Path

// browserCallsJS is what an app's page does: mint a token, create a
// session, wait for it, reserve an upload and PUT the bytes to the
// presigned URL. It reports each status, or the error fetch() threw.
const browserCallsJS = `(async () => {
	const base = %q, key = %q, create = %s;
	const out = {};
	const step = async (name, f) => {
		try { return await f(); } catch (e) { out[name + "_error"] = String(e); throw e; }
	};
	try {
		const tr = await step("tokens", () => fetch(base + "/tokens", {method: "POST",
			headers: {"Reactor-API-Key": key, "Content-Type": "application/json"}, body: JSON.stringify({expires_after: 600})}));
		out.tokens = tr.status;
		const jwt = (await tr.json()).jwt;
		const hdr = {"Authorization": "Bearer " + jwt, "Content-Type": "application/json",
			"Reactor-API-Version": "1", "Reactor-API-Accept-Version": "1"};
		const sr = await step("sessions", () => fetch(base + "/sessions", {method: "POST", headers: hdr, body: JSON.stringify(create)}));
		out.sessions = sr.status;
		const id = (await sr.json()).session_id;
		for (let i = 0; i < 20; i++) {
			const g = await fetch(base + "/sessions/" + id, {headers: hdr});
			const b = await g.json();
			if (b.capabilities) break;
			await new Promise(r => setTimeout(r, 50));
		}
		const bytes = new Uint8Array(64).fill(7);
		const ur = await step("reserve", () => fetch(base + "/sessions/" + id + "/uploads", {method: "POST", headers: hdr,
			body: JSON.stringify({name: "frame.png", size: bytes.length, mime_type: "image/png"})}));
		out.reserve = ur.status;
		const up = await ur.json();
		const pr = await step("put", () => fetch(up.presigned_url, {method: "PUT", headers: {"Content-Type": "image/png"}, body: bytes}));
		out.put = pr.status;
	} catch (e) {}
	return out;
})()`

// headlessChromium starts Chromium with a fresh profile and returns a tab,
// the browser's pid and the profile directory. stop ends the browser.
func headlessChromium(t *testing.T, ctx context.Context) (tab context.Context, pid int, profile string, stop func()) {
	t.Helper()
	profile, err := os.MkdirTemp("", "mock-cors-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromium.Options(), chromedp.UserDataDir(profile))...)
	tab, cancelTab := chromedp.NewContext(alloc)
	stop = func() { cancelTab(); cancelAlloc() }
	if err := chromedp.Do(tab); err != nil {
		stop()
		_ = os.RemoveAll(profile)
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return tab, chromedp.FromContext(tab).Browser.Process().Pid, profile, stop
}

// assertBrowserGone fails unless no process is left that runs with the
// profile (renderers and helpers included) and the profile is removed.
func assertBrowserGone(t *testing.T, pid int, profile string) {
	t.Helper()
	var left []string
	for i := 0; i < 50; i++ {
		left = processesMentioning(profile)
		if len(left) == 0 && syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("Chromium processes still running with %s: %v", profile, left)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("the browser process %d is still alive", pid)
	}
	if err := os.RemoveAll(profile); err != nil {
		t.Errorf("removing the profile: %v", err)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("the profile directory %s is still there (%v)", profile, err)
	}
}

// processesMentioning lists pids whose command line contains s.
func processesMentioning(s string) []string {
	var out []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}

func TestCORSInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: install Debian's chromium package (apt-get install -y chromium) to run the browser test", chromiumPath)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>app</title><p>app")
	})
	allowed, refused := httptest.NewServer(page), httptest.NewServer(page)
	defer allowed.Close()
	defer refused.Close()
	sc := DefaultScenario()
	sc.Timings.PendingPolls = 0
	sc.CORS.AllowedOrigins = []string{allowed.URL}
	ts := newTestServer(t, WithScenario(sc))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab, pid, profile, stop := headlessChromium(t, ctx)
	defer assertBrowserGone(t, pid, profile)
	defer stop()

	create, _ := json.Marshal(map[string]any{"model": map[string]string{"name": "helios"},
		"client_info": map[string]string{"sdk_version": "browser-test", "sdk_type": "js"}})
	js := fmt.Sprintf(browserCallsJS, ts.http.URL, ts.apiKey, create)
	run := func(origin string) map[string]any {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Navigate(origin)); err != nil {
			t.Fatalf("loading %s: %v", origin, err)
		}
		out, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("running the page's calls: %v", err)
		}
		return out
	}

	got := run(allowed.URL)
	want := map[string]float64{"tokens": 200, "sessions": 201, "reserve": 201, "put": 200}
	for k, v := range want {
		if n, _ := got[k].(float64); n != v && !(k == "sessions" && n/100 == 2) {
			t.Errorf("from the allowed origin, %s: got %v, want %v (page saw %v)", k, got[k], v, got)
		}
	}
	preflights := 0
	for _, e := range ts.journal.Entries(Filter{}) {
		if e.Method == http.MethodOptions && e.Status == http.StatusNoContent {
			preflights++
		}
	}
	if preflights < 3 { // /tokens, /sessions, /uploads PUT at least
		t.Errorf("Chromium sent %d answered preflights, want at least 3: the calls did not go cross-origin", preflights)
	}

	ts.journal.Clear()
	got = run(refused.URL)
	if _, ok := got["tokens"]; ok || !strings.Contains(fmt.Sprint(got["tokens_error"]), "Failed to fetch") {
		t.Errorf("from a refused origin, POST /tokens must fail in the browser; page saw %v", got)
	}
	var notes []string
	for _, e := range ts.journal.Entries(Filter{}) {
		notes = append(notes, e.CORS)
	}
	if !strings.Contains(strings.Join(notes, "|"), "from "+refused.URL) {
		t.Errorf("the journal does not record the refused origin's preflight: %q", notes)
	}
}
