package mockserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/mockserver/peer"
	"github.com/reactor-harness/reactor-harness/wire"
)

// The churn test plays the worst client there is: a process that opens many
// sessions and is then killed (SIGKILL: no goodbye, no DTLS close, no DELETE).
// The mock must notice through its watchdog alone and end up where it began.
// The clients live in a child process (this test binary, re-executed), so the
// kill is a real process death and what is measured in this process is the
// mock's alone.

var (
	churnSessions = flag.Int("churn.sessions", churnDefault(),
		"sessions the churn test opens in its client process (MOCK_CHURN_SESSIONS)")
	churnHeap = flag.String("churn.heapprofile", "",
		"write a heap profile of the mock after the churn to this file")
)

// churnDefault keeps the default run small enough for a shared two-core CI
// machine under -race; the README gives the command for 300.
func churnDefault() int {
	if n, err := strconv.Atoi(os.Getenv("MOCK_CHURN_SESSIONS")); err == nil && n > 0 {
		return n
	}
	return 24
}

const (
	churnChildEnv = "MOCK_CHURN_CHILD" // "base-url api-key sessions"
	// churnMaxLivePerSession bounds what one killed session may leave on
	// the heap once it is closed; a retained PeerConnection alone is ~180 KiB.
	churnMaxLivePerSession = 64 << 10
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(churnChildEnv); spec != "" {
		os.Exit(churnChild(spec))
	}
	os.Exit(m.Run())
}

// churnChild connects the sessions, says "ready N" on stdout, then keeps
// them alive with heartbeats until it is killed (or two minutes pass, or
// its stdin closes: the parent test died).
func churnChild(spec string) int {
	var base, key string
	var n int
	if _, err := fmt.Sscan(spec, &base, &key, &n); err != nil {
		fmt.Println("error: bad spec:", err)
		return 2
	}
	api, err := client.NewAPI(client.APIOptions{})
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	var mu sync.Mutex
	var clients []*client.Client
	var firstErr error
	sem := make(chan struct{}, 4) // a gentle ramp: the machine is shared
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := churnConnect(base, key, api)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if c != nil {
				clients = append(clients, c)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		fmt.Printf("error: %d of %d sessions ready: %v\n", len(clients), n, firstErr)
		return 1
	}
	fmt.Printf("ready %d\n", len(clients))
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
	return 0
}

// churnConnect connects one heart-beating client, trying twice: the test
// is about what the mock releases, and one slow handshake on a loaded
// machine is not that.
func churnConnect(base, key string, api *webrtc.API) (*client.Client, error) {
	var last error
	for range 2 {
		c, err := client.New(client.Config{BaseURL: base, APIKey: key, API: api,
			Heartbeat: true, HeartbeatInterval: 500 * time.Millisecond,
			Timeouts: client.Timeouts{Ready: 60 * time.Second, HTTP: 30 * time.Second}})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		last = c.Connect(ctx)
		cancel()
		if last == nil {
			return c, nil
		}
		_ = c.Close()
	}
	return nil, last
}

// procFigures are what the mock's process holds at one moment.
type procFigures struct {
	goroutines, fds int
	live            uint64 // heap bytes in use after a full collection
}

func measureProc(t *testing.T) procFigures {
	t.Helper()
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count descriptors: %v", err)
	}
	return procFigures{goroutines: runtime.NumGoroutine(), fds: len(fds), live: ms.HeapAlloc}
}

func (f procFigures) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, %.1f MiB live", f.goroutines, f.fds, float64(f.live)/(1<<20))
}

// TestRTCChurnKilledClient: sessions whose client process is SIGKILLed are
// suspended by the watchdog and closed after the recover window; the mock
// is then back at its baseline goroutines and descriptors, and keeps no
// more than churnMaxLivePerSession of heap per session. Garbage datagrams
// on the mock's UDP socket while the sessions are up break none of them.
func TestRTCChurnKilledClient(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors through /proc/self/fd")
	}
	n := *churnSessions
	ts := newRTCServer(t, func(sc *Scenario) { sc.Timings.RecoverWindow = Duration(time.Second) },
		MediaPolicy{UDPMux: true, WatchdogTimeout: Duration(3 * time.Second),
			WatchdogInterval: Duration(200 * time.Millisecond)})
	warmUp(t, ts)
	base := measureProc(t)

	child, stdin := startChurnChild(t, ts, n)
	peak := measureProc(t)
	ids := ts.activeSessions()
	if len(ids) != n {
		t.Fatalf("%d sessions ACTIVE, want %d", len(ids), n)
	}
	sprayGarbage(t, ts.rtc.api.MuxAddr())
	before := ts.inboundFrames(ids)
	waitFor(t, "heartbeats after the garbage", func() bool { return ts.inboundFrames(ids) > before+uint64(n) })
	if got := len(ts.activeSessions()); got != n {
		t.Fatalf("%d of %d sessions ACTIVE after the garbage datagrams", got, n)
	}

	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	_ = stdin.Close()
	ts.waitAll(t, ids, wire.StateSuspended, wire.StateClosed)
	suspended := measureProc(t)
	ts.waitAll(t, ids, wire.StateClosed)
	waitFor(t, "the plane to let go", func() bool { return ts.rtc.api.Conns() == 0 })
	after := measureProc(t)
	writeChurnHeap(t)
	t.Logf("%d sessions: baseline %v; all ready %v; suspended %v; closed %v", n, base, peak, suspended, after)

	if after.goroutines > base.goroutines+8 {
		t.Errorf("%d goroutines after the churn, baseline %d", after.goroutines, base.goroutines)
	}
	if after.fds > base.fds+4 {
		t.Errorf("%d descriptors after the churn, baseline %d", after.fds, base.fds)
	}
	for _, m := range []struct {
		what string
		f    procFigures
	}{{"suspended", suspended}, {"closed", after}} {
		per := (int64(m.f.live) - int64(base.live)) / int64(n)
		if per > churnMaxLivePerSession {
			t.Errorf("%s: %d KiB live per killed session, want ≤ %d KiB", m.what, per>>10, churnMaxLivePerSession>>10)
		}
	}
}

