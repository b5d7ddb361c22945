package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testTimeout = 20 * time.Second

// frameSink collects frames from OnFrame without blocking the reader.
type frameSink struct {
	ch chan Frame
}

func newFrameSink() *frameSink { return &frameSink{ch: make(chan Frame, 4096)} }

func (s *frameSink) on(f Frame) {
	select {
	case s.ch <- f:
	default:
	}
}

// collect waits for n frames (complete ones if complete) or fails.
func (s *frameSink) collect(t *testing.T, n int, keep func(Frame) bool) []Frame {
	t.Helper()
	var out []Frame
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case f := <-s.ch:
			if keep == nil || keep(f) {
				out = append(out, f)
			}
		case <-deadline:
			t.Fatalf("got %d frames in 10 s, want %d", len(out), n)
		}
	}
	return out
}

func (s *frameSink) drain() {
	for range cap(s.ch) {
		select {
		case <-s.ch:
		default:
			return
		}
	}
}

type msgSink struct {
	mu   sync.Mutex
	msgs []Message
}

func (s *msgSink) on(m Message) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
}

func (s *msgSink) find(typ string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.Type == typ {
			return m, true
		}
	}
	return Message{}, false
}

// eventually polls cond every 10 ms for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func newTestClient(t *testing.T, f *fake, mutate func(*Config)) *Client {
	t.Helper()
	api, err := NewAPI(APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	cfg := Config{BaseURL: f.srv.URL, APIKey: fakeAPIKey, HTTPClient: &http.Client{Transport: tr}, API: api}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		tr.CloseIdleConnections()
	})
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// route names a journal entry by its route pattern.
var routeRE = []struct {
	re   *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`^/tokens$`), "tokens"},
	{regexp.MustCompile(`^/sessions$`), "sessions"},
	{regexp.MustCompile(`^/sessions/[^/]+$`), "session"},
	{regexp.MustCompile(`/transport/webrtc/ice_servers$`), "ice_servers"},
	{regexp.MustCompile(`/transport/webrtc/connections$`), "connections"},
	{regexp.MustCompile(`/connections/\d+/sdp_params$`), "sdp_params"},
	{regexp.MustCompile(`/connections/\d+/ice_candidates$`), "ice_candidates"},
	{regexp.MustCompile(`^/sessions/[^/]+/uploads$`), "uploads"},
	{regexp.MustCompile(`^/uploads/`), "upload_put"},
}

func routeOf(e journalEntry) string {
	for _, r := range routeRE {
		if r.re.MatchString(e.Path) {
			return e.Method + " " + r.name
		}
	}
	return e.Method + " " + e.Path
}

func (f *fake) entries() []journalEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.journal)
}

func (f *fake) dcEntries() []dcEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.dc)
}

func (f *fake) sawDC(typ string) (dcEntry, bool) {
	for _, e := range f.dcEntries() {
		if e.Type == typ {
			return e, true
		}
	}
	return dcEntry{}, false
}

// routes lists the journal's routes with consecutive repeats collapsed.
func routes(entries []journalEntry) []string {
	var out []string
	for _, e := range entries {
		r := routeOf(e)
		if len(out) == 0 || out[len(out)-1] != r {
			out = append(out, r)
		}
	}
	return out
}

