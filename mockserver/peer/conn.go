package peer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// State is a connection's lifecycle as the Handler sees it.
type State uint8

// States. Lost and Closed are final for a connection (Lost is followed by
// Closed once the connection is torn down).
const (
	StateNew State = iota
	StateConnecting
	StateConnected
	StateDisconnected
	StateFailed
	// StateLost: the watchdog declared the connection lost (no inbound
	// frame for WatchdogTimeout, or not connected within
	// NegotiationTimeout of the answer). The connection is closed next.
	StateLost
	StateClosed
)

var stateNames = [...]string{"new", "connecting", "connected", "disconnected", "failed", "lost", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Handler receives a connection's events. Methods are called from pion's
// goroutines (OnFrame from the channel's read loop, in order per channel)
// and must not call Conn.Close synchronously; the package closes failed and
// lost connections itself. OnFrame may block briefly (it holds up that
// channel's reads); long waits should use Conn.Context.
type Handler interface {
	OnFrame(c *Conn, f Frame)
	OnState(c *Conn, s State)
}

// rtcpHandler is implemented by tracks that react to receiver feedback
// (media.Stream: PLI and FIR request a keyframe).
type rtcpHandler interface {
	HandleRTCP([]rtcp.Packet)
}

// readBound bounds the reader loops; they end with the connection long
// before (a reader at 1000 packets/s would need 30 hours).
const readBound = 100_000_000

// chanCounters are one channel role's counters.
type chanCounters struct {
	framesIn, bytesIn, framesOut, bytesOut, dropped, sendErrors atomic.Uint64
}

// Conn is one answered peer connection.
type Conn struct {
	api *API
	// pc is dropped once Close completes: a closed Conn may stay referenced
	// for a long time (a suspended session keeps its last connection for the
	// admin API), and a PeerConnection holds its ICE agent, SCTP and DTLS
	// state, ~180 KiB of it.
	pc    atomic.Pointer[webrtc.PeerConnection]
	label string
	h     Handler

	ctx    context.Context
	cancel context.CancelFunc

	codec   atomic.Uint32 // wirev0.Codec
	latched atomic.Bool
	latchMu sync.Mutex
	legacy  atomic.Bool // flat 2.2.1 frames out (Offer.Legacy, or a flat first frame)

	chMu     sync.Mutex
	channels map[Channel]*webrtc.DataChannel
	labels   [2]string // the channels' labels, kept when they are dropped at Close
	closing  bool      // no more tracked goroutines (guarded by chMu)
	counters [2]chanCounters

	answeredAt  atomic.Int64 // unix nanoseconds
	connectedAt atomic.Int64
	lastInbound atomic.Int64
	connected   atomic.Bool // has reached connected at least once

	stateMu    sync.Mutex
	state      State
	final      bool
	lostReason string

	chunking   ChunkingResult // fixed before any channel opens
	minted     atomic.Uint64
	schema     schemaCache // the encoded schema reply (SendSchema)
	inTracks   atomic.Int32
	inPackets  atomic.Uint64
	wg         sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error
	closedFlag atomic.Bool
}

// Answer answers an offer: it validates it, applies it, binds the
// outbound tracks to the mapped transceivers, applies early candidates,
// creates the answer and waits (at most GatherTimeout) for ICE gathering so
// the returned SDP carries the candidates. ctx cancels the negotiation (a
// newer offer superseded it); the connection is then closed. On success
// the connection is watched by the watchdog until Close.
func (a *API) Answer(ctx context.Context, o Offer) (*Conn, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	sections, err := parseOffer(o.SDP)
	if err != nil {
		return nil, "", err
	}
	mapping := o.Mapping
	if mapping == nil {
		mapping = defaultMapping(o.Tracks, sections)
	} else if err := checkMapping(mapping, o.Tracks, sections); err != nil {
		return nil, "", err
	}
	if o.Handler == nil {
		return nil, "", errors.New("peer: Offer.Handler is nil")
	}
	pc, err := a.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("peer: new peer connection: %w", err)
	}
	c := &Conn{api: a, label: o.Label, h: o.Handler, channels: map[Channel]*webrtc.DataChannel{},
		chunking: negotiateChunking(o.SDP, o.Chunking)}
	c.pc.Store(pc)
	c.legacy.Store(o.Legacy)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := a.add(c); err != nil {
		c.cancel()
		_ = pc.Close()
		return nil, "", err
	}
	answer, err := c.negotiate(ctx, pc, o, mapping)
	if err != nil {
		_ = c.Close()
		return nil, "", err
	}
	c.answeredAt.Store(time.Now().UnixNano())
	a.wd.watch(c)
	return c, answer, nil
}

