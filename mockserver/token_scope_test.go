package mockserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// mintHTTP mints through POST /tokens and returns the status and response.
func (e *sessEnv) mintHTTP(t testing.TB, body string) response {
	t.Helper()
	return e.do(t, "POST", "/tokens", keyHeader(e.APIKey()), body)
}

func (e *sessEnv) mintOK(t testing.TB, body string) string {
	t.Helper()
	r := e.mintHTTP(t, body)
	var tr wire.TokenResponse
	r.JSON(t, &tr)
	if r.Status != 200 || tr.JWT == "" {
		t.Fatalf("mint %s: %d %s", body, r.Status, r.Body)
	}
	return tr.JWT
}

func scopeBody(resources, constraints string) string {
	d := `{"type":"session"`
	if resources != "" {
		d += `,"resources":` + resources
	}
	if constraints != "" {
		d += `,"constraints":` + constraints
	}
	return `{"authorization_details":[` + d + `}]}`
}

// TestMintScopeValidation: every bad scope is refused at mint with 422 and
// a detail naming the field; good ones mint (PROTOCOL.md §9.1).
func TestMintScopeValidation(t *testing.T) {
	env := newSessEnv(t, nil)
	open := env.create(t, env.jwt)
	closed := env.create(t, env.jwt)
	env.force(t, closed, wire.StateClosed)
	deleted := env.create(t, env.jwt)
	if r := env.do(t, "DELETE", "/sessions/"+deleted, currentHeaders(env.jwt), nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	all := `{"models":{"all":true}}`
	bind := func(ids ...string) string {
		return `{"models":{"all":true},"sessions":{"bind":["` + strings.Join(ids, `","`) + `"]}}`
	}
	cases := []struct {
		name, body string
		status     int
		field      string // must appear in the detail
	}{
		{"match", scopeBody(`{"models":{"match":["helios"]}}`, ""), 200, ""},
		{"all", scopeBody(all, ""), 200, ""},
		{"bind open session", scopeBody(bind(open), ""), 200, ""},
		{"bind with budget", scopeBody(bind(open), `{"max_sessions":2}`), 200, ""},
		{"duration 1", scopeBody(all, `{"max_session_duration_seconds":1}`), 200, ""},
		{"duration 86400", scopeBody(all, `{"max_session_duration_seconds":86400}`), 200, ""},
		{"duration 0", scopeBody(all, `{"max_session_duration_seconds":0}`), 422, "max_session_duration_seconds"},
		{"duration 86401", scopeBody(all, `{"max_session_duration_seconds":86401}`), 422, "max_session_duration_seconds"},
		{"duration 100000", scopeBody(all, `{"max_session_duration_seconds":100000}`), 422, "max_session_duration_seconds"},
		{"duration negative", scopeBody(all, `{"max_session_duration_seconds":-5}`), 422, "max_session_duration_seconds"},
		{"duration fractional", scopeBody(all, `{"max_session_duration_seconds":1.5}`), 422, "max_session_duration_seconds"},
		{"duration string", scopeBody(all, `{"max_session_duration_seconds":"5"}`), 422, "max_session_duration_seconds"},
		{"bind missing session", scopeBody(bind("00000000-0000-4000-8000-000000000001"), ""), 422, "sessions.bind[0]"},
		{"bind second missing", scopeBody(bind(open, "nope"), ""), 422, "sessions.bind[1]"},
		{"bind closed session", scopeBody(bind(closed), ""), 422, "sessions.bind[0]"},
		{"bind deleted session", scopeBody(bind(deleted), ""), 422, "sessions.bind[0]"},
		{"bind empty", scopeBody(`{"models":{"all":true},"sessions":{"bind":[]}}`, ""), 422, "sessions.bind"},
		{"bind wrong type", scopeBody(`{"models":{"all":true},"sessions":{"bind":"x"}}`, ""), 422, "bind"},
		{"budget below bind", scopeBody(bind(open), `{"max_sessions":0}`), 422, "max_sessions"},
		{"no resources", scopeBody("", `{"max_sessions":1}`), 422, "resources.models"},
		{"no models", scopeBody(`{"sessions":{"bind":["`+open+`"]}}`, ""), 422, "resources.models"},
		{"empty match", scopeBody(`{"models":{"match":[]}}`, ""), 422, "models.match"},
		{"all false", scopeBody(`{"models":{"all":false}}`, ""), 422, "models.all"},
		{"match and all", scopeBody(`{"models":{"match":["helios"],"all":true}}`, ""), 422, "match and all"},
		{"empty models object", scopeBody(`{"models":{}}`, ""), 422, "models.match"},
		{"empty constraints", scopeBody(all, `{}`), 422, "constraints"},
		{"empty details array", `{"authorization_details":[]}`, 422, "authorization_details"},
		{"unknown top-level field", `{"expires_after":60,"scope":"all"}`, 422, `"scope"`},
		{"unknown detail field", `{"authorization_details":[{"type":"session","resources":{"models":{"all":true}},"actions":["x"]}]}`, 422, `authorization_details[0].actions`},
		{"unknown resource", scopeBody(`{"models":{"all":true},"uploads":{}}`, ""), 422, `authorization_details[0].resources.uploads`},
		{"unknown constraint", scopeBody(all, `{"max_gpus":1}`), 422, `authorization_details[0].constraints.max_gpus`},
		{"unknown models field", scopeBody(`{"models":{"any":true}}`, ""), 422, `authorization_details[0].resources.models.any`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.mintHTTP(t, c.body)
			if c.status == 200 {
				if r.Status != 200 {
					t.Fatalf("refused %s: %d %s", c.body, r.Status, r.Body)
				}
				return
			}
			expectError(t, r, c.status)
			if !strings.Contains(r.Detail(), c.field) {
				t.Errorf("detail %q does not name %s", r.Detail(), c.field)
			}
		})
	}
	// Nothing stored was lost by the refusals.
	for _, id := range []string{open, closed} {
		if s := env.snapshot(t, id); s.Deleted {
			t.Errorf("session %s lost", id)
		}
	}
}

