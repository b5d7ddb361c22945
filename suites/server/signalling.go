package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// WebRTC signalling over HTTP, PROTOCOL.md §1.3, under
// B = /sessions/{id}/transport/webrtc: ICE servers, connection registration,
// offer (202), answer poll (202 then 200, consumed on read), trickle ICE,
// re-offer with PUT, and the 2.9.0 paths without a connection id. The cases
// speak raw HTTP (so every status is visible) with a real pion offer built
// from the session's capabilities, one transceiver per track in order.

func init() {
	register(Case{ID: "signal/1", Section: "1.3", Check: signalIceServers,
		Requirement: "GET B/ice_servers MUST answer 200 {ice_servers: [{uris: [...]}...]} both with JS headers (WebRTC version + auth only) and reactor-core's (all three)"})
	register(Case{ID: "signal/2", Section: "1.3", Check: signalRegister,
		Requirement: "POST B/connections (no body, or {} with a JSON content type) MUST answer 201 {connection_id, track_map} with connection_id in [1002, 9999]"})
	register(Case{ID: "signal/3", Section: "1.3", Check: signalDistinctIDs,
		Requirement: "connection ids minted for one session MUST never repeat"})
	register(Case{ID: "signal/4", Section: "1.3", Check: signalOfferAccepted,
		Requirement: "POST B/connections/{cid}/sdp_params with {sdp_offer, track_mapping} MUST answer exactly 202 (JS rejects even 200), with {connection_id} when a body is sent"})
	register(Case{ID: "signal/5", Section: "1.3", Check: signalAnswer,
		Requirement: "after an offer, GET B/connections/{cid}/sdp_params MUST answer 202 until negotiated and then 200 {sdp_answer, connection_id}"})
	register(Case{ID: "signal/6", Section: "1.3", Check: signalAnswerConsumed,
		Requirement: "the SDP answer MUST be consumed on read: the GET after the 200 answers 202 again"})
	register(Case{ID: "signal/7", Section: "1.3", Check: signalNoOfferPoll,
		Requirement: "GET B/connections/{cid}/sdp_params for a registered cid that never offered MUST answer 202, not 404"})
	register(Case{ID: "signal/8", Section: "1.3", Check: signalTrickle,
		Requirement: "POST B/connections/{cid}/ice_candidates {candidates, is_final} MUST answer 202, before the offer (buffered) and after it"})
	register(Case{ID: "signal/9", Section: "1.3", Check: signalReoffer,
		Requirement: "PUT B/connections/{cid}/sdp_params (re-offer on the same cid) MUST answer 202 and lead to a new 200 answer"})
	register(Case{ID: "signal/10", Section: "4", Check: signalAnswerSections,
		Requirement: "the SDP answer MUST carry every offered mid, send on the recvonly (model output) tracks and include the data-channel section"})
	register(Case{ID: "signal/11", Section: "1.3", Check: signalUnknownSession,
		Requirement: "transport calls for a session that does not exist MUST answer 404"})
	register(Case{ID: "signal/12", Section: "1.3", Check: signalNeedsAuth,
		Requirement: "transport calls without Authorization MUST be refused with 401 (or 403)"})
	register(Case{ID: "signal/13", Section: "1.3", Check: signalSingleConnection,
		Requirement: "the 2.9.0 paths without a connection id MUST work: POST B/sdp_params → 202, then GET B/sdp_params → 202 … 200 {sdp_answer}"})
	register(Case{ID: "signal/14", Section: "1.3", Check: signalDeletedSession,
		Requirement: "transport calls for a deleted session MUST be refused with 404 (or 400 No session running), never 2xx"})
	register(Case{ID: "signal/15", Section: "1.3", Destructive: true, Check: signalConnectionLimit,
		Requirement: "once a session has max_connections connections, registering another MUST answer 503"})
}

// tpath is a path under the session's transport base.
func tpath(sid, suffix string) string { return wire.TransportBase(sid) + suffix }

// transport sends a transport call with reactor-core's headers.
func (r *Run) transport(ctx context.Context, method, path string, body any) (*Resp, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return nil, err
	}
	return r.send(ctx, method, path, withBearer(transportHeaders(), jwt), body)
}

// jsTransport sends a transport call the way JS 2.9/2.12 do: only the
// WebRTC version header and the bearer.
func (r *Run) jsTransport(ctx context.Context, method, path string, body any) (*Resp, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(wire.HeaderWebRTCVersion, wire.CurrentWebRTCVersion)
	return r.send(ctx, method, path, withBearer(h, jwt), body)
}