// negotiate works on pc as Answer created it, not on c.pc: a Close racing
// the negotiation (a reset, a superseding offer) releases c.pc.
func (c *Conn) negotiate(ctx context.Context, pc *webrtc.PeerConnection, o Offer, mapping []wire.TrackMapping) (string, error) {
	pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { c.onPCState() })
	pc.OnDataChannel(c.onDataChannel)
	pc.OnTrack(c.onTrack)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.SDP}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	bound, err := c.bindTracks(pc, o, mapping)
	if err != nil {
		return "", err
	}
	for _, cand := range o.Candidates {
		_ = c.addCandidate(cand) // a bad early candidate must not sink the offer
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: cannot answer it: %v", ErrBadOffer, err)
	}
	// The tracks bind in SetLocalDescription: give them the answer's
	// payload types and extension ids first (negotiated.go).
	byMid := parseAnswerMedia(answer.SDP)
	for _, t := range bound {
		if nm := byMid[t.mid]; nm != nil {
			t.neg.Store(nm)
		}
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: cannot apply the answer: %v", ErrBadOffer, err)
	}
	t := time.NewTimer(c.api.cfg.GatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-t.C: // answer with the candidates found so far
	case <-ctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return "", err // superseded: whatever was gathered is of no use
	}
	ld := pc.LocalDescription()
	if ld == nil {
		return "", errors.New("peer: no local description after SetLocalDescription")
	}
	// pion keeps no unknown session attribute: the answer's chunking
	// declaration goes into the text the client receives.
	return c.declareChunking(ld.SDP), nil
}

// bindTracks attaches each outbound track to the transceiver whose mid the
// mapping names, so the answer's section for that mid carries the track
// (a=msid, a=ssrc) and a=sendonly. Going through the mid rather than
// AddTrack keeps the binding right when a model has several outputs of one
// kind. The tracks are wrapped so they bind with the answer's numbers
// (negotiated.go); the caller fills those in once the answer exists.
func (c *Conn) bindTracks(pc *webrtc.PeerConnection, o Offer, mapping []wire.TrackMapping) ([]*negotiatedTrack, error) {
	byMid := map[string]*webrtc.RTPTransceiver{}
	for _, tr := range pc.GetTransceivers() {
		byMid[tr.Mid()] = tr
	}
	var bound []*negotiatedTrack
	for _, m := range mapping {
		if m.Direction != wire.DirectionRecvOnly {
			continue // a client input: received by onTrack
		}
		track := o.Outbound[m.Name]
		if track == nil {
			continue
		}
		tr := byMid[m.MID]
		if tr == nil {
			return nil, fmt.Errorf("%w: mid %q has no transceiver after applying the offer", ErrBadMapping, m.MID)
		}
		nt := &negotiatedTrack{TrackLocal: track, mid: m.MID}
		sender, err := c.api.api.NewRTPSender(nt, pc.SCTP().Transport())
		if err != nil {
			return nil, fmt.Errorf("peer: sender for %q: %w", m.Name, err)
		}
		if err := tr.SetSender(sender, nt); err != nil {
			_ = sender.Stop()
			return nil, fmt.Errorf("peer: bind %q to mid %q: %w", m.Name, m.MID, err)
		}
		bound = append(bound, nt)
		rh, _ := track.(rtcpHandler)
		c.goTracked(func() { readRTCP(sender, rh) })
	}
	return bound, nil
}

// readRTCP reads the sender's RTCP so interceptors (NACK, reports) see it
// and keyframe requests reach the track. It ends when the sender stops.
func readRTCP(sender *webrtc.RTPSender, h rtcpHandler) {
	for range readBound {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		if h != nil {
			h.HandleRTCP(pkts)
		}
	}
}

// onTrack accepts a client input track: its RTP is read and discarded.
func (c *Conn) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	c.inTracks.Add(1)
	c.goTracked(func() {
		buf := make([]byte, 1500)
		for range readBound {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
			c.inPackets.Add(1)
		}
	})
}

