package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Session lifecycle, signalling and uploads (PROTOCOL.md §1, §6, §7).

func init() {
	register(Case{
		ID:          "sdk/lifecycle/1",
		Title:       "version and auth headers on every request",
		Requirement: "Every coordinator request MUST carry Reactor-API-Version: 1, Reactor-API-Accept-Version: 1 and a non-empty bearer JWT; every transport request MUST carry Reactor-WebRTC-Version: 1.0 and the bearer JWT",
		Sections:    []string{"PROTOCOL.md §1.0", "PROTOCOL.md §7 item 2", "PROTOCOL.md §7 item 3"},
		Labels:      []string{"headers", "auth", "versioning"},
		WebRTC:      true,
		Check:       checkHeaders,
	})
	register(Case{
		ID:          "sdk/lifecycle/2",
		Title:       "create body",
		Requirement: "POST /sessions MUST carry exactly {model:{name}, client_info:{sdk_version, sdk_type}, supported_transports:[{protocol:\"webrtc\", version:\"1.0\"}]} (extra_args only when given), sdk_version being the SDK's own version",
		Sections:    []string{"PROTOCOL.md §1.2", "PROTOCOL.md §7 item 6"},
		Labels:      []string{"polling"},
		Check:       checkCreateBody,
	})
	register(Case{
		ID:          "sdk/lifecycle/3",
		Title:       "session poll backoff 200/400/800/1600 ms",
		Requirement: "The SDK MUST poll GET /sessions/{id} with exponential backoff: sleeps of 200, 400, 800, 1600 ms (×2, capped at 10 s) between polls; each gap within −15 %−10 ms … ×2+300 ms of the schedule (measured from the journal)",
		Sections:    []string{"PROTOCOL.md §6", "PROTOCOL.md §7 item 8"},
		Labels:      []string{"polling"},
		Timeout:     60 * time.Second,
		Check:       checkPollBackoff,
	})
	register(Case{
		ID:          "sdk/lifecycle/4",
		Title:       "CLOSED stops polling",
		Requirement: "When a poll answers state CLOSED the SDK MUST stop polling at once, surface an error and return to disconnected",
		Sections:    []string{"PROTOCOL.md §1.2", "PROTOCOL.md §2.1", "PROTOCOL.md §7 item 9"},
		Labels:      []string{"polling"},
		Check:       func(ctx context.Context, r *Run) error { return checkTerminalStopsPolling(ctx, r, "CLOSED") },
	})
	register(Case{
		ID:          "sdk/lifecycle/5",
		Title:       "INACTIVE stops polling",
		Requirement: "When a poll answers state INACTIVE the SDK MUST stop polling at once, surface an error and return to disconnected",
		Sections:    []string{"PROTOCOL.md §1.2", "PROTOCOL.md §2.1", "PROTOCOL.md §7 item 9"},
		Labels:      []string{"polling"},
		Check:       func(ctx context.Context, r *Run) error { return checkTerminalStopsPolling(ctx, r, "INACTIVE") },
	})
	register(Case{
		ID:          "sdk/lifecycle/6",
		Title:       "426 from a changed API version range",
		Requirement: "When the server's API version range starts above the SDK's (426), the SDK MUST report CLIENT_VERSION_TOO_OLD / VERSION_MISMATCH, not retry, and return to disconnected",
		Sections:    []string{"PROTOCOL.md §1.0", "PROTOCOL.md §7 item 11"},
		Labels:      []string{"versioning"},
		Check:       checkVersion426,
	})
	register(Case{
		ID:          "sdk/lifecycle/7",
		Title:       "501 (server too old)",
		Requirement: "When the server answers 501 (the SDK's version is newer than the server knows), the SDK MUST report SERVER_VERSION_TOO_OLD / VERSION_MISMATCH, not retry, and return to disconnected",
		Sections:    []string{"PROTOCOL.md §1.0", "PROTOCOL.md §7 item 11"},
		Labels:      []string{"versioning"},
		Check:       checkVersion501,
	})
	register(Case{
		ID:          "sdk/lifecycle/8",
		Title:       "426 on a transport call",
		Requirement: "A 426 on a WebRTC transport call (GET …/ice_servers) MUST be reported as CLIENT_VERSION_TOO_OLD / VERSION_MISMATCH, not as a generic failure",
		Sections:    []string{"PROTOCOL.md §1.0", "PROTOCOL.md §7 item 11"},
		Labels:      []string{"versioning", "signalling"},
		Check:       checkTransport426,
	})
	register(Case{
		ID:          "sdk/lifecycle/9",
		Title:       "SDP answer polling is bounded",
		Requirement: "While the SDP answer is not ready (202), the SDK MUST poll GET …/sdp_params at most 6 times with 200/400/800/1600/3200 ms backoff, then give up with an error and stop polling",
		Sections:    []string{"PROTOCOL.md §6", "PROTOCOL.md §7 item 17"},
		Labels:      []string{"signalling", "polling"},
		Timeout:     60 * time.Second,
		Check:       checkSDPPollBound,
	})
	register(Case{
		ID:          "sdk/lifecycle/10",
		Title:       "track_mapping",
		Requirement: "The SDP offer MUST come with track_mapping: one {mid, name, kind, direction} per capability track, in capability order, each mid an m-section of that kind in the offer",
		Sections:    []string{"PROTOCOL.md §4", "PROTOCOL.md §7 item 18"},
		Labels:      []string{"signalling"},
		Check:       checkTrackMapping,
	})
	register(Case{
		ID:          "sdk/lifecycle/11",
		Title:       "disconnect sends DELETE",
		Requirement: "disconnect() from ready MUST send exactly one DELETE /sessions/{id} and return to disconnected with the session id cleared",
		Sections:    []string{"PROTOCOL.md §1.2", "PROTOCOL.md §7 item 12"},
		Labels:      []string{"disconnect"},
		WebRTC:      true,
		Check:       checkDisconnectDeletes,
	})
	register(Case{
		ID:          "sdk/lifecycle/12",
		Title:       "recoverable disconnect keeps the session",
		Requirement: "disconnect(recoverable=true) MUST NOT send DELETE: the server session stays alive for reconnect()",
		Sections:    []string{"PROTOCOL.md §2.3", "PROTOCOL.md §7 item 12", "PLATFORM.md §2"},
		Labels:      []string{"disconnect"},
		WebRTC:      true,
		Check:       checkRecoverableKeeps,
	})
	register(Case{
		ID:          "sdk/lifecycle/13",
		Title:       "reconnect re-offers with PUT",
		Requirement: "reconnect() MUST re-offer on the same session with PUT …/sdp_params (the same connection id where connections are registered), never create a session or POST a first offer, and reach ready again",
		Sections:    []string{"PROTOCOL.md §6", "PROTOCOL.md §7 item 22"},
		Labels:      []string{"reconnect", "signalling"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkReconnectPut,
	})
	register(Case{
		ID:          "sdk/lifecycle/14",
		Title:       "reconnect while waiting sends no empty token",
		Requirement: "reconnect() called while the session is still being polled MUST NOT send any request without a valid bearer token (the empty-token reconnect path)",
		Sections:    []string{"PROTOCOL.md §7.1", "PROTOCOL.md §7 item 3"},
		Labels:      []string{"reconnect", "auth"},
		Check:       checkEmptyTokenReconnect,
	})
	register(Case{
		ID:          "sdk/lifecycle/15",
		Title:       "upload flow: reserve, PUT, fileUploaded, FileRef in uploads",
		Requirement: "upload_file MUST POST /sessions/{id}/uploads {name, size, mime_type}, PUT the bytes to presigned_url without Authorization, send fileUploaded, and a command given the FileRef MUST carry it so the model resolves the upload",
		Sections:    []string{"PROTOCOL.md §1.2", "PROTOCOL.md §3.2", "PROTOCOL.md §7 item 29", "PLATFORM.md §4"},
		Labels:      []string{"uploads", "data-channel"},
		WebRTC:      true,
		Check:       checkUploadFlow,
	})
	register(Case{
		ID:          "sdk/lifecycle/16",
		Title:       "non-2xx during polling is final",
		Requirement: "A non-2xx answer to a session poll (here 503) MUST end the connect attempt at once: no further polls, an error surfaced, status disconnected",
		Sections:    []string{"PROTOCOL.md §1.2", "PROTOCOL.md §7 item 10"},
		Labels:      []string{"polling"},
		Check:       checkPollErrorFinal,
	})
	register(Case{
		ID:          "sdk/lifecycle/17",
		Title:       "local mode sends no Authorization",
		Requirement: "In local mode (local runtime at the given URL) the SDK MUST NOT send an Authorization header on any call",
		Sections:    []string{"PROTOCOL.md §1.4", "PROTOCOL.md §7 item 5"},
		Labels:      []string{"auth", "headers"},
		Check:       checkLocalNoAuth,
	})
}

// ── request classification ──────────────────────────────────────────────

// isTransport says whether a request is a WebRTC transport call.
func isTransport(e mockserver.Entry) bool { return strings.Contains(e.Path, "/transport/webrtc/") }

// isCoordinator says whether a request is a coordinator session call.
func isCoordinator(e mockserver.Entry) bool {
	return strings.HasPrefix(e.Path, wire.PathSessions) && !isTransport(e)
}

func checkHeaders(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("headers")); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s speaks the pre-overhaul protocol, which has no version headers (sdk/breaking/3 covers its refusal)", r.SDKName())
	}
	if _, err := r.ConnectReady(ctx, ConnectOpts{}); err != nil {
		return err
	}
	if r.Has("upload_file") {
		if _, err := r.Drv.Upload(ctx, "header probe", "h.txt", "text/plain", 20*time.Second); err != nil {
			r.Note("upload during the header check failed: %s", ErrText(err))
		}
	}
	if _, err := r.Drv.Disconnect(ctx, false, 20*time.Second); err != nil {
		r.Note("disconnect: %s", ErrText(err))
	}
	var problems []string
	transportAPI := map[bool]int{}
	for _, e := range r.HTTP() {
		where := fmt.Sprintf("%s %s", e.Method, shortPath(e.Path))
		switch {
		case isTransport(e):
			if v := Header(e, wire.HeaderWebRTCVersion); v != wire.CurrentWebRTCVersion {
				problems = append(problems, fmt.Sprintf("%s: %s is %q (want %q)", where, wire.HeaderWebRTCVersion, v, wire.CurrentWebRTCVersion))
			}
			if e.Auth != "bearer" {
				problems = append(problems, fmt.Sprintf("%s: Authorization is %s", where, e.Auth))
			}
			_, has := HeaderOK(e, wire.HeaderAPIVersion)
			transportAPI[has]++
		case isCoordinator(e):
			for _, h := range []string{wire.HeaderAPIVersion, wire.HeaderAPIAcceptVersion} {
				if v := Header(e, h); v != "1" {
					problems = append(problems, fmt.Sprintf("%s: %s is %q (want \"1\")", where, h, v))
				}
			}
			if e.Auth != "bearer" {
				problems = append(problems, fmt.Sprintf("%s: Authorization is %s", where, e.Auth))
			}
		}
	}
	switch {
	case transportAPI[true] > 0 && transportAPI[false] == 0:
		r.Note("transport calls also carry the API-version headers (reactor-core style)")
	case transportAPI[false] > 0 && transportAPI[true] == 0:
		r.Note("transport calls carry only Reactor-WebRTC-Version and Authorization (JS 2.x style)")
	case transportAPI[true] > 0:
		r.Note("transport calls are inconsistent: %d with API-version headers, %d without", transportAPI[true], transportAPI[false])
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s sent requests without the required headers:\n  %s", r.SDKName(), strings.Join(uniq(problems), "\n  "))
	}
	return nil
}

