package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Scoped tokens (PROTOCOL.md §9.1): reactor-sdk 1.13.0 mints tokens bound
// to sessions (fetch_jwt(sessions=…), and connect(session_id=…) with an API
// key) and tokens whose sessions end after max_session_duration_seconds.
// Does the SDK ask for what its docstrings say, and does it cope with what
// the platform then does?

func init() {
	register(Case{
		ID:          "sdk/token/4",
		Title:       "a bound token from the SDK helper cannot create sessions",
		Requirement: "A token the SDK mints bound to a session (fetch_jwt(sessions=[id])) MUST carry resources.sessions.bind [id] with a model scope, and a connect that creates a session with it MUST fail with an authorization error, not hang or succeed",
		Sections:    []string{"PROTOCOL.md §9.1", "PROTOCOL.md §1.1"},
		Labels:      []string{"auth"},
		Timeout:     60 * time.Second,
		Check:       checkBoundCannotCreate,
	})
	register(Case{
		ID:          "sdk/token/5",
		Title:       "adopting a session by id mints a bound token",
		Requirement: "connect(session_id=…) with an API key MUST mint a token bound to that session and reach ready on it without creating a session",
		Sections:    []string{"PROTOCOL.md §9.1", "PROTOCOL.md §1.2"},
		Labels:      []string{"auth"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkAdoptMintsBound,
	})
	register(Case{
		ID:          "sdk/token/6",
		Title:       "refused mints surface as errors",
		Requirement: "When the coordinator refuses a mint (a bind to a missing session, max_session_duration_seconds 0 or 100000), the SDK helper MUST raise an error that carries the server's reason, and MUST NOT clamp the duration itself",
		Sections:    []string{"PROTOCOL.md §9.1"},
		Labels:      []string{"auth"},
		Timeout:     45 * time.Second,
		Check:       checkRefusedMints,
	})
	register(Case{
		ID:          "sdk/token/7",
		Title:       "a session duration limit ends the session and the SDK notices",
		Requirement: "Reactor(max_session_duration_seconds=N) MUST mint its create token with that constraint; when the coordinator force-terminates the session after N s, the SDK MUST leave ready (disconnected or an error) within a few seconds",
		Sections:    []string{"PROTOCOL.md §9.1", "PROTOCOL.md §2.1"},
		Labels:      []string{"auth"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkDurationLimit,
	})
}

// scopeNotApplicable turns a driver's not_supported into NotApplicable.
func scopeNotApplicable(r *Run, err error) error {
	var oe *driver.OpError
	if errors.As(err, &oe) && oe.Code == "not_supported" {
		return NotApplicable("%s has no scoped-token helper (%s)", r.SDKName(), oneLine(oe.Message, 200))
	}
	return nil
}

// requireScopedHelper probes the SDK's token helper with a model scope: an
// SDK that cannot mint scoped tokens (JS 2.x, reactor-sdk 0.x) has none of
// the behaviour these cases check.
func requireScopedHelper(ctx context.Context, r *Run) error {
	_, err := r.Drv.TokenScoped(ctx, r.Mock.URL(), r.Mock.APIKey(), driver.TokenScope{Models: []string{Model}}, 15*time.Second)
	if na := scopeNotApplicable(r, err); na != nil {
		return na
	}
	if err != nil {
		return fmt.Errorf("%s could not mint a model-scoped token: %s", r.SDKName(), oneLine(ErrText(err), 300))
	}
	return nil
}

// harnessSession creates a session with an unscoped harness token.
func (r *Run) harnessSession(ctx context.Context) (string, error) {
	jwt, _, err := r.MintJWT(ctx, 0)
	if err != nil {
		return "", err
	}
	body := wire.CreateSessionRequest{Model: &wire.ModelRef{Name: Model},
		SupportedTransports: []wire.Transport{{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion}}}
	st, b, err := r.do(ctx, http.MethodPost, wire.PathSessions, body, map[string]string{
		wire.HeaderAuthorization: wire.BearerPrefix + jwt, wire.HeaderAPIVersion: "1", wire.HeaderAPIAcceptVersion: "1"})
	var sr wire.SessionResponse
	if err != nil || st != http.StatusCreated || json.Unmarshal(b, &sr) != nil {
		return "", fmt.Errorf("harness: POST /sessions: %v %d %s", err, st, b)
	}
	return sr.SessionID, nil
}

// mintBodies are the scopes of the SDK's POST /tokens requests.
func (r *Run) mintBodies() []wire.TokenRequest {
	var out []wire.TokenRequest
	for _, e := range r.HTTP() {
		if e.Method != http.MethodPost || e.Path != wire.PathTokens {
			continue
		}
		var tr wire.TokenRequest
		_ = json.Unmarshal(e.Body, &tr)
		out = append(out, tr)
	}
	return out
}

// bindsTo reports whether a mint asked for a bind to sid with a model scope.
func bindsTo(tr wire.TokenRequest, sid string) bool {
	for _, d := range tr.AuthorizationDetails {
		if d.Resources != nil && d.Resources.Models != nil && d.Resources.Sessions != nil && slices.Contains(d.Resources.Sessions.Bind, sid) {
			return true
		}
	}
	return false
}

func checkBoundCannotCreate(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("bound-token")); err != nil {
		return err
	}
	sid, err := r.harnessSession(ctx)
	if err != nil {
		return err
	}
	tok, err := r.Drv.TokenScoped(ctx, r.Mock.URL(), r.Mock.APIKey(), driver.TokenScope{Sessions: []string{sid}}, 15*time.Second)
	if na := scopeNotApplicable(r, err); na != nil {
		return na
	}
	if err != nil {
		return fmt.Errorf("%s could not mint a token bound to an open session %s: %s", r.SDKName(), sid, oneLine(ErrText(err), 300))
	}
	if bodies := r.mintBodies(); len(bodies) == 0 || !bindsTo(bodies[len(bodies)-1], sid) {
		return fmt.Errorf("the SDK's mint did not ask for resources.sessions.bind [%s] with a model scope\njournal:\n%s", sid, DescribeEntries(r.HTTP(), 10))
	}
	before := r.sessionsCreated()
	res, err := r.connectWithJWT(ctx, tok.JWT)
	if err == nil && res.Ready {
		return fmt.Errorf("%s reached ready creating a session with a token bound to session %s; the coordinator must refuse that create (403)", r.SDKName(), sid)
	}
	if n := r.sessionsCreated() - before; n > 0 {
		return fmt.Errorf("%d session(s) were created with a bind-only token", n)
	}
	text := ErrText(err)
	if res != nil {
		text += " " + string(res.LastError)
	}
	if !authErrorRe.MatchString(text) && !strings.Contains(text, "403") {
		return fmt.Errorf("the refused create (403) did not surface as an authorization error; the SDK reported: %s", oneLine(text, 300))
	}
	r.Note("refused create surfaced as: %s", oneLine(text, 200))
	return nil
}

// sessionsCreated counts POST /sessions the SDK got 2xx for.
func (r *Run) sessionsCreated() int {
	n := 0
	for _, e := range r.HTTP() {
		if e.Method == http.MethodPost && e.Path == wire.PathSessions && e.Status/100 == 2 {
			n++
		}
	}
	return n
}

// connectWithJWT connects the SDK with a given token.
func (r *Run) connectWithJWT(ctx context.Context, jwt string) (*driver.ConnectResult, error) {
	a := driver.ConnectArgs{APIURL: r.Mock.URL(), Model: Model, JWT: &jwt, TimeoutMS: 10000, Fresh: true}
	var res driver.ConnectResult
	err := r.Drv.CallInto(ctx, "connect", a, 30*time.Second, &res)
	return &res, err
}

func checkAdoptMintsBound(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("adopt-bound")); err != nil {
		return err
	}
	if err := requireScopedHelper(ctx, r); err != nil {
		return err
	}
	sid, err := r.harnessSession(ctx)
	if err != nil {
		return err
	}
	a, err := r.ConnectArgs(ctx, ConnectOpts{Auth: AuthAPIKey, ReadyTimeout: 15 * time.Second})
	if err != nil {
		return err
	}
	a.Fresh = true
	var res driver.ConnectResult
	err = r.Drv.CallInto(ctx, "connect", driver.AdoptArgs{ConnectArgs: a, SessionID: sid}, 45*time.Second, &res)
	var oe *driver.OpError
	if errors.As(err, &oe) && oe.Code == "not_supported" {
		return NotApplicable("%s cannot adopt a session by id (%s)", r.SDKName(), oneLine(oe.Message, 200))
	}
	bodies := r.mintBodies()
	if !slices.ContainsFunc(bodies, func(tr wire.TokenRequest) bool { return bindsTo(tr, sid) }) {
		return fmt.Errorf("connect(session_id=%s) with an API key minted no token bound to that session (mints: %d)\njournal:\n%s", sid, len(bodies), DescribeEntries(r.HTTP(), 15))
	}
	if err != nil || !res.Ready {
		return fmt.Errorf("%s did not reach ready adopting session %s with its bound token: %s\njournal:\n%s", r.SDKName(), sid, describeOpErr(err, &res), DescribeEntries(r.HTTP(), 20))
	}
	if got := res.SID(); got != sid {
		return fmt.Errorf("after adopting %s the SDK reports session %q", sid, got)
	}
	if n := r.sessionsCreated(); n > 0 {
		return fmt.Errorf("adopting session %s created %d new session(s)", sid, n)
	}
	return nil
}

