package mockserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// newRTCServer starts a mock for plane tests: the sweeper looks often so
// teardown is quick, and the plane's shared machinery (answerer,
// broadcaster) is started up front, so a leak check taken afterwards sees
// only what sessions add.
func newRTCServer(t *testing.T, mutate func(*Scenario), pol MediaPolicy) *testServer {
	t.Helper()
	sc := DefaultScenario()
	sc.Limits.MaxConcurrentSessions = Unlimited
	sc.Limits.CreatesPerMinute = Unlimited
	if mutate != nil {
		mutate(sc)
	}
	ts := newTestServer(t, WithScenario(sc), WithMediaPolicy(pol))
	ts.rtc.mu.Lock()
	ts.rtc.sweepEvery = 50 * time.Millisecond
	err := ts.rtc.startLocked()
	ts.rtc.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *testServer) client(t *testing.T, opts rtcClientOpts) *rtcClient {
	return newRTCClient(t, ts.http.URL, ts.http.Client(), opts)
}

// waitFor polls cond until it holds or rtcWait passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(rtcWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ts *testServer) waitState(t *testing.T, id string, want wire.SessionState) {
	t.Helper()
	waitFor(t, "session "+string(want), func() bool {
		ss := ts.sessions.lookup(id)
		return ss != nil && ss.State() == want
	})
}

// tinyPNG is a 1x1 PNG; the model checks size, not content.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func isModelMsg(typ string) func(serverMsg) bool {
	return func(m serverMsg) bool { return m.channel == "data" && m.typ == typ }
}