func checkCreateBody(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("create-body")); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s creates sessions with the pre-overhaul body {model, sdp_offer, extra_args}", r.SDKName())
	}
	_, cerr := r.Connect(ctx, ConnectOpts{ReadyTimeout: 10 * time.Second})
	var create *mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Method == http.MethodPost && e.Path == wire.PathSessions {
			e := e
			create = &e
			break
		}
	}
	if create == nil {
		return fmt.Errorf("%s never sent POST /sessions (connect: %s)", r.SDKName(), ErrText(cerr))
	}
	var body map[string]any
	if err := json.Unmarshal(create.Body, &body); err != nil {
		return fmt.Errorf("POST /sessions body is not a JSON object: %s", string(create.Body))
	}
	var p []string
	for k := range body {
		switch k {
		case "model", "client_info", "supported_transports", "extra_args":
		default:
			p = append(p, fmt.Sprintf("unexpected key %q", k))
		}
	}
	if m, ok := body["model"].(map[string]any); !ok || m["name"] != Model || len(m) != 1 {
		p = append(p, fmt.Sprintf("model must be {\"name\":%q}, got %s", Model, jsonText(body["model"])))
	}
	ci, ok := body["client_info"].(map[string]any)
	if !ok {
		p = append(p, "client_info missing")
	} else {
		if v, _ := ci["sdk_version"].(string); v != r.Hello.SDK.Version {
			p = append(p, fmt.Sprintf("client_info.sdk_version %s is not the SDK's version %q", jsonText(ci["sdk_version"]), r.Hello.SDK.Version))
		}
		if t, _ := ci["sdk_type"].(string); t == "" {
			p = append(p, "client_info.sdk_type missing or empty")
		} else {
			r.Note("client_info.sdk_type = %q", t)
		}
		for k := range ci {
			if k != "sdk_version" && k != "sdk_type" {
				p = append(p, fmt.Sprintf("unexpected client_info key %q", k))
			}
		}
	}
	st, _ := body["supported_transports"].([]any)
	if len(st) != 1 || jsonText(st[0]) != `{"protocol":"webrtc","version":"1.0"}` {
		p = append(p, fmt.Sprintf("supported_transports must be [{\"protocol\":\"webrtc\",\"version\":\"1.0\"}], got %s", jsonText(body["supported_transports"])))
	}
	if ea, ok := body["extra_args"]; ok {
		r.Note("extra_args sent although none were given: %s", jsonText(ea))
	}
	if len(p) > 0 {
		return fmt.Errorf("%s's POST /sessions body %s: %s", r.SDKName(), string(create.Body), strings.Join(p, "; "))
	}
	return nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// polls returns the SDK's GET /sessions/{sid} requests.
