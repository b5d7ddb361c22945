// Package httprec records the HTTP exchanges a conformance case makes, so
// that a failing case can show a maintainer exactly what was sent and what
// came back (method, path, status, headers and a body excerpt) without
// reading harness code. Secrets are redacted before anything is stored:
// API keys, JWTs (in headers, bodies and query strings) and presigned
// signatures never reach a report.
//
// A Recorder is an http.RoundTripper wrapper: every request made through
// Recorder.Client is recorded, bodies included, and the caller still gets
// the complete response body. Suites attach Recorder.Transcript to a failed
// spec with Ginkgo's AddReportEntry.
package httprec

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// MaxExcerpt bounds every recorded body excerpt (request and response).
const MaxExcerpt = 2 << 10

// maxExchanges bounds how many exchanges one Recorder keeps; later ones
// replace the oldest so a runaway poll loop cannot eat memory.
const maxExchanges = 200

// maxBody bounds how much of a response body is read into memory.
const maxBody = 4 << 20

// Exchange is one recorded request and its answer (or transport error).
type Exchange struct {
	Seq      int           `json:"seq"`
	Time     time.Time     `json:"time"`
	Method   string        `json:"method"`
	URL      string        `json:"url"`  // redacted
	Path     string        `json:"path"` // path and redacted query
	ReqHdr   http.Header   `json:"request_headers,omitempty"`
	ReqBody  string        `json:"request_body,omitempty"` // redacted excerpt
	ReqBytes int64         `json:"request_bytes"`
	Status   int           `json:"status,omitempty"`
	RespHdr  http.Header   `json:"response_headers,omitempty"`
	RespBody string        `json:"response_body,omitempty"` // redacted excerpt
	Duration time.Duration `json:"duration"`
	Err      string        `json:"error,omitempty"`
}

// Line is the exchange on one line: "POST /sessions {…} → 201 {…}".
func (e Exchange) Line() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	if e.ReqBody != "" {
		b.WriteByte(' ')
		b.WriteString(oneLine(e.ReqBody, 300))
	}
	b.WriteString(" → ")
	if e.Err != "" {
		b.WriteString("transport error: ")
		b.WriteString(e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	if e.RespBody != "" {
		b.WriteByte(' ')
		b.WriteString(oneLine(e.RespBody, 500))
	}
	return b.String()
}

// Recorder records exchanges. It is safe for concurrent use.
type Recorder struct {
	inner http.RoundTripper

	mu   sync.Mutex
	seq  int
	list []Exchange
}

// New returns a Recorder that sends requests with inner (nil means
// http.DefaultTransport).
func New(inner http.RoundTripper) *Recorder {
	if inner == nil {
		inner = http.DefaultTransport
	}
	return &Recorder{inner: inner}
}

// Client returns an http.Client that records through r. It never follows
// redirects: a conformance case must see the status the server sent.
func (r *Recorder) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     r,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := Exchange{Time: time.Now(), Method: req.Method, URL: RedactURL(req.URL), Path: redactPath(req.URL),
		ReqHdr: RedactHeaders(req.Header), ReqBytes: req.ContentLength}
	if req.Body != nil && req.Body != http.NoBody {
		raw, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			ex.Err = "reading request body: " + err.Error()
			r.add(ex)
			return nil, err
		}
		ex.ReqBody = Excerpt(raw, req.Header.Get("Content-Type"))
		ex.ReqBytes = int64(len(raw))
		// Keep the caller's ContentLength: a case may deliberately declare a
		// length that differs from the body it sends.
		req.Body = io.NopCloser(bytes.NewReader(raw))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	}
	start := time.Now()
	resp, err := r.inner.RoundTrip(req)
	ex.Duration = time.Since(start)
	if err != nil {
		ex.Err = RedactText(err.Error())
		r.add(ex)
		return nil, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ex.Status = resp.StatusCode
	ex.RespHdr = RedactHeaders(resp.Header)
	ex.RespBody = Excerpt(body, resp.Header.Get("Content-Type"))
	if rerr != nil {
		ex.Err = "reading response body: " + RedactText(rerr.Error())
	}
	r.add(ex)
	return resp, nil
}

func (r *Recorder) add(ex Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	ex.Seq = r.seq
	if len(r.list) >= maxExchanges {
		r.list = append(r.list[:0], r.list[1:]...)
	}
	r.list = append(r.list, ex)
}

// Exchanges returns a copy of what was recorded, oldest first.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.list...)
}

// Last returns the most recent exchange (ok false when none).
func (r *Recorder) Last() (Exchange, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		return Exchange{}, false
	}
	return r.list[len(r.list)-1], true
}

