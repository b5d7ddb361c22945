package mockserver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// legacyHeaders are what JS 2.2.1 sends: a bearer and no version headers.
func legacyHeaders(jwt string) http.Header {
	h := http.Header{}
	h.Set(wire.HeaderAuthorization, wire.BearerPrefix+jwt)
	return h
}

// echoAnswerer answers "answer:<offer>" or fails for offers containing "bad".
type echoAnswerer struct {
	mu     sync.Mutex
	calls  []string
	block  chan struct{} // when non-nil, answers wait for it (or ctx)
	cancel int
}

func (a *echoAnswerer) AnswerLegacy(ctx context.Context, sessionID, offer string) (string, error) {
	a.mu.Lock()
	a.calls = append(a.calls, offer)
	block := a.block
	a.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			a.mu.Lock()
			a.cancel++
			a.mu.Unlock()
			return "", ctx.Err()
		}
	}
	if strings.Contains(offer, "bad") {
		return "", errors.New("offer has no media sections")
	}
	return "answer:" + offer, nil
}

func newLegacyEnv(t testing.TB, mutate func(*Scenario)) *sessEnv {
	return newSessEnv(t, func(sc *Scenario) {
		sc.Profile = ProfileLegacy
		if mutate != nil {
			mutate(sc)
		}
	})
}

func legacyCreate(t testing.TB, env *sessEnv, offer string) string {
	t.Helper()
	r := env.do(t, "POST", "/sessions", legacyHeaders(env.jwt),
		map[string]any{"model": map[string]any{"name": "helios"}, "sdp_offer": offer, "extra_args": map[string]any{}})
	if r.Status != http.StatusOK {
		t.Fatalf("legacy create: %d %s", r.Status, r.Body)
	}
	var b map[string]any
	r.JSON(t, &b)
	id, _ := b["session_id"].(string)
	if len(b) != 1 || !uuidV4.MatchString(id) {
		t.Fatalf("legacy create body %s, want exactly {session_id: uuid v4}", r.Body)
	}
	return id
}

// pollSDP polls GET sdp_params until 200 or n attempts, returning the answer.
func pollSDP(t testing.TB, env *sessEnv, id string, n int) (string, int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		r := env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil)
		switch r.Status {
		case http.StatusOK:
			var p map[string]any
			r.JSON(t, &p)
			if _, ok := p["extra_args"].(map[string]any); !ok {
				t.Fatalf("answer without extra_args object: %s", r.Body)
			}
			return p["sdp_answer"].(string), i
		case http.StatusAccepted:
			time.Sleep(time.Millisecond)
		default:
			t.Fatalf("poll %d: %d %s", i, r.Status, r.Body)
		}
	}
	return "", n
}

func TestLegacySessionRoutes426InCurrentProfile(t *testing.T) {
	env := newSessEnv(t, nil)
	id := env.create(t, env.jwt)
	for _, rt := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/ice_servers?model=helios", nil},
		{"GET", "/sessions/" + id + "/sdp_params", nil},
		{"PUT", "/sessions/" + id + "/sdp_params", `{"sdp_offer":"v=0","extra_args":{}}`},
	} {
		for _, h := range []http.Header{legacyHeaders(env.jwt), currentHeaders(env.jwt)} {
			r := env.do(t, rt.method, rt.path, h, rt.body)
			expectError(t, r, http.StatusUpgradeRequired)
			if !strings.HasPrefix(r.Detail(), "CLIENT_VERSION_TOO_OLD") {
				t.Errorf("%s %s: %q", rt.method, rt.path, r.Detail())
			}
		}
	}
	// The old create body with current headers: 426 from the handler.
	r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), `{"model":{"name":"helios"},"sdp_offer":"v=0","extra_args":{}}`)
	expectError(t, r, http.StatusUpgradeRequired)
	if !strings.Contains(r.Detail(), "upgrade") {
		t.Errorf("detail %q does not tell the client to upgrade", r.Detail())
	}
}

func TestLegacySessionFlowWithoutAnswerer(t *testing.T) {
	env := newLegacyEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
	env.sessions.setLegacyAnswerer(nil) // this test scripts the answer by hand
	r := env.do(t, "GET", "/ice_servers?model=helios", legacyHeaders(env.jwt), nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"ice_servers":[]}` {
		t.Fatalf("ice_servers: %d %s", r.Status, r.Body)
	}
	expectError(t, env.do(t, "GET", "/ice_servers?model=nope", legacyHeaders(env.jwt), nil), 404)
	id := legacyCreate(t, env, "v=0 offer")
	for range 5 {
		r := env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil)
		if r.Status != http.StatusAccepted || len(r.Body) != 0 {
			t.Fatalf("no answerer: %d %q, want 202 with an empty body", r.Status, r.Body)
		}
	}
	r = env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"v=0 again","extra_args":{}}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	// The session appears in the admin view as a legacy session.
	if s := env.snapshot(t, id); !s.Legacy || s.State != wire.StateWaiting {
		t.Errorf("snapshot %+v", s)
	}
}

func TestLegacySessionFlowWithAnswerer(t *testing.T) {
	env := newLegacyEnv(t, func(sc *Scenario) {
		sc.Timings.PendingPolls = 2
		sc.Timings.SDPAnswerPolls = 1
	})
	ans := &echoAnswerer{}
	env.sessions.setLegacyAnswerer(ans)
	id := legacyCreate(t, env, "offer-1")

	// Two PENDING polls, then WAITING starts the answer; one 202 once it
	// exists (SDPAnswerPolls=1), then 200 once; later GETs are 202 again.
	answer, n := pollSDP(t, env, id, 200)
	if answer != "answer:offer-1" || n < 4 {
		t.Fatalf("answer %q after %d polls", answer, n)
	}
	if r := env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil); r.Status != 202 {
		t.Fatalf("answer not consumed on read: %d", r.Status)
	}
	// Reconnect: a new offer, a new answer.
	r := env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"offer-2","extra_args":{}}`)
	if r.Status != 202 {
		t.Fatalf("PUT %d %s", r.Status, r.Body)
	}
	if answer, _ := pollSDP(t, env, id, 200); answer != "answer:offer-2" {
		t.Fatalf("reconnect answer %q", answer)
	}
	// An offer the answerer rejects is a 400 until a new offer arrives.
	env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"bad offer","extra_args":{}}`)
	var got response
	for range 200 {
		got = env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil)
		if got.Status != 202 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	expectError(t, got, http.StatusBadRequest)
	if !strings.Contains(got.Detail(), "no media sections") {
		t.Errorf("detail %q", got.Detail())
	}
	env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"offer-3","extra_args":{}}`)
	if answer, _ := pollSDP(t, env, id, 200); answer != "answer:offer-3" {
		t.Fatalf("answer after a failure %q", answer)
	}
}