func (r *Run) polls(sid string) []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Method == http.MethodGet && e.Path == wire.SessionPath(sid) {
			out = append(out, e)
		}
	}
	return out
}

// createdSession is the id of the first session the SDK created.
func (r *Run) createdSession() string {
	for _, e := range r.HTTP() {
		if e.Method == http.MethodPost && e.Path == wire.PathSessions && e.SessionID != "" {
			return e.SessionID
		}
	}
	return ""
}

// gapCheck compares gaps with the expected backoff and the stated
// tolerance: never faster than 85 % of the schedule (−10 ms), never slower
// than twice it plus 300 ms — loose upward, because a loaded CI machine
// delays timers, yet tight enough to tell a fixed 1 s poll from 200/400/….
func gapCheck(gaps []time.Duration, want []time.Duration) []string {
	var p []string
	for i, g := range gaps {
		if i >= len(want) {
			break
		}
		w := want[i]
		lo := time.Duration(float64(w)*0.85) - 10*time.Millisecond
		hi := 2*w + 300*time.Millisecond
		if g < lo || g > hi {
			p = append(p, fmt.Sprintf("gap %d is %s, want %s (accepted %s…%s)", i+1, g.Round(time.Millisecond), w, lo, hi))
		}
	}
	return p
}

func gapsOf(es []mockserver.Entry) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(es); i++ {
		out = append(out, es[i].At().Sub(es[i-1].At()))
	}
	return out
}

func fmtGaps(gs []time.Duration) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = strconv.FormatInt(g.Milliseconds(), 10)
	}
	return "[" + strings.Join(parts, ", ") + "] ms"
}

