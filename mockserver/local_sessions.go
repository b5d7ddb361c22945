package mockserver

import (
	"fmt"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// The local runtime's single session (PROTOCOL.md §1.4, §2.2) lives in the
// coordinator session store under wire.LocalSessionID, so that every route
// that resolves sessions with sessionFor (the WebRTC plane's signalling
// among them) finds it unchanged. It is created on the first use of the
// local API (a server that never serves local mode lists no such session)
// and stays in the store from then on; Server.Reset forgets it like every
// other session, and the next local call creates it again in its initial
// state.
//
// The session's state field carries the runtime state:
//
//	runtime      session.state   why
//	created      "created"       lowercase strings are no coordinator state:
//	ready        "ready"         not live, not terminal, no transport, never
//	closing      "closing"       evicted, no coordinator timer applies
//	terminated   "terminated"
//	waiting      WAITING         the running states are the coordinator's own,
//	streaming    ACTIVE          so transportAllowed admits exactly them and the
//	orphaned     SUSPENDED       plane's markActive/markSuspended move them
//
// Whatever moves the session behind the local API's back is folded in the
// next time the local API looks (localFoldLocked): the coordinator's recover
// window turning SUSPENDED into CLOSED stands for the runtime's orphan
// timeout (back to ready), and the admin force of /__admin/sessions/{id}/state
// maps CREATED and PENDING to created (the model is loading), CLOSED to ready
// (the session ended) and INACTIVE to terminated.
//
// The local account owns the session; no JWT carries it, so coordinator
// routes, which always authenticate, answer 404 for the local id.

// localAccount is the account of the local session.
const localAccount = "local-runtime"

// localInitialState is the runtime state on first use and after Reset: the
// model is loaded. A scenario field (local.initial_state, local.load_time)
// would make this scriptable; until then tests and the admin API force
// created or terminated (forceLocal).
const localInitialState = wire.RuntimeReady

// localNoExpiry is the local session's startedAt while it runs: the
// coordinator's limits.max_session_duration counts from startedAt, and the
// runtime has no such limit.
var localNoExpiry = time.Date(3000, time.January, 1, 0, 0, 0, 0, time.UTC)

// allRuntimeStates lists the runtime states in lifecycle order.
var allRuntimeStates = []wire.RuntimeState{wire.RuntimeCreated, wire.RuntimeReady, wire.RuntimeWaiting,
	wire.RuntimeStreaming, wire.RuntimeOrphaned, wire.RuntimeClosing, wire.RuntimeTerminated}

// knownRuntimeState reports whether rs is one of the seven runtime states.
func knownRuntimeState(rs wire.RuntimeState) bool {
	for _, k := range allRuntimeStates {
		if k == rs {
			return true
		}
	}
	return false
}

// localProjection is the session state that stands for runtime state rs.
func localProjection(rs wire.RuntimeState) wire.SessionState {
	switch rs {
	case wire.RuntimeWaiting:
		return wire.StateWaiting
	case wire.RuntimeStreaming:
		return wire.StateActive
	case wire.RuntimeOrphaned:
		return wire.StateSuspended
	}
	return wire.SessionState(rs)
}

// localEnsureLocked returns the local session, creating it in its initial
// state when the store has none (first use, or after Reset).
func (st *sessionStore) localEnsureLocked(now time.Time) *session {
	if ss := st.byID[wire.LocalSessionID]; ss != nil && !ss.deleted {
		return ss
	}
	m := DefaultModels()[0] // the local runtime hosts the default model
	ss := &session{
		st: st, id: wire.LocalSessionID, model: m, modelName: m.Name(), account: localAccount,
		transport: wire.Transport{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion},
		createdAt: now, startedAt: localNoExpiry, extraArgs: map[string]any{},
	}
	st.byID[ss.id] = ss
	st.setStateLocked(ss, localProjection(localInitialState), now, "local runtime up: model loaded")
	return ss
}

// localFoldLocked reads the runtime state off the local session after the
// coordinator's time rules, folding coordinator-only states into runtime
// ones. ended reports that the session stopped running without the local
// API (recover window, admin force): the caller must tear its transport
// down (Server.localTeardown) once the store lock is released.
func (st *sessionStore) localFoldLocked(ss *session, now time.Time) (rs wire.RuntimeState, ended bool) {
	st.tickLocked(ss, now)
	switch cs := ss.state; cs {
	case wire.StateWaiting:
		rs = wire.RuntimeWaiting
	case wire.StateActive:
		rs = wire.RuntimeStreaming
	case wire.StateSuspended:
		rs = wire.RuntimeOrphaned
	case wire.StateCreated, wire.StatePending:
		rs, ended = wire.RuntimeCreated, true
		st.localSetLocked(ss, rs, now, fmt.Sprintf("%s: the model is loading", cs))
	case wire.StateClosed:
		rs, ended = wire.RuntimeReady, true
		st.localSetLocked(ss, rs, now, "session ended: "+localLastReason(ss))
	case wire.StateInactive:
		rs, ended = wire.RuntimeTerminated, true
		st.localSetLocked(ss, rs, now, "INACTIVE: the runtime is terminated")
	default:
		rs = wire.RuntimeState(cs)
		if !knownRuntimeState(rs) { // unreachable: nothing else writes the local session's state
			rs, ended = wire.RuntimeReady, true
			st.localSetLocked(ss, rs, now, fmt.Sprintf("unknown state %q reset", cs))
		}
	}
	if rs.Running() {
		ss.startedAt = localNoExpiry // an admin force may have restarted the duration budget
	}
	return rs, ended
}

// localLastReason is the reason of the session's latest state change.
func localLastReason(ss *session) string {
	if n := len(ss.history); n > 0 && ss.history[n-1].Reason != "" {
		return ss.history[n-1].Reason
	}
	return string(ss.state)
}

// localSetLocked enters runtime state to. Leaving the running states stops
// the billing meter (the local runtime bills nothing, but the admin view
// should not show a meter running on an idle runtime).
func (st *sessionStore) localSetLocked(ss *session, to wire.RuntimeState, at time.Time, reason string) {
	if to.Running() {
		ss.startedAt = localNoExpiry
	} else if !ss.meterFrom.IsZero() {
		ss.billed += at.Sub(ss.meterFrom)
		ss.meterFrom = time.Time{}
	}
	st.setStateLocked(ss, localProjection(to), at, reason)
}

// localState returns the runtime state, creating the local session on
// first use; ended as in localFoldLocked.
func (st *sessionStore) localState() (rs wire.RuntimeState, ended bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.s.now()
	return st.localFoldLocked(st.localEnsureLocked(now), now)
}

// localTransition atomically moves the runtime to state to if it is in one
// of from (any state when from is empty), so that of concurrent starts or
// stops exactly one wins. params, when not nil, become the session's
// parameters (the /start_session body, kept as its extra args). It returns
// the state found, whether it moved, and ended as in localFoldLocked.
func (st *sessionStore) localTransition(to wire.RuntimeState, reason string, params map[string]any,
	from ...wire.RuntimeState) (was wire.RuntimeState, moved, ended bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.s.now()
	ss := st.localEnsureLocked(now)
	was, ended = st.localFoldLocked(ss, now)
	if len(from) > 0 {
		ok := false
		for _, f := range from {
			ok = ok || f == was
		}
		if !ok {
			return was, false, ended
		}
	}
	if params != nil {
		ss.extraArgs = params
	}
	st.localSetLocked(ss, to, now, reason)
	return was, true, ended
}

// localParams returns a copy of the running session's parameters (the
// /start_session body: extra_args, session_id, ...), for the plane and the
// model. Shallow: nested values are shared and must not be modified.
func (st *sessionStore) localParams() map[string]any {
	st.mu.Lock()
	defer st.mu.Unlock()
	ss := st.byID[wire.LocalSessionID]
	if ss == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(ss.extraArgs))
	for k, v := range ss.extraArgs {
		out[k] = v
	}
	return out
}
