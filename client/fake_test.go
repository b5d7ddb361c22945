package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/reactor-harness/reactor-harness/wire"
	"github.com/reactor-harness/reactor-harness/wire/rtpext"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// The fake coordinator + runtime: just the current signalling routes with
// a real pion answerer that streams synthetic VP8-shaped frames stamped
// with the frame-stamp and abs-capture-time extensions, and answers
// data-channel traffic in whichever codec the client speaks.

const (
	fakeAPIKey    = "rk_test_key"
	fakeJWT       = "jwt-test-1"
	fakeSessionID = "sess-0001"
	fakeCID       = 4242
	fakeUploadID  = "up_1"
	framePackets  = 3
	frameInterval = 20 * time.Millisecond
	maxFakeFrames = 3000 // bounds every stream goroutine (60 s)
)

var fakeCaps = wire.Capabilities{
	ProtocolVersion: "v0",
	Tracks: []wire.TrackSpec{
		{Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly},
		{Name: "webcam", Kind: "video", Direction: wire.DirectionSendOnly},
	},
	Commands: []wire.CommandDef{},
}

var fakeSchema = map[string]any{"openapi": "3.1.0", "info": map[string]any{"title": "fake"}}

// fakeOptions script the fake's answers.
type fakeOptions struct {
	pollsBeforeReady int           // GET /sessions/{id} answers without capabilities this often first
	terminalAfter    int           // if > 0, the n-th poll answers state CLOSED
	createStatus     int           // if set, POST /sessions answers this status
	createDetail     string        // … with this {"detail"}
	retryAfter       string        // … and this Retry-After
	offerStatus      int           // if set, the SDP POST/PUT answers this status
	answerNever      bool          // never stage an answer (GET sdp_params stays 202)
	answerDelay      time.Duration // wait before staging the answer
	deleteStatus     int           // DELETE /sessions/{id} status (default 204)
}

type journalEntry struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	Status       int
}

// dcEntry is one data-channel frame the fake received.
type dcEntry struct {
	Channel, Type string
	Codec         wirev0.Codec
	RequestID     string
	Data          map[string]any
	Uploads       map[string]wire.FileRef
}

type fake struct {
	t    *testing.T
	opts fakeOptions
	srv  *httptest.Server
	api  *webrtc.API
	wg   sync.WaitGroup

	mu        sync.Mutex
	journal   []journalEntry
	dc        []dcEntry
	polls     int
	offers    []wire.SDPOfferRequest
	cands     []wire.IceCandidatesRequest
	conns     map[int]*fakeConn
	allConns  []*fakeConn
	answer    string // staged, consumed on read
	uploads   map[string][]byte
	putHeader http.Header
	closed    bool
	errs      []string
}

type fakeConn struct {
	f             *fake
	pc            *webrtc.PeerConnection
	track         *webrtc.TrackLocalStaticRTP
	sender        *webrtc.RTPSender
	mapping       []wire.TrackMapping
	done          chan struct{}
	closeOnce     sync.Once
	mu            sync.Mutex
	control, data *webrtc.DataChannel
	streaming     bool
	commandID     uint32
	pendingCands  []webrtc.ICECandidateInit
	remoteSet     bool
}

func newFake(t *testing.T, opts fakeOptions) *fake {
	t.Helper()
	api, err := NewAPI(APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t, opts: opts, api: api, conns: map[int]*fakeConn{}, uploads: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokens", f.tokens)
	mux.HandleFunc("POST /sessions", f.create)
	mux.HandleFunc("GET /sessions/{id}", f.poll)
	mux.HandleFunc("DELETE /sessions/{id}", f.deleteSession)
	mux.HandleFunc("GET /sessions/{id}/transport/webrtc/ice_servers", f.iceServers)
	mux.HandleFunc("POST /sessions/{id}/transport/webrtc/connections", f.register)
	mux.HandleFunc("POST /sessions/{id}/transport/webrtc/connections/{cid}/sdp_params", f.offer)
	mux.HandleFunc("PUT /sessions/{id}/transport/webrtc/connections/{cid}/sdp_params", f.offer)
	mux.HandleFunc("GET /sessions/{id}/transport/webrtc/connections/{cid}/sdp_params", f.getAnswer)
	mux.HandleFunc("POST /sessions/{id}/transport/webrtc/connections/{cid}/ice_candidates", f.iceCandidates)
	mux.HandleFunc("POST /sessions/{id}/uploads", f.reserveUpload)
	mux.HandleFunc("PUT /uploads/{upload}", f.putUpload)
	f.srv = httptest.NewServer(f.journaling(mux))
	t.Cleanup(f.close)
	return f
}

func (f *fake) fail(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *fake) close() {
	f.srv.Close()
	f.mu.Lock()
	f.closed = true
	conns := f.allConns
	errs := f.errs
	f.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	f.wg.Wait()
	for _, e := range errs {
		f.t.Errorf("fake: %s", e)
	}
}

// statusRecorder captures the status for the journal.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(s int) { r.status = s; r.ResponseWriter.WriteHeader(s) }

func (f *fake) journaling(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		next.ServeHTTP(rec, r)
		f.mu.Lock()
		f.journal = append(f.journal, journalEntry{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Status: rec.status})
		f.mu.Unlock()
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, wire.ErrorBody{Detail: msg})
}

