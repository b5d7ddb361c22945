package mockserver

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Coordinator session state machine (PROTOCOL.md §2.1).
//
// Every transition the mock makes on its own is a row of the table below.
// Admin force (POST /__admin/sessions/{id}/state) is the only way around it.
// Time-driven events (expired, recover_timeout) are evaluated lazily whenever
// a session is looked at, with the server clock, and are recorded at the
// moment they logically happened, not when they were noticed.

// sessionEvent is something that moves a session.
type sessionEvent string

const (
	evPoll           sessionEvent = "poll"            // GET /sessions/{id}
	evAssigned       sessionEvent = "assigned"        // guard: Timings.PendingPolls answered PENDING and Timings.AssignDelay elapsed
	evConnected      sessionEvent = "connected"       // transport plane: a client connection is up (markActive)
	evDropped        sessionEvent = "dropped"         // transport plane: every connection gone (markSuspended)
	evRecoverTimeout sessionEvent = "recover_timeout" // Timings.RecoverWindow elapsed while SUSPENDED
	evExpired        sessionEvent = "expired"         // Limits.MaxSessionDuration elapsed since (re)start
	evDelete         sessionEvent = "delete"          // DELETE /sessions/{id}
	evRestart        sessionEvent = "restart"         // PUT /sessions/{id}
)

var liveStates = []wire.SessionState{wire.StateCreated, wire.StatePending, wire.StateWaiting, wire.StateActive, wire.StateSuspended}

var allStates = []wire.SessionState{wire.StateCreated, wire.StatePending, wire.StateSuspended, wire.StateWaiting,
	wire.StateActive, wire.StateInactive, wire.StateClosed}

// transitionTable lists every transition: event, the states it applies in,
// and where it leads. An event not listed for a state is refused.
var transitionTable = []struct {
	event sessionEvent
	from  []wire.SessionState
	to    wire.SessionState
}{
	{evPoll, []wire.SessionState{wire.StateCreated}, wire.StatePending},
	{evAssigned, []wire.SessionState{wire.StatePending}, wire.StateWaiting},
	{evConnected, []wire.SessionState{wire.StateWaiting, wire.StateSuspended, wire.StateActive}, wire.StateActive},
	{evDropped, []wire.SessionState{wire.StateActive, wire.StateSuspended}, wire.StateSuspended},
	{evRecoverTimeout, []wire.SessionState{wire.StateSuspended}, wire.StateClosed},
	{evExpired, liveStates, wire.StateClosed},
	{evDelete, allStates, wire.StateClosed},
	{evRestart, []wire.SessionState{wire.StateInactive}, wire.StatePending},
}

// nextState looks an event up in the table.
func nextState(from wire.SessionState, ev sessionEvent) (wire.SessionState, bool) {
	for _, row := range transitionTable {
		if row.event != ev {
			continue
		}
		for _, f := range row.from {
			if f == from {
				return row.to, true
			}
		}
	}
	return "", false
}

// isLive reports whether a state counts toward the concurrency quota.
func isLive(st wire.SessionState) bool { return st.Known() && !st.Terminal() }

// transportAllowed reports whether a client may signal a transport in st.
func transportAllowed(st wire.SessionState) bool {
	return st == wire.StateWaiting || st == wire.StateActive || st == wire.StateSuspended
}

// maxHistory bounds a session's state history; older entries are dropped
// (the first, creation entry is always kept).
const maxHistory = 256

// maxRetainedSessions bounds how many sessions the store remembers. Beyond
// it, the terminal sessions that ended first are forgotten (they then answer
// 404 like deleted ones), so long load runs stay in bounded memory.
const maxRetainedSessions = 20000

// HistoryEntry is one state change of a session.
type HistoryEntry struct {
	State  wire.SessionState `json:"state"`
	At     time.Time         `json:"at"`
	Reason string            `json:"reason,omitempty"`
}

