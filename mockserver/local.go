package mockserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// Local runtime API (PROTOCOL.md §1.4): what reactor-runtime serves at
// http://localhost:8080 and what the SDKs' local mode talks to instead of
// the coordinator. No authentication and no version headers (routeGroup
// groupLocal); every route is journaled by the middleware.
//
//	POST /start_session                 200 descriptor | 409 | 503 (+Retry-After: 1 while loading)
//	GET  /session                       200 descriptor, in every state (RT answers it even when idle)
//	POST /stop_session                  200 empty | 409 | 503 | 422 (reason > 64 characters)
//	GET  /schema                        200 the model's OpenAPI document ({} while loading)
//	GET  /health                        200 | 503 {status, state, detail}
//	POST /sessions/{LocalSessionID}/uploads   201 unsigned upload | 400 No session running
//
// The session itself is the store's local session (local_sessions.go), so
// the WebRTC plane's transport routes under
// /sessions/00000000-0000-0000-0000-000000000000/transport/webrtc serve
// local clients unchanged: they find it with sessionFor, admit it while it
// runs (WAITING/ACTIVE/SUSPENDED = waiting/streaming/orphaned) and move it
// with markActive/markSuspended.
//
// Status codes and details follow RT's routes.py at aa64aa5: a start or
// stop refused because of the state answers 409 "cannot <action> session
// while <state>", except while the model loads (503 with Retry-After: 1)
// and once the runtime is terminated (503 without it).

// localCluster is the descriptor's cluster in local mode.
const localCluster = "local"

// localRecordingChunkSeconds is the descriptor's recording.chunk_seconds
// (the mock does not record, so recording.enabled is false).
const localRecordingChunkSeconds = 4

// localModerationMessage is the message of the moderation notice RT sends on
// a moderated stop.
const localModerationMessage = "Session terminated due to policy violation."

// localRoutes registers the local runtime API and its admin view.
func (s *Server) localRoutes() {
	s.handle("POST /start_session", groupLocal, s.handleLocalStart)
	s.handle("GET /session", groupLocal, s.handleLocalSession)
	s.handle("POST /stop_session", groupLocal, s.handleLocalStop)
	s.handle("GET /schema", groupLocal, s.handleLocalSchema)
	s.handle("GET /health", groupLocal, s.handleLocalHealth)
	// More specific than the coordinator's "POST /sessions/{id}/uploads"
	// (bearer JWT), so the mux sends the local id here: RT's upload route
	// needs no authentication.
	s.handle("POST "+wire.SessionPath(wire.LocalSessionID)+"/uploads", groupLocal, s.handleLocalUpload)

	s.admin("GET /__admin/local", s.adminLocalView)
	s.admin("POST /__admin/local/state", s.adminLocalForce)
}

// localStopNotice is what the clients of the local session are told before
// their connections close when POST /stop_session ends it. RT sends one
// notice per stop: a moderated stop sends only the moderation notice; a
// plain stop with a reason sends sessionEnded{reason}; a bare stop sends
// nothing.
type localStopNotice struct {
	Moderated bool   // send Moderation(); outranks Reason
	Reason    string // the stop's reason, verbatim
}

// Moderation returns the moderation notice to send (v0 runtime-scope
// "moderation" on data, v1 ControlServerMessage.moderation), or nil.
func (n localStopNotice) Moderation() *wirev0.Moderation {
	if !n.Moderated {
		return nil
	}
	return &wirev0.Moderation{Action: wirev0.ModerationTerminate, Categories: []string{}, Message: localModerationMessage}
}

// SessionEnded returns the reason to send in sessionEnded, "" for none.
func (n localStopNotice) SessionEnded() string {
	if n.Moderated {
		return ""
	}
	return n.Reason
}

// localSessionCloser is what the WebRTC plane implements (on *rtcPlane) to
// end the local session's transport. CloseLocalSession delivers n to every
// connection of wire.LocalSessionID (best effort, in each connection's
// codec, before its channels close), then closes its negotiations,
// connections, streams and model runtime, and returns when that is done. It
// is called without the store lock, may call the store, must not call the
// local API, and must be a no-op when the session has no transport. After
// it returns, a later start_session must get a fresh plane (new connection
// ids, model state, no stale answers).
type localSessionCloser interface {
	CloseLocalSession(n localStopNotice)
}

