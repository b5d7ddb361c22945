package mockserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Coordinator session routes (PROTOCOL.md §1.2). The state machine lives in
// session_state.go, quotas in limits.go, models in models.go and the
// pre-overhaul flows in legacy.go.

// ServerVersion is server_info.server_version in every session body.
const ServerVersion = "reactor-harness-mock/0.1"

// sessionFor resolves the session a request names, for every route under
// /sessions/{id}: 404 "Unknown session" for an unknown or deleted id (or one
// of another account), 403 when a scoped token acts on a session it neither
// created nor is bound to (PROTOCOL.md §9.1). Time-driven transitions are applied first. CLOSED and INACTIVE
// sessions are returned; callers decide what those states allow.
func (s *Server) sessionFor(rc *reqCtx, id string) (*session, *apiError) {
	ss := s.sessions.lookup(id)
	if ss == nil || (rc.claims != nil && ss.account != rc.claims.Subject) {
		return nil, errf(http.StatusNotFound, "Unknown session")
	}
	if rc.claims != nil && !rc.claims.reaches(ss) {
		return nil, errf(http.StatusForbidden,
			"this token is session-scoped (authorization_details) and may act only on the sessions it created or is bound to; session %s is neither: mint a token with resources.sessions.bind [%q]", id, id)
	}
	return ss, nil
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	if rc.claims == nil { // the coordinator group always authenticates; never trust that blindly
		return errf(http.StatusUnauthorized, "POST /sessions needs a bearer JWT from POST /tokens")
	}
	var req wire.CreateSessionRequest
	present, e := decodeBody(r, &req)
	if e != nil {
		return e
	}
	if !present {
		return errf(http.StatusUnprocessableEntity, "a JSON body is required: {\"model\":{\"name\":\"helios\"},\"client_info\":{...},\"supported_transports\":[{\"protocol\":\"webrtc\",\"version\":\"1.0\"}]}")
	}
	legacy := req.SDPOffer != nil
	sc := s.scn()
	if legacy && sc.Profile != ProfileLegacy {
		return &apiError{Status: http.StatusUpgradeRequired, Detail: "CLIENT_VERSION_TOO_OLD: this POST /sessions body carries sdp_offer, the pre-overhaul (JS SDK 2.2.x) shape this server no longer serves; upgrade the SDK to one that sends client_info and supported_transports and signals under /sessions/{id}/transport/webrtc"}
	}
	if req.Model == nil || strings.TrimSpace(req.Model.Name) == "" {
		return errf(http.StatusUnprocessableEntity, "model.name is required (for example {\"model\":{\"name\":\"helios\"}})")
	}
	model, ok := s.sessions.models.lookup(req.Model.Name)
	if !ok {
		return errf(http.StatusNotFound, "unknown model %q; known: %s", req.Model.Name, strings.Join(s.sessions.models.knownNames(), ", "))
	}
	transport, e := selectTransport(req.SupportedTransports, sc.Versions)
	if e != nil {
		return e
	}
	if legacy && strings.TrimSpace(*req.SDPOffer) == "" {
		return errf(http.StatusUnprocessableEntity, "sdp_offer must be a non-empty SDP offer")
	}
	if rc.claims.bindOnly() {
		return errf(http.StatusForbidden,
			"this token is bound to sessions %s (resources.sessions.bind) and cannot create sessions; mint one with resources.models to create",
			strings.Join(rc.claims.Bound, ", "))
	}
	if !allowsAnyName(rc.claims, model) {
		return errf(http.StatusForbidden, "this token is scoped to models %s and may not create a %q session",
			strings.Join(rc.claims.Models, ", "), req.Model.Name)
	}
	ns := newSession{model: model, modelName: req.Model.Name, claims: rc.claims, transport: transport,
		extraArgs: req.ExtraArgs, legacy: legacy}
	if legacy {
		ns.offer = *req.SDPOffer
	}
	ss, e := s.sessions.create(ns)
	if e != nil {
		return e
	}
	rc.sessionID = ss.id
	if legacy {
		writeJSON(w, http.StatusOK, wire.LegacyCreateSessionResponse{SessionID: ss.id})
		return nil
	}
	writeJSON(w, http.StatusCreated, s.sessionBody(ss, false))
	return nil
}

// allowsAnyName applies a token's model scope to every name of the model.
func allowsAnyName(c *claims, m *Model) bool {
	if c == nil {
		return true
	}
	for _, n := range m.names {
		if c.allowsModel(n) {
			return true
		}
	}
	return false
}