// session is one coordinator session. Its fields are guarded by the owning
// store's mutex; use the methods from outside session_state.go.
type session struct {
	st *sessionStore

	id        string
	model     *Model
	modelName string // as the client asked for it
	account   string // claims.Subject of the creator
	tokenID   string // jti of the creating token
	transport wire.Transport
	extraArgs map[string]any
	legacy    bool // created with the pre-overhaul body

	state     wire.SessionState
	createdAt time.Time
	updatedAt time.Time
	startedAt time.Time // creation or last restart: AssignDelay and MaxSessionDuration count from here
	stateAt   time.Time // when the current state was entered

	polls         int // GET /sessions/{id} answered, ever
	pendingPolls  int // polls answered PENDING since (re)start
	history       []HistoryEntry
	deleted       bool
	deleteReason  string
	readyAt       time.Time                 // first ACTIVE, ever
	terminatedAt  time.Time                 // last entry into INACTIVE/CLOSED
	meterFrom     time.Time                 // start of the open billed interval; zero when the meter is off
	billed        time.Duration             // closed billed intervals
	legacyOffer   legacySDP                 // pre-overhaul signalling (legacy.go)
	scope         *wire.AuthorizationDetail // the creating token's scope; nil when unscoped
	maxDuration   time.Duration             // the creating token's max_session_duration_seconds; 0: none
	limitTimer    *time.Timer               // ends the session on time at maxDuration (session_limit.go)
	negotiateStop context.CancelFunc
}

// ID is the session id.
func (ss *session) ID() string { return ss.id }

// Model is the model the session runs.
func (ss *session) Model() *Model { return ss.model }

// Capabilities are the model's capabilities (shared, read-only).
func (ss *session) Capabilities() *wire.Capabilities { return ss.model.Capabilities() }

// State is the current state, after time-driven transitions.
func (ss *session) State() wire.SessionState {
	ss.st.mu.Lock()
	defer ss.st.mu.Unlock()
	ss.st.tickLocked(ss, ss.st.s.now())
	return ss.state
}

// TransportAllowed reports whether transport signalling is allowed now
// (WAITING, ACTIVE or SUSPENDED).
func (ss *session) TransportAllowed() bool { return transportAllowed(ss.State()) }

// OwnerTokenID is the jti of the token that created the session.
func (ss *session) OwnerTokenID() string { return ss.tokenID }

// sessionStore holds every coordinator session of a Server.
type sessionStore struct {
	s      *Server
	models *modelRegistry

	mu        sync.Mutex
	byID      map[string]*session
	live      map[string]map[string]*session // account → live sessions
	perToken  map[string]int                 // jti → sessions created
	rate      map[rateKey][]time.Time        // creates inside the sliding window
	answerer  legacyAnswerer
	endHook   sessionEndHook
	wg        sync.WaitGroup // legacy negotiations in flight
	retention int
}

// sessionEndHook is told when a session reaches INACTIVE or CLOSED (DELETE,
// max duration, recover window, admin force) so that the transport plane can
// close its peer connections. It runs on its own goroutine, never under the
// store lock, so it may call back into the store.
type sessionEndHook func(id string, state wire.SessionState, reason string)

// setEndHook registers the end hook (nil removes it).
func (st *sessionStore) setEndHook(h sessionEndHook) {
	st.mu.Lock()
	st.endHook = h
	st.mu.Unlock()
}

// sweep applies the time-driven transitions that are due to every live
// session. Lookups do this lazily; a transport watchdog calls sweep so that
// an expired session ends (and the end hook fires) even if nobody asks.
func (st *sessionStore) sweep() {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.s.now()
	for _, acct := range st.live {
		for _, ss := range acct {
			st.tickLocked(ss, now) // may delete from both maps: safe while ranging
		}
	}
}

func newSessionStore(s *Server) *sessionStore {
	return &sessionStore{
		s:         s,
		models:    newModelRegistry(DefaultModels()...),
		byID:      map[string]*session{},
		live:      map[string]map[string]*session{},
		perToken:  map[string]int{},
		rate:      map[rateKey][]time.Time{},
		retention: maxRetainedSessions,
	}
}