// localTeardown ends the local session's transport and forgets its uploads
// (RT clears its upload store when a session closes). A plane without
// CloseLocalSession falls back to its generic closeSession (sessionEnded
// when there is a reason, no moderation notice); no plane, nothing to close.
func (s *Server) localTeardown(n localStopNotice) {
	if s.rtc != nil {
		switch p := any(s.rtc).(type) {
		case localSessionCloser:
			p.CloseLocalSession(n)
		case interface{ closeSession(id, reason string) }:
			p.closeSession(wire.LocalSessionID, n.SessionEnded())
		}
	}
	s.uploads.forgetSession(wire.LocalSessionID)
}

// localRuntimeState returns the runtime state, tearing down the transport
// of a session that ended behind the local API's back.
func (s *Server) localRuntimeState() wire.RuntimeState {
	rs, ended := s.sessions.localState()
	if ended {
		s.localTeardown(localStopNotice{})
	}
	return rs
}

// localTransportGuard is RT's admission check for routes under
// /sessions/{sid}/...: for the local id it returns 400 {"detail":"No
// session running"} unless the local session runs, and nil when it runs;
// for any other id it returns nil (sessionFor answers 404 Unknown session
// for ids it does not know). It also creates the local session on first use
// and after Reset, so the plane should call it first in transportSession.
func (s *Server) localTransportGuard(id string) *apiError {
	if id != wire.LocalSessionID {
		return nil
	}
	if !s.localRuntimeState().Running() {
		return errf(http.StatusBadRequest, "No session running")
	}
	return nil
}

// localRejection maps a refused start or stop to RT's answer.
func localRejection(action string, rs wire.RuntimeState) *apiError {
	detail := fmt.Sprintf("cannot %s session while %s", action, rs)
	switch rs {
	case wire.RuntimeCreated:
		return &apiError{Status: http.StatusServiceUnavailable, Detail: detail + ": the model is still loading", RetryAfter: 1}
	case wire.RuntimeTerminated:
		return errf(http.StatusServiceUnavailable, "%s: the model is terminated", detail)
	}
	return errf(http.StatusConflict, "%s", detail)
}

// localDescriptor renders the local session in state rs as RT's runner
// does: selected_transport and recording always, model name and
// capabilities (protocol_version v0, the model's tracks, commands
// deliberately empty) once the model is loaded.
func localDescriptor(rs wire.RuntimeState, m *Model) wire.LocalSessionDescriptor {
	d := wire.LocalSessionDescriptor{
		SessionID:         wire.LocalSessionID,
		State:             rs,
		Cluster:           localCluster,
		ServerInfo:        wire.ServerInfo{ServerVersion: ServerVersion},
		SelectedTransport: &wire.Transport{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion},
		Recording:         &wire.RecordingInfo{Enabled: false, ChunkSeconds: localRecordingChunkSeconds},
	}
	if rs == wire.RuntimeCreated {
		return d // RT: model {"name": ""} and no capabilities before the model is loaded
	}
	d.Model = wire.ModelRef{Name: m.Name()}
	d.Capabilities = &wire.Capabilities{
		ProtocolVersion: "v0",
		Tracks:          append([]wire.TrackSpec(nil), m.Capabilities().Tracks...),
		Commands:        []wire.CommandDef{},
	}
	return d
}

// localModel is the model the local runtime hosts.
func (s *Server) localModel() *Model {
	if ss := s.sessions.lookup(wire.LocalSessionID); ss != nil {
		return ss.model
	}
	return DefaultModels()[0]
}

