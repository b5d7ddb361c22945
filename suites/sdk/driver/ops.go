package driver

import (
	"context"
	"encoding/json"
	"time"
)

// Hello is the result of the hello op (drivers/PROTOCOL.md §3.1). Fields a
// driver does not fill stay zero; Raw keeps the whole result.
type Hello struct {
	Driver struct {
		Name     string `json:"name"`
		Version  string `json:"version"`
		Protocol int    `json:"protocol"`
		Language string `json:"language"`
	} `json:"driver"`
	SDK struct {
		Name          string `json:"name"`
		Version       string `json:"version"`
		Source        string `json:"source"`
		Generation    string `json:"generation"`
		Protocol      string `json:"protocol"` // legacy | session-poll | connections
		ProtocolBasis string `json:"protocol_basis"`
		Codec         string `json:"codec"`
		Loaded        bool   `json:"loaded"`
		LoadError     string `json:"load_error"`
	} `json:"sdk"`
	Surface struct {
		Methods     []string        `json:"methods"`
		Exports     []string        `json:"exports"`
		Has         map[string]bool `json:"has"`
		TokenHelper *string         `json:"token_helper"`
	} `json:"surface"`
	Ops         []string        `json:"ops"`
	Events      []string        `json:"events"`
	StartUnixMS int64           `json:"start_unix_ms"`
	Raw         json.RawMessage `json:"-"`
}

// Protocol values of hello.sdk.protocol.
const (
	ProtocolLegacy      = "legacy"
	ProtocolSessionPoll = "session-poll"
	ProtocolConnections = "connections"
)

