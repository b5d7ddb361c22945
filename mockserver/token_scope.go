package mockserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Token scopes (PROTOCOL.md §1.1, §9.1): what authorization_details grants,
// how a mint request is validated, and how a scope is written into and read
// back from the JWT.

// claims is what a verified JWT grants.
type claims struct {
	Subject     string // account id
	TokenID     string // jti
	Models      []string
	AllModels   bool     // resources.models.all
	Bound       []string // resources.sessions.bind
	MaxSessions *int
	MaxDuration time.Duration // constraints.max_session_duration_seconds; 0: none
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// allowsModel reports whether the token may act on the named model.
func (c *claims) allowsModel(name string) bool {
	if c.AllModels || len(c.Models) == 0 {
		return true
	}
	return slices.Contains(c.Models, name)
}

// scoped reports whether the token was down-scoped (and so may only act on
// sessions it created or is bound to).
func (c *claims) scoped() bool {
	return len(c.Models) > 0 || c.AllModels || len(c.Bound) > 0 || c.MaxSessions != nil || c.MaxDuration > 0
}

// bindOnly reports whether the token is bound to sessions and grants nothing
// to create with: no model list and no session budget (the all-models scope a
// bind carries grants nothing extra).
func (c *claims) bindOnly() bool {
	return len(c.Bound) > 0 && len(c.Models) == 0 && c.MaxSessions == nil
}

// reaches reports whether a scoped token may act on session ss: one it
// created or one it is bound to. Unscoped tokens reach every session of
// their account.
func (c *claims) reaches(ss *session) bool {
	return !c.scoped() || c.TokenID == ss.tokenID || slices.Contains(c.Bound, ss.id)
}

// detail renders the scope as the one authorization_details entry it was
// minted from (nil when unscoped): what the JWT carries and the admin API
// shows.
func (c *claims) detail() *wire.AuthorizationDetail {
	if !c.scoped() {
		return nil
	}
	d := &wire.AuthorizationDetail{Type: "session"}
	if len(c.Models) > 0 || c.AllModels || len(c.Bound) > 0 {
		d.Resources = &wire.ScopeResources{}
		switch {
		case c.AllModels:
			all := true
			d.Resources.Models = &wire.ModelMatch{All: &all}
		case len(c.Models) > 0:
			d.Resources.Models = &wire.ModelMatch{Match: slices.Clone(c.Models)}
		}
		if len(c.Bound) > 0 {
			d.Resources.Sessions = &wire.SessionBind{Bind: slices.Clone(c.Bound)}
		}
	}
	if c.MaxSessions != nil || c.MaxDuration > 0 {
		d.Constraints = &wire.ScopeConstraints{MaxSessions: c.MaxSessions}
		if c.MaxDuration > 0 {
			secs := int(c.MaxDuration / time.Second)
			d.Constraints.MaxSessionDurationSeconds = &secs
		}
	}
	return d
}

// claimsFrom reads the scope back out of verified JWT claims.
func claimsFrom(jc *jwtClaims) *claims {
	c := &claims{Subject: jc.Subject, TokenID: jc.ID}
	if jc.IssuedAt != nil {
		c.IssuedAt = jc.IssuedAt.Time
	}
	if jc.ExpiresAt != nil {
		c.ExpiresAt = jc.ExpiresAt.Time
	}
	for _, d := range jc.AuthorizationDetails {
		c.merge(d)
	}
	return c
}

// merge adds one (already validated) authorization_details entry.
func (c *claims) merge(d wire.AuthorizationDetail) {
	if r := d.Resources; r != nil {
		if r.Models != nil {
			c.AllModels = c.AllModels || (r.Models.All != nil && *r.Models.All)
			c.Models = append(c.Models, r.Models.Match...)
		}
		if r.Sessions != nil {
			for _, id := range r.Sessions.Bind {
				if !slices.Contains(c.Bound, id) {
					c.Bound = append(c.Bound, id)
				}
			}
		}
	}
	if k := d.Constraints; k != nil {
		if k.MaxSessions != nil && (c.MaxSessions == nil || *k.MaxSessions < *c.MaxSessions) {
			n := *k.MaxSessions
			c.MaxSessions = &n
		}
		if k.MaxSessionDurationSeconds != nil {
			d := time.Duration(*k.MaxSessionDurationSeconds) * time.Second
			if c.MaxDuration == 0 || d < c.MaxDuration {
				c.MaxDuration = d
			}
		}
	}
	if c.AllModels {
		c.Models = nil // all subsumes a list from another entry
	}
}

// decodeTokenRequest reads the POST /tokens body with the mock's one strict
// rule (decodeBody): absent or null is an unscoped request; malformed JSON or
// invalid UTF-8 is 400; an unknown field anywhere (named by its path) or a
// wrong type is 422.
func decodeTokenRequest(r *http.Request) (wire.TokenRequest, *apiError) {
	var req wire.TokenRequest
	_, e := decodeBody(r, &req)
	return req, e
}

// bindChecker tells whether a session id may be bound by a new token of the
// account: it exists, is the account's and is still open.
type bindChecker func(id string) error

// scopeFromRequest validates authorization_details into claims. Every
// refusal is 422 and names the offending field (PROTOCOL.md §9.1).
func scopeFromRequest(req wire.TokenRequest, canBind bindChecker) (*claims, *apiError) {
	c := &claims{}
	if req.AuthorizationDetails != nil && len(req.AuthorizationDetails) == 0 {
		return nil, errf(http.StatusUnprocessableEntity, "authorization_details is an empty array: omit it for an unscoped token, or give one {\"type\":\"session\",\"resources\":{\"models\":...}} entry")
	}
	for i, d := range req.AuthorizationDetails {
		if e := validateDetail(fmt.Sprintf("authorization_details[%d]", i), d, canBind); e != nil {
			return nil, e
		}
		c.merge(d)
	}
	if c.MaxSessions != nil && *c.MaxSessions < len(c.Bound) {
		return nil, errf(http.StatusUnprocessableEntity,
			"authorization_details constraints.max_sessions %d is smaller than the %d session(s) in resources.sessions.bind, which it counts", *c.MaxSessions, len(c.Bound))
	}
	return c, nil
}

func validateDetail(at string, d wire.AuthorizationDetail, canBind bindChecker) *apiError {
	if d.Type != "session" {
		return errf(http.StatusUnprocessableEntity, "%s.type must be \"session\", got %q", at, d.Type)
	}
	if d.Resources == nil || d.Resources.Models == nil {
		return errf(http.StatusUnprocessableEntity, "%s.resources.models is required: {\"match\":[model names]} or {\"all\":true}", at)
	}
	if e := validateModels(at+".resources.models", d.Resources.Models); e != nil {
		return e
	}
	if b := d.Resources.Sessions; b != nil {
		if e := validateBind(at+".resources.sessions.bind", b.Bind, canBind); e != nil {
			return e
		}
	}
	if k := d.Constraints; k != nil {
		if k.MaxSessions == nil && k.MaxSessionDurationSeconds == nil {
			return errf(http.StatusUnprocessableEntity, "%s.constraints is empty: give max_sessions and/or max_session_duration_seconds, or omit it", at)
		}
		if k.MaxSessions != nil && *k.MaxSessions < 1 {
			return errf(http.StatusUnprocessableEntity, "%s.constraints.max_sessions must be ≥ 1, got %d", at, *k.MaxSessions)
		}
		if v := k.MaxSessionDurationSeconds; v != nil && (*v < 1 || *v > wire.MaxSessionDurationSeconds) {
			return errf(http.StatusUnprocessableEntity, "%s.constraints.max_session_duration_seconds must be 1..%d (refused, not clamped), got %d",
				at, wire.MaxSessionDurationSeconds, *v)
		}
	}
	return nil
}

func validateModels(at string, m *wire.ModelMatch) *apiError {
	switch {
	case m.All != nil && len(m.Match) > 0:
		return errf(http.StatusUnprocessableEntity, "%s has both match and all: give one", at)
	case m.All != nil && !*m.All:
		return errf(http.StatusUnprocessableEntity, "%s.all must be true when present (to limit the models, use match)", at)
	case m.All == nil && len(m.Match) == 0:
		return errf(http.StatusUnprocessableEntity, "%s.match is empty: a token scoped to no model grants nothing; list models or use {\"all\":true}", at)
	}
	for j, name := range m.Match {
		if strings.TrimSpace(name) == "" {
			return errf(http.StatusUnprocessableEntity, "%s.match[%d] is an empty model name", at, j)
		}
	}
	return nil
}

func validateBind(at string, ids []string, canBind bindChecker) *apiError {
	if len(ids) == 0 {
		return errf(http.StatusUnprocessableEntity, "%s is empty: list the ids of open sessions to bind, or omit resources.sessions", at)
	}
	for j, id := range ids {
		if err := canBind(id); err != nil {
			return errf(http.StatusUnprocessableEntity, "%s[%d]: %v", at, j, err)
		}
	}
	return nil
}

// canBind is the store's bindChecker for the mock's account.
func (st *sessionStore) canBind(id string) error {
	ss := st.lookup(id)
	if ss == nil || ss.account != mockAccount {
		return fmt.Errorf("session %q does not exist (or is not this account's)", id)
	}
	if state := ss.State(); state.Terminal() {
		return fmt.Errorf("session %q is %s; only an open session can be bound", id, state)
	}
	return nil
}
