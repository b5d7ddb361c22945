package mockserver

import (
	"net/http"
	"strings"
	"testing"
)

// preflightReq sends a CORS preflight for method on path from origin.
func preflightReq(t *testing.T, ts *testServer, path, origin, method, headers string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, ts.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func corsScenario(origins ...string) Option {
	sc := DefaultScenario()
	sc.CORS.AllowedOrigins = origins
	return WithScenario(sc)
}

func TestCORSPreflightEveryBrowserRoute(t *testing.T) {
	ts := newTestServer(t)
	const hdrs = "authorization,content-type,reactor-api-version,reactor-api-accept-version"
	cases := []struct{ path, method, headers string }{
		{"/tokens", "POST", "content-type,reactor-api-key"},
		{"/sessions", "POST", hdrs},
		{"/sessions/abc", "GET", "authorization,reactor-api-version"},
		{"/sessions/abc", "DELETE", hdrs},
		{"/sessions/abc/uploads", "POST", hdrs},
		{"/uploads/u1", "PUT", "content-type"},
		{"/sessions/abc/transport/webrtc/ice_servers", "GET", "authorization,reactor-webrtc-version"},
		{"/sessions/abc/transport/webrtc/connections", "POST", "authorization,reactor-webrtc-version"},
		{"/sessions/abc/transport/webrtc/connections/1002/sdp_params", "PUT", "authorization,content-type,reactor-webrtc-version"},
		{"/sessions/abc/transport/webrtc/connections/1002/ice_candidates", "POST", "authorization,content-type,reactor-webrtc-version"},
		{"/start_session", "POST", "content-type,reactor-api-version"},
	}
	for _, c := range cases {
		resp := preflightReq(t, ts, c.path, "http://app.example:3000", c.method, c.headers)
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("preflight %s %s: status %d, want 204", c.method, c.path, resp.StatusCode)
			continue
		}
		h := resp.Header
		if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("%s %s: Allow-Origin %q, want *", c.method, c.path, got)
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), c.method) {
			t.Errorf("%s %s: Allow-Methods %q lacks %s", c.method, c.path, h.Get("Access-Control-Allow-Methods"), c.method)
		}
		if got := h.Get("Access-Control-Allow-Headers"); got != c.headers {
			t.Errorf("%s %s: Allow-Headers %q, want %q", c.method, c.path, got, c.headers)
		}
	}
}

func TestCORSNeverOnAdmin(t *testing.T) {
	ts := newTestServer(t)
	resp := preflightReq(t, ts, "/__admin/requests", "http://app.example", "GET", "")
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("admin preflight carried Access-Control-Allow-Origin %q", v)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.http.URL+"/__admin/requests", nil)
	req.Header.Set("Origin", "http://app.example")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if v := r2.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("admin GET carried Access-Control-Allow-Origin %q", v)
	}
}

func TestCORSConfiguredOrigins(t *testing.T) {
	ts := newTestServer(t, corsScenario("http://good.example:3000"))
	ok := preflightReq(t, ts, "/sessions", "http://good.example:3000", "POST", "authorization")
	if ok.StatusCode != 204 || ok.Header.Get("Access-Control-Allow-Origin") != "http://good.example:3000" {
		t.Fatalf("allowed origin: status %d, Allow-Origin %q", ok.StatusCode, ok.Header.Get("Access-Control-Allow-Origin"))
	}
	if !strings.Contains(ok.Header.Get("Vary"), "Origin") {
		t.Errorf("an echoed origin needs Vary: Origin, got %q", ok.Header.Get("Vary"))
	}
	bad := preflightReq(t, ts, "/sessions", "http://evil.example", "POST", "authorization")
	if bad.StatusCode != http.StatusForbidden || bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("refused origin: status %d, Allow-Origin %q", bad.StatusCode, bad.Header.Get("Access-Control-Allow-Origin"))
	}
	// An actual request from the refused origin is served but gets no CORS headers.
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/sessions", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("refused origin got Allow-Origin %q", v)
	}
	var notes []string
	for _, e := range ts.journal.Entries(Filter{}) {
		notes = append(notes, e.CORS)
	}
	joined := strings.Join(notes, "|")
	for _, want := range []string{"preflight POST from http://evil.example", "origin http://evil.example not allowed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("journal lacks %q; CORS notes: %q", want, notes)
		}
	}
}

func TestCORSRefusals(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		path, method, headers string
		status                int
	}{
		{"/sessions", "DELETE", "authorization", http.StatusMethodNotAllowed},
		{"/no/such/route", "GET", "", http.StatusNotFound},
		{"/sessions", "POST", "x-not-protocol", http.StatusForbidden},
	}
	for _, c := range cases {
		resp := preflightReq(t, ts, c.path, "http://app.example", c.method, c.headers)
		if resp.StatusCode != c.status || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s %s [%s]: status %d Allow-Origin %q, want %d and none",
				c.method, c.path, c.headers, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), c.status)
		}
	}
}

func TestCORSErrorsAreReadable(t *testing.T) {
	// A browser only shows an SDK a 401/429 (and Retry-After) when the error
	// answer carries the CORS headers too.
	ts := newTestServer(t)
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/sessions", strings.NewReader("{}"))
	req.Header.Set("Origin", "http://app.example")
	req.Header.Set("Reactor-API-Version", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatalf("error answer lacks CORS headers: %v", resp.Header)
	}
}

func TestCORSPolicyValidate(t *testing.T) {
	for _, o := range []string{"http://a.example/", "ftp://a", "a.example", "http://a/x"} {
		if err := (CORSPolicy{AllowedOrigins: []string{o}}).validate(); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
	if err := (CORSPolicy{AllowedOrigins: []string{"*", "https://a.example:8443"}, AllowedHeaders: []string{"X-Trace"}}).validate(); err != nil {
		t.Error(err)
	}
	if err := (CORSPolicy{AllowedHeaders: []string{"a b"}}).validate(); err == nil {
		t.Error("header with a space accepted")
	}
}

func TestCORSPrivateNetworkPreflight(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest(http.MethodOptions, ts.http.URL+"/sessions", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Private-Network", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Fatalf("status %d, Allow-Private-Network %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Private-Network"))
	}
	plain := preflightReq(t, ts, "/sessions", "https://app.example", "POST", "")
	if v := plain.Header.Get("Access-Control-Allow-Private-Network"); v != "" {
		t.Fatalf("answered Allow-Private-Network %q unasked", v)
	}
}