// checkHeaders asserts the headers of every request of the connect flow.
func checkHeaders(t *testing.T, entries []journalEntry) {
	t.Helper()
	for _, e := range entries {
		r := routeOf(e)
		h := e.Header
		switch r {
		case "POST tokens":
			if h.Get(wire.HeaderAPIKey) != fakeAPIKey || h.Get(wire.HeaderAuthorization) != "" {
				t.Errorf("%s: API key %q, Authorization %q", r, h.Get(wire.HeaderAPIKey), h.Get(wire.HeaderAuthorization))
			}
			continue
		case "PUT upload_put":
			if h.Get(wire.HeaderAuthorization) != "" {
				t.Errorf("%s carries Authorization", r)
			}
			continue
		}
		if got := h.Get(wire.HeaderAuthorization); got != "Bearer "+fakeJWT {
			t.Errorf("%s: Authorization %q", r, got)
		}
		if h.Get(wire.HeaderAPIVersion) != "1" || h.Get(wire.HeaderAPIAcceptVersion) != "1" {
			t.Errorf("%s: API version headers %q / %q", r, h.Get(wire.HeaderAPIVersion), h.Get(wire.HeaderAPIAcceptVersion))
		}
		transport := strings.Contains(e.Path, "/transport/webrtc/")
		if got := h.Get(wire.HeaderWebRTCVersion); transport != (got == "1.0") {
			t.Errorf("%s: %s %q", r, wire.HeaderWebRTCVersion, got)
		}
		if len(e.Body) > 0 && h.Get("Content-Type") != "application/json" {
			t.Errorf("%s: body with Content-Type %q", r, h.Get("Content-Type"))
		}
	}
}

// sdpMids returns the mids of the SDP's media sections in order, with
// their directions, skipping the data-channel section.
func sdpMids(sdp string) (mids, dirs []string) {
	for _, sec := range strings.Split(sdp, "m=")[1:] {
		if strings.HasPrefix(sec, "application") {
			continue
		}
		var mid, dir string
		for _, line := range strings.Split(sec, "\n") {
			line = strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "a=mid:"):
				mid = strings.TrimPrefix(line, "a=mid:")
			case line == "a=recvonly" || line == "a=sendonly" || line == "a=sendrecv" || line == "a=inactive":
				dir = strings.TrimPrefix(line, "a=")
			}
		}
		mids, dirs = append(mids, mid), append(dirs, dir)
	}
	return mids, dirs
}

