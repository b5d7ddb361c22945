package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Tokens, PROTOCOL.md §1.1 and PLATFORM.md §1: POST /tokens with
// Reactor-API-Key mints {jwt, expires_at}; expires_after is clamped to 6 h;
// coordinator calls authenticate with "Authorization: Bearer <jwt>".

// clockSlack is the tolerance for comparing times computed by the server
// with times the suite computes (the server's Date header is used as "now").
const clockSlack = 5 * time.Second

func init() {
	register(Case{ID: "token/1", Section: "1.1", Check: tokenIssue,
		Requirement: "POST /tokens with a valid Reactor-API-Key and no body MUST answer 200 with a non-empty jwt and a numeric expires_at in the future"})
	register(Case{ID: "token/2", Section: "1.1", Check: tokenRequestedTTL,
		Requirement: "POST /tokens {expires_after: 600} MUST grant 600 s: expires_at = now + 600 and, when the answer carries expires_after, it is 600"})
	register(Case{ID: "token/3", Section: "1.1", Check: tokenClamp,
		Requirement: "an expires_after above 21600 s MUST be clamped silently: still 200, with expires_at = now + 21600"})
	register(Case{ID: "token/4", Section: "1.1", Check: tokenDefaultTTL,
		Requirement: "a token requested without expires_after MUST live the full 6 h (expires_at = now + 21600)"})
	register(Case{ID: "token/5", Section: "1.1", Check: tokenJWTShape,
		Requirement: "the jwt MUST be a signed compact JWS whose payload has a numeric exp equal to expires_at (and iat ≤ exp when present)"})
	register(Case{ID: "token/6", Section: "1.1", Check: tokenBadKey,
		Requirement: "POST /tokens with a wrong API key MUST be refused with 401 (or 403) and no jwt"})
	register(Case{ID: "token/7", Section: "1.1", Check: tokenNoKey,
		Requirement: "POST /tokens without Reactor-API-Key (only the removed X-API-Key) MUST be refused with 401 (or 403)"})
	register(Case{ID: "token/8", Section: "1.1", Check: tokenRemovedGET,
		Requirement: "the removed GET /tokens flow MUST answer 405 with an Allow header naming POST, and mint nothing"})
	register(Case{ID: "token/9", Section: "1.1", Check: tokenNullBody,
		Requirement: "POST /tokens with the JSON body null (what the Python SDK sends unscoped) MUST answer 200 with a jwt"})
	register(Case{ID: "token/10", Section: "1.0", Check: tokenExpired,
		Requirement: "a coordinator call with a JWT past its exp MUST be refused with 401 (or 403) once expires_at has passed"})
	register(Case{ID: "token/11", Section: "1.0", Check: tokenEmptyBearer,
		Requirement: "a coordinator call with \"Authorization: Bearer \" (empty token, JS 2.9 behaviour) MUST be refused with 401 (or 403)"})
	register(Case{ID: "token/12", Section: "1.0", Check: tokenNoAuthorization,
		Requirement: "a coordinator call without an Authorization header MUST be refused with 401 (or 403)"})
	register(Case{ID: "token/13", Section: "1.0", Check: tokenTampered,
		Requirement: "a coordinator call with a JWT whose payload was altered (signature no longer matches) MUST be refused with 401 (or 403)"})
	register(Case{ID: "token/14", Section: "1.0", Check: tokenAlgNone,
		Requirement: "a coordinator call with an unsigned JWT (alg \"none\") MUST be refused with 401 (or 403)"})
	register(Case{ID: "token/15", Section: "1.1", Check: tokenScopedModel,
		Requirement: "a token scoped by authorization_details to another model MUST NOT create a session of this model (403)"})
	register(Case{ID: "token/16", Section: "1.1", Check: tokenScopedForeignSession,
		Requirement: "a scoped token MUST NOT act on a session another token created (403)"})
	register(Case{ID: "token/17", Section: "1.1", Check: tokenSessionBudget,
		Requirement: "a token with constraints.max_sessions 1 MUST be refused (403) when it creates a second session"})
	// PROTOCOL.md §9.1 (reactor-sdk 1.13.0 fetch_jwt); checks in token_scope.go.
	register(Case{ID: "token/18", Section: "9.1", Check: tokenBindMissing,
		Requirement: "a token bound (resources.sessions.bind) to a session that does not exist MUST be refused at mint with a 4xx {\"detail\"} and no jwt"})
	register(Case{ID: "token/19", Section: "9.1", Check: tokenBindClosed,
		Requirement: "a token bound to a session that is no longer open (deleted) MUST be refused at mint with a 4xx {\"detail\"}"})
	register(Case{ID: "token/20", Section: "9.1", Check: tokenDurationRange,
		Requirement: "constraints.max_session_duration_seconds outside 1..86400 (0, -1, 86401, 100000) MUST be refused at mint with a 4xx, not clamped; 1 and 86400 MUST mint"})
	register(Case{ID: "token/21", Section: "9.1", Check: tokenBoundCannotCreate,
		Requirement: "a token bound to a session with no model list and no max_sessions MUST NOT create a session (403 with {\"detail\"})"})
	register(Case{ID: "token/22", Section: "9.1", Check: tokenBoundReach,
		Requirement: "a bound token MUST act on the session it is bound to (GET 200) and MUST NOT act on another session of the account (403 or 404)"})
	register(Case{ID: "token/23", Section: "9.1", Check: tokenUnknownScopeField,
		Requirement: "an unknown field in an authorization_details entry, its resources or its constraints MUST be refused at mint with a 4xx, not ignored"})
	register(Case{ID: "token/24", Section: "9.1", Check: tokenEmptyScope,
		Requirement: "an empty or contradictory model scope (match [], match together with all, all false) MUST be refused at mint with a 4xx"})
	register(Case{ID: "token/25", Section: "9.1", Check: tokenDurationLimit,
		Requirement: "a session created with a max_session_duration_seconds 2 token MUST be terminated (CLOSED/INACTIVE, or gone) when the 2 s elapse, not more than 1 s early nor 2 s late"})
}

