package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/suites/internal/httprec"
	"github.com/reactor-harness/reactor-harness/wire"
)

// httpTimeout bounds one request of a case.
const httpTimeout = 15 * time.Second

// Run is one execution of one case against a Target: it owns the HTTP
// recorder whose transcript is attached to a failed spec, the JWT it minted,
// and the cleanups (sessions to delete, scenario to restore).
type Run struct {
	T   *Target
	Rec *httprec.Recorder

	client *http.Client

	mu        sync.Mutex
	jwt       string
	sessions  []string
	closers   []func()
	restore   bool
	cleanedUp bool
}

// NewRun prepares a run of one case.
func NewRun(t *Target) *Run {
	rec := httprec.New(&http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   true,
	})
	return &Run{T: t, Rec: rec, client: rec.Client(httpTimeout)}
}

// Cleanup deletes the sessions the run created and, after a destructive
// case, restores the mock's scenario. It is bounded and never fails the
// case: errors are returned for the caller to log.
func (r *Run) Cleanup(ctx context.Context) error {
	r.mu.Lock()
	if r.cleanedUp {
		r.mu.Unlock()
		return nil
	}
	r.cleanedUp = true
	ids := append([]string(nil), r.sessions...)
	restore := r.restore
	closers := r.closers
	r.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		closers[i]()
	}

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	var errs []error
	if restore {
		// Reset first: it forgets every session (so no DELETE can trip over a
		// fault the case injected) and puts the starting scenario back.
		if err := r.resetMock(ctx); err != nil {
			errs = append(errs, err)
		}
	} else {
		for _, id := range ids {
			resp, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(id), nil)
			if err != nil {
				errs = append(errs, err)
			} else if resp.Status >= 300 && resp.Status != http.StatusNotFound {
				errs = append(errs, fmt.Errorf("cleanup: %s", resp.Line()))
			}
		}
	}
	return errors.Join(errs...)
}

// onCleanup registers f to run first on Cleanup (peer connections, clients).
func (r *Run) onCleanup(f func()) {
	r.mu.Lock()
	r.closers = append(r.closers, f)
	r.mu.Unlock()
}

// Resp is a received answer with the recorded exchange.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
	Ex     httprec.Exchange
}

// Line describes the exchange on one line (secrets redacted).
func (r *Resp) Line() string { return r.Ex.Line() }

// JSON decodes the body into v, with an error that shows the exchange.
func (r *Resp) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("response body is not the expected JSON (%v)\n  exchange: %s", err, r.Line())
	}
	return nil
}

// Object decodes the body as a JSON object.
func (r *Resp) Object() (map[string]any, error) {
	var m map[string]any
	if err := r.JSON(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("response body is JSON null, expected an object\n  exchange: %s", r.Line())
	}
	return m, nil
}