// registerConn registers a connection and returns its id.
func (r *Run) registerConn(ctx context.Context, sid string) (int, *Resp, error) {
	resp, err := r.transport(ctx, http.MethodPost, tpath(sid, "/connections"), nil)
	if err != nil {
		return 0, nil, err
	}
	if err := wantStatus(resp, http.StatusCreated); err != nil {
		return 0, resp, err
	}
	var body wire.RegisterConnectionResponse
	if err := resp.JSON(&body); err != nil {
		return 0, resp, err
	}
	return body.ConnectionID, resp, nil
}

// offerKit is a pion peer connection with one transceiver per capability
// track (in capability order) and the control and data channels, and the
// offer it produced.
type offerKit struct {
	pc      *webrtc.PeerConnection
	sdp     string
	mapping []wire.TrackMapping
}

func (k *offerKit) Close() { _ = k.pc.Close() }

func loopbackOnly(ip net.IP) bool { return ip.IsLoopback() }

// loopbackAPI is a pion API restricted to loopback host candidates.
func loopbackAPI() (*webrtc.API, error) {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(loopbackOnly)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("setup: codecs: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)), nil
}

func newOfferKit(ctx context.Context, caps *wire.Capabilities) (*offerKit, error) {
	api, err := loopbackAPI()
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("setup: peer connection: %w", err)
	}
	k := &offerKit{pc: pc}
	var trs []*webrtc.RTPTransceiver
	for _, t := range caps.Tracks {
		kind := webrtc.RTPCodecTypeVideo
		if t.Kind == "audio" {
			kind = webrtc.RTPCodecTypeAudio
		}
		dir := webrtc.RTPTransceiverDirectionRecvonly
		if t.Direction == wire.DirectionSendOnly {
			dir = webrtc.RTPTransceiverDirectionSendonly
		}
		tr, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir})
		if err != nil {
			k.Close()
			return nil, fmt.Errorf("setup: transceiver for %s: %w", t.Name, err)
		}
		trs = append(trs, tr)
	}
	for _, label := range []string{"control", "data"} {
		if _, err := pc.CreateDataChannel(label, nil); err != nil {
			k.Close()
			return nil, fmt.Errorf("setup: data channel %s: %w", label, err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("setup: offer: %w", err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		k.Close()
		return nil, fmt.Errorf("setup: local description: %w", err)
	}
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
		k.Close()
		return nil, ctx.Err()
	}
	k.sdp = pc.LocalDescription().SDP
	for i, tr := range trs {
		ct := caps.Tracks[i]
		k.mapping = append(k.mapping, wire.TrackMapping{MID: tr.Mid(), Name: ct.Name, Kind: ct.Kind, Direction: ct.Direction})
	}
	return k, nil
}

func (k *offerKit) request() wire.SDPOfferRequest {
	return wire.SDPOfferRequest{SDPOffer: k.sdp, TrackMapping: k.mapping,
		ClientInfo: &wire.ClientInfo{SDKVersion: "conformance", SDKType: "go-harness"}}
}

// signalFixture is a ready session with a registered connection and an
// offer kit for it.
type signalFixture struct {
	sid string
	cid int
	kit *offerKit
}

func (r *Run) signalFixture(ctx context.Context) (*signalFixture, error) {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return nil, err
	}
	cid, _, err := r.registerConn(ctx, sr.SessionID)
	if err != nil {
		return nil, err
	}
	kit, err := newOfferKit(ctx, sr.Capabilities)
	if err != nil {
		return nil, err
	}
	r.onCleanup(kit.Close)
	return &signalFixture{sid: sr.SessionID, cid: cid, kit: kit}, nil
}

func (f *signalFixture) sdpPath() string {
	return tpath(f.sid, fmt.Sprintf("/connections/%d/sdp_params", f.cid))
}

// offer posts (or, with put, re-offers) the kit's offer and requires 202.
func (r *Run) offer(ctx context.Context, f *signalFixture, method string) (*Resp, error) {
	resp, err := r.transport(ctx, method, f.sdpPath(), f.kit.request())
	if err != nil {
		return nil, err
	}
	return resp, wantStatus(resp, http.StatusAccepted)
}

