package mockserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// uplClock is a settable clock (named apart from other test files' clocks).
type uplClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *uplClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *uplClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *uplClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// uplT0 is a whole second, so expiry arithmetic in tests is exact.
var uplT0 = time.Unix(1_900_000_000, 0).UTC()

// uplFixture is a mock with a fake clock, a token and a live session.
type uplFixture struct {
	ts  *testServer
	clk *uplClock
	jwt string
	sid string
}

func newUplFixture(t testing.TB, opts ...Option) *uplFixture {
	t.Helper()
	clk := &uplClock{t: uplT0}
	ts := newTestServer(t, append([]Option{WithClock(clk.Now)}, opts...)...)
	f := &uplFixture{ts: ts, clk: clk, jwt: ts.token(t, claims{}, 24*time.Hour)}
	f.sid = f.createSession(t)
	return f
}

// createSession opens a session through the coordinator API.
func (f *uplFixture) createSession(t testing.TB) string {
	t.Helper()
	body := map[string]any{
		"model":                map[string]any{"name": "helios"},
		"client_info":          map[string]any{"sdk_version": "2.12.3", "sdk_type": "js"},
		"supported_transports": []any{map[string]any{"protocol": "webrtc", "version": "1.0"}},
	}
	r := f.ts.do(t, http.MethodPost, "/sessions", currentHeaders(f.jwt), body)
	if r.Status/100 != 2 {
		t.Fatalf("POST /sessions = %d %s", r.Status, r.Body)
	}
	var sr wire.SessionResponse
	r.JSON(t, &sr)
	if sr.SessionID == "" {
		t.Fatalf("POST /sessions returned no session_id: %s", r.Body)
	}
	return sr.SessionID
}

func (f *uplFixture) reserveHTTP(t testing.TB, body any) response {
	t.Helper()
	return f.ts.do(t, http.MethodPost, "/sessions/"+f.sid+"/uploads", currentHeaders(f.jwt), body)
}

// reserve reserves through HTTP and expects 201.
func (f *uplFixture) reserve(t testing.TB, name string, size int64) wire.UploadResponse {
	t.Helper()
	r := f.reserveHTTP(t, wire.UploadRequest{Name: name, Size: size, MimeType: "image/png"})
	if r.Status != http.StatusCreated {
		t.Fatalf("reserve: status %d, want 201; body %s", r.Status, r.Body)
	}
	var resp wire.UploadResponse
	r.JSON(t, &resp)
	return resp
}

