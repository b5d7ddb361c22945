package media

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// StreamConfig describes one session's outbound video track.
type StreamConfig struct {
	// TrackID and StreamID are the track's SDP identifiers (msid); they
	// default to "main_video" and "reactor".
	TrackID, StreamID string
	// Delay is the stream's own extra delay between capture and send, on top
	// of the broadcaster's (see Stream.SetDelay).
	Delay time.Duration
	// OnFrame, if set, is called for every frame when it is captured, before
	// it is stamped, on a sender goroutine shared with other streams: it must
	// return quickly and never block. A command applied from OnFrame (via
	// SetCommandID) is stamped on that same frame, so a model that applies
	// commands when ChunkBoundary is true marks the first frame of the chunk.
	// It may call any Stream method, including Close.
	OnFrame func(FrameInfo)
}

// FrameInfo describes a frame at capture time.
type FrameInfo struct {
	// Seq is the frame's sequence number in this stream, starting at 1; it
	// is what the frame stamp carries.
	Seq uint32
	// Chunk counts the chunks this stream has started, from 0;
	// FrameInChunk is the frame's position in its chunk, and ChunkBoundary
	// is true on a chunk's first frame (a keyframe).
	Chunk         uint32
	FrameInChunk  int
	ChunkBoundary bool
	// ClipFrame is the index of the frame in the clip.
	ClipFrame int
	// Capture is the frame's capture time as stamped: its tick's scheduled
	// time plus the stream's phase, or later if the sender got to it late.
	Capture time.Time
}

// StreamStats is a snapshot of a stream's counters.
type StreamStats struct {
	FramesSent, PacketsSent, BytesSent, WriteErrors uint64
	Paused                                          bool
}

// Stream is one session's outbound video track. It starts paused and sends
// nothing until Resume. Control methods are safe from any goroutine.
type Stream struct {
	b                 *Broadcaster
	w                 *worker
	trackID, streamID string
	onFrame           func(FrameInfo)

	paused      atomic.Bool
	closed      atomic.Bool
	keyframeReq atomic.Bool
	delay       atomic.Int64 // nanoseconds
	commandID   atomic.Uint32
	bound       atomic.Int32 // number of bindings, read without mu per tick

	frames, packets, bytes, writeErrors atomic.Uint64

	// phase offsets this stream's captures into the frame interval (see
	// Options.Phases); fixed at creation.
	phase time.Duration

	// Frame state, touched only by the owning worker goroutine.
	tick0   uint64    // broadcaster tick when created: RTP time origin
	pos     int       // next clip frame
	seq     uint32    // last frame sequence number used
	chunk   uint32    // current chunk number
	lastDue time.Time // keeps delayed frames in order if the delay shrinks

	mu       sync.Mutex // guards bindings and serialises writes with Close
	bindings []*binding
}

// binding is the stream as bound to one RTPSender: what pion negotiated and
// the RTP state that must be continuous for that receiver.
type binding struct {
	id            string
	ssrc          uint32
	payloadType   uint8
	stampID       uint8 // 0: frame stamp not negotiated
	absID         uint8 // 0: abs-capture-time not negotiated
	profile       uint16
	seq           uint16
	tsBase        uint32
	out           webrtc.TrackLocalWriter
	hasExtensions bool
	hdr           rtp.Header // reused for every packet
	// stamp and abs hold the extension payloads of the frame being written;
	// hdr points into them. Copying them here, rather than pointing into
	// the frameJob, keeps frame jobs off the heap.
	stamp [rtpext.FrameStampSize]byte
	abs   [rtpext.AbsCaptureTimeSize]byte
}

// frameJob is one stream's frame waiting for its time: to be captured
// (captured false: only s, tickN and due are set) or, once stamped, to be
// written.
type frameJob struct {
	s         *Stream
	captured  bool
	tickN     uint64
	clipFrame int
	rtpTime   uint32 // 90 kHz ticks since the stream's time origin
	stamp     [rtpext.FrameStampSize]byte
	abs       [rtpext.AbsCaptureTimeSize]byte
	absOK     bool
	due       time.Time
	order     uint64
}

var _ webrtc.TrackLocal = (*Stream)(nil)