func checkRefusedMints(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("refused-mints")); err != nil {
		return err
	}
	zero, huge := 0, 100000
	for _, c := range []struct {
		what, field string
		scope       driver.TokenScope
	}{
		{"a bind to a session that does not exist", "sessions.bind", driver.TokenScope{Sessions: []string{"00000000-0000-4000-8000-00000000dead"}}},
		{"max_session_duration_seconds 0", "max_session_duration_seconds", driver.TokenScope{Models: []string{Model}, MaxSessionDurationSeconds: &zero}},
		{"max_session_duration_seconds 100000", "max_session_duration_seconds", driver.TokenScope{Models: []string{Model}, MaxSessionDurationSeconds: &huge}},
	} {
		mark := r.JournalMark()
		_, err := r.Drv.TokenScoped(ctx, r.Mock.URL(), r.Mock.APIKey(), c.scope, 15*time.Second)
		if na := scopeNotApplicable(r, err); na != nil {
			return na
		}
		sent := After(r.HTTP(), mark)
		if len(sent) == 0 {
			return fmt.Errorf("%s: the SDK sent no POST /tokens (did it refuse client-side, or clamp?)", c.what)
		}
		if err == nil {
			return fmt.Errorf("%s: the mint was refused (%d) but the SDK helper returned a token", c.what, sent[len(sent)-1].Status)
		}
		if !strings.Contains(ErrText(err), c.field) {
			return fmt.Errorf("%s: the SDK's error does not carry the server's reason (which names %s): %s", c.what, c.field, oneLine(ErrText(err), 300))
		}
	}
	return nil
}

