package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
)

// mintToken exchanges the API key for a JWT scoped to the model, as the
// Python SDK does when it creates a session.
func (c *Client) mintToken(ctx context.Context) error {
	body := wire.TokenRequest{AuthorizationDetails: []wire.AuthorizationDetail{{
		Type:      "session",
		Resources: &wire.ScopeResources{Models: &wire.ModelMatch{Match: []string{c.cfg.Model}}},
	}}}
	var out wire.TokenResponse
	if _, err := c.do(ctx, request{phase: PhaseToken, method: http.MethodPost, path: wire.PathTokens,
		body: body, apiKey: c.cfg.APIKey, want: []int{http.StatusOK, http.StatusCreated}, out: &out}); err != nil {
		return err
	}
	if out.JWT == "" {
		return newErr(PhaseToken, CodeProtocol, errEmptyJWT)
	}
	c.mu.Lock()
	c.minted = out.JWT
	c.mu.Unlock()
	return nil
}

func (c *Client) createSession(ctx context.Context) error {
	body := wire.CreateSessionRequest{
		Model:               &wire.ModelRef{Name: c.cfg.Model},
		ClientInfo:          &c.clientInfo,
		SupportedTransports: []wire.Transport{{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion}},
		ExtraArgs:           c.cfg.ExtraArgs,
	}
	var out wire.SessionResponse
	if _, err := c.do(ctx, request{phase: PhaseCreate, method: http.MethodPost, path: wire.PathSessions,
		body: body, auth: true, api: true, out: &out}); err != nil {
		return err
	}
	if out.SessionID == "" {
		return newErr(PhaseCreate, CodeProtocol, fmt.Errorf("POST %s answered without session_id", wire.PathSessions))
	}
	c.mu.Lock()
	c.sessionID = out.SessionID
	c.mu.Unlock()
	return nil
}

// pollSession polls GET /sessions/{id} until capabilities and
// selected_transport are present: fetch, and sleep after every answer that
// is not ready except the last (the JS SDKs' order). Any non-2xx fails at
// once, as does a terminal state.
func (c *Client) pollSession(ctx context.Context) error {
	sid := c.SessionID()
	for i := range c.sessPoll.Attempts {
		var out wire.SessionResponse
		_, err := c.do(ctx, request{phase: PhaseReady, method: http.MethodGet, path: wire.SessionPath(sid),
			auth: true, api: true, out: &out})
		c.mu.Lock()
		c.timings.SessionPolls++
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if out.State.Terminal() {
			return &Error{Phase: PhaseReady, Code: CodeSessionTerminal, Detail: string(out.State), Err: ErrSessionTerminal}
		}
		if out.Ready() {
			c.mu.Lock()
			c.caps = out.Capabilities
			c.mu.Unlock()
			return nil
		}
		if i < c.sessPoll.Attempts-1 {
			if err := sleep(ctx, c.sessPoll.Delay(i)); err != nil {
				return ctxErr(PhaseReady, err)
			}
		}
	}
	return &Error{Phase: PhaseReady, Code: CodeTimeout,
		Detail: fmt.Sprintf("session not ready after %d polls", c.sessPoll.Attempts), Err: ErrPollExhausted}
}

// transport builds a request under /sessions/{id}/transport/webrtc, with
// the WebRTC version header, auth and (like reactor-core) the API headers.
func (c *Client) transport(phase, method, suffix string, body any, want ...int) request {
	return request{phase: phase, method: method, path: wire.TransportBase(c.SessionID()) + suffix, body: body,
		auth: true, api: true, transport: true, want: want}
}

func (c *Client) iceServers(ctx context.Context) ([]webrtc.ICEServer, error) {
	var out wire.IceServersResponse
	r := c.transport(PhaseICEServers, http.MethodGet, "/ice_servers", nil, http.StatusOK)
	r.out = &out
	if _, err := c.do(ctx, r); err != nil {
		return nil, err
	}
	servers := make([]webrtc.ICEServer, 0, len(out.IceServers))
	for _, s := range out.IceServers {
		is := webrtc.ICEServer{URLs: s.URIs}
		if s.Credentials != nil {
			is.Username, is.Credential = s.Credentials.Username, s.Credentials.Password
		}
		servers = append(servers, is)
	}
	return servers, nil
}

