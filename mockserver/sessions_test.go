package mockserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// sessClock is a settable clock for the session tests.
type sessClock struct {
	mu sync.Mutex
	t  time.Time
}

func newSessClock() *sessClock { return &sessClock{t: time.Date(2026, 8, 21, 12, 0, 0, 0, time.UTC)} }

func (c *sessClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *sessClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sessEnv is a mock with a fake clock and an unscoped token.
type sessEnv struct {
	*testServer
	clock *sessClock
	jwt   string
}

// newSessEnv starts a mock whose scenario mutate may adjust (nil = default).
func newSessEnv(t testing.TB, mutate func(*Scenario)) *sessEnv {
	t.Helper()
	sc := DefaultScenario()
	if mutate != nil {
		mutate(sc)
	}
	clk := newSessClock()
	ts := newTestServer(t, WithScenario(sc), WithClock(clk.Now))
	env := &sessEnv{testServer: ts, clock: clk}
	env.jwt = ts.token(t, claims{}, 24*time.Hour)
	return env
}

func createBody(model string) map[string]any {
	return map[string]any{
		"model":                map[string]any{"name": model},
		"client_info":          map[string]any{"sdk_version": "2.12.3", "sdk_type": "js"},
		"supported_transports": []any{map[string]any{"protocol": "webrtc", "version": "1.0"}},
	}
}

// noServerError fails on any 5xx: the mock must never answer 5xx to a client.
func noServerError(t testing.TB, r response) {
	t.Helper()
	if r.Status >= 500 && r.Status != http.StatusNotImplemented {
		t.Fatalf("server error %d: %s", r.Status, r.Body)
	}
}

// create makes a session with the given token and returns its id.
func (e *sessEnv) create(t testing.TB, jwt string) string {
	t.Helper()
	r := e.do(t, "POST", "/sessions", currentHeaders(jwt), createBody("helios"))
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var b wire.SessionResponse
	r.JSON(t, &b)
	return b.SessionID
}

// get polls a session and decodes it.
func (e *sessEnv) get(t testing.TB, id string) wire.SessionResponse {
	t.Helper()
	r := e.do(t, "GET", "/sessions/"+id, currentHeaders(e.jwt), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", id, r.Status, r.Body)
	}
	var b wire.SessionResponse
	r.JSON(t, &b)
	return b
}

func (e *sessEnv) force(t testing.TB, id string, st wire.SessionState) {
	t.Helper()
	r := e.do(t, "POST", "/__admin/sessions/"+id+"/state", nil, map[string]any{"state": st})
	if r.Status != http.StatusOK {
		t.Fatalf("force %s: %d %s", st, r.Status, r.Body)
	}
}

func (e *sessEnv) snapshot(t testing.TB, id string) SessionSnapshot {
	t.Helper()
	r := e.do(t, "GET", "/__admin/sessions", nil, nil)
	var all []SessionSnapshot
	r.JSON(t, &all)
	for _, s := range all {
		if s.SessionID == id {
			return s
		}
	}
	t.Fatalf("session %s not in admin snapshot", id)
	return SessionSnapshot{}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateSessionResponse(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Cluster = "test-cluster" })
	for _, name := range []string{"helios", "reactor/helios"} {
		t.Run(name, func(t *testing.T) {
			r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody(name))
			if r.Status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			// Every field the JS SDK's zod schema requires, checked on the raw JSON.
			var raw map[string]any
			r.JSON(t, &raw)
			id, _ := raw["session_id"].(string)
			if !uuidV4.MatchString(id) {
				t.Errorf("session_id %q is not a UUID v4 (JS 2.2.1 validates z.uuidv4())", id)
			}
			if raw["state"] != "CREATED" {
				t.Errorf("state = %v, want CREATED", raw["state"])
			}
			if raw["cluster"] != "test-cluster" {
				t.Errorf("cluster = %v, want the scenario's cluster", raw["cluster"])
			}
			if m, _ := raw["model"].(map[string]any); m == nil || m["name"] != name {
				t.Errorf("model = %v, want {name:%s}", raw["model"], name)
			}
			if si, _ := raw["server_info"].(map[string]any); si == nil || si["server_version"] != ServerVersion {
				t.Errorf("server_info = %v", raw["server_info"])
			}
			if _, ok := raw["capabilities"]; ok {
				t.Errorf("a CREATED session must not carry capabilities: %s", r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != wire.ContentTypeJSON {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	// The journal names the new session.
	es := env.Journal().Entries(Filter{Method: "POST", PathPrefix: "/sessions"})
	if len(es) == 0 || es[len(es)-1].SessionID == "" {
		t.Errorf("journal entry of POST /sessions lacks session_id: %+v", es)
	}
}

func TestCreateSessionBadBodies(t *testing.T) {
	big := `{"model":{"name":"helios"},"extra_args":{"x":"` + strings.Repeat("a", maxJSONBody) + `"}}`
	cases := []struct {
		name   string
		body   any
		status int
		detail string // substring of the detail
	}{
		{"no body", nil, 422, "model"},
		{"null", "null", 422, "model"},
		{"malformed", `{"model":`, 400, "malformed"},
		{"trailing garbage", `{"model":{"name":"helios"}}}`, 400, "malformed"},
		{"array", `[]`, 422, ""},
		{"string", `"helios"`, 422, ""},
		{"empty object", `{}`, 422, "model.name"},
		{"model null", `{"model":null}`, 422, "model.name"},
		{"model empty", `{"model":{}}`, 422, "model.name"},
		{"model blank name", `{"model":{"name":"  "}}`, 422, "model.name"},
		{"model is a string", `{"model":"helios"}`, 422, "model"},
		{"model.name is a number", `{"model":{"name":5}}`, 422, "model.name"},
		{"client_info wrong type", `{"model":{"name":"helios"},"client_info":[]}`, 422, "client_info"},
		{"supported_transports wrong type", `{"model":{"name":"helios"},"supported_transports":"webrtc"}`, 422, "supported_transports"},
		{"extra_args wrong type", `{"model":{"name":"helios"},"extra_args":[1]}`, 422, "extra_args"},
		{"unknown model", `{"model":{"name":"nope"}}`, 404, `unknown model "nope"; known: helios, reactor/helios`},
		{"no transports", `{"model":{"name":"helios"},"supported_transports":[]}`, 400, "webrtc"},
		{"only websocket", `{"model":{"name":"helios"},"supported_transports":[{"protocol":"websocket","version":"1.0"}]}`, 400, "supports"},
		{"webrtc too new", `{"model":{"name":"helios"},"supported_transports":[{"protocol":"webrtc","version":"2.0"}]}`, 400, "webrtc/2.0"},
		{"webrtc garbage version", `{"model":{"name":"helios"},"supported_transports":[{"protocol":"webrtc","version":"x"}]}`, 400, ""},
		{"legacy shape", `{"model":{"name":"helios"},"sdp_offer":"v=0","extra_args":{}}`, 426, "CLIENT_VERSION_TOO_OLD"},
		{"sdp_offer wrong type", `{"model":{"name":"helios"},"sdp_offer":5}`, 422, "sdp_offer"},
		{"oversized", big, 413, "exceeds"},
	}
	env := newSessEnv(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), c.body)
			noServerError(t, r)
			expectError(t, r, c.status)
			if !strings.Contains(r.Detail(), c.detail) {
				t.Errorf("detail %q does not mention %q", r.Detail(), c.detail)
			}
		})
	}
	// Good variants for contrast: no supported_transports at all, several
	// transports with webrtc among them, extra_configs with any content.
	for _, body := range []string{
		`{"model":{"name":"helios"}}`,
		`{"model":{"name":"helios"},"supported_transports":[{"protocol":"quic","version":"9"},{"protocol":"webrtc","version":"1.0"}]}`,
		`{"model":{"name":"helios","version":"1"},"extra_configs":{"a":1},"extra_args":{"b":{"c":[1]}}}`,
	} {
		r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), body)
		if r.Status != http.StatusCreated {
			t.Errorf("%s: %d %s", body, r.Status, r.Body)
		}
	}
}