// closeAll forgets every session and quota counter (Server.Close, Reset) and
// cancels legacy negotiations in flight, waiting briefly for them.
func (st *sessionStore) closeAll() {
	st.mu.Lock()
	for _, ss := range st.byID {
		if ss.negotiateStop != nil {
			ss.negotiateStop()
			ss.negotiateStop = nil
		}
		stopLimitLocked(ss)
	}
	st.byID = map[string]*session{}
	st.live = map[string]map[string]*session{}
	st.perToken = map[string]int{}
	st.rate = map[rateKey][]time.Time{}
	st.mu.Unlock()
	done := make(chan struct{})
	go func() { st.wg.Wait(); close(done) }()
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// newSessionID returns a random RFC 4122 version 4 UUID (JS 2.2.1 validates
// session ids with z.uuidv4()).
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand aborts the program instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newSession is what a create needs to know.
type newSession struct {
	model     *Model
	modelName string
	claims    *claims
	transport wire.Transport
	extraArgs map[string]any
	legacy    bool
	offer     string
}

// create admits a new session after the scope and quota checks (limits.go),
// all under one lock so concurrent creates cannot overshoot a quota.
func (st *sessionStore) create(ns newSession) (*session, *apiError) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.s.now()
	sc := st.s.scn()
	c := ns.claims
	if held := st.perToken[c.TokenID] + len(c.Bound); c.MaxSessions != nil && held >= *c.MaxSessions {
		return nil, errf(http.StatusForbidden,
			"this token's session budget is exhausted: it may hold %d session(s) (authorization_details constraints.max_sessions, counting the %d in resources.sessions.bind) and has created %d; mint a new token",
			*c.MaxSessions, len(c.Bound), st.perToken[c.TokenID])
	}
	if e := st.checkConcurrencyLocked(c.Subject, sc.Limits, now); e != nil {
		return nil, e
	}
	key := rateKey{account: c.Subject, model: ns.model.Name()}
	if e := st.checkRateLocked(key, sc.Limits, now); e != nil {
		return nil, e
	}
	ss := &session{
		st: st, id: newSessionID(), model: ns.model, modelName: ns.modelName,
		account: c.Subject, tokenID: c.TokenID, transport: ns.transport, extraArgs: ns.extraArgs,
		legacy: ns.legacy, createdAt: now, startedAt: now, scope: c.detail(), maxDuration: c.MaxDuration,
	}
	ss.legacyOffer.offer = ns.offer
	for st.byID[ss.id] != nil { // astronomically unlikely; bounded by the id space
		ss.id = newSessionID()
	}
	st.byID[ss.id] = ss
	st.perToken[c.TokenID]++
	st.recordCreateLocked(key, now)
	st.setStateLocked(ss, wire.StateCreated, now, "created")
	st.armLimitLocked(ss)
	st.evictLocked()
	return ss, nil
}

// lookup finds a session, applying time-driven transitions. Deleted
// sessions are not found.
func (st *sessionStore) lookup(id string) *session {
	st.mu.Lock()
	defer st.mu.Unlock()
	ss := st.byID[id]
	if ss == nil || ss.deleted {
		return nil
	}
	st.tickLocked(ss, st.s.now())
	return ss
}

// setStateLocked enters a state: history, timestamps, the live index and the
// billing meter. It does not consult the transition table (callers do).
func (st *sessionStore) setStateLocked(ss *session, to wire.SessionState, at time.Time, reason string) {
	from := ss.state
	ss.state, ss.stateAt, ss.updatedAt = to, at, maxTime(ss.updatedAt, at)
	if len(ss.history) >= maxHistory {
		ss.history = append(ss.history[:1], ss.history[2:]...)
	}
	ss.history = append(ss.history, HistoryEntry{State: to, At: at, Reason: reason})

	acct := st.live[ss.account]
	if isLive(to) {
		if acct == nil {
			acct = map[string]*session{}
			st.live[ss.account] = acct
		}
		acct[ss.id] = ss
	} else if acct != nil {
		delete(acct, ss.id)
		if len(acct) == 0 {
			delete(st.live, ss.account)
		}
	}

	// Billing (PLATFORM.md §5): the meter runs from ready (ACTIVE) until the
	// session is terminated, through SUSPENDED recover windows.
	if to == wire.StateActive && ss.meterFrom.IsZero() {
		ss.meterFrom = at
		if ss.readyAt.IsZero() {
			ss.readyAt = at
		}
	}
	if to.Terminal() {
		if !ss.meterFrom.IsZero() {
			ss.billed += at.Sub(ss.meterFrom)
			ss.meterFrom = time.Time{}
		}
		if !from.Terminal() || ss.terminatedAt.IsZero() {
			ss.terminatedAt = at
		}
		if ss.negotiateStop != nil {
			ss.negotiateStop()
			ss.negotiateStop = nil
		}
		stopLimitLocked(ss)
		if h := st.endHook; h != nil && !from.Terminal() {
			go h(ss.id, to, reason)
		}
	}
}

