package mockserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/wire"
	"github.com/reactor-harness/reactor-harness/wire/rtpext"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// A compact in-process Reactor client for the plane's tests: HTTP through
// the real routes, pion as the offerer. It is deliberately independent of
// the client/ package.

// rtcWait bounds every wait; nothing asserts speed.
const rtcWait = 15 * time.Second

// rtcClientOpts selects the client's generation and codec.
type rtcClientOpts struct {
	v1     bool // speak protobuf (v1) rather than v0 JSON
	gen290 bool // 2.9.0 generation: no registration, no control channel
	// legacy reads "data" as 2.2.1 does: only flat {"type":"application",
	// "data":<payload>} frames; typ is "application", data the payload.
	legacy  bool
	noTrack bool // offer no video transceiver
	// ignoreSizeLimit plays a client that ignores the answer's
	// a=max-message-size (so it can send oversized frames).
	ignoreSizeLimit bool
	model           string // model name sent in POST /sessions; "" is helios
}

// serverMsg is a server frame, normalised across codecs.
type serverMsg struct {
	channel   string
	typ       string // model message type, runtime type, or v1 payload name
	scope     string // v0 scope
	kind      wirev1.MessageKind
	requestID string
	errCode   string
	data      map[string]any
	raw       []byte
}

// stampedFrame is a video frame as the client reassembled it.
type stampedFrame struct {
	stamp rtpext.FrameStamp
	abs   bool
	rtpTS uint32 // RTP timestamp (90 kHz)
	// width and height are read from a VP8 keyframe header; 0 on
	// interframes.
	width, height int
}