func newStream(b *Broadcaster, w *worker, cfg StreamConfig) *Stream {
	s := &Stream{
		b:        b,
		w:        w,
		trackID:  cmpOr(cfg.TrackID, "main_video"),
		streamID: cmpOr(cfg.StreamID, "reactor"),
		onFrame:  cfg.OnFrame,
		tick0:    b.lastTick.Load(),
		phase:    b.nextPhase(),
	}
	s.paused.Store(true)
	s.SetDelay(cfg.Delay)
	return s
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Resume starts (or restarts) sending. The first frame a stream ever sends
// is the clip's first keyframe; after a pause the clip continues where it
// stopped, which decodes because no frame was lost in between.
func (s *Stream) Resume() { s.paused.Store(false) }

// Pause stops sending from the next tick. Frames already captured and
// waiting out a delay are still sent, like frames in flight on a network.
func (s *Stream) Pause() { s.paused.Store(true) }

// Paused reports whether the stream is paused.
func (s *Stream) Paused() bool { return s.paused.Load() }

// SetCommandID records the id of the last command the model applied; every
// frame captured afterwards carries it. 0 means none.
func (s *Stream) SetCommandID(id uint32) { s.commandID.Store(id) }

// CommandID returns the id set by SetCommandID.
func (s *Stream) CommandID() uint32 { return s.commandID.Load() }

// SetDelay sets the stream's own extra delay between capture and send,
// clamped to [0, MaxDelay]. Frames keep their order when it changes.
func (s *Stream) SetDelay(d time.Duration) { s.delay.Store(int64(clampDelay(d))) }

// Delay returns the stream's effective delay (its own plus the
// broadcaster's).
func (s *Stream) Delay() time.Duration {
	return time.Duration(s.delay.Load()) + s.b.Delay()
}

// RequestKeyframe makes the stream jump to the start of the next chunk (a
// keyframe) on its next frame. Call it on PLI or FIR from the receiver: a
// pre-encoded clip cannot make a keyframe on demand, but it has one at
// every chunk start.
func (s *Stream) RequestKeyframe() { s.keyframeReq.Store(true) }

// HandleRTCP reacts to RTCP read from the stream's RTPSender: picture loss
// and full intra requests trigger RequestKeyframe. The answerer should read
// RTCP anyway, since pion's NACK and report interceptors only see what is
// read.
func (s *Stream) HandleRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			s.RequestKeyframe()
		}
	}
}

// Stats returns a snapshot of the stream's counters.
func (s *Stream) Stats() StreamStats {
	return StreamStats{
		FramesSent:  s.frames.Load(),
		PacketsSent: s.packets.Load(),
		BytesSent:   s.bytes.Load(),
		WriteErrors: s.writeErrors.Load(),
		Paused:      s.paused.Load(),
	}
}

// Close detaches the stream from its broadcaster. When it returns no write
// is in progress and none will start. It is idempotent and does not touch
// the peer connection; closing that is the answerer's job.
func (s *Stream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.w.detach(s)
	s.mu.Lock()
	s.bindings = nil
	s.bound.Store(0)
	s.mu.Unlock()
	return nil
}

// Phase returns the stream's offset into the frame interval: it captures
// its frame of every tick that long after the tick.
func (s *Stream) Phase() time.Duration { return s.phase }

// captureJob is the stream's capture due for tick tk, at the tick's time
// plus the stream's phase; the worker prepares it when that time comes.
func (s *Stream) captureJob(tk tick) frameJob {
	return frameJob{s: s, tickN: tk.n, due: tk.at.Add(s.phase)}
}

// prepare captures and stamps the stream's frame for a capture job, or
// reports false when the stream should not send (paused, closed, or not
// negotiated yet: frames before negotiation would be lost and look like
// gaps in Seq). The capture time is now, or the job's scheduled time if
// now is earlier: a sender that reaches the stream late, behind a timer
// or other streams' writes, captures late. That lateness shows in the
// inter-frame gaps, while a frame's latency counts only what happens
// after its capture (the delay, the write and the network).
func (s *Stream) prepare(c *frameJob, now time.Time) (frameJob, bool) {
	if s.paused.Load() || s.closed.Load() || s.bound.Load() == 0 || c.tickN < s.tick0 {
		return frameJob{}, false
	}
	at := c.due
	if now.After(at) {
		at = now
	}
	info := s.advance(at)
	if s.onFrame != nil {
		s.onFrame(info)
	}
	j := frameJob{
		s:         s,
		captured:  true,
		clipFrame: info.ClipFrame,
		rtpTime:   uint32((c.tickN - s.tick0) * ClockRate / uint64(s.b.fps)),
		due:       s.dueTime(at),
	}
	stamp := rtpext.NewFrameStamp(at, info.Seq, s.commandID.Load())
	stamp.AppendTo(j.stamp[:0])
	_, err := rtpext.NewAbsCaptureTime(at).AppendTo(j.abs[:0])
	j.absOK = err == nil
	return j, true
}

// advance moves the stream to its next clip frame and describes it.
func (s *Stream) advance(at time.Time) FrameInfo {
	clip := s.b.clip
	if s.keyframeReq.Swap(false) && s.seq > 0 && s.pos%clip.ChunkFrames != 0 {
		s.pos = (s.pos/clip.ChunkFrames + 1) * clip.ChunkFrames % clip.Frames()
	}
	inChunk := s.pos % clip.ChunkFrames
	if inChunk == 0 && s.seq > 0 {
		s.chunk++
	}
	s.seq++
	info := FrameInfo{
		Seq:           s.seq,
		Chunk:         s.chunk,
		FrameInChunk:  inChunk,
		ChunkBoundary: inChunk == 0,
		ClipFrame:     s.pos,
		Capture:       at,
	}
	s.pos = (s.pos + 1) % clip.Frames()
	return info
}

