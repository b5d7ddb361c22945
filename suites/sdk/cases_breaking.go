package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Breaking changes: one case per entry of the platform changelog
// (PLATFORM.md §8), kept as regression tests forever.

func init() {
	register(Case{
		ID:          "sdk/breaking/1",
		Title:       "token endpoint is POST",
		Requirement: "The SDK and its token helper MUST mint tokens with POST /tokens and the Reactor-API-Key header, never GET /tokens or X-API-Key",
		Sections:    []string{"PROTOCOL.md §1.1", "PROTOCOL.md §7 item 1", "PLATFORM.md §1", "PLATFORM.md §8"},
		Labels:      []string{"auth"},
		Timeout:     60 * time.Second,
		Check:       checkTokenIsPost,
	})
	register(Case{
		ID:          "sdk/breaking/2",
		Title:       "current SDK connects and streams on the current protocol",
		Requirement: "An SDK of the current protocol MUST be accepted by a current server: reach ready and receive video frames on main_video",
		Sections:    []string{"PLATFORM.md §8", "PROTOCOL.md §1.3", "PROTOCOL.md §5"},
		Labels:      []string{"signalling", "media", "versioning"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkCurrentConnectsAndStreams,
	})
	register(Case{
		ID:          "sdk/breaking/3",
		Title:       "old-protocol SDK is refused with a version error",
		Requirement: "A current server MUST refuse a pre-overhaul SDK with 426, and the SDK MUST surface a version error to the application (CLIENT_VERSION_TOO_OLD, VERSION_MISMATCH or the 426) and stop",
		Sections:    []string{"PLATFORM.md §8", "PROTOCOL.md §1.0", "PROTOCOL.md §7 item 11"},
		Labels:      []string{"versioning", "legacy"},
		Timeout:     60 * time.Second,
		Check:       checkLegacyRefused,
	})
	register(Case{
		ID:          "sdk/breaking/4",
		Title:       "old-protocol SDK still works end to end on the legacy profile",
		Requirement: "Against a server in the legacy profile, a pre-overhaul SDK MUST still connect (GET /ice_servers, POST /sessions with sdp_offer, sdp_params), reach ready, stream video, deliver a command and DELETE on disconnect",
		Sections:    []string{"PLATFORM.md §8", "PROTOCOL.md §1.2", "PROTOCOL.md §3.1"},
		Labels:      []string{"legacy", "signalling", "media", "data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkLegacyEndToEnd,
	})
	register(Case{
		ID:          "sdk/breaking/5",
		Title:       "insecure browser token helpers stay removed",
		Requirement: "The SDK MUST NOT export the removed browser token helpers (fetchInsecureJwtToken, fetchInsecureToken) nor take an insecureApiKey",
		Sections:    []string{"PLATFORM.md §1", "PLATFORM.md §8"},
		Labels:      []string{"surface", "auth"},
		Timeout:     45 * time.Second,
		Check:       checkInsecureHelpersRemoved,
	})
	register(Case{
		ID:          "sdk/breaking/6",
		Title:       "sendCommand exists, sendMessage does not",
		Requirement: "The SDK MUST offer sendCommand(name, data) (send_command) and MUST NOT offer the removed sendMessage({type, data})",
		Sections:    []string{"PLATFORM.md §3", "PLATFORM.md §8"},
		Labels:      []string{"surface"},
		Timeout:     45 * time.Second,
		Check:       checkSendCommandNotSendMessage,
	})
	register(Case{
		ID:          "sdk/breaking/7",
		Title:       "no queueing: connection queue API gone, early commands dropped",
		Requirement: "The SDK MUST NOT offer the removed connection queue (queueing, getWaitingInfo, waitingInfoChanged), and a command sent before connect MUST NOT be delivered once the SDK is ready",
		Sections:    []string{"PLATFORM.md §2", "PLATFORM.md §3", "PLATFORM.md §8"},
		Labels:      []string{"surface", "data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkNoQueueing,
	})
}

// tokenRequests are the /tokens requests the SDK side made.
func (r *Run) tokenRequests() []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Path == wire.PathTokens {
			out = append(out, e)
		}
	}
	return out
}

func checkTokenIsPost(ctx context.Context, r *Run) error {
	if err := r.SetupExact(ctx, nil); err != nil {
		return err
	}
	if r.Has("token_helper") {
		helper := "its token helper"
		if h := r.Hello.Surface.TokenHelper; h != nil {
			helper = *h
		}
		tr, err := r.Drv.Token(ctx, r.Mock.URL(), r.Mock.APIKey(), "sdk", 40*time.Second)
		if err != nil {
			r.Note("token via %s failed: %s", helper, ErrText(err))
		} else {
			r.Note("token via %s (%s)", tr.Via, tr.Request)
		}
	}
	// Let the SDK mint its own token where it does (Python: api_key); the JS
	// driver mints with the documented POST when the SDK has no helper.
	res, err := r.Connect(ctx, ConnectOpts{Auth: AuthAPIKey, Wait: "resolve", ReadyTimeout: 5 * time.Second, Bound: 45 * time.Second})
	if err == nil && res.TokenVia != "" {
		r.Note("connect with an API key: token via %s", res.TokenVia)
	}
	if _, err := r.Drv.Disconnect(ctx, false, 20*time.Second); err != nil {
		r.Note("disconnect after the token check: %s", ErrText(err))
	}
	toks := r.tokenRequests()
	var bad []string
	for _, e := range toks {
		if e.Method != http.MethodPost {
			bad = append(bad, fmt.Sprintf("%s %s (→ %d)", e.Method, e.Path, e.Status))
			continue
		}
		if _, ok := HeaderOK(e, wire.HeaderLegacyAPIKey); ok {
			bad = append(bad, "POST /tokens with the removed X-API-Key header")
		}
		if _, ok := HeaderOK(e, wire.HeaderAPIKey); !ok {
			bad = append(bad, "POST /tokens without Reactor-API-Key")
		}
		// The body is optional: absent, JSON null, or an object of the
		// documented fields (PROTOCOL.md §1.1).
		if len(e.Body) > 0 && string(e.Body) != "null" {
			var m map[string]any
			if json.Unmarshal(e.Body, &m) != nil {
				bad = append(bad, "POST /tokens body is neither null nor a JSON object: "+oneLine(string(e.Body), 120))
			}
			for k := range m {
				if k != "expires_after" && k != "authorization_details" {
					bad = append(bad, fmt.Sprintf("POST /tokens body has the undocumented field %q", k))
				}
			}
		}
	}
	if len(toks) == 0 {
		r.Note("%s made no token request itself (it takes a JWT minted elsewhere)", r.SDKName())
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s minted tokens the removed way: %s\njournal:\n%s", r.SDKName(), strings.Join(bad, "; "), DescribeEntries(toks, 20))
	}
	return nil
}

func checkCurrentConnectsAndStreams(ctx context.Context, r *Run) error {
	if err := r.SetupExact(ctx, nil); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s speaks the pre-overhaul protocol (sdk/breaking/3 and /4 cover it)", r.SDKName())
	}
	res, err := r.ConnectReady(ctx, ConnectOpts{})
	if err != nil {
		return err
	}
	frames, err := r.WaitFrames(ctx, "main_video", 10, 15*time.Second)
	if err != nil {
		return err
	}
	r.Note("ready on session %s; %d frames on main_video", res.SID(), frames)
	return nil
}

