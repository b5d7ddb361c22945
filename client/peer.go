package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// Data channel labels (PROTOCOL.md §3).
const (
	LabelControl = "control"
	LabelData    = "data"
)

// trickleWindow batches trickled candidates like the JS SDK.
const trickleWindow = 25 * time.Millisecond

// readBufSize holds any RTP packet pion hands out (its receive MTU is 1460).
const readBufSize = 1500

// signal is a channel closed once.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) fire() { s.once.Do(func() { close(s.ch) }) }

func (s *signal) fired() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

func (s *signal) C() <-chan struct{} { return s.ch }

// conn is one peer connection generation of a client.
type conn struct {
	c             *Client
	pc            *webrtc.PeerConnection
	control, data *webrtc.DataChannel
	tracks        []wire.TrackSpec
	transceivers  []*webrtc.RTPTransceiver
	names         map[*webrtc.RTPReceiver]wire.TrackSpec // recvonly tracks
	mapping       []wire.TrackMapping

	connected, failed, controlOpen, dataOpen, firstFrame *signal

	// ctx ends when the connection closes; done is ctx.Done().
	ctx    context.Context
	cancel context.CancelFunc
	done   <-chan struct{}

	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup // reader, trickle and heartbeat goroutines
	readers []*reassembler
	chunk   chunkState   // negotiated data-channel chunking
	firstAt atomic.Int64 // unix nanos of the first complete video frame

	// Trickle state.
	tmu      sync.Mutex
	cands    []wire.IceCandidate
	gathered bool
	tsig     chan struct{}
}

// newConn builds the peer connection: "control" then "data" (ordered,
// reliable), then one transceiver per capability track in capability order.
func (c *Client) newConn(servers []webrtc.ICEServer) (*conn, error) {
	caps := c.Capabilities()
	if caps == nil {
		return nil, newErr(PhaseOffer, CodeInvalidState, errors.New("no capabilities"))
	}
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, newErr(PhaseOffer, CodeTransport, err)
	}
	cn := &conn{c: c, pc: pc, tracks: caps.Tracks, names: map[*webrtc.RTPReceiver]wire.TrackSpec{},
		connected: newSignal(), failed: newSignal(), controlOpen: newSignal(), dataOpen: newSignal(),
		firstFrame: newSignal(), tsig: make(chan struct{}, 1)}
	cn.ctx, cn.cancel = context.WithCancel(context.Background())
	cn.done = cn.ctx.Done()
	if err := cn.build(); err != nil {
		cn.close()
		return nil, err
	}
	return cn, nil
}

func (cn *conn) build() error {
	var err error
	if cn.control, err = cn.pc.CreateDataChannel(LabelControl, nil); err != nil {
		return newErr(PhaseOffer, CodeTransport, err)
	}
	if cn.data, err = cn.pc.CreateDataChannel(LabelData, nil); err != nil {
		return newErr(PhaseOffer, CodeTransport, err)
	}
	cn.control.OnOpen(cn.controlOpen.fire)
	cn.data.OnOpen(cn.dataOpen.fire)
	cn.control.OnMessage(cn.onChunkedMessage(LabelControl))
	cn.data.OnMessage(cn.onChunkedMessage(LabelData))
	for _, t := range cn.tracks {
		kind := webrtc.NewRTPCodecType(t.Kind)
		if kind == 0 {
			return newErr(PhaseOffer, CodeProtocol, fmt.Errorf("track %q has unknown kind %q", t.Name, t.Kind))
		}
		var dir webrtc.RTPTransceiverDirection
		switch t.Direction {
		case wire.DirectionRecvOnly:
			dir = webrtc.RTPTransceiverDirectionRecvonly
		case wire.DirectionSendOnly:
			dir = webrtc.RTPTransceiverDirectionSendonly
		default:
			return newErr(PhaseOffer, CodeProtocol, fmt.Errorf("track %q has unknown direction %q", t.Name, t.Direction))
		}
		tr, err := cn.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: dir})
		if err != nil {
			return newErr(PhaseOffer, CodeTransport, fmt.Errorf("transceiver for %q: %w", t.Name, err))
		}
		cn.transceivers = append(cn.transceivers, tr)
		if dir == webrtc.RTPTransceiverDirectionRecvonly {
			cn.names[tr.Receiver()] = t
		}
	}
	cn.pc.OnConnectionStateChange(cn.onState)
	cn.pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if !cn.enter() {
			return
		}
		defer cn.wg.Done()
		cn.readTrack(t, r)
	})
	return nil
}

// enter registers a goroutine unless the connection is closing.
func (cn *conn) enter() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.closing {
		return false
	}
	cn.wg.Add(1)
	return true
}

func (cn *conn) onState(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		cn.connected.fire()
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
		if cn.connected.fired() {
			cn.c.transportLost(cn, s)
		} else if s != webrtc.PeerConnectionStateDisconnected {
			cn.failed.fire()
		}
	}
}

