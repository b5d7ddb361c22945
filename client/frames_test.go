package client

import (
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

const (
	testStampID = 3
	testAbsID   = 5
)

// vp8Packet builds a packet of a VP8 frame: part is its index in the frame,
// the first carries S=1 and a keyframe tag when key.
func vp8Packet(seq uint16, ts uint32, part, of int, key bool, stampSeq uint32) *rtp.Packet {
	payload := []byte{0x00, 0xAA, 0xBB, 0xCC}
	if part == 0 {
		payload[0] = 0x10 // S=1, PID 0
		payload[1] = 0x01 // P=1: interframe
		if key {
			payload[1] = 0x00
		}
	}
	p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: part == of-1}, Payload: payload}
	stamp := rtpext.FrameStamp{CaptureMicros: 1_700_000_000_000_000 + int64(stampSeq), Seq: stampSeq, CommandID: 7}
	if err := p.Header.SetExtension(testStampID, stamp.Marshal()); err != nil {
		panic(err)
	}
	abs, err := rtpext.NewAbsCaptureTime(stamp.CaptureTime()).Marshal()
	if err != nil {
		panic(err)
	}
	if err := p.Header.SetExtension(testAbsID, abs); err != nil {
		panic(err)
	}
	return p
}

// frameOf returns the packets of frame n (3 packets each, seq from base).
func frameOf(base uint16, n int, key bool) []*rtp.Packet {
	out := make([]*rtp.Packet, 3)
	for i := range out {
		out[i] = vp8Packet(base+uint16(n*3+i), uint32(1000+n*3000), i, 3, key && n == 0, uint32(n+1))
	}
	return out
}

type collector struct{ frames []Frame }

func (c *collector) emit(f Frame) { c.frames = append(c.frames, f) }

func newTestReassembler(col *collector) *reassembler {
	return newReassembler("main_video", "video", codecVP8, testStampID, testAbsID, col.emit)
}

func pushAll(r *reassembler, pkts ...*rtp.Packet) {
	now := time.Unix(1_800_000_000, 0)
	for i, p := range pkts {
		// Round-trip through bytes like the reader does.
		b, err := p.Marshal()
		if err != nil {
			panic(err)
		}
		var q rtp.Packet
		if err := q.Unmarshal(b); err != nil {
			panic(err)
		}
		r.push(&q, now.Add(time.Duration(i)*time.Millisecond), time.Time{})
	}
}

// TestReassembleArrivalIsLatestStamp: with socket stamps, a frame arrives
// at the latest arrival among its packets (not the last one read, which
// may have been received earlier), and Read is the latest read.
func TestReassembleArrivalIsLatestStamp(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	base := time.Unix(1_800_000_000, 0)
	ms := func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }
	f := frameOf(100, 0, true)
	r.push(f[0], ms(1), ms(10))
	r.push(f[2], ms(5), ms(11)) // the marker arrived last
	r.push(f[1], ms(3), ms(12)) // the middle packet, reordered in pion, is read last
	if len(col.frames) != 1 {
		t.Fatalf("got %d frames, want 1", len(col.frames))
	}
	got := col.frames[0]
	if !got.Arrival.Equal(ms(5)) || !got.Read.Equal(ms(12)) {
		t.Fatalf("arrival %v read %v, want +5ms and +12ms", got.Arrival.Sub(base), got.Read.Sub(base))
	}
	// Unstamped packets leave Read zero.
	pushAll(r, frameOf(100, 1, false)...)
	if len(col.frames) != 2 || !col.frames[1].Read.IsZero() {
		t.Fatalf("unstamped frame: %+v", col.frames[1:])
	}
}

