package mockserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// faultEngine applies the scenario's faults. It counts matching requests per
// fault so "the Nth request of a route" is exact; counters restart whenever
// the scenario changes.
type faultEngine struct {
	mu     sync.Mutex
	counts map[int]int // fault index → matching requests seen
}

func newFaultEngine() *faultEngine { return &faultEngine{counts: map[int]int{}} }

func (f *faultEngine) reset() {
	f.mu.Lock()
	f.counts = map[int]int{}
	f.mu.Unlock()
}

// apply sleeps for every matching latency fault and returns the first
// matching status fault as the error to send instead of the real answer.
func (f *faultEngine) apply(ctx context.Context, sc *Scenario, rc *reqCtx) *apiError {
	var chosen *apiError
	var applied []string
	for i, ft := range sc.Faults {
		if !routeMatches(ft.Route, rc.route) || !f.fires(i, ft) {
			continue
		}
		applied = append(applied, describeFault(ft))
		if ft.Latency > 0 && !sleepCtx(ctx, ft.Latency.D()) {
			return errf(http.StatusServiceUnavailable, "request cancelled during injected latency")
		}
		if ft.Status != 0 && chosen == nil {
			detail := ft.Detail
			if detail == "" {
				detail = fmt.Sprintf("injected fault: %s answered %d by the scenario", rc.route, ft.Status)
			}
			chosen = &apiError{Status: ft.Status, Detail: detail, RetryAfter: ft.RetryAfter}
		}
	}
	rc.fault = strings.Join(applied, "; ")
	return chosen
}

// fires counts one more match for fault i and says whether it applies now.
func (f *faultEngine) fires(i int, ft Fault) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[i]++
	n := f.counts[i]
	if ft.Nth > 0 {
		return n == ft.Nth
	}
	return ft.Times == 0 || n <= ft.Times
}

func routeMatches(faultRoute, route string) bool {
	if faultRoute == "*" {
		return true
	}
	return strings.EqualFold(strings.Join(strings.Fields(faultRoute), " "), route)
}

func describeFault(ft Fault) string {
	var parts []string
	if ft.Latency > 0 {
		parts = append(parts, "latency "+ft.Latency.D().String())
	}
	if ft.Status != 0 {
		parts = append(parts, fmt.Sprintf("status %d", ft.Status))
	}
	return strings.Join(parts, ", ")
}