// TestBoundToken: a bind-only token cannot create (403), acts on its bound
// session, and is refused (403) on any other.
func TestBoundToken(t *testing.T) {
	env := newSessEnv(t, nil)
	target := env.create(t, env.jwt)
	other := env.create(t, env.jwt)
	bound := env.mintOK(t, scopeBody(`{"models":{"all":true},"sessions":{"bind":["`+target+`"]}}`, ""))

	r := env.do(t, "POST", "/sessions", currentHeaders(bound), createBody("helios"))
	expectError(t, r, http.StatusForbidden)
	if !strings.Contains(r.Detail(), "sessions.bind") {
		t.Errorf("create detail %q does not say why", r.Detail())
	}
	for _, path := range []string{"", "/info"} {
		if r := env.do(t, "GET", "/sessions/"+target+path, currentHeaders(bound), nil); r.Status != 200 {
			t.Errorf("GET bound session%s: %d %s", path, r.Status, r.Body)
		}
		r := env.do(t, "GET", "/sessions/"+other+path, currentHeaders(bound), nil)
		expectError(t, r, http.StatusForbidden)
		if !strings.Contains(r.Detail(), "sessions.bind") {
			t.Errorf("foreign-session detail %q", r.Detail())
		}
	}
	if r := env.do(t, "DELETE", "/sessions/"+target, currentHeaders(bound), nil); r.Status != 204 {
		t.Errorf("DELETE bound session: %d %s", r.Status, r.Body)
	}

	// A bind with a model list or a budget may create; the budget counts the bind.
	t2 := env.create(t, env.jwt)
	withBudget := env.mintOK(t, scopeBody(`{"models":{"all":true},"sessions":{"bind":["`+t2+`"]}}`, `{"max_sessions":2}`))
	env.create(t, withBudget)
	r = env.do(t, "POST", "/sessions", currentHeaders(withBudget), createBody("helios"))
	expectError(t, r, http.StatusForbidden)
	withModels := env.mintOK(t, scopeBody(`{"models":{"match":["helios"]},"sessions":{"bind":["`+t2+`"]}}`, ""))
	env.create(t, withModels)
}

