package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// HarnessUserAgent marks the suite's own HTTP requests to the mock, so that
// journal queries can tell them from the SDK's.
const HarnessUserAgent = "reactor-harness-sdk-suite/1"

// Model is the model every case asks for (the mock's Helios).
const Model = "helios"

// Run is one execution of one case against one target: a fresh mock, a
// fresh driver process, the notes (findings) the case records.
type Run struct {
	Target *Target
	Case   *Case
	Dir    string // artifacts of this run (driver stderr, transcript)
	Mock   *mockserver.Server
	Drv    *driver.Driver
	Hello  *driver.Hello

	client   *http.Client
	prepared *driver.ConnectArgs // the args the SDK client was created with
	mu       sync.Mutex
	notes    []string
}

// Result is the outcome of Execute.
type Result struct {
	Verdict
	Notes   []string
	Elapsed time.Duration
	// Artifacts are attached to the report when the verdict is not a pass:
	// driver stderr tail, driver transcript tail, mock journal.
	Artifacts map[string]string
}

// Execute runs case c on target t. It never panics and never blocks past
// the case's timeout plus the bounded shutdown of the driver and the mock.
func Execute(ctx context.Context, t *Target, c *Case, dir string) (res *Result) {
	start := time.Now()
	res = &Result{Verdict: Verdict{Case: c.ID, Target: t.Key}, Artifacts: map[string]string{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Outcome, res.Message = OutcomeFail, "harness: cannot create the artifacts folder: "+err.Error()
		return res
	}
	r := &Run{Target: t, Case: c, Dir: dir,
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	cctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("harness panic: %v\n%s", p, debug.Stack())
			}
		}()
		err = c.Check(cctx, r)
	}()
	if err == nil && cctx.Err() != nil {
		err = fmt.Errorf("the case ran out of its %s budget", c.Timeout)
	}
	var na *NotApplicableError
	switch {
	case err == nil:
		res.Outcome = OutcomePass
	case errors.As(err, &na):
		res.Outcome, res.Message = OutcomeNA, na.Reason
	default:
		res.Outcome, res.Message = OutcomeFail, err.Error()
	}
	if r.Hello != nil {
		res.SDK = strings.TrimSpace(r.Hello.SDK.Name + " " + r.Hello.SDK.Version)
	}
	if res.Outcome == OutcomeFail {
		r.collectArtifacts(res.Artifacts)
	}
	r.close(res)
	res.Notes = r.Notes()
	res.Elapsed = time.Since(start)
	return res
}

func (r *Run) collectArtifacts(a map[string]string) {
	if r.Drv != nil {
		a["driver transcript (tail)"] = strings.Join(r.Drv.Tail(80), "\n")
		a["driver stderr (tail)"] = tailFile(filepath.Join(r.Dir, "driver.stderr.log"), 6000)
		a["driver process"] = fmt.Sprintf("pid %d, %s; full stderr and transcript in %s", r.Drv.Pid(), r.Drv.ExitStatus(), r.Dir)
		if bl := r.Drv.BadLines(); len(bl) > 0 {
			a["driver non-protocol stdout lines"] = strings.Join(bl, "\n")
		}
	}
	if r.Mock != nil {
		a["mock journal"] = DescribeEntries(r.Mock.Journal().Entries(mockserver.Filter{}), 120)
	}
}

func (r *Run) close(res *Result) {
	if r.Drv != nil {
		if p := r.Drv.Close(); p != "" {
			r.Note("driver shutdown: %s", p)
		}
	}
	if r.Mock != nil {
		_ = r.Mock.Close()
	}
}

func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// Note records a finding about the SDK; notes are attached to the report
// whatever the verdict.
func (r *Run) Note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, old := range r.notes {
		if old == n {
			return
		}
	}
	r.notes = append(r.notes, n)
}

// Notes returns the recorded findings.
func (r *Run) Notes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.notes...)
}

// ── mock ─────────────────────────────────────────────────────────────────

// Scenario returns the default scenario changed by edit.
func Scenario(name string, edit func(*mockserver.Scenario)) *mockserver.Scenario {
	sc := mockserver.DefaultScenario()
	sc.Name = name
	if edit != nil {
		edit(sc)
	}
	return sc
}

