package mockserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Token constants: who issues mock tokens and for which account.
const (
	tokenIssuerName = "reactor-harness-mock"
	mockAccount     = "acct_mock"
)

// jwtClaims is the signed payload. The scope travels as the request's
// authorization_details, the way the platform's token request states it.
type jwtClaims struct {
	jwt.RegisteredClaims
	AuthorizationDetails []wire.AuthorizationDetail `json:"authorization_details,omitempty"`
}

// tokenIssuer signs and verifies HS256 JWTs with a key fixed for the
// server's lifetime (random, or the scenario's tokens.secret).
type tokenIssuer struct {
	s      *Server
	key    []byte
	parser *jwt.Parser
}

func newTokenIssuer(s *Server) (*tokenIssuer, error) {
	key := []byte(s.initial.Tokens.Secret)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	}
	t := &tokenIssuer{s: s, key: key}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithIssuer(tokenIssuerName),
		jwt.WithTimeFunc(func() time.Time { return s.now() }),
	)
	return t, nil
}

// mint signs a JWT for the account with the given scope and lifetime.
func (t *tokenIssuer) mint(c claims, ttl time.Duration) (string, error) {
	now := t.s.now()
	c.Subject = mockAccount
	jc := jwtClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: tokenIssuerName, Subject: c.Subject, ID: newID("tok_"),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if d := c.detail(); d != nil {
		jc.AuthorizationDetails = []wire.AuthorizationDetail{*d}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jc).SignedString(t.key)
}

// authenticate verifies the bearer JWT of a request. Every failure is 401
// with a detail that says which check failed.
func (t *tokenIssuer) authenticate(r *http.Request) (*claims, *apiError) {
	raw, ok := r.Header[wire.HeaderAuthorization]
	if !ok || len(raw) == 0 {
		return nil, errf(http.StatusUnauthorized, "missing Authorization header: send \"Authorization: Bearer <jwt>\" with a token from POST /tokens")
	}
	scheme, tok, _ := strings.Cut(raw[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, errf(http.StatusUnauthorized, "Authorization scheme %q is not Bearer", scheme)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return nil, errf(http.StatusUnauthorized, "empty bearer token: the Authorization header says \"Bearer \" with no JWT")
	}
	return t.verify(tok)
}

// verify checks signature, algorithm, issuer, issued-at and expiry (with
// the scenario's leeway) and extracts the scope.
func (t *tokenIssuer) verify(tok string) (*claims, *apiError) {
	jc := &jwtClaims{}
	leeway := t.s.scn().Tokens.Leeway.D()
	p := t.parser
	if leeway > 0 {
		p = jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithIssuer(tokenIssuerName),
			jwt.WithTimeFunc(func() time.Time { return t.s.now() }), jwt.WithLeeway(leeway))
	}
	_, err := p.ParseWithClaims(tok, jc, func(*jwt.Token) (any, error) { return t.key, nil })
	if err != nil {
		return nil, &apiError{Status: http.StatusUnauthorized, Detail: describeJWTError(err, jc)}
	}
	if jc.Subject != mockAccount {
		return nil, errf(http.StatusUnauthorized, "JWT subject %q is not an account of this server", jc.Subject)
	}
	return claimsFrom(jc), nil
}

// describeJWTError names the failed check in words a maintainer can act on.
func describeJWTError(err error, jc *jwtClaims) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed JWT: " + err.Error()
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "JWT signature does not verify (tampered token or a key from another server)"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "JWT algorithm not accepted: only HS256-signed tokens from POST /tokens are valid (" + err.Error() + ")"
	case errors.Is(err, jwt.ErrTokenExpired):
		if jc.ExpiresAt != nil {
			return fmt.Sprintf("JWT expired at %s; mint a fresh token with POST /tokens", jc.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return "JWT expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "JWT lacks a required claim: " + err.Error()
	}
	return "invalid JWT: " + err.Error()
}

// handleMintToken serves POST /tokens (PROTOCOL.md §1.1, PLATFORM.md §1).
func (s *Server) handleMintToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	if e := s.checkAPIKey(r.Header.Get(wire.HeaderAPIKey), wire.HeaderAPIKey); e != nil {
		if r.Header.Get(wire.HeaderLegacyAPIKey) != "" && r.Header.Get(wire.HeaderAPIKey) == "" {
			e.Detail += " (X-API-Key belongs to the removed GET /tokens flow; send the key as Reactor-API-Key)"
		}
		return e
	}
	req, e := decodeTokenRequest(r)
	if e != nil {
		return e
	}
	c, e := scopeFromRequest(req, s.sessions.canBind)
	if e != nil {
		return e
	}
	ttl, e := s.grantedTTL(req.ExpiresAfter)
	if e != nil {
		return e
	}
	jwtStr, err := s.tokens.mint(*c, ttl)
	if err != nil {
		return errf(http.StatusInternalServerError, "signing failed: %v", err)
	}
	writeJSON(w, http.StatusOK, wire.TokenResponse{JWT: jwtStr,
		ExpiresAt: s.now().Add(ttl).Unix(), ExpiresAfter: int64(ttl / time.Second)})
	return nil
}

// grantedTTL applies the default and the silent clamp.
func (s *Server) grantedTTL(asked *int64) (time.Duration, *apiError) {
	pol := s.scn().Tokens
	if asked == nil {
		return min(pol.DefaultTTL.D(), pol.MaxTTL.D()), nil
	}
	if *asked <= 0 {
		return 0, errf(http.StatusUnprocessableEntity, "expires_after must be a positive number of seconds, got %d", *asked)
	}
	ttl := time.Duration(min(*asked, int64(pol.MaxTTL.D()/time.Second))) * time.Second
	return ttl, nil
}

// handleLegacyToken serves the removed GET /tokens flow: 405 in the current
// profile, the old behaviour (X-API-Key, {jwt}) in the legacy profile.
func (s *Server) handleLegacyToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	if s.scn().Profile != ProfileLegacy {
		w.Header().Set("Allow", http.MethodPost)
		return errf(http.StatusMethodNotAllowed,
			"GET /tokens was removed: mint tokens with POST /tokens and the Reactor-API-Key header (optional JSON body {\"expires_after\": seconds})")
	}
	if e := s.checkAPIKey(r.Header.Get(wire.HeaderLegacyAPIKey), wire.HeaderLegacyAPIKey); e != nil {
		return e
	}
	jwtStr, err := s.tokens.mint(claims{}, s.scn().Tokens.DefaultTTL.D())
	if err != nil {
		return errf(http.StatusInternalServerError, "signing failed: %v", err)
	}
	writeJSON(w, http.StatusOK, wire.LegacyTokenResponse{JWT: jwtStr})
	return nil
}

// checkAPIKey compares in constant time.
func (s *Server) checkAPIKey(got, header string) *apiError {
	if got == "" {
		return errf(http.StatusUnauthorized, "missing %s header", header)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.apiKey)) != 1 {
		return errf(http.StatusUnauthorized, "invalid API key in %s", header)
	}
	return nil
}

// newID returns prefix + 16 random hex characters.
func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