func (f *fake) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get(wire.HeaderAuthorization) != wire.BearerPrefix+fakeJWT {
		detail(w, http.StatusUnauthorized, "invalid token")
		return false
	}
	return true
}

func (f *fake) tokens(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(wire.HeaderAPIKey) != fakeAPIKey {
		detail(w, http.StatusUnauthorized, "invalid API key")
		return
	}
	writeJSON(w, http.StatusOK, wire.TokenResponse{JWT: fakeJWT, ExpiresAt: time.Now().Add(time.Hour).Unix(), ExpiresAfter: 3600})
}

func (f *fake) slim(state wire.SessionState) wire.SessionResponse {
	return wire.SessionResponse{SessionID: fakeSessionID, State: state, Cluster: "local",
		Model: wire.ModelRef{Name: DefaultModel}, ServerInfo: wire.ServerInfo{ServerVersion: "fake"}}
}

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	if f.opts.createStatus != 0 {
		if f.opts.retryAfter != "" {
			w.Header().Set(wire.HeaderRetryAfter, f.opts.retryAfter)
		}
		detail(w, f.opts.createStatus, f.opts.createDetail)
		return
	}
	if !f.authorized(w, r) {
		return
	}
	writeJSON(w, http.StatusCreated, f.slim(wire.StateCreated))
}

func (f *fake) poll(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	f.mu.Lock()
	f.polls++
	n := f.polls
	f.mu.Unlock()
	if f.opts.terminalAfter > 0 && n >= f.opts.terminalAfter {
		writeJSON(w, http.StatusOK, f.slim(wire.StateClosed))
		return
	}
	if n <= f.opts.pollsBeforeReady {
		writeJSON(w, http.StatusOK, f.slim(wire.StatePending))
		return
	}
	s := f.slim(wire.StateWaiting)
	caps := fakeCaps
	s.Capabilities = &caps
	s.SelectedTransport = &wire.Transport{Protocol: "webrtc", Version: "1.0"}
	writeJSON(w, http.StatusOK, s)
}