func TestSessionRoutesVersionHeaders(t *testing.T) {
	env := newSessEnv(t, nil)
	id := env.create(t, env.jwt)
	routes := []struct{ method, path string }{
		{"POST", "/sessions"},
		{"GET", "/sessions/" + id},
		{"GET", "/sessions/" + id + "/info"},
		{"PUT", "/sessions/" + id},
		{"DELETE", "/sessions/" + id},
	}
	hdr := func(v, accept string) http.Header {
		h := currentHeaders(env.jwt)
		h.Del(wire.HeaderAPIVersion)
		h.Del(wire.HeaderAPIAcceptVersion)
		if v != "" {
			h.Set(wire.HeaderAPIVersion, v)
		}
		if accept != "" {
			h.Set(wire.HeaderAPIAcceptVersion, accept)
		}
		return h
	}
	cases := []struct {
		name   string
		h      http.Header
		status int
		prefix string
	}{
		{"missing", hdr("", ""), 426, "CLIENT_VERSION_TOO_OLD"},
		{"too old", hdr("0", "0"), 426, "CLIENT_VERSION_TOO_OLD"},
		{"too new", hdr("2", "2"), 501, "SERVER_VERSION_TOO_OLD"},
		{"accept too new", hdr("1", "2"), 501, "SERVER_VERSION_TOO_OLD"},
		{"not a number", hdr("one", ""), 400, ""},
	}
	for _, rt := range routes {
		for _, c := range cases {
			t.Run(rt.method+" "+rt.path+"/"+c.name, func(t *testing.T) {
				var body any
				if rt.method == "POST" {
					body = createBody("helios")
				}
				r := env.do(t, rt.method, rt.path, c.h, body)
				expectError(t, r, c.status)
				if !strings.HasPrefix(r.Detail(), c.prefix) {
					t.Errorf("detail %q lacks prefix %q", r.Detail(), c.prefix)
				}
			})
		}
	}
	// The version refusals changed nothing: the session is still there.
	if got := env.get(t, id); got.SessionID != id {
		t.Fatalf("session disappeared: %+v", got)
	}
}

func TestSessionRoutesAuth(t *testing.T) {
	env := newSessEnv(t, nil)
	id := env.create(t, env.jwt)
	for _, rt := range []struct{ method, path string }{
		{"POST", "/sessions"}, {"GET", "/sessions/" + id}, {"GET", "/sessions/" + id + "/info"},
		{"PUT", "/sessions/" + id}, {"DELETE", "/sessions/" + id},
	} {
		for name, h := range map[string]http.Header{
			"no token":  currentHeaders(""),
			"bad token": currentHeaders("not.a.jwt"),
		} {
			r := env.do(t, rt.method, rt.path, h, createBody("helios"))
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s %s (%s): %d, want 401", rt.method, rt.path, name, r.Status)
			}
		}
	}
}