// negotiate sets up a signalFixture, POSTs its offer and waits for the
// answer, for the cases that check what follows a first negotiation.
func (r *Run) negotiate(ctx context.Context) (*signalFixture, *wire.SDPAnswerResponse, *Resp, error) {
	f, err := r.signalFixture(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := r.offer(ctx, f, http.MethodPost); err != nil {
		return nil, nil, nil, err
	}
	ans, resp, err := r.awaitAnswer(ctx, f.sdpPath(), false)
	if err != nil {
		return nil, nil, nil, err
	}
	return f, ans, resp, nil
}

// awaitAnswer polls path until 200 with an SDP answer, bounded; any status
// but 200/202 fails at once.
func (r *Run) awaitAnswer(ctx context.Context, path string, js bool) (*wire.SDPAnswerResponse, *Resp, error) {
	deadline := time.Now().Add(15 * time.Second)
	delay := 50 * time.Millisecond
	for {
		var resp *Resp
		var err error
		if js {
			resp, err = r.jsTransport(ctx, http.MethodGet, path, nil)
		} else {
			resp, err = r.transport(ctx, http.MethodGet, path, nil)
		}
		if err != nil {
			return nil, nil, err
		}
		switch resp.Status {
		case http.StatusOK:
			var ans wire.SDPAnswerResponse
			if err := resp.JSON(&ans); err != nil {
				return nil, resp, err
			}
			if !strings.HasPrefix(ans.SDPAnswer, "v=0") {
				return nil, resp, fail(resp, "sdp_answer must be an SDP answer starting \"v=0\", got %q", firstLine(ans.SDPAnswer))
			}
			return &ans, resp, nil
		case http.StatusAccepted:
		default:
			return nil, resp, fail(resp, "while negotiating, the answer poll may only answer 202 (pending) or 200 (answer); received %s", statusName(resp.Status))
		}
		if time.Now().After(deadline) {
			return nil, resp, fail(resp, "no SDP answer after polling for 15 s (the SDKs give up after 6 polls, about 6 s)")
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, resp, err
		}
		delay = min(delay*2, time.Second)
	}
}

func signalIceServers(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	for _, js := range []bool{true, false} {
		var resp *Resp
		if js {
			resp, err = r.jsTransport(ctx, http.MethodGet, tpath(sr.SessionID, "/ice_servers"), nil)
		} else {
			resp, err = r.transport(ctx, http.MethodGet, tpath(sr.SessionID, "/ice_servers"), nil)
		}
		if err != nil {
			return err
		}
		m, err := wantObject(resp, http.StatusOK)
		if err != nil {
			return err
		}
		var p problems
		list, ok := m["ice_servers"].([]any)
		if !ok {
			p.add("\"ice_servers\" must be an array (an empty one is valid), got %s", jsonOf(m["ice_servers"]))
		}
		for i, sAny := range list {
			s, _ := sAny.(map[string]any)
			if uris, ok := s["uris"].([]any); !ok || len(uris) == 0 {
				p.add("ice_servers[%d].uris must be a non-empty array, got %s", i, jsonOf(s["uris"]))
			}
		}
		if err := p.err(resp, "the ICE server list does not have the documented shape"); err != nil {
			return err
		}
	}
	return nil
}

func checkRegistration(resp *Resp) (int, error) {
	m, err := wantObject(resp, http.StatusCreated)
	if err != nil {
		return 0, err
	}
	var p problems
	cid, ok := requireNumber(&p, m, "connection_id")
	if ok && (cid != float64(int(cid)) || cid < wire.MinConnectionID || cid > wire.MaxConnectionID) {
		p.add("connection_id %v must be an integer in [%d, %d] (1000 is invalid, 1001 reserved for legacy callers)", cid, wire.MinConnectionID, wire.MaxConnectionID)
	}
	if tm, present := m["track_map"]; present {
		if _, isObj := tm.(map[string]any); !isObj {
			p.add("track_map must be an object, got %s", jsonOf(tm))
		}
	} else {
		p.add("\"track_map\" is missing")
	}
	return int(cid), p.err(resp, "the registration answer does not have the documented shape")
}

func signalRegister(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	noBody, err := r.jsTransport(ctx, http.MethodPost, tpath(sr.SessionID, "/connections"), nil)
	if err != nil {
		return err
	}
	if _, err := checkRegistration(noBody); err != nil {
		return fmt.Errorf("registration without a body (JS): %w", err)
	}
	empty, err := r.transport(ctx, http.MethodPost, tpath(sr.SessionID, "/connections"), rawJSON("{}"))
	if err != nil {
		return err
	}
	if _, err := checkRegistration(empty); err != nil {
		return fmt.Errorf("registration with body {} (reactor-core): %w", err)
	}
	return nil
}

func signalDistinctIDs(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	for i := 0; i < 6; i++ {
		resp, err := r.transport(ctx, http.MethodPost, tpath(sr.SessionID, "/connections"), nil)
		if err != nil {
			return err
		}
		cid, err := checkRegistration(resp)
		if err != nil {
			return err
		}
		if seen[cid] {
			return fail(resp, "connection_id %d was minted twice for session %s", cid, sr.SessionID)
		}
		seen[cid] = true
	}
	return nil
}

func signalOfferAccepted(ctx context.Context, r *Run) error {
	f, err := r.signalFixture(ctx)
	if err != nil {
		return err
	}
	resp, err := r.offer(ctx, f, http.MethodPost)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(resp.Body))) > 0 {
		var body wire.SDPOfferAccepted
		if err := resp.JSON(&body); err != nil {
			return err
		}
		if body.ConnectionID != 0 && body.ConnectionID != f.cid {
			return fail(resp, "the 202 names connection_id %d, but the offer was for %d", body.ConnectionID, f.cid)
		}
	}
	return nil
}

