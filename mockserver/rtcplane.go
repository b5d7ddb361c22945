package mockserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/mockserver/impair"
	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/mockserver/peer"
	"github.com/reactor-harness/reactor-harness/wire"
)

// The WebRTC plane glues signalling (signalling.go) to the answerer
// (package peer), the video source (package media), the synthetic model
// (package model), the upload store and the session state machine.
//
// Per server: one peer.API (shared MediaEngine/SettingEngine, optional UDP
// mux, one watchdog goroutine), one media.Broadcaster (one clock, a few
// sender goroutines) and one sweeper goroutine that notices sessions that
// ended (DELETE, recover window, max duration, admin force); all started on
// first use and stopped when idle or on Close/Reset.
//
// Per session (sessionPlane): its connections (connection id → connSlot),
// one media.Stream per outbound video track, one model.Runtime whose
// messages go to every connection's "data" channel.

// Bounds of the per-session pre-offer ICE buffer (PROTOCOL.md §1.3, RT's
// early-ICE buffer).
const (
	maxEarlyCandidatesPerConn = 256
	maxEarlyConns             = 128
)

// defaultSweepEvery is how often the plane checks whether its sessions
// still exist. DELETE should also tear the plane down at once through
// closeSession; the sweep is the backstop for time-driven ends.
const defaultSweepEvery = time.Second

// lastMessageFlush bounds the wait for a last notice (sessionEnded,
// moderation) to leave before its connection closes.
const lastMessageFlush = time.Second

// rtcPlane is the server's WebRTC plane. Its zero state starts nothing;
// start runs on the first signalling request.
type rtcPlane struct {
	s *Server

	mu         sync.Mutex
	api        *peer.API
	bcs        map[*Model]*media.Broadcaster // one per model: its clip at its rate
	sessions   map[string]*sessionPlane
	assets     map[*Model]*modelAssets
	closed     bool
	sweepStop  chan struct{}
	sweepEvery time.Duration
	impair     *impair.Engine // on every ICE socket; its timeline follows the scenario
	wg         sync.WaitGroup // negotiations and the sweeper
}

// modelAssets are built once per model and shared by its sessions.
type modelAssets struct {
	catalog *model.Catalog
	schema  map[string]any
}

func newRTCPlane(s *Server) *rtcPlane {
	return &rtcPlane{s: s, sessions: map[string]*sessionPlane{}, assets: map[*Model]*modelAssets{},
		sweepEvery: defaultSweepEvery}
}

// startLocked starts the shared answerer and broadcaster if needed.
func (p *rtcPlane) startLocked() error {
	if p.closed {
		return errors.New("the server is closed")
	}
	pol := p.s.MediaPolicy()
	if p.api == nil {
		tl, err := pol.impairTimeline()
		if err != nil {
			return err
		}
		if p.impair == nil {
			p.impair = impair.NewEngine(tl)
			p.impair.OnChange(p.s.journalImpairment)
		} else {
			p.impair.Set(tl)
		}
		api, err := peer.NewAPI(peer.Config{
			Impair: p.impair,
			UDPMux: pol.UDPMux, MuxAddr: pol.UDPMuxAddr, PortMin: pol.PortMin, PortMax: pol.PortMax,
			AllInterfaces: pol.AllInterfaces, WatchdogTimeout: pol.WatchdogTimeout.D(),
			WatchdogInterval: pol.WatchdogInterval.D(), NegotiationTimeout: pol.NegotiationTimeout.D(),
		})
		if err != nil {
			return err
		}
		p.api = api
	}
	// Every hosted model's clock starts with the plane, so a session's
	// first offer does not wait for it and it outlives every session.
	for _, m := range p.s.sessions.models.models {
		if _, err := p.broadcasterLocked(m); err != nil {
			return err
		}
	}
	return nil
}

// broadcasterLocked returns the model's broadcaster, starting it on first
// use: sessions of a model share its clip and clock.
func (p *rtcPlane) broadcasterLocked(m *Model) (*media.Broadcaster, error) {
	if bc := p.bcs[m]; bc != nil {
		return bc, nil
	}
	clip, err := m.Clip()
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name(), err)
	}
	pol := p.s.MediaPolicy()
	bc, err := media.NewBroadcaster(clip, media.Options{FPS: pol.FPS, Phases: pol.Phases})
	if err != nil {
		return nil, err
	}
	bc.SetDelay(pol.frameDelay())
	if p.bcs == nil {
		p.bcs = map[*Model]*media.Broadcaster{}
	}
	p.bcs[m] = bc
	return bc, nil
}