// warmUp runs one session through its whole life in process, so the
// baseline already holds what the first session allocates once (pools,
// caches, the pion API's shared state) and the figures are per session.
func warmUp(t *testing.T, ts *testServer) {
	t.Helper()
	c := ts.client(t, rtcClientOpts{})
	c.connect(ts.APIKey())
	c.resume()
	ts.waitState(t, c.sid, wire.StateActive)
	c.deleteSession()
	c.close()
	waitFor(t, "the warm-up connection to close", func() bool { return ts.rtc.api.Conns() == 0 })
}

// startChurnChild starts the client process and waits (bounded) for its
// sessions to be ready. The child's stdin is the parent's lifeline.
func startChurnChild(t *testing.T, ts *testServer, n int) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", churnChildEnv, ts.http.URL, ts.APIKey(), n))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s := sc.Text(); strings.HasPrefix(s, "ready ") || strings.HasPrefix(s, "error") {
				line <- s
				return
			}
		}
		line <- "error: the client process ended without a word"
	}()
	select {
	case s := <-line:
		if s != fmt.Sprintf("ready %d", n) {
			t.Fatalf("client process: %s", s)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("client process: sessions not ready after 3 minutes")
	}
	return cmd, stdin
}

// activeSessions lists the ACTIVE sessions.
func (ts *testServer) activeSessions() []string {
	var ids []string
	for _, s := range ts.sessions.snapshot() {
		if s.State == wire.StateActive {
			ids = append(ids, s.SessionID)
		}
	}
	return ids
}

// inboundFrames sums the data-channel frames the sessions' connections
// have received (the clients' heartbeats).
func (ts *testServer) inboundFrames(ids []string) uint64 {
	var sum uint64
	for _, id := range ids {
		snap, ok := ts.TransportSnapshot(id)
		if !ok {
			continue
		}
		for _, c := range snap.Connections {
			if p := c.Peer; p != nil {
				for _, ch := range []*peer.ChannelStats{p.Control, p.Data} {
					if ch != nil {
						sum += ch.FramesIn
					}
				}
			}
		}
	}
	return sum
}

// waitAll waits (bounded by the watchdog, the recover window and a loaded
// machine) until every session is in one of the states.
func (ts *testServer) waitAll(t *testing.T, ids []string, states ...wire.SessionState) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		left := 0
		for _, s := range ts.sessions.snapshot() {
			if want[s.SessionID] && !slices.Contains(states, s.State) {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions not %v after 60 s", left, len(ids), states)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sprayGarbage sends, from a stranger's socket, datagrams of every shape
// the mux demultiplexes on (RFC 7983: STUN 0–3, DTLS 20–63, RTP/RTCP
// 128–191) and of none, small and oversized.
func sprayGarbage(t *testing.T, addr net.Addr) {
	t.Helper()
	conn, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 2000 {
		size := 20 + i%200
		if i%100 == 0 {
			size = 9000 + i
		}
		b := make([]byte, size)
		_, _ = rand.Read(b)
		switch i % 4 {
		case 0: // STUN-shaped: binding request, magic cookie, a bogus length
			b[0], b[1] = 0x00, 0x01
			binary.BigEndian.PutUint16(b[2:], uint16(size-20))
			binary.BigEndian.PutUint32(b[4:], 0x2112A442)
		case 1: // DTLS-shaped
			b[0] = 20 + byte(i%44)
		case 2: // RTP-shaped
			b[0] = 0x80 | byte(i%64)
		}
		_, _ = conn.Write(b)
		if i%200 == 199 {
			time.Sleep(10 * time.Millisecond) // datagrams, not a flood
		}
	}
}

// writeChurnHeap writes -churn.heapprofile when asked.
func writeChurnHeap(t *testing.T) {
	if *churnHeap == "" {
		return
	}
	f, err := os.Create(*churnHeap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}
