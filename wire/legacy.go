package wire

// Pre-overhaul (2.2.1-era) bodies. The current profile refuses them with 426;
// the legacy profile serves them (PROTOCOL.md §1.2 "Legacy coordinator
// endpoints", §1.4 "JS221 local mode").

// LegacyCreateSessionRequest is the old POST /sessions body.
type LegacyCreateSessionRequest struct {
	Model     ModelRef       `json:"model"`
	SDPOffer  string         `json:"sdp_offer"`
	ExtraArgs map[string]any `json:"extra_args"`
}

// LegacyCreateSessionResponse is what the old client read back.
type LegacyCreateSessionResponse struct {
	SessionID string `json:"session_id"`
}

// LegacySDPParams is the body of GET/PUT /sessions/{id}/sdp_params answers.
type LegacySDPParams struct {
	SDPAnswer string         `json:"sdp_answer"`
	ExtraArgs map[string]any `json:"extra_args"`
}

// LegacySDPOffer is the body of PUT /sessions/{id}/sdp_params (reconnect).
type LegacySDPOffer struct {
	SDPOffer  string         `json:"sdp_offer"`
	ExtraArgs map[string]any `json:"extra_args"`
}

// LegacyLocalSDP is the old local runtime's POST /sdp_params body and answer.
type LegacyLocalSDP struct {
	SDP  string `json:"sdp"`
	Type string `json:"type"`
}

// LegacyLocalSessionID is the hard-coded id of the old local mode.
const LegacyLocalSessionID = "local"
