package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Token scopes of PROTOCOL.md §9.1 (reactor-sdk 1.13.0 fetch_jwt): the
// all-models scope, binding to existing sessions and the session-duration
// constraint. The cases are registered in token.go with the rest of the
// area; their checks live here.

// mintRaw posts a raw JSON body to /tokens with the target's key.
func (r *Run) mintRaw(ctx context.Context, body string) (*Resp, error) {
	h := http.Header{}
	h.Set(wire.HeaderAPIKey, r.T.APIKey)
	h.Set(wire.HeaderContentType, wire.ContentTypeJSON)
	return r.send(ctx, http.MethodPost, wire.PathTokens, h, []byte(body))
}

// detailJSON is one authorization_details entry as raw JSON.
func detailJSON(resources, constraints string) string {
	d := `{"type":"session","resources":` + resources
	if constraints != "" {
		d += `,"constraints":` + constraints
	}
	return `{"authorization_details":[` + d + `}]}`
}

func bindResources(ids ...string) string {
	q, _ := json.Marshal(ids)
	return `{"models":{"all":true},"sessions":{"bind":` + string(q) + `}}`
}

// wantMintRefused requires a 4xx {"detail"} without a jwt: what fetch_jwt
// turns into AuthError (any non-2xx).
func wantMintRefused(resp *Resp, what string) error {
	if resp.Status < 400 || resp.Status >= 500 {
		return fail(resp, "%s must be refused at mint with a 4xx (fetch_jwt raises AuthError), received %s", what, statusName(resp.Status))
	}
	if err := wantDetail(resp); err != nil {
		return err
	}
	if strings.Contains(string(resp.Body), `"jwt"`) {
		return fail(resp, "%s was refused but the answer still carries a jwt", what)
	}
	return nil
}

// mintScoped mints with a raw scope body, requiring 200 and a jwt.
func (r *Run) mintScoped(ctx context.Context, body string) (string, error) {
	resp, err := r.mintRaw(ctx, body)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", fmt.Errorf("setup: minting %s: %w", body, err)
	}
	var tr wire.TokenResponse
	if err := resp.JSON(&tr); err != nil {
		return "", err
	}
	if tr.JWT == "" {
		return "", fail(resp, "setup: the token answer has no jwt")
	}
	return tr.JWT, nil
}

func tokenBindMissing(ctx context.Context, r *Run) error {
	resp, err := r.mintRaw(ctx, detailJSON(bindResources(randomUUID()), ""))
	if err != nil {
		return err
	}
	return wantMintRefused(resp, "a token bound (resources.sessions.bind) to a session that does not exist")
}

func tokenBindClosed(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	if resp, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), nil); err != nil {
		return err
	} else if err := want2xx(resp, http.StatusNoContent); err != nil {
		return fmt.Errorf("setup: deleting the session: %w", err)
	}
	resp, err := r.mintRaw(ctx, detailJSON(bindResources(sr.SessionID), ""))
	if err != nil {
		return err
	}
	return wantMintRefused(resp, "a token bound to a session that was deleted (no longer open)")
}

func tokenDurationRange(ctx context.Context, r *Run) error {
	for _, v := range []int{0, -1, 86401, 100000} {
		resp, err := r.mintRaw(ctx, detailJSON(`{"models":{"all":true}}`, fmt.Sprintf(`{"max_session_duration_seconds":%d}`, v)))
		if err != nil {
			return err
		}
		if err := wantMintRefused(resp, fmt.Sprintf("constraints.max_session_duration_seconds %d (outside 1..86400; refused, not clamped)", v)); err != nil {
			return err
		}
	}
	for _, v := range []int{1, 86400} {
		if _, err := r.mintScoped(ctx, detailJSON(`{"models":{"all":true}}`, fmt.Sprintf(`{"max_session_duration_seconds":%d}`, v))); err != nil {
			return fmt.Errorf("max_session_duration_seconds %d is inside 1..86400 and must mint: %w", v, err)
		}
	}
	return nil
}

func tokenBoundCannotCreate(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	jwt, err := r.mintScoped(ctx, detailJSON(bindResources(sr.SessionID), ""))
	if err != nil {
		return err
	}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), r.createBody())
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusForbidden); err != nil {
		return fmt.Errorf("a token bound to one session (no model list, no max_sessions) created a new session: %w", err)
	}
	return wantDetail(resp)
}