// put sends body to a presigned URL (absolute, as the mock returned it).
// contentLength -1 sends the body chunked (no Content-Length).
func (f *uplFixture) put(t testing.TB, presigned string, body []byte, contentLength int64) response {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if contentLength < 0 {
		rd = io.MultiReader(bytes.NewReader(body)) // hides the length: chunked
	}
	req, err := http.NewRequest(http.MethodPut, presigned, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = contentLength
	req.Header.Set(wire.HeaderContentType, wire.ContentTypeOctetStream)
	resp, err := f.ts.http.Client().Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", presigned, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// withQuery returns presigned with one query parameter replaced (or removed when v == "").
func withQuery(t *testing.T, presigned, k, v string) string {
	t.Helper()
	u, err := url.Parse(presigned)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func uplScenario(mut func(*Scenario)) Option {
	sc := DefaultScenario()
	mut(sc)
	return WithScenario(sc)
}

func TestUploadReserveStatuses(t *testing.T) {
	f := newUplFixture(t, uplScenario(func(sc *Scenario) { sc.Uploads.MaxBytes = 1000 }))
	taken := f.reserveHTTP(t, `{"name":"a.png","size":1,"mime_type":"image/png","upload_id":"my-upload-1"}`)
	if taken.Status != http.StatusCreated {
		t.Fatalf("reserve with upload_id: %d %s", taken.Status, taken.Body)
	}
	cases := []struct {
		name   string
		path   string // default /sessions/<sid>/uploads
		hdr    http.Header
		body   any
		status int
		detail string // substring of the detail
	}{
		{name: "malformed json", body: `{"name":`, status: 400, detail: "malformed"},
		{name: "not json", body: `name=a.png`, status: 400, detail: "malformed"},
		{name: "absent body", body: nil, status: 422, detail: "body is required"},
		{name: "null body", body: `null`, status: 422, detail: "body is required"},
		{name: "array body", body: `[]`, status: 422},
		{name: "name wrong type", body: `{"name":5,"size":1,"mime_type":"image/png"}`, status: 422, detail: "name"},
		{name: "size wrong type", body: `{"name":"a","size":"1","mime_type":"image/png"}`, status: 422, detail: "size"},
		{name: "size fractional", body: `{"name":"a","size":1.5,"mime_type":"image/png"}`, status: 422, detail: "size"},
		{name: "size overflows int64", body: `{"name":"a","size":1e30,"mime_type":"image/png"}`, status: 422, detail: "size"},
		{name: "upload_id wrong type", body: `{"name":"a","size":1,"mime_type":"image/png","upload_id":7}`, status: 422, detail: "upload_id"},
		{name: "name missing", body: `{"size":1,"mime_type":"image/png"}`, status: 400, detail: "name is required"},
		{name: "name empty", body: `{"name":"","size":1,"mime_type":"image/png"}`, status: 400, detail: "name is required"},
		{name: "mime missing", body: `{"name":"a","size":1}`, status: 400, detail: "mime_type is required"},
		{name: "mime empty", body: `{"name":"a","size":1,"mime_type":""}`, status: 400, detail: "mime_type is required"},
		{name: "size missing", body: `{"name":"a","mime_type":"image/png"}`, status: 400, detail: "size must be > 0"},
		{name: "size zero", body: `{"name":"a","size":0,"mime_type":"image/png"}`, status: 400, detail: "size must be > 0"},
		{name: "size negative", body: `{"name":"a","size":-3,"mime_type":"image/png"}`, status: 400, detail: "size must be > 0"},
		{name: "size over limit", body: `{"name":"a","size":1001,"mime_type":"image/png"}`, status: 413, detail: "1000 bytes"},
		{name: "size at limit", body: `{"name":"a","size":1000,"mime_type":"image/png"}`, status: 201},
		{name: "upload_id taken", body: `{"name":"b","size":1,"mime_type":"image/png","upload_id":"my-upload-1"}`, status: 409, detail: "Upload id already reserved"},
		{name: "upload_id unsafe", body: `{"name":"b","size":1,"mime_type":"image/png","upload_id":"../x"}`, status: 400, detail: "upload_id"},
		{name: "upload_id dot-dot", body: `{"name":"b","size":1,"mime_type":"image/png","upload_id":".."}`, status: 400, detail: "upload_id"},
		{name: "upload_id too long", body: `{"name":"b","size":1,"mime_type":"image/png","upload_id":"` + strings.Repeat("x", 129) + `"}`, status: 400, detail: "upload_id"},
		{name: "fresh upload_id", body: `{"name":"b","size":1,"mime_type":"image/png","upload_id":"my-upload-2"}`, status: 201},
		{name: "unknown field refused", body: `{"name":"b","size":1,"mime_type":"image/png","extra":{"x":1}}`, status: 422, detail: `unknown field "extra"`},
		{name: "unknown session", path: "/sessions/no-such-session/uploads", body: `{"name":"a","size":1,"mime_type":"image/png"}`, status: 404, detail: "Unknown session"},
		{name: "no bearer", hdr: currentHeaders(""), body: `{"name":"a","size":1,"mime_type":"image/png"}`, status: 401},
		{name: "oversized body", body: `{"name":"` + strings.Repeat("a", maxJSONBody) + `"}`, status: 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = "/sessions/" + f.sid + "/uploads"
			}
			hdr := c.hdr
			if hdr == nil {
				hdr = currentHeaders(f.jwt)
			}
			r := f.ts.do(t, http.MethodPost, path, hdr, c.body)
			if c.status == http.StatusCreated {
				if r.Status != 201 {
					t.Fatalf("status %d, want 201; body %s", r.Status, r.Body)
				}
				return
			}
			expectError(t, r, c.status)
			if !strings.Contains(r.Detail(), c.detail) {
				t.Fatalf("detail %q does not mention %q", r.Detail(), c.detail)
			}
		})
	}
}

func TestUploadReserveResponseShape(t *testing.T) {
	f := newUplFixture(t)
	resp := f.reserve(t, "frame.png", 42)
	if !strings.HasPrefix(resp.PresignedID, "upl_") || len(resp.PresignedID) != len("upl_")+32 {
		t.Fatalf("presigned_id %q: want upl_<32 hex>", resp.PresignedID)
	}
	if want := "uploads/" + f.sid + "/" + resp.PresignedID + "/frame.png"; resp.Path != want {
		t.Fatalf("path %q, want %q", resp.Path, want)
	}
	u, err := url.Parse(resp.PresignedURL)
	if err != nil {
		t.Fatal(err)
	}
	if base := u.Scheme + "://" + u.Host; base != f.ts.URL() {
		t.Fatalf("presigned URL base %q, want the mock's %q", base, f.ts.URL())
	}
	if u.Path != "/uploads/"+resp.PresignedID {
		t.Fatalf("presigned URL path %q", u.Path)
	}
	exp := uplT0.Add(15 * time.Minute).Unix()
	if got := u.Query().Get("expires"); got != strconv.FormatInt(exp, 10) {
		t.Fatalf("expires %q, want %d (15 min after the fake clock)", got, exp)
	}
	if sig := u.Query().Get("sig"); len(sig) != 64 {
		t.Fatalf("sig %q: want 64 hex chars", sig)
	}
	// Two reservations get distinct ids.
	if other := f.reserve(t, "frame.png", 42); other.PresignedID == resp.PresignedID {
		t.Fatalf("two reservations share id %s", other.PresignedID)
	}
	info, ok := f.ts.uploads.lookup(resp.PresignedID)
	if !ok || info.SessionID != f.sid || info.Name != "frame.png" || info.Size != 42 ||
		info.MimeType != "image/png" || info.Completed || !info.Signed || !info.ExpiresAt.Equal(time.Unix(exp, 0)) {
		t.Fatalf("lookup = %+v, %v", info, ok)
	}
	if ref := info.FileRef(); ref != (wire.FileRef{UploadID: resp.PresignedID, Name: "frame.png", MimeType: "image/png", Size: 42}) {
		t.Fatalf("FileRef = %+v", ref)
	}
}

func TestUploadPutStatuses(t *testing.T) {
	f := newUplFixture(t)
	body := []byte("12345")
	cases := []struct {
		name   string
		url    func(t *testing.T, u wire.UploadResponse) string
		body   []byte
		cl     int64 // Content-Length; -1 = chunked
		status int
		detail string
	}{
		{name: "ok", body: body, cl: 5, status: 200},
		{name: "ok chunked", body: body, cl: -1, status: 200},
		{name: "unknown id", url: func(t *testing.T, u wire.UploadResponse) string {
			return strings.Replace(u.PresignedURL, u.PresignedID, "upl_nope", 1)
		}, body: body, cl: 5, status: 404, detail: "Upload not found"},
		{name: "sig missing", url: func(t *testing.T, u wire.UploadResponse) string {
			return withQuery(t, u.PresignedURL, "sig", "")
		}, body: body, cl: 5, status: 403, detail: "signature missing"},
		{name: "expires missing", url: func(t *testing.T, u wire.UploadResponse) string {
			return withQuery(t, u.PresignedURL, "expires", "")
		}, body: body, cl: 5, status: 403, detail: "signature missing"},
		{name: "sig tampered", url: func(t *testing.T, u wire.UploadResponse) string {
			sig := []byte(mustQuery(t, u.PresignedURL, "sig"))
			if sig[0] == '0' {
				sig[0] = '1'
			} else {
				sig[0] = '0'
			}
			return withQuery(t, u.PresignedURL, "sig", string(sig))
		}, body: body, cl: 5, status: 403, detail: "signature does not match"},
		{name: "sig not hex", url: func(t *testing.T, u wire.UploadResponse) string {
			return withQuery(t, u.PresignedURL, "sig", "zz")
		}, body: body, cl: 5, status: 403, detail: "signature does not match"},
		{name: "expires extended", url: func(t *testing.T, u wire.UploadResponse) string {
			exp, _ := strconv.ParseInt(mustQuery(t, u.PresignedURL, "expires"), 10, 64)
			return withQuery(t, u.PresignedURL, "expires", strconv.FormatInt(exp+3600, 10))
		}, body: body, cl: 5, status: 403, detail: "signature does not match"},
		{name: "expires not a number", url: func(t *testing.T, u wire.UploadResponse) string {
			return withQuery(t, u.PresignedURL, "expires", "tomorrow")
		}, body: body, cl: 5, status: 403, detail: "signature does not match"},
		{name: "signature of another upload", url: func(t *testing.T, u wire.UploadResponse) string {
			other := f.reserve(t, "other.png", 5)
			return withQuery(t, u.PresignedURL, "sig", mustQuery(t, other.PresignedURL, "sig"))
		}, body: body, cl: 5, status: 403, detail: "signature does not match"},
		{name: "content-length too small", body: body[:4], cl: 4, status: 400, detail: "expected 5 bytes, got 4"},
		{name: "content-length too large", body: append(append([]byte{}, body...), 'x'), cl: 6, status: 400, detail: "expected 5 bytes, got 6"},
		{name: "empty body", body: nil, cl: 0, status: 400, detail: "expected 5 bytes, got 0"},
		{name: "chunked short", body: body[:2], cl: -1, status: 400, detail: "expected 5 bytes, got 2"},
		{name: "chunked long", body: []byte("1234567890"), cl: -1, status: 400, detail: "expected 5 bytes, got at least 6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := f.reserve(t, "x.bin", 5)
			target := u.PresignedURL
			if c.url != nil {
				target = c.url(t, u)
			}
			r := f.put(t, target, c.body, c.cl)
			if c.status == http.StatusOK {
				if r.Status != 200 || len(r.Body) != 0 {
					t.Fatalf("PUT = %d %q, want 200 with an empty body", r.Status, r.Body)
				}
				if got, ok := f.ts.uploads.bytes(u.PresignedID); !ok || !bytes.Equal(got, c.body) {
					t.Fatalf("stored %q, %v; want %q", got, ok, c.body)
				}
				return
			}
			expectError(t, r, c.status)
			if !strings.Contains(r.Detail(), c.detail) {
				t.Fatalf("detail %q does not mention %q", r.Detail(), c.detail)
			}
			// A refused PUT stores nothing and leaves the slot usable.
			if info, _ := f.ts.uploads.lookup(u.PresignedID); info.Completed {
				t.Fatalf("refused PUT completed the upload: %+v", info)
			}
			if ok := f.put(t, u.PresignedURL, body, 5); ok.Status != 200 {
				t.Fatalf("retry after a refused PUT = %d %s", ok.Status, ok.Body)
			}
		})
	}
}

