package client

import "time"

// Timings are the phase durations of the latest Connect or Reconnect. A
// phase that did not run (Token without an API key, Create on Reconnect …)
// is 0; after a failure the phases up to the failing one are filled in.
type Timings struct {
	// Start is when Connect (or Reconnect) began.
	Start time.Time
	// Token is POST /tokens.
	Token time.Duration
	// Create is POST /sessions.
	Create time.Duration
	// Ready is the GET /sessions/{id} polling until capabilities and
	// selected_transport are present, sleeps included.
	Ready time.Duration
	// ICEServers is GET …/ice_servers.
	ICEServers time.Duration
	// Register is POST …/connections.
	Register time.Duration
	// Offer is building the peer connection, creating the offer and waiting
	// for ICE gathering (not waited for with Trickle).
	Offer time.Duration
	// Signalling is the offer POST/PUT through the 200 answer of the poll.
	Signalling time.Duration
	// ICEConnect is setRemoteDescription until the peer connection is
	// connected (ICE and DTLS).
	ICEConnect time.Duration
	// ChannelsOpen is peer connected until both data channels are open.
	ChannelsOpen time.Duration
	// FirstFrame is ready until the first complete video frame (filled in
	// asynchronously unless Config.WaitFirstFrame; 0 if a frame came first).
	FirstFrame time.Duration
	// Total is the whole Connect (or Reconnect) call.
	Total time.Duration

	// SessionPolls and SDPPolls count the GETs of each poll.
	SessionPolls, SDPPolls int
	// TrickleBatches counts …/ice_candidates POSTs.
	TrickleBatches int
	// ReadyAt and FirstFrameAt are the absolute instants (zero if not
	// reached).
	ReadyAt, FirstFrameAt time.Time
	// Reconnect is true when these are a Reconnect's timings.
	Reconnect bool
}

// set stores d as phase's duration.
func (t *Timings) set(phase string, d time.Duration) {
	switch phase {
	case PhaseToken:
		t.Token = d
	case PhaseCreate:
		t.Create = d
	case PhaseReady:
		t.Ready = d
	case PhaseICEServers:
		t.ICEServers = d
	case PhaseRegister:
		t.Register = d
	case PhaseOffer:
		t.Offer = d
	case PhaseSignalling:
		t.Signalling = d
	case PhaseICEConnect:
		t.ICEConnect = d
	case PhaseChannelsOpen:
		t.ChannelsOpen = d
	case PhaseFirstFrame:
		t.FirstFrame = d
	}
}