// goTracked runs fn on a goroutine Close waits for, unless Close has begun.
func (c *Conn) goTracked(fn func()) {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	if c.closing {
		return
	}
	c.wg.Go(fn)
}

// AddCandidates applies trickled candidates. Bad candidates are skipped;
// the first error is returned.
func (c *Conn) AddCandidates(cands []webrtc.ICECandidateInit) error {
	var first error
	for _, cand := range cands {
		if err := c.addCandidate(cand); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *Conn) addCandidate(cand webrtc.ICECandidateInit) error {
	if cand.Candidate == "" {
		return nil // end-of-candidates: nothing to apply
	}
	pc := c.pc.Load()
	if pc == nil {
		return ErrClosed
	}
	return pc.AddICECandidate(cand)
}

// onPCState reports the peer connection's current state. pion calls its
// handler on a new goroutine per change, so the argument may be stale;
// the current state is read under stateMu instead, which keeps reports in
// order and without repeats.
func (c *Conn) onPCState() {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if c.final {
		return
	}
	pc := c.pc.Load()
	if pc == nil {
		return // released: Close has reported StateClosed
	}
	var s State
	switch pc.ConnectionState() {
	case webrtc.PeerConnectionStateConnecting:
		s = StateConnecting
	case webrtc.PeerConnectionStateConnected:
		s = StateConnected
	case webrtc.PeerConnectionStateDisconnected:
		s = StateDisconnected
	case webrtc.PeerConnectionStateFailed:
		s = StateFailed
	case webrtc.PeerConnectionStateClosed:
		// Closed without our Close: the client closed DTLS (close_notify).
		// Close reports StateClosed once the connection is torn down.
		c.api.spawn(func() { _ = c.Close() })
		return
	default:
		return // new
	}
	if s == c.state {
		return
	}
	c.state = s
	if s == StateConnected {
		now := time.Now().UnixNano()
		c.lastInbound.Store(now) // the watchdog counts from here
		c.connectedAt.Store(now)
		c.connected.Store(true)
	}
	c.h.OnState(c, s)
	if s == StateFailed {
		c.api.spawn(func() { _ = c.Close() })
	}
}

// expire is the watchdog's verdict: report Lost and close.
func (c *Conn) expire(reason string) {
	c.stateMu.Lock()
	if c.final || c.state == StateLost {
		c.stateMu.Unlock()
		return
	}
	c.state, c.lostReason = StateLost, reason
	c.h.OnState(c, StateLost)
	c.stateMu.Unlock()
	c.api.spawn(func() { _ = c.Close() })
}

// Close closes the peer connection, waits for the goroutines it started
// and reports StateClosed. It is idempotent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.chMu.Lock()
		c.closing = true
		c.chMu.Unlock()
		c.cancel()
		c.api.wd.unwatch(c)
		c.closeErr = c.pc.Load().GracefulClose()
		c.wg.Wait()
		c.api.remove(c)
		c.closedFlag.Store(true)
		c.stateMu.Lock()
		if !c.final {
			c.final, c.state = true, StateClosed
			c.h.OnState(c, StateClosed)
		}
		c.stateMu.Unlock()
		c.release()
	})
	return c.closeErr
}

// release drops the closed peer connection and its channels, keeping what
// Stats reports. It runs after final is set, so a late pion state callback
// (onPCState checks final first) never sees a nil pc it did not expect.
func (c *Conn) release() {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	for ch, dc := range c.channels {
		c.labels[ch.index()] = dc.Label()
	}
	c.channels = nil
	c.pc.Store(nil)
}

// Closed reports whether Close has completed.
func (c *Conn) Closed() bool { return c.closedFlag.Load() }

// Context is cancelled when the connection starts closing; frame handlers
// use it to bound waits.
func (c *Conn) Context() context.Context { return c.ctx }

// Label is Offer.Label.
func (c *Conn) Label() string { return c.label }

// State is the last state reported to the handler.
func (c *Conn) State() State {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.state
}

// Codec is the connection's data-channel codec: v0 until the first inbound
// frame latches it.
func (c *Conn) Codec() wirev0.Codec { return wirev0.Codec(c.codec.Load()) }

// Latched reports whether the first inbound frame has fixed the codec.
func (c *Conn) Latched() bool { return c.latched.Load() }