func mustQuery(t *testing.T, raw, k string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(k)
}

func TestUploadStoresBytesAndDigest(t *testing.T) {
	f := newUplFixture(t)
	// Larger than the first read buffer so the growth path runs.
	data := make([]byte, 700<<10+13)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	u := f.reserve(t, "big.bin", int64(len(data)))
	f.clk.Add(90 * time.Second)
	if r := f.put(t, u.PresignedURL, data, int64(len(data))); r.Status != 200 {
		t.Fatalf("PUT = %d %s", r.Status, r.Body)
	}
	got, ok := f.ts.uploads.bytes(u.PresignedID)
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("stored bytes differ from the sent bytes (ok=%v, len %d vs %d)", ok, len(got), len(data))
	}
	if cap(got) != len(data) {
		t.Fatalf("stored slice keeps slack: cap %d for %d bytes", cap(got), len(data))
	}
	sum := sha256.Sum256(data)
	info, _ := f.ts.uploads.lookup(u.PresignedID)
	if info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sha256 %s, want %x", info.SHA256, sum)
	}
	if !info.Completed || !info.CompletedAt.Equal(uplT0.Add(90*time.Second)) {
		t.Fatalf("completion %+v, want completed at the fake clock", info)
	}
	// The journal attributes the PUT to the upload's session.
	es := f.ts.Journal().Entries(Filter{Method: http.MethodPut, PathPrefix: "/uploads/"})
	if len(es) != 1 || es[0].SessionID != f.sid || es[0].Status != 200 {
		t.Fatalf("journal PUT entries %+v", es)
	}
}

