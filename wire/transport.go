package wire

// Connection id rules (PROTOCOL.md §1.3): minted ids lie in [MinConnectionID,
// MaxConnectionID]; LegacyConnectionID is reserved for single-connection
// callers; InvalidConnectionID is never valid.
const (
	InvalidConnectionID = 1000
	LegacyConnectionID  = 1001
	MinConnectionID     = 1002
	MaxConnectionID     = 9999
)

// IceServersResponse is the body of GET .../ice_servers (current and legacy).
type IceServersResponse struct {
	IceServers []IceServer `json:"ice_servers"`
}

// IceServer is one STUN/TURN entry.
type IceServer struct {
	URIs        []string        `json:"uris"`
	Credentials *IceCredentials `json:"credentials,omitempty"`
}

// IceCredentials authenticate against a TURN server.
type IceCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// RegisterConnectionResponse is the 201 body of POST .../connections.
type RegisterConnectionResponse struct {
	ConnectionID int                   `json:"connection_id"`
	TrackMap     map[string]TrackRoute `json:"track_map"`
}

// TrackRoute is a track's kind and direction from the runtime's view ("in"
// or "out") and its rate.
type TrackRoute struct {
	Kind      string  `json:"kind"`
	Direction string  `json:"direction"`
	Rate      float64 `json:"rate,omitempty"`
}

// TrackMapping binds an SDP mid to a capability track.
type TrackMapping struct {
	MID       string `json:"mid"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Direction string `json:"direction"`
}

// SDPOfferRequest is the body of an offer POST or re-offer PUT, both the
// per-connection paths and the 2.9.0-generation paths without a connection.
type SDPOfferRequest struct {
	SDPOffer     string         `json:"sdp_offer"`
	TrackMapping []TrackMapping `json:"track_mapping"`
	ClientInfo   *ClientInfo    `json:"client_info,omitempty"`
	IceServers   []IceServer    `json:"ice_servers,omitempty"`
}

// SDPOfferAccepted is the 202 body of an offer.
type SDPOfferAccepted struct {
	ConnectionID int `json:"connection_id,omitempty"`
}

// SDPAnswerResponse is the 200 body of GET .../sdp_params once negotiated.
type SDPAnswerResponse struct {
	SDPAnswer    string `json:"sdp_answer"`
	ConnectionID int    `json:"connection_id,omitempty"`
}

// IceCandidate is one trickled candidate.
type IceCandidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdp_mid,omitempty"`
	SDPMLineIndex *int    `json:"sdp_mline_index,omitempty"`
}

// IceCandidatesRequest is the body of POST .../ice_candidates.
type IceCandidatesRequest struct {
	Candidates []IceCandidate `json:"candidates"`
	IsFinal    bool           `json:"is_final"`
	ClientInfo *ClientInfo    `json:"client_info,omitempty"`
}