func checkPollBackoff(ctx context.Context, r *Run) error {
	const pending = 4
	if err := r.Setup(ctx, PendingScenario("poll-backoff", pending, 0)); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s does not poll the session (no GET /sessions/{id} in the pre-overhaul flow)", r.SDKName())
	}
	p, bound, err := r.StartConnect(ctx, ConnectOpts{ReadyTimeout: 8 * time.Second})
	if err != nil {
		return err
	}
	// Measure the polls up to the one that finds the session WAITING; what
	// follows (ICE, offer) is not this case's business.
	deadline := time.Now().Add(15 * time.Second)
	var sid string
	var ps []mockserver.Entry
	for time.Now().Before(deadline) {
		if sid = r.createdSession(); sid != "" {
			if ps = r.polls(sid); len(ps) >= pending+1 {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _ = r.Drv.Disconnect(ctx, false, 20*time.Second)
	_, cerr := r.AwaitConnect(ctx, p, bound)
	if sid == "" {
		return fmt.Errorf("%s created no session (connect: %s)", r.SDKName(), ErrText(cerr))
	}
	if len(ps) < pending+1 {
		return fmt.Errorf("%s polled %d times; the session became ready only at poll %d (connect: %s)\njournal:\n%s",
			r.SDKName(), len(ps), pending+1, ErrText(cerr), DescribeEntries(r.HTTP(), 30))
	}
	gaps := gapsOf(ps[:pending+1])
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}
	r.Note("poll gaps %s (want [200, 400, 800, 1600] ms)", fmtGaps(gaps))
	if p := gapCheck(gaps, want); len(p) > 0 {
		return fmt.Errorf("%s's session-poll backoff is off: %s; measured %s", r.SDKName(), strings.Join(p, "; "), fmtGaps(gaps))
	}
	return nil
}

func checkTerminalStopsPolling(ctx context.Context, r *Run, state string) error {
	if err := r.Setup(ctx, PendingScenario("terminal-"+strings.ToLower(state), 1000, 60*time.Second)); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s does not poll the session", r.SDKName())
	}
	mark := r.Drv.EventCount()
	p, bound, err := r.StartConnect(ctx, ConnectOpts{ReadyTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	var sid string
	for {
		sid = r.createdSession()
		if sid != "" && len(r.polls(sid)) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not start polling within 10 s\njournal:\n%s", r.SDKName(), DescribeEntries(r.HTTP(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.ForceState(ctx, sid, state); err != nil {
		return err
	}
	forced := r.JournalMark()
	_, cerr := p.Wait(ctx, bound)
	time.Sleep(2 * time.Second) // longer than the next backoff step
	var after []mockserver.Entry
	for _, e := range r.polls(sid) {
		if e.Seq > forced {
			after = append(after, e)
		}
	}
	var problems []string
	if len(after) == 0 {
		problems = append(problems, "no poll saw the state (harness timing)")
	} else if len(after) > 1 {
		problems = append(problems, fmt.Sprintf("kept polling: %d polls after the session became %s", len(after), state))
	}
	rep := append([]string{ErrText(cerr)}, r.Reported(mark)...)
	if strings.TrimSpace(strings.Join(rep, "")) == "" {
		problems = append(problems, "no error reached the application")
	} else {
		r.Note("reported: %s", oneLine(strings.Join(rep, " | "), 300))
	}
	if _, err := r.WaitStatus(ctx, mark, 3*time.Second, "disconnected"); err != nil {
		problems = append(problems, "status did not return to disconnected")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s after the session became %s: %s\njournal:\n%s", r.SDKName(), state, strings.Join(problems, "; "), DescribeEntries(r.HTTP(), 30))
	}
	return nil
}

var versionCodeRe = regexp.MustCompile(`CLIENT_VERSION_TOO_OLD|SERVER_VERSION_TOO_OLD|VERSION_MISMATCH|VersionMismatch`)

// versionRefusal connects against sc and checks how the SDK reports the
// refusal: want names the specific code (CLIENT_/SERVER_VERSION_TOO_OLD).
func versionRefusal(ctx context.Context, r *Run, sc *mockserver.Scenario, status int, want string, route func(mockserver.Entry) bool) error {
	if err := r.Setup(ctx, sc); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s sends no version headers and maps no version errors (pre-overhaul protocol; sdk/breaking/3 covers it)", r.SDKName())
	}
	mark := r.Drv.EventCount()
	_, cerr := r.Connect(ctx, ConnectOpts{ReadyTimeout: 10 * time.Second})
	var refused []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Status == status && route(e) {
			refused = append(refused, e)
		}
	}
	if len(refused) == 0 {
		return fmt.Errorf("the mock never answered %d to %s (connect: %s)\njournal:\n%s", status, r.SDKName(), ErrText(cerr), DescribeEntries(r.HTTP(), 30))
	}
	rep := append([]string{ErrText(cerr)}, r.Reported(mark)...)
	all := strings.Join(rep, "\n")
	var problems []string
	switch {
	case strings.Contains(all, want) || strings.Contains(all, "VERSION_MISMATCH") || strings.Contains(all, "VersionMismatch"):
	case versionCodeRe.MatchString(all):
		problems = append(problems, fmt.Sprintf("reported the wrong version error for %d: %s", status, firstLineOf(versionCodeRe.FindString(all))))
	default:
		problems = append(problems, fmt.Sprintf("did not report a version error for %d (want %s or VERSION_MISMATCH); it reported: %s", status, want, oneLine(strings.Join(rep, " | "), 400)))
	}
	if len(refused) > 1 {
		problems = append(problems, fmt.Sprintf("retried: %d requests answered %d", len(refused), status))
	}
	if _, err := r.WaitStatus(ctx, mark, 5*time.Second, "disconnected"); err != nil {
		problems = append(problems, "did not return to disconnected")
	}
	r.Note("reported: %s", oneLine(strings.Join(rep, " | "), 300))
	if len(problems) > 0 {
		return fmt.Errorf("%s, refused with %s: %s", r.SDKName(), DescribeEntry(refused[0], time.Time{}), strings.Join(problems, "; "))
	}
	return nil
}

func checkVersion426(ctx context.Context, r *Run) error {
	sc := ReadyScenario("api-2-3")
	sc.Versions.APIMin, sc.Versions.APIMax = 2, 3
	return versionRefusal(ctx, r, sc, http.StatusUpgradeRequired, "CLIENT_VERSION_TOO_OLD", isCoordinator)
}

func checkVersion501(ctx context.Context, r *Run) error {
	// A server older than API version 1: the range 0..0, which only a
	// scenario document can express (0 in Go code means "default").
	sc, err := mockserver.ParseScenario([]byte(`{"name":"api-0-0","timings":{"pending_polls":0},"versions":{"api_min":0,"api_max":0}}`))
	if err != nil || sc.Versions.APIMax != 0 {
		// A mock without explicit zero bounds: inject the 501 such a server sends.
		sc = ReadyScenario("server-too-old")
		sc.Faults = append(sc.Faults, mockserver.Fault{Route: routeCreate, Status: http.StatusNotImplemented,
			Detail: "SERVER_VERSION_TOO_OLD: Reactor-API-Version 1 is newer than this server implements (0..0)"})
		r.Note("the mock cannot set api_max 0; the 501 is injected on POST /sessions")
	}
	return versionRefusal(ctx, r, sc, http.StatusNotImplemented, "SERVER_VERSION_TOO_OLD", isCoordinator)
}

func checkTransport426(ctx context.Context, r *Run) error {
	sc := Scenario("transport-426", func(sc *mockserver.Scenario) {
		sc.Faults = append(sc.Faults, mockserver.Fault{Route: routeIceServers, Latency: mockserver.Duration(600 * time.Millisecond),
			Status: http.StatusUpgradeRequired, Detail: "CLIENT_VERSION_TOO_OLD: Reactor-WebRTC-Version 1.0 is older than this server accepts (2.0..2.0); upgrade the SDK"})
	})
	return versionRefusal(ctx, r, sc, http.StatusUpgradeRequired, "CLIENT_VERSION_TOO_OLD", isTransport)
}