// Transcript renders every exchange with headers and body excerpts, for a
// report entry. It is empty when nothing was recorded.
func (r *Recorder) Transcript() string {
	exs := r.Exchanges()
	if len(exs) == 0 {
		return ""
	}
	var b strings.Builder
	for _, e := range exs {
		fmt.Fprintf(&b, "#%d %s %s\n", e.Seq, e.Time.UTC().Format("15:04:05.000"), e.Method+" "+e.URL)
		writeHeaders(&b, "  > ", e.ReqHdr)
		if e.ReqBody != "" {
			fmt.Fprintf(&b, "  > body (%d bytes): %s\n", e.ReqBytes, e.ReqBody)
		}
		if e.Err != "" {
			fmt.Fprintf(&b, "  < error after %s: %s\n", e.Duration.Round(time.Millisecond), e.Err)
		}
		if e.Status != 0 {
			fmt.Fprintf(&b, "  < %d %s (%s)\n", e.Status, http.StatusText(e.Status), e.Duration.Round(time.Millisecond))
			writeHeaders(&b, "  < ", e.RespHdr)
			if e.RespBody != "" {
				fmt.Fprintf(&b, "  < body: %s\n", e.RespBody)
			}
		}
	}
	return b.String()
}

func writeHeaders(b *strings.Builder, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		switch k {
		case "Date", "Content-Length", "User-Agent", "Accept-Encoding":
			continue // noise in a transcript
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "%s%s: %s\n", prefix, k, strings.Join(h[k], ", "))
	}
}

// Excerpt renders a body for a report: text (JSON, SDP, plain) redacted and
// cut to MaxExcerpt bytes, anything else as a byte count.
func Excerpt(body []byte, contentType string) string {
	if len(body) == 0 {
		return ""
	}
	if !looksText(body, contentType) {
		return fmt.Sprintf("<%d bytes of %s>", len(body), orUnknown(contentType))
	}
	s := RedactText(strings.TrimRight(string(body), "\r\n"))
	if len(s) > MaxExcerpt {
		cut := MaxExcerpt
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = fmt.Sprintf("%s…[%d more bytes]", s[:cut], len(s)-cut)
	}
	return s
}

func utf8Start(c byte) bool { return c&0xC0 != 0x80 }

func orUnknown(ct string) string {
	if ct == "" {
		return "unknown type"
	}
	return ct
}

func looksText(body []byte, ct string) bool {
	ct = strings.ToLower(ct)
	if strings.Contains(ct, "json") || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "sdp") {
		return true
	}
	if strings.Contains(ct, "octet-stream") || strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "video/") {
		return false
	}
	n := min(len(body), 512)
	for _, c := range body[:n] {
		if c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f {
			return false
		}
	}
	return true
}

var (
	jwtRe    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	apiKeyRe = regexp.MustCompile(`rk_[A-Za-z0-9_\-]+`)
	sigRe    = regexp.MustCompile(`((?:^|[?&"\s])(?:sig|signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)[^&"\s]+`)
)

// RedactText hides JWTs, API keys and URL signatures anywhere in s. A JWT
// keeps its (non-secret) header segment so a reader can still tell the
// algorithm; an API key keeps its rk_ prefix.
func RedactText(s string) string {
	s = jwtRe.ReplaceAllStringFunc(s, func(m string) string {
		head, _, _ := strings.Cut(m, ".")
		return head + ".<jwt payload and signature redacted>"
	})
	s = apiKeyRe.ReplaceAllString(s, "rk_<redacted>")
	return sigRe.ReplaceAllString(s, "${1}<redacted>")
}

// RedactHeaders copies h with secrets hidden; an empty bearer ("Bearer ")
// stays visible because that is itself something a case may check.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		cp := make([]string, len(vs))
		for i, v := range vs {
			switch http.CanonicalHeaderKey(k) {
			case "Authorization":
				scheme, tok, ok := strings.Cut(v, " ")
				if ok && strings.TrimSpace(tok) != "" {
					v = scheme + " " + RedactText(tok)
					if !strings.Contains(v, "redacted") {
						v = scheme + " <redacted>"
					}
				}
			case "Reactor-Api-Key", "X-Api-Key":
				v = "<redacted api key>"
			case "Cookie", "Set-Cookie":
				v = "<redacted>"
			default:
				v = RedactText(v)
			}
			cp[i] = v
		}
		out[k] = cp
	}
	return out
}

// RedactURL renders u with signature query parameters hidden.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery = redactQuery(u.RawQuery)
	return RedactText(c.String())
}

func redactPath(u *url.URL) string {
	if u == nil {
		return ""
	}
	p := u.EscapedPath()
	if q := redactQuery(u.RawQuery); q != "" {
		p += "?" + q
	}
	return p
}

func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "token", "jwt", "api_key":
			parts[i] = k + "=<redacted>"
		}
	}
	return strings.Join(parts, "&")
}

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
