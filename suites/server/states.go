package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Coordinator session states, PROTOCOL.md §2.1: CREATED, PENDING,
// SUSPENDED, WAITING, ACTIVE, INACTIVE, CLOSED; INACTIVE and CLOSED are
// terminal (SDKs stop polling with an error); PUT restarts an INACTIVE one.

func init() {
	register(Case{ID: "state/1", Section: "2.1", Check: stateVocabulary,
		Requirement: "every state in POST, GET and /info answers MUST be one of CREATED, PENDING, SUSPENDED, WAITING, ACTIVE, INACTIVE, CLOSED (SCREAMING_SNAKE)"})
	register(Case{ID: "state/2", Section: "2.1", Check: stateReadyNotTerminal,
		Requirement: "a session MUST NOT be terminal while polled to readiness, and SHOULD be WAITING or ACTIVE in the first body that carries capabilities"})
	register(Case{ID: "state/3", Section: "2.1", Destructive: true, Check: stateForced(wire.StateInactive),
		Requirement: "a session that became INACTIVE MUST report state INACTIVE on GET /sessions/{id} and /info (SDKs stop polling on it)"})
	register(Case{ID: "state/4", Section: "2.1", Destructive: true, Check: stateForced(wire.StateClosed),
		Requirement: "a session that became CLOSED (but was not deleted) MUST report state CLOSED on GET /sessions/{id} and /info"})
	register(Case{ID: "state/5", Section: "1.2", Destructive: true, Check: stateRestart,
		Requirement: "PUT /sessions/{id} on an INACTIVE session MUST answer 2xx, keep the session id and lead back to readiness on polling"})
	register(Case{ID: "state/6", Section: "2.1", Destructive: true, Check: stateMaxDuration,
		Requirement: "a session MUST be terminated (CLOSED) once the maximum session duration has passed"})
}

func stateVocabulary(ctx context.Context, r *Run) error {
	sr, created, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	check := func(resp *Resp, st wire.SessionState) error {
		if !st.Known() {
			return fail(resp, "state %q is not one of the seven coordinator states; reactor-core maps unknown strings to Unknown and never sees the session become terminal", st)
		}
		return nil
	}
	if err := check(created, sr.State); err != nil {
		return err
	}
	deadline := time.Now().Add(r.T.ReadyTimeout)
	for i := 0; ; i++ {
		resp, err := r.coord(ctx, http.MethodGet, wire.SessionPath(sr.SessionID), nil)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, http.StatusOK); err != nil {
			return err
		}
		var body wire.SessionResponse
		if err := resp.JSON(&body); err != nil {
			return err
		}
		if err := check(resp, body.State); err != nil {
			return err
		}
		info, err := r.coord(ctx, http.MethodGet, wire.SessionPath(sr.SessionID)+"/info", nil)
		if err != nil {
			return err
		}
		var ib wire.SessionInfoResponse
		if info.Status == http.StatusOK {
			if err := info.JSON(&ib); err != nil {
				return err
			}
			if err := check(info, ib.State); err != nil {
				return err
			}
		}
		if body.Ready() || body.State.Terminal() || time.Now().After(deadline) {
			return nil
		}
		if err := sleep(ctx, min(50*time.Millisecond<<i, 2*time.Second)); err != nil {
			return err
		}
	}
}

func stateReadyNotTerminal(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	ready, resp, err := r.WaitReady(ctx, sr.SessionID) // fails on a terminal state itself
	if err != nil {
		return err
	}
	if ready.State != wire.StateWaiting && ready.State != wire.StateActive {
		return fail(resp, "the first ready body (capabilities and selected_transport present) says state %q; expected WAITING (runtime assigned) or ACTIVE", ready.State)
	}
	return nil
}

func stateForced(to wire.SessionState) Check {
	return func(ctx context.Context, r *Run) error {
		sr, err := r.ReadySession(ctx)
		if err != nil {
			return err
		}
		if err := r.ForceState(ctx, sr.SessionID, to); err != nil {
			return err
		}
		for _, path := range []string{wire.SessionPath(sr.SessionID), wire.SessionPath(sr.SessionID) + "/info"} {
			resp, err := r.coord(ctx, http.MethodGet, path, nil)
			if err != nil {
				return err
			}
			if err := wantStatus(resp, http.StatusOK); err != nil {
				return fmt.Errorf("a %s session must still be readable so that SDKs see the terminal state: %w", to, err)
			}
			var body wire.SessionResponse
			if err := resp.JSON(&body); err != nil {
				return err
			}
			if body.State != to {
				return fail(resp, "the session was moved to %s (admin API) but the answer says state %q", to, body.State)
			}
		}
		return nil
	}
}

func stateRestart(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	if err := r.ForceState(ctx, sr.SessionID, wire.StateInactive); err != nil {
		return err
	}
	resp, err := r.coord(ctx, http.MethodPut, wire.SessionPath(sr.SessionID), nil)
	if err != nil {
		return err
	}
	if err := want2xx(resp, http.StatusOK); err != nil {
		return err
	}
	if len(resp.Body) > 0 {
		var body wire.SessionResponse
		if err := resp.JSON(&body); err != nil {
			return err
		}
		if body.SessionID != "" && body.SessionID != sr.SessionID {
			return fail(resp, "a restart must preserve the session id: answered %q for %q", body.SessionID, sr.SessionID)
		}
		if body.State.Terminal() {
			return fail(resp, "the restarted session is still %s", body.State)
		}
	}
	if _, _, err := r.WaitReady(ctx, sr.SessionID); err != nil {
		return fmt.Errorf("after the restart the session did not become ready again: %w", err)
	}
	return nil
}

func stateMaxDuration(ctx context.Context, r *Run) error {
	const maxDur = time.Second
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Limits.MaxSessionDuration = mockserver.Duration(maxDur)
	}); err != nil {
		return err
	}
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(maxDur + 4*time.Second)
	for {
		resp, err := r.coord(ctx, http.MethodGet, wire.SessionPath(sr.SessionID), nil)
		if err != nil {
			return err
		}
		if resp.Status == http.StatusNotFound {
			return nil // terminated and forgotten is also terminated
		}
		if err := wantStatus(resp, http.StatusOK); err != nil {
			return err
		}
		var body wire.SessionResponse
		if err := resp.JSON(&body); err != nil {
			return err
		}
		if body.State == wire.StateClosed {
			return nil
		}
		if time.Now().After(deadline) {
			return fail(resp, "with limits.max_session_duration %s the session is still %s after %s; expected CLOSED", maxDur, body.State, maxDur+4*time.Second)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