// applyLocked runs an event through the table.
func (st *sessionStore) applyLocked(ss *session, ev sessionEvent, at time.Time, reason string) error {
	to, ok := nextState(ss.state, ev)
	if !ok {
		return fmt.Errorf("session %s is %s; event %q does not apply", ss.id, ss.state, ev)
	}
	if to == ss.state && ev == evConnected {
		return nil // already ACTIVE: nothing to record
	}
	if reason == "" {
		reason = string(ev)
	}
	st.setStateLocked(ss, to, at, reason)
	return nil
}

// tickLocked applies the time-driven events that are due, in the order they
// fell due. Bounded: each step moves the session to a terminal state or
// makes no further event due.
func (st *sessionStore) tickLocked(ss *session, now time.Time) {
	sc := st.s.scn()
	for range 4 {
		var (
			due    time.Time
			ev     sessionEvent
			reason string
		)
		if isLive(ss.state) {
			due, reason = st.expiryLocked(ss, sc.Limits)
			if reason != "" {
				ev = evExpired
			}
		}
		if ss.state == wire.StateSuspended {
			rd := ss.stateAt.Add(sc.Timings.RecoverWindow.D())
			if ev == "" || rd.Before(due) {
				due, ev = rd, evRecoverTimeout
				reason = fmt.Sprintf("no reconnect within the %s recover window", sc.Timings.RecoverWindow.D())
			}
		}
		if ev == "" || now.Before(due) {
			return
		}
		_ = st.applyLocked(ss, ev, due, reason)
	}
}

// pollLocked answers one GET /sessions/{id}: CREATED becomes PENDING, and
// PENDING becomes WAITING once Timings.PendingPolls polls have been answered
// PENDING and Timings.AssignDelay has passed since (re)start.
func (st *sessionStore) pollLocked(ss *session, now time.Time) {
	ss.polls++
	ss.updatedAt = maxTime(ss.updatedAt, now)
	if ss.state == wire.StateCreated {
		_ = st.applyLocked(ss, evPoll, now, "")
	}
	if ss.state != wire.StatePending {
		return
	}
	tm := st.s.scn().Timings
	if ss.pendingPolls >= tm.PendingPolls && !now.Before(ss.startedAt.Add(tm.AssignDelay.D())) {
		_ = st.applyLocked(ss, evAssigned, now, "runtime assigned")
		return
	}
	ss.pendingPolls++
}

// evictLocked forgets the oldest terminal sessions once the store holds more
// than its retention bound.
func (st *sessionStore) evictLocked() {
	if len(st.byID) <= st.retention {
		return
	}
	var dead []*session
	for _, ss := range st.byID {
		if ss.deleted || ss.state.Terminal() {
			dead = append(dead, ss)
		}
	}
	sort.Slice(dead, func(i, j int) bool { return dead[i].updatedAt.Before(dead[j].updatedAt) })
	excess := len(st.byID) - st.retention*9/10 // evict in batches, not one per create
	for i := 0; i < len(dead) && i < excess; i++ {
		if dead[i].negotiateStop != nil {
			dead[i].negotiateStop()
		}
		delete(st.byID, dead[i].id)
	}
}

// markActive is the transport plane's hook: a client connection of session
// id is up. WAITING or SUSPENDED becomes ACTIVE (ACTIVE stays ACTIVE).
func (st *sessionStore) markActive(id string) error {
	return st.transportEvent(id, evConnected, "transport connected")
}

// markSuspended is the transport plane's hook: the last client connection of
// session id dropped. ACTIVE becomes SUSPENDED; it becomes CLOSED when
// Timings.RecoverWindow passes without markActive.
func (st *sessionStore) markSuspended(id string) error {
	return st.transportEvent(id, evDropped, "transport lost")
}

func (st *sessionStore) transportEvent(id string, ev sessionEvent, reason string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	ss := st.byID[id]
	if ss == nil || ss.deleted {
		return fmt.Errorf("unknown session %q", id)
	}
	now := st.s.now()
	st.tickLocked(ss, now)
	if ss.state == wire.StateSuspended && ev == evDropped {
		return nil // already suspended: keep the original window
	}
	return st.applyLocked(ss, ev, now, reason)
}

