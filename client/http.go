package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// maxBody caps how much of a response body the client reads.
const maxBody = 1 << 20

// defaultHTTP is shared by clients without Config.HTTPClient, so hundreds
// of clients in one process reuse connections to the same host.
var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	MaxIdleConns:        1024,
	MaxIdleConnsPerHost: 256,
	IdleConnTimeout:     90 * time.Second,
	ForceAttemptHTTP2:   true,
}}

// request describes one protocol call.
type request struct {
	phase  string
	method string
	// path is relative to BaseURL unless url is set.
	path string
	url  string
	// body is JSON-encoded when non-nil; raw sends bytes as they are.
	body        any
	raw         []byte
	contentType string
	// auth adds Authorization; api adds the two API version headers;
	// transport adds Reactor-WebRTC-Version.
	auth, api, transport bool
	// apiKey, when set, is sent as Reactor-API-Key.
	apiKey string
	// want lists the accepted statuses; empty accepts any 2xx.
	want []int
	// out receives the JSON body of an accepted 200/201 answer.
	out any
}

// response is what do returns for an accepted status.
type response struct {
	status int
	body   []byte
}

// do runs one request, bounded by Timeouts.HTTP, and turns every failure
// into an *Error of r.phase.
func (c *Client) do(ctx context.Context, r request) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeouts.HTTP)
	defer cancel()
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return response{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, ctxErr(r.phase, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return response{}, ctxErr(r.phase, fmt.Errorf("read body: %w", err))
	}
	if !accepted(resp.StatusCode, r.want) {
		return response{}, statusError(r.phase, resp, body)
	}
	if r.out != nil && len(bytes.TrimSpace(body)) > 0 && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated) {
		if err := json.Unmarshal(body, r.out); err != nil {
			return response{}, &Error{Phase: r.phase, Status: resp.StatusCode, Code: CodeProtocol,
				Detail: snippet(body), Err: fmt.Errorf("decode %s %s body: %w", r.method, r.path, err)}
		}
	}
	return response{status: resp.StatusCode, body: body}, nil
}

func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var body io.Reader
	contentType := r.contentType
	switch {
	case r.raw != nil:
		body = bytes.NewReader(r.raw)
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, newErr(r.phase, CodeProtocol, fmt.Errorf("encode body: %w", err))
		}
		body = bytes.NewReader(b)
		contentType = wire.ContentTypeJSON
	}
	u := r.url
	if u == "" {
		u = c.baseURL + r.path
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, newErr(r.phase, CodeProtocol, err)
	}
	if contentType != "" {
		req.Header.Set(wire.HeaderContentType, contentType)
	}
	if r.api {
		v := strconv.Itoa(wire.CurrentAPIVersion)
		req.Header.Set(wire.HeaderAPIVersion, v)
		req.Header.Set(wire.HeaderAPIAcceptVersion, v)
	}
	if r.transport {
		req.Header.Set(wire.HeaderWebRTCVersion, wire.CurrentWebRTCVersion)
	}
	if r.apiKey != "" {
		req.Header.Set(wire.HeaderAPIKey, r.apiKey)
	}
	if r.auth {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, &Error{Phase: r.phase, Code: wire.CodeUnauthorized, Err: fmt.Errorf("JWT resolver: %w", err)}
		}
		if tok != "" {
			req.Header.Set(wire.HeaderAuthorization, wire.BearerPrefix+tok)
		}
	}
	return req, nil
}

// token resolves the JWT for one request: JWTFunc, else JWT, else the
// token minted from the API key.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.cfg.JWTFunc != nil {
		return c.cfg.JWTFunc(ctx)
	}
	if c.cfg.JWT != "" {
		return c.cfg.JWT, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.minted, nil
}

func accepted(status int, want []int) bool {
	if len(want) == 0 {
		return status >= 200 && status < 300
	}
	return slices.Contains(want, status)
}

// statusError builds the *Error for an unaccepted status: the platform's
// code for 4xx/5xx, PROTOCOL_ERROR for a 1xx-3xx the step does not allow.
func statusError(phase string, resp *http.Response, body []byte) *Error {
	e := &Error{Phase: phase, Status: resp.StatusCode, Code: wire.CodeForStatus(resp.StatusCode),
		Detail: detailOf(body), RetryAfter: retryAfter(resp.Header.Get(wire.HeaderRetryAfter)),
		Err: ErrUnexpectedStatus}
	if e.Code == "" {
		e.Code = CodeProtocol
	}
	return e
}

// detailOf extracts {"detail": ...}: the string, or the raw JSON of a
// FastAPI validation list; otherwise a snippet of the body.
func detailOf(body []byte) string {
	var eb struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Detail) > 0 {
		var s string
		if json.Unmarshal(eb.Detail, &s) == nil {
			return s
		}
		return string(eb.Detail)
	}
	return snippet(body)
}

func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// retryAfter reads delta-seconds; HTTP dates are ignored like reactor-core.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errEmptyJWT = errors.New("POST /tokens returned no jwt")