// serverNow is the server's clock from the Date header (to the second),
// falling back to the local clock.
func serverNow(resp *Resp) time.Time {
	if resp != nil {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t
		}
	}
	return time.Now()
}

func within(got, want time.Time, slack time.Duration) bool {
	d := got.Sub(want)
	return d >= -slack && d <= slack
}

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func tokenIssue(ctx context.Context, r *Run) error {
	h := http.Header{}
	h.Set(wire.HeaderAPIKey, r.T.APIKey)
	resp, err := r.send(ctx, http.MethodPost, wire.PathTokens, h, nil)
	if err != nil {
		return err
	}
	m, err := wantObject(resp, http.StatusOK)
	if err != nil {
		return err
	}
	var p problems
	requireString(&p, m, "jwt")
	if exp, ok := requireNumber(&p, m, "expires_at"); ok {
		now := serverNow(resp)
		switch {
		case exp != math.Trunc(exp):
			p.add("\"expires_at\" must be whole Unix seconds, got %v", exp)
		case exp > 1e11:
			p.add("\"expires_at\" %v looks like milliseconds; it must be Unix epoch seconds", exp)
		case !unix(int64(exp)).After(now):
			p.add("\"expires_at\" %s is not in the future (server time %s)", unix(int64(exp)).Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return p.err(resp, "POST /tokens answered 200 but the body does not have the documented shape {jwt, expires_at}")
}

// checkGrant compares a token answer with the lifetime that should have
// been granted.
func checkGrant(resp *Resp, tr *wire.TokenResponse, want time.Duration, what string) error {
	var p problems
	now := serverNow(resp)
	if tr.ExpiresAt == 0 {
		p.add("\"expires_at\" is missing or 0")
	} else if got := unix(tr.ExpiresAt); !within(got, now.Add(want), clockSlack) {
		p.add("expires_at is %s = server time %s + %s, expected + %s (±%s)", got.Format(time.RFC3339),
			now.UTC().Format(time.RFC3339), got.Sub(now).Round(time.Second), want, clockSlack)
	}
	if tr.ExpiresAfter != 0 && tr.ExpiresAfter != int64(want/time.Second) {
		p.add("the answer's expires_after is %d, expected the granted %d seconds", tr.ExpiresAfter, int64(want/time.Second))
	}
	return p.err(resp, what)
}

func tokenRequestedTTL(ctx context.Context, r *Run) error {
	ttl := int64(600)
	tr, resp, err := r.MintToken(ctx, wire.TokenRequest{ExpiresAfter: &ttl})
	if err != nil {
		return err
	}
	return checkGrant(resp, tr, 600*time.Second, "the token does not live the 600 s that expires_after asked for")
}

func tokenClamp(ctx context.Context, r *Run) error {
	ask := int64(100000)
	tr, resp, err := r.MintToken(ctx, wire.TokenRequest{ExpiresAfter: &ask})
	if err != nil {
		return fmt.Errorf("asking for expires_after %d must still succeed (the ceiling is applied silently): %w", ask, err)
	}
	return checkGrant(resp, tr, wire.MaxTokenTTLSeconds*time.Second,
		"expires_after 100000 was not clamped to the 21600 s ceiling")
}

func tokenDefaultTTL(ctx context.Context, r *Run) error {
	tr, resp, err := r.MintToken(ctx, nil)
	if err != nil {
		return err
	}
	return checkGrant(resp, tr, wire.MaxTokenTTLSeconds*time.Second,
		"a token minted without expires_after does not get the documented full 6 h")
}

// decodeJWT splits a compact JWS and decodes its header and payload.
func decodeJWT(tok string) (header, payload map[string]any, sig string, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, "", fmt.Errorf("a compact JWS has 3 dot-separated parts, this has %d", len(parts))
	}
	dec := func(s, what string) (map[string]any, error) {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil {
			return nil, fmt.Errorf("the %s is not base64url: %v", what, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, fmt.Errorf("the %s is not a JSON object", what)
		}
		return m, nil
	}
	if header, err = dec(parts[0], "JOSE header"); err != nil {
		return nil, nil, "", err
	}
	if payload, err = dec(parts[1], "payload"); err != nil {
		return nil, nil, "", err
	}
	return header, payload, parts[2], nil
}

func encodeSegment(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func tokenJWTShape(ctx context.Context, r *Run) error {
	tr, resp, err := r.MintToken(ctx, nil)
	if err != nil {
		return err
	}
	header, payload, sig, err := decodeJWT(tr.JWT)
	if err != nil {
		return fail(resp, "the jwt is not a compact JWS: %v", err)
	}
	var p problems
	if alg, _ := header["alg"].(string); alg == "" || strings.EqualFold(alg, "none") {
		p.add("the JOSE header's alg is %s; a token must be signed", jsonOf(header["alg"]))
	}
	if sig == "" {
		p.add("the signature segment is empty")
	}
	exp, ok := requireNumber(&p, payload, "exp")
	if ok && tr.ExpiresAt != 0 && math.Abs(exp-float64(tr.ExpiresAt)) > 1 {
		p.add("payload exp %d differs from the answer's expires_at %d", int64(exp), tr.ExpiresAt)
	}
	if iat, present := payload["iat"]; present {
		f, isNum := iat.(float64)
		switch {
		case !isNum:
			p.add("payload iat must be a number, got %s", jsonOf(iat))
		case ok && f > exp:
			p.add("payload iat %d is after exp %d", int64(f), int64(exp))
		case unix(int64(f)).After(serverNow(resp).Add(clockSlack)):
			p.add("payload iat %s is in the future", unix(int64(f)).Format(time.RFC3339))
		}
	}
	return p.err(resp, fmt.Sprintf("the minted jwt is not a usable JWS (decoded header %s, payload claims %s)", jsonOf(header), claimNames(payload)))
}

func claimNames(m map[string]any) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	return "[" + strings.Join(sortedStrings(names), " ") + "]"
}

func wantRefused(resp *Resp, what string) error {
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
		return nil
	}
	return fail(resp, "%s must be refused with 401 Unauthorized (or 403 Forbidden), received %s", what, statusName(resp.Status))
}

func tokenBadKey(ctx context.Context, r *Run) error {
	h := http.Header{}
	h.Set(wire.HeaderAPIKey, "rk_conformance_wrong_key_"+randHex(6))
	resp, err := r.send(ctx, http.MethodPost, wire.PathTokens, h, nil)
	if err != nil {
		return err
	}
	if err := wantRefused(resp, "POST /tokens with a wrong API key"); err != nil {
		return err
	}
	if strings.Contains(string(resp.Body), "\"jwt\"") {
		return fail(resp, "the refusal must not carry a jwt")
	}
	return nil
}

func tokenNoKey(ctx context.Context, r *Run) error {
	h := http.Header{}
	h.Set(wire.HeaderLegacyAPIKey, r.T.APIKey) // the old header: must not be accepted by POST /tokens
	resp, err := r.send(ctx, http.MethodPost, wire.PathTokens, h, nil)
	if err != nil {
		return err
	}
	return wantRefused(resp, "POST /tokens without Reactor-API-Key")
}

func tokenRemovedGET(ctx context.Context, r *Run) error {
	h := http.Header{}
	h.Set(wire.HeaderLegacyAPIKey, r.T.APIKey)
	resp, err := r.send(ctx, http.MethodGet, wire.PathTokens, h, nil)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusMethodNotAllowed); err != nil {
		return err
	}
	if allow := resp.Header.Get("Allow"); !strings.Contains(strings.ToUpper(allow), http.MethodPost) {
		return fail(resp, "a 405 must list the allowed methods in Allow (RFC 9110 §15.5.6) and POST is the way to mint tokens; Allow is %q", allow)
	}
	if strings.Contains(string(resp.Body), "\"jwt\"") {
		return fail(resp, "the removed flow must not mint a token")
	}
	return nil
}

func tokenNullBody(ctx context.Context, r *Run) error {
	_, _, err := r.MintToken(ctx, rawJSON("null"))
	return err
}

// authProbe sends GET /sessions/{random id} with the version headers and
// the given Authorization value (nil: no header). An authenticated probe
// gets 404 (unknown session); an unauthenticated one must get 401.
func (r *Run) authProbe(ctx context.Context, authorization *string) (*Resp, error) {
	h := apiHeaders()
	if authorization != nil {
		h.Set(wire.HeaderAuthorization, *authorization)
	}
	return r.send(ctx, http.MethodGet, wire.SessionPath(randomUUID()), h, nil)
}

func bearer(jwt string) *string { s := wire.BearerPrefix + jwt; return &s }

func tokenExpired(ctx context.Context, r *Run) error {
	ttl := int64(2)
	tr, _, err := r.MintToken(ctx, wire.TokenRequest{ExpiresAfter: &ttl})
	if err != nil {
		return err
	}
	first, err := r.authProbe(ctx, bearer(tr.JWT))
	if err != nil {
		return err
	}
	if first.Status == http.StatusUnauthorized || first.Status == http.StatusForbidden {
		// Already expired is possible only if the grant was far below 2 s.
		if tr.ExpiresAt != 0 && unix(tr.ExpiresAt).After(serverNow(first)) {
			return fail(first, "a fresh token (expires_at %s) was refused before it expired", unix(tr.ExpiresAt).Format(time.RFC3339))
		}
	}
	if tr.ExpiresAt != 0 && unix(tr.ExpiresAt).After(serverNow(first).Add(10*time.Second)) {
		return fail(first, "setup: the server granted expires_at %s for expires_after 2, too long to wait for; it must honour lifetimes below the ceiling",
			unix(tr.ExpiresAt).Format(time.RFC3339))
	}
	// Bounded wait: the token lives ≤ 2 s; allow 4 s more for clock
	// granularity (exp is whole seconds) before calling it a failure.
	deadline := time.Now().Add(6 * time.Second)
	for {
		resp, err := r.authProbe(ctx, bearer(tr.JWT))
		if err != nil {
			return err
		}
		if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
			return nil
		}
		if time.Now().After(deadline) {
			return fail(resp, "a JWT whose expires_at (%s) passed %s ago is still accepted: expected 401 (or 403), received %s",
				unix(tr.ExpiresAt).Format(time.RFC3339), serverNow(resp).Sub(unix(tr.ExpiresAt)).Round(time.Second), statusName(resp.Status))
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

func tokenEmptyBearer(ctx context.Context, r *Run) error {
	empty := "Bearer "
	resp, err := r.authProbe(ctx, &empty)
	if err != nil {
		return err
	}
	return wantRefused(resp, "a request with an empty bearer token")
}

func tokenNoAuthorization(ctx context.Context, r *Run) error {
	resp, err := r.authProbe(ctx, nil)
	if err != nil {
		return err
	}
	return wantRefused(resp, "a request without Authorization")
}

// controlProbe shows that a valid token passes the same probe, so a refusal
// of a forged one is due to the forgery.
func (r *Run) controlProbe(ctx context.Context) (string, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return "", err
	}
	resp, err := r.authProbe(ctx, bearer(jwt))
	if err != nil {
		return "", err
	}
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
		return "", fail(resp, "setup: the control request with a freshly minted valid token was refused, so forged tokens cannot be told apart")
	}
	return jwt, nil
}

func tokenTampered(ctx context.Context, r *Run) error {
	jwt, err := r.controlProbe(ctx)
	if err != nil {
		return err
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("setup: the minted token is not a compact JWS, cannot tamper with it")
	}
	_, payload, _, err := decodeJWT(jwt)
	if err != nil {
		return fmt.Errorf("setup: %v", err)
	}
	// Extend the lifetime by a day: what an attacker would try.
	if exp, ok := payload["exp"].(float64); ok {
		payload["exp"] = exp + 86400
	} else {
		payload["sub"] = "someone-else"
	}
	forged := parts[0] + "." + encodeSegment(payload) + "." + parts[2]
	resp, err := r.authProbe(ctx, bearer(forged))
	if err != nil {
		return err
	}
	return wantRefused(resp, "a JWT whose payload was altered after signing")
}

func tokenAlgNone(ctx context.Context, r *Run) error {
	jwt, err := r.controlProbe(ctx)
	if err != nil {
		return err
	}
	_, payload, _, err := decodeJWT(jwt)
	if err != nil {
		return fmt.Errorf("setup: %v", err)
	}
	forged := encodeSegment(map[string]string{"alg": "none", "typ": "JWT"}) + "." + encodeSegment(payload) + "."
	resp, err := r.authProbe(ctx, bearer(forged))
	if err != nil {
		return err
	}
	return wantRefused(resp, "an unsigned JWT (alg none) carrying a genuine token's claims")
}

// scopedToken mints a token limited by authorization_details.
func (r *Run) scopedToken(ctx context.Context, models []string, maxSessions *int) (string, error) {
	d := wire.AuthorizationDetail{Type: "session"}
	if models != nil {
		d.Resources = &wire.ScopeResources{Models: &wire.ModelMatch{Match: models}}
	}
	if maxSessions != nil {
		d.Constraints = &wire.ScopeConstraints{MaxSessions: maxSessions}
	}
	tr, _, err := r.MintToken(ctx, wire.TokenRequest{AuthorizationDetails: []wire.AuthorizationDetail{d}})
	if err != nil {
		return "", fmt.Errorf("setup: minting a scoped token failed: %w", err)
	}
	return tr.JWT, nil
}

func tokenScopedModel(ctx context.Context, r *Run) error {
	jwt, err := r.scopedToken(ctx, []string{"conformance-other-model-" + randHex(4)}, nil)
	if err != nil {
		return err
	}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), r.createBody())
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusForbidden)
}

