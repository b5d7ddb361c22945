package mockserver

import (
	"fmt"
	"net/http"
	"time"
)

// Platform quotas (PLATFORM.md §2): concurrent live sessions per account and
// session creations per minute per model per account. Both answer 429 with
// Retry-After, which CORE turns into RATE_LIMITED with retry_after_ms.
//
// The scenario cannot express "no limit" with 0 (0 means "the documented
// default"); a very large value such as Unlimited is effectively unlimited,
// and from Unlimited on the creation window is not even recorded.

// Unlimited is a quota value that never binds (see Limits).
const Unlimited = 1 << 30

// rateWindow is the sliding window of Limits.CreatesPerMinute.
const rateWindow = time.Minute

// concurrencyRetryAfter is the Retry-After (seconds) of a concurrency 429.
// The mock cannot know when a live session will end; 3 s is the retry delay
// the docs suggest for recoverable errors.
const concurrencyRetryAfter = 3

// rateKey identifies one creation window: an account and a canonical model
// name (so "helios" and "reactor/helios" share a quota).
type rateKey struct {
	account string
	model   string
}

// checkConcurrencyLocked refuses a new live session when the account already
// has Limits.MaxConcurrentSessions live ones (CREATED, PENDING, WAITING,
// ACTIVE, SUSPENDED: a GPU has been requested for each).
func (st *sessionStore) checkConcurrencyLocked(account string, lim Limits, now time.Time) *apiError {
	if lim.MaxConcurrentSessions <= 0 || lim.MaxConcurrentSessions >= Unlimited {
		return nil
	}
	live := st.live[account]
	if len(live) < lim.MaxConcurrentSessions {
		return nil
	}
	// Time-driven ends (max duration, recover window) are lazy: settle them
	// before counting. tickLocked may delete from live, which is safe while
	// ranging over a map.
	for _, ss := range live {
		st.tickLocked(ss, now)
	}
	n := len(st.live[account])
	if n < lim.MaxConcurrentSessions {
		return nil
	}
	return &apiError{Status: http.StatusTooManyRequests, RetryAfter: concurrencyRetryAfter, Detail: fmt.Sprintf(
		"concurrent session limit reached: this account has %d live sessions (CREATED, PENDING, WAITING, ACTIVE or SUSPENDED) and the limit is %d (limits.max_concurrent_sessions); delete a session or retry later",
		n, lim.MaxConcurrentSessions)}
}

// checkRateLocked refuses a creation when Limits.CreatesPerMinute sessions of
// the model were created in the last 60 s. Retry-After is the time until the
// oldest of them leaves the window, rounded up to whole seconds.
func (st *sessionStore) checkRateLocked(key rateKey, lim Limits, now time.Time) *apiError {
	if lim.CreatesPerMinute <= 0 || lim.CreatesPerMinute >= Unlimited {
		return nil
	}
	win := st.pruneLocked(key, now)
	if len(win) < lim.CreatesPerMinute {
		return nil
	}
	// The window holds at least the limit; the entry that must leave before
	// a create fits again is the (len-limit)th oldest.
	leaves := win[len(win)-lim.CreatesPerMinute].Add(rateWindow)
	wait := leaves.Sub(now)
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return &apiError{Status: http.StatusTooManyRequests, RetryAfter: secs, Detail: fmt.Sprintf(
		"session creation rate limit reached: %d sessions of model %q were created in the last 60s and the limit is %d per minute (limits.creates_per_minute); retry in %ds",
		len(win), key.model, lim.CreatesPerMinute, secs)}
}

// recordCreateLocked notes a successful creation in its window.
func (st *sessionStore) recordCreateLocked(key rateKey, now time.Time) {
	if lim := st.s.scn().Limits.CreatesPerMinute; lim <= 0 || lim >= Unlimited {
		return
	}
	st.rate[key] = append(st.pruneLocked(key, now), now)
}

// pruneLocked drops creations older than the window and returns the rest,
// oldest first.
func (st *sessionStore) pruneLocked(key rateKey, now time.Time) []time.Time {
	win := st.rate[key]
	cut := 0
	for cut < len(win) && !win[cut].After(now.Add(-rateWindow)) {
		cut++
	}
	if cut > 0 {
		win = append(win[:0], win[cut:]...)
		if len(win) == 0 {
			delete(st.rate, key)
			return nil
		}
		st.rate[key] = win
	}
	return win
}

// checkRestartLocked applies the concurrency quota to a restart, which turns
// a terminal session into a live one again.
func (st *sessionStore) checkRestartLocked(ss *session, now time.Time) *apiError {
	return st.checkConcurrencyLocked(ss.account, st.s.scn().Limits, now)
}