// durationLimitS is the limit sdk/token/7 asks for.
const durationLimitS = 3

func checkDurationLimit(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("duration-limit")); err != nil {
		return err
	}
	if err := requireScopedHelper(ctx, r); err != nil {
		return err
	}
	a, err := r.ConnectArgs(ctx, ConnectOpts{Auth: AuthAPIKey, ReadyTimeout: 15 * time.Second})
	if err != nil {
		return err
	}
	a.Fresh = true
	a.Options = map[string]any{"max_session_duration_seconds": durationLimitS}
	var res driver.ConnectResult
	err = r.Drv.CallInto(ctx, "connect", a, 45*time.Second, &res)
	var oe *driver.OpError
	if errors.As(err, &oe) && oe.Code == "bad_args" && strings.Contains(oe.Message, "max_session_duration_seconds") {
		return NotApplicable("%s has no max_session_duration_seconds option", r.SDKName())
	}
	if err != nil || !res.Ready {
		return fmt.Errorf("%s did not reach ready with max_session_duration_seconds %d: %s", r.SDKName(), durationLimitS, describeOpErr(err, &res))
	}
	readyAt := time.Now()
	sid := res.SID()
	asked := slices.ContainsFunc(r.mintBodies(), func(tr wire.TokenRequest) bool {
		for _, d := range tr.AuthorizationDetails {
			if d.Constraints != nil && d.Constraints.MaxSessionDurationSeconds != nil && *d.Constraints.MaxSessionDurationSeconds == durationLimitS {
				return true
			}
		}
		return false
	})
	if !asked {
		return fmt.Errorf("the SDK's create token carries no constraints.max_session_duration_seconds %d\njournal:\n%s", durationLimitS, DescribeEntries(r.HTTP(), 10))
	}
	from := r.Drv.EventCount()
	ev, werr := r.WaitStatus(ctx, from, time.Duration(durationLimitS+8)*time.Second, "disconnected")
	snap, serr := r.AdminSession(ctx, sid)
	if serr == nil {
		r.Note("mock: session %s %s, %.1f s billed", sid, snap.State, snap.BilledSeconds)
	}
	if serr == nil && snap.State != wire.StateClosed {
		return fmt.Errorf("harness: the mock did not end session %s at its %d s limit (state %s)", sid, durationLimitS, snap.State)
	}
	if werr != nil {
		return fmt.Errorf("the coordinator ended session %s after %d s, but the SDK did not leave ready: %v", sid, durationLimitS, werr)
	}
	r.Note("the SDK reported disconnected %.1f s after ready (limit %d s from creation)", ev.Received.Sub(readyAt).Seconds(), durationLimitS)
	if serr == nil && snap.TerminatedAt != nil {
		r.Note("the mock ended the session %.2f s after creation; the SDK noticed %.2f s later",
			snap.TerminatedAt.Sub(snap.CreatedAt).Seconds(), ev.Received.Sub(*snap.TerminatedAt).Seconds())
	}
	return nil
}
