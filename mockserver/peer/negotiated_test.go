package peer

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// TestOutboundUsesNegotiatedNumbers: an offerer whose payload types and
// header extension ids differ from the mock's own registrations (aiortc
// offers VP8 as 97; here 96 even means H264) gets RTP with the payload type
// and extension ids the answer negotiated, so it can route and decode it.
func TestOutboundUsesNegotiatedNumbers(t *testing.T) {
	a := newAPI(t, Config{})
	defer a.Close()
	b, stream := newStream(t)
	defer b.Close()
	defer stream.Close()

	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}},
		{PayloadType: 97, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
	} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	// mid and abs-send-time first: the frame stamp gets another id than the
	// mock's own registration gives it.
	for _, uri := range []string{"urn:ietf:params:rtp-hdrext:sdes:mid", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
		"urn:ietf:params:rtp-hdrext:toffset", rtpext.FrameStampURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	tr, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateDataChannel("data", nil); err != nil {
		t.Fatal(err)
	}
	type pkt struct {
		pt         uint8
		stamp, mid bool
	}
	got := make(chan pkt, 16)
	var stampID atomic.Int32
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for range 50 {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			var fs rtpext.FrameStamp
			k := pkt{pt: p.PayloadType, mid: p.GetExtension(1) != nil}
			if raw := p.GetExtension(uint8(stampID.Load())); raw != nil && fs.Unmarshal(raw) == nil {
				k.stamp = true
			}
			select {
			case got <- k:
			default:
			}
		}
	})
	sd, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sd); err != nil {
		t.Fatal(err)
	}
	<-gathered
	rec := newRecorder()
	off := Offer{SDP: pc.LocalDescription().SDP, Tracks: heliosTracks, Label: "test/1002", Handler: rec,
		Mapping:  []wire.TrackMapping{{MID: tr.Mid(), Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}},
		Outbound: map[string]webrtc.TrackLocal{"main_video": stream}}
	c, answer, err := a.Answer(context.Background(), off)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nm := parseAnswerMedia(answer)[tr.Mid()]
	if nm == nil || nm.payloadTypes["vp8"] != 97 || nm.extensions[rtpext.FrameStampURI] == 0 {
		t.Fatalf("answer media %+v\n%s", nm, answer)
	}
	stampID.Store(int32(nm.extensions[rtpext.FrameStampURI]))
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	rec.waitUntil(t, "connected", func() bool { return rec.hasState(StateConnected) })
	stream.Resume()
	for i := range 5 {
		select {
		case p := <-got:
			if p.pt != 97 || !p.stamp || p.mid {
				t.Fatalf("packet %d: payload type %d (want 97), frame stamp at id %d %v, something at the offerer's mid id %v",
					i, p.pt, stampID.Load(), p.stamp, p.mid)
			}
		case <-time.After(waitFor):
			t.Fatal("no RTP reached the client")
		}
	}
}

func TestParseAnswerMedia(t *testing.T) {
	answer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 101 97 98\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n" +
		"a=rtpmap:101 H264/90000\r\na=rtpmap:97 VP8/90000\r\na=rtpmap:98 vp8/90000\r\na=rtpmap:bad\r\n" +
		"a=extmap:3/sendonly urn:x:frame\r\na=extmap:5 urn:x:abs some-attr\r\na=extmap:0 urn:x:zero\r\n" +
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\n"
	got := parseAnswerMedia(answer)
	v := got["0"]
	if v == nil || v.payloadTypes["vp8"] != 97 || v.payloadTypes["h264"] != 101 || len(v.payloadTypes) != 2 ||
		v.extensions["urn:x:frame"] != 3 || v.extensions["urn:x:abs"] != 5 || len(v.extensions) != 2 {
		t.Fatalf("video %+v", v)
	}
	if got["1"] == nil || len(got["1"].payloadTypes) != 0 {
		t.Fatalf("application %+v", got["1"])
	}
	if parseAnswerMedia("garbage") != nil {
		t.Fatal("garbage parsed")
	}
	// The context keeps only negotiated codecs, renumbered, and drops an
	// unnegotiated extension whose id the answer gives to another one.
	ctx := &negotiatedContext{TrackLocalContext: fakeCtx{}, nm: v}
	if cs := ctx.CodecParameters(); len(cs) != 1 || cs[0].PayloadType != 97 {
		t.Fatalf("codecs %+v", cs)
	}
	es := ctx.HeaderExtensions()
	want := map[string]int{"urn:x:frame": 3, "urn:x:other": 7}
	if len(es) != len(want) {
		t.Fatalf("extensions %+v", es)
	}
	for _, e := range es {
		if want[e.URI] != e.ID {
			t.Fatalf("extensions %+v", es)
		}
	}
}

type fakeCtx struct{ webrtc.TrackLocalContext }

func (fakeCtx) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
		{PayloadType: 98, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000}},
	}
}

func (fakeCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return []webrtc.RTPHeaderExtensionParameter{{URI: "urn:x:frame", ID: 1}, {URI: "urn:x:clash", ID: 5}, {URI: "urn:x:other", ID: 7}}
}
