package client

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// Frame is one reassembled media frame of a remote track. Video frames are
// the packets sharing an RTP timestamp up to the marker bit; every audio
// packet is a frame. Nothing is decoded.
type Frame struct {
	// Track is the capability track name (from the track mapping).
	Track string
	// Kind is "video" or "audio".
	Kind string
	// Arrival is when the frame's last packet reached the client: the
	// kernel's receive timestamp of the datagram on Linux (the socket read
	// elsewhere) or, with APIOptions.DisableArrivalStamps or an API not
	// built by NewAPI, when pion handed the packet out.
	Arrival time.Time
	// Read is when the client's track reader had the frame's last packet,
	// after pion's receive path. Read − Arrival is the client's own receive
	// lag; Read is zero when Arrival itself was taken there.
	Read time.Time
	// RTPTimestamp is the frame's RTP timestamp.
	RTPTimestamp uint32
	// Stamp is the harness's frame stamp (capture µs, frame sequence,
	// command id) when the extension was negotiated and present.
	Stamp *rtpext.FrameStamp
	// AbsCapture is the abs-capture-time timestamp, zero when absent.
	AbsCapture time.Time
	// Packets and Bytes count the frame's packets and payload bytes.
	Packets, Bytes int
	// SeqGapBefore counts packets lost (RTP sequence numbers never received)
	// since the previous reported frame, including holes in this frame.
	SeqGapBefore int
	// Recovered counts packets that arrived late to fill a hole already
	// counted as lost (a retransmission after NACK, on RTX or the same
	// SSRC) since the previous reported frame. They are taken off
	// SeqGapBefore of this or later frames, so losses are net of repair.
	Recovered int
	// Complete is true when the marker packet and every packet before it
	// arrived and, for VP8/VP9/H264, the first packet starts the frame.
	// Incomplete frames are reported when a newer frame supersedes them.
	Complete bool
	// Keyframe is true for a VP8/VP9 keyframe or an H264 IDR/SPS frame.
	Keyframe bool
}

// Latency returns Arrival minus the stamp's capture time (0 without a
// stamp). Meaningful when sender and receiver share a wall clock.
func (f Frame) Latency() time.Duration {
	if f.Stamp == nil {
		return 0
	}
	return f.Arrival.Sub(f.Stamp.CaptureTime())
}

// TrackStats are a remote track's counters since it started.
type TrackStats struct {
	Track, Kind, Codec string
	Packets, Bytes     uint64
	Frames, Incomplete uint64 // reported frames, of which incomplete
	Lost               uint64 // packets never received (sequence gaps), net of Recovered
	Recovered          uint64 // packets that filled a hole after it was counted lost
	Late, Duplicates   uint64 // packets dropped as too late or repeated
	Padding            uint64 // packets without payload
}

// codecKind selects the start-of-frame and keyframe heuristics.
type codecKind uint8

const (
	codecOther codecKind = iota
	codecVP8
	codecVP9
	codecH264
	codecAudio
)

func codecKindOf(mime string, kind webrtc.RTPCodecType) codecKind {
	if kind == webrtc.RTPCodecTypeAudio {
		return codecAudio
	}
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		return codecVP8
	case strings.ToLower(webrtc.MimeTypeVP9):
		return codecVP9
	case strings.ToLower(webrtc.MimeTypeH264):
		return codecH264
	}
	return codecOther
}

// Reassembly bounds: two frames may be in flight (packets of the next frame
// may overtake the end of the current one); duplicates are detected within
// a window of dupWindow sequence numbers around a frame's first packet.
const (
	maxPending  = 2
	dupWords    = 16
	dupWindow   = dupWords * 64
	dupBackward = 64
	// resyncGap: a jump this large is a stream restart, not loss.
	resyncGap = 1 << 12
	// holeWords: the ring of sequence numbers counted lost, as long as a
	// resync so one report never wraps it.
	holeWords = resyncGap / 64
)