func signalAnswer(ctx context.Context, r *Run) error {
	_, ans, resp, err := r.negotiate(ctx)
	if err != nil {
		return err
	}
	if ans.ConnectionID != 0 && (ans.ConnectionID < wire.MinConnectionID || ans.ConnectionID > wire.MaxConnectionID) {
		return fail(resp, "the answer's connection_id %d is outside [%d, %d]", ans.ConnectionID, wire.MinConnectionID, wire.MaxConnectionID)
	}
	return nil
}

func signalAnswerConsumed(ctx context.Context, r *Run) error {
	f, _, _, err := r.negotiate(ctx)
	if err != nil {
		return err
	}
	again, err := r.transport(ctx, http.MethodGet, f.sdpPath(), nil)
	if err != nil {
		return err
	}
	if err := wantStatus(again, http.StatusAccepted); err != nil {
		return fmt.Errorf("the answer was already handed out once and must be consumed on read: %w", err)
	}
	return nil
}

func signalNoOfferPoll(ctx context.Context, r *Run) error {
	f, err := r.signalFixture(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		resp, err := r.transport(ctx, http.MethodGet, f.sdpPath(), nil)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, http.StatusAccepted); err != nil {
			return err
		}
	}
	return nil
}

func signalTrickle(ctx context.Context, r *Run) error {
	f, err := r.signalFixture(ctx)
	if err != nil {
		return err
	}
	mid, idx := "0", 0
	if len(f.kit.mapping) > 0 {
		mid = f.kit.mapping[0].MID
	}
	path := tpath(f.sid, fmt.Sprintf("/connections/%d/ice_candidates", f.cid))
	early := wire.IceCandidatesRequest{Candidates: []wire.IceCandidate{{
		Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 49999 typ host", SDPMid: &mid, SDPMLineIndex: &idx}},
		ClientInfo: &wire.ClientInfo{SDKVersion: "conformance", SDKType: "go-harness"}}
	resp, err := r.transport(ctx, http.MethodPost, path, early)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return fmt.Errorf("candidates sent before the offer (reactor-core flushes them first) must be buffered: %w", err)
	}
	if _, err := r.offer(ctx, f, http.MethodPost); err != nil {
		return err
	}
	final, err := r.transport(ctx, http.MethodPost, path, wire.IceCandidatesRequest{Candidates: []wire.IceCandidate{}, IsFinal: true})
	if err != nil {
		return err
	}
	if err := wantStatus(final, http.StatusAccepted); err != nil {
		return fmt.Errorf("the final (is_final: true, empty) batch after the offer: %w", err)
	}
	_, _, err = r.awaitAnswer(ctx, f.sdpPath(), false)
	return err
}

func signalReoffer(ctx context.Context, r *Run) error {
	f, _, _, err := r.negotiate(ctx)
	if err != nil {
		return err
	}
	if _, err := r.offer(ctx, f, http.MethodPut); err != nil {
		return fmt.Errorf("re-offer with PUT on the same connection id: %w", err)
	}
	if _, _, err := r.awaitAnswer(ctx, f.sdpPath(), false); err != nil {
		return fmt.Errorf("after the PUT re-offer: %w", err)
	}
	return nil
}

// sdpSection is one m-section of an SDP: its media line, mid and direction.
type sdpSection struct {
	media, mid, direction string
	codecs                []string
}

func parseSections(sdp string) []sdpSection {
	var out []sdpSection
	for _, line := range strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "m="):
			f := strings.Fields(strings.TrimPrefix(line, "m="))
			s := sdpSection{direction: "sendrecv"}
			if len(f) > 0 {
				s.media = f[0]
			}
			out = append(out, s)
		case len(out) == 0:
		case strings.HasPrefix(line, "a=mid:"):
			out[len(out)-1].mid = strings.TrimSpace(strings.TrimPrefix(line, "a=mid:"))
		case line == "a=sendonly" || line == "a=recvonly" || line == "a=sendrecv" || line == "a=inactive":
			out[len(out)-1].direction = strings.TrimPrefix(line, "a=")
		case strings.HasPrefix(line, "a=rtpmap:"):
			f := strings.Fields(line)
			if len(f) == 2 {
				name, _, _ := strings.Cut(f[1], "/")
				out[len(out)-1].codecs = append(out[len(out)-1].codecs, strings.ToUpper(name))
			}
		}
	}
	return out
}

