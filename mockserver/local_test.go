package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Local runtime API tests (PROTOCOL.md §1.4, §2.2). Every request is sent
// without Authorization and without version headers unless a case says
// otherwise: local mode sends none.

func newLocalServer(t *testing.T, opts ...Option) *testServer {
	t.Helper()
	return newTestServer(t, opts...)
}

// forceLocalT puts the runtime in state rs and checks it is there.
func (ts *testServer) forceLocalT(t *testing.T, rs wire.RuntimeState) {
	t.Helper()
	if e := ts.forceLocal(rs, "test"); e != nil {
		t.Fatalf("force %s: %v", rs, e)
	}
	if got := ts.LocalState(); got != rs {
		t.Fatalf("forced %s, state is %s", rs, got)
	}
}

func (ts *testServer) localState(t *testing.T) wire.RuntimeState {
	t.Helper()
	r := ts.do(t, "GET", "/session", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /session: %d %s", r.Status, r.Body)
	}
	var d wire.LocalSessionDescriptor
	r.JSON(t, &d)
	return d.State
}

func (ts *testServer) startLocal(t *testing.T) wire.LocalSessionDescriptor {
	t.Helper()
	r := ts.do(t, "POST", "/start_session", nil, "{}")
	if r.Status != http.StatusOK {
		t.Fatalf("POST /start_session: %d %s", r.Status, r.Body)
	}
	var d wire.LocalSessionDescriptor
	r.JSON(t, &d)
	return d
}

var localUploadBody = map[string]any{"name": "a.png", "size": 3, "mime_type": "image/png"}

// checkLocalDescriptor asserts the §1.4 descriptor shape for a loaded model.
func checkLocalDescriptor(t *testing.T, raw []byte, state wire.RuntimeState) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("descriptor %s: %v", raw, err)
	}
	want := map[string]any{
		"session_id":         wire.LocalSessionID,
		"state":              string(state),
		"cluster":            "local",
		"model":              map[string]any{"name": "helios"},
		"server_info":        map[string]any{"server_version": ServerVersion},
		"selected_transport": map[string]any{"protocol": "webrtc", "version": "1.0"},
		"recording":          map[string]any{"enabled": false, "chunk_seconds": 4.0},
		"capabilities": map[string]any{
			"protocol_version": "v0",
			"tracks":           []any{map[string]any{"name": "main_video", "kind": "video", "direction": "recvonly"}},
			"commands":         []any{},
		},
	}
	if mustJSON(t, d) != mustJSON(t, want) {
		t.Fatalf("descriptor\n got %s\nwant %s", mustJSON(t, d), mustJSON(t, want))
	}
	if strings.ToLower(string(state)) != string(state) {
		t.Fatalf("state %q is not lowercase", state)
	}
}