// handleLocalStart is POST /start_session with an optional JSON object of
// session parameters: {} and {"extra_args":{...}} from the SDKs; a
// session_id key only names the recording (the mock does not record).
func (s *Server) handleLocalStart(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	rc.sessionID = wire.LocalSessionID
	var params map[string]any
	present, e := decodeBody(r, &params)
	if e != nil {
		return localBodyError(e, "the body, when present, must be a JSON object of session parameters such as {} or {\"extra_args\":{...}}")
	}
	if !present || params == nil {
		params = map[string]any{}
	}
	s.localRuntimeState() // fold in (and tear down) a session that ended on its own first
	was, moved, ended := s.sessions.localTransition(wire.RuntimeWaiting, "start_session", params, wire.RuntimeReady)
	if ended {
		s.localTeardown(localStopNotice{})
	}
	if !moved {
		return localRejection("start", was)
	}
	writeJSON(w, http.StatusOK, localDescriptor(wire.RuntimeWaiting, s.localModel()))
	return nil
}

// handleLocalSession is GET /session: the descriptor in every state.
func (s *Server) handleLocalSession(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	rc.sessionID = wire.LocalSessionID
	writeJSON(w, http.StatusOK, localDescriptor(s.localRuntimeState(), s.localModel()))
	return nil
}

// handleLocalStop is POST /stop_session with an optional {moderate,
// reason}: the session closes (clients get the notice, then their
// connections close) and the runtime is ready again before the 200.
func (s *Server) handleLocalStop(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	rc.sessionID = wire.LocalSessionID
	var req wire.StopSessionRequest
	if _, e := decodeBody(r, &req); e != nil {
		return localBodyError(e, "the body, when present, must be {\"moderate\": bool, \"reason\": string}")
	}
	if n := utf8.RuneCountInString(req.Reason); n > wire.MaxStopReasonLength {
		return errf(http.StatusUnprocessableEntity, "reason: at most %d characters, got %d", wire.MaxStopReasonLength, n)
	}
	notice := localStopNotice{Moderated: req.Moderate, Reason: req.Reason}
	s.localRuntimeState()
	reason := "stop_session"
	switch {
	case req.Moderate:
		reason += " (moderated)"
	case req.Reason != "":
		reason += ": " + req.Reason
	}
	was, moved, ended := s.sessions.localTransition(wire.RuntimeClosing, reason, nil,
		wire.RuntimeWaiting, wire.RuntimeStreaming, wire.RuntimeOrphaned)
	if !moved {
		if ended {
			s.localTeardown(localStopNotice{})
		}
		return localRejection("stop", was)
	}
	s.localTeardown(notice)
	// A force during the teardown (tests, admin) wins over the cleanup.
	_, _, _ = s.sessions.localTransition(wire.RuntimeReady, "cleanup complete", nil, wire.RuntimeClosing)
	w.WriteHeader(http.StatusOK)
	return nil
}

// localBodyError keeps malformed JSON a 400 and explains a wrong shape.
func localBodyError(e *apiError, want string) *apiError {
	if e.Status == http.StatusUnprocessableEntity {
		return errf(http.StatusUnprocessableEntity, "%s; %s", e.Detail, want)
	}
	return e
}