// send performs one request. path may be absolute (presigned URLs) or
// relative to the target. body is JSON-encoded unless it is []byte (sent
// as is) or nil (no body). Transport failures become errors naming the call.
func (r *Run) send(ctx context.Context, method, path string, hdr http.Header, body any) (*Resp, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = r.T.BaseURL + path
	}
	var rd io.Reader
	var n int64 = -1
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, n = bytes.NewReader(b), int64(len(b))
	case rawJSON:
		rd, n = strings.NewReader(string(b)), int64(len(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding request body for %s %s: %w", method, path, err)
		}
		rd, n = bytes.NewReader(raw), int64(len(raw))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if n >= 0 {
		req.ContentLength = n
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if rd != nil && req.Header.Get(wire.HeaderContentType) == "" {
		if _, isRaw := body.([]byte); !isRaw {
			req.Header.Set(wire.HeaderContentType, wire.ContentTypeJSON)
		}
	}
	if cl := req.Header.Get(wire.HeaderContentLength); cl != "" {
		// A case declaring its own Content-Length (size-mismatch checks).
		v, perr := strconv.ParseInt(cl, 10, 64)
		if perr == nil {
			req.ContentLength = v
		}
		req.Header.Del(wire.HeaderContentLength)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		shown := path
		if ex, ok := r.Rec.Last(); ok && ex.Err != "" {
			shown = ex.URL
		}
		return nil, fmt.Errorf("no HTTP answer to %s %s: %v", method, shown, httprec.RedactText(rootCause(err).Error()))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	ex, _ := r.Rec.Last()
	return &Resp{Status: resp.StatusCode, Header: resp.Header, Body: b, Ex: ex}, nil
}

// rawJSON is a request body sent verbatim with a JSON content type (used
// for literal bodies such as `null` or deliberately odd shapes).
type rawJSON string

// Header sets that current SDKs send (PROTOCOL.md §1.0).

// apiHeaders are the coordinator version headers of a current SDK.
func apiHeaders() http.Header {
	h := http.Header{}
	h.Set(wire.HeaderAPIVersion, strconv.Itoa(wire.CurrentAPIVersion))
	h.Set(wire.HeaderAPIAcceptVersion, strconv.Itoa(wire.CurrentAPIVersion))
	return h
}

// transportHeaders are the transport headers of reactor-core (all three).
func transportHeaders() http.Header {
	h := apiHeaders()
	h.Set(wire.HeaderWebRTCVersion, wire.CurrentWebRTCVersion)
	return h
}

func withBearer(h http.Header, jwt string) http.Header {
	h.Set(wire.HeaderAuthorization, wire.BearerPrefix+jwt)
	return h
}

// coord sends a coordinator call the way a current SDK does: version
// headers and a bearer JWT minted for this run.
func (r *Run) coord(ctx context.Context, method, path string, body any) (*Resp, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return nil, err
	}
	return r.send(ctx, method, path, withBearer(apiHeaders(), jwt), body)
}

// Token returns a JWT for the run, minting it on first use with
// POST /tokens (Reactor-API-Key, no body).
func (r *Run) Token(ctx context.Context) (string, error) {
	r.mu.Lock()
	jwt := r.jwt
	r.mu.Unlock()
	if jwt != "" {
		return jwt, nil
	}
	tr, _, err := r.MintToken(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("setup: minting a token failed, so this case could not run: %w", err)
	}
	r.mu.Lock()
	r.jwt = tr.JWT
	r.mu.Unlock()
	return tr.JWT, nil
}

// MintToken posts body (nil: no body) to /tokens with the target's key and
// requires a 200 with a non-empty jwt.
func (r *Run) MintToken(ctx context.Context, body any) (*wire.TokenResponse, *Resp, error) {
	h := http.Header{}
	h.Set(wire.HeaderAPIKey, r.T.APIKey)
	resp, err := r.send(ctx, http.MethodPost, wire.PathTokens, h, body)
	if err != nil {
		return nil, nil, err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return nil, resp, err
	}
	var tr wire.TokenResponse
	if err := resp.JSON(&tr); err != nil {
		return nil, resp, err
	}
	if tr.JWT == "" {
		return nil, resp, fail(resp, "the body has no non-empty \"jwt\" string")
	}
	return &tr, resp, nil
}

// createBody is the current SDKs' POST /sessions body (PROTOCOL.md §1.2).
func (r *Run) createBody() wire.CreateSessionRequest {
	return wire.CreateSessionRequest{
		Model:               &wire.ModelRef{Name: r.T.Model},
		ClientInfo:          &wire.ClientInfo{SDKVersion: "conformance", SDKType: "go-harness"},
		SupportedTransports: []wire.Transport{{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion}},
	}
}

// maxQuotaWait bounds how long one case waits out 429s from the
// account's creation quota (50 per minute per model on the platform).
const maxQuotaWait = 75 * time.Second

// postSession sends POST /sessions with body and remembers any session id
// the answer carries, so cleanup deletes it whatever the case decides. A
// 429 is waited out (Retry-After, bounded by maxQuotaWait) as the platform
// asks clients to do: a whole catalog run creates more sessions than a
// real account may create per minute, and a quota is not what these cases
// check (limits.go does, with postSessionOnce).
func (r *Run) postSession(ctx context.Context, hdr http.Header, body any) (*Resp, error) {
	deadline := time.Now().Add(maxQuotaWait)
	for {
		resp, err := r.postSessionOnce(ctx, hdr, body)
		if err != nil || resp.Status != http.StatusTooManyRequests {
			return resp, err
		}
		wait := 3 * time.Second
		if n, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get(wire.HeaderRetryAfter))); perr == nil && n > 0 {
			wait = time.Duration(n) * time.Second
		}
		if time.Now().Add(wait).After(deadline) {
			return resp, nil
		}
		if err := sleep(ctx, wait); err != nil {
			return resp, nil
		}
	}
}

// postSessionOnce is postSession without waiting out a 429.
func (r *Run) postSessionOnce(ctx context.Context, hdr http.Header, body any) (*Resp, error) {
	resp, err := r.send(ctx, http.MethodPost, wire.PathSessions, hdr, body)
	if err != nil {
		return nil, err
	}
	var idOnly struct {
		SessionID string `json:"session_id"`
	}
	if resp.Status/100 == 2 && json.Unmarshal(resp.Body, &idOnly) == nil && idOnly.SessionID != "" {
		r.mu.Lock()
		r.sessions = append(r.sessions, idOnly.SessionID)
		r.mu.Unlock()
	}
	return resp, nil
}