func TestConnectV1FullFlow(t *testing.T) {
	f := newFake(t, fakeOptions{pollsBeforeReady: 2})
	frames := newFrameSink()
	var msgs msgSink
	var statuses []Status
	var smu sync.Mutex
	c := newTestClient(t, f, func(cfg *Config) {
		cfg.Codec = CodecV1
		cfg.WaitFirstFrame = true
		cfg.OnFrame = frames.on
		cfg.OnMessage = msgs.on
		cfg.OnStatus = func(s Status) { smu.Lock(); statuses = append(statuses, s); smu.Unlock() }
		cfg.SessionPoll = Backoff{Initial: 10 * time.Millisecond, Factor: 2, Max: 50 * time.Millisecond, Attempts: 20}
	})
	ctx := ctxT(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Status() != StatusReady || c.SessionID() != fakeSessionID || c.ConnectionID() != fakeCID {
		t.Fatalf("status %s session %q cid %d", c.Status(), c.SessionID(), c.ConnectionID())
	}
	if caps := c.Capabilities(); caps == nil || len(caps.Tracks) != 2 {
		t.Fatalf("capabilities %+v", caps)
	}
	smu.Lock()
	if want := []Status{StatusConnecting, StatusWaiting, StatusReady}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	smu.Unlock()

	// Timings: every phase ran and took time; polls counted.
	tm := c.Timings()
	phases := map[string]time.Duration{"Token": tm.Token, "Create": tm.Create, "Ready": tm.Ready, "ICEServers": tm.ICEServers,
		"Register": tm.Register, "Offer": tm.Offer, "Signalling": tm.Signalling, "ICEConnect": tm.ICEConnect,
		"ChannelsOpen": tm.ChannelsOpen, "FirstFrame": tm.FirstFrame}
	var sum time.Duration
	for name, d := range phases {
		// A frame may beat the ready event (its reader goroutine runs before
		// becomeReady); FirstFrame is then 0 by definition.
		if d <= 0 && (name != "FirstFrame" || tm.FirstFrameAt.After(tm.ReadyAt)) {
			t.Errorf("timing %s = %s, want > 0", name, d)
		}
		sum += d
	}
	frameOrder := tm.FirstFrame == 0 || !tm.FirstFrameAt.Before(tm.ReadyAt)
	if tm.Total < sum-tm.FirstFrame || tm.SessionPolls != 3 || tm.SDPPolls < 1 || tm.ReadyAt.IsZero() || tm.FirstFrameAt.IsZero() || !frameOrder {
		t.Errorf("timings %+v (sum of phases %s)", tm, sum)
	}
	if tm.Ready < 10*time.Millisecond+20*time.Millisecond {
		t.Errorf("Ready %s does not include the poll sleeps", tm.Ready)
	}

	// Phase order on the wire and headers on every request.
	wantOrder := []string{"POST tokens", "POST sessions", "GET session", "GET ice_servers", "POST connections",
		"POST sdp_params", "GET sdp_params"}
	if got := routes(f.entries()); !slices.Equal(got, wantOrder) {
		t.Errorf("request order\n got %v\nwant %v", got, wantOrder)
	}
	checkHeaders(t, f.entries())
	var create wire.CreateSessionRequest
	if err := json.Unmarshal(f.entries()[1].Body, &create); err != nil {
		t.Fatal(err)
	}
	if create.Model == nil || create.Model.Name != "helios" || create.ClientInfo == nil || create.ClientInfo.SDKType != "go-harness" ||
		create.ClientInfo.SDKVersion != Version || len(create.SupportedTransports) != 1 || create.SupportedTransports[0] != (wire.Transport{Protocol: "webrtc", Version: "1.0"}) {
		t.Errorf("create body %s", f.entries()[1].Body)
	}

	// track_mapping: real mids of the offer, in capability order.
	f.mu.Lock()
	offer := f.offers[0]
	f.mu.Unlock()
	mids, dirs := sdpMids(offer.SDPOffer)
	if len(offer.TrackMapping) != len(fakeCaps.Tracks) || len(mids) != len(fakeCaps.Tracks) {
		t.Fatalf("track_mapping %+v, SDP mids %v", offer.TrackMapping, mids)
	}
	for i, m := range offer.TrackMapping {
		spec := fakeCaps.Tracks[i]
		if m.MID != mids[i] || m.Name != spec.Name || m.Kind != spec.Kind || m.Direction != spec.Direction || dirs[i] != spec.Direction {
			t.Errorf("track_mapping[%d] = %+v; SDP mid %q direction %q; capability %+v", i, m, mids[i], dirs[i], spec)
		}
	}
	if offer.ClientInfo == nil || offer.ClientInfo.SDKType != SDKType {
		t.Errorf("offer client_info %+v", offer.ClientInfo)
	}

	// Auto-resume: resume_track for the recvonly track only (the fake
	// fails the test on a resume for any other track), as v1.
	eventually(t, "v1 resume_track", func() bool {
		e, ok := f.sawDC("resume_track")
		return ok && e.Codec == CodecV1 && e.Data["name"] == "main_video"
	})

	// Frames: reassembled, complete, stamped, in order.
	got := frames.collect(t, 10, nil)
	for i, fr := range got {
		if !fr.Complete || fr.Packets != framePackets || fr.Bytes != framePackets*200 || fr.Track != "main_video" || fr.Kind != "video" {
			t.Fatalf("frame %d: %+v", i, fr)
		}
		if fr.Stamp == nil || fr.AbsCapture.IsZero() || fr.AbsCapture.UnixMicro() != fr.Stamp.CaptureMicros {
			t.Fatalf("frame %d: stamp %+v abs %v", i, fr.Stamp, fr.AbsCapture)
		}
		if lat := fr.Latency(); lat < 0 || lat > 2*time.Second {
			t.Fatalf("frame %d: latency %s", i, lat)
		}
		// NewAPI stamps arrivals at the socket: the track reader had the
		// frame after it arrived (wall clock: allow a millisecond).
		if fr.Read.IsZero() || fr.Read.Before(fr.Arrival.Add(-time.Millisecond)) {
			t.Fatalf("frame %d: arrival %v, read %v", i, fr.Arrival, fr.Read)
		}
		if i > 0 && (fr.Stamp.Seq != got[i-1].Stamp.Seq+1 || fr.SeqGapBefore != 0) {
			t.Fatalf("frame %d: seq %d after %d, gap %d", i, fr.Stamp.Seq, got[i-1].Stamp.Seq, fr.SeqGapBefore)
		}
	}
	if !got[0].Keyframe && got[0].Stamp.Seq == 1 {
		t.Errorf("first frame is not a keyframe")
	}

	// v1 commands: correlated responses, typed errors, bodyless acks.
	reply, err := c.SendCommand(ctx, "echo", map[string]any{"prompt": "a cat"})
	if err != nil {
		t.Fatal(err)
	}
	if reply == nil || reply.Type != "echo" || reply.RequestID != "data_1" || reply.Kind != KindResponse || reply.Data["prompt"] != "a cat" {
		t.Fatalf("echo reply %+v", reply)
	}
	eventually(t, "progress notification", func() bool { _, ok := msgs.find("progress"); return ok })
	if m, _ := msgs.find("progress"); m.Kind != KindNotification || m.Scope != ScopeApplication || m.Channel != LabelData {
		t.Errorf("notification %+v", m)
	}
	if _, ok := msgs.find("echo"); ok {
		t.Error("a correlated response also reached OnMessage")
	}
	_, err = c.SendCommand(ctx, "fail", nil)
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != "invalid_command" || ce.Detail != "prompt: required" || ce.Phase != PhaseCommand || !errors.Is(err, ErrRemote) {
		t.Fatalf("fail command error %v", err)
	}
	ack, err := c.SendCommand(ctx, "silent", map[string]any{})
	if err != nil || ack == nil || ack.Type != "" || ack.RequestID != "data_3" {
		t.Fatalf("ack %+v, %v", ack, err)
	}
	// The fake stamps applied commands on later frames.
	frames.drain()
	eventually(t, "command id in frame stamps", func() bool {
		select {
		case fr := <-frames.ch:
			return fr.Stamp != nil && fr.Stamp.CommandID == 2
		default:
			return false
		}
	})

	// Ping: request_schema round trip on control.
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 || rtt > 5*time.Second {
		t.Fatalf("ping %s, %v", rtt, err)
	}
	if e, ok := f.sawDC("request_schema"); !ok || e.RequestID != "ctrl_1" {
		t.Errorf("request_schema %+v", e)
	}
	if _, ok := msgs.find(wirev0.TypeModelSchema); ok {
		t.Error("the Ping reply reached OnMessage")
	}

	// Upload, then reference it in a command.
	img := []byte("\x89PNG fake image bytes")
	ref, err := c.Upload(ctx, "cat.png", "image/png", img)
	if err != nil {
		t.Fatal(err)
	}
	if ref != (wire.FileRef{UploadID: fakeUploadID, Name: "cat.png", MimeType: "image/png", Size: int64(len(img))}) {
		t.Fatalf("ref %+v", ref)
	}
	f.mu.Lock()
	stored, putHeader := f.uploads[fakeUploadID], f.putHeader
	f.mu.Unlock()
	if string(stored) != string(img) || putHeader.Get("Authorization") != "" || putHeader.Get("Content-Type") != "image/png" {
		t.Errorf("upload stored %q, headers %v", stored, putHeader)
	}
	eventually(t, "file_uploaded", func() bool {
		e, ok := f.sawDC("file_uploaded")
		return ok && e.Channel == LabelControl && e.Data["upload_id"] == fakeUploadID
	})
	if _, err := c.SendCommand(ctx, "restyle", map[string]any{"image": ref, "strength": 0.5}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "restyle at the fake", func() bool { _, ok := f.sawDC("restyle"); return ok })
	e, _ := f.sawDC("restyle")
	if e.Uploads["image"] != ref || e.Data["strength"] != 0.5 || e.Data["image"] != nil {
		t.Errorf("restyle command %+v", e)
	}
	checkHeaders(t, f.entries())

	// Track stats and pause.
	if st := c.TrackStats(); len(st) != 1 || st[0].Track != "main_video" || st[0].Frames == 0 || st[0].Codec != "video/VP8" {
		t.Errorf("track stats %+v", st)
	}
	if err := c.PauseTrack("main_video"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pause_track", func() bool { _, ok := f.sawDC("pause_track"); return ok })

	// Non-recoverable disconnect deletes the session.
	if err := c.Disconnect(ctx, false); err != nil {
		t.Fatal(err)
	}
	last := f.entries()[len(f.entries())-1]
	if routeOf(last) != "DELETE session" || last.Status != http.StatusNoContent {
		t.Errorf("last request %s %d, want DELETE session 204", routeOf(last), last.Status)
	}
	if c.SessionID() != "" || c.Status() != StatusDisconnected {
		t.Errorf("after disconnect: session %q status %s", c.SessionID(), c.Status())
	}
	if _, err := c.SendCommand(ctx, "echo", nil); !errors.Is(err, ErrNotReady) {
		t.Errorf("command after disconnect: %v", err)
	}
}

func TestConnectV0ReconnectAndRecoverableDisconnect(t *testing.T) {
	f := newFake(t, fakeOptions{deleteStatus: http.StatusNotFound})
	frames := newFrameSink()
	var msgs msgSink
	c := newTestClient(t, f, func(cfg *Config) {
		cfg.APIKey, cfg.JWT = "", fakeJWT
		cfg.Codec = CodecV0
		cfg.OnFrame = frames.on
		cfg.OnMessage = msgs.on
		cfg.Heartbeat = true
		cfg.HeartbeatInterval = 30 * time.Millisecond
	})
	ctx := ctxT(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if tm := c.Timings(); tm.Token != 0 || tm.Create <= 0 {
		t.Errorf("static JWT: timings %+v", tm)
	}
	eventually(t, "v0 resume_track", func() bool {
		e, ok := f.sawDC(wirev0.EventResumeTrack)
		return ok && e.Codec == CodecV0 && e.Channel == LabelControl && e.Data["name"] == "main_video"
	})
	first := frames.collect(t, 3, func(f Frame) bool { return f.Complete })
	if first[0].Stamp == nil {
		t.Fatal("no frame stamp")
	}
	// v0 commands are fire-and-forget.
	reply, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "a dog"})
	if reply != nil || err != nil {
		t.Fatalf("v0 command: %+v, %v", reply, err)
	}
	eventually(t, "v0 command at the fake", func() bool {
		e, ok := f.sawDC("set_prompt")
		return ok && e.Codec == CodecV0 && e.Channel == LabelData && e.Data["prompt"] == "a dog"
	})
	eventually(t, "v0 model message", func() bool {
		m, ok := msgs.find("progress")
		return ok && m.Scope == ScopeApplication && m.Codec == CodecV0
	})
	rtt, err := c.Ping(ctx)
	if err != nil || rtt <= 0 {
		t.Fatalf("v0 ping %s, %v", rtt, err)
	}
	eventually(t, "heartbeat pings", func() bool { _, ok := f.sawDC(wirev0.TypePing); return ok })

	// Recoverable disconnect: no DELETE, session kept.
	before := len(f.entries())
	if err := c.Disconnect(ctx, true); err != nil {
		t.Fatal(err)
	}
	if n := len(f.entries()); n != before {
		t.Fatalf("recoverable disconnect sent %d requests: %v", n-before, routes(f.entries()[before:]))
	}
	if c.SessionID() != fakeSessionID || c.Status() != StatusDisconnected {
		t.Fatalf("after recoverable disconnect: session %q status %s", c.SessionID(), c.Status())
	}

	// Reconnect: PUT on the same cid, new peer connection, frames again.
	frames.drain()
	if err := c.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	after := f.entries()[before:]
	if got, want := routes(after), []string{"GET ice_servers", "PUT sdp_params", "GET sdp_params"}; !slices.Equal(got, want) {
		t.Errorf("reconnect requests %v, want %v", got, want)
	}
	for _, e := range after {
		if strings.Contains(e.Path, "/sdp_params") && !strings.Contains(e.Path, "/connections/4242/") {
			t.Errorf("reconnect used %s", e.Path)
		}
	}
	checkHeaders(t, f.entries())
	tm := c.Timings()
	if !tm.Reconnect || tm.Create != 0 || tm.Register != 0 || tm.Signalling <= 0 || tm.ICEConnect <= 0 || tm.Total <= 0 {
		t.Errorf("reconnect timings %+v", tm)
	}
	again := frames.collect(t, 3, func(f Frame) bool { return f.Complete })
	if again[0].Stamp == nil {
		t.Fatal("no stamp after reconnect")
	}

	// Non-recoverable disconnect: DELETE answered 404 counts as success.
	if err := c.Disconnect(ctx, false); err != nil {
		t.Fatalf("DELETE 404 should succeed: %v", err)
	}
	last := f.entries()[len(f.entries())-1]
	if routeOf(last) != "DELETE session" || last.Status != http.StatusNotFound || c.SessionID() != "" {
		t.Errorf("last %s %d, session %q", routeOf(last), last.Status, c.SessionID())
	}
}

func TestTrickleAndJWTResolver(t *testing.T) {
	f := newFake(t, fakeOptions{})
	var calls atomic.Int32
	frames := newFrameSink()
	c := newTestClient(t, f, func(cfg *Config) {
		cfg.APIKey = ""
		cfg.JWTFunc = func(context.Context) (string, error) { calls.Add(1); return fakeJWT, nil }
		cfg.Trickle = true
		cfg.Codec = CodecV1
		cfg.WaitFirstFrame = true
		cfg.OnFrame = frames.on
	})
	ctx := ctxT(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "final trickle batch", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.cands) > 0 && f.cands[len(f.cands)-1].IsFinal
	})
	f.mu.Lock()
	var n int
	for i, b := range f.cands {
		n += len(b.Candidates)
		if b.IsFinal != (i == len(f.cands)-1) {
			t.Errorf("batch %d is_final %v", i, b.IsFinal)
		}
		if b.ClientInfo == nil || b.ClientInfo.SDKType != SDKType {
			t.Errorf("batch %d client_info %+v", i, b.ClientInfo)
		}
	}
	batches := len(f.cands)
	f.mu.Unlock()
	if n == 0 {
		t.Error("no candidates trickled")
	}
	checkHeaders(t, f.entries())
	if tm := c.Timings(); tm.TrickleBatches != batches {
		t.Errorf("TrickleBatches %d, fake saw %d", tm.TrickleBatches, batches)
	}
	// The resolver ran before every authenticated request.
	if got, want := int(calls.Load()), len(f.entries()); got != want {
		t.Errorf("JWT resolver called %d times for %d requests", got, want)
	}
	// Trickle candidates came after the offer.
	order := routes(f.entries())
	if i, j := slices.Index(order, "POST sdp_params"), slices.Index(order, "POST ice_candidates"); i < 0 || j < i {
		t.Errorf("order %v", order)
	}
	frames.collect(t, 2, nil)
}

