package mockserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// sendAllThenRead writes a whole HTTP/1.1 request (headers, then body) on a
// fresh TCP connection before reading a byte of the answer, as curl and
// Python's http.client do. A server that answers early and closes with the
// body unread resets such a client before it can read the answer.
func sendAllThenRead(t *testing.T, base, method, path string, h http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, u.Host, len(body))
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(append(head.Bytes(), body...)); err != nil {
		t.Fatalf("%s %s: sending the body failed (%v): the server did not let the client finish", method, path, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: no response readable after sending the body: %v", method, path, err)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: response body: %v", method, path, err)
	}
	return resp, raw
}

// TestOversizedBodiesAnswerReadably: a 10 MB body to POST /tokens, POST
// /sessions, PUT /__admin/scenario and an upload PUT gets its 4xx
// {"detail"} through to a client that sends everything first, and to Go's
// client; the mock stays up and journals the refusal.
func TestOversizedBodiesAnswerReadably(t *testing.T) {
	f := newUplFixture(t)
	ts, jwt, sid := f.ts, f.jwt, f.sid
	big := bytes.Repeat([]byte("x"), 10<<20)
	ref := ts.do(t, "POST", "/sessions/"+sid+"/uploads", currentHeaders(jwt),
		map[string]any{"name": "a.png", "size": 10, "mime_type": "image/png"})
	var up wire.UploadResponse
	ref.JSON(t, &up)
	putPath := strings.TrimPrefix(up.PresignedURL, ts.URL())

	cases := []struct {
		method, path string
		h            http.Header
		status       int
	}{
		{"POST", "/tokens", keyHeader(ts.APIKey()), http.StatusRequestEntityTooLarge},
		{"POST", "/sessions", currentHeaders(jwt), http.StatusRequestEntityTooLarge},
		{"PUT", "/__admin/scenario", http.Header{}, http.StatusRequestEntityTooLarge},
		{"PUT", putPath, http.Header{}, http.StatusBadRequest}, // RT: "expected N bytes" is 400
	}
	for _, tc := range cases {
		resp, raw := sendAllThenRead(t, ts.URL(), tc.method, tc.path, tc.h, big)
		var eb wire.ErrorBody
		if resp.StatusCode != tc.status || json.Unmarshal(raw, &eb) != nil || eb.Detail == "" {
			t.Fatalf("%s %s with 10 MB (raw client): %d %.200s, want %d {\"detail\"}", tc.method, tc.path, resp.StatusCode, raw, tc.status)
		}
		req, _ := http.NewRequest(tc.method, ts.URL()+tc.path, bytes.NewReader(big))
		for k, vs := range tc.h {
			req.Header[k] = vs
		}
		gresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s with 10 MB (Go client): %v", tc.method, tc.path, err)
		}
		graw, _ := io.ReadAll(gresp.Body)
		gresp.Body.Close()
		if gresp.StatusCode != tc.status || json.Unmarshal(graw, &eb) != nil || eb.Detail == "" {
			t.Fatalf("%s %s with 10 MB (Go client): %d %.200s", tc.method, tc.path, gresp.StatusCode, graw)
		}
	}
	var refused int
	for _, e := range ts.journal.Entries(Filter{}) {
		if e.Status == http.StatusRequestEntityTooLarge {
			refused++
		}
	}
	if refused != 4 { // the admin PUT is not journaled
		t.Fatalf("%d 413s journaled, want 4", refused)
	}
	// The upload slot survived the refusals and still takes its 10 bytes.
	if r := ts.do(t, "PUT", putPath, http.Header{wire.HeaderContentType: {"image/png"}}, []byte("0123456789")); r.Status != http.StatusOK {
		t.Fatalf("upload after refusals: %d %s", r.Status, r.Body)
	}
}

// TestOverlongTargetAndHeaders: 414 and 431 come as {"detail"}, on known
// and unknown routes alike, and are journaled without the oversized parts.
func TestOverlongTargetAndHeaders(t *testing.T) {
	ts := newTestServer(t)
	long := "/sessions/" + strings.Repeat("a", maxURLBytes)
	resp, raw := sendAllThenRead(t, ts.URL(), "GET", long, http.Header{}, nil)
	checkDetail(t, resp, raw, http.StatusRequestURITooLong)
	resp, raw = sendAllThenRead(t, ts.URL(), "GET", "/sessions/x?q="+strings.Repeat("b", maxURLBytes), http.Header{}, nil)
	checkDetail(t, resp, raw, http.StatusRequestURITooLong)
	h := http.Header{"X-Big": {strings.Repeat("c", maxHeaderBytes)}}
	resp, raw = sendAllThenRead(t, ts.URL(), "POST", "/tokens", h, []byte(`{}`))
	checkDetail(t, resp, raw, http.StatusRequestHeaderFieldsTooLarge)
	many := http.Header{}
	for i := range 2000 {
		many.Set(fmt.Sprintf("X-H%d", i), strings.Repeat("d", 20))
	}
	resp, raw = sendAllThenRead(t, ts.URL(), "GET", "/nowhere", many, nil)
	checkDetail(t, resp, raw, http.StatusRequestHeaderFieldsTooLarge)
	b, _ := json.Marshal(ts.journal.Entries(Filter{}))
	if len(b) > 8<<10 {
		t.Fatalf("journal of refused requests is %d bytes: the oversized parts were kept", len(b))
	}
	// Just under the limits is served normally.
	ok := ts.do(t, "GET", "/sessions/"+strings.Repeat("a", maxURLBytes-200), currentHeaders(ts.token(t, claims{}, time.Hour)), nil)
	expectError(t, ok, http.StatusNotFound)

}

func checkDetail(t *testing.T, resp *http.Response, raw []byte, status int) {
	t.Helper()
	var eb wire.ErrorBody
	if resp.StatusCode != status || json.Unmarshal(raw, &eb) != nil || eb.Detail == "" {
		t.Fatalf("got %d %.200s, want %d with {\"detail\"}", resp.StatusCode, raw, status)
	}
}