// WaitFrames waits until the driver counted at least n frames on track.
func (r *Run) WaitFrames(ctx context.Context, track string, n int64, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	var last int64
	for {
		st, err := r.Drv.State(ctx)
		if err != nil {
			return last, fmt.Errorf("state: %w", err)
		}
		last = st.Frames[track]
		if last >= n {
			return last, nil
		}
		if time.Now().After(deadline) {
			tracks := sortedKeys(st.Frames)
			return last, fmt.Errorf("%s counted %d frames on %s (want ≥ %d) within %s of ready; tracks with frames: %v, status %s",
				r.SDKName(), last, track, n, timeout, tracks, st.Status)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// versionErrorRe matches what counts as the SDK surfacing a version error.
var versionErrorRe = regexp.MustCompile(`(?i)CLIENT_VERSION_TOO_OLD|SERVER_VERSION_TOO_OLD|VERSION_MISMATCH|VersionMismatch|\b426\b|\b501\b|upgrade`)

func checkLegacyRefused(ctx context.Context, r *Run) error {
	if err := r.SetupExact(ctx, nil); err != nil {
		return err
	}
	if !r.Legacy() {
		return NotApplicable("%s speaks the current protocol (%s)", r.SDKName(), r.Protocol())
	}
	mark := r.Drv.EventCount()
	res, err := r.Connect(ctx, ConnectOpts{Auth: AuthJWT, ReadyTimeout: 10 * time.Second, Bound: 40 * time.Second})
	if err == nil && res.Ready {
		return fmt.Errorf("%s reached ready against a current-profile server; it should have been refused\njournal:\n%s",
			r.SDKName(), DescribeEntries(r.HTTP(), 30))
	}
	var refused []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Status == http.StatusUpgradeRequired {
			refused = append(refused, e)
		}
	}
	if len(refused) == 0 {
		return fmt.Errorf("the mock never answered 426 to %s, so the refusal path was not exercised\njournal:\n%s",
			r.SDKName(), DescribeEntries(r.HTTP(), 30))
	}
	reported := append([]string{ErrText(err)}, r.Reported(mark)...)
	all := strings.Join(reported, "\n")
	if !versionErrorRe.MatchString(all) {
		return fmt.Errorf("the mock answered 426 (%s) but %s surfaced no version error; it reported:\n  %s",
			DescribeEntry(refused[0], time.Time{}), r.SDKName(), strings.Join(reported, "\n  "))
	}
	if !strings.Contains(all, "CLIENT_VERSION_TOO_OLD") && !strings.Contains(all, "VERSION_MISMATCH") {
		r.Note("%s reports the refusal only as an HTTP status, not as a version error: %s", r.SDKName(), firstLineOf(all))
	}
	if _, err := r.WaitStatus(ctx, mark, 5*time.Second, "disconnected"); err != nil {
		return fmt.Errorf("after the 426 %s did not return to disconnected: %w", r.SDKName(), err)
	}
	after := 0
	for _, e := range r.HTTP() {
		if e.Seq > refused[0].Seq && e.Method != http.MethodDelete {
			after++
		}
	}
	if after > 0 {
		return fmt.Errorf("%s kept going after the 426: %d more requests\njournal:\n%s", r.SDKName(), after, DescribeEntries(r.HTTP(), 30))
	}
	return nil
}

func firstLineOf(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			return oneLine(l, 200)
		}
	}
	return ""
}