// applyPolicy applies the live knobs of a new media policy.
func (p *rtcPlane) applyPolicy(pol MediaPolicy) {
	p.mu.Lock()
	bcs := slices.Collect(maps.Values(p.bcs))
	p.mu.Unlock()
	for _, bc := range bcs {
		bc.SetDelay(pol.frameDelay())
	}
	p.mu.Lock()
	eng := p.impair
	p.mu.Unlock()
	if eng != nil {
		if tl, err := pol.impairTimeline(); err == nil { // checked by Validate before it got here
			eng.Set(tl)
		}
	}
}

func (p *rtcPlane) assetsLocked(m *Model) (*modelAssets, error) {
	if a := p.assets[m]; a != nil {
		return a, nil
	}
	cat, err := model.NewCatalog(m.Capabilities().Commands)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Name(), err)
	}
	a := &modelAssets{catalog: cat, schema: m.OpenAPI()}
	p.assets[m] = a
	return a, nil
}

// sessionFor returns the plane of a session, creating it (and starting the
// shared machinery) on first use.
func (p *rtcPlane) sessionFor(ss *session) (*sessionPlane, *apiError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sp := p.sessions[ss.id]; sp != nil {
		return sp, nil
	}
	if err := p.startLocked(); err != nil {
		return nil, errf(http.StatusServiceUnavailable, "the mock's WebRTC plane cannot start: %v", err)
	}
	assets, err := p.assetsLocked(ss.model)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "mock internal error: %v", err)
	}
	bc, err := p.broadcasterLocked(ss.model)
	if err != nil {
		return nil, errf(http.StatusServiceUnavailable, "the mock's media for model %s cannot start: %v", ss.model.Name(), err)
	}
	sp, err := newSessionPlane(p, ss, assets, bc)
	if err != nil {
		return nil, errf(http.StatusInternalServerError, "mock internal error: %v", err)
	}
	p.sessions[ss.id] = sp
	p.startSweeperLocked()
	return sp, nil
}

// lookup returns a session's plane, or nil.
// conns counts the open peer connections (0 before the plane starts).
func (p *rtcPlane) conns() int {
	p.mu.Lock()
	api := p.api
	p.mu.Unlock()
	if api == nil {
		return 0
	}
	return api.Conns()
}

func (p *rtcPlane) lookup(id string) *sessionPlane {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[id]
}

// goTracked runs fn on a goroutine close and reset wait for. It reports
// false (and does not run fn) once the plane is closed.
func (p *rtcPlane) goTracked(fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Go(fn)
	return true
}

// closeSession tears down everything the plane holds for a session:
// negotiations, connections (sending sessionEnded first when reason is not
// empty), streams and the model runtime. It is the hook the session code
// calls on DELETE; the sweeper calls it for sessions that ended otherwise.
func (p *rtcPlane) closeSession(id, reason string) {
	p.mu.Lock()
	sp := p.sessions[id]
	delete(p.sessions, id)
	p.stopSweeperIfIdleLocked()
	p.mu.Unlock()
	if sp != nil {
		sp.close(reason)
	}
}

// CloseLocalSession implements localSessionCloser (local.go): POST
// /stop_session ends the local session's transport, telling its clients
// first with the moderation notice or sessionEnded{reason} the stop asks
// for (or nothing), then closing negotiations, connections, streams and the
// model runtime. The next signalling request gets a fresh plane.
func (p *rtcPlane) CloseLocalSession(n localStopNotice) {
	p.mu.Lock()
	sp := p.sessions[wire.LocalSessionID]
	delete(p.sessions, wire.LocalSessionID)
	p.stopSweeperIfIdleLocked()
	p.mu.Unlock()
	if sp == nil {
		return
	}
	var notify func(*peer.Conn)
	if m := n.Moderation(); m != nil {
		notify = func(c *peer.Conn) { _ = c.SendModeration(*m) }
	} else if reason := n.SessionEnded(); reason != "" {
		notify = func(c *peer.Conn) { _ = c.SendSessionEnded(reason) }
	}
	sp.closeWith(notify)
}

