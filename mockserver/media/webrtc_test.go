package media

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// Generous bounds: the box is small and shared, so nothing here asserts
// speed, only that things happen eventually and in the right order.
const (
	connectTimeout = 10 * time.Second
	framesTimeout  = 10 * time.Second
	maxLatency     = 2 * time.Second
)

// newLoopbackAPI builds a pion API as both the mock and the harness client
// would: default codecs and interceptors plus our extensions, restricted to
// IPv4 host candidates on loopback so the test never leaves the machine.
func newLoopbackAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := RegisterExtensions(m); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// clientFrame is one frame as the client reassembled it.
type clientFrame struct {
	stamp    rtpext.FrameStamp
	abs      rtpext.AbsCaptureTime
	hasAbs   bool
	arrival  time.Time // when the marker packet was read
	keyframe bool
	packets  int
}

// session is an offerer (the client) and an answerer (the mock) connected
// over loopback, with the answerer sending one Stream.
type session struct {
	t      *testing.T
	client *webrtc.PeerConnection
	mock   *webrtc.PeerConnection
	stream *Stream
	frames chan clientFrame
	wg     sync.WaitGroup // RTCP and RTP reader goroutines
}

func connect(t *testing.T, b *Broadcaster) *session {
	t.Helper()
	api := newLoopbackAPI(t)
	s := &session{t: t, frames: make(chan clientFrame, 1024)}
	var err error
	if s.client, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if s.mock, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if s.stream, err = b.NewStream(StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	tr, err := s.client.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		t.Fatal(err)
	}
	s.client.OnTrack(func(track *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		s.wg.Go(func() { s.readTrack(track, r) })
	})
	s.negotiate()
	if stampID, absID := extensionIDs(tr.Receiver()); stampID == 0 || absID == 0 {
		t.Fatalf("extensions not negotiated: frame stamp id %d, abs-capture-time id %d", stampID, absID)
	}
	s.waitConnected()
	return s
}

// negotiate does a non-trickle offer/answer: each side waits for ICE
// gathering to finish so the SDP carries every candidate.
func (s *session) negotiate() {
	t := s.t
	offer, err := s.client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	setLocalAndGather(t, s.client, offer)
	if err := s.mock.SetRemoteDescription(*s.client.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	// What the mock's answerer does: add the stream after the remote
	// offer, so pion pairs it with the client's recvonly transceiver, and
	// read RTCP so interceptors work and PLI reaches the stream.
	sender, err := s.mock.AddTrack(s.stream)
	if err != nil {
		t.Fatal(err)
	}
	s.wg.Go(func() {
		for range 1_000_000 { // ends with the peer connection
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			s.stream.HandleRTCP(pkts)
		}
	})
	answer, err := s.mock.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	setLocalAndGather(t, s.mock, answer)
	if err := s.client.SetRemoteDescription(*s.mock.LocalDescription()); err != nil {
		t.Fatal(err)
	}
}

func setLocalAndGather(t *testing.T, pc *webrtc.PeerConnection, sd webrtc.SessionDescription) {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sd); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(connectTimeout):
		t.Fatal("ICE gathering did not complete")
	}
}

// extensionIDs reads the ids the client negotiated, as a real client must
// before it can find the stamps in packets (0 = not negotiated).
func extensionIDs(r *webrtc.RTPReceiver) (stampID, absID uint8) {
	for _, e := range r.GetParameters().HeaderExtensions {
		switch e.URI {
		case rtpext.FrameStampURI:
			stampID = uint8(e.ID)
		case rtpext.AbsCaptureTimeURI:
			absID = uint8(e.ID)
		}
	}
	return stampID, absID
}