func (f *fake) deleteSession(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	if f.opts.deleteStatus != 0 {
		detail(w, f.opts.deleteStatus, "Unknown session")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fake) iceServers(w http.ResponseWriter, r *http.Request) {
	if f.authorized(w, r) {
		writeJSON(w, http.StatusOK, wire.IceServersResponse{IceServers: []wire.IceServer{}})
	}
}

func (f *fake) register(w http.ResponseWriter, r *http.Request) {
	if f.authorized(w, r) {
		writeJSON(w, http.StatusCreated, wire.RegisterConnectionResponse{ConnectionID: fakeCID,
			TrackMap: map[string]wire.TrackRoute{"main_video": {Kind: "video", Direction: "out"}, "webcam": {Kind: "video", Direction: "in"}}})
	}
}

func (f *fake) offer(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	cid, err := strconv.Atoi(r.PathValue("cid"))
	if err != nil || cid != fakeCID {
		detail(w, http.StatusNotFound, "connection not found")
		return
	}
	var req wire.SDPOfferRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		detail(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	f.mu.Lock()
	f.offers = append(f.offers, req)
	f.answer = ""
	closed := f.closed
	if !closed {
		f.wg.Add(1)
	}
	f.mu.Unlock()
	if closed {
		detail(w, http.StatusBadRequest, "No session running")
		return
	}
	if f.opts.offerStatus != 0 {
		f.wg.Done()
		writeJSON(w, f.opts.offerStatus, wire.SDPOfferAccepted{ConnectionID: cid})
		return
	}
	go func() {
		defer f.wg.Done()
		f.negotiate(cid, req)
	}()
	writeJSON(w, http.StatusAccepted, wire.SDPOfferAccepted{ConnectionID: cid})
}

func (f *fake) getAnswer(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	f.mu.Lock()
	answer := f.answer
	f.answer = ""
	f.mu.Unlock()
	if answer == "" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	writeJSON(w, http.StatusOK, wire.SDPAnswerResponse{SDPAnswer: answer, ConnectionID: fakeCID})
}

func (f *fake) iceCandidates(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	var req wire.IceCandidatesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		detail(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	f.mu.Lock()
	f.cands = append(f.cands, req)
	fc := f.conns[fakeCID]
	f.mu.Unlock()
	if fc != nil {
		for _, c := range req.Candidates {
			init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid}
			if c.SDPMLineIndex != nil {
				v := uint16(*c.SDPMLineIndex)
				init.SDPMLineIndex = &v
			}
			fc.addCandidate(init)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *fake) reserveUpload(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	var req wire.UploadRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Size <= 0 {
		detail(w, http.StatusBadRequest, "size must be > 0")
		return
	}
	writeJSON(w, http.StatusCreated, wire.UploadResponse{PresignedID: fakeUploadID,
		PresignedURL: f.srv.URL + "/uploads/" + fakeUploadID, Path: "uploads/" + fakeUploadID})
}

func (f *fake) putUpload(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.uploads[r.PathValue("upload")] = body
	f.putHeader = r.Header.Clone()
	f.mu.Unlock()
	if r.ContentLength != int64(len(body)) {
		detail(w, http.StatusBadRequest, "Content-Length mismatch")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// negotiate is the answerer: a new peer connection per offer, a VP8 track
// bound to the recvonly main_video transceiver, a non-trickle answer.
func (f *fake) negotiate(cid int, req wire.SDPOfferRequest) {
	pc, err := f.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		f.fail("new peer connection: %v", err)
		return
	}
	fc := &fakeConn{f: f, pc: pc, mapping: req.TrackMapping, done: make(chan struct{})}
	f.mu.Lock()
	old := f.conns[cid]
	f.conns[cid] = fc
	f.allConns = append(f.allConns, fc)
	closed := f.closed
	f.mu.Unlock()
	if old != nil {
		old.close()
	}
	if closed {
		fc.close()
		return
	}
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		fc.mu.Lock()
		if dc.Label() == LabelControl {
			fc.control = dc
		} else {
			fc.data = dc
		}
		fc.mu.Unlock()
		label := dc.Label()
		dc.OnMessage(func(m webrtc.DataChannelMessage) { fc.onMessage(label, m) })
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: req.SDPOffer}); err != nil {
		f.fail("set remote offer: %v", err)
		return
	}
	fc.flushCandidates()
	fc.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "main_video", "reactor")
	if err != nil {
		f.fail("track: %v", err)
		return
	}
	if fc.sender, err = pc.AddTrack(fc.track); err != nil {
		f.fail("add track: %v", err)
		return
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == fc.sender && tr.Mid() != req.TrackMapping[0].MID {
			f.fail("main_video bound to mid %q, mapping says %q", tr.Mid(), req.TrackMapping[0].MID)
		}
	}
	f.wg.Go(func() {
		for range 1_000_000 { // ends with the peer connection
			if _, _, err := fc.sender.ReadRTCP(); err != nil {
				return
			}
		}
	})
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		f.fail("create answer: %v", err)
		return
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		f.fail("set local answer: %v", err)
		return
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
		f.fail("answer gathering timed out")
	case <-fc.done:
		return
	}
	if f.opts.answerNever {
		return
	}
	if f.opts.answerDelay > 0 {
		select {
		case <-time.After(f.opts.answerDelay):
		case <-fc.done:
			return
		}
	}
	f.mu.Lock()
	f.answer = pc.LocalDescription().SDP
	f.mu.Unlock()
}

func (fc *fakeConn) close() {
	fc.closeOnce.Do(func() {
		close(fc.done)
		if err := fc.pc.GracefulClose(); err != nil {
			fc.f.fail("close: %v", err)
		}
	})
}

func (fc *fakeConn) addCandidate(c webrtc.ICECandidateInit) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if !fc.remoteSet {
		fc.pendingCands = append(fc.pendingCands, c)
		return
	}
	if err := fc.pc.AddICECandidate(c); err != nil {
		fc.f.fail("add candidate %q: %v", c.Candidate, err)
	}
}