// TestRTCEndToEnd is the "done when" flow, for both codecs: token,
// session, poll, signalling (202…200, answer consumed), ready, resume_track,
// 60 stamped frames, a command round trip, the schema, a refused command,
// an upload referenced by set_image, DELETE tearing everything down, and no
// goroutine left behind.
func TestRTCEndToEnd(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		name := map[bool]string{false: "v0", true: "v1"}[v1]
		t.Run(name, func(t *testing.T) {
			ts := newRTCServer(t, func(sc *Scenario) { sc.Timings.SDPAnswerPolls = 2 }, MediaPolicy{})
			ignore := goleak.IgnoreCurrent()
			c := ts.client(t, rtcClientOpts{v1: v1})
			c.connect(ts.APIKey())
			ts.waitState(t, c.sid, wire.StateActive)

			// Outbound tracks start paused for current clients.
			select {
			case f := <-c.frames:
				t.Fatalf("frame %d before resume_track", f.stamp.Seq)
			case <-time.After(300 * time.Millisecond):
			}
			c.resume()
			frames := c.collectFrames(60)
			for i, f := range frames {
				if i > 0 && f.stamp.Seq <= frames[i-1].stamp.Seq {
					t.Fatalf("frame %d: seq %d after %d", i, f.stamp.Seq, frames[i-1].stamp.Seq)
				}
				if !f.abs {
					t.Fatalf("frame %d lacks abs-capture-time", i)
				}
				if age := time.Since(f.stamp.CaptureTime()); age < 0 || age > time.Minute {
					t.Fatalf("frame %d: capture time %v is not a recent wall clock", i, f.stamp.CaptureTime())
				}
			}

			// Command round trip.
			id := c.command("set_prompt", map[string]any{"prompt": "a cat"}, nil)
			var st serverMsg
			if v1 {
				// The ack and the state (sent at the next chunk boundary)
				// share the data channel but may be sent in either order.
				got := c.waitMsgs("ack and state", func(m serverMsg) bool { return m.requestID == id }, isModelMsg("state"))
				if m := got[0]; m.kind != wirev1.KindResponse || m.errCode != "" {
					t.Fatalf("reply to %s: kind %v error %q", id, m.kind, m.errCode)
				}
				st = got[1]
			} else {
				st = c.waitMsg("state", isModelMsg("state"))
			}
			if st.data["current_prompt"] != "a cat" {
				t.Fatalf("state after set_prompt: %v", st.data)
			}
			if v1 && st.kind != wirev1.KindNotification {
				t.Fatalf("state kind %v, want NOTIFICATION", st.kind)
			}
			// Frames captured after the command applied carry its id.
			c.drainFrames()
			if f := c.collectFrames(3)[2]; f.stamp.CommandID < 1 {
				t.Fatalf("frame after the command carries command id %d", f.stamp.CommandID)
			}

			// The schema.
			if v1 {
				b, _ := wirev1.Marshal(wirev1.NewRequestSchema(wirev1.ControlRequestID(1)))
				c.send(c.control, b)
				m := c.waitMsg("model_schema", func(m serverMsg) bool { return m.typ == "model_schema" })
				if m.requestID != "ctrl_1" || m.channel != "control" {
					t.Fatalf("schema reply %+v", m)
				}
			} else {
				b, _ := wirev0.NewRuntimeMessage(wirev0.TypeRequestSchema, nil)
				c.send(c.data, b)
				m := c.waitMsg("modelSchema", isModelMsg(wirev0.TypeModelSchema))
				if m.scope != "runtime" || m.data["openapi"] != "3.1.0" {
					t.Fatalf("schema %v / %v", m.scope, m.data["openapi"])
				}
			}

			// A command that violates its schema.
			bad := c.command("set_seed", map[string]any{"seed": "not a number"}, nil)
			if v1 {
				m := c.waitMsg("Error reply", func(m serverMsg) bool { return m.requestID == bad })
				if m.errCode != wirev1.CodeInvalidCommand {
					t.Fatalf("schema violation answered %+v", m)
				}
			} else {
				m := c.waitMsg("command_error", isModelMsg("command_error"))
				if m.data["code"] != wirev1.CodeInvalidCommand || m.data["command"] != "set_seed" {
					t.Fatalf("command_error %v", m.data)
				}
			}

			// An upload referenced by a command.
			ref := c.upload("ref.png", "image/png", tinyPNG)
			c.fileUploaded(ref)
			img := c.command("set_image", map[string]any{}, map[string]wire.FileRef{"image": ref})
			if v1 {
				got := c.waitMsgs("set_image ack and image_accepted",
					func(m serverMsg) bool { return m.requestID == img }, isModelMsg("image_accepted"))
				if got[0].errCode != "" {
					t.Fatalf("set_image refused: %+v", got[0])
				}
			} else {
				c.waitMsg("image_accepted", isModelMsg("image_accepted"))
			}

			// The journal shows the data-channel traffic.
			ch := ts.journal.Entries(Filter{SessionID: c.sid, Channel: "data"})
			ch = append(ch, ts.journal.Entries(Filter{SessionID: c.sid, Channel: "control"})...)
			var sawResume, sawCmd, sawUpload bool
			for _, e := range ch {
				switch {
				case e.Channel == "control" && e.Type == "resume_track":
					sawResume = true
				case e.Channel == "data" && e.Type == "set_prompt" && e.Scope == "application":
					sawCmd = e.Codec == name && (!v1 || e.RequestID == id)
				case e.Type == "fileUploaded" || e.Type == "file_uploaded":
					sawUpload = e.Detail == "upload complete"
				}
			}
			if !sawResume || !sawCmd || !sawUpload {
				t.Fatalf("journal lacks resume %v, command %v, upload %v: %+v", sawResume, sawCmd, sawUpload, ch)
			}
			snap, ok := ts.TransportSnapshot(c.sid)
			if !ok || len(snap.Connections) != 1 || snap.Connections[0].Peer == nil ||
				snap.Connections[0].Peer.Codec != name || snap.Connections[0].Peer.Data.FramesIn < 3 ||
				snap.Streams["main_video"].FramesSent < 60 {
				t.Fatalf("snapshot %+v", snap)
			}

			// disconnect(): DELETE tears the plane down.
			c.deleteSession()
			waitFor(t, "plane teardown", func() bool { return ts.rtc.lookup(c.sid) == nil })
			waitFor(t, "answerer idle", func() bool { return ts.rtc.api.Conns() == 0 })
			c.close()
			ts.http.Client().CloseIdleConnections()
			goleak.VerifyNone(t, ignore)
		})
	}
}

