package mockserver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/reactor-harness/reactor-harness/wire"
)

// fuzzEnv is one mock shared by every input of a fuzz process; each input
// starts from Reset and the same setup, so an input's outcome depends on
// the input alone.
type fuzzEnv struct {
	s    *Server
	jwt  string
	sid  string // a WAITING coordinator session
	done string // path of a completed upload's PUT URL
	open string // path and query of a reserved, empty upload's PUT URL
	// doneBytes are what the setup stored in the completed upload.
	doneBytes []byte
}

// fuzzOpenSize is the size of the upload the fuzzer may complete.
const fuzzOpenSize = 8

func newFuzzEnv(f *testing.F) *fuzzEnv {
	s, err := New(WithBaseURL("http://mock"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	return &fuzzEnv{s: s, doneBytes: []byte("exact bytes\x00\xff")}
}

// serve runs one request through the router in process.
func (fe *fuzzEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	fe.s.ServeHTTP(rec, r)
	return rec
}

func (fe *fuzzEnv) call(t *testing.T, method, path string, h http.Header, body string) []byte {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, vs := range h {
		r.Header[k] = vs
	}
	rec := fe.serve(r)
	if rec.Code/100 != 2 {
		t.Fatalf("setup %s %s: %d %s", method, path, rec.Code, rec.Body.Bytes())
	}
	return rec.Body.Bytes()
}

// reset returns the mock to the same starting point for every input.
func (fe *fuzzEnv) reset(t *testing.T) {
	t.Helper()
	fe.s.Reset()
	jwt, err := fe.s.tokens.mint(claims{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fe.jwt = jwt
	h := currentHeaders(jwt)
	var sr wire.SessionResponse
	_ = json.Unmarshal(fe.call(t, "POST", "/sessions", h, `{"model":{"name":"helios"},"supported_transports":[{"protocol":"webrtc","version":"1.0"}]}`), &sr)
	fe.sid = sr.SessionID
	if _, e := fe.s.sessions.force(fe.sid, string(wire.StateWaiting)); e != nil {
		t.Fatal(e)
	}
	reserve := func(size int) string {
		var up wire.UploadResponse
		_ = json.Unmarshal(fe.call(t, "POST", "/sessions/"+fe.sid+"/uploads", h,
			fmt.Sprintf(`{"name":"f.bin","size":%d,"mime_type":"application/octet-stream"}`, size)), &up)
		return strings.TrimPrefix(up.PresignedURL, "http://mock")
	}
	fe.done = reserve(len(fe.doneBytes))
	fe.call(t, "PUT", fe.done, nil, string(fe.doneBytes))
	fe.open = reserve(fuzzOpenSize)
}

// expand replaces the placeholders that let generated input reach state the
// setup made: {sid}, {local}, {upload} (the open upload's path and query),
// {done} (the completed one's), {jwt}.
func (fe *fuzzEnv) expand(s string) string {
	return strings.NewReplacer("{sid}", fe.sid, "{local}", wire.LocalSessionID,
		"{upload}", fe.open, "{done}", fe.done, "{jwt}", fe.jwt).Replace(s)
}

// buildRequest parses the input as Go's server would receive it; ok is
// false for bytes the server itself refuses before any handler runs.
func (fe *fuzzEnv) buildRequest(method, path, headers string, body []byte, auth byte) (*http.Request, bool) {
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: mock\r\n", method, fe.expand(path))
	if auth&1 != 0 {
		raw.WriteString("Authorization: Bearer " + fe.jwt + "\r\n")
	}
	if auth&2 != 0 {
		raw.WriteString("Reactor-API-Key: " + fe.s.APIKey() + "\r\n")
	}
	if auth&4 != 0 {
		raw.WriteString("Reactor-API-Version: 1\r\nReactor-API-Accept-Version: 1\r\nReactor-WebRTC-Version: 1.0\r\n")
	}
	for _, line := range strings.Split(fe.expand(headers), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			raw.WriteString(line + "\r\n")
		}
	}
	body = []byte(fe.expand(string(body)))
	fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n", len(body))
	raw.Write(body)
	r, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil || r.Method == "CONNECT" || !httpguts.ValidHostHeader(r.Host) {
		return nil, false
	}
	for k, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, false
			}
		}
	}
	r.RemoteAddr = "127.0.0.1:9"
	return r, true
}

