package mockserver

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
)

// WebRTC transport signalling (PROTOCOL.md §1.3), both generations, under
// B = /sessions/{id}/transport/webrtc (routes.go registers them in the
// transport group: Reactor-WebRTC-Version and bearer checks, none for the
// local session id).
//
// Current generation: GET B/ice_servers, POST B/connections (201),
// POST/PUT B/connections/{cid}/sdp_params (202), GET .../sdp_params
// (202 while negotiating, 200 once), POST .../ice_candidates (202).
//
// 2.9.0 generation (no registration): POST/PUT B/sdp_params and
// GET B/sdp_params, mapped onto the reserved connection id 1001; those
// clients have no control channel, so their tracks stream without
// resume_track.
//
// Checks, in the order FastAPI would apply them: the session (404 Unknown
// session, 400 No session running; GET ice_servers is served in every
// non-terminal state, see handleIceServers), the connection id (422 when not an
// integer), the body (400 malformed, 422 wrong shape or a missing required
// field), then the connection's registration (404 Unknown connection) and
// the offer itself (400: garbage SDP, a track_mapping that does not fit
// the SDP or the model).
//
// Why 400 and not 422 for a bad SDP or track_mapping: 422 is FastAPI's
// answer to a body that does not match the request schema (wrong JSON
// types, missing fields) and is kept for that; an SDP or mapping that is
// well-formed JSON but unusable fails inside the runtime's acceptor as a
// ValueError, which the platform reports as 400, as it does for an invalid
// direction. (JS 2.12.3 reacts to a 400 on the offer by retrying connect()
// once; the retry fails the same way, which a suite can observe.)

// transportSession resolves the session of a transport route and checks
// that it runs.
func (s *Server) transportSession(rc *reqCtx, r *http.Request) (*session, *apiError) {
	// The local runtime's admission check first: for the fixed local id it
	// creates the local session on first use and answers 400 unless it runs.
	if e := s.localTransportGuard(r.PathValue("id")); e != nil {
		return nil, e
	}
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return nil, e
	}
	if st := ss.State(); !transportAllowed(st) {
		return nil, errf(http.StatusBadRequest,
			"No session running: session %s is %s; transport signalling needs WAITING, ACTIVE or SUSPENDED (poll GET /sessions/{id} until capabilities appear)",
			ss.id, st)
	}
	return ss, nil
}

// parseCID reads {cid}; FastAPI answers a non-integer path parameter 422.
func parseCID(r *http.Request) (int, *apiError) {
	raw := r.PathValue("cid")
	cid, err := strconv.Atoi(raw)
	if err != nil {
		return 0, errf(http.StatusUnprocessableEntity, "connection id %q is not an integer", raw)
	}
	return cid, nil
}

// handleIceServers is GET B/ice_servers. The mock runs on loopback with host
// candidates only, so the list is empty (valid per RT).
//
// Unlike the other transport routes it is served while the session is still
// CREATED or PENDING: current SDKs (JS 2.12.x, reactor-sdk 0.8.0) prefetch
// ICE servers concurrently with the session poll (PROTOCOL.md §7 item 15,
// "warmup"), so the coordinator must answer it before a runtime is
// assigned. A terminal session (CLOSED, INACTIVE) gets 400 No session
// running, an unknown or deleted one 404, the local session RT's own check
// (400 unless it runs).
func (s *Server) handleIceServers(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	if e := s.localTransportGuard(r.PathValue("id")); e != nil {
		return e
	}
	ss, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	if st := ss.State(); st.Terminal() {
		return errf(http.StatusBadRequest, "No session running: session %s is %s", ss.id, st)
	}
	writeJSON(w, http.StatusOK, wire.IceServersResponse{IceServers: []wire.IceServer{}})
	return nil
}

// handleRegisterConnection is POST B/connections with no body (JS) or {}
// (CORE): 201 {connection_id, track_map}.
func (s *Server) handleRegisterConnection(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.transportSession(rc, r)
	if e != nil {
		return e
	}
	var body map[string]any
	if _, e := decodeBody(r, &body); e != nil {
		return e
	}
	sp, e := s.rtc.sessionFor(ss)
	if e != nil {
		return e
	}
	cid, e := sp.register()
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, wire.RegisterConnectionResponse{ConnectionID: cid, TrackMap: trackMap(ss.model)})
	return nil
}

// decodeOffer reads an offer body; sdp_offer and track_mapping are required.
func decodeOffer(r *http.Request) (wire.SDPOfferRequest, *apiError) {
	var body wire.SDPOfferRequest
	present, e := decodeBody(r, &body)
	if e != nil {
		return body, e
	}
	if !present {
		return body, errf(http.StatusUnprocessableEntity,
			"a JSON body is required: {\"sdp_offer\":\"v=0...\",\"track_mapping\":[{\"mid\",\"name\",\"kind\",\"direction\"}],\"client_info\":{...}}")
	}
	if strings.TrimSpace(body.SDPOffer) == "" {
		return body, errf(http.StatusUnprocessableEntity, "sdp_offer is required and must be a non-empty SDP offer")
	}
	if body.TrackMapping == nil {
		return body, errf(http.StatusUnprocessableEntity,
			"track_mapping is required: one {mid, name, kind, direction} per capability track, using the offer's mids")
	}
	return body, nil
}