// TestRTCGeneration290 is the JS 2.9.0 flow: no registration, no control
// channel, and video without resume_track.
func TestRTCGeneration290(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{gen290: true})
	c.connect(ts.APIKey())
	defer c.close()
	c.collectFrames(30)
	ts.waitState(t, c.sid, wire.StateActive)

	// Commands and model messages on the single data channel.
	c.command("set_prompt", map[string]any{"prompt": "legacy"}, nil)
	if m := c.waitMsg("state", isModelMsg("state")); m.data["current_prompt"] != "legacy" {
		t.Fatalf("state %v", m.data)
	}
	snap, _ := ts.TransportSnapshot(c.sid)
	if len(snap.Connections) != 1 || snap.Connections[0].ConnectionID != wire.LegacyConnectionID || !snap.Connections[0].Legacy {
		t.Fatalf("snapshot %+v", snap.Connections)
	}

	// Reconnect: PUT a new offer; video flows again without resume.
	c.close()
	ts.waitState(t, c.sid, wire.StateSuspended)
	c.drainFrames()
	c.newPeer()
	c.postOffer("PUT", c.offer())
	c.applyAnswer(c.pollAnswer())
	c.waitReady()
	c.collectFrames(10)
	ts.waitState(t, c.sid, wire.StateActive)
}

// TestRTCAutoStreamPolicy streams current clients without resume_track.
func TestRTCAutoStreamPolicy(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{AutoStream: true, UDPMux: true})
	c := ts.client(t, rtcClientOpts{})
	c.connect(ts.APIKey())
	defer c.close()
	c.collectFrames(10)
	if addr := ts.rtc.api.MuxAddr(); addr == nil {
		t.Fatal("UDP mux not in use")
	}
	// The frame delay applies at once, to every stream: frames are stamped
	// at capture and sent that much later.
	const delay = 120 * time.Millisecond
	if err := ts.SetMediaPolicy(MediaPolicy{AutoStream: true, UDPMux: true, FrameDelay: Duration(delay)}); err != nil {
		t.Fatal(err)
	}
	if got := ts.rtc.lookup(c.sid).streams["main_video"].Delay(); got != delay {
		t.Fatalf("stream delay %s, want %s", got, delay)
	}
	time.Sleep(delay / 4) // frames already on the wire arrive; delayed ones cannot yet
	c.drainFrames()
	for i, f := range c.collectFrames(10) {
		if age := time.Since(f.stamp.CaptureTime()); age < delay {
			t.Fatalf("frame %d arrived %s after capture, before the %s delay", i, age, delay)
		}
	}
	if err := ts.SetMediaPolicy(MediaPolicy{FrameDelay: Duration(time.Hour)}); err == nil {
		t.Fatal("a frame delay above media.MaxDelay was accepted")
	}
	if err := ts.SetMediaPolicy(MediaPolicy{Phases: 257}); err == nil {
		t.Fatal("257 phases accepted")
	}
}

// TestRTCReconnectSameConnection re-offers with PUT on the same id.
func TestRTCReconnectSameConnection(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{v1: true})
	c.connect(ts.APIKey())
	c.resume()
	c.collectFrames(5)
	cid := c.cid
	c.close()
	ts.waitState(t, c.sid, wire.StateSuspended)

	c.newPeer()
	c.postOffer("PUT", c.offer())
	c.applyAnswer(c.pollAnswer())
	c.waitReady()
	defer c.close()
	ts.waitState(t, c.sid, wire.StateActive)
	c.drainFrames()
	// Tracks start paused again on the new connection until resume_track.
	c.resume()
	c.collectFrames(5)
	snap, _ := ts.TransportSnapshot(c.sid)
	if len(snap.Connections) != 1 || snap.Connections[0].ConnectionID != cid || snap.Connections[0].Offers != 2 {
		t.Fatalf("snapshot %+v", snap.Connections)
	}
}

// TestRTCWatchdogSuspends: no inbound frame for the watchdog timeout
// declares the connection lost and the session SUSPENDED.
func TestRTCWatchdogSuspends(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{WatchdogTimeout: Duration(400 * time.Millisecond),
		WatchdogInterval: Duration(50 * time.Millisecond)})
	c := ts.client(t, rtcClientOpts{})
	c.connect(ts.APIKey())
	defer c.close()
	c.resume()
	ts.waitState(t, c.sid, wire.StateActive)
	ts.waitState(t, c.sid, wire.StateSuspended)
	snap, _ := ts.TransportSnapshot(c.sid)
	if p := snap.Connections[0].Peer; p == nil || !strings.Contains(p.LostReason, "no inbound") {
		t.Fatalf("connection %+v", snap.Connections[0])
	}
	if ts.snapshotState(t, c.sid) != wire.StateSuspended {
		t.Fatal("admin view disagrees")
	}
}