// SessionSnapshot is a session as GET /__admin/sessions shows it.
type SessionSnapshot struct {
	SessionID     string            `json:"session_id"`
	Model         string            `json:"model"`
	State         wire.SessionState `json:"state"`
	Account       string            `json:"account,omitempty"`
	OwnerTokenID  string            `json:"owner_token_id,omitempty"`
	Legacy        bool              `json:"legacy,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	Polls         int               `json:"polls"`
	History       []HistoryEntry    `json:"history"`
	ReadyAt       *time.Time        `json:"ready_at,omitempty"`
	TerminatedAt  *time.Time        `json:"terminated_at,omitempty"`
	BilledSeconds float64           `json:"billed_seconds"`
	Deleted       bool              `json:"deleted,omitempty"`
	DeleteReason  string            `json:"delete_reason,omitempty"`
	// TokenScope is the authorization_details of the token that created the
	// session (absent for an unscoped token); MaxSessionDurationSeconds is
	// its duration limit (absent when none).
	TokenScope                *wire.AuthorizationDetail `json:"token_scope,omitempty"`
	MaxSessionDurationSeconds int                       `json:"max_session_duration_seconds,omitempty"`
	// Transport is the WebRTC side: connections, codec, channel and frame
	// counters, model state (filled by the admin API, outside the store lock).
	Transport *TransportSnapshot `json:"transport,omitempty"`
}

func (st *sessionStore) snapshotLocked(ss *session, now time.Time) SessionSnapshot {
	billed := ss.billed
	if !ss.meterFrom.IsZero() {
		billed += now.Sub(ss.meterFrom)
	}
	snap := SessionSnapshot{
		SessionID: ss.id, Model: ss.modelName, State: ss.state, Account: ss.account, OwnerTokenID: ss.tokenID,
		Legacy: ss.legacy, CreatedAt: ss.createdAt, UpdatedAt: ss.updatedAt, Polls: ss.polls,
		History: append([]HistoryEntry(nil), ss.history...), BilledSeconds: billed.Seconds(),
		Deleted: ss.deleted, DeleteReason: ss.deleteReason,
		TokenScope: ss.scope, MaxSessionDurationSeconds: int(ss.maxDuration / time.Second),
	}
	if !ss.readyAt.IsZero() {
		t := ss.readyAt
		snap.ReadyAt = &t
	}
	if !ss.terminatedAt.IsZero() {
		t := ss.terminatedAt
		snap.TerminatedAt = &t
	}
	return snap
}

// snapshot lists every remembered session (deleted ones included, so billing
// can be read after the fact), oldest first.
func (st *sessionStore) snapshot() []SessionSnapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.s.now()
	all := make([]*session, 0, len(st.byID))
	for _, ss := range st.byID {
		if !ss.deleted {
			st.tickLocked(ss, now)
		}
		all = append(all, ss)
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].createdAt.Equal(all[j].createdAt) {
			return all[i].createdAt.Before(all[j].createdAt)
		}
		return all[i].id < all[j].id
	})
	out := make([]SessionSnapshot, 0, len(all))
	for _, ss := range all {
		out = append(out, st.snapshotLocked(ss, now))
	}
	return out
}

// force sets a session's state for a test (admin API), bypassing the
// transition table but recording history like any other change. Forcing
// PENDING restarts the pending-poll count.
func (st *sessionStore) force(id, state string) (*SessionSnapshot, *apiError) {
	to := wire.SessionState(strings.ToUpper(strings.TrimSpace(state)))
	if !to.Known() {
		names := make([]string, len(allStates))
		for i, s := range allStates {
			names[i] = string(s)
		}
		return nil, errf(http.StatusBadRequest, "unknown session state %q; known: %s", state, strings.Join(names, ", "))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	ss := st.byID[id]
	if ss == nil || ss.deleted {
		return nil, errf(http.StatusNotFound, "Unknown session")
	}
	now := st.s.now()
	st.tickLocked(ss, now)
	if to == wire.StatePending {
		ss.pendingPolls = 0
	}
	revived := isLive(to) && ss.state.Terminal()
	if revived {
		ss.startedAt = now // a revived session gets a fresh duration budget
	}
	st.setStateLocked(ss, to, now, "forced by admin")
	if revived {
		st.armLimitLocked(ss)
	}
	snap := st.snapshotLocked(ss, now)
	return &snap, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