func TestLocalStartBodies(t *testing.T) {
	ts := newLocalServer(t)
	cases := []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"empty body", ""},
		{"null", "null"},
		{"empty object", "{}"},
		{"extra_args", `{"extra_args":{"seed":7,"prompt":"a cat"}}`},
		{"session_id names the recording", `{"session_id":"rec-1"}`},
		{"unknown keys kept", `{"extra_args":{},"session_id":"x","steps":[1]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/start_session", nil, c.body)
			if r.Status != http.StatusOK {
				t.Fatalf("start: %d %s", r.Status, r.Body)
			}
			checkLocalDescriptor(t, r.Body, wire.RuntimeWaiting)
			if got := ts.localState(t); got != wire.RuntimeWaiting {
				t.Fatalf("state after start %s", got)
			}
			var want map[string]any
			if s, ok := c.body.(string); ok && s != "" && s != "null" {
				_ = json.Unmarshal([]byte(s), &want)
			}
			if want == nil {
				want = map[string]any{}
			}
			if got := ts.sessions.localParams(); mustJSON(t, got) != mustJSON(t, want) {
				t.Fatalf("params %v, want %v", got, want)
			}
			if r := ts.do(t, "POST", "/stop_session", nil, nil); r.Status != http.StatusOK {
				t.Fatalf("stop: %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestLocalStartBadBodies(t *testing.T) {
	ts := newLocalServer(t)
	cases := []struct {
		body   string
		status int
	}{
		{`{`, 400}, {`{"extra_args":}`, 400}, {`nul`, 400},
		{`[]`, 422}, {`[{}]`, 422}, {`"x"`, 422}, {`1`, 422}, {`true`, 422},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			r := ts.do(t, "POST", "/start_session", nil, c.body)
			expectError(t, r, c.status)
			if got := ts.localState(t); got != wire.RuntimeReady {
				t.Fatalf("a refused body moved the runtime to %s", got)
			}
		})
	}
}

func TestLocalStartRefused(t *testing.T) {
	cases := []struct {
		from       wire.RuntimeState
		status     int
		retryAfter string
		detail     string
	}{
		{wire.RuntimeWaiting, 409, "", "cannot start session while waiting"},
		{wire.RuntimeStreaming, 409, "", "cannot start session while streaming"},
		{wire.RuntimeOrphaned, 409, "", "cannot start session while orphaned"},
		{wire.RuntimeClosing, 409, "", "cannot start session while closing"},
		{wire.RuntimeCreated, 503, "1", "cannot start session while created: the model is still loading"},
		{wire.RuntimeTerminated, 503, "", "cannot start session while terminated: the model is terminated"},
	}
	for _, c := range cases {
		t.Run(string(c.from), func(t *testing.T) {
			ts := newLocalServer(t)
			ts.forceLocalT(t, c.from)
			r := ts.do(t, "POST", "/start_session", nil, "{}")
			expectError(t, r, c.status)
			if r.Detail() != c.detail {
				t.Errorf("detail %q, want %q", r.Detail(), c.detail)
			}
			if got := r.Header.Get(wire.HeaderRetryAfter); got != c.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if got := ts.LocalState(); got != c.from {
				t.Errorf("a refused start moved the runtime %s -> %s", c.from, got)
			}
		})
	}
}

func TestLocalStop(t *testing.T) {
	long := strings.Repeat("x", wire.MaxStopReasonLength)
	wide := strings.Repeat("é", wire.MaxStopReasonLength) // 64 characters, 128 bytes
	cases := []struct {
		name       string
		from       wire.RuntimeState
		body       any
		status     int
		retryAfter string
		after      wire.RuntimeState
	}{
		{"bare from waiting", wire.RuntimeWaiting, nil, 200, "", wire.RuntimeReady},
		{"empty object from streaming", wire.RuntimeStreaming, "{}", 200, "", wire.RuntimeReady},
		{"null from orphaned", wire.RuntimeOrphaned, "null", 200, "", wire.RuntimeReady},
		{"reason", wire.RuntimeStreaming, `{"reason":"Session ended: the model was updated."}`, 200, "", wire.RuntimeReady},
		{"moderated", wire.RuntimeStreaming, `{"moderate":true,"reason":"x"}`, 200, "", wire.RuntimeReady},
		{"64 characters", wire.RuntimeWaiting, map[string]any{"reason": long}, 200, "", wire.RuntimeReady},
		{"64 wide characters", wire.RuntimeWaiting, map[string]any{"reason": wide}, 200, "", wire.RuntimeReady},
		{"unknown key refused", wire.RuntimeWaiting, `{"why":1}`, 422, "", wire.RuntimeWaiting},
		{"65 characters", wire.RuntimeWaiting, map[string]any{"reason": long + "y"}, 422, "", wire.RuntimeWaiting},
		{"moderate not bool", wire.RuntimeWaiting, `{"moderate":"yes"}`, 422, "", wire.RuntimeWaiting},
		{"reason not string", wire.RuntimeWaiting, `{"reason":5}`, 422, "", wire.RuntimeWaiting},
		{"array", wire.RuntimeWaiting, `[]`, 422, "", wire.RuntimeWaiting},
		{"malformed", wire.RuntimeWaiting, `{`, 400, "", wire.RuntimeWaiting},
		{"nothing running", wire.RuntimeReady, nil, 409, "", wire.RuntimeReady},
		{"already closing", wire.RuntimeClosing, nil, 409, "", wire.RuntimeClosing},
		{"loading", wire.RuntimeCreated, nil, 503, "1", wire.RuntimeCreated},
		{"terminated", wire.RuntimeTerminated, nil, 503, "", wire.RuntimeTerminated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newLocalServer(t)
			ts.forceLocalT(t, c.from)
			r := ts.do(t, "POST", "/stop_session", nil, c.body)
			if c.status == 200 {
				if r.Status != 200 || len(r.Body) != 0 {
					t.Fatalf("stop: %d %q, want 200 with an empty body", r.Status, r.Body)
				}
			} else {
				expectError(t, r, c.status)
			}
			if got := r.Header.Get(wire.HeaderRetryAfter); got != c.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if c.status == 409 && r.Detail() != "cannot stop session while "+string(c.from) {
				t.Errorf("detail %q", r.Detail())
			}
			if got := ts.LocalState(); got != c.after {
				t.Errorf("state after %s, want %s", got, c.after)
			}
		})
	}
}

func TestLocalStopNotice(t *testing.T) {
	cases := []struct {
		n          localStopNotice
		moderation bool
		ended      string
	}{
		{localStopNotice{}, false, ""},
		{localStopNotice{Reason: "bye"}, false, "bye"},
		{localStopNotice{Moderated: true}, true, ""},
		{localStopNotice{Moderated: true, Reason: "bye"}, true, ""}, // one stop, one notice
	}
	for _, c := range cases {
		m := c.n.Moderation()
		if (m != nil) != c.moderation || c.n.SessionEnded() != c.ended {
			t.Errorf("%+v: moderation %+v, sessionEnded %q", c.n, m, c.n.SessionEnded())
		}
		if m != nil && (m.Action != "terminate" || m.Message != localModerationMessage || m.Categories == nil) {
			t.Errorf("moderation %+v", m)
		}
	}
}

func TestLocalSessionEveryState(t *testing.T) {
	for _, rs := range allRuntimeStates {
		t.Run(string(rs), func(t *testing.T) {
			ts := newLocalServer(t)
			ts.forceLocalT(t, rs)
			r := ts.do(t, "GET", "/session", nil, nil)
			if r.Status != 200 {
				t.Fatalf("GET /session: %d %s", r.Status, r.Body)
			}
			if rs != wire.RuntimeCreated {
				checkLocalDescriptor(t, r.Body, rs)
				return
			}
			var d map[string]any
			r.JSON(t, &d)
			if _, ok := d["capabilities"]; ok || d["state"] != "created" || mustJSON(t, d["model"]) != `{"name":""}` {
				t.Fatalf("descriptor while loading: %s", r.Body)
			}
			if d["selected_transport"] == nil || d["recording"] == nil || d["session_id"] != wire.LocalSessionID {
				t.Fatalf("descriptor while loading: %s", r.Body)
			}
		})
	}
}

func TestLocalHealthEveryState(t *testing.T) {
	cases := []struct {
		rs     wire.RuntimeState
		code   int
		status string
		state  string
		detail string
	}{
		{wire.RuntimeCreated, 200, "healthy", "loading", ""},
		{wire.RuntimeReady, 200, "healthy", "available", ""},
		{wire.RuntimeWaiting, 200, "healthy", "serving", ""},
		{wire.RuntimeStreaming, 200, "healthy", "serving", ""},
		{wire.RuntimeOrphaned, 200, "healthy", "serving", ""},
		{wire.RuntimeClosing, 200, "healthy", "serving", ""},
		{wire.RuntimeTerminated, 503, "unhealthy", "terminated", "session terminated"},
	}
	if len(cases) != len(allRuntimeStates) {
		t.Fatal("a runtime state has no health case")
	}
	for _, c := range cases {
		t.Run(string(c.rs), func(t *testing.T) {
			ts := newLocalServer(t)
			ts.forceLocalT(t, c.rs)
			r := ts.do(t, "GET", "/health", nil, nil)
			if r.Status != c.code {
				t.Fatalf("status %d, want %d: %s", r.Status, c.code, r.Body)
			}
			var h map[string]any
			r.JSON(t, &h)
			detail, present := h["detail"]
			if !present || h["status"] != c.status || h["state"] != c.state || len(h) != 3 {
				t.Fatalf("health %s", r.Body)
			}
			if c.detail == "" && detail != nil || c.detail != "" && detail != c.detail {
				t.Fatalf("detail %v, want %q", detail, c.detail)
			}
			var typed wire.HealthResponse
			r.JSON(t, &typed)
			if typed.State != c.state {
				t.Fatalf("wire.HealthResponse %+v", typed)
			}
		})
	}
}

func TestLocalSchema(t *testing.T) {
	ts := newLocalServer(t)
	r := ts.do(t, "GET", "/schema", nil, nil)
	var doc map[string]any
	r.JSON(t, &doc)
	paths, _ := doc["paths"].(map[string]any)
	if r.Status != 200 || !strings.HasPrefix(doc["openapi"].(string), "3.1") || paths["/events/set_prompt"] == nil {
		t.Fatalf("schema: %d %s", r.Status, r.Body)
	}
	if mustJSON(t, doc) != mustJSON(t, HeliosModel().OpenAPI()) {
		t.Fatal("schema differs from the model's OpenAPI document")
	}
	ts.forceLocalT(t, wire.RuntimeCreated)
	r = ts.do(t, "GET", "/schema", nil, nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "{}" {
		t.Fatalf("schema while loading: %d %s", r.Status, r.Body)
	}
}

// TestLocalLifecycle walks §2.2: ready → waiting ⇄ streaming ⇄ orphaned →
// closing → ready, with the plane's hooks moving the running states.
func TestLocalLifecycle(t *testing.T) {
	ts := newLocalServer(t)
	if got := ts.localState(t); got != wire.RuntimeReady {
		t.Fatalf("initial state %s", got)
	}
	ts.startLocal(t)
	steps := []struct {
		move func() error
		want wire.RuntimeState
	}{
		{func() error { return ts.sessions.markActive(wire.LocalSessionID) }, wire.RuntimeStreaming},
		{func() error { return ts.sessions.markSuspended(wire.LocalSessionID) }, wire.RuntimeOrphaned},
		{func() error { return ts.sessions.markActive(wire.LocalSessionID) }, wire.RuntimeStreaming},
	}
	for _, s := range steps {
		if err := s.move(); err != nil {
			t.Fatal(err)
		}
		if got := ts.localState(t); got != s.want {
			t.Fatalf("state %s, want %s", got, s.want)
		}
	}
	if r := ts.do(t, "POST", "/stop_session", nil, nil); r.Status != 200 {
		t.Fatalf("stop: %d %s", r.Status, r.Body)
	}
	if got := ts.localState(t); got != wire.RuntimeReady {
		t.Fatalf("after stop %s", got)
	}
	// The plane's hooks do not move an idle runtime.
	if err := ts.sessions.markActive(wire.LocalSessionID); err == nil {
		t.Fatal("markActive moved an idle local session")
	}
	var hist []string
	for _, s := range ts.sessions.snapshot() {
		if s.SessionID == wire.LocalSessionID {
			for _, h := range s.History {
				hist = append(hist, string(h.State))
			}
			if s.Account != localAccount || s.BilledSeconds < 0 {
				t.Errorf("snapshot %+v", s)
			}
		}
	}
	want := "ready WAITING ACTIVE SUSPENDED ACTIVE closing ready"
	if strings.Join(hist, " ") != want {
		t.Fatalf("history %v, want %s", hist, want)
	}
	ts.startLocal(t) // startable again
}

type localClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *localClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *localClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLocalOrphanTimeout: an orphaned session closes after the recover
// window (the runtime's orphan timeout) and the runtime is ready again; the
// coordinator's max session duration does not apply to the local session.
func TestLocalOrphanTimeout(t *testing.T) {
	clk := &localClock{t: time.Date(2026, 8, 21, 12, 0, 0, 0, time.UTC)}
	ts := newLocalServer(t, WithClock(clk.now))
	ts.startLocal(t)
	_ = ts.sessions.markActive(wire.LocalSessionID)
	clk.advance(ts.Scenario().Limits.MaxSessionDuration.D() * 3)
	if got := ts.localState(t); got != wire.RuntimeStreaming {
		t.Fatalf("after the coordinator's max duration: %s", got)
	}
	_ = ts.sessions.markSuspended(wire.LocalSessionID)
	clk.advance(ts.Scenario().Timings.RecoverWindow.D() - time.Second)
	if got := ts.localState(t); got != wire.RuntimeOrphaned {
		t.Fatalf("inside the window: %s", got)
	}
	clk.advance(2 * time.Second)
	if got := ts.localState(t); got != wire.RuntimeReady {
		t.Fatalf("after the window: %s", got)
	}
	ts.startLocal(t)
}

// TestLocalCoordinatorForce: the coordinator admin force on the local id
// maps onto runtime states.
func TestLocalCoordinatorForce(t *testing.T) {
	ts := newLocalServer(t)
	ts.localState(t) // first use creates the local session
	cases := []struct {
		force string
		want  wire.RuntimeState
	}{
		{"CREATED", wire.RuntimeCreated},
		{"CLOSED", wire.RuntimeReady},
		{"WAITING", wire.RuntimeWaiting},
		{"ACTIVE", wire.RuntimeStreaming},
		{"SUSPENDED", wire.RuntimeOrphaned},
		{"PENDING", wire.RuntimeCreated},
		{"INACTIVE", wire.RuntimeTerminated},
	}
	for _, c := range cases {
		r := ts.do(t, "POST", "/__admin/sessions/"+wire.LocalSessionID+"/state", nil, map[string]string{"state": c.force})
		if r.Status != 200 {
			t.Fatalf("force %s: %d %s", c.force, r.Status, r.Body)
		}
		if got := ts.localState(t); got != c.want {
			t.Fatalf("forced %s: state %s, want %s", c.force, got, c.want)
		}
	}
}

func TestLocalAdminAPI(t *testing.T) {
	ts := newLocalServer(t)
	var v localAdminView
	r := ts.do(t, "GET", "/__admin/local", nil, nil)
	r.JSON(t, &v)
	if r.Status != 200 || v.State != wire.RuntimeReady || v.Health.State != "available" || v.Descriptor.SessionID != wire.LocalSessionID {
		t.Fatalf("view %d %s", r.Status, r.Body)
	}
	r = ts.do(t, "POST", "/__admin/local/state", nil, map[string]string{"state": "Created"})
	r.JSON(t, &v)
	if r.Status != 200 || v.State != wire.RuntimeCreated {
		t.Fatalf("force: %d %s", r.Status, r.Body)
	}
	expectError(t, ts.do(t, "POST", "/__admin/local/state", nil, map[string]string{"state": "loading"}), 400)
	expectError(t, ts.do(t, "POST", "/__admin/local/state", nil, "{"), 400)
	if n := len(ts.Journal().Entries(Filter{PathPrefix: "/__admin"})); n != 0 {
		t.Fatalf("admin calls journaled: %d", n)
	}
}

// TestLocalNoAuthNeeded: local routes ignore Authorization and version
// headers entirely (the JS SDK sends "Bearer local" on transport calls,
// the API-version headers on session calls).
func TestLocalNoAuthNeeded(t *testing.T) {
	headers := map[string]http.Header{
		"none":           nil,
		"bearer local":   {wire.HeaderAuthorization: {wire.BearerPrefix + "local"}},
		"garbage bearer": {wire.HeaderAuthorization: {"Bearer not.a.jwt"}},
		"api versions":   currentHeaders(""),
		"future version": {wire.HeaderAPIVersion: {"99"}, wire.HeaderAPIAcceptVersion: {"99"}, wire.HeaderWebRTCVersion: {"9.9"}},
	}
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			ts := newLocalServer(t)
			steps := []struct {
				method, path string
				body         any
				status       int
			}{
				{"GET", "/health", nil, 200},
				{"GET", "/schema", nil, 200},
				{"GET", "/session", nil, 200},
				{"POST", "/start_session", "{}", 200},
				{"POST", wire.SessionPath(wire.LocalSessionID) + "/uploads", localUploadBody, 201},
				{"GET", wire.TransportBase(wire.LocalSessionID) + "/ice_servers", nil, 200},
				{"POST", "/stop_session", nil, 200},
			}
			for _, s := range steps {
				if r := ts.do(t, s.method, s.path, h, s.body); r.Status != s.status {
					t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, r.Status, r.Body, s.status)
				}
			}
		})
	}
}

func TestLocalUploads(t *testing.T) {
	ts := newLocalServer(t)
	path := wire.SessionPath(wire.LocalSessionID) + "/uploads"

	// Body shape first (422), then the session (400), as FastAPI orders them.
	expectError(t, ts.do(t, "POST", path, nil, `{"name":"a"}`), 422)
	r := ts.do(t, "POST", path, nil, localUploadBody)
	expectError(t, r, 400)
	if r.Detail() != "No session running" {
		t.Fatalf("detail %q", r.Detail())
	}

	ts.startLocal(t)
	r = ts.do(t, "POST", path, nil, localUploadBody)
	if r.Status != 201 {
		t.Fatalf("reserve: %d %s", r.Status, r.Body)
	}
	var up wire.UploadResponse
	r.JSON(t, &up)
	if !strings.HasPrefix(up.PresignedURL, ts.http.URL+"/uploads/") || strings.Contains(up.PresignedURL, "sig=") || up.PresignedID == "" {
		t.Fatalf("upload %+v", up)
	}
	info, ok := ts.uploads.lookup(up.PresignedID)
	if !ok || info.Signed || info.SessionID != wire.LocalSessionID {
		t.Fatalf("upload info %+v", info)
	}
	put := ts.do(t, "PUT", strings.TrimPrefix(up.PresignedURL, ts.http.URL), http.Header{wire.HeaderContentType: {"image/png"}}, []byte("abc"))
	if put.Status != 200 {
		t.Fatalf("PUT: %d %s", put.Status, put.Body)
	}

	cases := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"no body", nil, 422, ""},
		{"null", "null", 422, ""},
		{"malformed", "{", 400, ""},
		{"array", "[]", 422, ""},
		{"missing mime_type", `{"name":"a","size":1}`, 422, ""},
		{"null name", `{"name":null,"size":1,"mime_type":"t"}`, 422, ""},
		{"size not int", `{"name":"a","size":"1","mime_type":"t"}`, 422, ""},
		{"size fraction", `{"name":"a","size":1.5,"mime_type":"t"}`, 422, ""},
		{"empty name", `{"name":"","size":1,"mime_type":"t"}`, 400, "name is required"},
		{"empty mime_type", `{"name":"a","size":1,"mime_type":""}`, 400, "mime_type is required"},
		{"zero size", `{"name":"a","size":0,"mime_type":"t"}`, 400, "size must be > 0"},
		{"id taken", `{"name":"a","size":1,"mime_type":"t","upload_id":"` + up.PresignedID + `"}`, 409, "Upload id already reserved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, "POST", path, nil, c.body)
			expectError(t, r, c.status)
			if c.detail != "" && r.Detail() != c.detail {
				t.Fatalf("detail %q, want %q", r.Detail(), c.detail)
			}
		})
	}

	// Another session id goes to the coordinator's route: API-version
	// headers (426 without) and a bearer JWT (401 without) are required
	// there, and an unknown id is 404 Unknown session.
	other := wire.SessionPath("11111111-1111-4111-8111-111111111111") + "/uploads"
	expectError(t, ts.do(t, "POST", other, nil, localUploadBody), 426)
	expectError(t, ts.do(t, "POST", other, currentHeaders(""), localUploadBody), 401)
	jwt := ts.token(t, claims{Subject: mockAccount}, time.Hour)
	r = ts.do(t, "POST", other, currentHeaders(jwt), localUploadBody)
	expectError(t, r, 404)
	if r.Detail() != "Unknown session" {
		t.Fatalf("detail %q", r.Detail())
	}
	// The coordinator never sees the local session.
	if r := ts.do(t, "POST", path, currentHeaders(jwt), localUploadBody); r.Status != 201 { // the local route wins; auth is ignored
		t.Fatalf("local upload with a JWT: %d %s", r.Status, r.Body)
	}
	expectError(t, ts.do(t, "GET", wire.SessionPath(wire.LocalSessionID), currentHeaders(jwt), nil), 404)

	// Stopping the session forgets its uploads (RT clears its store).
	if r := ts.do(t, "POST", "/stop_session", nil, nil); r.Status != 200 {
		t.Fatalf("stop: %d", r.Status)
	}
	if _, ok := ts.uploads.lookup(up.PresignedID); ok {
		t.Fatal("upload survived stop_session")
	}
	expectError(t, ts.do(t, "POST", path, nil, localUploadBody), 400)
}

// TestLocalTransportRoutes: the plane's routes under the fixed id admit
// the local session exactly while it runs.
func TestLocalTransportRoutes(t *testing.T) {
	ts := newLocalServer(t)
	ice := wire.TransportBase(wire.LocalSessionID) + "/ice_servers"
	bearerLocal := http.Header{wire.HeaderAuthorization: {wire.BearerPrefix + "local"}, wire.HeaderWebRTCVersion: {"1.0"}}

	if e := ts.localTransportGuard(wire.LocalSessionID); e == nil || e.Status != 400 || e.Detail != "No session running" {
		t.Fatalf("guard before start: %v", e)
	}
	if e := ts.localTransportGuard("some-other-id"); e != nil {
		t.Fatalf("guard for another id: %v", e)
	}
	r := ts.do(t, "GET", ice, bearerLocal, nil)
	expectError(t, r, 400)
	if !strings.HasPrefix(r.Detail(), "No session running") {
		t.Fatalf("detail %q", r.Detail())
	}

	ts.startLocal(t)
	if e := ts.localTransportGuard(wire.LocalSessionID); e != nil {
		t.Fatalf("guard while running: %v", e)
	}
	if r := ts.do(t, "GET", ice, bearerLocal, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"ice_servers":[]`) {
		t.Fatalf("ice servers while running: %d %s", r.Status, r.Body)
	}
	for _, rs := range []wire.RuntimeState{wire.RuntimeStreaming, wire.RuntimeOrphaned} {
		ts.forceLocalT(t, rs)
		if r := ts.do(t, "GET", ice, nil, nil); r.Status != 200 {
			t.Fatalf("ice servers while %s: %d %s", rs, r.Status, r.Body)
		}
	}
	for _, rs := range []wire.RuntimeState{wire.RuntimeClosing, wire.RuntimeReady, wire.RuntimeCreated, wire.RuntimeTerminated} {
		ts.forceLocalT(t, rs)
		expectError(t, ts.do(t, "GET", ice, nil, nil), 400)
	}

	// Another id with a valid JWT: 404 Unknown session.
	jwt := ts.token(t, claims{Subject: mockAccount}, time.Hour)
	h := http.Header{wire.HeaderAuthorization: {wire.BearerPrefix + jwt}, wire.HeaderWebRTCVersion: {"1.0"}}
	r = ts.do(t, "GET", wire.TransportBase("11111111-1111-4111-8111-111111111111")+"/ice_servers", h, nil)
	expectError(t, r, 404)
	if r.Detail() != "Unknown session" {
		t.Fatalf("detail %q", r.Detail())
	}
}

// TestLocalStopTearsDownPlane: a connection registered on the local session
// is gone after stop_session, and the next session starts on a fresh plane.
func TestLocalStopTearsDownPlane(t *testing.T) {
	ts := newLocalServer(t)
	ts.startLocal(t)
	conns := wire.TransportBase(wire.LocalSessionID) + "/connections"
	r := ts.do(t, "POST", conns, nil, "{}")
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	if _, ok := ts.TransportSnapshot(wire.LocalSessionID); !ok {
		t.Fatal("no plane for the local session")
	}
	if r := ts.do(t, "POST", "/stop_session", nil, `{"reason":"bye"}`); r.Status != 200 {
		t.Fatalf("stop: %d %s", r.Status, r.Body)
	}
	if _, ok := ts.TransportSnapshot(wire.LocalSessionID); ok {
		t.Fatal("the plane survived stop_session")
	}
	expectError(t, ts.do(t, "POST", conns, nil, "{}"), 400)
	ts.startLocal(t)
	if r := ts.do(t, "POST", conns, nil, nil); r.Status != 201 {
		t.Fatalf("register after restart: %d %s", r.Status, r.Body)
	}
	if snap, ok := ts.TransportSnapshot(wire.LocalSessionID); !ok || len(snap.Connections) != 1 {
		t.Fatalf("plane after restart: %+v", snap)
	}
	// Forcing terminated (an eviction) tears it down too.
	ts.forceLocalT(t, wire.RuntimeTerminated)
	if _, ok := ts.TransportSnapshot(wire.LocalSessionID); ok {
		t.Fatal("the plane survived termination")
	}
}

func TestLocalReset(t *testing.T) {
	ts := newLocalServer(t)
	ts.startLocal(t)
	if r := ts.do(t, "POST", "/__admin/reset", nil, nil); r.Status != 204 {
		t.Fatalf("reset: %d", r.Status)
	}
	if got := ts.localState(t); got != wire.RuntimeReady {
		t.Fatalf("after reset %s", got)
	}
	ts.startLocal(t)
}

// TestLocalNotListedUntilUsed: a server that never serves local mode shows
// no local session in the admin API.
func TestLocalNotListedUntilUsed(t *testing.T) {
	ts := newLocalServer(t)
	if n := len(ts.sessions.snapshot()); n != 0 {
		t.Fatalf("%d sessions before any local call", n)
	}
	ts.do(t, "GET", "/health", nil, nil)
	if snaps := ts.sessions.snapshot(); len(snaps) != 1 || snaps[0].SessionID != wire.LocalSessionID || snaps[0].State != "ready" {
		t.Fatalf("snapshot %+v", snaps)
	}
}

func TestLocalJournal(t *testing.T) {
	ts := newLocalServer(t)
	ts.startLocal(t)
	ts.do(t, "POST", wire.SessionPath(wire.LocalSessionID)+"/uploads", nil, localUploadBody)
	ts.do(t, "POST", "/stop_session", nil, nil)
	ts.do(t, "GET", "/health", nil, nil)
	var got []string
	for _, e := range ts.Journal().Entries(Filter{}) {
		got = append(got, e.Method+" "+e.Path+" "+e.SessionID)
		if e.Auth != "none" || e.Status == 0 || e.Time == "" {
			t.Errorf("entry %+v", e)
		}
	}
	want := []string{
		"POST /start_session " + wire.LocalSessionID,
		"POST " + wire.SessionPath(wire.LocalSessionID) + "/uploads " + wire.LocalSessionID,
		"POST /stop_session " + wire.LocalSessionID,
		"GET /health ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("journal\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLocalConcurrentStartStop: of concurrent starts (and then stops)
// exactly one wins; the others get 409.
func TestLocalConcurrentStartStop(t *testing.T) {
	ts := newLocalServer(t)
	hc := ts.http.Client()
	race := func(path string) map[int]int {
		const n = 16
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				resp, err := hc.Post(ts.http.URL+path, wire.ContentTypeJSON, strings.NewReader("{}"))
				if err != nil {
					codes <- -1
					return
				}
				_ = resp.Body.Close()
				codes <- resp.StatusCode
			})
		}
		wg.Wait()
		close(codes)
		out := map[int]int{}
		for c := range codes {
			out[c]++
		}
		return out
	}
	if got := race("/start_session"); got[200] != 1 || got[409] != 15 {
		t.Fatalf("starts: %v", got)
	}
	if got := race("/stop_session"); got[200] != 1 || got[409] != 15 {
		t.Fatalf("stops: %v", got)
	}
	if got := ts.LocalState(); got != wire.RuntimeReady {
		t.Fatalf("state %s", got)
	}
}

// FuzzLocalBodies: no body makes a local route answer 5xx or panic (the
// runtime is ready or running, so the documented 503s cannot apply).
func FuzzLocalBodies(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `[]`, `"x"`, `0`, `{"extra_args":{"a":[1,{"b":null}]}}`,
		`{"moderate":true,"reason":"` + strings.Repeat("r", 70) + `"}`, `{"name":"a","size":-1,"mime_type":"t"}`,
		`{"name":"a","size":99999999999999999999,"mime_type":"t"}`, `{"name":"a","size":1,"mime_type":"t","upload_id":"../x"}`,
		"\x00", `{"session_id":{"nested":true}}`} {
		f.Add(s)
	}
	ts := newTestServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range []string{"/start_session", wire.SessionPath(wire.LocalSessionID) + "/uploads", "/stop_session"} {
			r := ts.do(t, "POST", p, nil, body)
			if r.Status >= 500 {
				t.Fatalf("POST %s %q: %d %s", p, body, r.Status, r.Body)
			}
		}
	})
}