func (ts *testServer) snapshotState(t *testing.T, id string) wire.SessionState {
	t.Helper()
	for _, s := range ts.sessions.snapshot() {
		if s.SessionID == id {
			return s.State
		}
	}
	t.Fatalf("no session %s", id)
	return ""
}

// TestRTCRecoverWindowClosesPlane: a SUSPENDED session becomes CLOSED after
// the recover window and the plane lets go of it.
func TestRTCRecoverWindowClosesPlane(t *testing.T) {
	ts := newRTCServer(t, func(sc *Scenario) { sc.Timings.RecoverWindow = Duration(300 * time.Millisecond) }, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{})
	c.connect(ts.APIKey())
	c.close()
	ts.waitState(t, c.sid, wire.StateClosed)
	waitFor(t, "plane released the session", func() bool { return ts.rtc.lookup(c.sid) == nil })
}

// TestRTCLegacyAnswerer serves a pre-overhaul (JS 2.2.1) offer through the
// session store's legacy hook, then speaks 2.2.1's flat data-channel frames:
// commands reach the model and are journaled as codec "legacy"; model
// messages come back as {"type":"application","data":{"type","data"}}.
func TestRTCLegacyAnswerer(t *testing.T) {
	ts := newRTCServer(t, func(sc *Scenario) { sc.Profile = ProfileLegacy; sc.Timings.PendingPolls = 0 }, MediaPolicy{})
	ts.sessions.setLegacyAnswerer(ts.rtc)
	c := ts.client(t, rtcClientOpts{gen290: true, legacy: true})
	c.token(ts.APIKey())
	c.newPeer()
	req := c.offer()
	h := http.Header{}
	h.Set(wire.HeaderAuthorization, wire.BearerPrefix+c.jwt)
	st, body := c.httpDo("POST", "/sessions", h, map[string]any{"model": map[string]any{"name": "helios"},
		"sdp_offer": req.SDPOffer, "extra_args": map[string]any{}})
	c.expect(st, 200, body, "legacy create")
	var lr wire.LegacyCreateSessionResponse
	c.httpJSON(body, &lr)
	c.sid = lr.SessionID
	var answer string
	waitFor(t, "legacy answer", func() bool {
		st, body := c.httpDo("GET", "/sessions/"+c.sid+"/sdp_params", h, nil)
		if st == 200 {
			var p wire.LegacySDPParams
			c.httpJSON(body, &p)
			answer = p.SDPAnswer
			return true
		}
		return false
	})
	c.applyAnswer(answer)
	c.waitReady()
	defer c.close()
	c.collectFrames(5)

	// A flat command reaches the model; its state comes back flat.
	cmd, _ := wirev0.NewLegacyCommand("set_prompt", map[string]any{"prompt": "from 2.2.1"})
	c.send(c.data, cmd)
	m := c.waitMsg("state as a 2.2.1 application frame", func(m serverMsg) bool {
		inner, _ := m.data["data"].(map[string]any)
		return m.channel == "data" && m.typ == "application" && m.data["type"] == "state" && inner["current_prompt"] == "from 2.2.1"
	})
	if len(m.data) != 2 {
		t.Fatalf("payload %v, want exactly {type, data}", m.data)
	}
	// A refusal is the model's command_error, surfaced the same way.
	bad, _ := wirev0.NewLegacyCommand("fly_to_the_moon", map[string]any{})
	c.send(c.data, bad)
	m = c.waitMsg("command_error", func(m serverMsg) bool { return m.typ == "application" && m.data["type"] == "command_error" })
	if inner, _ := m.data["data"].(map[string]any); inner["command"] != "fly_to_the_moon" || inner["code"] != "invalid_command" {
		t.Fatalf("command_error payload %v", m.data)
	}
	var cmds []Entry
	waitFor(t, "both commands journaled", func() bool {
		cmds = ts.journal.Entries(Filter{SessionID: c.sid, Channel: "data"})
		return len(cmds) >= 2
	})
	e := cmds[0]
	if e.Codec != "legacy" || e.Scope != "" || e.Type != "set_prompt" || e.ConnectionID != wire.LegacyConnectionID ||
		string(e.Data) != `{"prompt":"from 2.2.1"}` || !strings.HasPrefix(e.Detail, "accepted as command") {
		t.Fatalf("journal entry %+v (data %s)", e, e.Data)
	}
	if e := cmds[1]; e.Codec != "legacy" || e.Type != "fly_to_the_moon" || !strings.HasPrefix(e.Detail, "refused: invalid_command") {
		t.Fatalf("journal entry %+v", e)
	}
	if snap, _ := ts.TransportSnapshot(c.sid); snap.Connections[0].Peer.Codec != "legacy" {
		t.Fatalf("snapshot codec %q", snap.Connections[0].Peer.Codec)
	}
}