func TestUploadSingleUse(t *testing.T) {
	f := newUplFixture(t)
	u := f.reserve(t, "a.txt", 3)
	if r := f.put(t, u.PresignedURL, []byte("one"), 3); r.Status != 200 {
		t.Fatalf("first PUT = %d %s", r.Status, r.Body)
	}
	first, _ := f.ts.uploads.lookup(u.PresignedID)
	for _, body := range [][]byte{[]byte("two"), []byte("toolong")} {
		r := f.put(t, u.PresignedURL, body, int64(len(body)))
		expectError(t, r, http.StatusConflict)
		if r.Detail() != "Upload already completed" {
			t.Fatalf("detail %q", r.Detail())
		}
	}
	if got, _ := f.ts.uploads.bytes(u.PresignedID); string(got) != "one" {
		t.Fatalf("second PUT changed the bytes to %q", got)
	}
	if again, _ := f.ts.uploads.lookup(u.PresignedID); again != first {
		t.Fatalf("second PUT changed the record: %+v vs %+v", again, first)
	}
}

func TestUploadConcurrentPutsOneWins(t *testing.T) {
	f := newUplFixture(t)
	u := f.reserve(t, "race.bin", 4)
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPut, u.PresignedURL, strings.NewReader(fmt.Sprintf("%04d", i)))
			resp, err := f.ts.http.Client().Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}(i)
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[200] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v: want one 200 and %d×409", count, n-1)
	}
}