func TestReassembleInOrder(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	var pkts []*rtp.Packet
	for n := range 4 {
		pkts = append(pkts, frameOf(65530, n, true)...) // wraps the sequence number
	}
	pushAll(r, pkts...)
	if len(col.frames) != 4 {
		t.Fatalf("got %d frames, want 4", len(col.frames))
	}
	for i, f := range col.frames {
		if !f.Complete || f.Packets != 3 || f.Bytes != 12 || f.SeqGapBefore != 0 {
			t.Fatalf("frame %d: %+v", i, f)
		}
		if f.Stamp == nil || f.Stamp.Seq != uint32(i+1) || f.Stamp.CommandID != 7 {
			t.Fatalf("frame %d stamp %+v", i, f.Stamp)
		}
		if f.AbsCapture.UnixMicro() != f.Stamp.CaptureMicros {
			t.Fatalf("frame %d abs %v vs stamp %v", i, f.AbsCapture, f.Stamp.CaptureTime())
		}
		if f.RTPTimestamp != uint32(1000+i*3000) || f.Track != "main_video" || f.Kind != "video" {
			t.Fatalf("frame %d: %+v", i, f)
		}
		if f.Keyframe != (i == 0) {
			t.Fatalf("frame %d keyframe %v", i, f.Keyframe)
		}
	}
	// Arrival is the last packet's.
	if want := time.Unix(1_800_000_000, 0).Add(2 * time.Millisecond); !col.frames[0].Arrival.Equal(want) {
		t.Fatalf("arrival %v, want %v", col.frames[0].Arrival, want)
	}
	if st := r.stats(); st.Frames != 4 || st.Packets != 12 || st.Lost != 0 || st.Incomplete != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReassembleReorderWithinFrame(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	f0, f1 := frameOf(100, 0, true), frameOf(100, 1, false)
	// Marker first, then the start, then the middle; and a duplicate.
	pushAll(r, f0[2], f0[0], f0[0], f0[1], f1[1], f1[0], f1[2])
	if len(col.frames) != 2 {
		t.Fatalf("got %d frames, want 2: %+v", len(col.frames), col.frames)
	}
	for i, f := range col.frames {
		if !f.Complete || f.Packets != 3 || f.SeqGapBefore != 0 {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	if !col.frames[0].Keyframe {
		t.Fatal("first frame not a keyframe after reordering")
	}
	if st := r.stats(); st.Duplicates != 1 {
		t.Fatalf("duplicates %d, want 1", st.Duplicates)
	}
}

func TestReassembleReorderAcrossFrames(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	f0, f1 := frameOf(100, 0, true), frameOf(100, 1, false)
	// The next frame's first packet overtakes the current frame's marker.
	pushAll(r, f0[0], f0[1], f1[0], f0[2], f1[1], f1[2])
	if len(col.frames) != 2 || !col.frames[0].Complete || !col.frames[1].Complete {
		t.Fatalf("frames %+v", col.frames)
	}
	if col.frames[0].RTPTimestamp != 1000 || col.frames[1].RTPTimestamp != 4000 {
		t.Fatalf("order %d, %d", col.frames[0].RTPTimestamp, col.frames[1].RTPTimestamp)
	}
}

func TestReassembleGaps(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	f0, f1, f3, f4 := frameOf(100, 0, true), frameOf(100, 1, false), frameOf(100, 3, false), frameOf(100, 4, false)
	pushAll(r,
		f0[0], f0[1], f0[2], // complete
		f1[0], f1[2], // middle lost: incomplete
		// f2 lost entirely
		f3[1], f3[2], // first packet lost: incomplete (no start)
		f4[0], f4[1], f4[2], // complete, supersedes f1 and f3
	)
	want := []struct {
		ts       uint32
		complete bool
		packets  int
		gap      int
	}{
		{1000, true, 3, 0},
		{4000, false, 2, 1},
		{10000, false, 2, 4}, // f2's 3 packets and f3's first
		{13000, true, 3, 0},
	}
	if len(col.frames) != len(want) {
		t.Fatalf("got %d frames, want %d: %+v", len(col.frames), len(want), col.frames)
	}
	for i, w := range want {
		f := col.frames[i]
		if f.RTPTimestamp != w.ts || f.Complete != w.complete || f.Packets != w.packets || f.SeqGapBefore != w.gap {
			t.Errorf("frame %d: ts %d complete %v packets %d gap %d; want %+v", i, f.RTPTimestamp, f.Complete, f.Packets, f.SeqGapBefore, w)
		}
	}
	st := r.stats()
	if st.Lost != 5 || st.Incomplete != 2 || st.Frames != 4 {
		t.Fatalf("stats %+v", st)
	}
	// A straggler of a reported frame is not a new frame: it fills a hole
	// counted lost (recovered), and a second copy of it is late.
	pushAll(r, f1[1], f1[1])
	if st := r.stats(); st.Recovered != 1 || st.Late != 1 || len(col.frames) != 4 {
		t.Fatalf("straggler: stats %+v, %d frames", st, len(col.frames))
	}
}

// TestReassembleRetransmissionIsRecovered: a resend on the same SSRC after
// its frame was reported is counted recovered and taken off the loss of
// the next frame, so losses are net of repair; a packet never counted lost
// (the frame's own sequence numbers, a resend of a received one) is not.
func TestReassembleRetransmissionIsRecovered(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	f0, f1, f2, f3, f4 := frameOf(500, 0, true), frameOf(500, 1, false), frameOf(500, 2, false), frameOf(500, 3, false), frameOf(500, 4, false)
	pushAll(r, f0[0], f0[1], f0[2], f1[0], f1[2], f2[0], f2[1], f2[2], f3[0], f3[1], f3[2])
	// f1 was superseded with one hole; its resend and a repeat of f0 arrive.
	pushAll(r, f1[1], f0[1])
	pushAll(r, f4[0], f4[2]) // f4 loses its middle packet, reported by f5
	pushAll(r, frameOf(500, 5, false)...)
	st := r.stats()
	if st.Recovered != 1 || st.Late != 1 {
		t.Fatalf("stats %+v, want 1 recovered and 1 late", st)
	}
	if st.Lost != 1 {
		t.Fatalf("lost %d, want 1 (2 holes, 1 repaired)", st.Lost)
	}
	var gaps, rec int
	for _, f := range col.frames {
		gaps += f.SeqGapBefore
		rec += f.Recovered
	}
	if gaps != 1 || rec != 1 {
		t.Fatalf("frames report gaps %d recovered %d, want 1 and 1: %+v", gaps, rec, col.frames)
	}
}

func TestReassembleMarkerLost(t *testing.T) {
	var col collector
	r := newTestReassembler(&col)
	f0, f1, f2 := frameOf(100, 0, true), frameOf(100, 1, false), frameOf(100, 2, false)
	pushAll(r, f0[0], f0[1] /* marker lost */, f1[0], f1[1], f1[2])
	// f0 waits while f1 is in flight; f1 completing reports f0 first.
	if len(col.frames) != 2 || col.frames[0].Complete || !col.frames[1].Complete {
		t.Fatalf("frames %+v", col.frames)
	}
	if col.frames[0].SeqGapBefore != 0 || col.frames[1].SeqGapBefore != 1 {
		t.Fatalf("gaps %d, %d", col.frames[0].SeqGapBefore, col.frames[1].SeqGapBefore)
	}
	pushAll(r, f2...)
	if len(col.frames) != 3 || !col.frames[2].Complete {
		t.Fatalf("frames %+v", col.frames)
	}
}

func TestReassembleAudioPerPacket(t *testing.T) {
	var col collector
	r := newReassembler("main_audio", "audio", codecAudio, 0, 0, col.emit)
	var pkts []*rtp.Packet
	for i := range 5 {
		if i == 2 {
			continue // one lost
		}
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(10 + i), Timestamp: uint32(i * 960)}, Payload: []byte{1, 2}})
	}
	pushAll(r, pkts...)
	if len(col.frames) != 4 {
		t.Fatalf("got %d frames", len(col.frames))
	}
	if col.frames[2].SeqGapBefore != 1 || !col.frames[2].Complete || col.frames[2].Stamp != nil {
		t.Fatalf("frame 2: %+v", col.frames[2])
	}
}