// reset closes every session's plane and the shared machinery; the next
// signalling request starts them again with the then-current policy.
func (p *rtcPlane) reset() {
	p.shutdown(false)
}

// close is reset for good: later signalling answers 503.
func (p *rtcPlane) close() {
	p.shutdown(true)
}

func (p *rtcPlane) shutdown(final bool) {
	p.mu.Lock()
	sps := make([]*sessionPlane, 0, len(p.sessions))
	for _, sp := range p.sessions {
		sps = append(sps, sp)
	}
	p.sessions = map[string]*sessionPlane{}
	p.closed = true // no new negotiations while tearing down
	if p.sweepStop != nil {
		close(p.sweepStop)
		p.sweepStop = nil
	}
	api, bcs := p.api, p.bcs
	p.api, p.bcs = nil, nil
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, sp := range sps {
		wg.Go(func() { sp.close("") })
	}
	wg.Wait()
	p.wg.Wait() // negotiations in flight see their session closed and give up
	if api != nil {
		_ = api.Close()
	}
	for _, bc := range bcs {
		bc.Close()
	}
	p.mu.Lock()
	p.closed = final
	p.mu.Unlock()
}

// The sweeper runs only while the plane holds sessions.
func (p *rtcPlane) startSweeperLocked() {
	if p.sweepStop != nil || p.closed {
		return
	}
	stop := make(chan struct{})
	p.sweepStop = stop
	every := p.sweepEvery
	p.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.sweep()
			}
		}
	})
}

func (p *rtcPlane) stopSweeperIfIdleLocked() {
	if len(p.sessions) == 0 && p.sweepStop != nil {
		close(p.sweepStop)
		p.sweepStop = nil
	}
}