// SupportsOp reports whether hello listed op.
func (h *Hello) SupportsOp(op string) bool {
	for _, o := range h.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Hello sends hello and decodes it.
func (d *Driver) Hello(ctx context.Context) (*Hello, error) {
	raw, err := d.Call(ctx, "hello", nil, DefaultHelloTimeout)
	if err != nil {
		return nil, err
	}
	h := &Hello{Raw: raw}
	if err := json.Unmarshal(raw, h); err != nil {
		return nil, err
	}
	return h, nil
}

// ConnectArgs are the arguments of connect and reconnect (§3.4, §3.7).
type ConnectArgs struct {
	APIURL      string         `json:"api_url,omitempty"`
	Model       string         `json:"model,omitempty"`
	Local       bool           `json:"local,omitempty"`
	Options     map[string]any `json:"options,omitempty"`
	JWT         *string        `json:"jwt,omitempty"`
	APIKey      string         `json:"api_key,omitempty"`
	TokenMode   string         `json:"token_mode,omitempty"`
	MaxAttempts int            `json:"max_attempts,omitempty"`
	Wait        string         `json:"wait,omitempty"` // ready | resolve
	TimeoutMS   int            `json:"timeout_ms,omitempty"`
	Fresh       bool           `json:"fresh,omitempty"`
	// Token asks the driver to hand the SDK a token resolver minting from
	// POST /tokens per call (with APIKey); only for SDKs whose hello says
	// surface.has.token_resolver.
	Token *TokenArg `json:"token,omitempty"`
}

// TokenArg is connect's `token` argument (drivers/PROTOCOL.md §3.4).
type TokenArg struct {
	Mint TokenMint `json:"mint"`
}

// TokenMint is the scope and lifetime each resolver call asks POST /tokens for.
type TokenMint struct {
	ExpiresAfter int      `json:"expires_after,omitempty"`
	Models       []string `json:"models,omitempty"`
	Sessions     []string `json:"sessions,omitempty"`
	MaxSessions  int      `json:"max_sessions,omitempty"`
}

// ConnectResult is the result of connect/reconnect (also found in the
// details of a timeout error).
type ConnectResult struct {
	Status     string          `json:"status"`
	Ready      bool            `json:"ready"`
	SessionID  *string         `json:"session_id"`
	ResolvedMS int64           `json:"resolved_ms"`
	ElapsedMS  int64           `json:"elapsed_ms"`
	Warnings   []string        `json:"warnings"`
	LastError  json.RawMessage `json:"last_error"`
	Tracks     []string        `json:"tracks"`
	TokenVia   string          `json:"token_via"`
}

// SID is the session id or "".
func (r *ConnectResult) SID() string {
	if r == nil || r.SessionID == nil {
		return ""
	}
	return *r.SessionID
}

// Connect calls connect. The harness timeout should exceed args.TimeoutMS
// plus however long the SDK call itself may take.
func (d *Driver) Connect(ctx context.Context, args ConnectArgs, timeout time.Duration) (*ConnectResult, error) {
	var r ConnectResult
	err := d.CallInto(ctx, "connect", args, timeout, &r)
	return &r, err
}

// Reconnect calls reconnect.
func (d *Driver) Reconnect(ctx context.Context, args ConnectArgs, timeout time.Duration) (*ConnectResult, error) {
	var r ConnectResult
	err := d.CallInto(ctx, "reconnect", args, timeout, &r)
	return &r, err
}

// CommandResult is the result of send_command.
type CommandResult struct {
	Method       string          `json:"method"`
	StatusAtCall string          `json:"status_at_call"`
	Warnings     []string        `json:"warnings"`
	Returned     json.RawMessage `json:"returned"`
}

// SendCommand calls send_command. fileRefs maps a parameter to an upload id.
func (d *Driver) SendCommand(ctx context.Context, name string, data any, fileRefs map[string]string, timeout time.Duration) (*CommandResult, error) {
	args := map[string]any{"name": name, "data": data}
	if len(fileRefs) > 0 {
		args["file_refs"] = fileRefs
	}
	var r CommandResult
	err := d.CallInto(ctx, "send_command", args, timeout, &r)
	return &r, err
}

// UploadResult is the result of upload_file.
type UploadResult struct {
	UploadID string   `json:"upload_id"`
	Name     string   `json:"name"`
	MimeType string   `json:"mime_type"`
	Size     int64    `json:"size"`
	Warnings []string `json:"warnings"`
}

// Upload uploads UTF-8 text as a file.
func (d *Driver) Upload(ctx context.Context, text, name, mime string, timeout time.Duration) (*UploadResult, error) {
	args := map[string]any{"text": text}
	if name != "" {
		args["name"] = name
	}
	if mime != "" {
		args["mime_type"] = mime
	}
	var r UploadResult
	err := d.CallInto(ctx, "upload_file", args, timeout, &r)
	return &r, err
}

// DisconnectResult is the result of disconnect.
type DisconnectResult struct {
	Status    string   `json:"status"`
	SessionID *string  `json:"session_id"`
	Warnings  []string `json:"warnings"`
}

// Disconnect calls disconnect.
func (d *Driver) Disconnect(ctx context.Context, recoverable bool, timeout time.Duration) (*DisconnectResult, error) {
	var r DisconnectResult
	err := d.CallInto(ctx, "disconnect", map[string]any{"recoverable": recoverable}, timeout, &r)
	return &r, err
}

// StateResult is the result of state (the fields suites read).
type StateResult struct {
	HasInstance bool             `json:"has_instance"`
	Status      string           `json:"status"`
	SessionID   *string          `json:"session_id"`
	Frames      map[string]int64 `json:"frames"`
	Messages    map[string]int64 `json:"messages"`
	LastError   json.RawMessage  `json:"last_error"`
	FileRefs    []string         `json:"file_refs"`
}

// State calls state.
func (d *Driver) State(ctx context.Context) (*StateResult, error) {
	var r StateResult
	err := d.CallInto(ctx, "state", nil, 10*time.Second, &r)
	return &r, err
}

// TokenResult is the result of token.
type TokenResult struct {
	JWT          string `json:"jwt"`
	Via          string `json:"via"`
	Request      string `json:"request"`
	Note         string `json:"note"`
	ExpiresAt    int64  `json:"expires_at"`
	ExpiresAfter int64  `json:"expires_after"`
}

// Token calls token.
func (d *Driver) Token(ctx context.Context, apiURL, apiKey, mode string, timeout time.Duration) (*TokenResult, error) {
	args := map[string]any{"api_url": apiURL, "api_key": apiKey}
	if mode != "" {
		args["mode"] = mode
	}
	var r TokenResult
	err := d.CallInto(ctx, "token", args, timeout, &r)
	return &r, err
}

// CreateResult is the result of create.
type CreateResult struct {
	Status     string `json:"status"`
	BaseURL    string `json:"base_url"`
	SDKVersion string `json:"sdk_version"`
}

// Create calls create.
func (d *Driver) Create(ctx context.Context, args ConnectArgs, timeout time.Duration) (*CreateResult, error) {
	var r CreateResult
	err := d.CallInto(ctx, "create", args, timeout, &r)
	return &r, err
}