type pending struct {
	active     bool
	ts         uint32
	base       int64 // ext seq at bit 0 of seen
	low, high  int64 // lowest and highest ext seq received
	marker     int64 // ext seq of the marker packet, -1 if not yet
	lowIsStart bool
	keyframe   bool
	packets    int
	bytes      int
	arrival    time.Time // latest packet arrival
	read       time.Time // latest packet read, zero when unstamped
	stamp      rtpext.FrameStamp
	hasStamp   bool
	abs        time.Time
	seen       [dupWords]uint64
}

// reassembler turns one track's packets into frames. It is owned by one
// goroutine; only the counters are read concurrently.
type reassembler struct {
	track, kind    string
	codecName      string
	codec          codecKind
	stampID, absID uint8
	emit           func(Frame)

	slots [maxPending]pending // sorted by timestamp when both active

	started    bool
	maxExt     int64 // highest extended sequence number seen
	emittedAny bool
	lastTS     uint32 // timestamp of the last reported frame
	lastHigh   int64  // highest ext seq of the reported frames
	padding    int    // payload-less packets since the last report

	holes     [holeWords]uint64 // ext seq (mod resyncGap) counted lost, ≤ lastHigh
	recovered int               // holes filled since the last report
	credit    int               // filled holes not yet taken off a gap

	packets, bytes, frames, incomplete, lost, late, dups, pads, recov atomic.Uint64
}

func newReassembler(track, kind string, codec codecKind, stampID, absID uint8, emit func(Frame)) *reassembler {
	return &reassembler{track: track, kind: kind, codec: codec, stampID: stampID, absID: absID, emit: emit}
}

// tsNewer reports whether RTP timestamp a is after b (wrap-aware).
func tsNewer(a, b uint32) bool { return int32(a-b) > 0 }

// unwrap extends a 16-bit sequence number against the highest seen.
func (r *reassembler) unwrap(seq uint16) int64 {
	if !r.started {
		r.started = true
		r.maxExt = 1<<16 + int64(seq)
		return r.maxExt
	}
	ext := r.maxExt + int64(int16(seq-uint16(r.maxExt)))
	if ext > r.maxExt {
		r.maxExt = ext
	}
	return ext
}

// push adds one packet that arrived at arrival and was read at read (zero
// when arrival is the read time).
func (r *reassembler) push(p *rtp.Packet, arrival, read time.Time) {
	ext := r.unwrap(p.SequenceNumber)
	if len(p.Payload) == 0 {
		r.pads.Add(1)
		r.padding++
		return
	}
	if r.emittedAny && !tsNewer(p.Timestamp, r.lastTS) {
		r.lateArrival(ext)
		return
	}
	s := r.slotFor(p.Timestamp)
	if s == nil {
		r.lateArrival(ext)
		return
	}
	if !s.add(ext) {
		r.dups.Add(1)
		return
	}
	r.packets.Add(1)
	r.bytes.Add(uint64(len(p.Payload)))
	s.packets++
	s.bytes += len(p.Payload)
	if arrival.After(s.arrival) {
		s.arrival = arrival
	}
	if read.After(s.read) {
		s.read = read
	}
	if ext == s.low {
		s.lowIsStart, s.keyframe = frameStart(r.codec, p.Payload)
	}
	if !s.hasStamp && r.stampID != 0 {
		if b := p.GetExtension(r.stampID); b != nil && s.stamp.Unmarshal(b) == nil {
			s.hasStamp = true
		}
	}
	if s.abs.IsZero() && r.absID != 0 {
		if b := p.GetExtension(r.absID); b != nil {
			var a rtpext.AbsCaptureTime
			if a.Unmarshal(b) == nil {
				s.abs = a.Timestamp
			}
		}
	}
	if p.Marker && (s.marker < 0 || ext < s.marker) {
		s.marker = ext
	}
	if r.codec == codecAudio || r.complete(s) {
		r.release(s)
	}
}

