package mockserver

import (
	"context"
	"net/http"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Pre-overhaul coordinator flows (PROTOCOL.md §1.2 "Legacy coordinator
// endpoints"), served in the legacy profile only; the router answers 426 for
// these routes in the current profile. JS 2.2.1 creates a session with its
// SDP offer in the body, then polls GET /sessions/{id}/sdp_params until the
// answer is there; a reconnect PUTs a new offer to the same path.

// legacyAnswerer turns a stored legacy SDP offer into an answer. The WebRTC
// plane implements it and registers it with setLegacyAnswerer; without one,
// GET /sessions/{id}/sdp_params answers 202 forever. AnswerLegacy may block
// (ICE gathering) and must return when ctx is cancelled: the store cancels it
// when a newer offer arrives or the session ends. An error is shown to the
// client as 400 with the error text (an offer that cannot be answered is the
// client's mistake) until a new offer is sent.
type legacyAnswerer interface {
	AnswerLegacy(ctx context.Context, sessionID, offer string) (answer string, err error)
}

// legacySDP is a session's pre-overhaul signalling state.
type legacySDP struct {
	offer       string
	gen         int // bumped by every new offer; stale answers are dropped
	negotiating bool
	answer      string
	answerPolls int // GETs still to answer 202 although the answer exists (Timings.SDPAnswerPolls)
	failure     string
}

// setLegacyAnswerer registers the WebRTC plane's answerer (nil removes it).
func (st *sessionStore) setLegacyAnswerer(a legacyAnswerer) {
	st.mu.Lock()
	st.answerer = a
	st.mu.Unlock()
}

// legacyOffer stores a new offer for session ss, cancelling any negotiation
// of an older one, and starts answering it if the session is assigned.
func (st *sessionStore) legacyOffer(ss *session, offer string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if ss.negotiateStop != nil {
		ss.negotiateStop()
		ss.negotiateStop = nil
	}
	ss.legacyOffer = legacySDP{offer: offer, gen: ss.legacyOffer.gen + 1}
	st.kickLocked(ss)
}

// kickLocked starts answering the stored offer when there is an answerer,
// the session has a runtime (WAITING on) and nothing is in flight.
func (st *sessionStore) kickLocked(ss *session) {
	lo := &ss.legacyOffer
	if st.answerer == nil || lo.offer == "" || lo.negotiating || lo.answer != "" || lo.failure != "" ||
		!transportAllowed(ss.state) || ss.deleted {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	lo.negotiating = true
	ss.negotiateStop = cancel
	gen, offer, id, a := lo.gen, lo.offer, ss.id, st.answerer
	polls := st.s.scn().Timings.SDPAnswerPolls
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer cancel()
		answer, err := a.AnswerLegacy(ctx, id, offer)
		st.mu.Lock()
		defer st.mu.Unlock()
		if ss.legacyOffer.gen != gen {
			return // superseded by a newer offer
		}
		ss.legacyOffer.negotiating = false
		ss.negotiateStop = nil
		switch {
		case err != nil:
			ss.legacyOffer.failure = err.Error()
		case answer == "":
			ss.legacyOffer.failure = "the server produced an empty SDP answer"
		default:
			ss.legacyOffer.answer, ss.legacyOffer.answerPolls = answer, polls
		}
	}()
}

// takeLegacyAnswer is one GET /sessions/{id}/sdp_params. It counts as a
// status poll (the old client never polls GET /sessions/{id}), so
// PendingPolls and AssignDelay apply; once the session is assigned the offer
// is answered. The answer is consumed on read, like RT's take_answer.
func (st *sessionStore) takeLegacyAnswer(ss *session) (answer string, e *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.s.now()
	st.tickLocked(ss, now)
	st.pollLocked(ss, now)
	if ss.state.Terminal() {
		return "", errf(http.StatusConflict, "session is %s; it can no longer be connected", ss.state)
	}
	st.kickLocked(ss)
	lo := &ss.legacyOffer
	if lo.failure != "" {
		return "", errf(http.StatusBadRequest, "could not answer the SDP offer: %s; send a new offer with PUT /sessions/{id}/sdp_params", lo.failure)
	}
	if lo.answer == "" {
		return "", nil
	}
	if lo.answerPolls > 0 {
		lo.answerPolls--
		return "", nil
	}
	answer, lo.answer = lo.answer, ""
	return answer, nil
}

// handleLegacyIceServers is GET /ice_servers?model=. The mock runs on
// loopback and needs no STUN/TURN, so the list is empty (a STUN URI that
// points at nothing would only slow ICE gathering down).
func (s *Server) handleLegacyIceServers(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	if name := r.URL.Query().Get("model"); name != "" {
		if _, ok := s.sessions.models.lookup(name); !ok {
			return errf(http.StatusNotFound, "unknown model %q; known: %s", name, strings.Join(s.sessions.models.knownNames(), ", "))
		}
	}
	writeJSON(w, http.StatusOK, wire.IceServersResponse{IceServers: []wire.IceServer{}})
	return nil
}

// handleLegacyGetSDP is GET /sessions/{id}/sdp_params: 202 (empty body)
// while there is no answer, 200 {sdp_answer, extra_args:{}} once.
func (s *Server) handleLegacyGetSDP(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	answer, e := s.sessions.takeLegacyAnswer(ss)
	if e != nil {
		return e
	}
	if answer == "" {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	writeJSON(w, http.StatusOK, wire.LegacySDPParams{SDPAnswer: answer, ExtraArgs: map[string]any{}})
	return nil
}

// handleLegacyPutSDP is PUT /sessions/{id}/sdp_params {sdp_offer,
// extra_args} (the old reconnect): the offer replaces any earlier one and the
// answer is fetched with GET. Always 202.
func (s *Server) handleLegacyPutSDP(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	var body wire.LegacySDPOffer
	present, e := decodeBody(r, &body)
	if e != nil {
		return e
	}
	if !present || strings.TrimSpace(body.SDPOffer) == "" {
		return errf(http.StatusUnprocessableEntity, "sdp_offer is required: {\"sdp_offer\":\"v=0...\",\"extra_args\":{}}")
	}
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	if st := ss.State(); st.Terminal() {
		return errf(http.StatusConflict, "session is %s; it can no longer be connected", st)
	}
	s.sessions.legacyOffer(ss, body.SDPOffer)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// legacyClient reports whether a request comes from a pre-overhaul SDK
// served by the legacy profile: such clients send no API-version header.
func (s *Server) legacyClient(r *http.Request) bool {
	return s.scn().Profile == ProfileLegacy && r.Header.Get(wire.HeaderAPIVersion) == ""
}

// legacySessionStatus is GET /sessions/{id} for a pre-overhaul client: the
// state is the numeric enum of its status schema (CREATED=0 … CLOSED=6),
// with the name beside it for humans.
type legacySessionStatus struct {
	SessionID  string            `json:"session_id"`
	State      int               `json:"state"`
	StateName  wire.SessionState `json:"state_name"`
	Cluster    string            `json:"cluster"`
	Model      wire.ModelRef     `json:"model"`
	ServerInfo wire.ServerInfo   `json:"server_info"`
}

func legacyStatusBody(b sessionWire) legacySessionStatus {
	return legacySessionStatus{SessionID: b.SessionID, State: b.State.LegacyStateCode(), StateName: b.State,
		Cluster: b.Cluster, Model: b.Model, ServerInfo: b.ServerInfo}
}
