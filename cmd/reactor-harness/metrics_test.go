package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prometheusBin is Debian's Prometheus server (`apt-get install
// prometheus`, which .ci/run does). The test fails without it, naming the
// package, unless REACTOR_HARNESS_SKIP_PROMETHEUS=1 says to skip it.
func prometheusBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if os.Getenv("REACTOR_HARNESS_SKIP_PROMETHEUS") == "1" {
		t.Skip("no prometheus binary and REACTOR_HARNESS_SKIP_PROMETHEUS=1")
	}
	t.Fatal("the live-metrics test needs a Prometheus server: apt-get install prometheus " +
		"(or set REACTOR_HARNESS_SKIP_PROMETHEUS=1 to skip it, reported as skipped)")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs a Prometheus server on loopback that scrapes target
// every second, with native histograms on; it is killed at cleanup.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := prometheusBin(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n"+
		"  - job_name: harness\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr,
		"--enable-feature=native-histograms")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promQuery evaluates expr at instant at and returns the single value.
func promQuery(t *testing.T, base, expr string, at time.Time) (float64, bool) {
	t.Helper()
	q := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", expr, err, r.Error)
	}
	if len(r.Data.Result) != 1 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// TestLiveMetricsScrapedByPrometheus: a real Prometheus scrapes a real
// load run (embedded mock, 4 sessions) through --metrics-listen, and what
// its query API answers agrees with the run's own summary.json.
func TestLiveMetricsScrapedByPrometheus(t *testing.T) {
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	prom := startPrometheus(t, metricsAddr)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"load", "--sessions", "4", "--duration", "12s", "--warmup", "2s", "--out", out,
		"--metrics-listen", metricsAddr, "--shard", "0/2"}, &stdout, &stderr)
	end := time.Now()
	if code != 0 {
		t.Fatalf("load exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "live metrics on http://"+metricsAddr+"/metrics") {
		t.Fatalf("stdout does not say where the metrics are:\n%s", stdout.String())
	}
	var sum struct {
		Counters map[string]int64 `json:"counters"`
		Metrics  map[string]struct {
			Count int64   `json:"count"`
			P50   float64 `json:"p50_ms"`
		} `json:"metrics"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	// The last scrape came at most a second before the run ended, so the
	// server has all but the last interval or two.
	at := end.Add(-200 * time.Millisecond)
	sel := `{job="harness",shard="0"}`
	frames, ok := promQuery(t, prom, "max_over_time(reactor_harness_frames_total"+sel+"[1m])", at)
	if want := float64(sum.Counters["frames"]); !ok || frames > want || frames < want/2 {
		t.Fatalf("prometheus frames_total %v, summary frames %v", frames, want)
	}
	fl := sum.Metrics["frame_latency"]
	p50, ok := promQuery(t, prom, "histogram_quantile(0.5, reactor_harness_frame_latency_seconds"+sel+")", at)
	if !ok || fl.Count == 0 {
		t.Fatalf("no frame_latency quantile from prometheus (summary count %d)", fl.Count)
	}
	// Native buckets grow by ~9 %; allow that and the missing tail.
	if ratio := p50 * 1000 / fl.P50; ratio < 0.7 || ratio > 1.4 {
		t.Fatalf("prometheus p50 %.4f ms vs the run's HDR p50 %.4f ms (ratio %.2f)", p50*1000, fl.P50, ratio)
	}
	t.Logf("frames_total %v of %d; frame_latency p50 %.4f ms (prometheus) vs %.4f ms (HDR)",
		frames, sum.Counters["frames"], p50*1000, fl.P50)
}

// TestLoadMetricsPortInUse: a metrics address that cannot be bound is a
// usage error before the run starts.
func TestLoadMetricsPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"load", "--sessions", "1", "--duration", "1s", "--out", t.TempDir(),
		"--metrics-listen", ln.Addr().String()}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--metrics-listen") ||
		!strings.Contains(stderr.String(), "address already in use") || strings.Contains(stdout.String(), "embedded mock") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
}