// sweep closes the plane of every session that was deleted, forgotten or
// reached a terminal state (recover window, max duration, admin force).
// Connected clients of a session that ended on its own are told with
// sessionEnded.
func (p *rtcPlane) sweep() {
	p.mu.Lock()
	ids := make([]string, 0, len(p.sessions))
	for id := range p.sessions {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for _, id := range ids {
		ss := p.s.sessions.lookup(id)
		switch {
		case ss == nil:
			p.closeSession(id, "")
		case ss.State().Terminal():
			p.closeSession(id, fmt.Sprintf("session %s", ss.State()))
		}
	}
}

// sessionPlane is one session's share of the plane.
type sessionPlane struct {
	p     *rtcPlane
	id    string
	model *Model

	ctx    context.Context // cancelled by close: bounds upload waits
	cancel context.CancelFunc

	rt      *model.Runtime
	stats   clientStatsLog           // client_stats reports (client_stats.go)
	streams map[string]*media.Stream // outbound video tracks by name
	driver  *media.Stream            // the stream whose frames advance the model

	mu         sync.Mutex
	closed     bool
	conns      map[int]*connSlot
	live       map[*peer.Conn]*connSlot // connections now connected
	early      map[int][]webrtc.ICECandidateInit
	earlyOrder []int
	publishers map[string]*peer.Conn // input track → publishing connection
}

// connSlot is one connection id of a session: its signalling state and
// current peer connection.
type connSlot struct {
	cid        int
	registered bool // POST connections (or the legacy paths) created it
	legacy     bool // 2.9.0/pre-overhaul path: no control channel, auto-stream
	createdAt  time.Time

	gen         int // bumped by every offer; stale negotiations give up
	offers      int
	negotiating bool
	cancel      context.CancelFunc
	answer      string
	answerPolls int
	failure     string
	conn        *peer.Conn
	pending     []webrtc.ICECandidateInit // trickled while negotiating
	isFinal     bool                      // the client said its gathering ended
	candidates  int
}

func newSessionPlane(p *rtcPlane, ss *session, assets *modelAssets, bc *media.Broadcaster) (*sessionPlane, error) {
	sp := &sessionPlane{
		p: p, id: ss.id, model: ss.model,
		streams:    map[string]*media.Stream{},
		conns:      map[int]*connSlot{},
		live:       map[*peer.Conn]*connSlot{},
		early:      map[int][]webrtc.ICECandidateInit{},
		publishers: map[string]*peer.Conn{},
	}
	sp.ctx, sp.cancel = context.WithCancel(context.Background())
	rt, err := model.New(model.Config{
		Catalog:       assets.catalog,
		Schema:        assets.schema,
		ResolveUpload: sp.resolveUpload,
		Emit:          sp.emit,
		Semantics:     ss.model.Semantics(),
		ChunkFrames:   ss.model.ChunkFrames(),
		// Fixed for the session's lifetime: a scenario change applies to new sessions.
		BodylessSnapshotReplies: p.s.scn().Models.SnapshotReplies == SnapshotRepliesBodyless,
	})
	if err != nil {
		sp.cancel()
		return nil, err
	}
	sp.rt = rt
	for _, t := range ss.model.Capabilities().Tracks {
		if t.Direction != wire.DirectionRecvOnly || t.Kind != "video" {
			continue // audio output is not produced by this mock
		}
		cfg := media.StreamConfig{TrackID: t.Name, StreamID: "reactor"}
		if sp.driver == nil {
			cfg.OnFrame = sp.onFrame
		}
		st, err := bc.NewStream(cfg)
		if err != nil {
			sp.closeStreams()
			sp.cancel()
			return nil, err
		}
		if sp.driver == nil {
			sp.driver = st
		}
		sp.streams[t.Name] = st
	}
	return sp, nil
}

// onFrame advances the model one frame (media worker goroutine): at chunk
// boundaries queued commands apply, and every stream stamps the id of the
// last one applied from this frame on.
func (sp *sessionPlane) onFrame(fi media.FrameInfo) {
	id := sp.rt.OnFrame(model.Frame{Seq: fi.Seq, Chunk: fi.Chunk, ChunkBoundary: fi.ChunkBoundary})
	for _, st := range sp.streams {
		st.SetCommandID(id)
	}
}

// emit sends a model message to every connection's data channel, in the
// connection's codec. Connections without an open data channel miss it.
func (sp *sessionPlane) emit(m model.Message) {
	for _, c := range sp.openConns() {
		_ = c.SendModelMessage(m.Type, m.Data)
	}
}

// openConns lists the session's current peer connections.
func (sp *sessionPlane) openConns() []*peer.Conn {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := make([]*peer.Conn, 0, len(sp.conns))
	for _, slot := range sp.conns {
		if slot.conn != nil && !slot.conn.Closed() {
			out = append(out, slot.conn)
		}
	}
	return out
}

// resolveUpload is the model's upload check: the upload must belong to
// this session, complete within the model's wait, and match the reference.
func (sp *sessionPlane) resolveUpload(ctx context.Context, ref wire.FileRef) error {
	info, err := sp.p.s.uploads.waitCompleted(ctx, ref.UploadID)
	if err != nil {
		return err
	}
	if info.SessionID != sp.id {
		return errors.New("the upload belongs to another session")
	}
	if ref.Size != 0 && ref.Size != info.Size {
		return fmt.Errorf("reference says %d bytes, the upload has %d", ref.Size, info.Size)
	}
	return nil
}

func (sp *sessionPlane) closeStreams() {
	for _, st := range sp.streams {
		_ = st.Close()
	}
}

// close tears the session's plane down; see rtcPlane.closeSession.
func (sp *sessionPlane) close(reason string) {
	var notify func(*peer.Conn)
	if reason != "" {
		notify = func(c *peer.Conn) { _ = c.SendSessionEnded(reason) }
	}
	sp.closeWith(notify)
}

// closeWith tears the session's plane down, first handing every connection
// to notify (when not nil) for a last message.
func (sp *sessionPlane) closeWith(notify func(*peer.Conn)) {
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return
	}
	sp.closed = true
	var conns []*peer.Conn
	for _, slot := range sp.conns {
		if slot.cancel != nil {
			slot.cancel()
			slot.cancel = nil
		}
		if slot.conn != nil {
			conns = append(conns, slot.conn)
		}
	}
	sp.live = map[*peer.Conn]*connSlot{}
	sp.mu.Unlock()
	sp.cancel()
	if notify != nil {
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				notify(c)
				c.Flush(lastMessageFlush)
			})
		}
		wg.Wait()
	}
	peer.CloseAll(conns)
	sp.closeStreams()
}

