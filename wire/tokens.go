package wire

// MaxTokenTTLSeconds is the ceiling the platform silently clamps
// expires_after to (PLATFORM.md §1).
const MaxTokenTTLSeconds = 21600

// TokenRequest is the optional body of POST /tokens. The body may also be
// absent or the JSON literal null.
type TokenRequest struct {
	ExpiresAfter         *int64                `json:"expires_after,omitempty"`
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
}

// AuthorizationDetail down-scopes a token to models, sessions it is bound to
// and constraints (PROTOCOL.md §1.1, §9.1).
type AuthorizationDetail struct {
	Type        string            `json:"type"` // "session"
	Resources   *ScopeResources   `json:"resources,omitempty"`
	Constraints *ScopeConstraints `json:"constraints,omitempty"`
}

// ScopeResources names what a scoped token may act on.
type ScopeResources struct {
	Models   *ModelMatch  `json:"models,omitempty"`
	Sessions *SessionBind `json:"sessions,omitempty"`
}

// ModelMatch limits a token to the listed model names, or (All) to every
// model; exactly one of the two is set.
type ModelMatch struct {
	Match []string `json:"match,omitempty"`
	All   *bool    `json:"all,omitempty"`
}

// SessionBind binds a token to sessions that already exist, by id.
type SessionBind struct {
	Bind []string `json:"bind"`
}

// ScopeConstraints bounds what a scoped token may do.
type ScopeConstraints struct {
	MaxSessions *int `json:"max_sessions,omitempty"`
	// MaxSessionDurationSeconds force-terminates every session the token
	// creates that long after creation (1..MaxSessionDurationSeconds).
	MaxSessionDurationSeconds *int `json:"max_session_duration_seconds,omitempty"`
}

// MaxSessionDurationSeconds is the upper bound of
// constraints.max_session_duration_seconds (24 h); the platform refuses a
// value outside 1..86400 at mint rather than clamping it.
const MaxSessionDurationSeconds = 86400

// TokenResponse is the 200 body of POST /tokens. ExpiresAfter is the granted
// lifetime in seconds (the mock sends it beside the documented expires_at).
type TokenResponse struct {
	JWT          string `json:"jwt"`
	ExpiresAt    int64  `json:"expires_at,omitempty"`
	ExpiresAfter int64  `json:"expires_after,omitempty"`
}

// LegacyTokenResponse is the body of the removed GET /tokens flow.
type LegacyTokenResponse struct {
	JWT string `json:"jwt"`
}