// handleLocalSchema is GET /schema: the model's OpenAPI 3.1 document, {}
// while the model is loading.
func (s *Server) handleLocalSchema(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	if s.localRuntimeState() == wire.RuntimeCreated {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	writeJSON(w, http.StatusOK, s.localModel().OpenAPI())
	return nil
}

// localHealthBody is GET /health's body as RT writes it: detail is null
// when healthy.
type localHealthBody struct {
	Status string  `json:"status"`
	State  string  `json:"state"`
	Detail *string `json:"detail"`
}

// localHealth maps a runtime state to /health: unhealthy (503) only when
// terminated; state is the coarse loading|available|serving|terminated.
func localHealth(rs wire.RuntimeState) (int, localHealthBody) {
	body := localHealthBody{Status: "healthy", State: rs.HealthState()}
	if rs == wire.RuntimeTerminated {
		detail := "session terminated"
		body.Status, body.Detail = "unhealthy", &detail
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, body
}

// handleLocalHealth is GET /health.
func (s *Server) handleLocalHealth(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	status, body := localHealth(s.localRuntimeState())
	writeJSON(w, status, body)
	return nil
}

// handleLocalUpload is POST /sessions/{LocalSessionID}/uploads without
// authentication, in RT's order: the body's shape (422), the session (400
// No session running), the fields (400), the id (409). The upload is
// unsigned (its PUT needs no signature and never expires) and its URL is
// built on the request's own base URL, as RT does.
func (s *Server) handleLocalUpload(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	rc.sessionID = wire.LocalSessionID
	req, e := decodeLocalUpload(r)
	if e != nil {
		return e
	}
	if e := s.localTransportGuard(wire.LocalSessionID); e != nil {
		return e
	}
	resp, e := s.uploads.reserveAt(requestBaseURL(r), wire.LocalSessionID, req, false)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// decodeLocalUpload reads {name, size, mime_type, upload_id?}; the three
// first are required (422 when absent or null, as FastAPI does).
func decodeLocalUpload(r *http.Request) (wire.UploadRequest, *apiError) {
	var req wire.UploadRequest
	var fields map[string]json.RawMessage
	present, e := decodeBody(r, &fields)
	if e != nil {
		return req, localBodyError(e, "the body must be {\"name\", \"size\", \"mime_type\"}")
	}
	if !present {
		return req, errf(http.StatusUnprocessableEntity, "body is required: {\"name\", \"size\", \"mime_type\"}")
	}
	var missing []string
	for _, k := range []string{"name", "size", "mime_type"} {
		if v, ok := fields[k]; !ok || string(v) == "null" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return req, errf(http.StatusUnprocessableEntity, "missing required field(s): %s", strings.Join(missing, ", "))
	}
	raw, _ := json.Marshal(fields) // re-encode what was just decoded: cannot fail
	if e := strictUnknown(raw, &req); e != nil {
		return req, e
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return req, shapeError(err)
	}
	return req, nil
}

// LocalState returns the local runtime's state (PROTOCOL.md §2.2), for
// in-process callers such as the suites.
func (s *Server) LocalState() wire.RuntimeState { return s.localRuntimeState() }

// forceLocal moves the local runtime to any state, bypassing the rules (the
// admin API and tests use it to reach created, closing or terminated).
// Leaving the running states tears the transport down without a notice.
func (s *Server) forceLocal(to wire.RuntimeState, reason string) *apiError {
	if !knownRuntimeState(to) {
		names := make([]string, len(allRuntimeStates))
		for i, rs := range allRuntimeStates {
			names[i] = string(rs)
		}
		return errf(http.StatusBadRequest, "unknown runtime state %q; known: %s", to, strings.Join(names, ", "))
	}
	if reason == "" {
		reason = "forced by admin"
	}
	was, _, ended := s.sessions.localTransition(to, reason, nil)
	if ended || (was.Running() && !to.Running()) {
		s.localTeardown(localStopNotice{})
	}
	return nil
}

// localAdminView is GET /__admin/local.
type localAdminView struct {
	State      wire.RuntimeState           `json:"state"`
	Health     localHealthBody             `json:"health"`
	Descriptor wire.LocalSessionDescriptor `json:"descriptor"`
	Params     map[string]any              `json:"params"`
}

func (s *Server) localView() localAdminView {
	rs := s.localRuntimeState()
	_, h := localHealth(rs)
	return localAdminView{State: rs, Health: h, Descriptor: localDescriptor(rs, s.localModel()), Params: s.sessions.localParams()}
}

func (s *Server) adminLocalView(w http.ResponseWriter, r *http.Request) *apiError {
	writeJSON(w, http.StatusOK, s.localView())
	return nil
}

// adminLocalForce is POST /__admin/local/state {"state": "<runtime state>",
// "reason"?}: for example created to test 503 + Retry-After while the
// model loads, terminated for the permanent 503.
func (s *Server) adminLocalForce(w http.ResponseWriter, r *http.Request) *apiError {
	var body struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	}
	if _, e := decodeBody(r, &body); e != nil {
		return e
	}
	to := wire.RuntimeState(strings.ToLower(strings.TrimSpace(body.State)))
	if e := s.forceLocal(to, body.Reason); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, s.localView())
	return nil
}