// liveCountLocked counts the slots that hold or may soon hold a live
// connection: registered but not yet negotiated, negotiating, or with a
// peer connection that is not closed. Closed connections keep their id
// (a reconnect may reuse it) but free their place.
func (sp *sessionPlane) liveCountLocked() int {
	n := 0
	for _, slot := range sp.conns {
		if slot.conn == nil || !slot.conn.Closed() || slot.negotiating {
			n++
		}
	}
	return n
}

func (sp *sessionPlane) checkLimitLocked() *apiError {
	max := sp.p.s.scn().Limits.MaxConnections
	if max > 0 && sp.liveCountLocked() >= max {
		return errf(http.StatusServiceUnavailable,
			"Connection limit reached: session %s already has %d connections (limits.max_connections); close one or re-offer on an existing connection id",
			sp.id, max)
	}
	return nil
}

// register mints a connection id: random in [1002, 9999], never reused in
// the session; 1001 is reserved for the single-connection paths.
func (sp *sessionPlane) register() (int, *apiError) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return 0, errf(http.StatusBadRequest, "No session running: session %s has ended", sp.id)
	}
	if e := sp.checkLimitLocked(); e != nil {
		return 0, e
	}
	cid, ok := sp.mintLocked()
	if !ok {
		return 0, errf(http.StatusServiceUnavailable, "No connection ids left: session %s has used all %d ids in [%d, %d]",
			sp.id, wire.MaxConnectionID-wire.MinConnectionID+1, wire.MinConnectionID, wire.MaxConnectionID)
	}
	sp.conns[cid] = &connSlot{cid: cid, registered: true, createdAt: time.Now()}
	return cid, nil
}

func (sp *sessionPlane) mintLocked() (int, bool) {
	span := wire.MaxConnectionID - wire.MinConnectionID + 1
	for range 64 {
		if cid := wire.MinConnectionID + rand.IntN(span); sp.conns[cid] == nil {
			return cid, true
		}
	}
	start := rand.IntN(span)
	for i := range span {
		if cid := wire.MinConnectionID + (start+i)%span; sp.conns[cid] == nil {
			return cid, true
		}
	}
	return 0, false
}

// trackMap is the 201 body's track_map: the runtime's view of each
// capability track (recvonly = "out", sendonly = "in").
func trackMap(m *Model) map[string]wire.TrackRoute {
	caps := m.Capabilities()
	out := make(map[string]wire.TrackRoute, len(caps.Tracks))
	for _, t := range caps.Tracks {
		r := wire.TrackRoute{Kind: t.Kind, Direction: "in"}
		if t.Direction == wire.DirectionRecvOnly {
			r.Direction = "out"
		}
		switch {
		case t.Kind == "audio":
			r.Rate = 48000
		case caps.EmissionFPS != nil:
			r.Rate = *caps.EmissionFPS
		}
		out[t.Name] = r
	}
	return out
}

// offerRequest is an offer as the signalling layer passes it on.
type offerRequest struct {
	cid     int
	body    wire.SDPOfferRequest
	legacy  bool // arrived on a path without /connections/{cid}
	mapping []wire.TrackMapping
}

// offer validates an offer at once (so the client gets its 400 from the
// POST, not from a later poll) and negotiates it in the background. A new
// offer on a slot cancels the negotiation in flight and replaces the
// slot's peer connection: a re-offer is a reconnect.
func (sp *sessionPlane) offer(req offerRequest) *apiError {
	caps := sp.model.Capabilities()
	off := peer.Offer{SDP: req.body.SDPOffer, Tracks: caps.Tracks, Mapping: req.mapping,
		Label: fmt.Sprintf("%s/%d", sp.id, req.cid), Chunking: sp.p.s.scn().Transport.chunking()}
	if err := peer.Validate(off); err != nil {
		return errf(http.StatusBadRequest, "%v", err)
	}
	off.Outbound = make(map[string]webrtc.TrackLocal, len(sp.streams))
	for name, st := range sp.streams {
		off.Outbound[name] = st
	}

	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return errf(http.StatusBadRequest, "No session running: session %s has ended", sp.id)
	}
	slot := sp.conns[req.cid]
	if slot == nil {
		if !req.legacy {
			sp.mu.Unlock()
			return unknownConnection(req.cid)
		}
		if e := sp.checkLimitLocked(); e != nil {
			sp.mu.Unlock()
			return e
		}
		slot = &connSlot{cid: req.cid, registered: true, legacy: true, createdAt: time.Now()}
		sp.conns[req.cid] = slot
	}
	if slot.cancel != nil {
		slot.cancel()
	}
	slot.gen++
	slot.offers++
	gen := slot.gen
	slot.negotiating, slot.answer, slot.answerPolls, slot.failure = true, "", 0, ""
	old := slot.conn
	slot.conn = nil
	off.Candidates = append(sp.takeEarlyLocked(req.cid), slot.pending...)
	slot.pending = nil
	ctx, cancel := context.WithCancel(sp.ctx)
	slot.cancel = cancel
	off.Handler = &connHandler{sp: sp, slot: slot}
	sp.mu.Unlock()

	ok := sp.p.goTracked(func() {
		if old != nil {
			_ = old.Close() // the client replaced this peer connection
		}
		sp.negotiate(ctx, slot, gen, off)
	})
	if !ok {
		cancel()
		return errf(http.StatusServiceUnavailable, "the mock is shutting down")
	}
	return nil
}