// Legacy reports whether the connection speaks the 2.2.1 flat JSON frames
// (Offer.Legacy, or a flat first inbound frame): its codec is V0 and model
// messages go out as {"type":"application","data":{"type","data"}}.
func (c *Conn) Legacy() bool { return c.legacy.Load() }

// CodecName is the journal's and the admin API's name of the connection's
// codec: "v0", "v1" or "legacy".
func (c *Conn) CodecName() string {
	if c.Legacy() {
		return "legacy"
	}
	return c.Codec().String()
}

// HasChannel reports whether the client opened a channel with that role.
func (c *Conn) HasChannel(ch Channel) bool {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	return c.channels[ch] != nil || c.labels[ch.index()] != ""
}

func (c *Conn) channel(ch Channel) *webrtc.DataChannel {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	return c.channels[ch]
}

func (c *Conn) ctr(ch Channel) *chanCounters { return &c.counters[ch.index()] }

// index is the channel role's slot in per-role arrays.
func (ch Channel) index() int {
	if ch == ChannelControl {
		return 0
	}
	return 1
}

// releasedLabel is the label of a channel dropped at Close ("" if none).
func (c *Conn) releasedLabel(ch Channel) string {
	c.chMu.Lock()
	defer c.chMu.Unlock()
	return c.labels[ch.index()]
}

// ChannelStats are one channel role's counters.
type ChannelStats struct {
	Label      string `json:"label"`
	Open       bool   `json:"open"`
	FramesIn   uint64 `json:"frames_in"`
	BytesIn    uint64 `json:"bytes_in"`
	FramesOut  uint64 `json:"frames_out"`
	BytesOut   uint64 `json:"bytes_out"`
	Dropped    uint64 `json:"dropped"`
	SendErrors uint64 `json:"send_errors,omitempty"`
}

// Stats is a snapshot of a connection for the admin API.
type Stats struct {
	Label          string        `json:"label"`
	State          string        `json:"state"`
	Codec          string        `json:"codec"`
	Latched        bool          `json:"codec_latched"`
	Control        *ChannelStats `json:"control,omitempty"`
	Data           *ChannelStats `json:"data,omitempty"`
	ConnectedAt    time.Time     `json:"connected_at,omitzero"`
	LastInbound    time.Time     `json:"last_inbound,omitzero"`
	LostReason     string        `json:"lost_reason,omitempty"`
	InboundTracks  int           `json:"inbound_tracks,omitempty"`
	InboundPackets uint64        `json:"inbound_packets,omitempty"`
}

// Stats returns a snapshot of the connection's counters.
func (c *Conn) Stats() Stats {
	c.stateMu.Lock()
	st := Stats{Label: c.label, State: c.state.String(), LostReason: c.lostReason}
	c.stateMu.Unlock()
	st.Codec, st.Latched = c.CodecName(), c.Latched()
	if n := c.connectedAt.Load(); n != 0 {
		st.ConnectedAt = time.Unix(0, n)
	}
	if n := c.lastInbound.Load(); n != 0 && c.connected.Load() {
		st.LastInbound = time.Unix(0, n)
	}
	st.InboundTracks, st.InboundPackets = int(c.inTracks.Load()), c.inPackets.Load()
	for _, ch := range []Channel{ChannelControl, ChannelData} {
		dc := c.channel(ch)
		k := c.ctr(ch)
		released := c.releasedLabel(ch)
		if dc == nil && released == "" && k.framesIn.Load() == 0 {
			continue
		}
		cs := &ChannelStats{FramesIn: k.framesIn.Load(), BytesIn: k.bytesIn.Load(), FramesOut: k.framesOut.Load(),
			BytesOut: k.bytesOut.Load(), Dropped: k.dropped.Load(), SendErrors: k.sendErrors.Load()}
		if dc != nil {
			cs.Label, cs.Open = dc.Label(), dc.ReadyState() == webrtc.DataChannelStateOpen
		} else {
			cs.Label = released
		}
		if ch == ChannelControl {
			st.Control = cs
		} else {
			st.Data = cs
		}
	}
	return st
}

// spawn runs fn on a goroutine API.Close waits for; after Close it runs
// fn on a plain goroutine (the connection is being closed anyway, so fn
// returns at once).
func (a *API) spawn(fn func()) {
	a.mu.Lock()
	if !a.closed {
		a.wg.Go(fn)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	go fn()
}