func TestSessionPollProgression(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) {
		sc.Timings.PendingPolls = 2
		sc.Timings.AssignDelay = Duration(5 * time.Second)
	})
	id := env.create(t, env.jwt)
	steps := []struct {
		advance time.Duration
		want    wire.SessionState
	}{
		{0, wire.StatePending},                  // CREATED → PENDING (1st PENDING answer)
		{0, wire.StatePending},                  // 2nd PENDING answer
		{0, wire.StatePending},                  // polls done but AssignDelay not elapsed
		{4 * time.Second, wire.StatePending},    // t=4s: still assigning
		{time.Second, wire.StateWaiting},        // t=5s: both conditions met
		{time.Second, wire.StateWaiting},        // stays WAITING until the transport connects
		{10 * time.Second, wire.StateWaiting},   // ...
		{1200 * time.Second, wire.StateClosed},  // max session duration
		{1200 * time.Second, wire.StateClosed},  // terminal stays terminal
		{24 * time.Hour / 2, wire.StateClosed},  // (token minted for 24h)
		{-24 * time.Hour / 2, wire.StateClosed}, // clock back: nothing revives
	}
	for i, st := range steps {
		env.clock.Advance(st.advance)
		b := env.get(t, id)
		if b.State != st.want {
			t.Fatalf("poll %d: state %s, want %s", i+1, b.State, st.want)
		}
		// Capabilities and selected_transport appear exactly at WAITING.
		wantReady := st.want == wire.StateWaiting
		if b.Ready() != wantReady || (b.Capabilities != nil) != wantReady || (b.SelectedTransport != nil) != wantReady {
			t.Fatalf("poll %d (%s): capabilities=%v selected_transport=%v", i+1, b.State, b.Capabilities != nil, b.SelectedTransport != nil)
		}
		if wantReady {
			if *b.SelectedTransport != (wire.Transport{Protocol: "webrtc", Version: "1.0"}) {
				t.Errorf("selected_transport = %+v", *b.SelectedTransport)
			}
			if b.Capabilities.ProtocolVersion != "1.0" || len(b.Capabilities.Tracks) != 1 || b.Capabilities.Tracks[0].Name != "main_video" {
				t.Errorf("capabilities = %+v", b.Capabilities)
			}
		}
	}
	snap := env.snapshot(t, id)
	if snap.Polls != len(steps) {
		t.Errorf("polls = %d, want %d", snap.Polls, len(steps))
	}
	var states []wire.SessionState
	for _, h := range snap.History {
		states = append(states, h.State)
	}
	if fmt.Sprint(states) != "[CREATED PENDING WAITING CLOSED]" {
		t.Errorf("history = %v", states)
	}
	last := snap.History[len(snap.History)-1]
	if want := newSessClock().Now().Add(1200 * time.Second); !last.At.Equal(want) {
		t.Errorf("CLOSED recorded at %s, want the moment the duration ran out %s", last.At, want)
	}
	if snap.TerminatedAt == nil || snap.ReadyAt != nil || snap.BilledSeconds != 0 {
		t.Errorf("never ACTIVE: terminated_at %v ready_at %v billed %v", snap.TerminatedAt, snap.ReadyAt, snap.BilledSeconds)
	}
}

func TestSessionPollZeroPendingPolls(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
	id := env.create(t, env.jwt)
	if b := env.get(t, id); b.State != wire.StateWaiting || !b.Ready() {
		t.Fatalf("PendingPolls=0: first poll %s ready=%v, want WAITING with capabilities", b.State, b.Ready())
	}
	// The default scenario: one PENDING answer, then WAITING.
	env2 := newSessEnv(t, nil)
	id2 := env2.create(t, env2.jwt)
	for i, want := range []wire.SessionState{wire.StatePending, wire.StateWaiting} {
		if b := env2.get(t, id2); b.State != want {
			t.Fatalf("default poll %d: %s, want %s", i+1, b.State, want)
		}
	}
}

func TestSessionInfoDoesNotAdvance(t *testing.T) {
	env := newSessEnv(t, nil)
	id := env.create(t, env.jwt)
	for range 3 {
		r := env.do(t, "GET", "/sessions/"+id+"/info", currentHeaders(env.jwt), nil)
		var info map[string]any
		r.JSON(t, &info)
		if r.Status != 200 || info["session_id"] != id || info["state"] != "CREATED" || info["cluster"] != "mock-local" || len(info) != 3 {
			t.Fatalf("info: %d %s", r.Status, r.Body)
		}
	}
}

func TestSessionTerminalStatesVisible(t *testing.T) {
	for _, st := range []wire.SessionState{wire.StateInactive, wire.StateClosed} {
		t.Run(string(st), func(t *testing.T) {
			env := newSessEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
			id := env.create(t, env.jwt)
			if !env.get(t, id).Ready() {
				t.Fatal("not ready")
			}
			env.force(t, id, st)
			for range 2 {
				b := env.get(t, id)
				if b.State != st || b.Ready() || b.Capabilities != nil {
					t.Fatalf("GET: %+v", b)
				}
			}
			r := env.do(t, "GET", "/sessions/"+id+"/info", currentHeaders(env.jwt), nil)
			var info wire.SessionInfoResponse
			r.JSON(t, &info)
			if info.State != st {
				t.Fatalf("info state %s", info.State)
			}
		})
	}
}