// TestTokenDurationLimit: a session created under
// max_session_duration_seconds is CLOSED when it elapses, billing stops
// then, the history and journal say why, and the admin API shows the scope.
func TestTokenDurationLimit(t *testing.T) {
	env := newSessEnv(t, func(sc *Scenario) { sc.Timings.PendingPolls = 0 })
	jwt := env.mintOK(t, scopeBody(`{"models":{"match":["helios"]}}`, `{"max_session_duration_seconds":5}`))
	id := env.create(t, jwt)
	env.get(t, id)
	env.clock.Advance(time.Second)
	if err := env.sessions.markActive(id); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(3 * time.Second) // t=4
	if s := env.snapshot(t, id); s.State != wire.StateActive {
		t.Fatalf("at 4 s: %s", s.State)
	}
	env.clock.Advance(10 * time.Second) // t=14
	s := env.snapshot(t, id)
	if s.State != wire.StateClosed || s.BilledSeconds != 4 {
		t.Fatalf("after the limit: state %s billed %v s, want CLOSED and 4 (ready at 1 s, limit at 5 s)", s.State, s.BilledSeconds)
	}
	last := s.History[len(s.History)-1]
	if !strings.Contains(last.Reason, "max_session_duration_seconds") || last.At.Sub(s.CreatedAt) != 5*time.Second {
		t.Errorf("last history entry %+v", last)
	}
	if s.MaxSessionDurationSeconds != 5 || s.TokenScope == nil || s.TokenScope.Constraints == nil ||
		*s.TokenScope.Constraints.MaxSessionDurationSeconds != 5 || s.TokenScope.Resources.Models.Match[0] != "helios" {
		t.Errorf("admin scope: %+v %s", s.TokenScope, mustJSON(t, s.TokenScope))
	}
	waitJournalEnd(t, env.testServer, id, "max_session_duration_seconds")

	// An unscoped session shows no scope.
	plain := env.create(t, env.jwt)
	if s := env.snapshot(t, plain); s.TokenScope != nil || s.MaxSessionDurationSeconds != 0 {
		t.Errorf("unscoped session shows a scope: %+v", s)
	}
}

// TestTokenDurationLimitOnTime: on the real clock, nobody polling, the
// session still ends when its 1 s limit falls due.
func TestTokenDurationLimitOnTime(t *testing.T) {
	ts := newTestServer(t)
	env := &sessEnv{testServer: ts}
	jwt := env.mintOK(t, scopeBody(`{"models":{"all":true}}`, `{"max_session_duration_seconds":1}`))
	id := env.create(t, jwt)
	waitJournalEnd(t, ts, id, "max_session_duration_seconds")
	st := ts.sessions.snapshot()
	if len(st) != 1 || st[0].State != wire.StateClosed {
		t.Fatalf("after the limit: %+v", st)
	}
	if d := st[0].TerminatedAt.Sub(st[0].CreatedAt); d < time.Second || d > 2*time.Second {
		t.Errorf("terminated %s after creation, want the 1 s limit", d)
	}
}

func waitJournalEnd(t *testing.T, ts *testServer, id, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range ts.journal.Entries(Filter{SessionID: id}) {
			if e.Type == "session_ended" {
				if !strings.Contains(e.Detail, why) {
					t.Fatalf("journal says %q, want it to name %s", e.Detail, why)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(fmt.Sprintf("no session_ended journal entry for %s", id))
}

// FuzzMintTokenBody: any POST /tokens body is answered 200, or 400/413/422
// with a {"detail"}; never a 5xx. A minted token verifies and its scope
// passes mint validation again (what the JWT carries is what was granted).
func FuzzMintTokenBody(f *testing.F) {
	for _, seed := range []string{
		"", "null", "{}", `{"expires_after":60}`,
		scopeBody(`{"models":{"match":["helios"]}}`, `{"max_sessions":2}`),
		scopeBody(`{"models":{"all":true},"sessions":{"bind":["x"]}}`, ""),
		scopeBody(`{"models":{"all":true}}`, `{"max_session_duration_seconds":86400}`),
		`{"authorization_details":[{"type":"session","resources":{"models":{"all":true}},"extra":1}]}`,
		`{"authorization_details":[]}`, `[]`, `{"expires_after":`,
	} {
		f.Add(seed)
	}
	ts := newTestServer(f)
	env := &sessEnv{testServer: ts}
	f.Fuzz(func(t *testing.T, body string) {
		r := env.mintHTTP(t, body)
		switch r.Status {
		case 200:
			var tr wire.TokenResponse
			r.JSON(t, &tr)
			c, e := ts.tokens.verify(tr.JWT)
			if e != nil {
				t.Fatalf("minted token does not verify: %v", e)
			}
			if d := c.detail(); d != nil {
				again := wire.TokenRequest{AuthorizationDetails: []wire.AuthorizationDetail{*d}}
				if _, e := scopeFromRequest(again, func(string) error { return nil }); e != nil {
					t.Fatalf("the minted scope %s does not validate: %s", mustJSON(t, d), e.Detail)
				}
			}
		case 400, 413, 422:
			if r.Detail() == "" {
				t.Fatalf("%d without detail: %s", r.Status, r.Body)
			}
		default:
			t.Fatalf("status %d for body %q: %s", r.Status, body, r.Body)
		}
	})
}