// slotFor finds or opens the pending frame of timestamp ts; nil when ts is
// older than every frame in flight and no slot is free.
func (r *reassembler) slotFor(ts uint32) *pending {
	for i := range r.slots {
		if r.slots[i].active && r.slots[i].ts == ts {
			return &r.slots[i]
		}
	}
	a, b := &r.slots[0], &r.slots[1]
	switch {
	case !a.active && !b.active:
		a.open(ts)
		return a
	case a.active && !b.active:
		if tsNewer(ts, a.ts) {
			b.open(ts)
			return b
		}
		*b = *a
		a.open(ts)
		return a
	}
	// Both busy: a is older than b.
	if !tsNewer(ts, a.ts) {
		return nil
	}
	r.report(a, false)
	if tsNewer(ts, b.ts) {
		*a = *b
		b.open(ts)
		return b
	}
	a.open(ts)
	return a
}

func (s *pending) open(ts uint32) {
	*s = pending{active: true, ts: ts, marker: -1}
}

// add records ext in the frame; false for a duplicate.
func (s *pending) add(ext int64) bool {
	if s.packets == 0 {
		s.base, s.low, s.high = ext-dupBackward, ext, ext
	}
	if off := ext - s.base; off >= 0 && off < dupWindow {
		w, bit := off/64, uint64(1)<<(off%64)
		if s.seen[w]&bit != 0 {
			return false
		}
		s.seen[w] |= bit
	}
	s.low, s.high = min(s.low, ext), max(s.high, ext)
	return true
}

// complete: the marker arrived, nothing is missing before it, and (when the
// codec tells) the lowest packet starts the frame.
func (r *reassembler) complete(s *pending) bool {
	if s.marker < 0 || int64(s.packets) != s.marker-s.low+1 {
		return false
	}
	return r.codec == codecOther || s.lowIsStart
}

// release reports s, first reporting the older frame in flight (if s is
// the newer one) as incomplete.
func (r *reassembler) release(s *pending) {
	complete := r.codec == codecAudio || r.complete(s)
	if s == &r.slots[1] {
		if r.slots[0].active {
			r.report(&r.slots[0], false)
		}
		r.report(s, complete)
		return
	}
	r.report(s, complete)
	if r.slots[1].active {
		r.slots[0] = r.slots[1]
		r.slots[1].active = false
	}
}

// lateArrival takes a packet of a frame already reported: a hole filled
// (recovered) when its sequence number was counted lost, else late.
func (r *reassembler) lateArrival(ext int64) {
	if ext <= r.lastHigh && ext > r.lastHigh-resyncGap && r.takeHole(ext) {
		r.recov.Add(1)
		r.recovered++
		r.credit++
		return
	}
	r.late.Add(1)
}

func holeBit(ext int64) (int, uint64) {
	i := ext & (resyncGap - 1)
	return int(i / 64), 1 << (i % 64)
}

func (r *reassembler) takeHole(ext int64) bool {
	w, b := holeBit(ext)
	if r.holes[w]&b == 0 {
		return false
	}
	r.holes[w] &^= b
	return true
}

// markHoles records which sequence numbers in (prev, s.high] s lacks, so a
// late copy can be told from a late duplicate.
func (r *reassembler) markHoles(prev int64, s *pending) {
	for ext := prev + 1; ext <= s.high; ext++ {
		w, b := holeBit(ext)
		if s.has(ext) {
			r.holes[w] &^= b
		} else {
			r.holes[w] |= b
		}
	}
}

// has reports whether ext was received in s (false outside its window).
func (s *pending) has(ext int64) bool {
	if ext < s.low || ext > s.high {
		return false
	}
	off := ext - s.base
	if off < 0 || off >= dupWindow {
		return true // beyond the window: assume received, never recovered
	}
	return s.seen[off/64]&(1<<(off%64)) != 0
}