func TestSessionDeleteThenEveryRoute404(t *testing.T) {
	env := newSessEnv(t, nil)
	id := env.create(t, env.jwt)
	env.get(t, id)
	r := env.do(t, "DELETE", "/sessions/"+id, currentHeaders(env.jwt), nil)
	if r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: %d %q", r.Status, r.Body)
	}
	for _, rt := range []struct{ method, path string }{
		{"GET", "/sessions/" + id}, {"GET", "/sessions/" + id + "/info"},
		{"PUT", "/sessions/" + id}, {"DELETE", "/sessions/" + id},
		{"DELETE", "/sessions/" + id}, // twice: still 404 (SDKs treat 404 as success)
	} {
		r := env.do(t, rt.method, rt.path, currentHeaders(env.jwt), nil)
		expectError(t, r, http.StatusNotFound)
		if r.Detail() != "Unknown session" {
			t.Errorf("%s %s: detail %q", rt.method, rt.path, r.Detail())
		}
	}
	if _, e := env.sessionFor(&reqCtx{claims: &claims{Subject: mockAccount}}, id); e == nil || e.Status != 404 {
		t.Errorf("sessionFor after delete: %v", e)
	}
	if err := env.sessions.markActive(id); err == nil {
		t.Error("markActive on a deleted session succeeded")
	}
	if _, e := env.sessions.force(id, "ACTIVE"); e == nil || e.Status != 404 {
		t.Errorf("force after delete: %v", e)
	}
	// The admin view still shows it, deleted and CLOSED, for billing.
	snap := env.snapshot(t, id)
	if !snap.Deleted || snap.State != wire.StateClosed {
		t.Errorf("snapshot after delete: %+v", snap)
	}
}

func TestSessionDeleteBodies(t *testing.T) {
	env := newSessEnv(t, nil)
	cases := []struct {
		name   string
		body   any
		status int
	}{
		{"no body", nil, 204},
		{"null", "null", 204},
		{"empty object", `{}`, 204},
		{"reason", `{"reason":"user left"}`, 204},
		{"malformed", `{"reason":`, 400},
		{"reason wrong type", `{"reason":5}`, 422},
		{"array", `[1]`, 422},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := env.create(t, env.jwt)
			r := env.do(t, "DELETE", "/sessions/"+id, currentHeaders(env.jwt), c.body)
			noServerError(t, r)
			if c.status == 204 {
				if r.Status != 204 {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			} else {
				expectError(t, r, c.status)
				// A refused DELETE leaves the session alone.
				env.get(t, id)
				env.do(t, "DELETE", "/sessions/"+id, currentHeaders(env.jwt), nil)
			}
		})
	}
	id := env.create(t, env.jwt)
	env.do(t, "DELETE", "/sessions/"+id, currentHeaders(env.jwt), `{"reason":"bye"}`)
	snap := env.snapshot(t, id)
	if snap.DeleteReason != "bye" || !strings.Contains(snap.History[len(snap.History)-1].Reason, "bye") {
		t.Errorf("reason not recorded: %+v", snap)
	}
	r := env.do(t, "DELETE", "/sessions/00000000-0000-4000-8000-000000000000", currentHeaders(env.jwt), nil)
	expectError(t, r, 404)
}

func TestSessionRestart(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 1 })
	id := env.create(t, env.jwt)
	env.get(t, id)
	env.get(t, id) // WAITING
	env.force(t, id, wire.StateInactive)

	r := env.do(t, "PUT", "/sessions/"+id, currentHeaders(env.jwt), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("restart: %d %s", r.Status, r.Body)
	}
	var b wire.SessionResponse
	r.JSON(t, &b)
	if b.SessionID != id || b.State != wire.StatePending || b.Cluster == "" || b.ServerInfo.ServerVersion == "" || b.Capabilities != nil {
		t.Fatalf("restart body: %s", r.Body)
	}
	// Poll counters were reset: one more PENDING answer, then WAITING.
	if got := env.get(t, id).State; got != wire.StatePending {
		t.Fatalf("after restart: %s, want PENDING", got)
	}
	if got := env.get(t, id); got.State != wire.StateWaiting || !got.Ready() {
		t.Fatalf("after restart: %s, want WAITING", got.State)
	}

	for _, st := range []wire.SessionState{wire.StateCreated, wire.StatePending, wire.StateWaiting,
		wire.StateActive, wire.StateSuspended, wire.StateClosed} {
		t.Run("409 from "+string(st), func(t *testing.T) {
			env.force(t, id, st)
			r := env.do(t, "PUT", "/sessions/"+id, currentHeaders(env.jwt), nil)
			expectError(t, r, http.StatusConflict)
			if !strings.Contains(r.Detail(), string(st)) || !strings.Contains(r.Detail(), "INACTIVE") {
				t.Errorf("detail %q", r.Detail())
			}
		})
	}
}

