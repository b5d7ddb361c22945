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

// TestClientSessionFramesTimedAtTheSocket: with the mock delaying every
// frame by D after its capture stamp, frame_latency reads D (it ends at
// the kernel's receive timestamp of the last packet), and receive_lag,
// the runner's own delay after that, has a sample per frame. A client API
// without arrival stamps records no receive_lag: its frames are timed
// when the track reader has them.
func TestClientSessionFramesTimedAtTheSocket(t *testing.T) {
	const delay = 30 * time.Millisecond
	for _, stamps := range []bool{true, false} {
		sc := mockserver.DefaultScenario()
		sc.Limits.MaxConcurrentSessions, sc.Limits.CreatesPerMinute = mockserver.Unlimited, mockserver.Unlimited
		sc.Media.FrameDelay = mockserver.Duration(delay)
		srv, err := mockserver.New(mockserver.WithScenario(sc))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, DisableArrivalStamps: !stamps})
		if err != nil {
			t.Fatal(err)
		}
		fn := load.ClientSession(load.SessionConfig{Client: client.Config{BaseURL: srv.URL(), APIKey: mockserver.DefaultAPIKey, API: api}})
		r, err := load.New(fn, load.WithSessions(2), load.WithDuration(3*time.Second), load.WithInterval(250*time.Millisecond),
			load.WithOutDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := r.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("stamps=%v: run: %v", stamps, err)
		}
		rs := res.Results
		fl, lag := rs.Histograms[load.FrameLatency.String()], rs.Histograms[load.ReceiveLag.String()]
		frames := rs.Counters["frames"]
		if frames == 0 || fl == nil || fl.TotalCount() != frames {
			t.Fatalf("stamps=%v: %d frames, frame_latency %v", stamps, frames, fl)
		}
		// The delayed send is never early; the generous upper bound keeps a
		// busy CI machine from failing what is a ±0.5 ms target on a quiet one.
		if p50 := time.Duration(fl.ValueAtQuantile(50)) * time.Microsecond; p50 < delay-time.Millisecond || p50 > delay+10*time.Millisecond {
			t.Errorf("stamps=%v: frame_latency p50 %v, want ≈ %v", stamps, p50, delay)
		}
		var lagCount int64
		if lag != nil {
			lagCount = lag.TotalCount()
		}
		if want := map[bool]int64{true: frames, false: 0}[stamps]; lagCount != want {
			t.Errorf("stamps=%v: %d receive_lag samples for %d frames, want %d", stamps, lagCount, frames, want)
		}
	}
}