func unknownConnection(cid int) *apiError {
	return errf(http.StatusNotFound,
		"Unknown connection: connection %d was not registered with POST .../transport/webrtc/connections for this session", cid)
}

// negotiate runs the answerer and stages the answer for GET sdp_params.
func (sp *sessionPlane) negotiate(ctx context.Context, slot *connSlot, gen int, off peer.Offer) {
	sp.p.mu.Lock()
	api := sp.p.api
	sp.p.mu.Unlock()
	if api == nil {
		return // the plane was reset
	}
	conn, answer, err := api.Answer(ctx, off)
	polls := sp.p.s.scn().Timings.SDPAnswerPolls
	sp.mu.Lock()
	if slot.gen != gen || sp.closed {
		sp.mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	slot.negotiating, slot.cancel = false, nil
	if err != nil {
		slot.failure = err.Error()
		sp.mu.Unlock()
		return
	}
	slot.conn, slot.answer, slot.answerPolls = conn, answer, polls
	sp.journalChunking(slot.cid, conn.Chunking())
	pending := slot.pending
	slot.pending = nil
	pause := len(sp.live) == 0 && !slot.legacy
	sp.mu.Unlock()
	_ = conn.AddCandidates(pending)
	if pause && !sp.p.s.MediaPolicy().AutoStream {
		// RT starts every outbound track of a new connection paused until
		// resume_track (PROTOCOL.md §5); other live connections of the
		// session keep theirs.
		sp.pauseAll()
	}
}

// takeAnswer is GET sdp_params: the staged answer once (consumed on read,
// after Timings.SDPAnswerPolls extra 202s), "" while there is none.
func (sp *sessionPlane) takeAnswer(cid int) (string, *apiError) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	slot := sp.conns[cid]
	if slot == nil {
		return "", nil // RT: a cid that never offered answers 202 forever
	}
	if slot.failure != "" {
		return "", errf(http.StatusBadRequest, "could not answer the SDP offer of connection %d: %s; send a new offer", cid, slot.failure)
	}
	if slot.answer == "" {
		return "", nil
	}
	if slot.answerPolls > 0 {
		slot.answerPolls--
		return "", nil
	}
	answer := slot.answer
	slot.answer = ""
	return answer, nil
}

// addCandidates is POST ice_candidates: applied to the connection when it
// has one, buffered otherwise (before the offer: per-session early buffer,
// bounded; during negotiation: on the slot, applied when it ends).
func (sp *sessionPlane) addCandidates(cid int, cands []webrtc.ICECandidateInit, final bool) *apiError {
	sp.mu.Lock()
	slot := sp.conns[cid]
	if slot == nil {
		sp.mu.Unlock()
		return unknownConnection(cid)
	}
	slot.candidates += len(cands)
	slot.isFinal = slot.isFinal || final
	switch {
	case slot.conn != nil && !slot.negotiating:
		c := slot.conn
		sp.mu.Unlock()
		_ = c.AddCandidates(cands) // a bad candidate is the client's loss, as in RT
		return nil
	case slot.negotiating:
		slot.pending = appendBounded(slot.pending, cands)
	default:
		sp.bufferEarlyLocked(cid, cands)
	}
	sp.mu.Unlock()
	return nil
}