func TestSessionRestartRespectsConcurrency(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Limits.MaxConcurrentSessions = 1 })
	a := env.create(t, env.jwt)
	env.force(t, a, wire.StateInactive)
	env.create(t, env.jwt) // the inactive one no longer counts
	r := env.do(t, "PUT", "/sessions/"+a, currentHeaders(env.jwt), nil)
	expectError(t, r, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestSessionMaxDurationAndBilling(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) {
		sc.Timings.PendingPolls = 0
		sc.Limits.MaxSessionDuration = Duration(100 * time.Second)
	})
	id := env.create(t, env.jwt)
	env.get(t, id)
	env.clock.Advance(10 * time.Second)
	if err := env.sessions.markActive(id); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(30 * time.Second) // t=40
	if s := env.snapshot(t, id); s.State != wire.StateActive || s.BilledSeconds != 30 || s.ReadyAt == nil {
		t.Fatalf("running meter: %+v", s)
	}
	env.clock.Advance(200 * time.Second) // past t=100
	if b := env.get(t, id); b.State != wire.StateClosed {
		t.Fatalf("after max duration: %s", b.State)
	}
	s := env.snapshot(t, id)
	if s.BilledSeconds != 90 { // ready at t=10, closed at t=100
		t.Errorf("billed %v s, want 90", s.BilledSeconds)
	}
	if s.TerminatedAt == nil || s.TerminatedAt.Sub(s.CreatedAt) != 100*time.Second {
		t.Errorf("terminated_at %v", s.TerminatedAt)
	}
	if err := env.sessions.markActive(id); err == nil {
		t.Error("markActive revived a CLOSED session")
	}
}

func TestSessionSuspendAndRecover(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) {
		sc.Timings.PendingPolls = 0
		sc.Timings.RecoverWindow = Duration(30 * time.Second)
	})
	id := env.create(t, env.jwt)
	if err := env.sessions.markActive(id); err == nil {
		t.Fatal("markActive from CREATED must fail: no runtime assigned yet")
	}
	if err := env.sessions.markSuspended(id); err == nil {
		t.Fatal("markSuspended from CREATED must fail")
	}
	env.get(t, id)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(env.sessions.markActive(id)) // t=0 ready
	must(env.sessions.markActive(id)) // idempotent
	env.clock.Advance(5 * time.Second)
	must(env.sessions.markSuspended(id))
	if b := env.get(t, id); b.State != wire.StateSuspended || !b.Ready() {
		t.Fatalf("suspended: %+v", b)
	}
	env.clock.Advance(29 * time.Second)
	must(env.sessions.markSuspended(id)) // repeated drop keeps the original window
	env.clock.Advance(time.Second - time.Millisecond)
	must(env.sessions.markActive(id)) // reconnect just inside the window
	env.clock.Advance(time.Minute + time.Millisecond)
	must(env.sessions.markSuspended(id)) // t=95
	env.clock.Advance(30 * time.Second)  // window ends at t=125
	if b := env.get(t, id); b.State != wire.StateClosed {
		t.Fatalf("after the recover window: %s", b.State)
	}
	s := env.snapshot(t, id)
	if s.BilledSeconds != 125 { // billing runs through suspended windows
		t.Errorf("billed %v, want 125", s.BilledSeconds)
	}
	var got []string
	for _, h := range s.History {
		got = append(got, string(h.State))
	}
	if want := "CREATED PENDING WAITING ACTIVE SUSPENDED ACTIVE SUSPENDED CLOSED"; strings.Join(got, " ") != want {
		t.Errorf("history %v, want %s", got, want)
	}
	if env.sessions.markActive(id) == nil {
		t.Error("markActive after the window succeeded")
	}
}

func TestSessionConcurrencyLimit(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Limits.MaxConcurrentSessions = 3 })
	var ids []string
	for range 3 {
		ids = append(ids, env.create(t, env.jwt))
	}
	r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios"))
	expectError(t, r, http.StatusTooManyRequests)
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	if !strings.Contains(r.Detail(), "max_concurrent_sessions") || !strings.Contains(r.Detail(), "3") {
		t.Errorf("detail %q does not name the limit", r.Detail())
	}
	// Every live state counts; terminal ones free a slot.
	for _, st := range []wire.SessionState{wire.StatePending, wire.StateWaiting, wire.StateActive, wire.StateSuspended} {
		env.force(t, ids[0], st)
		expectError(t, env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios")), 429)
	}
	env.force(t, ids[0], wire.StateInactive)
	ids[0] = env.create(t, env.jwt)
	env.do(t, "DELETE", "/sessions/"+ids[1], currentHeaders(env.jwt), nil)
	ids[1] = env.create(t, env.jwt)
	expectError(t, env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios")), 429)
	// A session that ran out of time frees its slot without being looked at.
	env.clock.Advance(1201 * time.Second)
	env.create(t, env.jwt)
}

func TestSessionConcurrencyLimitUnderParallelCreates(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Limits.MaxConcurrentSessions = 4 })
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios"))
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[201] != 4 || codes[429] != 16 {
		t.Fatalf("status counts %v, want exactly 4×201 and 16×429", codes)
	}
}

