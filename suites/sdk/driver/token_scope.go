package driver

import (
	"context"
	"time"
)

// TokenScope is the scope a token op asks the SDK's helper for
// (drivers/PROTOCOL.md §3.2; reactor-sdk 1.13.0 fetch_jwt). Nil and empty
// fields are left out.
type TokenScope struct {
	Models                    []string `json:"models,omitempty"`
	Sessions                  []string `json:"sessions,omitempty"`
	MaxSessions               *int     `json:"max_sessions,omitempty"`
	MaxSessionDurationSeconds *int     `json:"max_session_duration_seconds,omitempty"`
}

// TokenScoped calls token with a scope. A driver whose SDK helper cannot
// express the scope answers not_supported.
func (d *Driver) TokenScoped(ctx context.Context, apiURL, apiKey string, s TokenScope, timeout time.Duration) (*TokenResult, error) {
	args := struct {
		APIURL string `json:"api_url"`
		APIKey string `json:"api_key"`
		Mode   string `json:"mode"`
		TokenScope
	}{apiURL, apiKey, "sdk", s}
	var r TokenResult
	err := d.CallInto(ctx, "token", args, timeout, &r)
	return &r, err
}

// AdoptArgs are connect arguments that adopt an existing session
// (drivers/PROTOCOL.md §3.4 session_id).
type AdoptArgs struct {
	ConnectArgs
	SessionID string `json:"session_id"`
}
