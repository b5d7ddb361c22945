package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Quotas, PROTOCOL.md §1.2 and PLATFORM.md §2: concurrent sessions per
// account (sessions that are still connecting or waiting count) and
// creations per minute per model; both answer 429 with Retry-After, which
// reactor-core reads as delta-seconds only. The platform's quotas (5, 50/min)
// are too large to hit safely against a real account, so these cases shrink
// them on the mock.

func init() {
	register(Case{ID: "limits/1", Section: "1.2", Destructive: true, Check: limitsConcurrency,
		Requirement: "with 2 live sessions (never polled, so still connecting) and a quota of 2, POST /sessions MUST answer 429 with Retry-After in delta-seconds"})
	register(Case{ID: "limits/2", Section: "1.2", Destructive: true, Check: limitsSlotFreed,
		Requirement: "deleting a live session MUST free its slot: the next POST /sessions after a concurrency 429 succeeds"})
	register(Case{ID: "limits/3", Section: "1.2", Destructive: true, Check: limitsRate,
		Requirement: "once creates_per_minute sessions of a model were created, POST /sessions MUST answer 429 with Retry-After in delta-seconds (1..60) even after they are deleted"})
}

// wantRateLimited requires 429 with a delta-seconds Retry-After in [lo, hi].
func wantRateLimited(resp *Resp, lo, hi int) error {
	if err := wantStatus(resp, http.StatusTooManyRequests); err != nil {
		return err
	}
	ra := strings.TrimSpace(resp.Header.Get(wire.HeaderRetryAfter))
	if ra == "" {
		return fail(resp, "a 429 must carry Retry-After (reactor-core turns it into retry_after_ms); the header is missing")
	}
	n, err := strconv.Atoi(ra)
	if err != nil {
		return fail(resp, "Retry-After must be delta-seconds (reactor-core ignores HTTP-dates), got %q", ra)
	}
	if n < lo || n > hi {
		return fail(resp, "Retry-After is %d s, expected between %d and %d", n, lo, hi)
	}
	return nil
}

func (r *Run) createRaw(ctx context.Context) (*Resp, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return nil, err
	}
	return r.postSessionOnce(ctx, withBearer(apiHeaders(), jwt), r.createBody())
}

func limitsConcurrency(ctx context.Context, r *Run) error {
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Limits.MaxConcurrentSessions = 2
		sc.Limits.CreatesPerMinute = mockserver.Unlimited
	}); err != nil {
		return err
	}
	for i := 1; i <= 2; i++ {
		resp, err := r.createRaw(ctx)
		if err != nil {
			return err
		}
		if err := want2xx(resp, http.StatusCreated); err != nil {
			return fmt.Errorf("setup: session %d of 2 must fit in a quota of 2: %w", i, err)
		}
	}
	third, err := r.createRaw(ctx)
	if err != nil {
		return err
	}
	if err := wantRateLimited(third, 1, 3600); err != nil {
		return fmt.Errorf("the third live session exceeds limits.max_concurrent_sessions 2: %w", err)
	}
	return nil
}

func limitsSlotFreed(ctx context.Context, r *Run) error {
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Limits.MaxConcurrentSessions = 1
		sc.Limits.CreatesPerMinute = mockserver.Unlimited
	}); err != nil {
		return err
	}
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	over, err := r.createRaw(ctx)
	if err != nil {
		return err
	}
	if err := wantStatus(over, http.StatusTooManyRequests); err != nil {
		return fmt.Errorf("setup: a second live session must exceed a quota of 1: %w", err)
	}
	del, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), nil)
	if err != nil {
		return err
	}
	if err := want2xx(del, http.StatusNoContent); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	again, err := r.createRaw(ctx)
	if err != nil {
		return err
	}
	if err := wantStatus(again, http.StatusCreated); err != nil {
		return fmt.Errorf("after deleting the only live session a quota of 1 has room again: %w", err)
	}
	return nil
}

func limitsRate(ctx context.Context, r *Run) error {
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Limits.CreatesPerMinute = 2
		sc.Limits.MaxConcurrentSessions = mockserver.Unlimited
	}); err != nil {
		return err
	}
	for i := 1; i <= 2; i++ {
		resp, err := r.createRaw(ctx)
		if err != nil {
			return err
		}
		if err := want2xx(resp, http.StatusCreated); err != nil {
			return fmt.Errorf("setup: creation %d of 2 must fit in creates_per_minute 2: %w", i, err)
		}
		var sr wire.SessionResponse
		if err := resp.JSON(&sr); err == nil && sr.SessionID != "" {
			if _, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), nil); err != nil {
				return err
			}
		}
	}
	third, err := r.createRaw(ctx)
	if err != nil {
		return err
	}
	if err := wantRateLimited(third, 1, 60); err != nil {
		return fmt.Errorf("the third creation within a minute exceeds limits.creates_per_minute 2 (deleting sessions does not refund the rate): %w", err)
	}
	return nil
}