// offer creates the offer and, unless trickling, waits (Timeouts.Gather)
// for ICE gathering so the SDP carries every candidate. It returns the SDP
// and the track mapping with the mids pion assigned.
func (cn *conn) offer(ctx context.Context) (string, []wire.TrackMapping, error) {
	c := cn.c
	if c.cfg.Trickle {
		cn.pc.OnICECandidate(cn.onCandidate)
	}
	offer, err := cn.pc.CreateOffer(nil)
	if err != nil {
		return "", nil, newErr(PhaseOffer, CodeTransport, err)
	}
	gathered := webrtc.GatheringCompletePromise(cn.pc)
	if err := cn.pc.SetLocalDescription(offer); err != nil {
		return "", nil, newErr(PhaseOffer, CodeTransport, err)
	}
	if !c.cfg.Trickle {
		t := time.NewTimer(c.timeouts.Gather)
		select {
		case <-gathered:
		case <-t.C:
			c.log.Warn("ICE gathering incomplete; sending the offer with the candidates so far", "after", c.timeouts.Gather)
		case <-ctx.Done():
			t.Stop()
			return "", nil, ctxErr(PhaseOffer, ctx.Err())
		}
		t.Stop()
	}
	mapping := make([]wire.TrackMapping, len(cn.tracks))
	for i, t := range cn.tracks {
		mid := cn.transceivers[i].Mid()
		if mid == "" {
			return "", nil, newErr(PhaseOffer, CodeTransport, fmt.Errorf("no mid for track %q", t.Name))
		}
		mapping[i] = wire.TrackMapping{MID: mid, Name: t.Name, Kind: t.Kind, Direction: t.Direction}
	}
	cn.mapping = mapping
	// pion writes no custom session attribute: the chunking declaration
	// goes into the text sent to the server.
	return c.declareChunking(cn.pc.LocalDescription().SDP), mapping, nil
}

// connect applies the answer and waits (Timeouts.Ready in all) for the
// peer connection to connect and both channels to open.
func (cn *conn) connect(ctx context.Context, answer string) error {
	c := cn.c
	deadline := time.NewTimer(c.timeouts.Ready)
	defer deadline.Stop()
	t0 := time.Now()
	cn.applyChunking(answer)
	if err := cn.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.setTiming(PhaseICEConnect, time.Since(t0))
		return newErr(PhaseICEConnect, CodeProtocol, fmt.Errorf("set remote description: %w", err))
	}
	select {
	case <-cn.connected.C():
	case <-cn.failed.C():
		c.setTiming(PhaseICEConnect, time.Since(t0))
		return newErr(PhaseICEConnect, CodeTransport, fmt.Errorf("%w: %s", ErrICEFailed, cn.pc.ConnectionState()))
	case <-deadline.C:
		c.setTiming(PhaseICEConnect, time.Since(t0))
		return newErr(PhaseICEConnect, CodeTimeout, fmt.Errorf("%w: peer connection %s after %s", ErrTimeout, cn.pc.ConnectionState(), c.timeouts.Ready))
	case <-ctx.Done():
		c.setTiming(PhaseICEConnect, time.Since(t0))
		return ctxErr(PhaseICEConnect, ctx.Err())
	}
	t1 := time.Now()
	c.setTiming(PhaseICEConnect, t1.Sub(t0))
	for _, ch := range []*signal{cn.controlOpen, cn.dataOpen} {
		select {
		case <-ch.C():
		case <-cn.failed.C():
			c.setTiming(PhaseChannelsOpen, time.Since(t1))
			return newErr(PhaseChannelsOpen, CodeTransport, ErrICEFailed)
		case <-deadline.C:
			c.setTiming(PhaseChannelsOpen, time.Since(t1))
			return newErr(PhaseChannelsOpen, CodeTimeout, fmt.Errorf("%w: data channels control=%s data=%s",
				ErrTimeout, cn.control.ReadyState(), cn.data.ReadyState()))
		case <-ctx.Done():
			c.setTiming(PhaseChannelsOpen, time.Since(t1))
			return ctxErr(PhaseChannelsOpen, ctx.Err())
		}
	}
	c.setTiming(PhaseChannelsOpen, time.Since(t1))
	return nil
}

// waitFirstFrame waits for the first complete video frame.
func (cn *conn) waitFirstFrame(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-cn.firstFrame.C():
		return nil
	case <-t.C:
		return newErr(PhaseFirstFrame, CodeTimeout, fmt.Errorf("%w: no complete video frame within %s", ErrTimeout, d))
	case <-ctx.Done():
		return ctxErr(PhaseFirstFrame, ctx.Err())
	case <-cn.done:
		return newErr(PhaseFirstFrame, CodeTransport, ErrClosed)
	}
}

