package load_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/load"
	"github.com/reactor-harness/reactor-harness/mockserver"
)

// readyProgress closes ready once every planned session is ready and frames
// are flowing.
type readyProgress struct {
	want  int64
	once  sync.Once
	ready chan struct{}
}

func (p *readyProgress) Update(s load.Snapshot) {
	if s.Ready >= p.want && s.Frames > 0 {
		p.once.Do(func() { close(p.ready) })
	}
}
func (p *readyProgress) Done(load.Snapshot) {}

// TestClientSessionTransportLost is issue 4 item 6 in process: real
// sessions on the Go client stream from the mock, the mock goes away
// mid-run, and every session is recorded as failed with class
// transport_lost (not silently "completed" with frames that stopped);
// the run still ends on time.
func TestClientSessionTransportLost(t *testing.T) {
	srv := startUnlimitedMock(t)
	var closeOnce sync.Once
	closeSrv := func() { closeOnce.Do(func() { _ = srv.Close() }) }
	t.Cleanup(closeSrv)
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	fn := load.ClientSession(load.SessionConfig{
		Client:       client.Config{BaseURL: srv.URL(), APIKey: mockserver.DefaultAPIKey, API: api},
		PingInterval: 250 * time.Millisecond,
	})
	const n, duration = 2, 6 * time.Second
	prog := &readyProgress{want: n, ready: make(chan struct{})}
	r, err := load.New(fn, load.WithSessions(n), load.WithDuration(duration), load.WithInterval(250*time.Millisecond),
		load.WithProgress(prog), load.WithOutDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		select {
		case <-prog.ready:
		case <-time.After(duration / 2):
			t.Error("sessions not streaming within half the run")
		}
		closeSrv() // closes every peer connection and the listener
	}()
	ctx, cancel := context.WithTimeout(context.Background(), duration+20*time.Second)
	defer cancel()
	start := time.Now()
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if d := time.Since(start); d > duration+10*time.Second {
		t.Errorf("run took %v", d)
	}
	rs := res.Results
	if rs.Errors[load.ClassTransportLost] != n || rs.Counters["sessions_failed"] != n {
		t.Errorf("errors %v, counters %v: want %d sessions failed with class %s",
			rs.Errors, rs.Counters, n, load.ClassTransportLost)
	}
	if rs.Counters["frames"] == 0 {
		t.Error("no frames before the mock closed")
	}
}

// startUnlimitedMock starts an in-process mock on loopback with the
// account quotas lifted (a load test is not a quota test). Closing it is
// the caller's: some tests close it mid-run.
func startUnlimitedMock(t *testing.T) *mockserver.Server {
	t.Helper()
	sc := mockserver.DefaultScenario()
	sc.Limits.MaxConcurrentSessions, sc.Limits.CreatesPerMinute = mockserver.Unlimited, mockserver.Unlimited
	srv, err := mockserver.New(mockserver.WithScenario(sc))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return srv
}