func checkLegacyEndToEnd(ctx context.Context, r *Run) error {
	sc := Scenario("legacy", func(sc *mockserver.Scenario) { sc.Profile = mockserver.ProfileLegacy })
	if err := r.SetupExact(ctx, sc); err != nil {
		return err
	}
	if !r.Legacy() {
		return NotApplicable("%s speaks the current protocol (%s)", r.SDKName(), r.Protocol())
	}
	// The legacy flow: the documented token of that era (the SDK helper, GET).
	res, err := r.ConnectReady(ctx, ConnectOpts{Auth: AuthAPIKey})
	if err != nil {
		return err
	}
	sid := res.SID()
	if _, err := r.WaitFrames(ctx, firstTrack(res, "video"), 10, 15*time.Second); err != nil {
		return err
	}
	if err := r.SendAndObserve(ctx, sid, "set_prompt", map[string]any{"prompt": "legacy probe"}); err != nil {
		return err
	}
	if _, err := r.Drv.Disconnect(ctx, false, 20*time.Second); err != nil {
		return fmt.Errorf("disconnect: %s", ErrText(err))
	}
	if n := r.countHTTP(http.MethodDelete, wire.SessionPath(sid)); n != 1 {
		return fmt.Errorf("disconnect sent %d DELETE %s (want 1)\njournal:\n%s", n, wire.SessionPath(sid), DescribeEntries(r.HTTP(), 40))
	}
	return nil
}

func firstTrack(res *driver.ConnectResult, fallback string) string {
	if res != nil && len(res.Tracks) > 0 {
		return res.Tracks[0]
	}
	return fallback
}

func (r *Run) countHTTP(method, path string) int {
	n := 0
	for _, e := range r.HTTP() {
		if e.Method == method && e.Path == path {
			n++
		}
	}
	return n
}

// SendAndObserve sends a command at ready and waits for the mock to journal
// it on the data channel.
func (r *Run) SendAndObserve(ctx context.Context, sid, name string, data any) error {
	before := len(r.DataChannel(sid))
	if _, err := r.Drv.SendCommand(ctx, name, data, nil, 15*time.Second); err != nil {
		return fmt.Errorf("send_command %s at ready: %s", name, ErrText(err))
	}
	if _, err := r.WaitDataChannel(ctx, sid, before, 5*time.Second, func(e mockserver.Entry) bool { return e.Type == name }); err != nil {
		return fmt.Errorf("the mock never received command %q sent at ready: %w", name, err)
	}
	return nil
}

