package mockserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
)

// sigEnv is a mock with a ready session and a registered connection, for
// the signalling error cases (no peer connection needed for most).
type sigEnv struct {
	*testServer
	c *rtcClient
}

func newSigEnv(t *testing.T, mutate func(*Scenario)) *sigEnv {
	t.Helper()
	ts := newRTCServer(t, mutate, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{})
	c.token(ts.APIKey())
	c.createAndPoll()
	c.register()
	return &sigEnv{testServer: ts, c: c}
}

func (e *sigEnv) req(t *testing.T, method, path string, body any) response {
	t.Helper()
	r := e.do(t, method, path, e.c.transportHeaders(), body)
	noServerError(t, r)
	return r
}

func TestSignallingErrors(t *testing.T) {
	e := newSigEnv(t, nil)
	c := e.c
	c.newPeer()
	defer c.close()
	good := c.offer()
	mid := good.TrackMapping[0].MID
	tb := c.tb()
	conn := fmt.Sprintf("%s/connections/%d", tb, c.cid)

	withMapping := func(m ...wire.TrackMapping) wire.SDPOfferRequest {
		o := good
		o.TrackMapping = m
		return o
	}
	// A session that exists but is not running yet (CREATED).
	st, body := c.httpDo("POST", "/sessions", c.coordHeaders(), createBody("helios"))
	c.expect(st, 201, body, "second session")
	var fresh wire.SessionResponse
	_ = json.Unmarshal(body, &fresh)

	cases := []struct {
		name, method, path string
		body               any
		status             int
		detail             string
	}{
		{"unknown session offer", "POST", wire.TransportBase("nope") + "/connections/1002/sdp_params", good, 404, "Unknown session"},
		{"unknown session ice", "GET", wire.TransportBase("nope") + "/ice_servers", nil, 404, "Unknown session"},
		{"not running", "POST", wire.TransportBase(fresh.SessionID) + "/connections", nil, 400, "No session running"},
		{"not running offer", "POST", wire.TransportBase(fresh.SessionID) + "/sdp_params", good, 400, "No session running"},
		{"not running answer", "GET", wire.TransportBase(fresh.SessionID) + "/sdp_params", nil, 400, "No session running"},
		{"not running ice candidates", "POST", wire.TransportBase(fresh.SessionID) + "/connections/1002/ice_candidates",
			map[string]any{"candidates": []any{}, "is_final": true}, 400, "No session running"},
		{"cid not int", "POST", tb + "/connections/abc/sdp_params", good, 422, "not an integer"},
		{"cid not int get", "GET", tb + "/connections/1x/sdp_params", nil, 422, "not an integer"},
		{"unregistered cid", "POST", tb + "/connections/1003/sdp_params", good, 404, "Unknown connection"},
		{"unregistered cid put", "PUT", tb + "/connections/9999/sdp_params", good, 404, "Unknown connection"},
		{"unregistered cid ice", "POST", tb + "/connections/1003/ice_candidates", map[string]any{"candidates": []any{}, "is_final": true}, 404, "Unknown connection"},
		{"no body", "POST", conn + "/sdp_params", nil, 422, "JSON body is required"},
		{"malformed body", "POST", conn + "/sdp_params", `{"sdp_offer":`, 400, "malformed"},
		{"wrong type", "POST", conn + "/sdp_params", `{"sdp_offer":5}`, 422, "sdp_offer"},
		{"empty sdp", "POST", conn + "/sdp_params", map[string]any{"sdp_offer": "", "track_mapping": []any{}}, 422, "sdp_offer is required"},
		{"no mapping", "POST", conn + "/sdp_params", map[string]any{"sdp_offer": good.SDPOffer}, 422, "track_mapping is required"},
		{"garbage sdp", "POST", conn + "/sdp_params", map[string]any{"sdp_offer": "this is not SDP", "track_mapping": []any{}}, 400, "bad SDP offer"},
		{"unknown mid", "POST", conn + "/sdp_params", withMapping(wire.TrackMapping{MID: "42", Name: "main_video", Kind: "video", Direction: "recvonly"}), 400, `mid "42"`},
		{"unknown track", "POST", conn + "/sdp_params", withMapping(wire.TrackMapping{MID: mid, Name: "webcam", Kind: "video", Direction: "sendonly"}), 400, "not a track of this model"},
		{"bad direction", "POST", conn + "/sdp_params", withMapping(wire.TrackMapping{MID: mid, Name: "main_video", Kind: "video", Direction: "out"}), 400, "direction"},
		{"garbage sdp 290", "POST", tb + "/sdp_params", map[string]any{"sdp_offer": "v=0 nonsense", "track_mapping": []any{}}, 400, "bad SDP offer"},
		{"register array body", "POST", tb + "/connections", `[]`, 422, ""},
		{"ice no body", "POST", conn + "/ice_candidates", nil, 422, "JSON body is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.req(t, tc.method, tc.path, tc.body)
			expectError(t, r, tc.status)
			if !strings.Contains(r.Detail(), tc.detail) {
				t.Fatalf("detail %q lacks %q", r.Detail(), tc.detail)
			}
		})
	}

	// A cid that never offered answers 202 forever, registered or not.
	for _, p := range []string{conn + "/sdp_params", tb + "/connections/5555/sdp_params", tb + "/sdp_params"} {
		for range 2 {
			if r := e.req(t, "GET", p, nil); r.Status != 202 || len(r.Body) != 0 {
				t.Fatalf("GET %s: %d %s", p, r.Status, r.Body)
			}
		}
	}
	// After all those refusals the good offer still works.
	c.postOffer("POST", good)
	c.applyAnswer(c.pollAnswer())
	c.waitReady()
}

