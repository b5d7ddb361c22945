package peer

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Generous bounds: nothing here asserts speed, only that things happen.
const waitFor = 10 * time.Second

var heliosTracks = []wire.TrackSpec{{Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}}

// recorder is a Handler that keeps everything it is told.
type recorder struct {
	mu     sync.Mutex
	frames []Frame
	states []State
	onF    func(c *Conn, f Frame)
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) OnFrame(c *Conn, f Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, f)
	fn := r.onF
	r.mu.Unlock()
	if fn != nil {
		fn(c, f)
	}
	r.poke()
}

func (r *recorder) OnState(_ *Conn, s State) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
	r.poke()
}

func (r *recorder) poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitUntil polls cond on every event, failing after waitFor.
func (r *recorder) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.notify:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; states %v, %d frames", what, r.states, len(r.frames))
		}
	}
}

func (r *recorder) hasState(s State) bool {
	for _, x := range r.states {
		if x == s {
			return true
		}
	}
	return false
}

// offerer is an in-process client: a pion peer connection with a recvonly
// video transceiver and the control and data channels.
type offerer struct {
	t       *testing.T
	pc      *webrtc.PeerConnection
	control *webrtc.DataChannel
	data    *webrtc.DataChannel
	recv    chan []byte // frames from the server, either channel
	rtp     chan struct{}
	wg      sync.WaitGroup
}

func clientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := media.RegisterExtensions(m); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
}

func newOfferer(t *testing.T, withControl bool) *offerer {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	o := &offerer{t: t, pc: pc, recv: make(chan []byte, 64), rtp: make(chan struct{}, 1)}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	if withControl {
		if o.control, err = pc.CreateDataChannel("control", nil); err != nil {
			t.Fatal(err)
		}
		o.control.OnMessage(o.onMsg)
	}
	if o.data, err = pc.CreateDataChannel("data", nil); err != nil {
		t.Fatal(err)
	}
	o.data.OnMessage(o.onMsg)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		o.wg.Go(func() {
			for range readBound {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				select {
				case o.rtp <- struct{}{}:
				default:
				}
			}
		})
	})
	return o
}

func (o *offerer) onMsg(m webrtc.DataChannelMessage) {
	select {
	case o.recv <- m.Data:
	default:
	}
}

func (o *offerer) offer() string {
	o.t.Helper()
	sd, err := o.pc.CreateOffer(nil)
	if err != nil {
		o.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(o.pc)
	if err := o.pc.SetLocalDescription(sd); err != nil {
		o.t.Fatal(err)
	}
	<-gathered
	return o.pc.LocalDescription().SDP
}

func (o *offerer) videoMid() string {
	for _, tr := range o.pc.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			return tr.Mid()
		}
	}
	o.t.Fatal("no video transceiver")
	return ""
}

func (o *offerer) accept(answer string) {
	o.t.Helper()
	// Play a client that ignores the advertised 256 KiB limit, so tests can
	// send the oversized frames the mock must drop.
	answer = strings.ReplaceAll(answer, "a=max-message-size:262144", "a=max-message-size:1048576")
	if err := o.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		o.t.Fatalf("client rejects the answer: %v\n%s", err, answer)
	}
}