// selectTransport picks what selected_transport will say. Absent
// supported_transports means webrtc at the current version; present, it must
// include webrtc at a version inside the scenario's WebRTC range.
func selectTransport(offered []wire.Transport, v VersionPolicy) (wire.Transport, *apiError) {
	def := wire.Transport{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion}
	if offered == nil {
		return def, nil
	}
	lo, _ := parseMajorMinor(v.WebRTCMin)
	hi, _ := parseMajorMinor(v.WebRTCMax)
	var best *wire.Transport
	var bestV majorMinor
	for i, t := range offered {
		if !strings.EqualFold(t.Protocol, wire.TransportProtocolWebRTC) {
			continue
		}
		mm, err := parseMajorMinor(t.Version)
		if err != nil || cmpMM(mm, lo) < 0 || cmpMM(mm, hi) > 0 {
			continue
		}
		if best == nil || cmpMM(mm, bestV) > 0 {
			best, bestV = &offered[i], mm
		}
	}
	if best == nil {
		return wire.Transport{}, errf(http.StatusBadRequest,
			"supported_transports %s has no transport this server supports; it supports [{\"protocol\":\"webrtc\",\"version\":%q}] (versions %s..%s)",
			describeTransports(offered), wire.CurrentWebRTCVersion, v.WebRTCMin, v.WebRTCMax)
	}
	return wire.Transport{Protocol: wire.TransportProtocolWebRTC, Version: best.Version}, nil
}

func describeTransports(ts []wire.Transport) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Protocol + "/" + t.Version
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// sessionWire is wire.SessionResponse as the mock writes it: the same JSON,
// with the model's capabilities spliced in pre-encoded.
type sessionWire struct {
	SessionID         string            `json:"session_id"`
	State             wire.SessionState `json:"state"`
	Cluster           string            `json:"cluster"`
	Model             wire.ModelRef     `json:"model"`
	ServerInfo        wire.ServerInfo   `json:"server_info"`
	SelectedTransport *wire.Transport   `json:"selected_transport,omitempty"`
	Capabilities      json.RawMessage   `json:"capabilities,omitempty"`
}

// sessionBody renders a session for POST (slim) and GET (full). From WAITING
// to SUSPENDED the body carries selected_transport and capabilities, which
// every SDK reads as "ready to signal". poll counts the call as a status
// poll, advancing the state machine. Called without the store lock.
func (s *Server) sessionBody(ss *session, poll bool) sessionWire {
	st := s.sessions
	st.mu.Lock()
	if poll {
		st.pollLocked(ss, s.now())
	}
	state := ss.state
	transport := ss.transport
	st.mu.Unlock()
	body := sessionWire{
		SessionID:  ss.id,
		State:      state,
		Cluster:    s.scn().Cluster,
		Model:      wire.ModelRef{Name: ss.modelName},
		ServerInfo: wire.ServerInfo{ServerVersion: ServerVersion},
	}
	if transportAllowed(state) {
		body.SelectedTransport = &transport
		body.Capabilities = ss.model.capsJSON
	}
	return body
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	body := s.sessionBody(ss, true)
	if s.legacyClient(r) {
		writeJSON(w, http.StatusOK, legacyStatusBody(body))
		return nil
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) handleSessionInfo(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, wire.SessionInfoResponse{SessionID: ss.id, State: ss.State(), Cluster: s.scn().Cluster})
	return nil
}

// handleRestartSession is PUT /sessions/{id}: an INACTIVE session goes back
// to PENDING (same id, poll counters and duration budget reset); any other
// state is 409.
func (s *Server) handleRestartSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	st := s.sessions
	st.mu.Lock()
	now := s.now()
	st.tickLocked(ss, now)
	if _, ok := nextState(ss.state, evRestart); !ok {
		state := ss.state
		st.mu.Unlock()
		return errf(http.StatusConflict, "session is %s; only an INACTIVE session can be restarted (PUT /sessions/{id})%s",
			state, restartHint(state))
	}
	if e := st.checkRestartLocked(ss, now); e != nil {
		st.mu.Unlock()
		return e
	}
	ss.pendingPolls = 0
	ss.startedAt = now
	_ = st.applyLocked(ss, evRestart, now, "restarted")
	st.armLimitLocked(ss)
	st.mu.Unlock()
	writeJSON(w, http.StatusOK, s.sessionBody(ss, false))
	return nil
}

func restartHint(st wire.SessionState) string {
	switch st {
	case wire.StateClosed:
		return "; a CLOSED session is over, create a new one"
	case wire.StateSuspended:
		return "; a SUSPENDED session is resumed by reconnecting its transport"
	}
	return "; it is not inactive"
}

// handleDeleteSession is DELETE /sessions/{id} with an optional {"reason"}:
// 204, the session becomes CLOSED and every route answers 404 for it after.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	var body wire.DeleteSessionRequest
	if _, e := decodeBody(r, &body); e != nil {
		return e
	}
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	st := s.sessions
	st.mu.Lock()
	if ss.deleted { // lost a race with another DELETE
		st.mu.Unlock()
		return errf(http.StatusNotFound, "Unknown session")
	}
	reason := "deleted by client"
	if body.Reason != "" {
		reason = fmt.Sprintf("deleted by client: %s", body.Reason)
	}
	_ = st.applyLocked(ss, evDelete, s.now(), reason)
	ss.deleted, ss.deleteReason = true, body.Reason
	st.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
