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

// ReadyScenario is the default scenario with the session assigned at the
// first poll.
//
// SDKs that prefetch ICE servers while they poll the session ("warm-up":
// JS 2.12, reactor-sdk 0.8.0) get them at once: the mock, like the
// coordinator, serves GET …/ice_servers while the session is still CREATED
// or PENDING.
func ReadyScenario(name string) *mockserver.Scenario {
	return Scenario(name, func(sc *mockserver.Scenario) {
		sc.Timings.PendingPolls = 0
	})
}

// PendingScenario keeps sessions PENDING for polls polls and at least
// delay.
func PendingScenario(name string, polls int, delay time.Duration) *mockserver.Scenario {
	return Scenario(name, func(sc *mockserver.Scenario) {
		sc.Timings.PendingPolls = polls
		sc.Timings.AssignDelay = mockserver.Duration(delay)
	})
}