func TestUploadExpiryExact(t *testing.T) {
	cases := []struct {
		name    string
		ttl     time.Duration // 0 = scenario default (15 min)
		reserve time.Duration // offset of the reservation from uplT0
		put     time.Duration // offset of the PUT from uplT0
		status  int
	}{
		{"default ttl, last nanosecond", 0, 0, 15*time.Minute - time.Nanosecond, 200},
		{"default ttl, at expiry", 0, 0, 15 * time.Minute, 403},
		{"default ttl, long after", 0, 0, 24 * time.Hour, 403},
		{"30s ttl, 29s", 30 * time.Second, 0, 29 * time.Second, 200},
		{"30s ttl, 30s", 30 * time.Second, 0, 30 * time.Second, 403},
		// The URL carries whole seconds: a reservation mid-second rounds the expiry down.
		{"30s ttl, mid-second reservation", 30 * time.Second, 500 * time.Millisecond, 30 * time.Second, 403},
		{"30s ttl, mid-second reservation, in time", 30 * time.Second, 500 * time.Millisecond, 30*time.Second - time.Nanosecond, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := []Option{}
			if c.ttl > 0 {
				opts = append(opts, uplScenario(func(sc *Scenario) { sc.Uploads.URLTTL = Duration(c.ttl) }))
			}
			f := newUplFixture(t, opts...)
			f.clk.Set(uplT0.Add(c.reserve))
			u := f.reserve(t, "e.bin", 2)
			f.clk.Set(uplT0.Add(c.put))
			r := f.put(t, u.PresignedURL, []byte("ok"), 2)
			if c.status == 200 {
				if r.Status != 200 {
					t.Fatalf("PUT = %d %s, want 200", r.Status, r.Body)
				}
				return
			}
			expectError(t, r, c.status)
			ttl := c.ttl
			if ttl == 0 {
				ttl = 15 * time.Minute
			}
			at := time.Unix(uplT0.Add(c.reserve).Add(ttl).Unix(), 0).UTC().Format(time.RFC3339)
			if !strings.Contains(r.Detail(), "presigned URL expired at "+at) {
				t.Fatalf("detail %q, want it to name the expiry %s", r.Detail(), at)
			}
		})
	}
}

// TestUploadContentLengthLies sends a request whose Content-Length promises
// more bytes than the body holds, over a raw connection.
func TestUploadContentLengthLies(t *testing.T) {
	f := newUplFixture(t)
	u := f.reserve(t, "lie.bin", 5)
	target, _ := url.Parse(u.PresignedURL)
	conn, err := net.DialTimeout("tcp", target.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabc",
		target.RequestURI(), target.Host)
	_ = conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	expectError(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Detail(), "expected 5 bytes, got 3") {
		t.Fatalf("detail %q", r.Detail())
	}

	// And a body longer than its (correct-looking) Content-Length, handed to
	// the handler directly since net/http would cut it at the header's length.
	req := httptest.NewRequest(http.MethodPut, target.RequestURI(), strings.NewReader("abcdefgh"))
	req.ContentLength = 5
	rec := httptest.NewRecorder()
	f.ts.ServeHTTP(rec, req)
	r = response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	expectError(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Detail(), "expected 5 bytes, got at least 6") {
		t.Fatalf("detail %q", r.Detail())
	}
	if info, _ := f.ts.uploads.lookup(u.PresignedID); info.Completed {
		t.Fatal("a lying PUT completed the upload")
	}
}

// uplStallReader returns (0, nil) forever.
type uplStallReader struct{}

func (uplStallReader) Read([]byte) (int, error) { return 0, nil }

// uplErrReader fails after a few bytes.
type uplErrReader struct{ n int }

func (r *uplErrReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("connection reset")
	}
	p[0] = 'x'
	r.n--
	return 1, nil
}