// CreateSession creates a session of the target's model like a current SDK
// and requires a 2xx answer with a session_id.
func (r *Run) CreateSession(ctx context.Context) (*wire.SessionResponse, *Resp, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return nil, nil, err
	}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), r.createBody())
	if err != nil {
		return nil, nil, err
	}
	if resp.Status/100 != 2 {
		return nil, resp, fail(resp, "expected 201 Created (any 2xx) for a valid session creation, received %s", statusName(resp.Status))
	}
	var sr wire.SessionResponse
	if err := resp.JSON(&sr); err != nil {
		return nil, resp, err
	}
	if sr.SessionID == "" {
		return nil, resp, fail(resp, "the body has no \"session_id\"")
	}
	return &sr, resp, nil
}

// WaitReady polls GET /sessions/{id} until capabilities and
// selected_transport are both present (every SDK's readiness rule),
// bounded by the target's ready timeout. A terminal state or any non-2xx
// fails at once, as it does in the SDKs.
func (r *Run) WaitReady(ctx context.Context, id string) (*wire.SessionResponse, *Resp, error) {
	deadline := time.Now().Add(r.T.ReadyTimeout)
	delay := 50 * time.Millisecond
	var last *Resp
	for attempt := 1; ; attempt++ {
		resp, err := r.coord(ctx, http.MethodGet, wire.SessionPath(id), nil)
		if err != nil {
			return nil, nil, err
		}
		last = resp
		if resp.Status != http.StatusOK {
			return nil, resp, fail(resp, "polling for readiness: expected 200, received %s (SDKs fail the connect on any non-2xx poll)", statusName(resp.Status))
		}
		m, err := resp.Object()
		if err != nil {
			return nil, resp, err
		}
		var p problems
		checkSlim(&p, m)
		if err := p.err(resp, "polling for readiness: the body is not a session the SDKs can parse"); err != nil {
			return nil, resp, err
		}
		var sr wire.SessionResponse
		if err := resp.JSON(&sr); err != nil {
			return nil, resp, err
		}
		if sr.Ready() {
			return &sr, resp, nil
		}
		if sr.State.Terminal() {
			return &sr, resp, fail(resp, "the session entered terminal state %s before becoming ready", sr.State)
		}
		if time.Now().Add(delay).After(deadline) {
			return &sr, last, fail(resp, "not ready after %d polls in %s: capabilities and selected_transport never both appeared (last state %q; raise --reactor.ready-timeout for a slow cluster)",
				attempt, r.T.ReadyTimeout, sr.State)
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, last, err
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// ReadySession creates a session and waits until it is ready.
func (r *Run) ReadySession(ctx context.Context) (*wire.SessionResponse, error) {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return nil, err
	}
	ready, _, err := r.WaitReady(ctx, sr.SessionID)
	return ready, err
}

// Admin API helpers (reactor-harness mock only).

// errNoAdmin is what a destructive helper returns against a server without
// the admin API; the Ginkgo wrapper skips such cases before they run.
var errNoAdmin = errors.New("this case needs the reactor-harness mock's admin API (/__admin/), which the target does not offer")

func (r *Run) admin(ctx context.Context, method, path string, body any) (*Resp, error) {
	if !r.T.Admin {
		return nil, errNoAdmin
	}
	resp, err := r.send(ctx, method, path, nil, body)
	if err != nil {
		return nil, err
	}
	if resp.Status/100 != 2 {
		return resp, fmt.Errorf("setup: the mock's admin API refused %s", resp.Line())
	}
	return resp, nil
}

// MutateScenario reads the mock's active scenario, lets change edit it and
// puts it back. The run restores the starting scenario on cleanup.
func (r *Run) MutateScenario(ctx context.Context, change func(*mockserver.Scenario)) error {
	resp, err := r.admin(ctx, http.MethodGet, "/__admin/scenario", nil)
	if err != nil {
		return err
	}
	var sc mockserver.Scenario
	if err := resp.JSON(&sc); err != nil {
		return err
	}
	r.mu.Lock()
	r.restore = true
	r.mu.Unlock()
	change(&sc)
	_, err = r.admin(ctx, http.MethodPut, "/__admin/scenario", &sc)
	return err
}

// ForceState moves a session to a state through the admin API.
func (r *Run) ForceState(ctx context.Context, id string, st wire.SessionState) error {
	r.mu.Lock()
	r.restore = true
	r.mu.Unlock()
	_, err := r.admin(ctx, http.MethodPost, "/__admin/sessions/"+id+"/state", map[string]string{"state": string(st)})
	return err
}

func (r *Run) resetMock(ctx context.Context) error {
	if _, err := r.admin(ctx, http.MethodPost, "/__admin/reset", nil); err != nil {
		return err
	}
	if len(r.T.Baseline) > 0 {
		_, err := r.admin(ctx, http.MethodPut, "/__admin/scenario", rawJSON(r.T.Baseline))
		return err
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("interrupted while waiting: %w", ctx.Err())
	}
}

func bgCtx() context.Context { return context.Background() }

// rootCause strips the *url.Error wrapper, whose text repeats the URL.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