func TestSessionCreateRateLimit(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) {
		sc.Limits.CreatesPerMinute = 3
		sc.Limits.MaxConcurrentSessions = Unlimited
	})
	for _, adv := range []time.Duration{0, 10 * time.Second, 10 * time.Second} { // t = 0, 10, 20
		env.clock.Advance(adv)
		env.create(t, env.jwt)
	}
	env.clock.Advance(10*time.Second + 500*time.Millisecond) // t = 30.5
	r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("reactor/helios"))
	expectError(t, r, http.StatusTooManyRequests)
	if ra := r.Header.Get("Retry-After"); ra != "30" { // the t=0 create leaves at t=60: 29.5 s, rounded up
		t.Errorf("Retry-After = %q, want 30", ra)
	}
	if !strings.Contains(r.Detail(), "creates_per_minute") || !strings.Contains(r.Detail(), `"helios"`) {
		t.Errorf("detail %q", r.Detail())
	}
	env.clock.Advance(29 * time.Second) // t = 59.5
	r = env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios"))
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After at t=59.5 = %q, want 1", r.Header.Get("Retry-After"))
	}
	env.clock.Advance(500 * time.Millisecond) // t = 60: the first create left the window
	env.create(t, env.jwt)
	r = env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios"))
	if r.Status != 429 || r.Header.Get("Retry-After") != "10" { // t=10 leaves at 70
		t.Errorf("t=60: %d Retry-After %q, want 429 and 10", r.Status, r.Header.Get("Retry-After"))
	}
	// Refused creates do not count: once the window drains, 3 more fit.
	env.clock.Advance(time.Minute)
	for range 3 {
		env.create(t, env.jwt)
	}
}

func TestSessionScope(t *testing.T) {
	env := newSessEnv(t, nil)
	two := 2
	onlyOther := env.token(t, claims{Models: []string{"other-model"}}, time.Hour)
	aliasScoped := env.token(t, claims{Models: []string{"reactor/helios"}}, time.Hour)
	budget := env.token(t, claims{Models: []string{"helios"}, MaxSessions: &two}, time.Hour)

	t.Run("model not allowed", func(t *testing.T) {
		r := env.do(t, "POST", "/sessions", currentHeaders(onlyOther), createBody("helios"))
		expectError(t, r, http.StatusForbidden)
		if !strings.Contains(r.Detail(), "other-model") {
			t.Errorf("detail %q", r.Detail())
		}
	})
	t.Run("alias allowed", func(t *testing.T) {
		env.create(t, aliasScoped) // requests "helios", token names "reactor/helios"
	})
	t.Run("foreign session", func(t *testing.T) {
		mine := env.create(t, budget)
		theirs := env.create(t, env.jwt)
		scopedOther := env.create(t, aliasScoped)
		for _, rt := range []struct{ method, path string }{
			{"GET", ""}, {"GET", "/info"}, {"PUT", ""}, {"DELETE", ""},
		} {
			for _, id := range []string{theirs, scopedOther} {
				r := env.do(t, rt.method, "/sessions/"+id+rt.path, currentHeaders(budget), nil)
				expectError(t, r, http.StatusForbidden)
			}
		}
		// Its own session works; an unscoped token may act on any session.
		env.get(t, mine)
		r := env.do(t, "GET", "/sessions/"+mine, currentHeaders(budget), nil)
		if r.Status != 200 {
			t.Fatalf("scoped token on its own session: %d", r.Status)
		}
		if env.get(t, scopedOther).SessionID != scopedOther {
			t.Fatal("unscoped token refused")
		}
		if r := env.do(t, "DELETE", "/sessions/"+mine, currentHeaders(budget), nil); r.Status != 204 {
			t.Fatalf("scoped delete of own session: %d", r.Status)
		}
	})
	t.Run("budget", func(t *testing.T) {
		// budget created one session above (then deleted it: creations count).
		env.create(t, budget)
		r := env.do(t, "POST", "/sessions", currentHeaders(budget), createBody("helios"))
		expectError(t, r, http.StatusForbidden)
		if !strings.Contains(r.Detail(), "max_sessions") {
			t.Errorf("detail %q", r.Detail())
		}
	})
}

func TestSessionAdminAPI(t *testing.T) {
	env := newSessEnv(t, nil)
	r := env.do(t, "GET", "/__admin/sessions", nil, nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "[]" {
		t.Fatalf("empty list: %d %s", r.Status, r.Body)
	}
	a := env.create(t, env.jwt)
	env.clock.Advance(time.Second)
	b := env.create(t, env.jwt)
	env.get(t, a)

	var all []map[string]any
	env.do(t, "GET", "/__admin/sessions", nil, nil).JSON(t, &all)
	if len(all) != 2 || all[0]["session_id"] != a || all[1]["session_id"] != b {
		t.Fatalf("list order: %v", all)
	}
	for _, k := range []string{"session_id", "model", "state", "created_at", "updated_at", "polls", "history", "owner_token_id", "billed_seconds"} {
		if _, ok := all[0][k]; !ok {
			t.Errorf("snapshot lacks %q: %v", k, all[0])
		}
	}
	if all[0]["state"] != "PENDING" || all[0]["polls"] != 1.0 || all[0]["model"] != "helios" {
		t.Errorf("snapshot a: %v", all[0])
	}

	cases := []struct {
		name   string
		id     string
		body   any
		status int
	}{
		{"unknown state", a, `{"state":"RUNNING"}`, 400},
		{"empty state", a, `{}`, 400},
		{"malformed", a, `{"state":`, 400},
		{"wrong type", a, `{"state":3}`, 422},
		{"unknown id", "nope", `{"state":"ACTIVE"}`, 404},
		{"ok", a, `{"state":"ACTIVE"}`, 200},
		{"lowercase ok", b, `{"state":"inactive"}`, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.do(t, "POST", "/__admin/sessions/"+c.id+"/state", nil, c.body)
			noServerError(t, r)
			if c.status != 200 {
				expectError(t, r, c.status)
				return
			}
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			var snap SessionSnapshot
			r.JSON(t, &snap)
			if snap.SessionID != c.id || snap.History[len(snap.History)-1].Reason != "forced by admin" {
				t.Errorf("snapshot %+v", snap)
			}
		})
	}
	if st := env.snapshot(t, a).State; st != wire.StateActive {
		t.Errorf("a is %s", st)
	}
	if st := env.snapshot(t, b).State; st != wire.StateInactive {
		t.Errorf("b is %s", st)
	}
	// Reset forgets every session.
	env.do(t, "POST", "/__admin/reset", nil, nil)
	expectError(t, env.do(t, "GET", "/sessions/"+a, currentHeaders(env.jwt), nil), 404)
}

