package load_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/load"
	"github.com/reactor-harness/reactor-harness/mockserver"
)

// TestNewClientAPIUsage: a bad interceptor set is the caller's mistake
// (exit code 2), not the harness failing.
func TestNewClientAPIUsage(t *testing.T) {
	_, err := load.NewClientAPI(load.WithInterceptors("bogus"))
	var ue *load.UsageError
	if !errors.As(err, &ue) {
		t.Errorf("err %v, want a UsageError", err)
	}
}

// TestClientSessionCheapAPI streams real sessions with receiver reports as
// the only interceptor: every session must be ready and stream, with no
// error.
func TestClientSessionCheapAPI(t *testing.T) {
	srv := startUnlimitedMock(t)
	t.Cleanup(func() { _ = srv.Close() })
	api, err := load.NewClientAPI(load.WithLoopbackOnly(true),
		load.WithInterceptors(client.InterceptorsReports))
	if err != nil {
		t.Fatal(err)
	}
	fn := load.ClientSession(load.SessionConfig{
		Client: client.Config{BaseURL: srv.URL(), APIKey: mockserver.DefaultAPIKey, API: api},
	})
	const n, duration = 3, 4 * time.Second
	r, err := load.New(fn, load.WithSessions(n), load.WithDuration(duration), load.WithInterval(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), duration+20*time.Second)
	defer cancel()
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	rs := res.Results
	if rs.Counters["sessions_ready"] != n || len(rs.Errors) != 0 {
		t.Errorf("counters %v, errors %v: want %d sessions ready and no error", rs.Counters, rs.Errors, n)
	}
	if rs.Counters["frames"] == 0 {
		t.Error("no frames")
	}
}