// TestRTCMaxDurationEndsSession: a session that reaches its maximum
// duration is closed by the platform; connected clients are told first.
func TestRTCMaxDurationEndsSession(t *testing.T) {
	ts := newRTCServer(t, func(sc *Scenario) { sc.Limits.MaxSessionDuration = Duration(4 * time.Second) }, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{})
	c.connect(ts.APIKey())
	defer c.close()
	m := c.waitMsg("sessionEnded", isModelMsg(wirev0.TypeSessionEnded))
	if m.scope != "runtime" || !strings.Contains(m.data["reason"].(string), "CLOSED") {
		t.Fatalf("sessionEnded %+v", m)
	}
	waitFor(t, "plane released the session", func() bool { return ts.rtc.lookup(c.sid) == nil })
}

// TestRTCResetTearsDown: POST /__admin/reset closes every connection and
// stream; the plane starts again on the next signalling request.
func TestRTCResetTearsDown(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	ignore := goleak.IgnoreCurrent()
	c := ts.client(t, rtcClientOpts{v1: true})
	c.connect(ts.APIKey())
	c.resume()
	c.collectFrames(3)
	if r := ts.do(t, "POST", "/__admin/reset", nil, nil); r.Status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if ts.rtc.lookup(c.sid) != nil || ts.rtc.api != nil || len(ts.rtc.bcs) != 0 {
		t.Fatal("reset left the plane running")
	}
	c.close()
	ts.http.Client().CloseIdleConnections()
	// The plane's shared machinery was started before the leak baseline,
	// so after a reset fewer goroutines than the baseline remain.
	goleak.VerifyNone(t, ignore)

	d := ts.client(t, rtcClientOpts{})
	d.connect(ts.APIKey())
	defer d.close()
	d.resume()
	d.collectFrames(3)
}

// TestRTCLocalModeratedStop: a moderated POST /stop_session reaches local
// clients as the moderation notice in their codec before the transport
// closes (the plane's CloseLocalSession).
func TestRTCLocalModeratedStop(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v0", true: "v1"}[v1], func(t *testing.T) {
			ts := newRTCServer(t, nil, MediaPolicy{})
			if r := ts.do(t, "POST", "/start_session", nil, "{}"); r.Status != http.StatusOK {
				t.Fatalf("start: %d %s", r.Status, r.Body)
			}
			c := ts.client(t, rtcClientOpts{v1: v1})
			c.sid, c.jwt = wire.LocalSessionID, "local"
			c.register()
			c.newPeer()
			c.postOffer("POST", c.offer())
			c.applyAnswer(c.pollAnswer())
			c.waitReady()
			defer c.close()
			c.resume() // latches the codec
			c.collectFrames(3)
			if r := ts.do(t, "POST", "/stop_session", nil, `{"moderate":true,"reason":"x"}`); r.Status != http.StatusOK {
				t.Fatalf("stop: %d %s", r.Status, r.Body)
			}
			if v1 {
				m := c.waitMsg("moderation", func(m serverMsg) bool { return m.typ == "moderation" })
				if m.channel != "control" || m.kind != wirev1.KindNotification {
					t.Fatalf("moderation %+v", m)
				}
			} else {
				m := c.waitMsg("moderation", isModelMsg(wirev0.TypeModeration))
				if m.scope != "runtime" || m.data["action"] != wirev0.ModerationTerminate {
					t.Fatalf("moderation %+v", m)
				}
			}
			if _, ok := ts.TransportSnapshot(wire.LocalSessionID); ok {
				t.Fatal("the plane survived the stop")
			}
		})
	}
}
