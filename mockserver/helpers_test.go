package mockserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// testServer is a mock behind httptest with helpers for table tests.
type testServer struct {
	*Server
	http *httptest.Server
}

// newTestServer starts a mock on loopback; opts may replace the scenario or clock.
func newTestServer(t testing.TB, opts ...Option) *testServer {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	s.baseURL = hs.URL
	t.Cleanup(func() { hs.Close(); _ = s.Close() })
	return &testServer{Server: s, http: hs}
}

// token mints a JWT directly (bypassing HTTP) with the given scope and TTL.
func (ts *testServer) token(t testing.TB, c claims, ttl time.Duration) string {
	t.Helper()
	jwt, err := ts.tokens.mint(c, ttl)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return jwt
}

// currentHeaders are the headers a current SDK sends on coordinator calls.
func currentHeaders(jwt string) http.Header {
	h := http.Header{}
	if jwt != "" {
		h.Set(wire.HeaderAuthorization, wire.BearerPrefix+jwt)
	}
	h.Set(wire.HeaderAPIVersion, "1")
	h.Set(wire.HeaderAPIAcceptVersion, "1")
	return h
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Detail returns the {"detail"} of an error body ("" if absent).
func (r response) Detail() string {
	var e wire.ErrorBody
	_ = json.Unmarshal(r.Body, &e)
	return e.Detail
}

// do sends a request; body may be nil, []byte/string (sent raw) or any value (JSON-encoded).
func (ts *testServer) do(t testing.TB, method, path string, h http.Header, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.http.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if rd != nil && req.Header.Get(wire.HeaderContentType) == "" {
		req.Header.Set(wire.HeaderContentType, wire.ContentTypeJSON)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// expectError asserts an error status with a non-empty JSON detail.
func expectError(t testing.TB, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if r.Detail() == "" {
		t.Fatalf("status %d without a {\"detail\"} body: %s", r.Status, r.Body)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