func TestUploadReadExactlyIsBounded(t *testing.T) {
	if _, _, err := readExactly(uplStallReader{}, 10); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("stalled reader: err %v, want ErrNoProgress", err)
	}
	if _, over, err := readExactly(io.MultiReader(strings.NewReader("ab"), uplStallReader{}), 2); over || !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("stalled probe: over %v err %v", over, err)
	}
	if got, _, err := readExactly(&uplErrReader{n: 3}, 10); err == nil || len(got) != 3 {
		t.Fatalf("failing reader: %q %v", got, err)
	}
	// An endless body is read only up to size+1.
	endless := &uplCountingReader{}
	if _, over, _ := readExactly(endless, 1000); !over || endless.n > 1001 {
		t.Fatalf("endless body: over %v, read %d bytes", over, endless.n)
	}

	// Handler level: a failing body is a 400 naming the failure, not a 5xx.
	f := newUplFixture(t)
	u := f.reserve(t, "x", 10)
	target, _ := url.Parse(u.PresignedURL)
	req := httptest.NewRequest(http.MethodPut, target.RequestURI(), &uplErrReader{n: 3})
	req.ContentLength = 10
	rec := httptest.NewRecorder()
	f.ts.ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "expected 10 bytes, got 3") {
		t.Fatalf("failing body: %d %s", rec.Code, rec.Body)
	}
}

type uplCountingReader struct{ n int }

func (r *uplCountingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	r.n += len(p)
	return len(p), nil
}