func TestLegacySessionNewOfferCancelsNegotiation(t *testing.T) {
	env := newLegacyEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
	ans := &echoAnswerer{block: make(chan struct{})}
	env.sessions.setLegacyAnswerer(ans)
	id := legacyCreate(t, env, "slow")
	if r := env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil); r.Status != 202 {
		t.Fatalf("%d", r.Status)
	}
	env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"fast","extra_args":{}}`)
	// Wait (bounded) until the first negotiation saw its cancellation, then
	// let the second one answer.
	for i := 0; ; i++ {
		ans.mu.Lock()
		c := ans.cancel
		ans.mu.Unlock()
		if c == 1 {
			break
		}
		if i == 5000 {
			t.Fatal("the superseded negotiation was never cancelled")
		}
		time.Sleep(time.Millisecond)
	}
	close(ans.block)
	if answer, _ := pollSDP(t, env, id, 500); answer != "answer:fast" {
		t.Fatalf("answer %q; a superseded negotiation must not win", answer)
	}
	ans.mu.Lock()
	defer ans.mu.Unlock()
	if ans.cancel != 1 {
		t.Errorf("superseded negotiation cancelled %d times, want 1", ans.cancel)
	}
}

func TestLegacySessionBodiesAndStates(t *testing.T) {
	env := newLegacyEnv(t, nil)
	id := legacyCreate(t, env, "v=0")
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"create empty offer", "POST", "/sessions", `{"model":{"name":"helios"},"sdp_offer":"","extra_args":{}}`, 422},
		{"create unknown model", "POST", "/sessions", `{"model":{"name":"x"},"sdp_offer":"v=0"}`, 404},
		{"create no model", "POST", "/sessions", `{"sdp_offer":"v=0"}`, 422},
		{"put no body", "PUT", "/sessions/" + id + "/sdp_params", nil, 422},
		{"put malformed", "PUT", "/sessions/" + id + "/sdp_params", `{"sdp_offer":`, 400},
		{"put wrong type", "PUT", "/sessions/" + id + "/sdp_params", `{"sdp_offer":1}`, 422},
		{"put unknown session", "PUT", "/sessions/nope/sdp_params", `{"sdp_offer":"v=0"}`, 404},
		{"get unknown session", "GET", "/sessions/nope/sdp_params", nil, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.do(t, c.method, c.path, legacyHeaders(env.jwt), c.body)
			noServerError(t, r)
			expectError(t, r, c.status)
		})
	}
	// The old client reads a numeric state; a current client in the legacy
	// profile still gets the current body.
	r := env.do(t, "GET", "/sessions/"+id, legacyHeaders(env.jwt), nil)
	var old map[string]any
	r.JSON(t, &old)
	if old["state"] != 1.0 || old["state_name"] != "PENDING" || old["session_id"] != id {
		t.Errorf("legacy status body %s", r.Body)
	}
	cur := env.get(t, id)
	if cur.State != wire.StateWaiting {
		t.Errorf("current body state %s", cur.State)
	}
	// A current client is fully served in the legacy profile.
	env.create(t, env.jwt)
	// Closed sessions refuse offers; deleted ones are unknown.
	env.force(t, id, wire.StateClosed)
	expectError(t, env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"v=0"}`), 409)
	expectError(t, env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil), 409)
	env.do(t, "DELETE", "/sessions/"+id, legacyHeaders(env.jwt), nil)
	expectError(t, env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil), 404)
	expectError(t, env.do(t, "PUT", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), `{"sdp_offer":"v=0"}`), 404)
}

func TestLegacySessionCloseAllCancelsNegotiations(t *testing.T) {
	env := newLegacyEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
	ans := &echoAnswerer{block: make(chan struct{})}
	env.sessions.setLegacyAnswerer(ans)
	id := legacyCreate(t, env, "slow")
	env.do(t, "GET", "/sessions/"+id+"/sdp_params", legacyHeaders(env.jwt), nil)
	done := make(chan struct{})
	go func() { env.sessions.closeAll(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("closeAll did not return")
	}
	ans.mu.Lock()
	defer ans.mu.Unlock()
	if ans.cancel != 1 {
		t.Errorf("negotiation not cancelled (%d)", ans.cancel)
	}
}