func appendBounded(dst, src []webrtc.ICECandidateInit) []webrtc.ICECandidateInit {
	for _, c := range src {
		if len(dst) >= maxEarlyCandidatesPerConn {
			break
		}
		dst = append(dst, c)
	}
	return dst
}

func (sp *sessionPlane) bufferEarlyLocked(cid int, cands []webrtc.ICECandidateInit) {
	if _, ok := sp.early[cid]; !ok {
		if len(sp.earlyOrder) >= maxEarlyConns {
			oldest := sp.earlyOrder[0]
			sp.earlyOrder = sp.earlyOrder[1:]
			delete(sp.early, oldest)
		}
		sp.earlyOrder = append(sp.earlyOrder, cid)
	}
	sp.early[cid] = appendBounded(sp.early[cid], cands)
}

func (sp *sessionPlane) takeEarlyLocked(cid int) []webrtc.ICECandidateInit {
	cands, ok := sp.early[cid]
	if !ok {
		return nil
	}
	delete(sp.early, cid)
	for i, c := range sp.earlyOrder {
		if c == cid {
			sp.earlyOrder = append(sp.earlyOrder[:i], sp.earlyOrder[i+1:]...)
			break
		}
	}
	return cands
}

func (sp *sessionPlane) pauseAll() {
	for _, st := range sp.streams {
		st.Pause()
	}
}

func (sp *sessionPlane) resumeAll() {
	for _, st := range sp.streams {
		st.Resume()
	}
}

// connHandler receives one negotiation's peer connection events.
type connHandler struct {
	sp   *sessionPlane
	slot *connSlot
}

// OnState keeps the session state machine in step: the first connected
// connection makes the session ACTIVE, losing the last one SUSPENDED (then
// CLOSED after the recover window, noticed by the sweeper).
func (h *connHandler) OnState(c *peer.Conn, st peer.State) {
	sp := h.sp
	switch st {
	case peer.StateConnected:
		sp.mu.Lock()
		if sp.closed {
			sp.mu.Unlock()
			return
		}
		sp.live[c] = h.slot
		auto := h.slot.legacy
		sp.mu.Unlock()
		_ = sp.p.s.sessions.markActive(sp.id)
		for _, s := range sp.streams {
			s.RequestKeyframe() // a new receiver needs a keyframe first
		}
		if auto || sp.p.s.MediaPolicy().AutoStream {
			sp.resumeAll()
		}
	case peer.StateDisconnected, peer.StateFailed, peer.StateLost, peer.StateClosed:
		sp.mu.Lock()
		_, was := sp.live[c]
		delete(sp.live, c)
		for name, pub := range sp.publishers {
			if pub == c && st != peer.StateDisconnected {
				delete(sp.publishers, name) // publishes do not survive the connection
			}
		}
		last := len(sp.live) == 0 && !sp.closed
		sp.mu.Unlock()
		if last && st != peer.StateDisconnected {
			// Nobody left to watch: stop sending. A disconnected connection
			// may still recover (ICE consent), so it keeps its stream.
			sp.pauseAll()
		}
		if last && was {
			_ = sp.p.s.sessions.markSuspended(sp.id)
		}
	}
}

// OnFrame handles a decoded data-channel frame (datachannel.go).
func (h *connHandler) OnFrame(c *peer.Conn, f peer.Frame) { h.sp.handleFrame(h.slot.cid, c, f) }