func (o *offerer) waitOpen(dcs ...*webrtc.DataChannel) {
	o.t.Helper()
	deadline := time.Now().Add(waitFor)
	for _, dc := range dcs {
		for dc.ReadyState() != webrtc.DataChannelStateOpen {
			if time.Now().After(deadline) {
				o.t.Fatalf("channel %s not open", dc.Label())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (o *offerer) next() []byte {
	o.t.Helper()
	select {
	case b := <-o.recv:
		return b
	case <-time.After(waitFor):
		o.t.Fatal("no frame from the server")
		return nil
	}
}

func (o *offerer) close() {
	_ = o.pc.GracefulClose()
	o.wg.Wait()
}

func newAPI(t *testing.T, cfg Config) *API {
	t.Helper()
	a, err := NewAPI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newStream(t *testing.T) (*media.Broadcaster, *media.Stream) {
	t.Helper()
	clip, err := media.DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	b, err := media.NewBroadcaster(clip, media.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.NewStream(media.StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return b, s
}

// connectPair runs a full negotiation and waits for both channels.
func connectPair(t *testing.T, a *API, rec *recorder, withControl bool, outbound webrtc.TrackLocal) (*offerer, *Conn, string) {
	t.Helper()
	o := newOfferer(t, withControl)
	sdp := o.offer()
	off := Offer{SDP: sdp, Tracks: heliosTracks, Label: "test/1002", Handler: rec,
		Mapping: []wire.TrackMapping{{MID: o.videoMid(), Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}}}
	if outbound != nil {
		off.Outbound = map[string]webrtc.TrackLocal{"main_video": outbound}
	}
	if err := Validate(off); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c, answer, err := a.Answer(context.Background(), off)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	o.accept(answer)
	rec.waitUntil(t, "connected", func() bool { return rec.hasState(StateConnected) })
	if withControl {
		o.waitOpen(o.control, o.data)
	} else {
		o.waitOpen(o.data)
	}
	return o, c, answer
}

func TestAnswerStreamsAndCarriesMsid(t *testing.T) {
	for _, mux := range []bool{false, true} {
		t.Run(map[bool]string{false: "sockets", true: "udpmux"}[mux], func(t *testing.T) {
			a := newAPI(t, Config{UDPMux: mux})
			b, stream := newStream(t)
			rec := newRecorder()
			o, c, answer := connectPair(t, a, rec, true, stream)
			for _, want := range []string{"a=msid:reactor main_video", "a=sendonly", "VP8/90000", "a=candidate:",
				"127.0.0.1", "a=max-message-size:262144", "frame-stamp"} {
				if !strings.Contains(answer, want) {
					t.Errorf("answer lacks %q:\n%s", want, answer)
				}
			}
			if mux && !strings.Contains(answer, a.MuxAddr().String()[len("127.0.0.1:"):]) {
				t.Errorf("answer does not use the mux port %s", a.MuxAddr())
			}
			stream.Resume()
			select {
			case <-o.rtp:
			case <-time.After(waitFor):
				t.Fatal("no RTP reached the client")
			}
			o.close()
			rec.waitUntil(t, "server side notices", func() bool {
				return rec.hasState(StateDisconnected) || rec.hasState(StateFailed) || rec.hasState(StateClosed)
			})
			if err := c.Close(); err != nil {
				t.Logf("close: %v", err)
			}
			if !rec.hasState(StateClosed) {
				t.Fatalf("states %v lack closed", rec.states)
			}
			_ = stream.Close()
			b.Close()
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCodecLatchAndDecoding(t *testing.T) {
	a := newAPI(t, Config{})
	defer a.Close()

	t.Run("v0", func(t *testing.T) {
		rec := newRecorder()
		rec.onF = func(c *Conn, f Frame) {
			if f.Kind == KindRequestSchema {
				_ = c.SendSchema("", staticSchema{"openapi": "3.1.0"})
			}
		}
		o, c, _ := connectPair(t, a, rec, true, nil)
		defer o.close()
		defer c.Close()
		resume, _ := wirev0.NewTrackNotification(wirev0.EventResumeTrack, "main_video")
		if err := o.control.SendText(string(resume)); err != nil {
			t.Fatal(err)
		}
		schema, _ := wirev0.NewRuntimeMessage(wirev0.TypeRequestSchema, nil)
		_ = o.data.SendText(string(schema))
		_ = o.data.SendText("not json")
		cmd, _ := wirev0.NewCommand("set_prompt", map[string]any{"prompt": "x"}, nil)
		_ = o.data.SendText(string(cmd))
		rec.waitUntil(t, "4 frames", func() bool { return len(rec.frames) >= 4 })
		var got []Frame // data channel, in order
		for _, f := range rec.frames {
			if f.Channel == ChannelControl {
				if f.Kind != KindResumeTrack || f.Track != "main_video" || f.Codec != wirev0.V0 {
					t.Fatalf("control frame = %+v", f)
				}
				continue
			}
			got = append(got, f)
		}
		if got[0].Kind != KindRequestSchema || got[0].Scope != "runtime" {
			t.Fatalf("frame 0 = %+v", got[0])
		}
		if got[1].Err == nil || !errors.Is(got[1].Err, ErrUndecodable) {
			t.Fatalf("garbage frame not dropped: %+v", got[1])
		}
		if got[2].Kind != KindCommand || got[2].Command != "set_prompt" || got[2].Data["prompt"] != "x" {
			t.Fatalf("command frame = %+v", got[2])
		}
		env, err := wirev0.DecodeEnvelope(o.next())
		if err != nil || env.Data.Type != wirev0.TypeModelSchema {
			t.Fatalf("schema reply: %+v %v", env, err)
		}
		if c.Codec() != wirev0.V0 || !c.Latched() {
			t.Fatalf("codec %v latched %v", c.Codec(), c.Latched())
		}
	})

	t.Run("v1", func(t *testing.T) {
		rec := newRecorder()
		rec.onF = func(c *Conn, f Frame) {
			if f.Kind == KindCommand {
				_ = c.RespondCommand(f.RequestID, nil, nil)
			}
		}
		o, c, _ := connectPair(t, a, rec, true, nil)
		defer o.close()
		defer c.Close()
		resume, _ := wirev1.Marshal(wirev1.NewResumeTrack("main_video"))
		_ = o.control.Send(resume)
		cmd, _ := wirev1.NewCommand("data_1", "start", nil, nil)
		raw, _ := wirev1.Marshal(cmd)
		_ = o.data.Send(raw)
		// A broken request whose id can still be read gets invalid_command.
		broken := append(append([]byte{}, raw[:len(raw)-1]...), 0xff, 0xff)
		_ = o.data.Send(append([]byte{0x0a, 0x06, 'd', 'a', 't', 'a', '_', '2', 0x10, 0x01}, broken[len(broken)-2:]...))
		rec.waitUntil(t, "3 frames", func() bool { return len(rec.frames) >= 3 })
		// Channels are independent streams: order only holds per channel.
		var data []Frame
		for _, f := range rec.frames {
			if f.Channel == ChannelControl {
				if f.Kind != KindResumeTrack || f.Codec != wirev0.V1 || f.Track != "main_video" {
					t.Fatalf("control frame = %+v", f)
				}
				continue
			}
			data = append(data, f)
		}
		if f := data[0]; f.Kind != KindCommand || f.RequestID != "data_1" || !f.Request || f.Codec != wirev0.V1 {
			t.Fatalf("data frame 0 = %+v", f)
		}
		if f := data[1]; f.Err == nil || f.RequestID != "data_2" {
			t.Fatalf("data frame 1 = %+v", f)
		}
		replies := map[string]*wirev1.DataServerMessage{}
		for range 2 {
			m, err := wirev1.DecodeDataServer(o.next())
			if err != nil {
				t.Fatal(err)
			}
			replies[m.GetRequestId()] = m
		}
		if m := replies["data_1"]; m == nil || m.GetKind() != wirev1.KindResponse || m.GetPayload() != nil {
			t.Fatalf("ack = %v", m)
		}
		if m := replies["data_2"]; m == nil || m.GetError().GetCode() != wirev1.CodeInvalidCommand {
			t.Fatalf("error reply = %v", m)
		}
	})

	t.Run("oversized", func(t *testing.T) {
		rec := newRecorder()
		o, c, _ := connectPair(t, a, rec, true, nil)
		defer o.close()
		defer c.Close()
		big := `{"scope":"application","data":{"type":"set_prompt","data":{"prompt":"` + strings.Repeat("x", wirev0.MaxMessageBytes) + `"}}}`
		if err := o.data.SendText(big); err != nil {
			t.Fatal(err)
		}
		ping, _ := wirev0.NewRuntimeMessage(wirev0.TypePing, nil)
		_ = o.data.SendText(string(ping))
		rec.waitUntil(t, "2 frames", func() bool { return len(rec.frames) >= 2 })
		if f := rec.frames[0]; !errors.Is(f.Err, wirev0.ErrTooLarge) || f.Size != len(big) {
			t.Fatalf("big frame = %+v", f.Err)
		}
		if f := rec.frames[1]; f.Kind != KindPing || f.Err != nil {
			t.Fatalf("the channel did not survive the big frame: %+v", f)
		}
		if st := c.Stats(); st.Data == nil || st.Data.Dropped != 1 || st.Data.FramesIn != 2 {
			t.Fatalf("stats %+v", st.Data)
		}
	})
}

func TestWatchdogDeclaresLost(t *testing.T) {
	a := newAPI(t, Config{WatchdogTimeout: 300 * time.Millisecond, WatchdogInterval: 50 * time.Millisecond})
	rec := newRecorder()
	o, c, _ := connectPair(t, a, rec, false, nil)
	// A few frames keep it alive; then silence.
	ping, _ := wirev0.NewRuntimeMessage(wirev0.TypePing, nil)
	for range 3 {
		_ = o.data.SendText(string(ping))
		time.Sleep(100 * time.Millisecond)
	}
	if rec.hasStateLocked(StateLost) {
		t.Fatal("lost while pinging")
	}
	rec.waitUntil(t, "lost", func() bool { return rec.hasState(StateLost) && rec.hasState(StateClosed) })
	if st := c.Stats(); !strings.Contains(st.LostReason, "no inbound data-channel frame") {
		t.Fatalf("lost reason %q", st.LostReason)
	}
	// A closed Conn lets go of its PeerConnection and channels (a
	// suspended session keeps the Conn), but still reports them.
	if c.pc.Load() != nil || c.channel(ChannelData) != nil {
		t.Fatal("closed conn still holds its peer connection or channels")
	}
	if st := c.Stats(); st.Data == nil || st.Data.Label != o.data.Label() || st.Data.Open || st.Data.FramesIn < 3 {
		t.Fatalf("stats after close: %+v", st.Data)
	}
	if !c.HasChannel(ChannelData) {
		t.Fatal("HasChannel forgot the data channel at close")
	}
	if err := c.AddCandidates([]webrtc.ICECandidateInit{{Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("candidate after close: %v", err)
	}
	o.close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if a.Conns() != 0 {
		t.Fatalf("%d conns left", a.Conns())
	}
}

func (r *recorder) hasStateLocked(s State) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hasState(s)
}

func TestValidate(t *testing.T) {
	o := newOfferer(t, true)
	defer o.close()
	sdp := o.offer()
	mid := o.videoMid()
	good := wire.TrackMapping{MID: mid, Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}
	cases := []struct {
		name    string
		sdp     string
		mapping []wire.TrackMapping
		want    error
		detail  string
	}{
		{"ok", sdp, []wire.TrackMapping{good}, nil, ""},
		{"no mapping", sdp, nil, nil, ""},
		{"garbage", "hello world", nil, ErrBadOffer, "does not parse"},
		{"empty", "  ", nil, ErrBadOffer, "empty"},
		{"no media", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", nil, ErrBadOffer, "no media section"},
		{"unknown mid", sdp, []wire.TrackMapping{{MID: "7", Name: "main_video", Kind: "video", Direction: "recvonly"}}, ErrBadMapping, `mid "7"`},
		{"unknown name", sdp, []wire.TrackMapping{{MID: mid, Name: "webcam", Kind: "video", Direction: "sendonly"}}, ErrBadMapping, `"webcam" is not a track`},
		{"bad direction", sdp, []wire.TrackMapping{{MID: mid, Name: "main_video", Kind: "video", Direction: "out"}}, ErrBadMapping, "direction"},
		{"wrong direction", sdp, []wire.TrackMapping{{MID: mid, Name: "main_video", Kind: "video", Direction: "sendonly"}}, ErrBadMapping, "model's track is recvonly"},
		{"audio kind", sdp, []wire.TrackMapping{{MID: mid, Name: "main_video", Kind: "audio", Direction: "recvonly"}}, ErrBadMapping, "as audio"},
		{"twice", sdp, []wire.TrackMapping{good, good}, ErrBadMapping, "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(Offer{SDP: tc.sdp, Tracks: heliosTracks, Mapping: tc.mapping})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.detail)
			}
		})
	}
}

func TestAnswerCancelled(t *testing.T) {
	a := newAPI(t, Config{})
	defer a.Close()
	o := newOfferer(t, true)
	defer o.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := a.Answer(ctx, Offer{SDP: o.offer(), Tracks: heliosTracks, Handler: newRecorder()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if a.Conns() != 0 {
		t.Fatalf("%d conns left after a cancelled answer", a.Conns())
	}
}

func TestPeekV1Request(t *testing.T) {
	cmd, _ := wirev1.NewCommand("data_9", "start", nil, nil)
	raw, _ := wirev1.Marshal(cmd)
	if id, req := peekV1Request(raw); id != "data_9" || !req {
		t.Fatalf("peek = %q %v", id, req)
	}
	n, _ := wirev1.Marshal(wirev1.NewPing())
	if id, req := peekV1Request(n); id != "" || req {
		t.Fatalf("peek ping = %q %v", id, req)
	}
	for _, junk := range [][]byte{nil, {0xff}, {0x0a, 0x80}, []byte("{\"x\":1}")} {
		_, _ = peekV1Request(junk) // must not panic
	}
}

func FuzzDecodeFrame(f *testing.F) {
	cmd, _ := wirev1.NewCommand("data_1", "set_prompt", map[string]any{"prompt": "x"}, nil)
	raw, _ := wirev1.Marshal(cmd)
	f.Add(raw, false)
	f.Add([]byte(`{"scope":"runtime","data":{"type":"ping","data":{}}}`), true)
	f.Add([]byte(`{"type":"notification","event":"resume_track","data":{"name":"main_video"}}`), true)
	f.Add([]byte(`{"type":"set_prompt","data":{"prompt":"2.2.1"}}`), true)
	f.Fuzz(func(t *testing.T, b []byte, text bool) {
		for _, ch := range []Channel{ChannelControl, ChannelData} {
			codec := wirev0.Sniff(b, text)
			fr := decodeFrame(ch, codec, b, text, wirev0.MaxMessageBytes)
			if fr.Err == nil && fr.Kind == KindCommand && fr.Command == "" {
				t.Fatalf("command without a name: %+v", fr)
			}
			if fr.Legacy && (ch != ChannelData || fr.Scope != "" || (fr.Err == nil && fr.Data == nil)) {
				t.Fatalf("legacy frame %+v on %s", fr, ch)
			}
		}
	})
}
