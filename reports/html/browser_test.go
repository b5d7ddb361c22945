package htmlreport

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/reactor-harness/reactor-harness/internal/chromium"
)

// chromiumPath is Debian's chromium package (apt-get install -y chromium).
const chromiumPath = chromium.Path

// browserStats is what the page reports about itself.
type browserStats struct {
	Rows         int `json:"rows"`
	Cells        int `json:"cells"`
	Links        int `json:"links"`
	Pass         int `json:"pass"`
	Fail         int `json:"fail"`
	XFail        int `json:"xfail"`
	Skip         int `json:"skip"`
	Pending      int `json:"pending"`
	None         int `json:"none"`
	Details      int `json:"details"`
	Charts       int `json:"charts"`
	DistCharts   int `json:"distCharts"`
	TSCharts     int `json:"tsCharts"`
	HiddenCharts int `json:"hiddenCharts"`
	Paths        int `json:"paths"`
	EmptyPaths   int `json:"emptyPaths"`
	FlatPaths    int `json:"flatPaths"`
}

const statsJS = `(() => {
	const q = s => Array.from(document.querySelectorAll(s));
	const paths = q("svg.chart path.series");
	const count = c => q("#matrix td.c." + c).length;
	return {
		rows: q("#matrix tbody tr:not(.area)").length,
		cells: q("#matrix td.c").length,
		links: q("#matrix td.c a").length,
		pass: count("pass"), fail: count("fail"), xfail: count("xfail"),
		skip: count("skip"), pending: count("pending"), none: count("none"),
		details: q("details.cell").length,
		charts: q("svg.chart").length,
		distCharts: q("svg.chart.dist").length,
		tsCharts: q("svg.chart.ts").length,
		hiddenCharts: q("svg.chart").filter(s => { const r = s.getBoundingClientRect(); return !(r.width > 100 && r.height > 50); }).length,
		paths: paths.length,
		emptyPaths: paths.filter(p => { const b = p.getBBox(); return !(b.width > 0) || !(p.getTotalLength() > 0); }).length,
		flatPaths: paths.filter(p => !(p.getBBox().height > 0)).length,
	};
})()`

// browser starts headless Chromium with the flags this project allows (no
// network besides loopback, a fresh profile) and returns a tab context.
// Everything is bounded by the returned context's deadline.
func browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: install Debian's chromium package (apt-get install -y chromium) to run the browser test", chromiumPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromium.Options(),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(tab); err != nil { // start the browser now
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return tab
}

// collector gathers console messages and requests while the page runs.
type collector struct {
	mu       sync.Mutex
	console  []string
	requests []string
	wg       sync.WaitGroup
}

func collect(ctx context.Context) *collector {
	c := &collector{}
	msgs := chromedp.Console(ctx)
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.console = append(c.console, string(m.Type)+": "+m.Text)
			c.mu.Unlock()
		}
	}()
	go func() {
		defer c.wg.Done()
		for ev, err := range reqs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.requests = append(c.requests, ev.Request.URL)
			c.mu.Unlock()
		}
	}()
	return c
}