func (fc *fakeConn) flushCandidates() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.remoteSet = true
	for _, c := range fc.pendingCands {
		if err := fc.pc.AddICECandidate(c); err != nil {
			fc.f.fail("add buffered candidate: %v", err)
		}
	}
	fc.pendingCands = nil
}

func (fc *fakeConn) record(e dcEntry) {
	fc.f.mu.Lock()
	fc.f.dc = append(fc.f.dc, e)
	fc.f.mu.Unlock()
}

func (fc *fakeConn) channel(label string) *webrtc.DataChannel {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if label == LabelControl {
		return fc.control
	}
	return fc.data
}

// onMessage answers like the runtime: v0 frames are JSON text, v1 binary.
func (fc *fakeConn) onMessage(label string, m webrtc.DataChannelMessage) {
	if wirev0.Sniff(m.Data, m.IsString) == wirev0.V0 {
		fc.onV0(label, m.Data)
		return
	}
	fc.onV1(label, m.Data)
}

func (fc *fakeConn) onV0(label string, frame []byte) {
	if label == LabelControl {
		cf, err := wirev0.DecodeControl(frame)
		if err != nil {
			fc.f.fail("v0 control: %v", err)
			return
		}
		name, _ := cf.TrackName()
		fc.record(dcEntry{Channel: label, Type: cf.Event, Codec: wirev0.V0, Data: map[string]any{"name": name}})
		fc.trackVerb(cf.Event, name)
		return
	}
	env, err := wirev0.DecodeEnvelope(frame)
	if err != nil {
		fc.f.fail("v0 data: %v", err)
		return
	}
	data, _ := env.Data.Object()
	fc.record(dcEntry{Channel: label, Type: env.Data.Type, Codec: wirev0.V0, Data: data, Uploads: env.Data.Uploads})
	switch {
	case env.Scope == wirev0.ScopeRuntime && env.Data.Type == wirev0.TypeRequestSchema:
		reply, _ := wirev0.NewRuntimeMessage(wirev0.TypeModelSchema, fakeSchema)
		fc.sendText(LabelData, reply)
	case env.Scope == wirev0.ScopeApplication:
		fc.applyCommand()
		reply, _ := wirev0.NewModelMessage("progress", map[string]any{"command": env.Data.Type})
		fc.sendText(LabelData, reply)
	}
}

func (fc *fakeConn) onV1(label string, frame []byte) {
	if label == LabelControl {
		m, err := wirev1.DecodeControlClient(frame)
		if err != nil {
			fc.f.fail("v1 control: %v", err)
			return
		}
		e := dcEntry{Channel: label, Type: wirev1.PayloadName(m), Codec: wirev0.V1, RequestID: m.GetRequestId()}
		switch {
		case m.GetResumeTrack() != nil:
			fc.trackVerb(wirev0.EventResumeTrack, m.GetResumeTrack().GetName())
			e.Data = map[string]any{"name": m.GetResumeTrack().GetName()}
		case m.GetPauseTrack() != nil:
			fc.trackVerb(wirev0.EventPauseTrack, m.GetPauseTrack().GetName())
			e.Data = map[string]any{"name": m.GetPauseTrack().GetName()}
		case m.GetFileUploaded() != nil:
			e.Data = map[string]any{"upload_id": m.GetFileUploaded().GetUploadId()}
		case m.GetRequestSchema() != nil:
			reply, err := wirev1.NewModelSchema(m.GetRequestId(), fakeSchema)
			if err != nil {
				fc.f.fail("schema: %v", err)
				return
			}
			fc.sendBinary(LabelControl, reply)
		}
		fc.record(e)
		return
	}
	m, err := wirev1.DecodeDataClient(frame)
	if err != nil {
		fc.f.fail("v1 data: %v", err)
		return
	}
	cmd := m.GetCommand()
	uploads := map[string]wire.FileRef{}
	for k, v := range cmd.GetUploads() {
		uploads[k] = wirev1.ToFileRef(v)
	}
	fc.record(dcEntry{Channel: label, Type: cmd.GetType(), Codec: wirev0.V1, RequestID: m.GetRequestId(),
		Data: wirev1.FromStruct(cmd.GetData()), Uploads: uploads})
	id := m.GetRequestId()
	switch cmd.GetType() {
	case "fail":
		fc.sendBinary(LabelData, wirev1.NewDataError(id, wirev1.CodeInvalidCommand, "prompt: required"))
	case "silent":
		fc.applyCommand()
		fc.sendBinary(LabelData, wirev1.NewAck(id))
	default:
		fc.applyCommand()
		note, _ := wirev1.NewModelNotification("progress", map[string]any{"command": cmd.GetType()})
		fc.sendBinary(LabelData, note)
		reply, _ := wirev1.NewModelResponse(id, cmd.GetType(), wirev1.FromStruct(cmd.GetData()))
		fc.sendBinary(LabelData, reply)
	}
}

