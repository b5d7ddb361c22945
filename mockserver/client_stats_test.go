package mockserver

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

func statsFrame(t *testing.T, jitter float64) []byte {
	t.Helper()
	b, err := wirev1.Marshal(wirev1.NewClientStats(&wirev1.ClientStats{
		TrackStats: []*wirev1.ClientTrackStat{{TrackName: "main_video", Kind: wirev1.TrackKind_TRACK_KIND_VIDEO,
			Direction: wirev1.TrackDirection_TRACK_DIRECTION_RECVONLY,
			Codec:     &wirev1.ClientTrackStat_VideoCodec{VideoCodec: wirev1.VideoCodec_VIDEO_CODEC_VP8},
			Metrics:   map[string]float64{"jitter_ms": jitter, "frame_width": 320}}},
		ConnectionStat: &wirev1.ClientConnectionStat{Metrics: map[string]float64{"time_to_connect_ms": 900}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClientStatsJournaledAndServed: v1 client_stats reports are journaled
// decoded and served by the admin view; a report with garbage metrics is
// dropped with its reason and kept out of the history.
func TestClientStatsJournaledAndServed(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{v1: true})
	c.connect(ts.APIKey())
	defer c.close()
	c.send(c.control, statsFrame(t, 1.5))
	c.send(c.control, statsFrame(t, math.NaN()))
	c.send(c.control, statsFrame(t, 2.5))

	var stats, dropped []Entry
	waitFor(t, "3 client_stats entries", func() bool {
		stats, dropped = nil, nil
		for _, e := range ts.Journal().Entries(Filter{Channel: "control"}) {
			switch {
			case e.Type == "client_stats" && e.ClientStats != nil:
				stats = append(stats, e)
			case e.Type == "client_stats":
				dropped = append(dropped, e)
			}
		}
		return len(stats)+len(dropped) >= 3
	})
	if len(stats) != 2 || len(dropped) != 1 {
		t.Fatalf("%d decoded, %d dropped; want 2 and 1", len(stats), len(dropped))
	}
	if tr := stats[0].ClientStats.Tracks[0]; tr.Name != "main_video" || tr.Codec != "VP8" || tr.Metrics["jitter_ms"] != 1.5 {
		t.Fatalf("journaled report %+v", stats[0].ClientStats)
	}
	if d := dropped[0].Detail; d == "" || !strings.Contains(d, "jitter_ms") {
		t.Fatalf("dropped report detail %q names no metric", d)
	}

	resp, err := http.Get(ts.http.URL + "/__admin/sessions/" + c.sid + "/client_stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v ClientStatsView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("admin view: %d %v", resp.StatusCode, err)
	}
	if v.Received != 2 || len(v.History) != 2 || v.Latest == nil || v.Latest.Tracks[0].Metrics["jitter_ms"] != 2.5 ||
		v.Latest.Connection["time_to_connect_ms"] != 900 {
		t.Fatalf("admin view %+v", v)
	}
	missing, err := http.Get(ts.http.URL + "/__admin/sessions/nope/client_stats")
	if err != nil {
		t.Fatal(err)
	}
	missing.Body.Close()
	if missing.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown session: %d", missing.StatusCode)
	}
}

func TestClientStatsHistoryIsBounded(t *testing.T) {
	var l clientStatsLog
	for i := range clientStatsHistory + 10 {
		l.add(1002, time.Unix(int64(i), 0), wirev1.StatsReport{Connection: map[string]float64{"i": float64(i)}})
	}
	v := l.view("s")
	if len(v.History) != clientStatsHistory || v.Received != clientStatsHistory+10 ||
		v.History[0].Connection["i"] != 10 || v.Latest.Connection["i"] != clientStatsHistory+9 {
		t.Fatalf("history %d, received %d, first %v", len(v.History), v.Received, v.History[0].Connection)
	}
}
