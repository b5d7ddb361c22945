package mockserver

import (
	"net/http"
	"strings"
	"testing"
)

// GET /metrics serves the mock's own metrics without a token: requests by
// route and status, sessions by state; it is not journaled.
func TestMetricsEndpoint(t *testing.T) {
	env := newSessEnv(t, nil)
	if r := env.do(t, "POST", "/sessions", currentHeaders(env.jwt), createBody("helios")); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	env.do(t, "POST", "/sessions", currentHeaders(""), createBody("helios")) // 401
	before := len(env.journal.Entries(Filter{}))
	r := env.do(t, "GET", "/metrics", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.Status, r.Body)
	}
	body := string(r.Body)
	for _, want := range []string{
		`reactor_mock_http_requests_total{code="201",route="POST /sessions"} 1`,
		`reactor_mock_http_requests_total{code="401",route="POST /sessions"} 1`,
		`reactor_mock_http_request_duration_seconds_count{route="POST /sessions"} 2`,
		`reactor_mock_sessions{state="CREATED"} 1`,
		`reactor_mock_peer_connections 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if after := len(env.journal.Entries(Filter{})); after != before {
		t.Errorf("GET /metrics was journaled (%d → %d entries)", before, after)
	}
}