// steering reports routes that move the mock past its own rules by design
// (forced states, scenario swaps with faults and other limits): the
// invariants below do not hold across them, so the fuzzer leaves them out.
func steering(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/__admin/") && r.Method != http.MethodGet && p != "/__admin/requests" && p != "/__admin/reset"
}

// FuzzRouter drives the whole router (coordinator, transport, uploads,
// local runtime, admin) with generated requests and checks, for every one:
// no 5xx but the protocol's own (501 version, 503 runtime/connection
// capacity), no panic, a {"detail"} string on every error, the journal
// still valid JSON in UTF-8, no account over its concurrent-session limit,
// and every stored upload byte-exact.
func FuzzRouter(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.path, s.headers, []byte(s.body), s.auth)
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, method, path, headers string, body []byte, auth byte) {
		fe.reset(t)
		r, ok := fe.buildRequest(method, path, headers, body, auth)
		if !ok || steering(r) {
			return
		}
		sent := []byte(fe.expand(string(body)))
		before := fe.s.journal.seqNow()
		rec := fe.serve(r)
		fe.checkAnswer(t, r, rec, before)
		fe.checkJournal(t)
		fe.checkSessions(t)
		fe.checkUploads(t, r, rec, sent)
	})
}

func (fe *fuzzEnv) checkAnswer(t *testing.T, r *http.Request, rec *httptest.ResponseRecorder, before int64) {
	t.Helper()
	code := rec.Code
	if code >= 500 && code != http.StatusNotImplemented && code != http.StatusServiceUnavailable && !fe.faulted(before) {
		t.Fatalf("%s %q: %d %s", r.Method, r.URL.RequestURI(), code, rec.Body.Bytes())
	}
	if code < 400 {
		return
	}
	var eb struct {
		Detail any `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
		t.Fatalf("%s %q: %d with a body that is not JSON: %q", r.Method, r.URL.RequestURI(), code, rec.Body.Bytes())
	}
	if d, ok := eb.Detail.(string); !ok || d == "" {
		t.Fatalf("%s %q: %d without a {\"detail\"} string: %s", r.Method, r.URL.RequestURI(), code, rec.Body.Bytes())
	}
	if ct := rec.Header().Get(wire.HeaderContentType); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %q: %d with Content-Type %q", r.Method, r.URL.RequestURI(), code, ct)
	}
}

func (fe *fuzzEnv) faulted(since int64) bool {
	for _, e := range fe.s.journal.Entries(Filter{SinceSeq: since}) {
		if e.Fault != "" {
			return true
		}
	}
	return false
}

func (fe *fuzzEnv) checkJournal(t *testing.T) {
	t.Helper()
	rec := fe.serve(httptest.NewRequest("GET", "/__admin/requests", nil))
	b := rec.Body.Bytes()
	if rec.Code != http.StatusOK || !utf8.Valid(b) || !json.Valid(b) {
		t.Fatalf("journal: %d, UTF-8 %v, JSON %v: %.400q", rec.Code, utf8.Valid(b), json.Valid(b), b)
	}
}

func (fe *fuzzEnv) checkSessions(t *testing.T) {
	t.Helper()
	limit := fe.s.scn().Limits.MaxConcurrentSessions
	st := fe.s.sessions
	st.mu.Lock()
	defer st.mu.Unlock()
	for acct, live := range st.live {
		if limit > 0 && len(live) > limit {
			t.Fatalf("account %q has %d live sessions, limit %d", acct, len(live), limit)
		}
	}
}

// checkUploads: the setup's upload still holds its bytes; an upload the
// input completed holds exactly the body sent.
func (fe *fuzzEnv) checkUploads(t *testing.T, r *http.Request, rec *httptest.ResponseRecorder, sent []byte) {
	t.Helper()
	doneID := uploadIDOf(fe.done)
	openID := uploadIDOf(fe.open)
	for _, info := range fe.s.uploads.snapshot() {
		switch info.ID {
		case doneID:
			if !info.Completed || info.SHA256 != sha256hex(fe.doneBytes) {
				t.Fatalf("completed upload changed: %+v", info)
			}
		case openID:
			if !info.Completed {
				continue
			}
			if rec.Code != http.StatusOK || uploadIDOf(r.URL.Path) != openID {
				t.Fatalf("upload completed by %s %q answered %d", r.Method, r.URL.RequestURI(), rec.Code)
			}
			if info.Size != int64(len(sent)) || info.SHA256 != sha256hex(sent) {
				t.Fatalf("upload stored %d bytes (sha %s), the client sent %d (sha %s)", info.Size, info.SHA256, len(sent), sha256hex(sent))
			}
		}
	}
}

func uploadIDOf(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return strings.TrimPrefix(p, "/uploads/")
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fuzzSeeds start the fuzzer on every route group; testdata/fuzz/FuzzRouter
// holds more (and what past runs found).
var fuzzSeeds = []struct {
	method, path, headers, body string
	auth                        byte
}{
	{"POST", "/tokens", "Content-Type: application/json", `{"expires_after":60,"authorization_details":[{"type":"session","resources":{"models":{"match":["helios"]}},"constraints":{"max_sessions":1}}]}`, 2},
	{"POST", "/tokens", "", "{\"model\":{\"name\":\"\xff\xfe\"}}", 2},
	{"POST", "/sessions", "Content-Type: application/json", `{"model":{"name":"helios"},"client_info":{"sdk_version":"1","sdk_type":"js"},"supported_transports":[{"protocol":"webrtc","version":"1.0"}]}`, 5},
	{"GET", "/sessions/{sid}", "", "", 5},
	{"GET", "/sessions/{sid}/info", "", "", 5},
	{"PUT", "/sessions/{sid}", "", "", 5},
	{"DELETE", "/sessions/{sid}", "", `{"reason":"done"}`, 5},
	{"POST", "/sessions/{sid}/uploads", "", `{"name":"a.png","size":3,"mime_type":"image/png"}`, 5},
	{"PUT", "{upload}", "Content-Type: application/octet-stream", "12345678", 0},
	{"PUT", "{done}", "", "exact bytes", 0},
	{"GET", "/sessions/{sid}/transport/webrtc/ice_servers", "", "", 5},
	{"POST", "/sessions/{sid}/transport/webrtc/connections", "", "{}", 5},
	{"POST", "/sessions/{sid}/transport/webrtc/connections/1500/ice_candidates", "", `{"candidates":[{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdp_mid":"0","sdp_mline_index":0}],"is_final":false}`, 5},
	{"POST", "/sessions/{sid}/transport/webrtc/connections/1500/sdp_params", "", `{"sdp_offer":"v=0\r\n","track_mapping":[]}`, 5},
	{"GET", "/sessions/{sid}/transport/webrtc/connections/1500/sdp_params", "", "", 5},
	{"GET", "/sessions/{sid}/transport/webrtc/sdp_params", "", "", 5},
	{"GET", "/ice_servers?model=helios", "", "", 1},
	{"POST", "/start_session", "", `{"extra_args":{"a":1}}`, 0},
	{"GET", "/session", "", "", 0},
	{"POST", "/stop_session", "", `{"moderate":true,"reason":"x"}`, 0},
	{"GET", "/schema", "", "", 0},
	{"GET", "/health", "", "", 0},
	{"POST", "/sessions/{local}/uploads", "", `{"name":"a","size":1,"mime_type":"text/plain"}`, 0},
	{"GET", "/sessions/{local}/transport/webrtc/ice_servers", "", "", 0},
	{"GET", "/__admin/requests?since=x", "", "", 0},
	{"GET", "/__admin/sessions", "", "", 0},
	{"GET", "/__admin/uploads", "", "", 0},
	{"GET", "/__admin/local", "", "", 0},
	{"POST", "/__admin/reset", "", "", 0},
	{"DELETE", "/__admin/requests", "", "", 0},
	{"GET", "/%ff%fe?sig=1", "X-Odd: \xff", "", 7},
	{"PATCH", "/sessions", "", "", 7},
	{"GET", "/sessions/" + strings.Repeat("a", maxURLBytes), "", "", 0},
}

// seqNow is the sequence number of the newest entry.
func (j *Journal) seqNow() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}