// AnswerLegacy answers a pre-overhaul (JS 2.2.1) offer stored by the
// session store: no track_mapping (tracks bind by kind and order), cid 1001,
// auto-streamed, and the data channel speaks 2.2.1's flat frames (commands
// in, {"type":"application"} model messages out; datachannel.go). Register
// it with sessions.setLegacyAnswerer(s.rtc).
func (p *rtcPlane) AnswerLegacy(ctx context.Context, sessionID, offer string) (string, error) {
	ss := p.s.sessions.lookup(sessionID)
	if ss == nil {
		return "", errors.New("unknown session")
	}
	sp, e := p.sessionFor(ss)
	if e != nil {
		return "", errors.New(e.Detail)
	}
	caps := ss.model.Capabilities()
	off := peer.Offer{SDP: offer, Tracks: caps.Tracks, Label: fmt.Sprintf("%s/%d", ss.id, wire.LegacyConnectionID),
		Outbound: map[string]webrtc.TrackLocal{}, Legacy: true}
	for name, st := range sp.streams {
		off.Outbound[name] = st
	}
	sp.mu.Lock()
	if sp.closed {
		sp.mu.Unlock()
		return "", errors.New("session ended")
	}
	slot := sp.conns[wire.LegacyConnectionID]
	if slot == nil {
		slot = &connSlot{cid: wire.LegacyConnectionID, registered: true, legacy: true, createdAt: time.Now()}
		sp.conns[slot.cid] = slot
	}
	slot.gen++
	slot.offers++
	gen := slot.gen
	old := slot.conn
	slot.conn = nil
	off.Handler = &connHandler{sp: sp, slot: slot}
	sp.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	sp.p.mu.Lock()
	api := sp.p.api
	sp.p.mu.Unlock()
	if api == nil {
		return "", errors.New("the WebRTC plane is shut down")
	}
	conn, answer, err := api.Answer(ctx, off)
	if err != nil {
		return "", err
	}
	sp.mu.Lock()
	if slot.gen != gen || sp.closed {
		sp.mu.Unlock()
		_ = conn.Close()
		return "", errors.New("superseded")
	}
	slot.conn = conn
	sp.mu.Unlock()
	return answer, nil
}

// TransportSnapshot is a session's WebRTC plane as the admin API shows it.
type TransportSnapshot struct {
	SessionID   string                       `json:"session_id"`
	Connections []ConnectionSnapshot         `json:"connections"`
	Streams     map[string]media.StreamStats `json:"streams"`
	Model       *model.StateSnapshot         `json:"model,omitempty"`
	Publishers  map[string]string            `json:"publishers,omitempty"` // track → connection label
}

// ConnectionSnapshot is one connection id of a session.
type ConnectionSnapshot struct {
	ConnectionID int         `json:"connection_id"`
	Legacy       bool        `json:"legacy,omitempty"`
	Offers       int         `json:"offers"`
	Negotiating  bool        `json:"negotiating,omitempty"`
	AnswerStaged bool        `json:"answer_staged,omitempty"`
	Failure      string      `json:"failure,omitempty"`
	Candidates   int         `json:"trickled_candidates,omitempty"`
	IsFinal      bool        `json:"trickle_final,omitempty"`
	Peer         *peer.Stats `json:"peer,omitempty"`
}

// snapshot describes a session's plane, or returns nil when it has none.
func (p *rtcPlane) snapshot(id string) *TransportSnapshot {
	sp := p.lookup(id)
	if sp == nil {
		return nil
	}
	snap := &TransportSnapshot{SessionID: id, Streams: map[string]media.StreamStats{}, Publishers: map[string]string{}}
	sp.mu.Lock()
	type pair struct {
		cs   ConnectionSnapshot
		conn *peer.Conn
	}
	rows := make([]pair, 0, len(sp.conns))
	for _, slot := range sp.conns {
		rows = append(rows, pair{ConnectionSnapshot{ConnectionID: slot.cid, Legacy: slot.legacy, Offers: slot.offers,
			Negotiating: slot.negotiating, AnswerStaged: slot.answer != "", Failure: slot.failure,
			Candidates: slot.candidates, IsFinal: slot.isFinal}, slot.conn})
	}
	for name, c := range sp.publishers {
		snap.Publishers[name] = c.Label()
	}
	sp.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool { return rows[i].cs.ConnectionID < rows[j].cs.ConnectionID })
	for _, r := range rows {
		if r.conn != nil {
			st := r.conn.Stats()
			r.cs.Peer = &st
		}
		snap.Connections = append(snap.Connections, r.cs)
	}
	for name, st := range sp.streams {
		snap.Streams[name] = st.Stats()
	}
	ms := sp.rt.State()
	snap.Model = &ms
	return snap
}

// TransportSnapshot returns a session's WebRTC plane (connections, codecs,
// channel and frame counters, streams, model state) for in-process callers
// and the admin API; ok is false when the session never signalled.
func (s *Server) TransportSnapshot(sessionID string) (TransportSnapshot, bool) {
	snap := s.rtc.snapshot(sessionID)
	if snap == nil {
		return TransportSnapshot{}, false
	}
	return *snap, true
}