// WaitDataChannel waits for a data-channel entry (index ≥ from among the
// session's data-channel entries) that satisfies pred.
func (r *Run) WaitDataChannel(ctx context.Context, sid string, from int, timeout time.Duration, pred func(mockserver.Entry) bool) (mockserver.Entry, error) {
	deadline := time.Now().Add(timeout)
	for {
		es := r.DataChannel(sid)
		for i := from; i < len(es); i++ {
			if pred(es[i]) {
				return es[i], nil
			}
		}
		if time.Now().After(deadline) {
			return mockserver.Entry{}, fmt.Errorf("not within %s; data-channel entries:\n%s", timeout, DescribeEntries(es, 30))
		}
		select {
		case <-ctx.Done():
			return mockserver.Entry{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var insecureNames = []string{"fetchInsecureJwtToken", "fetchInsecureToken", "fetch_insecure_jwt_token", "fetch_insecure_token"}

func checkInsecureHelpersRemoved(ctx context.Context, r *Run) error {
	if err := r.StartDriver(ctx); err != nil {
		return err
	}
	var found []string
	for _, n := range insecureNames {
		for _, e := range r.Hello.Surface.Exports {
			if e == n {
				found = append(found, "export "+n)
			}
		}
	}
	if h := r.Hello.Surface.TokenHelper; h != nil && strings.Contains(strings.ToLower(*h), "insecure") {
		found = append(found, "token helper "+*h)
	}
	if strings.Contains(strings.ToLower(string(r.Hello.Raw)), "insecureapikey") || strings.Contains(strings.ToLower(string(r.Hello.Raw)), "insecure_api_key") {
		found = append(found, "an insecureApiKey option")
	}
	if len(found) > 0 {
		return fmt.Errorf("%s still ships the removed insecure token API: %s", r.SDKName(), strings.Join(uniq(found), ", "))
	}
	if h := r.Hello.Surface.TokenHelper; h != nil {
		r.Note("token helper %s (server-side; checked by sdk/breaking/1)", *h)
	}
	return nil
}

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func checkSendCommandNotSendMessage(ctx context.Context, r *Run) error {
	if err := r.StartDriver(ctx); err != nil {
		return err
	}
	has := r.Hello.Surface.Has
	if _, ok := has["send_command"]; !ok {
		return fmt.Errorf("the driver's hello has no surface.has.send_command (drivers/PROTOCOL.md §3.1); cannot judge the SDK")
	}
	var problems []string
	if !has["send_command"] {
		problems = append(problems, "no sendCommand/send_command")
	}
	if has["send_message"] {
		problems = append(problems, "the removed sendMessage is still there")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s (methods: %s)", r.SDKName(), strings.Join(problems, "; "), strings.Join(r.Hello.Surface.Methods, ", "))
	}
	return nil
}

var queueAPI = []string{"getWaitingInfo", "get_waiting_info", "waitingInfo", "waiting_info", "waitingInfoChanged", "waiting_info_changed", "getQueuePosition"}

func checkNoQueueing(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("ready")); err != nil {
		return err
	}
	var found []string
	for _, n := range queueAPI {
		for _, m := range append(append([]string(nil), r.Hello.Surface.Methods...), r.Hello.Surface.Exports...) {
			if m == n {
				found = append(found, n)
			}
		}
		for _, ev := range r.Hello.Events {
			if ev == n {
				found = append(found, "event "+n)
			}
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%s still offers the removed connection queue: %s", r.SDKName(), strings.Join(found, ", "))
	}
	// A command sent before connect: whatever the SDK says, it must never
	// reach the model later.
	a, err := r.ConnectArgs(ctx, ConnectOpts{})
	if err != nil {
		return err
	}
	if err := r.PrepareClient(ctx, &a); err != nil {
		return err
	}
	mark := r.Drv.EventCount()
	cr, serr := r.Drv.SendCommand(ctx, "set_seed", map[string]any{"seed": 7}, nil, 15*time.Second)
	switch {
	case serr != nil:
		r.Note("send before connect: %s", ErrText(serr))
	case len(cr.Warnings) > 0:
		r.Note("send before connect warned: %s", strings.Join(cr.Warnings, "; "))
	default:
		if rep := r.Reported(mark); len(rep) > 0 {
			r.Note("send before connect: %s", strings.Join(rep, "; "))
		}
	}
	// Connect that same client instance: a queue would live in it.
	res, err := r.ConnectReady(ctx, ConnectOpts{Reuse: true})
	if err != nil {
		return err
	}
	sid := res.SID()
	if err := r.SendAndObserve(ctx, sid, "set_prompt", map[string]any{"prompt": "after ready"}); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	for _, e := range r.DataChannel(sid) {
		if e.Type == "set_seed" {
			return fmt.Errorf("%s queued the command sent before connect and delivered it at ready: %s", r.SDKName(), DescribeEntry(e, time.Time{}))
		}
	}
	return nil
}

// errIs is errors.As for *driver.OpError with a code.
func errIsCode(err error, code string) bool {
	var oe *driver.OpError
	return errors.As(err, &oe) && oe.Code == code
}
