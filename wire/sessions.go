package wire

// ModelRef names a model in session bodies.
type ModelRef struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// ClientInfo identifies the SDK making a request.
type ClientInfo struct {
	SDKVersion string `json:"sdk_version"`
	SDKType    string `json:"sdk_type"`
}

// Transport names a transport protocol and version.
type Transport struct {
	Protocol string `json:"protocol"`
	Version  string `json:"version"`
}

// ServerInfo is the server block of a session body.
type ServerInfo struct {
	ServerVersion string `json:"server_version"`
}

// CreateSessionRequest is the current POST /sessions body (PROTOCOL.md §1.2).
// SDPOffer is present only in the pre-overhaul (2.2.1-era) shape; the mock
// uses it to recognise and refuse old clients.
type CreateSessionRequest struct {
	Model               *ModelRef      `json:"model"`
	ClientInfo          *ClientInfo    `json:"client_info,omitempty"`
	SupportedTransports []Transport    `json:"supported_transports,omitempty"`
	ExtraArgs           map[string]any `json:"extra_args,omitempty"`
	ExtraConfigs        map[string]any `json:"extra_configs,omitempty"`
	SDPOffer            *string        `json:"sdp_offer,omitempty"`
}

// SessionResponse is the slim body of POST /sessions and the full body of
// GET /sessions/{id}. SelectedTransport and Capabilities appear once the
// runtime has accepted the session; clients treat both present as ready.
type SessionResponse struct {
	SessionID         string        `json:"session_id"`
	State             SessionState  `json:"state"`
	Cluster           string        `json:"cluster"`
	Model             ModelRef      `json:"model"`
	ServerInfo        ServerInfo    `json:"server_info"`
	SelectedTransport *Transport    `json:"selected_transport,omitempty"`
	Capabilities      *Capabilities `json:"capabilities,omitempty"`
}

// Ready applies every SDK's readiness rule: capabilities and selected
// transport are both present.
func (r SessionResponse) Ready() bool { return r.Capabilities != nil && r.SelectedTransport != nil }

// SessionInfoResponse is the body of GET /sessions/{id}/info.
type SessionInfoResponse struct {
	SessionID string       `json:"session_id"`
	State     SessionState `json:"state"`
	Cluster   string       `json:"cluster"`
}

// DeleteSessionRequest is the optional body of DELETE /sessions/{id}.
type DeleteSessionRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Track directions, from the client's perspective (PROTOCOL.md §4).
const (
	DirectionRecvOnly = "recvonly" // model output
	DirectionSendOnly = "sendonly" // client input
)

// Capabilities describes a model's tracks and commands (PROTOCOL.md §4).
type Capabilities struct {
	ProtocolVersion string       `json:"protocol_version,omitempty"`
	Tracks          []TrackSpec  `json:"tracks"`
	Commands        []CommandDef `json:"commands"`
	EmissionFPS     *float64     `json:"emission_fps,omitempty"`
}

// TrackSpec is one capability track.
type TrackSpec struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`      // video | audio
	Direction string `json:"direction"` // recvonly | sendonly
}

// CommandDef is one command a model accepts, with its JSON Schema.
type CommandDef struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Schema      map[string]any `json:"schema,omitempty"`
}

// UploadRequest reserves an upload slot: POST /sessions/{id}/uploads.
type UploadRequest struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	MimeType string `json:"mime_type"`
	UploadID string `json:"upload_id,omitempty"`
}

// UploadResponse is the 201 body of an upload reservation.
type UploadResponse struct {
	PresignedID  string `json:"presigned_id"`
	PresignedURL string `json:"presigned_url"`
	Path         string `json:"path"`
}

// FileRef is how a command references an uploaded file.
type FileRef struct {
	UploadID string `json:"upload_id"`
	Name     string `json:"name"`
	MimeType string `json:"mime_type"`
	Size     int64  `json:"size"`
}