// StartMock starts a fresh mock on a loopback port with the scenario.
func (r *Run) StartMock(sc *mockserver.Scenario) error {
	if sc == nil {
		sc = mockserver.DefaultScenario()
	}
	m, err := newMock(sc)
	if err != nil {
		return fmt.Errorf("harness: mock: %w", err)
	}
	if err := m.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("harness: mock: %w", err)
	}
	r.Mock = m
	return nil
}

// newMock builds the mock the suite runs against.
func newMock(sc *mockserver.Scenario) (*mockserver.Server, error) {
	return mockserver.New(mockserver.WithScenario(sc))
}

// SetScenario replaces the running mock's scenario.
func (r *Run) SetScenario(sc *mockserver.Scenario) error { return r.Mock.SetScenario(sc) }

func (r *Run) do(ctx context.Context, method, path string, body any, hdr map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.Mock.URL()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", HarnessUserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

// MintJWT gets a token from the mock the documented way (POST /tokens with
// Reactor-API-Key); expiresAfter > 0 asks for that lifetime in seconds.
func (r *Run) MintJWT(ctx context.Context, expiresAfter int) (string, time.Time, error) {
	var body any
	if expiresAfter > 0 {
		body = map[string]any{"expires_after": expiresAfter}
	}
	st, b, err := r.do(ctx, http.MethodPost, wire.PathTokens, body, map[string]string{wire.HeaderAPIKey: r.Mock.APIKey()})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("harness: POST /tokens: %w", err)
	}
	var tr struct {
		JWT       string `json:"jwt"`
		ExpiresAt int64  `json:"expires_at"`
	}
	if st != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.JWT == "" {
		return "", time.Time{}, fmt.Errorf("harness: POST /tokens answered %d: %s", st, b)
	}
	return tr.JWT, time.Unix(tr.ExpiresAt, 0), nil
}

// ForceState moves a session to a state through the admin API.
func (r *Run) ForceState(ctx context.Context, sid, state string) error {
	st, b, err := r.do(ctx, http.MethodPost, "/__admin/sessions/"+sid+"/state", map[string]string{"state": state}, nil)
	if err != nil {
		return fmt.Errorf("harness: force %s: %w", state, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("harness: force %s answered %d: %s", state, st, b)
	}
	return nil
}

// AdminSession returns the admin view of one session.
func (r *Run) AdminSession(ctx context.Context, sid string) (*mockserver.SessionSnapshot, error) {
	st, b, err := r.do(ctx, http.MethodGet, "/__admin/sessions", nil, nil)
	if err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("harness: GET /__admin/sessions: %v %d", err, st)
	}
	var all []mockserver.SessionSnapshot
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].SessionID == sid {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("harness: the mock does not know session %s", sid)
}

// ── journal ──────────────────────────────────────────────────────────────

// Journal returns the mock's journal entries matching f.
func (r *Run) Journal(f mockserver.Filter) []mockserver.Entry { return r.Mock.Journal().Entries(f) }