func TestUploadWaitCompleted(t *testing.T) {
	f := newUplFixture(t)
	store := f.ts.uploads

	t.Run("wakes on completion", func(t *testing.T) {
		u := f.reserve(t, "w.bin", 4)
		got := make(chan error, 1)
		var info UploadInfo
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), uploadWaitTimeout)
			defer cancel()
			var err error
			info, err = store.waitCompleted(ctx, u.PresignedID)
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("waitCompleted returned before the PUT: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if r := f.put(t, u.PresignedURL, []byte("data"), 4); r.Status != 200 {
			t.Fatalf("PUT = %d %s", r.Status, r.Body)
		}
		select {
		case err := <-got:
			if err != nil || !info.Completed || info.ID != u.PresignedID {
				t.Fatalf("waitCompleted = %+v, %v", info, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waitCompleted did not wake after the PUT")
		}
		// Already complete: returns at once.
		if info, err := store.waitCompleted(context.Background(), u.PresignedID); err != nil || !info.Completed {
			t.Fatalf("completed upload: %+v, %v", info, err)
		}
	})

	t.Run("times out via ctx", func(t *testing.T) {
		u := f.reserve(t, "never.bin", 4)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := store.waitCompleted(ctx, u.PresignedID)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("waited %v", d)
		}
	})

	t.Run("unknown id fails at once", func(t *testing.T) {
		if _, err := store.waitCompleted(context.Background(), "upl_unknown"); !errors.Is(err, errUploadNotFound) {
			t.Fatalf("err %v, want errUploadNotFound", err)
		}
	})

	t.Run("removal wakes waiters", func(t *testing.T) {
		g := newUplFixture(t)
		u := g.reserve(t, "gone.bin", 4)
		got := make(chan error, 1)
		go func() {
			_, err := g.ts.uploads.waitCompleted(context.Background(), u.PresignedID)
			got <- err
		}()
		time.Sleep(20 * time.Millisecond)
		g.ts.uploads.clear()
		select {
		case err := <-got:
			if !errors.Is(err, errUploadRemoved) {
				t.Fatalf("err %v, want errUploadRemoved", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("clear did not wake the waiter")
		}
	})
}

func TestUploadJournalRedactsSig(t *testing.T) {
	f := newUplFixture(t)
	u := f.reserve(t, "j.bin", 1)
	if r := f.put(t, u.PresignedURL, []byte("j"), 1); r.Status != 200 {
		t.Fatalf("PUT = %d %s", r.Status, r.Body)
	}
	sig := mustQuery(t, u.PresignedURL, "sig")
	r := f.ts.do(t, http.MethodGet, "/__admin/requests", nil, nil)
	if r.Status != 200 {
		t.Fatalf("GET /__admin/requests = %d", r.Status)
	}
	if bytes.Contains(r.Body, []byte(sig)) {
		t.Fatalf("journal leaks the presigned signature: %s", r.Body)
	}
	var entries []Entry
	r.JSON(t, &entries)
	found := false
	for _, e := range entries {
		if e.Method == http.MethodPut && e.Path == "/uploads/"+u.PresignedID {
			found = true
			if !strings.Contains(e.Query, "sig=[redacted]") || !strings.Contains(e.Query, "expires=") {
				t.Fatalf("journal query %q, want sig=[redacted] and expires kept", e.Query)
			}
			if e.SessionID != f.sid {
				t.Fatalf("journal session_id %q, want %q", e.SessionID, f.sid)
			}
		}
	}
	if !found {
		t.Fatalf("no journal entry for the PUT: %s", r.Body)
	}
}

func TestUploadUnsignedReservation(t *testing.T) {
	f := newUplFixture(t)
	resp, e := f.ts.uploads.reserve(wire.LocalSessionID, wire.UploadRequest{Name: "l.png", Size: 2, MimeType: "image/png", UploadID: "local-1"}, false)
	if e != nil {
		t.Fatal(e)
	}
	if resp.PresignedID != "local-1" || resp.PresignedURL != f.ts.URL()+"/uploads/local-1" {
		t.Fatalf("unsigned reservation %+v", resp)
	}
	if _, e := f.ts.uploads.reserve(wire.LocalSessionID, wire.UploadRequest{Name: "l.png", Size: 2, MimeType: "image/png", UploadID: "local-1"}, false); e == nil || e.Status != 409 {
		t.Fatalf("duplicate id: %v", e)
	}
	if _, e := f.ts.uploads.reserve(wire.LocalSessionID, wire.UploadRequest{Name: "", Size: 2, MimeType: "image/png"}, false); e == nil || e.Status != 400 {
		t.Fatalf("empty name: %v", e)
	}
	// Never expires, needs no signature, ignores stray query parameters.
	f.clk.Add(365 * 24 * time.Hour)
	if r := f.put(t, resp.PresignedURL+"?sig=bogus", []byte("hi"), 2); r.Status != 200 {
		t.Fatalf("unsigned PUT = %d %s", r.Status, r.Body)
	}
	info, ok := f.ts.uploads.lookup("local-1")
	if !ok || info.Signed || !info.ExpiresAt.IsZero() || !info.Completed || info.SessionID != wire.LocalSessionID {
		t.Fatalf("lookup = %+v", info)
	}
	if r := f.put(t, resp.PresignedURL, []byte("hi"), 2); r.Status != 409 {
		t.Fatalf("second unsigned PUT = %d, want 409", r.Status)
	}
}

func TestUploadSnapshotForgetAndClear(t *testing.T) {
	f := newUplFixture(t)
	a := f.reserve(t, "a", 1)
	b := f.reserve(t, "b", 1)
	if r := f.put(t, a.PresignedURL, []byte("a"), 1); r.Status != 200 {
		t.Fatal(r.Status)
	}
	if _, e := f.ts.uploads.reserve("other-session", wire.UploadRequest{Name: "c", Size: 1, MimeType: "text/plain"}, false); e != nil {
		t.Fatal(e)
	}
	snap := f.ts.uploads.snapshot()
	if len(snap) != 3 || snap[0].ID != a.PresignedID || snap[1].ID != b.PresignedID || !snap[0].Completed || snap[1].Completed {
		t.Fatalf("snapshot %+v", snap)
	}
	raw, err := json.Marshal(snap[1])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("completed_at")) || bytes.Contains(raw, []byte("sha256")) {
		t.Fatalf("incomplete upload shows completion fields: %s", raw)
	}
	if n := f.ts.uploads.forgetSession("other-session"); n != 1 || len(f.ts.uploads.snapshot()) != 2 {
		t.Fatalf("forgetSession dropped %d", n)
	}
	if r := f.ts.do(t, http.MethodPost, "/__admin/reset", nil, nil); r.Status != http.StatusNoContent {
		t.Fatalf("reset = %d", r.Status)
	}
	if _, ok := f.ts.uploads.lookup(a.PresignedID); ok {
		t.Fatal("reset kept an upload")
	}
	if _, ok := f.ts.uploads.bytes(a.PresignedID); ok {
		t.Fatal("reset kept bytes")
	}
	if len(f.ts.uploads.snapshot()) != 0 {
		t.Fatal("snapshot not empty after reset")
	}
	if r := f.put(t, b.PresignedURL, []byte("b"), 1); r.Status != 404 {
		t.Fatalf("PUT after reset = %d, want 404", r.Status)
	}
}