// sdpPolls are the SDK's GETs of an SDP answer.
func (r *Run) sdpPolls() []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Method == http.MethodGet && strings.HasSuffix(e.Path, "/sdp_params") {
			out = append(out, e)
		}
	}
	return out
}

func checkSDPPollBound(ctx context.Context, r *Run) error {
	sc := ReadyScenario("sdp-never")
	sc.Timings.SDPAnswerPolls = 1000
	if err := r.Setup(ctx, sc); err != nil {
		return err
	}
	mark := r.Drv.EventCount()
	start := time.Now()
	// A long ready timeout: the Python driver bounds the SDK call by it.
	p, bound, err := r.StartConnect(ctx, ConnectOpts{ReadyTimeout: 30 * time.Second})
	if err != nil {
		return err
	}
	// Current SDKs give up after ~6.2 s of polling (JS) or ~12.7 s
	// (reactor-core's trailing sleep), a few seconds more on a loaded
	// machine; still polling 24 s after connect started means no limit.
	const window = 24 * time.Second
	_, cerr := p.WaitOrStop(ctx, bound+window, 250*time.Millisecond, func() string {
		if time.Since(start) > window {
			return "still polling"
		}
		return ""
	})
	gaveUp := !errors.Is(cerr, driver.ErrGaveUp)
	elapsed := time.Since(start)
	stopped := len(r.sdpPolls())
	time.Sleep(1500 * time.Millisecond)
	ps := r.sdpPolls()
	if len(ps) == 0 {
		return fmt.Errorf("%s never polled for the SDP answer (connect: %s)%s\njournal:\n%s", r.SDKName(), ErrText(cerr), r.PlaneHint(), DescribeEntries(r.HTTP(), 30))
	}
	gaps := gapsOf(ps)
	r.Note("%d SDP answer polls, gaps %s", len(ps), fmtGaps(gaps))
	var problems []string
	if !gaveUp {
		problems = append(problems, fmt.Sprintf("still trying %s after the offer, with %d polls so far (no limit)", elapsed.Round(time.Second), len(ps)))
	} else {
		rep := append([]string{ErrText(cerr)}, r.Reported(mark)...)
		if strings.TrimSpace(strings.Join(rep, "")) == "" {
			problems = append(problems, "gave up without telling the application")
		} else {
			r.Note("gave up after %s: %s", elapsed.Round(100*time.Millisecond), oneLine(strings.Join(rep, " | "), 250))
		}
	}
	if len(ps) > 6 {
		problems = append(problems, fmt.Sprintf("%d polls (max 6)", len(ps)))
	}
	if gaveUp && len(ps) > stopped {
		problems = append(problems, fmt.Sprintf("%d more polls after giving up", len(ps)-stopped))
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond}
	if r.Legacy() {
		want = nil // 500 ms ×2, unbounded: the bound above is what matters
	}
	problems = append(problems, gapCheck(gaps, want)...)
	if len(problems) > 0 {
		return fmt.Errorf("%s polling a withheld SDP answer: %s", r.SDKName(), strings.Join(problems, "; "))
	}
	return nil
}

// offerMids maps each a=mid of an SDP offer to its m-line kind.
func offerMids(sdp string) map[string]string {
	out := map[string]string{}
	for _, sec := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\nm=")[1:] {
		kind, _, _ := strings.Cut(sec, " ")
		for _, line := range strings.Split(sec, "\n") {
			if mid, ok := strings.CutPrefix(line, "a=mid:"); ok {
				out[strings.TrimSpace(mid)] = kind
			}
		}
	}
	return out
}

func checkTrackMapping(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("track-mapping")); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s sends no track_mapping (pre-overhaul offer inside POST /sessions)", r.SDKName())
	}
	_, cerr := r.Connect(ctx, ConnectOpts{ReadyTimeout: 10 * time.Second})
	var offer *mockserver.Entry
	for _, e := range r.HTTP() {
		if (e.Method == http.MethodPost || e.Method == http.MethodPut) && strings.HasSuffix(e.Path, "/sdp_params") {
			e := e
			offer = &e
			break
		}
	}
	if offer == nil {
		return fmt.Errorf("%s sent no SDP offer (connect: %s)%s", r.SDKName(), ErrText(cerr), r.PlaneHint())
	}
	var body struct {
		SDPOffer     string `json:"sdp_offer"`
		TrackMapping []struct {
			Mid       *string `json:"mid"`
			Name      string  `json:"name"`
			Kind      string  `json:"kind"`
			Direction string  `json:"direction"`
		} `json:"track_mapping"`
	}
	if err := json.Unmarshal(offer.Body, &body); err != nil || body.SDPOffer == "" {
		return fmt.Errorf("the offer body does not hold sdp_offer and track_mapping as JSON (journaled %d bytes): %v", offer.BodyBytes, err)
	}
	caps := capabilityTracks()
	mids := offerMids(body.SDPOffer)
	var p []string
	if len(body.TrackMapping) != len(caps) {
		p = append(p, fmt.Sprintf("%d track_mapping entries for %d capability tracks", len(body.TrackMapping), len(caps)))
	}
	seen := map[string]bool{}
	for i, tm := range body.TrackMapping {
		if i < len(caps) && (tm.Name != caps[i].Name || tm.Kind != caps[i].Kind || tm.Direction != caps[i].Direction) {
			p = append(p, fmt.Sprintf("entry %d is %s/%s/%s, capability %d is %s/%s/%s", i, tm.Name, tm.Kind, tm.Direction, i, caps[i].Name, caps[i].Kind, caps[i].Direction))
		}
		if tm.Mid == nil || *tm.Mid == "" {
			p = append(p, fmt.Sprintf("entry %d (%s) has no mid", i, tm.Name))
			continue
		}
		kind, ok := mids[*tm.Mid]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("entry %d (%s) names mid %q, which the offer does not have (offer mids: %v)", i, tm.Name, *tm.Mid, mids))
		case kind != tm.Kind:
			p = append(p, fmt.Sprintf("entry %d (%s, %s) names mid %q, a %s m-section", i, tm.Name, tm.Kind, *tm.Mid, kind))
		}
		if seen[*tm.Mid] {
			p = append(p, fmt.Sprintf("mid %q mapped twice", *tm.Mid))
		}
		seen[*tm.Mid] = true
	}
	if len(p) > 0 {
		return fmt.Errorf("%s's track_mapping %s: %s", r.SDKName(), jsonText(body.TrackMapping), strings.Join(p, "; "))
	}
	return nil
}