func TestConnectErrors(t *testing.T) {
	fastSDP := Backoff{Initial: 5 * time.Millisecond, Factor: 2, Max: 20 * time.Millisecond, Attempts: 3}
	fastSession := Backoff{Initial: 5 * time.Millisecond, Factor: 2, Max: 20 * time.Millisecond, Attempts: 4}
	cases := []struct {
		name   string
		opts   fakeOptions
		mutate func(*Config)
		check  func(t *testing.T, e *Error, tm Timings, f *fake)
	}{
		{"401 bad API key", fakeOptions{}, func(c *Config) { c.APIKey = "rk_wrong" }, func(t *testing.T, e *Error, tm Timings, _ *fake) {
			if e.Phase != PhaseToken || e.Status != 401 || e.Code != wire.CodeUnauthorized || e.Detail != "invalid API key" {
				t.Errorf("%+v", e)
			}
			if tm.Token <= 0 || tm.Create != 0 {
				t.Errorf("timings %+v", tm)
			}
		}},
		{"401 bad JWT", fakeOptions{}, func(c *Config) { c.APIKey, c.JWT = "", "expired" }, func(t *testing.T, e *Error, _ Timings, _ *fake) {
			if e.Phase != PhaseCreate || e.Status != 401 || e.Code != wire.CodeUnauthorized || e.Retryable() {
				t.Errorf("%+v", e)
			}
		}},
		{"426 version", fakeOptions{createStatus: 426, createDetail: "CLIENT_VERSION_TOO_OLD: upgrade"}, nil, func(t *testing.T, e *Error, _ Timings, _ *fake) {
			if e.Phase != PhaseCreate || e.Status != 426 || e.Code != wire.CodeVersionMismatch || !strings.HasPrefix(e.Detail, "CLIENT_VERSION_TOO_OLD") {
				t.Errorf("%+v", e)
			}
		}},
		{"429 rate limited", fakeOptions{createStatus: 429, createDetail: "too many sessions", retryAfter: "7"}, nil, func(t *testing.T, e *Error, _ Timings, _ *fake) {
			if e.Status != 429 || e.Code != wire.CodeRateLimited || e.RetryAfter != 7*time.Second || !e.Retryable() || e.Detail != "too many sessions" {
				t.Errorf("%+v", e)
			}
			if !errors.Is(e, ErrUnexpectedStatus) {
				t.Errorf("cause %v", e.Err)
			}
		}},
		{"terminal state", fakeOptions{pollsBeforeReady: 10, terminalAfter: 2}, func(c *Config) { c.SessionPoll = fastSession }, func(t *testing.T, e *Error, tm Timings, _ *fake) {
			if e.Phase != PhaseReady || e.Code != CodeSessionTerminal || e.Detail != "CLOSED" || !errors.Is(e, ErrSessionTerminal) {
				t.Errorf("%+v", e)
			}
			if tm.SessionPolls != 2 {
				t.Errorf("polls %d, want 2 (no poll after the terminal state)", tm.SessionPolls)
			}
		}},
		{"session poll exhausted", fakeOptions{pollsBeforeReady: 100}, func(c *Config) { c.SessionPoll = fastSession }, func(t *testing.T, e *Error, tm Timings, _ *fake) {
			if e.Phase != PhaseReady || e.Code != CodeTimeout || !errors.Is(e, ErrPollExhausted) || !e.Timeout() || tm.SessionPolls != 4 {
				t.Errorf("%+v polls %d", e, tm.SessionPolls)
			}
		}},
		{"SDP poll exhausted", fakeOptions{answerNever: true}, func(c *Config) { c.SDPPoll = fastSDP }, func(t *testing.T, e *Error, tm Timings, f *fake) {
			if e.Phase != PhaseSignalling || e.Code != CodeTimeout || !errors.Is(e, ErrPollExhausted) || !e.Timeout() {
				t.Errorf("%+v", e)
			}
			if tm.SDPPolls != 3 || tm.Create <= 0 || tm.Ready <= 0 || tm.Offer <= 0 || tm.Signalling < 5*time.Millisecond+10*time.Millisecond || tm.ICEConnect != 0 {
				t.Errorf("partial timings %+v", tm)
			}
			if n := len(routes(f.entries())); routes(f.entries())[n-1] != "GET sdp_params" {
				t.Errorf("routes %v", routes(f.entries()))
			}
		}},
		{"SDP offer answered 200", fakeOptions{offerStatus: 200}, nil, func(t *testing.T, e *Error, _ Timings, _ *fake) {
			if e.Phase != PhaseSignalling || e.Status != 200 || e.Code != CodeProtocol || !errors.Is(e, ErrUnexpectedStatus) {
				t.Errorf("%+v", e)
			}
		}},
		{"SDP offer 503", fakeOptions{offerStatus: 503}, nil, func(t *testing.T, e *Error, _ Timings, _ *fake) {
			if e.Phase != PhaseSignalling || e.Status != 503 || e.Code != wire.CodeServerError || !e.Retryable() {
				t.Errorf("%+v", e)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.opts)
			c := newTestClient(t, f, tc.mutate)
			err := c.Connect(ctxT(t))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Connect error %v (%T), want *Error", err, err)
			}
			if c.Status() != StatusDisconnected || c.current() != nil {
				t.Errorf("after failure: status %s, conn %v", c.Status(), c.current())
			}
			if tm := c.Timings(); tm.Total <= 0 {
				t.Errorf("Total %s", tm.Total)
			}
			tc.check(t, e, c.Timings(), f)
		})
	}
}