// dueTime is when a frame captured at "at" may be written. It never goes
// back in time for a stream, so shrinking the delay cannot reorder frames.
func (s *Stream) dueTime(at time.Time) time.Time {
	due := at.Add(s.Delay())
	if due.Before(s.lastDue) {
		due = s.lastDue
	}
	s.lastDue = due
	return due
}

// send writes a prepared frame to every binding. Holding mu makes Close
// wait for a write in progress.
func (s *Stream) send(j *frameJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	f := &s.b.clip.frames[j.clipFrame]
	wrote := false
	for _, bd := range s.bindings {
		pkts, n, errs := bd.writeFrame(f, j)
		s.packets.Add(pkts)
		s.bytes.Add(n)
		s.writeErrors.Add(errs)
		wrote = wrote || pkts > 0
	}
	if wrote {
		s.frames.Add(1)
	}
}

// writeFrame writes all packets of a frame with one RTP timestamp, the
// marker on the last packet and the negotiated extensions on every packet.
// It returns packets and bytes written and the number of failed writes.
func (bd *binding) writeFrame(f *clipFrame, j *frameJob) (pkts, n, errs uint64) {
	bd.stamp = j.stamp
	bd.abs = j.abs
	h := &bd.hdr
	last := len(f.payloads) - 1
	for i, payload := range f.payloads {
		bd.fillHeader(i == last, j)
		if _, err := bd.out.WriteRTP(h, payload); err != nil {
			errs++
			continue
		}
		pkts++
		n += uint64(h.MarshalSize() + len(payload))
	}
	return pkts, n, errs
}

// fillHeader resets the reused header for the next packet. Extensions are
// rebuilt each time because interceptors (transport-cc) add their own.
func (bd *binding) fillHeader(marker bool, j *frameJob) {
	h := &bd.hdr
	ext := h.Extensions[:0]
	*h = rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    bd.payloadType,
		SequenceNumber: bd.seq,
		Timestamp:      bd.tsBase + j.rtpTime,
		SSRC:           bd.ssrc,
	}
	bd.seq++
	if !bd.hasExtensions {
		return
	}
	h.Extension = true
	h.ExtensionProfile = bd.profile
	h.Extensions = ext
	// The ids and lengths were validated in Bind, so these cannot fail.
	if bd.stampID != 0 {
		_ = h.SetExtension(bd.stampID, bd.stamp[:])
	}
	if bd.absID != 0 && j.absOK {
		_ = h.SetExtension(bd.absID, bd.abs[:])
	}
}

// Bind implements webrtc.TrackLocal: pion calls it once negotiation is
// complete. It picks VP8 and the ids the extensions were negotiated with.
func (s *Stream) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := findVP8(ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	bd := newBinding(ctx, codec)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return webrtc.RTPCodecParameters{}, ErrClosed
	}
	s.bindings = append(s.bindings, bd)
	s.bound.Store(int32(len(s.bindings)))
	return codec, nil
}

func findVP8(codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeVP8) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// newBinding records what was negotiated. Sequence numbers and timestamps
// start at random values, as RFC 3550 asks.
func newBinding(ctx webrtc.TrackLocalContext, codec webrtc.RTPCodecParameters) *binding {
	bd := &binding{
		id:          ctx.ID(),
		ssrc:        uint32(ctx.SSRC()),
		payloadType: uint8(codec.PayloadType),
		out:         ctx.WriteStream(),
		seq:         uint16(rand.Uint32()),
		tsBase:      rand.Uint32(),
		profile:     rtp.ExtensionProfileOneByte,
	}
	for _, e := range ctx.HeaderExtensions() {
		if e.ID < 1 || e.ID > 255 {
			continue
		}
		switch e.URI {
		case rtpext.FrameStampURI:
			bd.stampID = uint8(e.ID)
		case rtpext.AbsCaptureTimeURI:
			bd.absID = uint8(e.ID)
		}
	}
	bd.hasExtensions = bd.stampID != 0 || bd.absID != 0
	// Ids above 14 only fit the two-byte form (RFC 8285).
	if bd.stampID > 14 || bd.absID > 14 {
		bd.profile = rtp.ExtensionProfileTwoByte
	}
	return bd
}

// Unbind implements webrtc.TrackLocal: pion calls it when the sender stops.
func (s *Stream) Unbind(ctx webrtc.TrackLocalContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bindings = slices.DeleteFunc(s.bindings, func(bd *binding) bool { return bd.id == ctx.ID() })
	s.bound.Store(int32(len(s.bindings)))
	return nil
}

// ID implements webrtc.TrackLocal.
func (s *Stream) ID() string { return s.trackID }

// StreamID implements webrtc.TrackLocal.
func (s *Stream) StreamID() string { return s.streamID }

// RID implements webrtc.TrackLocal; streams do not use simulcast.
func (s *Stream) RID() string { return "" }

// Kind implements webrtc.TrackLocal.
func (s *Stream) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeVideo }
