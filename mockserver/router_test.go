package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

func TestUnknownRouteAndMethodAreJSON(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, "GET", "/nope", nil, nil)
	expectError(t, r, 404)
	r = ts.do(t, "PATCH", "/tokens", nil, nil)
	expectError(t, r, 405)
	if !strings.Contains(r.Header.Get("Allow"), "POST") {
		t.Fatalf("405 without Allow: %v", r.Header)
	}
	if got := ts.Journal().Entries(Filter{PathPrefix: "/nope"}); len(got) != 1 || got[0].Status != 404 {
		t.Fatalf("unmatched requests must be journaled too: %+v", got)
	}
}

func TestVersionNegotiation(t *testing.T) {
	ts := newTestServer(t)
	sc := DefaultScenario()
	sc.Versions = VersionPolicy{APIMin: 2, APIMax: 3, WebRTCMin: "1.0", WebRTCMax: "1.1"}
	if err := ts.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	tok := ts.token(t, claims{}, time.Minute)
	api := func(v, accept string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if v != "" {
			h.Set(wire.HeaderAPIVersion, v)
		}
		if accept != "" {
			h.Set(wire.HeaderAPIAcceptVersion, accept)
		}
		return h
	}
	rtc := func(v string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if v != "" {
			h.Set(wire.HeaderWebRTCVersion, v)
		}
		return h
	}
	cases := []struct {
		name, path string
		h          http.Header
		status     int
		prefix     string
	}{
		{"api missing", "/sessions/x", api("", ""), 426, "CLIENT_VERSION_TOO_OLD"},
		{"api too old", "/sessions/x", api("1", ""), 426, "CLIENT_VERSION_TOO_OLD"},
		{"api too new", "/sessions/x", api("4", ""), 501, "SERVER_VERSION_TOO_OLD"},
		{"api not a number", "/sessions/x", api("v2", ""), 400, ""},
		{"accept too old", "/sessions/x", api("2", "1"), 426, "CLIENT_VERSION_TOO_OLD"},
		{"accept too new", "/sessions/x", api("3", "9"), 501, "SERVER_VERSION_TOO_OLD"},
		{"webrtc missing", "/sessions/x/transport/webrtc/ice_servers", rtc(""), 426, "CLIENT_VERSION_TOO_OLD"},
		{"webrtc too old", "/sessions/x/transport/webrtc/ice_servers", rtc("0.9"), 426, "CLIENT_VERSION_TOO_OLD"},
		{"webrtc too new", "/sessions/x/transport/webrtc/ice_servers", rtc("2.0"), 501, "SERVER_VERSION_TOO_OLD"},
		{"webrtc garbage", "/sessions/x/transport/webrtc/ice_servers", rtc("one"), 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !ts.hasRoute("GET", c.path) {
				t.Skip("route not registered yet")
			}
			r := ts.do(t, "GET", c.path, c.h, nil)
			expectError(t, r, c.status)
			if !strings.HasPrefix(r.Detail(), c.prefix) {
				t.Fatalf("detail %q should start with %q", r.Detail(), c.prefix)
			}
		})
	}
	t.Run("in range passes", func(t *testing.T) {
		for _, v := range []string{"2", "3"} {
			if r := ts.do(t, "GET", "/sessions/x", api(v, v), nil); r.Status == 426 || r.Status == 501 {
				t.Fatalf("version %s refused: %s", v, r.Body)
			}
		}
	})
}

// hasRoute reports whether the mux serves method+path with a real route.
func (ts *testServer) hasRoute(method, path string) bool {
	req, _ := http.NewRequest(method, ts.http.URL+path, nil)
	_, pattern := ts.mux.Handler(req)
	return pattern != ""
}

func TestLegacyRoutesRefusedInCurrentProfile(t *testing.T) {
	ts := newTestServer(t)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/ice_servers?model=helios"},
		{"GET", "/sessions/abc/sdp_params"},
		{"PUT", "/sessions/abc/sdp_params"},
	} {
		r := ts.do(t, rt.method, rt.path, http.Header{"Authorization": {"Bearer x"}}, nil)
		expectError(t, r, 426)
		if !strings.Contains(r.Detail(), "upgrade") {
			t.Fatalf("%s %s: detail should tell the client to upgrade: %q", rt.method, rt.path, r.Detail())
		}
	}
}

func TestFaultNthRequest(t *testing.T) {
	ts := newTestServer(t)
	sc := DefaultScenario()
	sc.Faults = []Fault{{Route: "POST /tokens", Nth: 2, Status: 503, RetryAfter: 7}}
	if err := ts.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	h := keyHeader(ts.APIKey())
	want := []int{200, 503, 200, 200}
	for i, w := range want {
		r := ts.do(t, "POST", "/tokens", h, nil)
		if r.Status != w {
			t.Fatalf("request %d: status %d, want %d", i+1, r.Status, w)
		}
		if w == 503 && (r.Header.Get("Retry-After") != "7" || r.Detail() == "") {
			t.Fatalf("fault response lacks Retry-After/detail: %v %s", r.Header, r.Body)
		}
	}
	got := ts.Journal().Entries(Filter{PathPrefix: "/tokens"})
	if len(got) != 4 || got[1].Fault == "" || got[0].Fault != "" {
		t.Fatalf("journal should mark the faulted request: %+v", got)
	}
}

func TestFaultTimesAndLatency(t *testing.T) {
	ts := newTestServer(t)
	sc := DefaultScenario()
	sc.Faults = []Fault{{Route: "post  /TOKENS", Times: 2, Status: 500}, {Route: "*", Latency: Duration(20 * time.Millisecond)}}
	if err := ts.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	h := keyHeader(ts.APIKey())
	var statuses []int
	for i := 0; i < 3; i++ {
		statuses = append(statuses, ts.do(t, "POST", "/tokens", h, nil).Status)
	}
	if statuses[0] != 500 || statuses[1] != 500 || statuses[2] != 200 {
		t.Fatalf("statuses %v, want [500 500 200]", statuses)
	}
	for _, e := range ts.Journal().Entries(Filter{PathPrefix: "/tokens"}) {
		if e.DurationMS < 20 {
			t.Fatalf("latency fault not applied: %+v", e)
		}
	}
	// Changing the scenario restarts the counters.
	if err := ts.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	if r := ts.do(t, "POST", "/tokens", h, nil); r.Status != 500 {
		t.Fatalf("counters not reset: %d", r.Status)
	}
}

func TestJournalRedactsSecrets(t *testing.T) {
	ts := newTestServer(t)
	tok := ts.token(t, claims{}, time.Minute)
	ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()), `{"expires_after":60}`)
	ts.do(t, "GET", "/sessions/x", currentHeaders(tok), nil)
	ts.do(t, "GET", "/sessions/y", http.Header{"Authorization": {"Bearer "}, wire.HeaderAPIVersion: {"1"}}, nil)
	ts.do(t, "GET", "/sessions/z", http.Header{wire.HeaderAPIVersion: {"1"}}, nil)
	r := ts.do(t, "GET", "/__admin/requests", nil, nil)
	if strings.Contains(string(r.Body), ts.APIKey()) || strings.Contains(string(r.Body), tok) {
		t.Fatalf("journal leaks a secret: %s", r.Body)
	}
	var entries []Entry
	r.JSON(t, &entries)
	if len(entries) != 4 {
		t.Fatalf("want 4 entries, got %d", len(entries))
	}
	if entries[0].Auth != "none" || !strings.Contains(entries[0].Headers["Reactor-Api-Key"], "redacted") {
		t.Fatalf("token request entry: %+v", entries[0])
	}
	if string(entries[0].Body) != `{"expires_after":60}` {
		t.Fatalf("JSON body not journaled: %s", entries[0].Body)
	}
	if entries[1].Auth != "bearer" || entries[1].TokenID == "" || entries[1].SessionID != "x" {
		t.Fatalf("bearer entry: %+v", entries[1])
	}
	if entries[2].Auth != "empty" || entries[2].Headers["Authorization"] != "Bearer" && entries[2].Headers["Authorization"] != "Bearer " {
		t.Fatalf("empty bearer must stay visible: %+v", entries[2])
	}
	if entries[3].Auth != "none" {
		t.Fatalf("missing header: %+v", entries[3])
	}
	for _, e := range entries {
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", e.Time); err != nil || e.Method == "" || e.Path == "" || e.Status == 0 {
			t.Fatalf("entry lacks required fields: %+v", e)
		}
	}
}

func TestJournalBoundAndFilters(t *testing.T) {
	j := newJournal(3)
	for i := 0; i < 5; i++ {
		j.Add(Entry{Method: "GET", Path: "/p", SessionID: string(rune('a' + i))})
	}
	got := j.Entries(Filter{})
	if len(got) != 3 || got[0].SessionID != "c" || j.Dropped() != 2 {
		t.Fatalf("bound: %+v dropped %d", got, j.Dropped())
	}
	if got := j.Entries(Filter{SessionID: "d"}); len(got) != 1 {
		t.Fatalf("filter by session: %+v", got)
	}
	if got := j.Entries(Filter{SinceSeq: 4}); len(got) != 1 || got[0].Seq != 5 {
		t.Fatalf("since: %+v", got)
	}
}

func TestAdminAPI(t *testing.T) {
	ts := newTestServer(t)
	ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()), nil)

	r := ts.do(t, "GET", "/__admin/requests?since=abc", nil, nil)
	expectError(t, r, 400)
	r = ts.do(t, "GET", "/__admin/requests?path_prefix=/tokens&method=post", nil, nil)
	var entries []Entry
	r.JSON(t, &entries)
	if len(entries) != 1 {
		t.Fatalf("filtered journal: %s", r.Body)
	}
	if r := ts.do(t, "DELETE", "/__admin/requests", nil, nil); r.Status != 204 {
		t.Fatalf("clear: %d", r.Status)
	}
	if got := ts.Journal().Entries(Filter{}); len(got) != 0 {
		t.Fatalf("journal not cleared (admin calls must not be journaled): %+v", got)
	}

	r = ts.do(t, "PUT", "/__admin/scenario", nil, "name: x\ntimings: {pending_polls: 4}\n")
	var sc Scenario
	r.JSON(t, &sc)
	if r.Status != 200 || sc.Timings.PendingPolls != 4 || sc.Limits.MaxConcurrentSessions != 5 {
		t.Fatalf("put scenario: %d %s", r.Status, r.Body)
	}
	expectError(t, ts.do(t, "PUT", "/__admin/scenario", nil, `{"profile":"ancient"}`), 400)
	r = ts.do(t, "GET", "/__admin/scenario", nil, nil)
	r.JSON(t, &sc)
	if sc.Name != "x" {
		t.Fatalf("bad scenario must not replace the active one: %s", r.Body)
	}
	if r := ts.do(t, "POST", "/__admin/reset", nil, nil); r.Status != 204 {
		t.Fatalf("reset: %d", r.Status)
	}
	r = ts.do(t, "GET", "/__admin/scenario", nil, nil)
	r.JSON(t, &sc)
	if sc.Name != "default" {
		t.Fatalf("reset must restore the initial scenario: %s", r.Body)
	}
	r = ts.do(t, "GET", "/__admin/sessions", nil, nil)
	var sessions []json.RawMessage
	r.JSON(t, &sessions)
	if r.Status != 200 {
		t.Fatalf("sessions: %d", r.Status)
	}
}

func TestOversizedBodyIs413(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()), strings.Repeat(" ", maxJSONBody+10))
	expectError(t, r, 413)
}