func TestSessionTransitionTable(t *testing.T) {
	type row struct {
		from wire.SessionState
		ev   sessionEvent
		to   wire.SessionState // "" = refused
	}
	rows := []row{
		{wire.StateCreated, evPoll, wire.StatePending},
		{wire.StatePending, evPoll, ""},
		{wire.StatePending, evAssigned, wire.StateWaiting},
		{wire.StateCreated, evAssigned, ""},
		{wire.StateWaiting, evConnected, wire.StateActive},
		{wire.StatePending, evConnected, ""},
		{wire.StateSuspended, evConnected, wire.StateActive},
		{wire.StateActive, evDropped, wire.StateSuspended},
		{wire.StateWaiting, evDropped, ""},
		{wire.StateSuspended, evRecoverTimeout, wire.StateClosed},
		{wire.StateActive, evRecoverTimeout, ""},
		{wire.StateInactive, evRestart, wire.StatePending},
		{wire.StateClosed, evRestart, ""},
		{wire.StateActive, evRestart, ""},
		{wire.StateInactive, evExpired, ""},
		{wire.StateClosed, evDelete, wire.StateClosed},
		{wire.StateInactive, evDelete, wire.StateClosed},
	}
	for _, s := range liveStates {
		rows = append(rows, row{s, evExpired, wire.StateClosed}, row{s, evDelete, wire.StateClosed})
	}
	for _, r := range rows {
		to, ok := nextState(r.from, r.ev)
		if (r.to == "") == ok || to != r.to {
			t.Errorf("%s --%s--> %q (ok=%v), want %q", r.from, r.ev, to, ok, r.to)
		}
	}
}

func TestSessionForUnknownIDs(t *testing.T) {
	env := newSessEnv(t, nil)
	for _, id := range []string{"nope", "00000000-0000-0000-0000-000000000000", strings.Repeat("x", 300), "%20"} {
		for _, rt := range []struct{ method, suffix string }{{"GET", ""}, {"GET", "/info"}, {"PUT", ""}, {"DELETE", ""}} {
			r := env.do(t, rt.method, "/sessions/"+id+rt.suffix, currentHeaders(env.jwt), nil)
			expectError(t, r, http.StatusNotFound)
		}
	}
}

func TestSessionSnapshotJSONShape(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
	id := env.create(t, env.jwt)
	env.get(t, id)
	_ = env.sessions.markActive(id)
	env.clock.Advance(1500 * time.Millisecond)
	raw := env.do(t, "GET", "/__admin/sessions", nil, nil).Body
	var v []map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v[0]["billed_seconds"] != 1.5 || v[0]["ready_at"] == nil || v[0]["terminated_at"] != nil {
		t.Errorf("snapshot %s", raw)
	}
}

func TestSessionEvictionKeepsLiveSessions(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) {
		sc.Limits.MaxConcurrentSessions = Unlimited
		sc.Limits.CreatesPerMinute = Unlimited
	})
	env.sessions.mu.Lock()
	env.sessions.retention = 10
	env.sessions.mu.Unlock()
	live := env.create(t, env.jwt)
	for range 30 {
		id := env.create(t, env.jwt)
		env.do(t, "DELETE", "/sessions/"+id, currentHeaders(env.jwt), nil)
		env.clock.Advance(time.Millisecond)
	}
	env.sessions.mu.Lock()
	n := len(env.sessions.byID)
	env.sessions.mu.Unlock()
	if n > 11 {
		t.Errorf("store holds %d sessions, retention 10", n)
	}
	env.get(t, live)
}

