package mockserver

import (
	"fmt"
	"time"
)

// Session duration limits: the scenario's Limits.MaxSessionDuration (every
// session) and the creating token's constraints.max_session_duration_seconds
// (PROTOCOL.md §9.1). Both count from creation or the last restart; the
// earlier one ends the session. Lookups apply the limit lazily; a timer per
// limited session applies it on time, so the transport closes and billing
// stops when the limit falls due even if nobody looks.

// expiryLocked returns when the session's duration limit falls due and why
// ("" when it has none).
func (st *sessionStore) expiryLocked(ss *session, lim Limits) (time.Time, string) {
	var (
		due    time.Time
		reason string
	)
	if d := lim.MaxSessionDuration.D(); d > 0 {
		due, reason = ss.startedAt.Add(d), fmt.Sprintf("max session duration %s reached", d)
	}
	if d := ss.maxDuration; d > 0 && (reason == "" || ss.startedAt.Add(d).Before(due)) {
		due = ss.startedAt.Add(d)
		reason = fmt.Sprintf("force-terminated: the token's max_session_duration_seconds (%d s) elapsed", int(d/time.Second))
	}
	return due, reason
}

// armLimitLocked (re)starts the timer that ends a token-limited session when
// its limit falls due. The timer runs on the wall clock; what it does is a
// tick against the server clock, so with a test clock it merely checks early.
func (st *sessionStore) armLimitLocked(ss *session) {
	stopLimitLocked(ss)
	if ss.maxDuration <= 0 || !isLive(ss.state) {
		return
	}
	wait := ss.startedAt.Add(ss.maxDuration).Sub(st.s.now())
	ss.limitTimer = time.AfterFunc(max(wait, 0), func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.byID[ss.id] == ss {
			st.tickLocked(ss, st.s.now())
		}
	})
}

func stopLimitLocked(ss *session) {
	if ss.limitTimer != nil {
		ss.limitTimer.Stop()
		ss.limitTimer = nil
	}
}