func TestUploadRequestBaseURLFallback(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := s.tokens.mint(claims{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// No Start, no WithBaseURL: the presigned URL uses the request's host.
	f := &uplFixture{ts: &testServer{Server: s, http: httptest.NewServer(s)}, jwt: jwt}
	t.Cleanup(func() { f.ts.http.Close(); _ = s.Close() })
	f.sid = f.createSession(t)
	u := f.reserve(t, "h.bin", 1)
	if !strings.HasPrefix(u.PresignedURL, f.ts.http.URL+"/uploads/") {
		t.Fatalf("presigned URL %q does not use the request's base %s", u.PresignedURL, f.ts.http.URL)
	}
	if r := f.put(t, u.PresignedURL, []byte("h"), 1); r.Status != 200 {
		t.Fatalf("PUT = %d %s", r.Status, r.Body)
	}
}

func FuzzReserveUploadBody(f *testing.F) {
	seeds := []string{
		``, `null`, `{}`, `[]`, `"x"`, `0`, `{"name":`,
		`{"name":"a.png","size":1,"mime_type":"image/png"}`,
		`{"name":"a.png","size":33554433,"mime_type":"image/png"}`,
		`{"name":"a","size":-1,"mime_type":"x"}`,
		`{"name":"a","size":1e400,"mime_type":"x"}`,
		`{"name":"a","size":1,"mime_type":"x","upload_id":"../../etc"}`,
		`{"name":"a","size":1,"mime_type":"x","upload_id":"fixed"}`,
		`{"name":"a","size":1,"mime_type":"x","upload_id":""}`,
		`{"name":null,"size":null,"mime_type":null}`,
		`{"name":"\u0000","size":1,"mime_type":"\ud800"}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	fx := newUplFixture(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := fx.ts.do(t, http.MethodPost, "/sessions/"+fx.sid+"/uploads", currentHeaders(fx.jwt), body)
		if r.Status >= 500 {
			t.Fatalf("body %q: status %d %s", body, r.Status, r.Body)
		}
		if r.Status == http.StatusCreated {
			var resp wire.UploadResponse
			r.JSON(t, &resp)
			if resp.PresignedID == "" || resp.PresignedURL == "" || resp.Path == "" {
				t.Fatalf("body %q: incomplete 201 %s", body, r.Body)
			}
			fx.ts.uploads.clear() // keep memory flat across iterations
		} else if r.Detail() == "" {
			t.Fatalf("body %q: status %d without a detail: %s", body, r.Status, r.Body)
		}
	})
}

func TestUploadReserveSessionStates(t *testing.T) {
	body := wire.UploadRequest{Name: "s.png", Size: 1, MimeType: "image/png"}
	cases := []struct {
		name   string
		setup  func(t *testing.T, f *uplFixture) (path string, jwt string)
		status int
		detail string
	}{
		{"live session", func(t *testing.T, f *uplFixture) (string, string) {
			return "/sessions/" + f.sid + "/uploads", f.jwt
		}, 201, ""},
		{"deleted session", func(t *testing.T, f *uplFixture) (string, string) {
			if r := f.ts.do(t, http.MethodDelete, "/sessions/"+f.sid, currentHeaders(f.jwt), nil); r.Status/100 != 2 {
				t.Fatalf("DELETE = %d %s", r.Status, r.Body)
			}
			return "/sessions/" + f.sid + "/uploads", f.jwt
		}, 404, "Unknown session"},
		{"closed session", func(t *testing.T, f *uplFixture) (string, string) {
			r := f.ts.do(t, http.MethodPost, "/__admin/sessions/"+f.sid+"/state", nil, map[string]any{"state": wire.StateClosed})
			if r.Status != 200 {
				t.Fatalf("force CLOSED = %d %s", r.Status, r.Body)
			}
			return "/sessions/" + f.sid + "/uploads", f.jwt
		}, 400, "No session running"},
		{"scoped token on a foreign session", func(t *testing.T, f *uplFixture) (string, string) {
			return "/sessions/" + f.sid + "/uploads", f.ts.token(t, claims{Models: []string{"helios"}}, time.Hour)
		}, 403, "scoped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newUplFixture(t)
			path, jwt := c.setup(t, f)
			r := f.ts.do(t, http.MethodPost, path, currentHeaders(jwt), body)
			if c.status == 201 {
				if r.Status != 201 {
					t.Fatalf("status %d, want 201; body %s", r.Status, r.Body)
				}
				return
			}
			expectError(t, r, c.status)
			if !strings.Contains(r.Detail(), c.detail) {
				t.Fatalf("detail %q does not mention %q", r.Detail(), c.detail)
			}
		})
	}
}
