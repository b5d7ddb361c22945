package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Local runtime API, PROTOCOL.md §1.4 (served by reactor-runtime at
// http://localhost:8080 without auth or version headers): /start_session,
// /session, /stop_session, /health, /schema, uploads, and the transport
// routes under the fixed session id 00000000-0000-0000-0000-000000000000.
// The runtime hosts one session at a time, so these cases run Serial and
// leave the runtime idle.

func init() {
	register(Case{ID: "local/1", Section: "1.4", Serial: true, Check: localStart,
		Requirement: "POST /start_session MUST answer 200 with the descriptor: the fixed session id, a lowercase runtime state, cluster, model.name, server_info, selected_transport and capabilities"})
	register(Case{ID: "local/2", Section: "1.4", Serial: true, Check: localStartTwice,
		Requirement: "a second POST /start_session while a session runs MUST answer 409"})
	register(Case{ID: "local/3", Section: "1.4", Serial: true, Check: localGetSession,
		Requirement: "GET /session MUST answer 200 with the running session's descriptor (same fixed id, running state)"})
	register(Case{ID: "local/4", Section: "1.4", Serial: true, Check: localNoAuth,
		Requirement: "local routes, transport routes under the fixed id included, MUST work without Authorization and version headers"})
	register(Case{ID: "local/5", Section: "1.4", Serial: true, Check: localStop,
		Requirement: "POST /stop_session MUST answer 200 while a session runs, and 409 when nothing runs"})
	register(Case{ID: "local/6", Section: "1.4", Serial: true, Check: localHealth,
		Requirement: "GET /health MUST answer {status: healthy|unhealthy, state: loading|available|serving|terminated}: serving while a session runs, available once stopped"})
	register(Case{ID: "local/7", Section: "1.3", Serial: true, Check: localTransportIdle,
		Requirement: "transport routes under the fixed session id MUST answer 400 (No session running) while no session runs"})
	register(Case{ID: "local/8", Section: "1.4", Serial: true, Check: localSchema,
		Requirement: "GET /schema MUST answer 200 with the model's OpenAPI 3.1 document (openapi, paths)"})
	register(Case{ID: "local/9", Section: "1.2", Serial: true, Check: localUpload,
		Requirement: "POST /sessions/{fixed id}/uploads MUST answer 201 and its presigned_url MUST take the bytes without any signature or auth"})
	register(Case{ID: "local/10", Section: "1.4", Serial: true, Check: localStopReasonTooLong,
		Requirement: "POST /stop_session with a reason longer than 64 characters MUST be refused with 422 and leave the session running"})
}

// local sends a local-runtime call: no Authorization, no version headers.
func (r *Run) local(ctx context.Context, method, path string, body any) (*Resp, error) {
	if r.T.LocalURL == "" {
		return nil, skipf("no local-runtime target: set %s or --reactor.local-url to a reactor-runtime base URL (the embedded mock serves it itself)", EnvLocalURL)
	}
	return r.send(ctx, method, r.T.LocalURL+path, nil, body)
}

func runningState(s wire.RuntimeState) bool { return s.Running() }

// localDescriptor reads GET /session.
func (r *Run) localDescriptor(ctx context.Context) (*wire.LocalSessionDescriptor, *Resp, error) {
	resp, err := r.local(ctx, http.MethodGet, "/session", nil)
	if err != nil {
		return nil, nil, err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return nil, resp, err
	}
	var d wire.LocalSessionDescriptor
	if err := resp.JSON(&d); err != nil {
		return nil, resp, err
	}
	return &d, resp, nil
}

// localIdle stops a running local session and waits (bounded) until the
// runtime is idle; it also registers a stop on cleanup.
func (r *Run) localIdle(ctx context.Context) error {
	if r.T.LocalURL == "" {
		return skipf("no local-runtime target: set %s or --reactor.local-url to a reactor-runtime base URL (the embedded mock serves it itself)", EnvLocalURL)
	}
	r.onCleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = r.local(cctx, http.MethodPost, "/stop_session", nil)
	})
	deadline := time.Now().Add(r.T.ReadyTimeout)
	for {
		d, resp, err := r.localDescriptor(ctx)
		if err != nil {
			return fmt.Errorf("setup: reading the runtime's state: %w", err)
		}
		switch {
		case d.State == wire.RuntimeReady:
			return nil
		case runningState(d.State):
			if _, err := r.local(ctx, http.MethodPost, "/stop_session", nil); err != nil {
				return err
			}
		case d.State == wire.RuntimeTerminated:
			return fail(resp, "setup: the runtime is terminated; restart it to run the local-runtime cases")
		}
		if time.Now().After(deadline) {
			return fail(resp, "setup: the runtime did not become idle (ready) within %s; last state %q", r.T.ReadyTimeout, d.State)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// localStarted is the setup of the cases that need a running session: the
// runtime idle, then a session started.
func (r *Run) localStarted(ctx context.Context) error {
	if err := r.localIdle(ctx); err != nil {
		return err
	}
	if _, err := r.localStartSession(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// localStartSession starts a session (waiting out 503 + Retry-After while
// the model loads, bounded) and returns the 200 answer.
func (r *Run) localStartSession(ctx context.Context) (*Resp, error) {
	deadline := time.Now().Add(r.T.ReadyTimeout)
	for {
		resp, err := r.local(ctx, http.MethodPost, "/start_session", rawJSON("{}"))
		if err != nil {
			return nil, err
		}
		if resp.Status == http.StatusServiceUnavailable && resp.Header.Get(wire.HeaderRetryAfter) != "" && time.Now().Before(deadline) {
			n, _ := strconv.Atoi(resp.Header.Get(wire.HeaderRetryAfter))
			if err := sleep(ctx, time.Duration(max(n, 1))*time.Second); err != nil {
				return nil, err
			}
			continue
		}
		return resp, wantStatus(resp, http.StatusOK)
	}
}

func checkDescriptor(p *problems, m map[string]any) {
	if id := requireString(p, m, "session_id"); id != "" && id != wire.LocalSessionID {
		p.add("session_id is %q, a local runtime always uses %s", id, wire.LocalSessionID)
	}
	if st := requireString(p, m, "state"); st != "" && st != strings.ToLower(st) {
		p.add("state %q must be the runtime's lowercase vocabulary (waiting, streaming, ...)", st)
	}
	if v, ok := field(m, "cluster"); !ok {
		p.add("\"cluster\" is missing")
	} else if _, isStr := v.(string); !isStr {
		p.add("\"cluster\" must be a string, got %s", jsonOf(v))
	}
	requireString(p, m, "model.name")
	if _, ok := field(m, "server_info.server_version"); !ok {
		p.add("\"server_info.server_version\" is missing")
	}
	if proto, _ := field(m, "selected_transport.protocol"); proto != wire.TransportProtocolWebRTC {
		p.add("selected_transport.protocol is %s, expected \"webrtc\"", jsonOf(proto))
	}
	caps, ok := m["capabilities"].(map[string]any)
	if !ok {
		p.add("capabilities must be an object once the model is loaded, got %s", jsonOf(m["capabilities"]))
		return
	}
	checkCapabilities(p, caps)
}

func localStart(ctx context.Context, r *Run) error {
	if err := r.localIdle(ctx); err != nil {
		return err
	}
	resp, err := r.localStartSession(ctx)
	if err != nil {
		return err
	}
	m, err := resp.Object()
	if err != nil {
		return err
	}
	var p problems
	checkDescriptor(&p, m)
	if st, _ := m["state"].(string); st != "" && !runningState(wire.RuntimeState(st)) {
		p.add("state is %q right after a start; expected waiting (or streaming/orphaned)", st)
	}
	return p.err(resp, "the /start_session descriptor does not have the documented shape")
}

func localStartTwice(ctx context.Context, r *Run) error {
	if err := r.localStarted(ctx); err != nil {
		return err
	}
	again, err := r.local(ctx, http.MethodPost, "/start_session", rawJSON("{}"))
	if err != nil {
		return err
	}
	return wantStatus(again, http.StatusConflict)
}

func localGetSession(ctx context.Context, r *Run) error {
	if err := r.localStarted(ctx); err != nil {
		return err
	}
	_, resp, err := r.localDescriptor(ctx)
	if err != nil {
		return err
	}
	m, err := resp.Object()
	if err != nil {
		return err
	}
	var p problems
	checkDescriptor(&p, m)
	if st, _ := m["state"].(string); !runningState(wire.RuntimeState(st)) {
		p.add("state is %q while a session runs; expected waiting, streaming or orphaned", st)
	}
	return p.err(resp, "GET /session does not describe the running session")
}

func localNoAuth(ctx context.Context, r *Run) error {
	if err := r.localIdle(ctx); err != nil {
		return err
	}
	if _, err := r.localStartSession(ctx); err != nil {
		return fmt.Errorf("starting a session without Authorization: %w", err)
	}
	for _, path := range []string{
		wire.TransportBase(wire.LocalSessionID) + "/ice_servers",
	} {
		resp, err := r.local(ctx, http.MethodGet, path, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, http.StatusOK); err != nil {
			return fmt.Errorf("a transport route under the fixed id without auth or version headers: %w", err)
		}
	}
	reg, err := r.local(ctx, http.MethodPost, wire.TransportBase(wire.LocalSessionID)+"/connections", nil)
	if err != nil {
		return err
	}
	if _, err := checkRegistration(reg); err != nil {
		return fmt.Errorf("registering a connection without auth or version headers: %w", err)
	}
	return nil
}

func localStop(ctx context.Context, r *Run) error {
	if err := r.localStarted(ctx); err != nil {
		return err
	}
	stop, err := r.local(ctx, http.MethodPost, "/stop_session", nil)
	if err != nil {
		return err
	}
	if err := wantStatus(stop, http.StatusOK); err != nil {
		return err
	}
	// Wait (bounded) for closing to finish, then a second stop is a conflict.
	if _, err := waitFor(ctx, 5*time.Second, func() bool {
		d, _, err := r.localDescriptor(ctx)
		return err == nil && d.State == wire.RuntimeReady
	}); err != nil {
		return err
	}
	again, err := r.local(ctx, http.MethodPost, "/stop_session", nil)
	if err != nil {
		return err
	}
	return wantStatus(again, http.StatusConflict)
}

func (r *Run) health(ctx context.Context) (*wire.HealthResponse, *Resp, error) {
	resp, err := r.local(ctx, http.MethodGet, "/health", nil)
	if err != nil {
		return nil, nil, err
	}
	if err := wantStatus(resp, http.StatusOK, http.StatusServiceUnavailable); err != nil {
		return nil, resp, err
	}
	var h wire.HealthResponse
	if err := resp.JSON(&h); err != nil {
		return nil, resp, err
	}
	var p problems
	if h.Status != "healthy" && h.Status != "unhealthy" {
		p.add("status is %q, expected healthy or unhealthy", h.Status)
	}
	switch h.State {
	case "loading", "available", "serving", "terminated":
	default:
		p.add("state is %q, expected loading, available, serving or terminated", h.State)
	}
	return &h, resp, p.err(resp, "GET /health does not have the documented shape")
}

func localHealth(ctx context.Context, r *Run) error {
	if err := r.localStarted(ctx); err != nil {
		return err
	}
	h, resp, err := r.health(ctx)
	if err != nil {
		return err
	}
	if h.State != "serving" {
		return fail(resp, "health state is %q while a session runs, expected serving", h.State)
	}
	if _, err := r.local(ctx, http.MethodPost, "/stop_session", nil); err != nil {
		return err
	}
	var last *wire.HealthResponse
	var lastResp *Resp
	ok, err := waitFor(ctx, 5*time.Second, func() bool {
		last, lastResp, err = r.health(ctx)
		return err == nil && last.State == "available"
	})
	if err != nil {
		return err
	}
	if !ok {
		state := "unknown"
		if last != nil {
			state = last.State
		}
		return fail(lastResp, "health state is still %q 5 s after /stop_session, expected available", state)
	}
	return nil
}

func localTransportIdle(ctx context.Context, r *Run) error {
	if err := r.localIdle(ctx); err != nil {
		return err
	}
	resp, err := r.local(ctx, http.MethodGet, wire.TransportBase(wire.LocalSessionID)+"/ice_servers", nil)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusBadRequest)
}

func localSchema(ctx context.Context, r *Run) error {
	resp, err := r.local(ctx, http.MethodGet, "/schema", nil)
	if err != nil {
		return err
	}
	m, err := wantObject(resp, http.StatusOK)
	if err != nil {
		return err
	}
	var p problems
	if v := requireString(&p, m, "openapi"); v != "" && !strings.HasPrefix(v, "3.1") {
		p.add("openapi is %q, expected 3.1.x", v)
	}
	if _, ok := m["paths"].(map[string]any); !ok {
		p.add("\"paths\" must be an object (client-triggerable events live under /events/<name>)")
	}
	return p.err(resp, "GET /schema is not the model's OpenAPI 3.1 document")
}

func localUpload(ctx context.Context, r *Run) error {
	if err := r.localStarted(ctx); err != nil {
		return err
	}
	resp, err := r.local(ctx, http.MethodPost, wire.SessionPath(wire.LocalSessionID)+"/uploads",
		wire.UploadRequest{Name: "local.png", Size: 32, MimeType: "image/png"})
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusCreated); err != nil {
		return err
	}
	var up wire.UploadResponse
	if err := resp.JSON(&up); err != nil {
		return err
	}
	if up.PresignedURL == "" {
		return fail(resp, "presigned_url is missing")
	}
	put, err := r.putBytes(ctx, up.PresignedURL, payload(32), 32)
	if err != nil {
		return err
	}
	return want2xx(put, http.StatusOK)
}

func localStopReasonTooLong(ctx context.Context, r *Run) error {
	if err := r.localStarted(ctx); err != nil {
		return err
	}
	resp, err := r.local(ctx, http.MethodPost, "/stop_session",
		wire.StopSessionRequest{Reason: strings.Repeat("r", wire.MaxStopReasonLength+1)})
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusUnprocessableEntity); err != nil {
		return err
	}
	d, dresp, err := r.localDescriptor(ctx)
	if err != nil {
		return err
	}
	if !runningState(d.State) {
		return fail(dresp, "a refused stop must leave the session running, but the state is %q", d.State)
	}
	return nil
}