func tokenBoundReach(ctx context.Context, r *Run) error {
	bound, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	other, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	jwt, err := r.mintScoped(ctx, detailJSON(bindResources(bound.SessionID), ""))
	if err != nil {
		return err
	}
	resp, err := r.send(ctx, http.MethodGet, wire.SessionPath(bound.SessionID), withBearer(apiHeaders(), jwt), nil)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return fmt.Errorf("a token bound to a session must act on it: %w", err)
	}
	resp, err = r.send(ctx, http.MethodGet, wire.SessionPath(other.SessionID), withBearer(apiHeaders(), jwt), nil)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusForbidden, http.StatusNotFound); err != nil {
		return fmt.Errorf("a token bound to session %s read another session: %w", bound.SessionID, err)
	}
	return nil
}

func tokenUnknownScopeField(ctx context.Context, r *Run) error {
	for _, body := range []string{
		`{"authorization_details":[{"type":"session","resources":{"models":{"all":true}},"conformance_unknown":1}]}`,
		detailJSON(`{"models":{"all":true},"conformance_unknown":{}}`, ""),
		detailJSON(`{"models":{"all":true}}`, `{"conformance_unknown":1}`),
	} {
		resp, err := r.mintRaw(ctx, body)
		if err != nil {
			return err
		}
		if err := wantMintRefused(resp, "a scope with an unknown field (ignoring it would grant more than asked)"); err != nil {
			return err
		}
	}
	return nil
}

func tokenEmptyScope(ctx context.Context, r *Run) error {
	for _, c := range []struct{ body, what string }{
		{detailJSON(`{"models":{"match":[]}}`, ""), "resources.models.match [] (a scope of no model)"},
		{detailJSON(`{"models":{"match":["`+r.T.Model+`"],"all":true}}`, ""), "resources.models with both match and all"},
		{detailJSON(`{"models":{"all":false}}`, ""), "resources.models.all false"},
	} {
		resp, err := r.mintRaw(ctx, c.body)
		if err != nil {
			return err
		}
		if err := wantMintRefused(resp, c.what); err != nil {
			return err
		}
	}
	return nil
}

// durationLimit is what tokenDurationLimit asks for; durationSlack is how
// late the end may be noticed by a poll on a busy machine.
const (
	durationLimit = 2 * time.Second
	durationSlack = 2 * time.Second
)

func tokenDurationLimit(ctx context.Context, r *Run) error {
	jwt, err := r.mintScoped(ctx, detailJSON(`{"models":{"match":["`+r.T.Model+`"]}}`,
		fmt.Sprintf(`{"max_session_duration_seconds":%d}`, int(durationLimit/time.Second))))
	if err != nil {
		return err
	}
	h := withBearer(apiHeaders(), jwt)
	created, err := r.postSession(ctx, h, r.createBody())
	if err != nil {
		return err
	}
	start := time.Now()
	var sr wire.SessionResponse
	if err := want2xx(created, http.StatusCreated); err != nil {
		return fmt.Errorf("setup: a token with max_session_duration_seconds must create: %w", err)
	}
	if err := created.JSON(&sr); err != nil {
		return err
	}
	deadline := start.Add(durationLimit + durationSlack)
	for {
		resp, err := r.send(ctx, http.MethodGet, wire.SessionPath(sr.SessionID)+"/info", h, nil)
		if err != nil {
			return err
		}
		elapsed := time.Since(start)
		var info wire.SessionInfoResponse
		ended := resp.Status == http.StatusNotFound
		if resp.Status == http.StatusOK && resp.JSON(&info) == nil && info.State.Terminal() {
			ended = true
		}
		switch {
		case ended && elapsed < durationLimit-time.Second:
			return fail(resp, "the session ended after %s, before its %s max_session_duration_seconds", elapsed.Round(time.Millisecond), durationLimit)
		case ended:
			return nil
		case time.Now().After(deadline):
			return fail(resp, "a session created under max_session_duration_seconds %d is still %s %s after creation; the coordinator must force-terminate it when the limit elapses",
				int(durationLimit/time.Second), info.State, elapsed.Round(time.Millisecond))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
