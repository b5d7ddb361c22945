package client

import (
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
)

func TestClientSendsStatsTheMockDecodes(t *testing.T) {
	srv := startMock(t, nil)
	sent := make(chan error, 16)
	c := connectMock(t, srv, func(cfg *Config) {
		cfg.ClientStats, cfg.ClientStatsInterval = true, 100*time.Millisecond
		cfg.OnClientStats = func(err error) {
			select {
			case sent <- err:
			default:
			}
		}
	})
	for range 2 {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatalf("stats send: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no stats report sent")
		}
	}
	// The track appears in reports once its first packet arrived.
	var first, withTrack *mockserver.Entry
	eventually(t, "a decoded client_stats entry naming main_video", func() bool {
		first, withTrack = nil, nil
		for _, e := range srv.Journal().Entries(mockserver.Filter{Channel: "control"}) {
			if e.Type != "client_stats" {
				continue
			}
			if first == nil {
				first = &e
			}
			if e.ClientStats != nil && len(e.ClientStats.Tracks) == 1 {
				withTrack = &e
				return true
			}
		}
		return false
	})
	if tr := withTrack.ClientStats.Tracks[0]; tr.Name != "main_video" || tr.Codec != "VP8" || tr.Kind != "video" {
		t.Fatalf("journaled %+v", tr)
	}
	if first.ClientStats == nil {
		t.Fatalf("the first report was dropped: %s", first.Detail)
	}
	if _, ok := first.ClientStats.Connection["time_to_connect_ms"]; !ok {
		t.Errorf("first report lacks time_to_connect_ms: %v", first.ClientStats.Connection)
	}
	_ = c
}