// HTTP returns the HTTP requests the SDK side made (the harness's own and
// data-channel entries left out), oldest first.
func (r *Run) HTTP() []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range r.Mock.Journal().Entries(mockserver.Filter{}) {
		if e.Channel != "" || e.Method == "" || Header(e, "User-Agent") == HarnessUserAgent || isPreflight(e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// isPreflight tells a browser's CORS preflight: the browser sends it on its
// own before the SDK's request, so it says nothing about the SDK.
func isPreflight(e mockserver.Entry) bool {
	_, asks := HeaderOK(e, "Access-Control-Request-Method")
	return e.Method == "OPTIONS" && asks
}

// DataChannel returns the data-channel frames the mock received for a
// session ("" = any session).
func (r *Run) DataChannel(sid string) []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range r.Mock.Journal().Entries(mockserver.Filter{SessionID: sid}) {
		if e.Channel != "" {
			out = append(out, e)
		}
	}
	return out
}

// Header reads a journaled request header case-insensitively.
func Header(e mockserver.Entry, name string) string {
	v, _ := HeaderOK(e, name)
	return v
}

// HeaderOK is Header plus whether the header was present.
func HeaderOK(e mockserver.Entry, name string) (string, bool) {
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// DescribeEntry renders a journal entry on one line.
func DescribeEntry(e mockserver.Entry, t0 time.Time) string {
	off := ""
	if !t0.IsZero() {
		off = fmt.Sprintf("+%.3fs ", e.At().Sub(t0).Seconds())
	}
	if e.Channel != "" {
		s := fmt.Sprintf("#%d %s[%s channel, cid %d, %s] scope=%s type=%s", e.Seq, off, e.Channel, e.ConnectionID, e.Codec, e.Scope, e.Type)
		if e.Detail != "" {
			s += " detail=" + oneLine(e.Detail, 160)
		}
		return s
	}
	path := e.Path
	if e.Query != "" {
		path += "?" + e.Query
	}
	s := fmt.Sprintf("#%d %s%s %s → %d auth=%s", e.Seq, off, e.Method, path, e.Status, e.Auth)
	if e.Detail != "" {
		s += " detail=" + oneLine(e.Detail, 160)
	}
	if e.Fault != "" {
		s += " fault=" + e.Fault
	}
	if ua := Header(e, "User-Agent"); ua == HarnessUserAgent {
		s += " (harness)"
	}
	return s
}

// DescribeEntries renders up to max entries, one per line.
func DescribeEntries(es []mockserver.Entry, max int) string {
	if len(es) == 0 {
		return "(no entries)"
	}
	var t0 time.Time
	t0 = es[0].At()
	var b strings.Builder
	skip := 0
	if max > 0 && len(es) > max {
		skip = len(es) - max
		fmt.Fprintf(&b, "(%d earlier entries left out)\n", skip)
	}
	for _, e := range es[skip:] {
		b.WriteString(DescribeEntry(e, t0))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// ── driver ───────────────────────────────────────────────────────────────

// StartDriver starts the target's driver and says hello. The SDK must load
// and, for a built-in target, be the version the target names.
func (r *Run) StartDriver(ctx context.Context) error {
	d, err := driver.Start(driver.Config{Command: r.Target.Command, Dir: r.Target.Dir, Env: r.Target.Env,
		StderrPath: filepath.Join(r.Dir, "driver.stderr.log"), TranscriptPath: filepath.Join(r.Dir, "driver.transcript.log")})
	if err != nil {
		return fmt.Errorf("harness: cannot start the driver: %w", err)
	}
	r.Drv = d
	h, err := d.Hello(ctx)
	if err != nil {
		return fmt.Errorf("the driver did not answer hello: %w", err)
	}
	r.Hello = h
	if !h.SDK.Loaded {
		return fmt.Errorf("the driver could not load the SDK: %s", h.SDK.LoadError)
	}
	if r.Target.WantVersion != "" && h.SDK.Version != r.Target.WantVersion {
		return fmt.Errorf("target %s expects %s %s but the driver loaded %s %s; update the pin or the target",
			r.Target.Key, r.Target.WantSDK, r.Target.WantVersion, h.SDK.Name, h.SDK.Version)
	}
	if r.Target.WantSDK != "" && h.SDK.Name != r.Target.WantSDK {
		return fmt.Errorf("target %s expects SDK %s but the driver loaded %s", r.Target.Key, r.Target.WantSDK, h.SDK.Name)
	}
	return nil
}

// Setup starts the driver, then a mock with the scenario. A pre-overhaul
// SDK (hello sdk.protocol "legacy") gets the scenario in the legacy
// profile, which is the only one it can work with; SetupExact keeps the
// scenario's profile.
func (r *Run) Setup(ctx context.Context, sc *mockserver.Scenario) error {
	return r.setup(ctx, sc, true)
}

// SetupExact is Setup without the legacy-profile adaptation.
func (r *Run) SetupExact(ctx context.Context, sc *mockserver.Scenario) error {
	return r.setup(ctx, sc, false)
}

func (r *Run) setup(ctx context.Context, sc *mockserver.Scenario, adapt bool) error {
	if err := r.StartDriver(ctx); err != nil {
		return err
	}
	if sc == nil {
		sc = mockserver.DefaultScenario()
	}
	if adapt && r.Legacy() && sc.Profile != mockserver.ProfileLegacy {
		sc = sc.Clone()
		sc.Profile = mockserver.ProfileLegacy
		r.Note("%s speaks the pre-overhaul protocol: the mock runs the legacy profile for this case", r.SDKName())
	}
	return r.StartMock(sc)
}

// JournalMark is the sequence number of the newest journal entry; entries
// after it have Seq > mark.
func (r *Run) JournalMark() int64 {
	es := r.Mock.Journal().Entries(mockserver.Filter{})
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// After keeps the entries with Seq > mark.
func After(es []mockserver.Entry, mark int64) []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range es {
		if e.Seq > mark {
			out = append(out, e)
		}
	}
	return out
}

// Protocol is the SDK's signalling flow (hello sdk.protocol).
func (r *Run) Protocol() string { return r.Hello.SDK.Protocol }

// Legacy reports whether the SDK speaks the pre-overhaul protocol.
func (r *Run) Legacy() bool { return r.Hello.SDK.Protocol == driver.ProtocolLegacy }

// Has reads hello surface.has.
func (r *Run) Has(key string) bool { return r.Hello.Surface.Has[key] }

// SDKName is "name version" for messages.
func (r *Run) SDKName() string { return r.Hello.SDK.Name + " " + r.Hello.SDK.Version }

// Auth says how a connect authenticates.
type Auth int

const (
	// AuthJWT passes a JWT the harness minted (falling back to the API key
	// for an SDK that takes no JWT, such as reactor-sdk 0.x).
	AuthJWT Auth = iota
	// AuthAPIKey passes the API key: the SDK (or, for an SDK that only takes
	// JWTs, its driver) mints the token.
	AuthAPIKey
	// AuthEmpty passes an empty JWT string.
	AuthEmpty
	// AuthResolver hands the SDK a token resolver that mints a fresh JWT
	// (TTL seconds) from POST /tokens each time the SDK asks.
	AuthResolver
)

// AppAuth is how the SDK's documentation tells apps to authenticate: a
// token resolver where the SDK accepts one (js-sdk >= 2.10), else the API
// key (the SDK, or for a JWT-only SDK its driver, mints the token).
func (r *Run) AppAuth() Auth {
	if r.Has("token_resolver") {
		return AuthResolver
	}
	return AuthAPIKey
}

// ConnectOpts shape a connect.
type ConnectOpts struct {
	Auth Auth
	// TTL is the lifetime (s) of a harness-minted JWT; 0 = the scenario default.
	TTL int
	// Wait is "ready" (default) or "resolve".
	Wait string
	// ReadyTimeout is the driver's extra wait for ready (default 15 s).
	ReadyTimeout time.Duration
	// Bound is the harness's bound on the whole call (default ReadyTimeout
	// + 10 s); past it the driver is killed.
	Bound       time.Duration
	MaxAttempts int
	// Reuse connects the client an earlier PrepareClient created (same
	// instance, same credentials) instead of creating a new one.
	Reuse bool
	// Model is the model to ask for; "" is Model (Helios).
	Model string
}

// ConnectArgs builds the connect arguments for opts.
func (r *Run) ConnectArgs(ctx context.Context, o ConnectOpts) (driver.ConnectArgs, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 15 * time.Second
	}
	model := Model
	if o.Model != "" {
		model = o.Model
	}
	a := driver.ConnectArgs{APIURL: r.Mock.URL(), Model: model, Wait: o.Wait,
		TimeoutMS: int(o.ReadyTimeout / time.Millisecond), MaxAttempts: o.MaxAttempts}
	switch o.Auth {
	case AuthAPIKey:
		a.APIKey = r.Mock.APIKey()
	case AuthEmpty:
		empty := ""
		a.JWT = &empty
	case AuthResolver:
		a.APIKey = r.Mock.APIKey()
		a.Token = &driver.TokenArg{Mint: driver.TokenMint{ExpiresAfter: o.TTL}}
	default:
		jwt, _, err := r.MintJWT(ctx, o.TTL)
		if err != nil {
			return a, err
		}
		a.JWT = &jwt
	}
	return a, nil
}

// Connect connects the SDK and waits for the reply (bounded).
func (r *Run) Connect(ctx context.Context, o ConnectOpts) (*driver.ConnectResult, error) {
	p, bound, err := r.startConnect(ctx, o)
	if err != nil {
		return nil, err
	}
	var res driver.ConnectResult
	raw, err := p.WaitOrStop(ctx, bound, 250*time.Millisecond, r.answerStalled)
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &res)
	}
	var oe *driver.OpError
	if errors.As(err, &oe) && oe.Code == "timeout" && len(oe.Details) > 0 {
		_ = json.Unmarshal(oe.Details, &res)
	}
	return &res, err
}

// StartConnect sends connect without waiting for the reply; the second
// result is the bound to wait for it with.
func (r *Run) StartConnect(ctx context.Context, o ConnectOpts) (*driver.Pending, time.Duration, error) {
	return r.startConnect(ctx, o)
}

func (r *Run) startConnect(ctx context.Context, o ConnectOpts) (*driver.Pending, time.Duration, error) {
	var a driver.ConnectArgs
	if o.Reuse && r.prepared != nil {
		a = *r.prepared
		fresh, err := r.ConnectArgs(ctx, ConnectOpts{Auth: AuthAPIKey, Wait: o.Wait, ReadyTimeout: o.ReadyTimeout, MaxAttempts: o.MaxAttempts})
		if err != nil {
			return nil, 0, err
		}
		a.Wait, a.TimeoutMS, a.MaxAttempts = fresh.Wait, fresh.TimeoutMS, fresh.MaxAttempts
	} else {
		var err error
		if a, err = r.ConnectArgs(ctx, o); err != nil {
			return nil, 0, err
		}
		if err := r.PrepareClient(ctx, &a); err != nil {
			return nil, 0, err
		}
	}
	bound := o.Bound
	if bound == 0 {
		bound = time.Duration(a.TimeoutMS)*time.Millisecond + 10*time.Second
	}
	p, err := r.Drv.Go("connect", a)
	return p, bound, err
}

// PrepareClient creates the SDK client with the connect arguments (no
// network). An SDK whose constructor takes no JWT (reactor-sdk 0.x: the
// driver answers not_supported) gets the API key instead, and mints its own.
func (r *Run) PrepareClient(ctx context.Context, a *driver.ConnectArgs) error {
	_, err := r.Drv.Create(ctx, *a, 15*time.Second)
	var oe *driver.OpError
	if a.JWT != nil && errors.As(err, &oe) && oe.Code == "not_supported" && strings.Contains(strings.ToLower(oe.Message), "jwt") {
		r.Note("%s takes no JWT: it was given the API key and mints its own token", r.SDKName())
		a.JWT, a.APIKey = nil, r.Mock.APIKey()
		_, err = r.Drv.Create(ctx, *a, 15*time.Second)
	}
	if errors.As(err, &oe) && oe.Code == "bad_state" {
		return nil // a client is already connected; connect decides
	}
	if err != nil {
		return fmt.Errorf("harness: create the SDK client: %w", err)
	}
	pa := *a
	r.prepared = &pa
	return nil
}

// ConnectReady connects and requires ready, explaining a failure with what
// the SDK reported and, when the mock has no WebRTC plane, saying so.
func (r *Run) ConnectReady(ctx context.Context, o ConnectOpts) (*driver.ConnectResult, error) {
	mark := r.Drv.EventCount()
	res, err := r.Connect(ctx, o)
	if err == nil && res != nil && res.Ready {
		r.legacyReadyGate(ctx, res)
		return res, nil
	}
	msg := describeOpErr(err, res)
	if rep := r.Reported(mark); len(rep) > 0 && err == nil {
		msg += "; it reported: " + oneLine(strings.Join(rep, " | "), 300)
	}
	return res, fmt.Errorf("%s did not reach ready: %s%s", r.SDKName(), msg, r.PlaneHint())
}

// legacyReadyGate: a pre-overhaul SDK (JS 2.2.1) reports ready as soon as
// its peer connection connects (PROTOCOL.md §2.3), possibly before its data
// channel is open, and drops a command sent in that window with only a
// console warning. Cases that send at ready judge other things, so for such
// an SDK the harness waits (at most 5 s) until the mock has seen the data
// channel open, which the client opened first, and notes the gap.
func (r *Run) legacyReadyGate(ctx context.Context, res *driver.ConnectResult) {
	if !r.Legacy() || r.Mock == nil {
		return
	}
	sid := res.SID()
	start := time.Now()
	for waited := false; ; waited = true {
		if snap, ok := r.Mock.TransportSnapshot(sid); ok {
			for _, c := range snap.Connections {
				if c.Peer != nil && c.Peer.Data != nil && c.Peer.Data.Open {
					if waited {
						r.Note("%s reported ready before its data channel was open (its ready gate is the peer connection only): the mock saw the channel open up to %s after ready; a command sent in that window is dropped with a console warning",
							r.SDKName(), time.Since(start).Round(time.Millisecond))
					}
					return
				}
			}
		}
		if time.Since(start) > 5*time.Second {
			r.Note("%s reported ready, but the mock saw no open data channel within 5s", r.SDKName())
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func describeOpErr(err error, res *driver.ConnectResult) string {
	if err != nil {
		return err.Error()
	}
	if res == nil {
		return "no result"
	}
	return fmt.Sprintf("connect returned status %q, ready=%v, last_error=%s", res.Status, res.Ready, string(res.LastError))
}

// PlaneHint explains a failure caused by the mock lacking its WebRTC plane
// (signalling routes answer 404 "no route").
func (r *Run) PlaneHint() string {
	for _, e := range r.HTTP() {
		if e.Status == http.StatusNotFound && strings.Contains(e.Path, "/transport/webrtc") && strings.HasPrefix(e.Detail, "no route") {
			return fmt.Sprintf(" [mock: no WebRTC plane — %s %s answered 404 %q]", e.Method, e.Path, e.Detail)
		}
		if e.Status == http.StatusNotFound && strings.Contains(e.Path, "sdp_params") && strings.HasPrefix(e.Detail, "no route") {
			return fmt.Sprintf(" [mock: no WebRTC plane — %s %s answered 404]", e.Method, e.Path)
		}
	}
	return ""
}

// answerStalled says why waiting for a connect is pointless: the SDK keeps
// polling for an SDP answer that the mock will never produce (every poll
// answered 202 while the mock negotiates nothing), which is how a missing
// legacy answerer shows up. "" while waiting still makes sense.
func (r *Run) answerStalled() string {
	if r.Mock.Scenario().Timings.SDPAnswerPolls > 0 {
		return "" // withheld on purpose
	}
	var polls []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Method == http.MethodGet && strings.HasSuffix(e.Path, "/sdp_params") {
			if e.Status != http.StatusAccepted {
				return ""
			}
			polls = append(polls, e)
		}
	}
	if len(polls) < 4 {
		return ""
	}
	sid := polls[0].SessionID
	if snap, ok := r.Mock.TransportSnapshot(sid); ok {
		for _, c := range snap.Connections {
			if c.Negotiating || c.AnswerStaged || c.Peer != nil {
				return ""
			}
		}
	}
	return fmt.Sprintf("the mock answered 202 to all %d SDP-answer polls (%s) and is negotiating nothing for session %s: it will never answer this offer",
		len(polls), shortPath(polls[0].Path), sid)
}

// AwaitConnect waits for a connect started with StartConnect (see Connect).
func (r *Run) AwaitConnect(ctx context.Context, p *driver.Pending, bound time.Duration) (*driver.ConnectResult, error) {
	var res driver.ConnectResult
	raw, err := p.WaitOrStop(ctx, bound, 250*time.Millisecond, r.answerStalled)
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &res)
	}
	if err == nil && res.Ready {
		r.legacyReadyGate(ctx, &res)
	}
	return &res, err
}

// WaitStatus waits for a status event (Seq >= from) with one of values.
func (r *Run) WaitStatus(ctx context.Context, from int, timeout time.Duration, values ...string) (driver.Event, error) {
	ev, err := r.Drv.WaitEvent(ctx, from, timeout, driver.Status(values...))
	if err != nil {
		return ev, fmt.Errorf("%s: no status %s within %s (%v); statuses seen: %s", r.SDKName(),
			strings.Join(values, "/"), timeout, err, strings.Join(r.Statuses(0), " → "))
	}
	return ev, nil
}

// Statuses lists the status events from Seq from on.
func (r *Run) Statuses(from int) []string {
	var out []string
	for _, e := range r.Drv.Events() {
		if e.Seq >= from && e.Name == "status" {
			out = append(out, e.String())
		}
	}
	return out
}

// Reported gathers what the SDK told the application from event Seq from on:
// error events, logged errors, warnings — one line each.
func (r *Run) Reported(from int) []string {
	var out []string
	for _, e := range r.Drv.Events() {
		if e.Seq < from {
			continue
		}
		switch e.Name {
		case "error", "warning", "log":
			var m map[string]any
			if e.Decode(&m) == nil {
				code, _ := m["code"].(string)
				msg, _ := m["message"].(string)
				first, _, _ := strings.Cut(msg, "\n")
				out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Name, code, first)))
			}
		}
	}
	return out
}

// ErrText is the text of an op error including the SDK's last error.
func ErrText(err error) string {
	if err == nil {
		return ""
	}
	var oe *driver.OpError
	if errors.As(err, &oe) {
		return fmt.Sprintf("%s: %s %s", oe.Code, oe.Message, string(oe.Details))
	}
	return err.Error()
}

// sortedKeys returns map keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