// report emits s and frees its slot.
func (r *reassembler) report(s *pending, complete bool) {
	prev := r.lastHigh
	if !r.emittedAny {
		prev = s.low - 1
	}
	gap := 0
	switch d := s.high - prev; {
	case d >= resyncGap || d <= -resyncGap: // stream restart: not loss
		r.lastHigh = s.high
	case d > 0:
		gap = max(0, int(d)-s.packets-r.padding)
		if gap > 0 {
			r.markHoles(prev, s)
		}
		r.lastHigh = s.high
	}
	repaired := min(gap, r.credit)
	gap -= repaired
	r.credit -= repaired
	recovered := r.recovered
	r.padding, r.recovered = 0, 0
	r.emittedAny, r.lastTS = true, s.ts
	r.frames.Add(1)
	if !complete {
		r.incomplete.Add(1)
	}
	r.lost.Add(uint64(gap))
	f := Frame{Track: r.track, Kind: r.kind, Arrival: s.arrival, Read: s.read, RTPTimestamp: s.ts, AbsCapture: s.abs,
		Packets: s.packets, Bytes: s.bytes, SeqGapBefore: gap, Recovered: recovered, Complete: complete, Keyframe: s.keyframe}
	if s.hasStamp {
		st := s.stamp
		f.Stamp = &st
	}
	s.active = false
	if r.emit != nil {
		r.emit(f)
	}
}

func (r *reassembler) stats() TrackStats {
	return TrackStats{Track: r.track, Kind: r.kind, Codec: r.codecName,
		Packets: r.packets.Load(), Bytes: r.bytes.Load(), Frames: r.frames.Load(), Incomplete: r.incomplete.Load(),
		Lost: r.lost.Load(), Recovered: r.recov.Load(), Late: r.late.Load(), Duplicates: r.dups.Load(), Padding: r.pads.Load()}
}

// frameStart reports whether payload begins a frame and whether that frame
// is a keyframe, reading only the payload descriptor / NAL header.
func frameStart(c codecKind, payload []byte) (start, key bool) {
	switch c {
	case codecVP8:
		return vp8Start(payload)
	case codecVP9:
		b := payload[0]
		start = b&0x08 != 0 // B: beginning of a frame
		return start, start && b&0x40 == 0
	case codecH264:
		return h264Start(payload)
	}
	return true, false
}

// vp8Start parses the VP8 payload descriptor (RFC 7741 §4.2): S=1 and
// partition 0 start a frame; the VP8 frame tag's P bit is 0 on keyframes.
func vp8Start(p []byte) (start, key bool) {
	b := p[0]
	if b&0x10 == 0 || b&0x07 != 0 {
		return false, false
	}
	n := 1
	if b&0x80 != 0 { // X
		if len(p) < 2 {
			return true, false
		}
		x := p[1]
		n = 2
		if x&0x80 != 0 { // I
			if len(p) > n && p[n]&0x80 != 0 { // M: 15-bit picture id
				n++
			}
			n++
		}
		if x&0x40 != 0 { // L
			n++
		}
		if x&0x30 != 0 { // T or K
			n++
		}
	}
	return true, len(p) > n && p[n]&0x01 == 0
}

// h264Start: a single NAL unit or STAP-A starts (part of) an access unit, a
// FU-A starts one when its S bit is set; IDR (5) and SPS (7) mark keyframes.
func h264Start(p []byte) (start, key bool) {
	t := p[0] & 0x1f
	switch {
	case t >= 1 && t <= 23:
		return true, t == 5 || t == 7
	case t == 24: // STAP-A: first aggregated NAL after a 2-byte size
		return true, len(p) > 3 && (p[3]&0x1f == 5 || p[3]&0x1f == 7)
	case t == 28: // FU-A
		if len(p) < 2 {
			return false, false
		}
		return p[1]&0x80 != 0, p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false, false
}