func tokenScopedForeignSession(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx) // with the run's unscoped token
	if err != nil {
		return err
	}
	jwt, err := r.scopedToken(ctx, []string{r.T.Model}, nil)
	if err != nil {
		return err
	}
	resp, err := r.send(ctx, http.MethodGet, wire.SessionPath(sr.SessionID), withBearer(apiHeaders(), jwt), nil)
	if err != nil {
		return err
	}
	if resp.Status == http.StatusNotFound {
		return nil // hiding the session altogether also keeps it out of reach
	}
	if err := wantStatus(resp, http.StatusForbidden); err != nil {
		return fmt.Errorf("a token scoped to model %q read a session it did not create: %w", r.T.Model, err)
	}
	return nil
}

func tokenSessionBudget(ctx context.Context, r *Run) error {
	one := 1
	jwt, err := r.scopedToken(ctx, []string{r.T.Model}, &one)
	if err != nil {
		return err
	}
	h := withBearer(apiHeaders(), jwt)
	first, err := r.postSession(ctx, h, r.createBody())
	if err != nil {
		return err
	}
	if err := want2xx(first, http.StatusCreated); err != nil {
		return fmt.Errorf("setup: the first session of a max_sessions 1 token must be created: %w", err)
	}
	second, err := r.postSession(ctx, h, r.createBody())
	if err != nil {
		return err
	}
	if err := wantStatus(second, http.StatusForbidden); err != nil {
		return fmt.Errorf("a token limited to 1 session created a second one: %w", err)
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
