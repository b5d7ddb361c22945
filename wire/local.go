package wire

// Local runtime API bodies (PROTOCOL.md §1.4).

// StartSessionRequest is the optional body of POST /start_session.
type StartSessionRequest struct {
	ExtraArgs map[string]any `json:"extra_args,omitempty"`
	SessionID string         `json:"session_id,omitempty"`
}

// StopSessionRequest is the optional body of POST /stop_session.
type StopSessionRequest struct {
	Moderate bool   `json:"moderate,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// MaxStopReasonLength bounds StopSessionRequest.Reason.
const MaxStopReasonLength = 64

// LocalSessionDescriptor is returned by /start_session and /session.
type LocalSessionDescriptor struct {
	SessionID         string         `json:"session_id"`
	State             RuntimeState   `json:"state"`
	Cluster           string         `json:"cluster"`
	Model             ModelRef       `json:"model"`
	ServerInfo        ServerInfo     `json:"server_info"`
	SelectedTransport *Transport     `json:"selected_transport,omitempty"`
	Recording         *RecordingInfo `json:"recording,omitempty"`
	Capabilities      *Capabilities  `json:"capabilities,omitempty"`
}

// RecordingInfo says whether the runtime records and in what chunk length.
type RecordingInfo struct {
	Enabled      bool `json:"enabled"`
	ChunkSeconds int  `json:"chunk_seconds"`
}

// HealthResponse is the body of GET /health.
type HealthResponse struct {
	Status string `json:"status"` // healthy | unhealthy
	State  string `json:"state"`  // loading | available | serving | terminated
	Detail string `json:"detail,omitempty"`
}