func TestFrameStartHeuristics(t *testing.T) {
	cases := []struct {
		name       string
		codec      codecKind
		payload    []byte
		start, key bool
	}{
		{"vp8 key", codecVP8, []byte{0x10, 0x00}, true, true},
		{"vp8 inter", codecVP8, []byte{0x10, 0x01}, true, false},
		{"vp8 continuation", codecVP8, []byte{0x00, 0x00}, false, false},
		{"vp8 ext picture id 15-bit", codecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true, true},
		{"vp8 ext picture id 7-bit", codecVP8, []byte{0x90, 0x80, 0x05, 0x01}, true, false},
		{"vp9 key", codecVP9, []byte{0x08}, true, true},
		{"vp9 inter", codecVP9, []byte{0x48}, true, false},
		{"vp9 middle", codecVP9, []byte{0x40}, false, false},
		{"h264 idr", codecH264, []byte{0x65}, true, true},
		{"h264 fu-a start idr", codecH264, []byte{0x7c, 0x85}, true, true},
		{"h264 fu-a middle", codecH264, []byte{0x7c, 0x05}, false, false},
		{"h264 stap-a sps", codecH264, []byte{0x78, 0x00, 0x02, 0x67}, true, true},
	}
	for _, c := range cases {
		start, key := frameStart(c.codec, c.payload)
		if start != c.start || key != c.key {
			t.Errorf("%s: start %v key %v, want %v %v", c.name, start, key, c.start, c.key)
		}
	}
}

// BenchmarkReassemble measures the per-packet cost of the reader's work
// after pion: unmarshal into a reused packet, then reassemble (frames of 5
// packets with both extensions, as the mock sends them).
func BenchmarkReassemble(b *testing.B) {
	const perFrame = 5
	var raw [][]byte
	for n := range 64 {
		for i := range perFrame {
			p := vp8Packet(uint16(n*perFrame+i), uint32(n*3000), i, perFrame, n == 0, uint32(n+1))
			p.Payload = make([]byte, 1100)
			p.Payload[0] = 0x00
			if i == 0 {
				p.Payload[0] = 0x10
			}
			buf, err := p.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			raw = append(raw, buf)
		}
	}
	frames := 0
	r := newReassembler("main_video", "video", codecVP8, testStampID, testAbsID, func(f Frame) {
		if f.Complete {
			frames++
		}
	})
	var pkt rtp.Packet
	buf := make([]byte, readBufSize)
	now := time.Now()
	b.SetBytes(int64(len(raw[1])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Advance sequence numbers and timestamps so every lap is new.
		src := raw[i%len(raw)]
		n := copy(buf, src)
		lap := uint16(i / len(raw))
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			b.Fatal(err)
		}
		pkt.SequenceNumber += lap * uint16(len(raw))
		pkt.Timestamp += uint32(lap) * 64 * 3000
		r.push(&pkt, now, now)
	}
	b.StopTimer()
	if b.N > 2*len(raw) && frames == 0 {
		b.Fatal("no frames reassembled")
	}
	b.ReportMetric(float64(frames)/float64(b.N)*perFrame, "complete-frame-ratio")
}