// capabilityTracks are the tracks of the model the mock serves.
func capabilityTracks() []wire.TrackSpec {
	m, ok := mockserver.LookupModel(Model)
	if !ok {
		return nil
	}
	return m.Capabilities().Tracks
}

// connectReadyOn connects with the ready scenario and returns the session.
func connectReadyOn(ctx context.Context, r *Run, name string) (string, error) {
	if err := r.Setup(ctx, ReadyScenario(name)); err != nil {
		return "", err
	}
	res, err := r.ConnectReady(ctx, ConnectOpts{})
	if err != nil {
		return "", err
	}
	return res.SID(), nil
}

func checkDisconnectDeletes(ctx context.Context, r *Run) error {
	sid, err := connectReadyOn(ctx, r, "disconnect")
	if err != nil {
		return err
	}
	mark := r.Drv.EventCount()
	jm := r.JournalMark()
	dr, err := r.Drv.Disconnect(ctx, false, 20*time.Second)
	if err != nil {
		return fmt.Errorf("disconnect: %s", ErrText(err))
	}
	time.Sleep(500 * time.Millisecond)
	var dels []mockserver.Entry
	for _, e := range After(r.HTTP(), jm) {
		if e.Method == http.MethodDelete {
			dels = append(dels, e)
		}
	}
	var p []string
	switch {
	case len(dels) == 0:
		p = append(p, "sent no DELETE")
	case len(dels) > 1:
		p = append(p, fmt.Sprintf("sent %d DELETEs: %s", len(dels), describeBrief(dels)))
	}
	for _, e := range dels {
		if e.Path != wire.SessionPath(sid) {
			p = append(p, fmt.Sprintf("DELETE went to %s, not %s", e.Path, wire.SessionPath(sid)))
		} else if e.Status/100 != 2 {
			p = append(p, fmt.Sprintf("DELETE answered %d %s", e.Status, e.Detail))
		}
	}
	if dr.Status != "disconnected" {
		p = append(p, fmt.Sprintf("status after disconnect is %q", dr.Status))
	}
	if dr.SessionID != nil && *dr.SessionID != "" {
		p = append(p, "the session id is still set after a non-recoverable disconnect")
	}
	if _, err := r.WaitStatus(ctx, mark, 3*time.Second, "disconnected"); err != nil && dr.Status != "disconnected" {
		p = append(p, "no disconnected status event")
	}
	if len(p) > 0 {
		return fmt.Errorf("%s disconnect(): %s", r.SDKName(), strings.Join(p, "; "))
	}
	return nil
}

// disconnectRecoverable calls disconnect(recoverable) and says whether the
// SDK supports it (the driver answers not_supported when it does not).
func (r *Run) disconnectRecoverable(ctx context.Context) (bool, error) {
	_, err := r.Drv.Disconnect(ctx, true, 20*time.Second)
	if errIsCode(err, "not_supported") {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("disconnect(recoverable): %s", ErrText(err))
	}
	return true, nil
}

func checkRecoverableKeeps(ctx context.Context, r *Run) error {
	sid, err := connectReadyOn(ctx, r, "recoverable")
	if err != nil {
		return err
	}
	jm := r.JournalMark()
	ok, err := r.disconnectRecoverable(ctx)
	if !ok {
		return NotApplicable("%s has no recoverable disconnect (disconnect() always ends the session; reconnect() from ready keeps it — sdk/lifecycle/13)", r.SDKName())
	}
	if err != nil {
		return err
	}
	time.Sleep(1500 * time.Millisecond)
	for _, e := range After(r.HTTP(), jm) {
		if e.Method == http.MethodDelete {
			return fmt.Errorf("%s sent %s on a recoverable disconnect", r.SDKName(), DescribeEntry(e, time.Time{}))
		}
	}
	st, err := r.Drv.State(ctx)
	if err == nil && (st.SessionID == nil || *st.SessionID != sid) {
		r.Note("after disconnect(true) the SDK's session id is %v (was %s)", st.SessionID, sid)
	}
	if snap, err := r.AdminSession(ctx, sid); err == nil {
		if snap.State == wire.StateClosed || snap.Deleted {
			return fmt.Errorf("the session is %s on the server after a recoverable disconnect", snap.State)
		}
		r.Note("server session state after disconnect(true): %s", snap.State)
	}
	return nil
}

// reconnectFromReady performs the SDK's reconnect from ready: a recoverable
// disconnect first where the SDK has one, then reconnect, which must reach
// ready again.
func (r *Run) reconnectFromReady(ctx context.Context) error {
	if _, err := r.disconnectRecoverable(ctx); err != nil {
		return err
	}
	mark := r.Drv.EventCount()
	res, err := r.Drv.Reconnect(ctx, driver.ConnectArgs{TimeoutMS: 10000}, 45*time.Second)
	if err != nil {
		return fmt.Errorf("reconnect: %s", ErrText(err))
	}
	if !res.Ready {
		return fmt.Errorf("reconnect left the SDK %q (warnings %v; reported %v)", res.Status, res.Warnings, r.Reported(mark))
	}
	return nil
}

// offers are the SDK's SDP offers (POST/PUT …/sdp_params).
func offers(es []mockserver.Entry) []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range es {
		if (e.Method == http.MethodPost || e.Method == http.MethodPut) && strings.HasSuffix(e.Path, "/sdp_params") {
			out = append(out, e)
		}
	}
	return out
}

var cidRe = regexp.MustCompile(`/connections/(\d+)/`)