func FuzzCreateSessionBody(f *testing.F) {
	seeds := []string{
		``, `null`, `{}`, `[]`, `"x"`, `0`, `{"model":{"name":"helios"}}`,
		`{"model":{"name":"reactor/helios"},"client_info":{"sdk_version":"1","sdk_type":"js"},"supported_transports":[{"protocol":"webrtc","version":"1.0"}],"extra_args":{"a":[1,{"b":null}]}}`,
		`{"model":{"name":"helios"},"sdp_offer":"v=0\r\n","extra_args":{}}`,
		`{"model":{"name":"helios"},"supported_transports":[{"protocol":"webrtc","version":"99999999999999999999.1"}]}`,
		`{"model":{"name":"\u0000"},"supported_transports":null}`,
		`{"model":{"name":"helios"}`, `{"model":{"name":1e400}}`,
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	env := newSessEnv(f, func(sc *Scenario) {
		sc.Limits.MaxConcurrentSessions = Unlimited
		sc.Limits.CreatesPerMinute = Unlimited
	})
	f.Fuzz(func(t *testing.T, body string, legacy bool) {
		sc := DefaultScenario()
		sc.Limits.MaxConcurrentSessions = Unlimited
		sc.Limits.CreatesPerMinute = Unlimited
		if legacy {
			sc.Profile = ProfileLegacy
		}
		if err := env.SetScenario(sc); err != nil {
			t.Fatal(err)
		}
		r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), body)
		if r.Status >= 500 {
			t.Fatalf("body %q: %d %s", body, r.Status, r.Body)
		}
		if r.Status >= 400 && r.Detail() == "" {
			t.Fatalf("body %q: %d without detail: %s", body, r.Status, r.Body)
		}
		if r.Status == 201 || r.Status == 200 {
			var b struct {
				SessionID string `json:"session_id"`
			}
			r.JSON(t, &b)
			if !uuidV4.MatchString(b.SessionID) {
				t.Fatalf("bad session id %q", b.SessionID)
			}
			env.Reset()
		}
	})
}

func BenchmarkCreateAndPoll(b *testing.B) {
	env := newSessEnv(b, func(sc *Scenario) {
		sc.Limits.MaxConcurrentSessions = Unlimited
		sc.Limits.CreatesPerMinute = Unlimited
		sc.Timings.PendingPolls = 1
	})
	h := currentHeaders(env.jwt)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		id := env.create(b, env.jwt)
		for range 2 {
			if r := env.do(b, "GET", "/sessions/"+id, h, nil); r.Status != 200 {
				b.Fatal(r.Status)
			}
		}
		if r := env.do(b, "DELETE", "/sessions/"+id, h, nil); r.Status != 204 {
			b.Fatal(r.Status)
		}
		if i%1000 == 999 {
			env.Journal().Clear()
		}
	}
	b.ReportMetric(float64(4*b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCreateAndPollInProcess is BenchmarkCreateAndPoll without TCP: the
// requests go straight to ServeHTTP, so it measures the mock's own cost.
func BenchmarkCreateAndPollInProcess(b *testing.B) {
	env := newSessEnv(b, func(sc *Scenario) {
		sc.Limits.MaxConcurrentSessions = Unlimited
		sc.Limits.CreatesPerMinute = Unlimited
		sc.Timings.PendingPolls = 1
	})
	h := currentHeaders(env.jwt)
	body, _ := json.Marshal(createBody("helios"))
	serve := func(method, path string, payload []byte) *httptest.ResponseRecorder {
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req := httptest.NewRequest(method, path, rd)
		req.Header = h.Clone()
		if payload != nil {
			req.Header.Set(wire.HeaderContentType, wire.ContentTypeJSON)
		}
		rec := httptest.NewRecorder()
		env.ServeHTTP(rec, req)
		return rec
	}
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		rec := serve("POST", "/sessions", body)
		if rec.Code != http.StatusCreated {
			b.Fatal(rec.Code, rec.Body.String())
		}
		var created struct {
			SessionID string `json:"session_id"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &created)
		for range 2 {
			if rec := serve("GET", "/sessions/"+created.SessionID, nil); rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
		if rec := serve("DELETE", "/sessions/"+created.SessionID, nil); rec.Code != 204 {
			b.Fatal(rec.Code)
		}
		if i%1000 == 999 {
			env.Journal().Clear()
		}
	}
	b.ReportMetric(float64(4*b.N)/time.Since(start).Seconds(), "req/s")
}

func TestSessionEndHookAndSweep(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) {
		sc.Timings.PendingPolls = 0
		sc.Limits.MaxSessionDuration = Duration(time.Minute)
	})
	type end struct {
		id     string
		state  wire.SessionState
		reason string
	}
	ends := make(chan end, 10)
	env.sessions.setEndHook(func(id string, st wire.SessionState, reason string) { ends <- end{id, st, reason} })
	next := func() end {
		t.Helper()
		select {
		case e := <-ends:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("end hook not called")
		}
		return end{}
	}
	deleted := env.create(t, env.jwt)
	env.do(t, "DELETE", "/sessions/"+deleted, currentHeaders(env.jwt), `{"reason":"done"}`)
	if e := next(); e.id != deleted || e.state != wire.StateClosed || !strings.Contains(e.reason, "done") {
		t.Errorf("delete: %+v", e)
	}
	forced := env.create(t, env.jwt)
	env.force(t, forced, wire.StateInactive)
	if e := next(); e.id != forced || e.state != wire.StateInactive {
		t.Errorf("force: %+v", e)
	}
	env.do(t, "DELETE", "/sessions/"+forced, currentHeaders(env.jwt), nil) // already terminal: no second call
	expired := env.create(t, env.jwt)
	env.clock.Advance(2 * time.Minute)
	env.sessions.sweep() // nobody looks at the session; the sweep ends it
	if e := next(); e.id != expired || e.state != wire.StateClosed || !strings.Contains(e.reason, "max session duration") {
		t.Errorf("expiry: %+v", e)
	}
	select {
	case e := <-ends:
		t.Errorf("unexpected end %+v", e)
	case <-time.After(50 * time.Millisecond):
	}
}