func TestSignallingAuthAndVersion(t *testing.T) {
	e := newSigEnv(t, nil)
	path := e.c.tb() + "/ice_servers"
	h := http.Header{}
	h.Set(wire.HeaderWebRTCVersion, "1.0")
	expectError(t, e.do(t, "GET", path, h, nil), 401)
	h = e.c.transportHeaders()
	h.Set(wire.HeaderWebRTCVersion, "9.0")
	expectError(t, e.do(t, "GET", path, h, nil), 501)
	r := e.req(t, "GET", path, nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"ice_servers":[]}` {
		t.Fatalf("ice_servers: %d %s", r.Status, r.Body)
	}
}

// TestSignallingIceServersBeforeWaiting: GET ice_servers is served in every
// non-terminal state (SDKs prefetch it while polling a PENDING session);
// the other transport routes still need WAITING; a terminal session gets
// 400 and a deleted or unknown one 404.
func TestSignallingIceServersBeforeWaiting(t *testing.T) {
	e := newSigEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 2 })
	c := e.c
	st, body := c.httpDo("POST", "/sessions", c.coordHeaders(), createBody("helios"))
	c.expect(st, 201, body, "second session")
	var fresh wire.SessionResponse
	c.httpJSON(body, &fresh)
	tb := wire.TransportBase(fresh.SessionID)
	ice := func(want int, what string) response {
		t.Helper()
		r := e.do(t, "GET", tb+"/ice_servers", c.transportHeaders(), nil)
		noServerError(t, r)
		if r.Status != want {
			t.Fatalf("%s: GET ice_servers %d %s, want %d", what, r.Status, r.Body, want)
		}
		return r
	}
	poll := func() wire.SessionState {
		t.Helper()
		st, body := c.httpDo("GET", wire.SessionPath(fresh.SessionID), c.coordHeaders(), nil)
		c.expect(st, 200, body, "poll")
		var sr wire.SessionResponse
		c.httpJSON(body, &sr)
		return sr.State
	}
	seen := map[wire.SessionState]bool{}
	state := e.snapshotState(t, fresh.SessionID)
	for i := 0; state != wire.StateWaiting; i, state = i+1, poll() {
		if i > 10 || (state != wire.StateCreated && state != wire.StatePending) {
			t.Fatalf("session is %s after %d polls, before WAITING", state, i)
		}
		seen[state] = true
		if r := ice(200, string(state)); strings.TrimSpace(string(r.Body)) != `{"ice_servers":[]}` {
			t.Fatalf("%s: ice_servers body %s", state, r.Body)
		}
		// Only ice_servers: registering a connection still waits for WAITING.
		r := e.do(t, "POST", tb+"/connections", c.transportHeaders(), nil)
		expectError(t, r, 400)
		if !strings.Contains(r.Detail(), "No session running") || !strings.Contains(r.Detail(), string(state)) {
			t.Fatalf("%s: register detail %q", state, r.Detail())
		}
	}
	if !seen[wire.StateCreated] || !seen[wire.StatePending] {
		t.Fatalf("states seen before WAITING: %v", seen)
	}
	ice(200, "WAITING")
	// Terminal, not deleted: 400.
	if r := e.do(t, "POST", "/__admin/sessions/"+fresh.SessionID+"/state", nil, map[string]any{"state": wire.StateInactive}); r.Status != 200 {
		t.Fatalf("force INACTIVE: %d %s", r.Status, r.Body)
	}
	if r := ice(400, "INACTIVE"); !strings.Contains(r.Detail(), "No session running") {
		t.Fatalf("INACTIVE detail %q", r.Detail())
	}
	// Deleted: 404, like an unknown id.
	st, body = c.httpDo("DELETE", wire.SessionPath(fresh.SessionID), c.coordHeaders(), nil)
	if st/100 != 2 {
		t.Fatalf("DELETE: %d %s", st, body)
	}
	if r := ice(404, "deleted"); !strings.Contains(r.Detail(), "Unknown session") {
		t.Fatalf("deleted detail %q", r.Detail())
	}
}

func TestSignallingConnectionIDsAndLimit(t *testing.T) {
	e := newSigEnv(t, func(sc *Scenario) { sc.Limits.MaxConnections = 3 })
	seen := map[int]bool{e.c.cid: true}
	for range 2 {
		r := e.req(t, "POST", e.c.tb()+"/connections", `{}`)
		if r.Status != 201 {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		var rr wire.RegisterConnectionResponse
		r.JSON(t, &rr)
		if rr.ConnectionID < 1002 || rr.ConnectionID > 9999 || seen[rr.ConnectionID] {
			t.Fatalf("connection id %d (seen %v)", rr.ConnectionID, seen)
		}
		seen[rr.ConnectionID] = true
	}
	// 503 is the protocol's answer here (PROTOCOL.md §1.3), not a mock fault.
	r := e.do(t, "POST", e.c.tb()+"/connections", e.c.transportHeaders(), nil)
	expectError(t, r, 503)
	if !strings.Contains(r.Detail(), "Connection limit reached") {
		t.Fatalf("detail %q", r.Detail())
	}
	// The 2.9.0 path needs a new id too.
	e.c.newPeer()
	defer e.c.close()
	expectError(t, e.do(t, "POST", e.c.tb()+"/sdp_params", e.c.transportHeaders(), e.c.offer()), 503)
}

func TestSignallingMintNeverReuses(t *testing.T) {
	sp := &sessionPlane{conns: map[int]*connSlot{}}
	for range wire.MaxConnectionID - wire.MinConnectionID + 1 {
		cid, ok := sp.mintLocked()
		if !ok || cid < wire.MinConnectionID || cid > wire.MaxConnectionID || sp.conns[cid] != nil {
			t.Fatalf("mint %d %v", cid, ok)
		}
		sp.conns[cid] = &connSlot{cid: cid}
	}
	if _, ok := sp.mintLocked(); ok {
		t.Fatal("minted an id with none left")
	}
}

// TestSignallingEarlyCandidates: trickled candidates before the offer are
// buffered (bounded) and the connection still comes up; is_final is kept.
func TestSignallingEarlyCandidates(t *testing.T) {
	e := newSigEnv(t, nil)
	c := e.c
	conn := fmt.Sprintf("%s/connections/%d", c.tb(), c.cid)
	cands := make([]map[string]any, 0, maxEarlyCandidatesPerConn+10)
	for i := range maxEarlyCandidatesPerConn + 10 {
		cands = append(cands, map[string]any{"candidate": fmt.Sprintf("candidate:%d 1 udp 1 127.0.0.1 %d typ host", i, 40000+i),
			"sdp_mid": "0", "sdp_mline_index": 0})
	}
	if r := e.req(t, "POST", conn+"/ice_candidates", map[string]any{"candidates": cands, "is_final": false}); r.Status != 202 {
		t.Fatalf("early candidates: %d %s", r.Status, r.Body)
	}
	sp := e.rtc.lookup(c.sid)
	sp.mu.Lock()
	buffered := len(sp.early[c.cid])
	sp.mu.Unlock()
	if buffered != maxEarlyCandidatesPerConn {
		t.Fatalf("buffered %d candidates, want the bound %d", buffered, maxEarlyCandidatesPerConn)
	}
	c.newPeer()
	defer c.close()
	c.postOffer("POST", c.offer())
	c.applyAnswer(c.pollAnswer())
	c.waitReady()
	if r := e.req(t, "POST", conn+"/ice_candidates", map[string]any{"candidates": []any{}, "is_final": true}); r.Status != 202 {
		t.Fatalf("final: %d %s", r.Status, r.Body)
	}
	snap, _ := e.TransportSnapshot(c.sid)
	if cs := snap.Connections[0]; !cs.IsFinal || cs.Candidates != len(cands) {
		t.Fatalf("snapshot %+v", cs)
	}
	sp.mu.Lock()
	left := len(sp.early)
	sp.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d early buffers left after the offer", left)
	}
}

func TestSignallingEarlyBufferEvictsOldest(t *testing.T) {
	sp := &sessionPlane{early: map[int][]webrtc.ICECandidateInit{}}
	for cid := range maxEarlyConns + 5 {
		sp.bufferEarlyLocked(2000+cid, []webrtc.ICECandidateInit{{Candidate: "candidate:x"}})
	}
	if len(sp.early) != maxEarlyConns || len(sp.earlyOrder) != maxEarlyConns {
		t.Fatalf("early buffer holds %d/%d connections", len(sp.early), len(sp.earlyOrder))
	}
	if _, ok := sp.early[2000]; ok {
		t.Fatal("the oldest connection was not evicted")
	}
}

// TestSignallingReofferCancels: a new offer while the first negotiates
// wins; only its answer is served.
func TestSignallingReofferCancels(t *testing.T) {
	e := newSigEnv(t, func(sc *Scenario) { sc.Timings.SDPAnswerPolls = 0 })
	c := e.c
	c.newPeer()
	first := c.offer()
	c.postOffer("POST", first)
	c.close()
	c.newPeer()
	defer c.close()
	c.postOffer("PUT", c.offer())
	c.applyAnswer(c.pollAnswer())
	c.waitReady()
	time.Sleep(50 * time.Millisecond)
	snap, _ := e.TransportSnapshot(c.sid)
	if cs := snap.Connections[0]; cs.Offers != 2 || cs.Peer == nil || cs.Peer.State != "connected" {
		t.Fatalf("snapshot %+v", cs)
	}
}