func cidOf(path string) string {
	if m := cidRe.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return ""
}

func checkReconnectPut(ctx context.Context, r *Run) error {
	sid, err := connectReadyOn(ctx, r, "reconnect")
	if err != nil {
		return err
	}
	if !r.Has("reconnect") {
		return NotApplicable("%s has no reconnect", r.SDKName())
	}
	first := offers(r.HTTP())
	jm := r.JournalMark()
	if err := r.reconnectFromReady(ctx); err != nil {
		return fmt.Errorf("%s: %w", r.SDKName(), err)
	}
	after := After(r.HTTP(), jm)
	var p []string
	for _, e := range after {
		switch {
		case e.Method == http.MethodPost && e.Path == wire.PathSessions:
			p = append(p, "created a new session (POST /sessions)")
		case e.Method == http.MethodPost && strings.HasSuffix(e.Path, "/connections"):
			p = append(p, "registered a new connection (POST …/connections) instead of reusing its connection id")
		case e.Method == http.MethodDelete:
			p = append(p, "deleted the session")
		}
	}
	re := offers(after)
	if len(re) == 0 {
		p = append(p, "sent no new offer")
	}
	for _, e := range re {
		if e.Method != http.MethodPut {
			p = append(p, fmt.Sprintf("re-offered with %s %s (want PUT)", e.Method, shortPath(e.Path)))
		}
		if !strings.Contains(e.Path, sid) {
			p = append(p, fmt.Sprintf("re-offered on another session: %s", e.Path))
		}
		if len(first) > 0 && cidOf(first[0].Path) != cidOf(e.Path) {
			p = append(p, fmt.Sprintf("re-offered on connection %q, the first offer used %q", cidOf(e.Path), cidOf(first[0].Path)))
		}
		if e.Status/100 != 2 {
			p = append(p, fmt.Sprintf("the re-offer was answered %d %s", e.Status, e.Detail))
		}
	}
	r.Note("reconnect requests: %s", describeBrief(after))
	if len(p) > 0 {
		return fmt.Errorf("%s reconnect(): %s", r.SDKName(), strings.Join(uniq(p), "; "))
	}
	return nil
}

func checkEmptyTokenReconnect(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, PendingScenario("reconnect-while-waiting", 1000, 60*time.Second)); err != nil {
		return err
	}
	if !r.Has("reconnect") {
		return NotApplicable("%s has no reconnect", r.SDKName())
	}
	mark := r.Drv.EventCount()
	p, bound, err := r.StartConnect(ctx, ConnectOpts{ReadyTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	if _, err := r.Drv.WaitEvent(ctx, mark, 10*time.Second, func(e driver.Event) bool { return e.Name == "session_id" && e.String() != "null" }); err != nil {
		return fmt.Errorf("%s reported no session id while connecting: %v", r.SDKName(), err)
	}
	time.Sleep(300 * time.Millisecond)
	rmark := r.Drv.EventCount()
	jm := r.JournalMark()
	res, rerr := r.Drv.Reconnect(ctx, driver.ConnectArgs{Wait: "resolve", TimeoutMS: 5000}, 7*time.Second)
	switch {
	case rerr != nil:
		r.Note("reconnect while waiting: %s", oneLine(ErrText(rerr), 250))
	default:
		r.Note("reconnect while waiting: status %q, warnings %v, reported %v", res.Status, res.Warnings, r.Reported(rmark))
	}
	time.Sleep(time.Second)
	if _, err := r.Drv.Disconnect(ctx, false, 20*time.Second); err != nil {
		r.Note("disconnect: %s", ErrText(err))
	}
	_, _ = r.AwaitConnect(ctx, p, bound)
	var bad []string
	for _, e := range After(r.HTTP(), jm) {
		if e.Path == wire.PathTokens || strings.HasPrefix(e.Path, "/uploads/") {
			continue
		}
		if e.Auth != "bearer" {
			bad = append(bad, fmt.Sprintf("%s %s with Authorization %s → %d", e.Method, shortPath(e.Path), e.Auth, e.Status))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s, after reconnect() during waiting, sent unauthenticated requests: %s", r.SDKName(), strings.Join(bad, "; "))
	}
	return nil
}

func checkUploadFlow(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("uploads")); err != nil {
		return err
	}
	if !r.Has("upload_file") {
		return NotApplicable("%s has no upload_file", r.SDKName())
	}
	res, err := r.ConnectReady(ctx, ConnectOpts{})
	if err != nil {
		return err
	}
	sid := res.SID()
	const text = "reactor upload probe"
	jm := r.JournalMark()
	up, err := r.Drv.Upload(ctx, text, "probe.txt", "text/plain", 30*time.Second)
	if err != nil {
		return fmt.Errorf("%s upload_file: %s", r.SDKName(), ErrText(err))
	}
	var p []string
	var reserve, put *mockserver.Entry
	for _, e := range After(r.HTTP(), jm) {
		e := e
		switch {
		case e.Method == http.MethodPost && e.Path == wire.SessionPath(sid)+"/uploads":
			reserve = &e
		case e.Method == http.MethodPut && strings.HasPrefix(e.Path, "/uploads/"):
			put = &e
		}
	}
	if reserve == nil {
		p = append(p, "no POST /sessions/{id}/uploads")
	} else {
		var body map[string]any
		_ = json.Unmarshal(reserve.Body, &body)
		if body["name"] != "probe.txt" || body["mime_type"] != "text/plain" || body["size"] != float64(len(text)) {
			p = append(p, fmt.Sprintf("reservation body %s (want name probe.txt, size %d, mime_type text/plain)", string(reserve.Body), len(text)))
		}
		if reserve.Status != http.StatusCreated {
			p = append(p, fmt.Sprintf("reservation answered %d %s", reserve.Status, reserve.Detail))
		}
	}
	if put == nil {
		p = append(p, "no PUT of the bytes to the presigned URL")
	} else {
		if _, has := HeaderOK(*put, "Authorization"); has {
			p = append(p, "the presigned PUT carries an Authorization header")
		}
		if put.Status/100 != 2 {
			p = append(p, fmt.Sprintf("the presigned PUT answered %d %s", put.Status, put.Detail))
		}
		if put.BodyBytes != len(text) {
			p = append(p, fmt.Sprintf("the PUT carried %d bytes, want %d", put.BodyBytes, len(text)))
		}
	}
	if _, err := r.WaitDataChannel(ctx, sid, 0, 5*time.Second, func(e mockserver.Entry) bool {
		return strings.EqualFold(strings.ReplaceAll(e.Type, "_", ""), "fileuploaded")
	}); err != nil {
		p = append(p, "no fileUploaded notice on a data channel")
	}
	dcBefore := len(r.DataChannel(sid))
	if _, err := r.Drv.SendCommand(ctx, "set_image", map[string]any{}, map[string]string{"image": up.UploadID}, 20*time.Second); err != nil {
		p = append(p, "send_command set_image with the FileRef: "+ErrText(err))
	} else if e, err := r.WaitDataChannel(ctx, sid, dcBefore, 5*time.Second, func(e mockserver.Entry) bool { return e.Type == "set_image" }); err != nil {
		p = append(p, "set_image never reached the mock")
	} else if !strings.HasPrefix(e.Detail, "accepted") {
		p = append(p, fmt.Sprintf("the model refused set_image with the FileRef: %s", e.Detail))
	} else {
		time.Sleep(300 * time.Millisecond)
		if snap, ok := r.Mock.TransportSnapshot(sid); ok && snap.Model != nil && snap.Model.Image != nil && snap.Model.Image.UploadID != up.UploadID {
			p = append(p, fmt.Sprintf("the model's image is upload %s, not %s", snap.Model.Image.UploadID, up.UploadID))
		}
	}
	if len(p) > 0 {
		return fmt.Errorf("%s upload flow: %s\njournal:\n%s", r.SDKName(), strings.Join(p, "; "), DescribeEntries(After(r.Journal(mockserver.Filter{}), jm), 30))
	}
	return nil
}

func checkPollErrorFinal(ctx context.Context, r *Run) error {
	sc := PendingScenario("poll-503", 3, 0)
	sc.Faults = append(sc.Faults, mockserver.Fault{Route: routePoll, Nth: 2, Status: http.StatusServiceUnavailable, RetryAfter: 1,
		Detail: "injected: the coordinator is briefly unavailable"})
	if err := r.Setup(ctx, sc); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s does not poll the session", r.SDKName())
	}
	mark := r.Drv.EventCount()
	_, cerr := r.Connect(ctx, ConnectOpts{ReadyTimeout: 10 * time.Second})
	time.Sleep(1500 * time.Millisecond)
	sid := r.createdSession()
	ps := r.polls(sid)
	var p []string
	failedAt := -1
	for i, e := range ps {
		if e.Status == http.StatusServiceUnavailable {
			failedAt = i
			break
		}
	}
	if failedAt < 0 {
		return fmt.Errorf("the injected 503 was never served (polls: %s)", describeBrief(ps))
	}
	if n := len(ps) - failedAt - 1; n > 0 {
		p = append(p, fmt.Sprintf("polled %d more times after the 503 (retried)", n))
	}
	rep := append([]string{ErrText(cerr)}, r.Reported(mark)...)
	if strings.TrimSpace(strings.Join(rep, "")) == "" {
		p = append(p, "no error reached the application")
	}
	if _, err := r.WaitStatus(ctx, mark, 3*time.Second, "disconnected"); err != nil {
		p = append(p, "did not return to disconnected")
	}
	r.Note("reported: %s", oneLine(strings.Join(rep, " | "), 250))
	if len(p) > 0 {
		return fmt.Errorf("%s after a 503 on a session poll: %s", r.SDKName(), strings.Join(p, "; "))
	}
	return nil
}