func TestConnectContextDeadline(t *testing.T) {
	f := newFake(t, fakeOptions{answerNever: true})
	c := newTestClient(t, f, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Connect(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Phase != PhaseSignalling || e.Code != CodeTimeout || !e.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect error %v", err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := c.Disconnect(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	c2 := newTestClient(t, f, nil)
	if err := c2.Connect(ctx2); !errors.As(err, &e) || e.Code != CodeCancelled || e.Phase != PhaseToken {
		t.Fatalf("cancelled Connect: %v", err)
	}
}

func TestNotReadyAndValidation(t *testing.T) {
	if _, err := New(Config{BaseURL: "localhost:8080", APIKey: "k"}); err == nil {
		t.Error("relative BaseURL accepted")
	}
	if _, err := New(Config{BaseURL: "http://127.0.0.1:1"}); err == nil {
		t.Error("no credentials accepted")
	}
	f := newFake(t, fakeOptions{})
	c := newTestClient(t, f, nil)
	ctx := ctxT(t)
	var e *Error
	if _, err := c.SendCommand(ctx, "x", nil); !errors.As(err, &e) || e.Code != CodeInvalidState || !errors.Is(err, ErrNotReady) {
		t.Errorf("SendCommand before connect: %v", err)
	}
	if _, err := c.Ping(ctx); !errors.Is(err, ErrNotReady) {
		t.Errorf("Ping before connect: %v", err)
	}
	if _, err := c.Upload(ctx, "a", "b", []byte{1}); !errors.Is(err, ErrNotReady) {
		t.Errorf("Upload before connect: %v", err)
	}
	if err := c.Reconnect(ctx); !errors.As(err, &e) || e.Code != CodeInvalidState {
		t.Errorf("Reconnect without session: %v", err)
	}
	if err := c.Disconnect(ctx, false); err != nil {
		t.Errorf("Disconnect without session: %v", err)
	}
	if len(f.entries()) != 0 {
		t.Errorf("requests sent: %v", routes(f.entries()))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close: %v", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	var got []time.Duration
	for i := range 8 {
		got = append(got, DefaultSessionPoll.Delay(i))
	}
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("session delays %v", got)
		}
	}
	if d := DefaultSDPPoll.Delay(4); d != 3200*time.Millisecond || DefaultSDPPoll.Attempts != 6 || DefaultSessionPoll.Attempts != 20 {
		t.Fatalf("sdp schedule %v", DefaultSDPPoll)
	}
	if d := DefaultSDPPoll.Delay(10); d != 15*time.Second {
		t.Fatalf("sdp cap %s", d)
	}
}

func TestErrorClass(t *testing.T) {
	cases := map[string]*Error{
		"http_429":         {Status: 429, Code: "RATE_LIMITED"},
		"timeout":          {Err: ErrTimeout},
		"ice_failed":       {Err: ErrICEFailed},
		"session_terminal": {Err: ErrSessionTerminal},
		"cancelled":        {Err: context.Canceled},
		"invalid_command":  {Code: "invalid_command", Err: ErrRemote},
		"other":            {},
	}
	for want, e := range cases {
		if got := e.ErrorClass(); got != want {
			t.Errorf("%+v: class %q, want %q", e, got, want)
		}
	}
}