// register is POST …/connections with body {} (reactor-core), expecting 201.
func (c *Client) register(ctx context.Context) error {
	var out wire.RegisterConnectionResponse
	r := c.transport(PhaseRegister, http.MethodPost, "/connections", json.RawMessage(`{}`), http.StatusCreated)
	r.out = &out
	if _, err := c.do(ctx, r); err != nil {
		return err
	}
	if out.ConnectionID <= 0 {
		return newErr(PhaseRegister, CodeProtocol, fmt.Errorf("connection_id %d", out.ConnectionID))
	}
	c.mu.Lock()
	c.connID = out.ConnectionID
	c.mu.Unlock()
	return nil
}

func (c *Client) connSuffix(tail string) string {
	return "/connections/" + strconv.Itoa(c.ConnectionID()) + tail
}

// sendOffer POSTs (first offer) or PUTs (re-offer) the SDP and track
// mapping, expecting exactly 202.
func (c *Client) sendOffer(ctx context.Context, method, sdp string, mapping []wire.TrackMapping) error {
	body := wire.SDPOfferRequest{SDPOffer: sdp, TrackMapping: mapping, ClientInfo: &c.clientInfo}
	_, err := c.do(ctx, c.transport(PhaseSignalling, method, c.connSuffix("/sdp_params"), body, http.StatusAccepted))
	return err
}

// pollAnswer polls GET …/sdp_params: 202 → sleep per schedule, 200 → the
// answer (adopting a reassigned connection_id), anything else fails.
func (c *Client) pollAnswer(ctx context.Context) (string, error) {
	for i := range c.sdpPoll.Attempts {
		var out wire.SDPAnswerResponse
		r := c.transport(PhaseSignalling, http.MethodGet, c.connSuffix("/sdp_params"), nil, http.StatusOK, http.StatusAccepted)
		r.out = &out
		resp, err := c.do(ctx, r)
		c.mu.Lock()
		c.timings.SDPPolls++
		c.mu.Unlock()
		if err != nil {
			return "", err
		}
		if resp.status == http.StatusOK {
			if out.SDPAnswer == "" {
				return "", &Error{Phase: PhaseSignalling, Status: resp.status, Code: CodeProtocol,
					Detail: snippet(resp.body), Err: fmt.Errorf("200 answer without sdp_answer")}
			}
			if out.ConnectionID != 0 {
				c.mu.Lock()
				if out.ConnectionID != c.connID {
					c.log.Debug("adopting connection id", "from", c.connID, "to", out.ConnectionID)
					c.connID = out.ConnectionID
				}
				c.mu.Unlock()
			}
			return out.SDPAnswer, nil
		}
		if i < c.sdpPoll.Attempts-1 {
			if err := sleep(ctx, c.sdpPoll.Delay(i)); err != nil {
				return "", ctxErr(PhaseSignalling, err)
			}
		}
	}
	return "", &Error{Phase: PhaseSignalling, Status: http.StatusAccepted, Code: CodeTimeout,
		Detail: fmt.Sprintf("no SDP answer after %d polls", c.sdpPoll.Attempts), Err: ErrPollExhausted}
}

// postCandidates sends one trickle batch, expecting 202.
func (c *Client) postCandidates(ctx context.Context, cid int, cands []wire.IceCandidate, final bool) error {
	if cands == nil {
		cands = []wire.IceCandidate{}
	}
	body := wire.IceCandidatesRequest{Candidates: cands, IsFinal: final, ClientInfo: &c.clientInfo}
	r := c.transport(PhaseTrickle, http.MethodPost, "/connections/"+strconv.Itoa(cid)+"/ice_candidates", body, http.StatusAccepted)
	_, err := c.do(ctx, r)
	if err == nil {
		c.mu.Lock()
		c.timings.TrickleBatches++
		c.mu.Unlock()
	}
	return err
}