func checkLocalNoAuth(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("local")); err != nil {
		return err
	}
	mark := r.Drv.EventCount()
	a := driver.ConnectArgs{APIURL: r.Mock.URL(), Model: Model, Local: true, TimeoutMS: 10000}
	// An SDK that ignores the URL in local mode would talk to whatever
	// listens on its fixed address: find out first, without network.
	created, err := r.Drv.Create(ctx, a, 15*time.Second)
	if err != nil {
		return fmt.Errorf("create in local mode: %s", ErrText(err))
	}
	if created.BaseURL != "" && strings.TrimRight(created.BaseURL, "/") != r.Mock.URL() {
		return NotApplicable("%s in local mode ignores the given URL and uses %s (cannot be pointed at the mock)", r.SDKName(), created.BaseURL)
	}
	cr, err := r.Drv.Connect(ctx, a, 40*time.Second)
	if cr != nil && cr.Status != "" {
		r.Note("local connect: status %q", cr.Status)
	}
	if err != nil {
		r.Note("local connect: %s", oneLine(ErrText(err), 250))
	}
	_, _ = r.Drv.Disconnect(ctx, false, 20*time.Second)
	reqs := r.HTTP()
	if len(reqs) == 0 {
		return fmt.Errorf("%s in local mode sent nothing to the mock (%s): %s", r.SDKName(), created.BaseURL,
			oneLine(ErrText(err)+" "+strings.Join(r.Reported(mark), "; "), 200))
	}
	var bad []string
	paths := map[string]bool{}
	for _, e := range reqs {
		paths[e.Method+" "+shortPath(e.Path)] = true
		if e.Auth != "none" {
			bad = append(bad, fmt.Sprintf("%s %s carries Authorization (%s: %q)", e.Method, shortPath(e.Path), e.Auth, Header(e, "Authorization")))
		}
	}
	r.Note("local-mode requests: %s", strings.Join(sortedKeys(paths), ", "))
	for _, e := range reqs {
		if e.Status == http.StatusNotFound && strings.HasPrefix(e.Detail, "no route") {
			r.Note("the mock has no local-runtime route for %s %s (404): the flow stops there", e.Method, e.Path)
			break
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("%s in local mode sent Authorization: %s", r.SDKName(), strings.Join(uniq(bad), "; "))
	}
	return nil
}
