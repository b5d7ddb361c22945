package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/load"
	"github.com/reactor-harness/reactor-harness/mockserver"
)

// TestLoadSessionsSendClientStats: with ClientStats on, every load session
// reports stats as a 1.13.0 SDK does, the mock journals them decoded, and
// a run against a mock that takes them records no error.
func TestLoadSessionsSendClientStats(t *testing.T) {
	srv := startUnlimitedMock(t)
	t.Cleanup(func() { _ = srv.Close() })
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	fn := load.ClientSession(load.SessionConfig{Client: client.Config{BaseURL: srv.URL(), APIKey: mockserver.DefaultAPIKey,
		API: api, Codec: client.CodecV1, ClientStats: true, ClientStatsInterval: 200 * time.Millisecond}})
	r, err := load.New(fn, load.WithSessions(2), load.WithDuration(2*time.Second), load.WithInterval(250*time.Millisecond),
		load.WithOutDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sessions := map[string]int{}
	for _, e := range srv.Journal().Entries(mockserver.Filter{Channel: "control"}) {
		if e.Type == "client_stats" && e.ClientStats != nil {
			sessions[e.SessionID]++
		}
	}
	if len(sessions) != 2 {
		t.Fatalf("decoded client_stats from %d sessions, want 2: %v", len(sessions), sessions)
	}
	if n := res.Results.Counters["sessions_errored"]; n != 0 {
		t.Fatalf("%d sessions recorded errors", n)
	}
}
