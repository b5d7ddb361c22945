//go:build unix

package mockserver

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// BenchmarkStreamingSessions measures what the mock spends per streaming
// session: N sessions are connected, resumed and pinging (as JS clients
// do, every 5 s) while the mock streams the fixture at 30 fps to each. The
// clients run in a child process (this test binary, TestRTCBenchClients),
// so the CPU time read with getrusage is the mock's alone. One iteration
// is one second of streaming; run with -benchtime=5x or so:
//
//	go test -run '^$' -bench BenchmarkStreamingSessions -benchtime 5x ./mockserver/
//
// Metrics: cpu-ms/session/s (mock CPU per session per second of
// streaming), heap-KiB/session (live heap after GC, minus the idle
// server's, with the request journal cleared), frames/session/s (frames
// the mock's streams sent, to show they really streamed).
func BenchmarkStreamingSessions(b *testing.B) {
	for _, n := range []int{50, 200} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) { benchStreaming(b, n) })
	}
}

const (
	benchEnvURL      = "RTC_BENCH_URL"
	benchEnvKey      = "RTC_BENCH_KEY"
	benchEnvSessions = "RTC_BENCH_SESSIONS"
)

func benchStreaming(b *testing.B, n int) {
	sc := DefaultScenario()
	sc.Timings.PendingPolls = 0
	sc.Limits.MaxConcurrentSessions = Unlimited
	sc.Limits.CreatesPerMinute = Unlimited
	sc.Journal.MaxEntries = 100000
	srv, err := New(WithScenario(sc), WithMediaPolicy(MediaPolicy{UDPMux: true}))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	// Start the shared machinery first so the heap baseline includes it.
	srv.rtc.mu.Lock()
	err = srv.rtc.startLocked()
	srv.rtc.mu.Unlock()
	if err != nil {
		b.Fatal(err)
	}
	heap0 := liveHeap()

	child := exec.Command(os.Args[0], "-test.run=^TestRTCBenchClients$", "-test.count=1", "-test.timeout=30m")
	child.Env = append(os.Environ(), benchEnvURL+"="+srv.URL(), benchEnvKey+"="+srv.APIKey(),
		benchEnvSessions+"="+strconv.Itoa(n))
	stdin, err := child.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = child.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	ready := false
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "READY") {
			ready = true
			break
		}
		if strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "---") {
			b.Log(line)
		}
	}
	if !ready {
		b.Fatalf("the client process did not connect %d sessions", n)
	}
	go func() { // keep draining the child's output
		for lines.Scan() {
		}
	}()

	time.Sleep(time.Second) // let every stream settle
	srv.Journal().Clear()
	heapN := liveHeap()
	if path := os.Getenv("RTC_BENCH_HEAPPROFILE"); path != "" {
		writeHeapProfile(b, path) // what the streaming sessions hold
	}
	frames0 := sentFrames(srv)
	cpu0 := cpuTime()
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	secs := time.Since(start).Seconds()
	frames := sentFrames(srv) - frames0

	b.ReportMetric(float64(cpu.Milliseconds())/float64(n)/secs, "cpu-ms/session/s")
	b.ReportMetric(float64(int64(heapN)-int64(heap0))/1024/float64(n), "heap-KiB/session")
	b.ReportMetric(float64(frames)/float64(n)/secs, "frames/session/s")
}

// liveHeap is the heap still in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is this process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sentFrames sums the frames every session's streams have sent.
func sentFrames(s *Server) uint64 {
	s.rtc.mu.Lock()
	sps := make([]*sessionPlane, 0, len(s.rtc.sessions))
	for _, sp := range s.rtc.sessions {
		sps = append(sps, sp)
	}
	s.rtc.mu.Unlock()
	var total uint64
	for _, sp := range sps {
		for _, st := range sp.streams {
			total += st.Stats().FramesSent
		}
	}
	return total
}

// workerTB lets the test client run on goroutines other than the test's:
// Fatal records the failure and ends only that goroutine.
type workerTB struct {
	testing.TB
	mu  sync.Mutex
	err error
}

func (w *workerTB) Helper() {}

func (w *workerTB) Fatalf(format string, a ...any) {
	w.mu.Lock()
	if w.err == nil {
		w.err = fmt.Errorf(format, a...)
	}
	w.mu.Unlock()
	runtime.Goexit()
}

func (w *workerTB) Fatal(a ...any) { w.Fatalf("%s", fmt.Sprint(a...)) }

// TestRTCBenchClients is the benchmark's client process; it does nothing
// in a normal test run. It connects RTC_BENCH_SESSIONS current-generation
// v0 clients (at most 8 signalling at once), resumes their video, prints
// READY, pings every 5 s until stdin closes, then prints the frames
// received and closes everything.
func TestRTCBenchClients(t *testing.T) {
	url := os.Getenv(benchEnvURL)
	if url == "" {
		t.Skip("benchmark helper: runs only as BenchmarkStreamingSessions' child process")
	}
	n, err := strconv.Atoi(os.Getenv(benchEnvSessions))
	if err != nil || n < 1 {
		t.Fatalf("%s=%q", benchEnvSessions, os.Getenv(benchEnvSessions))
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	wtb := &workerTB{TB: t}
	clients := make([]*rtcClient, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range clients {
		c := newRTCClient(wtb, url, hc, rtcClientOpts{})
		clients[i] = c
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c.connect(os.Getenv(benchEnvKey))
			c.resume()
		})
	}
	wg.Wait()
	if wtb.err != nil {
		t.Fatal(wtb.err)
	}
	fmt.Println("READY", n)

	done := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				close(done)
				return
			}
		}
	}()
	ping, _ := wirev0.NewRuntimeMessage(wirev0.TypePing, nil)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		case <-tick.C:
			for _, c := range clients {
				_ = c.data.SendText(string(ping))
			}
		}
	}
	var frames int64
	for _, c := range clients {
		frames += c.nFrames.Load()
	}
	fmt.Println("FRAMES", frames)
	var cwg sync.WaitGroup
	for _, c := range clients {
		cwg.Go(c.close)
	}
	cwg.Wait()
}