// handleConnectionOffer is POST (first offer) and PUT (re-offer, i.e. a
// reconnect on the same id) of B/connections/{cid}/sdp_params: exactly 202
// {connection_id}; the answer is fetched with GET. RT itself accepts any
// integer id; the coordinator validates the registration, hence 404 for an
// id POST B/connections did not mint for this session.
func (s *Server) handleConnectionOffer(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.transportSession(rc, r)
	if e != nil {
		return e
	}
	cid, e := parseCID(r)
	if e != nil {
		return e
	}
	if e := s.stageOffer(ss, r, cid, false); e != nil {
		return e
	}
	writeJSON(w, http.StatusAccepted, wire.SDPOfferAccepted{ConnectionID: cid})
	return nil
}

// handleConnectionAnswer is GET B/connections/{cid}/sdp_params: 202 with an
// empty body until the answer is staged (and for Timings.SDPAnswerPolls
// more polls), then 200 {sdp_answer, connection_id} once; the answer is
// consumed, so later GETs are 202 again. An id that never offered is 202
// forever, as in RT.
func (s *Server) handleConnectionAnswer(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.transportSession(rc, r)
	if e != nil {
		return e
	}
	cid, e := parseCID(r)
	if e != nil {
		return e
	}
	return s.serveAnswer(w, ss, cid, cid)
}

// stageOffer decodes r's offer and hands it to ss's WebRTC session as
// connection cid's (legacy: the 2.9.0 single-connection path).
func (s *Server) stageOffer(ss *session, r *http.Request, cid int, legacy bool) *apiError {
	body, e := decodeOffer(r)
	if e != nil {
		return e
	}
	sp, e := s.rtc.sessionFor(ss)
	if e != nil {
		return e
	}
	return sp.offer(offerRequest{cid: cid, body: body, legacy: legacy, mapping: body.TrackMapping})
}

// serveAnswer writes 202 with an empty body while connection cid's answer
// is not staged, else 200 {sdp_answer, connection_id: echoCID} (0 leaves
// connection_id out) and consumes the answer.
func (s *Server) serveAnswer(w http.ResponseWriter, ss *session, cid, echoCID int) *apiError {
	answer, e := s.takeAnswer(ss, cid)
	if e != nil {
		return e
	}
	if answer == "" {
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	writeJSON(w, http.StatusOK, wire.SDPAnswerResponse{SDPAnswer: answer, ConnectionID: echoCID})
	return nil
}

func (s *Server) takeAnswer(ss *session, cid int) (string, *apiError) {
	sp := s.rtc.lookup(ss.id)
	if sp == nil {
		return "", nil
	}
	return sp.takeAnswer(cid)
}

// handleIceCandidates is POST B/connections/{cid}/ice_candidates
// {candidates, is_final, client_info?}: 202. Candidates that arrive before
// the offer are buffered (CORE flushes before offering) and applied when
// it arrives.
func (s *Server) handleIceCandidates(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.transportSession(rc, r)
	if e != nil {
		return e
	}
	cid, e := parseCID(r)
	if e != nil {
		return e
	}
	var body wire.IceCandidatesRequest
	present, e := decodeBody(r, &body)
	if e != nil {
		return e
	}
	if !present {
		return errf(http.StatusUnprocessableEntity, "a JSON body is required: {\"candidates\":[{\"candidate\",\"sdp_mid\",\"sdp_mline_index\"}],\"is_final\":false}")
	}
	cands := make([]webrtc.ICECandidateInit, 0, len(body.Candidates))
	for i, c := range body.Candidates {
		init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid}
		if c.SDPMLineIndex != nil {
			if *c.SDPMLineIndex < 0 || *c.SDPMLineIndex > 65535 {
				return errf(http.StatusUnprocessableEntity, "candidates[%d].sdp_mline_index %d is out of range", i, *c.SDPMLineIndex)
			}
			idx := uint16(*c.SDPMLineIndex)
			init.SDPMLineIndex = &idx
		}
		cands = append(cands, init)
	}
	sp, e := s.rtc.sessionFor(ss)
	if e != nil {
		return e
	}
	if e := sp.addCandidates(cid, cands, body.IsFinal); e != nil {
		return e
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// handleSingleOffer is POST (first offer) and PUT (reconnect) of
// B/sdp_params, the 2.9.0 generation: {sdp_offer, client_info,
// track_mapping}, exactly 202. It uses the reserved connection id 1001,
// registered implicitly, and streams without resume_track.
func (s *Server) handleSingleOffer(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.transportSession(rc, r)
	if e != nil {
		return e
	}
	if e := s.stageOffer(ss, r, wire.LegacyConnectionID, true); e != nil {
		return e
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
	return nil
}

// handleSingleAnswer is GET B/sdp_params: 202 while negotiating, 200
// {sdp_answer} once.
func (s *Server) handleSingleAnswer(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	ss, e := s.transportSession(rc, r)
	if e != nil {
		return e
	}
	return s.serveAnswer(w, ss, wire.LegacyConnectionID, 0)
}