func (cn *conn) firstFrameTime() time.Time {
	if ns := cn.firstAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// readTrack is the track's reader goroutine: read packets into one reused
// buffer and packet, reassemble, report frames synchronously.
func (cn *conn) readTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	spec, ok := cn.names[r]
	if !ok {
		spec = wire.TrackSpec{Name: "unknown-" + t.ID(), Kind: t.Kind().String()}
	}
	var stampID, absID uint8
	for _, e := range r.GetParameters().HeaderExtensions {
		switch e.URI {
		case rtpext.FrameStampURI:
			stampID = uint8(e.ID)
		case rtpext.AbsCaptureTimeURI:
			absID = uint8(e.ID)
		}
	}
	codec := t.Codec().MimeType
	onFrame := cn.c.cfg.OnFrame
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	// first spares every later frame the signal's channel poll.
	first := video
	ra := newReassembler(spec.Name, t.Kind().String(), codecKindOf(codec, t.Kind()), stampID, absID, func(f Frame) {
		if first && f.Complete {
			first = false
			if !cn.firstFrame.fired() {
				// Timings first, then the signal: Connect returns on the
				// signal, and its caller reads the timings.
				cn.firstAt.CompareAndSwap(0, f.Arrival.UnixNano())
				cn.c.recordFirstFrame(cn, f.Arrival)
				cn.firstFrame.fire()
			}
		}
		if onFrame != nil {
			onFrame(f)
		}
	})
	ra.codecName = codec
	cn.mu.Lock()
	cn.readers = append(cn.readers, ra)
	cn.mu.Unlock()
	cn.c.log.Debug("remote track", "track", spec.Name, "codec", codec, "frame_stamp_id", stampID, "abs_capture_id", absID)

	buf := make([]byte, readBufSize)
	var pkt rtp.Packet
	stamps := arrivalStamps{pc: cn.pc}
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				continue
			}
			return // the peer connection closed
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		now := time.Now()
		if at, ok := stamps.lookup(pkt.SSRC, pkt.SequenceNumber); ok {
			ra.push(&pkt, at, now)
		} else {
			ra.push(&pkt, now, time.Time{})
		}
	}
}

// arrivalStamps finds a track's packets in the ring of the socket its
// peer connection receives on (the selected ICE pair's local address).
type arrivalStamps struct {
	pc     *webrtc.PeerConnection
	ring   *stampRing
	misses int // consecutive lookups without a stamp
}

func (a *arrivalStamps) lookup(ssrc uint32, seq uint16) (time.Time, bool) {
	if a.ring != nil {
		if at, ok := a.ring.lookup(ssrc, seq); ok {
			a.misses = 0
			return at, true
		}
	}
	// Find the ring on the first packet, and again once per 256 misses in
	// a row: the selected pair may change, or the socket is not stamped.
	a.misses++
	if a.misses%256 != 1 {
		return time.Time{}, false
	}
	a.ring = a.selectedRing()
	if a.ring == nil {
		return time.Time{}, false
	}
	return a.ring.lookup(ssrc, seq)
}

func (a *arrivalStamps) selectedRing() *stampRing {
	pair, err := a.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return nil
	}
	addr, err := netip.ParseAddr(pair.Local.Address)
	if err != nil {
		return nil
	}
	return ringFor(netip.AddrPortFrom(addr, pair.Local.Port))
}

func (cn *conn) trackStats() []TrackStats {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	out := make([]TrackStats, 0, len(cn.readers))
	for _, r := range cn.readers {
		out = append(out, r.stats())
	}
	return out
}

// onCandidate collects trickle candidates; nil means gathering finished.
func (cn *conn) onCandidate(cand *webrtc.ICECandidate) {
	cn.tmu.Lock()
	if cand == nil {
		cn.gathered = true
	} else {
		init := cand.ToJSON()
		cn.cands = append(cn.cands, wire.IceCandidate{Candidate: init.Candidate, SDPMid: init.SDPMid,
			SDPMLineIndex: uint16PtrToInt(init.SDPMLineIndex)})
	}
	cn.tmu.Unlock()
	select {
	case cn.tsig <- struct{}{}:
	default:
	}
}

func uint16PtrToInt(p *uint16) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

// startTrickle starts the goroutine that POSTs candidates gathered so far
// and from now on, in trickleWindow batches, ending with is_final:true
// once gathering completes (bounded by Timeouts.Gather + Timeouts.HTTP).
func (cn *conn) startTrickle(cid int) {
	if !cn.enter() {
		return
	}
	go func() {
		defer cn.wg.Done()
		c := cn.c
		ctx, cancel := context.WithTimeout(cn.ctx, c.timeouts.Gather+c.timeouts.HTTP)
		defer cancel()
		for {
			cn.tmu.Lock()
			batch, final := cn.cands, cn.gathered
			cn.cands = nil
			cn.tmu.Unlock()
			if len(batch) > 0 || final {
				if err := c.postCandidates(ctx, cid, batch, final); err != nil {
					c.log.Warn("trickle ICE failed", "err", err)
					return
				}
			}
			if final {
				return
			}
			select {
			case <-cn.tsig:
				if sleep(ctx, trickleWindow) != nil {
					return
				}
			case <-ctx.Done():
				c.log.Warn("trickle ICE: gathering did not finish", "err", ctx.Err())
				return
			}
		}
	}()
}

// close stops the connection's goroutines and waits for them.
func (cn *conn) close() {
	cn.mu.Lock()
	if cn.closing {
		cn.mu.Unlock()
		return
	}
	cn.closing = true
	cn.cancel()
	cn.mu.Unlock()
	if err := cn.pc.GracefulClose(); err != nil {
		cn.c.log.Debug("close peer connection", "err", err)
	}
	cn.wg.Wait()
}