func (s *session) waitConnected() {
	deadline := time.Now().Add(connectTimeout)
	for time.Now().Before(deadline) {
		if s.client.ConnectionState() == webrtc.PeerConnectionStateConnected &&
			s.mock.ConnectionState() == webrtc.PeerConnectionStateConnected {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("not connected: client %s, mock %s", s.client.ConnectionState(), s.mock.ConnectionState())
}

// readTrack reassembles frames by RTP timestamp and marker bit and decodes
// the stamps. It returns when the track ends.
func (s *session) readTrack(track *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	stampID, absID := extensionIDs(r)
	var cur clientFrame
	var curTS uint32
	for range 10_000_000 { // bounded; ends when the peer connection closes
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		if cur.packets == 0 || pkt.Timestamp != curTS {
			cur, curTS = s.startFrame(pkt.Payload, pkt.GetExtension(stampID), pkt.GetExtension(absID)), pkt.Timestamp
		}
		cur.packets++
		if !pkt.Marker {
			continue
		}
		cur.arrival = time.Now()
		select {
		case s.frames <- cur:
		default: // the test stopped reading; drop rather than block
		}
		cur = clientFrame{}
	}
}

func (s *session) startFrame(payload, stamp, abs []byte) clientFrame {
	var f clientFrame
	if err := f.stamp.Unmarshal(stamp); err != nil {
		s.t.Errorf("frame stamp: %v", err)
	}
	if abs != nil {
		f.hasAbs = f.abs.Unmarshal(abs) == nil
	}
	// VP8 descriptor is one byte here (no picture id); the frame tag's low
	// bit is 0 on keyframes.
	f.keyframe = len(payload) > 1 && payload[0]&0x10 != 0 && payload[1]&0x01 == 0
	return f
}

// collect reads n frames or fails after framesTimeout.
func (s *session) collect(n int, each func(i int, f clientFrame)) []clientFrame {
	s.t.Helper()
	out := make([]clientFrame, 0, n)
	timeout := time.After(framesTimeout)
	for len(out) < n {
		select {
		case f := <-s.frames:
			if each != nil {
				each(len(out), f)
			}
			out = append(out, f)
		case <-timeout:
			s.t.Fatalf("got %d frames in %s, want %d", len(out), framesTimeout, n)
		}
	}
	return out
}

// expectSilence fails if a frame arrives within d: a bounded "consistently"
// check.
func (s *session) expectSilence(d time.Duration, why string) {
	s.t.Helper()
	select {
	case f := <-s.frames:
		s.t.Fatalf("%s: frame seq %d arrived", why, f.stamp.Seq)
	case <-time.After(d):
	}
}

// drain discards frames until none arrives for quiet.
func (s *session) drain(quiet time.Duration) {
	for range 1000 {
		select {
		case <-s.frames:
		case <-time.After(quiet):
			return
		}
	}
}

// waitStats returns the stream's counters once at least frames frames are
// counted, or the last snapshot after a bounded wait.
func (s *session) waitStats(frames uint64) StreamStats {
	st := s.stream.Stats()
	for i := 0; i < 100 && st.FramesSent < frames; i++ {
		time.Sleep(10 * time.Millisecond)
		st = s.stream.Stats()
	}
	return st
}

func (s *session) close() {
	if err := s.stream.Close(); err != nil {
		s.t.Error(err)
	}
	for _, pc := range []*webrtc.PeerConnection{s.client, s.mock} {
		if err := pc.GracefulClose(); err != nil {
			s.t.Error(err)
		}
	}
	s.wg.Wait()
}

func startBroadcaster(t *testing.T) *Broadcaster {
	t.Helper()
	clip, err := DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBroadcaster(clip, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebRTCStreamFrames(t *testing.T) {
	b := startBroadcaster(t)
	s := connect(t, b)

	// Tracks start paused: nothing flows until Resume.
	s.expectSilence(300*time.Millisecond, "paused stream")
	if st := s.stream.Stats(); st.PacketsSent != 0 || !st.Paused {
		t.Fatalf("paused stream stats %+v", st)
	}

	s.stream.Resume()
	const setAt, cmd = 15, 42
	frames := s.collect(60, func(i int, _ clientFrame) {
		if i == setAt {
			s.stream.SetCommandID(cmd)
		}
	})
	checkClientFrames(t, frames, setAt, cmd)

	// Pause again: after in-flight frames drain, silence; then Resume
	// continues the sequence without a gap.
	s.stream.Pause()
	s.drain(150 * time.Millisecond)
	s.expectSilence(300*time.Millisecond, "stream paused after streaming")
	sent := s.stream.Stats().FramesSent
	s.stream.Resume()
	next := s.collect(1, nil)[0]
	if next.stamp.Seq != uint32(sent)+1 {
		t.Fatalf("after resume: seq %d, want %d", next.stamp.Seq, sent+1)
	}
	// The counters move after the last packet of a frame is written, so
	// the client may hold the frame a moment before they do.
	if st := s.waitStats(61); st.FramesSent < 61 || st.PacketsSent < st.FramesSent || st.BytesSent == 0 {
		t.Fatalf("stats %+v", st)
	}

	s.close()
	b.Close()
	goleak.VerifyNone(t)
}

// checkClientFrames checks what a client saw: ordered sequence numbers,
// sane capture times, the command id appearing after it was set, and a
// keyframe first.
func checkClientFrames(t *testing.T, frames []clientFrame, setAt int, cmd uint32) {
	t.Helper()
	if !frames[0].keyframe || frames[0].stamp.Seq != 1 {
		t.Fatalf("first frame: keyframe %v seq %d, want a keyframe with seq 1", frames[0].keyframe, frames[0].stamp.Seq)
	}
	sawCmd := false
	for i, f := range frames {
		if i > 0 && f.stamp.Seq <= frames[i-1].stamp.Seq {
			t.Fatalf("frame %d: seq %d after %d", i, f.stamp.Seq, frames[i-1].stamp.Seq)
		}
		lat := f.arrival.Sub(f.stamp.CaptureTime())
		if lat < 0 || lat > maxLatency {
			t.Fatalf("frame %d: arrival - capture = %s, want within [0, %s]", i, lat, maxLatency)
		}
		if !f.hasAbs || f.abs.Timestamp.UnixMicro() != f.stamp.CaptureMicros {
			t.Fatalf("frame %d: abs-capture-time %v disagrees with frame stamp %v", i, f.abs.Timestamp, f.stamp.CaptureTime())
		}
		switch {
		case f.stamp.CommandID == cmd:
			sawCmd = true
		case f.stamp.CommandID != 0 || sawCmd || i > setAt:
			// Frames read after SetCommandID were captured after it, so
			// every one of them must carry the id, and it never reverts.
			t.Fatalf("frame %d: command id %d (set to %d after frame %d)", i, f.stamp.CommandID, cmd, setAt)
		}
	}
	if !sawCmd {
		t.Fatal("command id never appeared in the frame stamps")
	}
}

func TestWebRTCStreamDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	b := startBroadcaster(t)
	b.SetDelay(delay) // the scenario fault: every frame, every stream
	s := connect(t, b)
	if got := s.stream.Delay(); got != delay {
		t.Fatalf("stream delay %s, want %s", got, delay)
	}
	s.stream.Resume()
	for i, f := range s.collect(20, nil) {
		if lat := f.arrival.Sub(f.stamp.CaptureTime()); lat < delay || lat > maxLatency+delay {
			t.Fatalf("frame %d: arrival - capture = %s, want at least the %s delay", i, lat, delay)
		}
	}
	s.close()
	b.Close()
	goleak.VerifyNone(t)
}