// wait polls cond under the lock until it holds or ctx ends (10 s at most).
func (c *collector) wait(ctx context.Context, cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func screenshotDir(t *testing.T) string {
	if d := os.Getenv("REPORT_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestReportInBrowser opens the fixture report in headless Chromium and
// checks that the matrix and the plots are there and drawn, that a cell
// link opens its details, that nothing is fetched from the network and
// that the console stays clean; it saves a full-page PNG.
func TestReportInBrowser(t *testing.T) {
	tab := browser(t, 90*time.Second)
	opts := fixtureOptions()
	opts.Out = filepath.Join(t.TempDir(), "report.html")
	if err := Build(opts); err != nil {
		t.Fatal(err)
	}
	m, err := BuildMatrix(opts.Conformance, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, tg := range m.Targets {
		for k, n := range tg.Counts {
			want[k] += n
		}
	}

	pageCtx, cancelPage := context.WithCancel(tab)
	col := collect(pageCtx)
	url := "file://" + opts.Out
	if err := chromedp.Do(tab, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("matrix"))); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	st, err := chromedp.Run(tab, chromedp.Evaluate[browserStats](statsJS))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page: %+v", st)

	cells := wantCases * len(wantTargets)
	if st.Rows != wantCases || st.Cells != cells {
		t.Errorf("matrix: %d rows, %d cells; want %d rows, %d cells", st.Rows, st.Cells, wantCases, cells)
	}
	got := map[string]int{"pass": st.Pass, "fail": st.Fail, "xfail": st.XFail, "skip": st.Skip, "pending": st.Pending, "none": st.None}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d %s cells, want %d", got[k], k, n)
		}
	}
	if st.Links != cells-st.None || st.Details != st.Links {
		t.Errorf("%d cell links and %d details blocks for %d cells with results", st.Links, st.Details, cells-st.None)
	}
	// 9 metrics per run, 2 runs, 9 overlaid; 2 time series per run + 1.
	if st.DistCharts != 27 || st.TSCharts != 5 || st.HiddenCharts != 0 {
		t.Errorf("charts: %d distribution, %d time series, %d not laid out", st.DistCharts, st.TSCharts, st.HiddenCharts)
	}
	if st.Paths < st.Charts || st.EmptyPaths != 0 || st.FlatPaths != 0 {
		t.Errorf("%d series paths in %d charts, %d empty, %d flat", st.Paths, st.Charts, st.EmptyPaths, st.FlatPaths)
	}

	// A FAIL cell opens its details block, which shows the failure.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#matrix td.fail a"))); err != nil {
		t.Fatal(err)
	}
	// The hashchange handler runs after the click returns: poll (5 s at most).
	var open string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		open, err = chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
			const d = document.getElementById(decodeURIComponent(location.hash.slice(1)));
			return d && d.open ? d.innerText : "";
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if open != "" {
			break
		}
	}
	if !strings.Contains(open, "FAIL") || !strings.Contains(open, "message") {
		t.Errorf("the clicked cell's details are not open: %q", open)
	}
	// The filter hides passing rows.
	visible, err := chromedp.Run(tab, chromedp.Evaluate[int](`(() => {
		const cb = document.getElementById("only-bad"); cb.click();
		return Array.from(document.querySelectorAll("#matrix tbody tr:not(.area)")).filter(r => r.offsetParent !== null).length;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, c := range m.Cases {
		if c.Bad {
			bad++
		}
	}
	if visible != bad {
		t.Errorf("filter shows %d rows, want %d", visible, bad)
	}
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`document.getElementById("only-bad").click(); window.scrollTo(0, 0); location.hash = ""`)); err != nil {
		t.Fatal(err)
	}

	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(screenshotDir(t), "report.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", shot, len(png)>>10)

	// A probe message written last: once it is collected, every message
	// before it is too (the iterator keeps their order).
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`console.info("htmlreport-probe")`)); err != nil {
		t.Fatal(err)
	}
	if !col.wait(tab, func() bool {
		return slices.Contains(col.console, "info: htmlreport-probe") && slices.Contains(col.requests, url)
	}) {
		t.Errorf("the probe message or the page request was not seen: console %q, requests %q", col.console, col.requests)
	}
	cancelPage()
	col.wg.Wait()
	for _, c := range col.console {
		if strings.HasPrefix(c, "error") || strings.HasPrefix(c, "exception") || strings.HasPrefix(c, "warning") {
			t.Errorf("console: %s", c)
		}
	}
	for _, u := range col.requests {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the report fetched %s", u)
		}
	}
}

// TestDocsScreenshot writes the screenshot shown in the README
// (docs/report.png) when REPORT_DOCS_PNG names the file:
//
//	REPORT_DOCS_PNG=$PWD/docs/report.png go test ./reports/html -run TestDocsScreenshot
func TestDocsScreenshot(t *testing.T) {
	out := os.Getenv("REPORT_DOCS_PNG")
	if out == "" {
		t.Skip("set REPORT_DOCS_PNG to write the README screenshot")
	}
	tab := browser(t, 60*time.Second)
	opts := fixtureOptions()
	opts.Title = "reactor-harness report"
	opts.Runs = []Source{{Name: "closed, 96 sessions", Path: "testdata/load/run-b"}}
	opts.Out = filepath.Join(t.TempDir(), "report.html")
	if err := Build(opts); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+opts.Out), chromedp.WaitVisible(chromedp.ID("matrix"))); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KB)", out, len(png)>>10)
}
