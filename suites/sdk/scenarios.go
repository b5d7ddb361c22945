package sdk

import (
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
)

// Route names of the mock, as faults match them.
const (
	routeIceServers   = "GET /sessions/{id}/transport/webrtc/ice_servers"
	routeCreate       = "POST /sessions"
	routePoll         = "GET /sessions/{id}"
	routeSingleAnswer = "GET /sessions/{id}/transport/webrtc/sdp_params"
)

// withWarmupDelay delays the first GET …/ice_servers by d.
//
// reactor-sdk 0.8.0 (like JS 2.12) fetches ICE servers while it is still
// polling the session ("warm-up"), and the mock, like the runtime, answers
// 400 "No session running" until the session is WAITING; 0.8.0 treats that
// as fatal. sdk/breaking/2 checks that interaction as it is; cases that
// only need a session to become ready delay the warm-up request past the
// PENDING phase, so that they measure what they are about.
func withWarmupDelay(sc *mockserver.Scenario, d time.Duration) {
	sc.Faults = append(sc.Faults, mockserver.Fault{Route: routeIceServers, Nth: 1, Latency: mockserver.Duration(d)})
}

// ReadyScenario is the default scenario with the session assigned at the
// first poll, and the ICE warm-up (which races that poll) delayed a little.
func ReadyScenario(name string) *mockserver.Scenario {
	return Scenario(name, func(sc *mockserver.Scenario) {
		sc.Timings.PendingPolls = 0
		withWarmupDelay(sc, 500*time.Millisecond)
	})
}

// PendingScenario keeps sessions PENDING for polls polls and at least
// delay, and delays the ICE warm-up well past that (with a margin for a
// loaded machine, where polls drift later than the nominal schedule). An
// SDK that fetches ICE servers only once the session is WAITING pays that
// delay before it can reach ready.
func PendingScenario(name string, polls int, delay time.Duration) *mockserver.Scenario {
	return Scenario(name, func(sc *mockserver.Scenario) {
		sc.Timings.PendingPolls = polls
		sc.Timings.AssignDelay = mockserver.Duration(delay)
		withWarmupDelay(sc, pendingFor(polls, delay)*3/2+time.Second)
	})
}

// pendingFor is how long a session stays PENDING for an SDK that polls with
// the documented backoff (first poll at once, then sleeps of 200 ms ×2,
// capped at 10 s): it becomes WAITING at the first poll that comes after
// polls PENDING answers and after delay. Bounded at 90 s.
func pendingFor(polls int, delay time.Duration) time.Duration {
	var t time.Duration
	step := 200 * time.Millisecond
	for k := 0; t < 90*time.Second; k++ {
		if k >= polls && t >= delay {
			return t
		}
		t += step
		step = min(2*step, 10*time.Second)
	}
	return 90 * time.Second
}