func signalAnswerSections(ctx context.Context, r *Run) error {
	f, ans, resp, err := r.negotiate(ctx)
	if err != nil {
		return err
	}
	byMid := map[string]sdpSection{}
	hasApp := false
	for _, s := range parseSections(ans.SDPAnswer) {
		byMid[s.mid] = s
		hasApp = hasApp || s.media == "application"
	}
	var p problems
	for _, m := range f.kit.mapping {
		s, ok := byMid[m.MID]
		if !ok {
			p.add("no m-section with mid %q (track %s)", m.MID, m.Name)
			continue
		}
		if m.Direction == wire.DirectionRecvOnly && s.direction != "sendonly" && s.direction != "sendrecv" {
			p.add("mid %q (model output %s) is answered %s; the server must send on it (sendonly)", m.MID, m.Name, s.direction)
		}
		if m.Direction == wire.DirectionSendOnly && s.direction != "recvonly" && s.direction != "sendrecv" {
			p.add("mid %q (client input %s) is answered %s; the server must receive on it (recvonly)", m.MID, m.Name, s.direction)
		}
	}
	if !hasApp {
		p.add("no application m-section: the control and data channels cannot open")
	}
	return p.err(resp, "the SDP answer does not fit the offer and its track_mapping")
}

func signalUnknownSession(ctx context.Context, r *Run) error {
	sid := randomUUID()
	for _, c := range []struct{ method, suffix string }{
		{http.MethodGet, "/ice_servers"}, {http.MethodPost, "/connections"},
	} {
		resp, err := r.transport(ctx, c.method, tpath(sid, c.suffix), nil)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

func signalNeedsAuth(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	resp, err := r.send(ctx, http.MethodPost, tpath(sr.SessionID, "/connections"), transportHeaders(), nil)
	if err != nil {
		return err
	}
	return wantRefused(resp, "a transport call without Authorization")
}

func signalSingleConnection(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	kit, err := newOfferKit(ctx, sr.Capabilities)
	if err != nil {
		return err
	}
	r.onCleanup(kit.Close)
	// JS 2.9.0 has only the data channel, but an extra control channel in
	// the offer is harmless; it sends {sdp_offer, client_info, track_mapping}.
	resp, err := r.jsTransport(ctx, http.MethodPost, tpath(sr.SessionID, "/sdp_params"), kit.request())
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return fmt.Errorf("JS 2.9.0 accepts only 202 for its offer: %w", err)
	}
	_, _, err = r.awaitAnswer(ctx, tpath(sr.SessionID, "/sdp_params"), true)
	return err
}

func signalDeletedSession(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	del, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), nil)
	if err != nil {
		return err
	}
	if err := want2xx(del, http.StatusNoContent); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	resp, err := r.transport(ctx, http.MethodPost, tpath(sr.SessionID, "/connections"), nil)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusNotFound, http.StatusBadRequest)
}

func signalConnectionLimit(ctx context.Context, r *Run) error {
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) { sc.Limits.MaxConnections = 2 }); err != nil {
		return err
	}
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	for i := 1; i <= 2; i++ {
		if _, _, err := r.registerConn(ctx, sr.SessionID); err != nil {
			return fmt.Errorf("setup: connection %d of 2 must be admitted: %w", i, err)
		}
	}
	resp, err := r.transport(ctx, http.MethodPost, tpath(sr.SessionID, "/connections"), nil)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusServiceUnavailable); err != nil {
		return fmt.Errorf("a third connection with limits.max_connections 2: %w", err)
	}
	return nil
}