// vp8KeyframeSize reads the frame size from the first RTP packet of a VP8
// frame (RFC 7741 payload descriptor, then RFC 6386 §9.1 frame header):
// ok is false unless it starts a keyframe.
func vp8KeyframeSize(payload []byte) (w, h int, ok bool) {
	var p codecs.VP8Packet
	frame, err := p.Unmarshal(payload)
	if err != nil || p.S != 1 || p.PID != 0 || len(frame) < 10 || frame[0]&0x01 != 0 {
		return 0, 0, false
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	w = int(binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff)
	h = int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	return w, h, true
}

type rtcClient struct {
	t    testing.TB
	base string
	hc   *http.Client
	opts rtcClientOpts
	jwt  string
	sid  string
	cid  int

	pc      *webrtc.PeerConnection
	control *webrtc.DataChannel
	data    *webrtc.DataChannel
	msgs    chan serverMsg
	frames  chan stampedFrame
	nFrames atomic.Int64
	wg      sync.WaitGroup
	reqSeq  int
}

// clientWebRTCAPI builds the offerer's pion API: default codecs and our
// extensions, loopback IPv4 host candidates, no mDNS.
func clientWebRTCAPI(t testing.TB) *webrtc.API {
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

func newRTCClient(t testing.TB, base string, hc *http.Client, opts rtcClientOpts) *rtcClient {
	return &rtcClient{t: t, base: base, hc: hc, opts: opts, msgs: make(chan serverMsg, 256),
		frames: make(chan stampedFrame, 1024)}
}

// httpDo sends a request and returns status and body.
func (c *rtcClient) httpDo(method, path string, h http.Header, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if rd != nil && req.Header.Get(wire.HeaderContentType) == "" {
		req.Header.Set(wire.HeaderContentType, wire.ContentTypeJSON)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (c *rtcClient) coordHeaders() http.Header { return currentHeaders(c.jwt) }

// transportHeaders are what the JS SDKs send on transport calls.
func (c *rtcClient) transportHeaders() http.Header {
	h := http.Header{}
	h.Set(wire.HeaderAuthorization, wire.BearerPrefix+c.jwt)
	h.Set(wire.HeaderWebRTCVersion, wire.CurrentWebRTCVersion)
	return h
}

func (c *rtcClient) expect(status int, want int, body []byte, what string) {
	c.t.Helper()
	if status != want {
		c.t.Fatalf("%s: status %d, want %d; body %s", what, status, want, body)
	}
}

// token mints a JWT with the API key.
func (c *rtcClient) token(apiKey string) {
	c.t.Helper()
	h := http.Header{}
	h.Set(wire.HeaderAPIKey, apiKey)
	st, body := c.httpDo("POST", "/tokens", h, nil)
	c.expect(st, 200, body, "POST /tokens")
	var tr wire.TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.JWT == "" {
		c.t.Fatalf("token body %s: %v", body, err)
	}
	c.jwt = tr.JWT
}

// createAndPoll creates a helios session and polls until it is ready.
func (c *rtcClient) createAndPoll() {
	c.t.Helper()
	model := c.opts.model
	if model == "" {
		model = "helios"
	}
	st, body := c.httpDo("POST", "/sessions", c.coordHeaders(), createBody(model))
	c.expect(st, 201, body, "POST /sessions")
	var sr wire.SessionResponse
	_ = json.Unmarshal(body, &sr)
	c.sid = sr.SessionID
	for range 20 {
		st, body = c.httpDo("GET", "/sessions/"+c.sid, c.coordHeaders(), nil)
		c.expect(st, 200, body, "GET /sessions/{id}")
		sr = wire.SessionResponse{}
		_ = json.Unmarshal(body, &sr)
		if sr.Ready() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("session never ready: %s", body)
}

func (c *rtcClient) tb() string { return wire.TransportBase(c.sid) }

// sdpPath is the offer/answer path of the client's generation.
func (c *rtcClient) sdpPath() string {
	if c.opts.gen290 {
		return c.tb() + "/sdp_params"
	}
	return fmt.Sprintf("%s/connections/%d/sdp_params", c.tb(), c.cid)
}

// register does GET ice_servers and (current generation) POST connections.
func (c *rtcClient) register() {
	c.t.Helper()
	st, body := c.httpDo("GET", c.tb()+"/ice_servers", c.transportHeaders(), nil)
	c.expect(st, 200, body, "GET ice_servers")
	if c.opts.gen290 {
		return
	}
	st, body = c.httpDo("POST", c.tb()+"/connections", c.transportHeaders(), nil)
	c.expect(st, 201, body, "POST connections")
	var rr wire.RegisterConnectionResponse
	if err := json.Unmarshal(body, &rr); err != nil {
		c.t.Fatal(err)
	}
	if rr.ConnectionID < wire.MinConnectionID || rr.ConnectionID > wire.MaxConnectionID {
		c.t.Fatalf("connection id %d outside [1002, 9999]", rr.ConnectionID)
	}
	if r, ok := rr.TrackMap["main_video"]; !ok || r.Direction != "out" || r.Kind != "video" {
		c.t.Fatalf("track_map %+v", rr.TrackMap)
	}
	c.cid = rr.ConnectionID
}

// newPeer builds the offerer: a recvonly video transceiver per capability
// track (one for helios), control (current generation) before data.
func (c *rtcClient) newPeer() {
	c.t.Helper()
	pc, err := clientWebRTCAPI(c.t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.pc = pc
	if !c.opts.noTrack {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
			webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			c.t.Fatal(err)
		}
	}
	if !c.opts.gen290 {
		if c.control, err = pc.CreateDataChannel("control", nil); err != nil {
			c.t.Fatal(err)
		}
		c.control.OnMessage(func(m webrtc.DataChannelMessage) { c.onMessage("control", m) })
	}
	if c.data, err = pc.CreateDataChannel("data", nil); err != nil {
		c.t.Fatal(err)
	}
	c.data.OnMessage(func(m webrtc.DataChannelMessage) { c.onMessage("data", m) })
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) { c.wg.Go(func() { c.readTrack(tr, r) }) })
}

// offer creates a complete (non-trickle) offer and its track_mapping.
func (c *rtcClient) offer() wire.SDPOfferRequest {
	c.t.Helper()
	sd, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(sd); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(rtcWait):
		c.t.Fatal("client ICE gathering did not complete")
	}
	req := wire.SDPOfferRequest{SDPOffer: c.pc.LocalDescription().SDP, TrackMapping: []wire.TrackMapping{},
		ClientInfo: &wire.ClientInfo{SDKVersion: "test", SDKType: "go"}}
	for _, tr := range c.pc.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeVideo {
			req.TrackMapping = append(req.TrackMapping, wire.TrackMapping{MID: tr.Mid(), Name: "main_video",
				Kind: "video", Direction: wire.DirectionRecvOnly})
		}
	}
	return req
}

// postOffer sends the offer (method POST or PUT) and expects 202.
func (c *rtcClient) postOffer(method string, req wire.SDPOfferRequest) {
	c.t.Helper()
	st, body := c.httpDo(method, c.sdpPath(), c.transportHeaders(), req)
	c.expect(st, 202, body, method+" sdp_params")
}

// pollAnswer GETs until 200, then checks the answer was consumed.
func (c *rtcClient) pollAnswer() string {
	c.t.Helper()
	deadline := time.Now().Add(rtcWait)
	sawPending := false
	for time.Now().Before(deadline) {
		st, body := c.httpDo("GET", c.sdpPath(), c.transportHeaders(), nil)
		switch st {
		case 202:
			if len(body) != 0 {
				c.t.Fatalf("202 with a body: %s", body)
			}
			sawPending = true
			time.Sleep(20 * time.Millisecond)
			continue
		case 200:
			var ar wire.SDPAnswerResponse
			if err := json.Unmarshal(body, &ar); err != nil || ar.SDPAnswer == "" {
				c.t.Fatalf("answer body %s: %v", body, err)
			}
			if !c.opts.gen290 && ar.ConnectionID != c.cid {
				c.t.Fatalf("answer for connection %d, want %d", ar.ConnectionID, c.cid)
			}
			if st2, body2 := c.httpDo("GET", c.sdpPath(), c.transportHeaders(), nil); st2 != 202 {
				c.t.Fatalf("answer not consumed: second GET %d %s", st2, body2)
			}
			_ = sawPending
			return ar.SDPAnswer
		default:
			c.t.Fatalf("GET sdp_params: %d %s", st, body)
		}
	}
	c.t.Fatal("no answer in time")
	return ""
}

func (c *rtcClient) applyAnswer(answer string) {
	c.t.Helper()
	if !strings.Contains(answer, "a=max-message-size:262144") {
		c.t.Fatalf("the answer does not advertise the 256 KiB frame limit")
	}
	if c.opts.ignoreSizeLimit {
		// A client that ignores the limit, to send frames the mock must drop.
		answer = strings.ReplaceAll(answer, "a=max-message-size:262144", "a=max-message-size:1048576")
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.t.Fatalf("client rejects the answer: %v", err)
	}
}

// waitReady waits for connected and the channels open (the SDK's ready).
func (c *rtcClient) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(rtcWait)
	for time.Now().Before(deadline) {
		ok := c.pc.ConnectionState() == webrtc.PeerConnectionStateConnected &&
			c.data.ReadyState() == webrtc.DataChannelStateOpen &&
			(c.control == nil || c.control.ReadyState() == webrtc.DataChannelStateOpen)
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("not ready: pc %s, data %s", c.pc.ConnectionState(), c.data.ReadyState())
}

// connect runs the whole connect flow of the client's generation.
func (c *rtcClient) connect(apiKey string) {
	c.t.Helper()
	c.token(apiKey)
	c.createAndPoll()
	c.register()
	c.newPeer()
	c.postOffer("POST", c.offer())
	c.applyAnswer(c.pollAnswer())
	c.waitReady()
}

// onMessage decodes a server frame in the client's codec.
func (c *rtcClient) onMessage(ch string, m webrtc.DataChannelMessage) {
	msg := serverMsg{channel: ch, raw: m.Data}
	switch {
	case m.IsString || !c.opts.v1:
		if ch == "control" {
			var cf wirev0.ControlFrame
			if json.Unmarshal(m.Data, &cf) == nil {
				msg.typ, msg.requestID = cf.Type, cf.RequestID
				if cf.Error != nil {
					msg.errCode = cf.Error.Code
				}
			}
			break
		}
		if c.opts.legacy {
			lf, err := wirev0.DecodeLegacy(m.Data)
			if err != nil {
				msg.typ = "undecodable"
				break
			}
			msg.typ = lf.Type
			_ = json.Unmarshal(lf.Data, &msg.data)
			break
		}
		env, err := wirev0.DecodeEnvelope(m.Data)
		if err != nil {
			msg.typ = "undecodable"
			break
		}
		msg.typ, msg.scope = env.Data.Type, string(env.Scope)
		msg.data, _ = env.Data.Object()
	case ch == "data":
		dm, err := wirev1.DecodeDataServer(m.Data)
		if err != nil {
			msg.typ = "undecodable"
			break
		}
		msg.kind, msg.requestID = dm.GetKind(), dm.GetRequestId()
		if mm := dm.GetMessage(); mm != nil {
			msg.typ, msg.data = mm.GetType(), wirev1.FromStruct(mm.GetData())
		}
		if e := dm.GetError(); e != nil {
			msg.typ, msg.errCode = "error", e.GetCode()
		}
	default:
		cm, err := wirev1.DecodeControlServer(m.Data)
		if err != nil {
			msg.typ = "undecodable"
			break
		}
		msg.kind, msg.requestID, msg.typ = cm.GetKind(), cm.GetRequestId(), wirev1.PayloadName(cm)
		if e := cm.GetError(); e != nil {
			msg.errCode = e.GetCode()
		}
	}
	select {
	case c.msgs <- msg:
	default: // a test that stopped reading must not block pion
	}
}

// waitMsg returns the first message matching pred, discarding others.
func (c *rtcClient) waitMsg(what string, pred func(serverMsg) bool) serverMsg {
	c.t.Helper()
	timeout := time.After(rtcWait)
	for {
		select {
		case m := <-c.msgs:
			if pred(m) {
				return m
			}
		case <-timeout:
			c.t.Fatalf("no %s from the server", what)
		}
	}
}

// waitMsgs waits until every predicate has matched some message, in any
// order (channels are independent, so replies on control and data race).
func (c *rtcClient) waitMsgs(what string, preds ...func(serverMsg) bool) []serverMsg {
	c.t.Helper()
	got := make([]serverMsg, len(preds))
	found := make([]bool, len(preds))
	left := len(preds)
	timeout := time.After(rtcWait)
	for left > 0 {
		select {
		case m := <-c.msgs:
			for i, p := range preds {
				if !found[i] && p(m) {
					got[i], found[i] = m, true
					left--
					break
				}
			}
		case <-timeout:
			c.t.Fatalf("no %s from the server (matched %v)", what, found)
		}
	}
	return got
}

// readTrack reassembles frames by RTP timestamp and reads our stamp.
func (c *rtcClient) readTrack(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	var stampID, absID uint8
	for _, e := range r.GetParameters().HeaderExtensions {
		switch e.URI {
		case rtpext.FrameStampURI:
			stampID = uint8(e.ID)
		case rtpext.AbsCaptureTimeURI:
			absID = uint8(e.ID)
		}
	}
	var kw, kh int          // size of the keyframe being received
	for range 100_000_000 { // ends with the peer connection
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if w, h, ok := vp8KeyframeSize(pkt.Payload); ok {
			kw, kh = w, h
		}
		if !pkt.Marker {
			continue
		}
		f := stampedFrame{rtpTS: pkt.Timestamp, width: kw, height: kh}
		kw, kh = 0, 0
		if f.stamp.Unmarshal(pkt.GetExtension(stampID)) != nil {
			continue
		}
		f.abs = absID != 0 && pkt.GetExtension(absID) != nil
		c.nFrames.Add(1)
		select {
		case c.frames <- f:
		default:
		}
	}
}

// collectFrames waits for n stamped frames.
func (c *rtcClient) collectFrames(n int) []stampedFrame {
	c.t.Helper()
	out := make([]stampedFrame, 0, n)
	timeout := time.After(rtcWait)
	for len(out) < n {
		select {
		case f := <-c.frames:
			out = append(out, f)
		case <-timeout:
			c.t.Fatalf("got %d stamped frames, want %d", len(out), n)
		}
	}
	return out
}

// drainFrames empties the frame queue.
func (c *rtcClient) drainFrames() {
	for {
		select {
		case <-c.frames:
		default:
			return
		}
	}
}

// send writes a raw frame: text in v0, binary in v1.
func (c *rtcClient) send(dc *webrtc.DataChannel, b []byte) {
	c.t.Helper()
	var err error
	if c.opts.v1 {
		err = dc.Send(b)
	} else {
		err = dc.SendText(string(b))
	}
	if err != nil {
		c.t.Fatalf("send on %s: %v", dc.Label(), err)
	}
}

// resume sends resume_track for main_video on control.
func (c *rtcClient) resume() {
	c.t.Helper()
	if c.opts.v1 {
		b, _ := wirev1.Marshal(wirev1.NewResumeTrack("main_video"))
		c.send(c.control, b)
		return
	}
	b, _ := wirev0.NewTrackNotification(wirev0.EventResumeTrack, "main_video")
	c.send(c.control, b)
}

// command sends a command; in v1 it returns its request id.
func (c *rtcClient) command(typ string, data map[string]any, uploads map[string]wire.FileRef) string {
	c.t.Helper()
	if c.opts.v1 {
		c.reqSeq++
		id := wirev1.DataRequestID(uint64(c.reqSeq))
		m, err := wirev1.NewCommand(id, typ, data, uploads)
		if err != nil {
			c.t.Fatal(err)
		}
		b, _ := wirev1.Marshal(m)
		c.send(c.data, b)
		return id
	}
	b, err := wirev0.NewCommand(typ, data, uploads)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(c.data, b)
	return ""
}

// fileUploaded sends the runtime notice for an upload.
func (c *rtcClient) fileUploaded(ref wire.FileRef) {
	c.t.Helper()
	if c.opts.v1 {
		b, _ := wirev1.Marshal(wirev1.NewFileUploaded(ref))
		c.send(c.control, b)
		return
	}
	b, _ := wirev0.NewRuntimeMessage(wirev0.TypeFileUploaded, ref)
	c.send(c.data, b)
}

// upload reserves an upload slot and PUTs the bytes to the presigned URL.
func (c *rtcClient) upload(name, mime string, data []byte) wire.FileRef {
	c.t.Helper()
	st, body := c.httpDo("POST", "/sessions/"+c.sid+"/uploads", c.coordHeaders(),
		wire.UploadRequest{Name: name, Size: int64(len(data)), MimeType: mime})
	c.expect(st, 201, body, "POST uploads")
	var ur wire.UploadResponse
	if err := json.Unmarshal(body, &ur); err != nil {
		c.t.Fatal(err)
	}
	h := http.Header{}
	h.Set(wire.HeaderContentType, wire.ContentTypeOctetStream)
	st, body = c.httpDo("PUT", ur.PresignedURL, h, data)
	if st/100 != 2 {
		c.t.Fatalf("PUT presigned: %d %s", st, body)
	}
	return wire.FileRef{UploadID: ur.PresignedID, Name: name, MimeType: mime, Size: int64(len(data))}
}

// deleteSession is the SDK's disconnect().
func (c *rtcClient) deleteSession() {
	c.t.Helper()
	st, body := c.httpDo("DELETE", "/sessions/"+c.sid, c.coordHeaders(), nil)
	c.expect(st, 204, body, "DELETE session")
}

// close closes the client's peer connection and waits for its readers.
func (c *rtcClient) close() {
	if c.pc != nil {
		_ = c.pc.GracefulClose()
	}
	c.wg.Wait()
}

// httpJSON decodes a response body.
func (c *rtcClient) httpJSON(body []byte, v any) {
	c.t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("decode %s: %v", body, err)
	}
}