func (fc *fakeConn) applyCommand() {
	fc.mu.Lock()
	fc.commandID++
	fc.mu.Unlock()
}

func (fc *fakeConn) sendText(label string, frame []byte) {
	if dc := fc.channel(label); dc != nil {
		if err := dc.SendText(string(frame)); err != nil {
			fc.f.fail("send %s: %v", label, err)
		}
	}
}

func (fc *fakeConn) sendBinary(label string, m proto.Message) {
	frame, err := wirev1.Marshal(m)
	if err != nil {
		fc.f.fail("marshal: %v", err)
		return
	}
	if dc := fc.channel(label); dc != nil {
		if err := dc.Send(frame); err != nil {
			fc.f.fail("send %s: %v", label, err)
		}
	}
}

// trackVerb starts or stops the main_video stream.
func (fc *fakeConn) trackVerb(event, name string) {
	if name != "main_video" {
		fc.f.fail("%s for %q, which is not a recvonly track", event, name)
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	switch event {
	case wirev0.EventResumeTrack:
		if fc.streaming {
			return
		}
		fc.streaming = true
		fc.f.wg.Go(fc.stream)
	case wirev0.EventPauseTrack:
		fc.streaming = false
	}
}

func (fc *fakeConn) isStreaming() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.streaming
}

// stream sends frames of framePackets VP8-shaped packets every
// frameInterval while resumed, stamped with both extensions.
func (fc *fakeConn) stream() {
	var stampID, absID uint8
	for _, e := range fc.sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case rtpext.FrameStampURI:
			stampID = uint8(e.ID)
		case rtpext.AbsCaptureTimeURI:
			absID = uint8(e.ID)
		}
	}
	if stampID == 0 || absID == 0 {
		fc.f.fail("extensions not negotiated: frame stamp %d, abs-capture-time %d", stampID, absID)
	}
	tick := time.NewTicker(frameInterval)
	defer tick.Stop()
	var seq uint16 = 65000 // wraps during the test
	for n := range uint32(maxFakeFrames) {
		select {
		case <-fc.done:
			return
		case <-tick.C:
		}
		if !fc.isStreaming() {
			return
		}
		fc.mu.Lock()
		cmd := fc.commandID
		fc.mu.Unlock()
		now := time.Now()
		stamp := rtpext.NewFrameStamp(now, n+1, cmd).Marshal()
		abs, _ := rtpext.NewAbsCaptureTime(now).Marshal()
		for i := range framePackets {
			payload := make([]byte, 200)
			if i == 0 {
				payload[0] = 0x10 // S=1, partition 0
				if n%30 != 0 {
					payload[1] = 0x01 // interframe
				}
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: 90000 + n*3000, Marker: i == framePackets-1}, Payload: payload}
			seq++
			if stampID != 0 {
				_ = p.Header.SetExtension(stampID, stamp)
			}
			if absID != 0 {
				_ = p.Header.SetExtension(absID, abs)
			}
			if err := fc.track.WriteRTP(p); err != nil {
				return
			}
		}
	}
}
