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

// AuthorizationDetail down-scopes a token to models and a session budget.
type AuthorizationDetail struct {
	Type        string            `json:"type"` // "session"
	Resources   *ScopeResources   `json:"resources,omitempty"`
	Constraints *ScopeConstraints `json:"constraints,omitempty"`
}

// ScopeResources names what a scoped token may act on.
type ScopeResources struct {
	Models *ModelMatch `json:"models,omitempty"`
}

// ModelMatch lists model names a token is limited to.
type ModelMatch struct {
	Match []string `json:"match"`
}

// ScopeConstraints bounds what a scoped token may do.
type ScopeConstraints struct {
	MaxSessions *int `json:"max_sessions,omitempty"`
}

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
