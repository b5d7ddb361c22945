package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// newBoundStream makes a resumed stream bound to a recording writer on a
// manually driven broadcaster.
func newBoundStream(t *testing.T, cfg StreamConfig, withExtensions bool) (*Broadcaster, *Stream, *recordWriter) {
	t.Helper()
	b := manualBroadcaster(t, 1)
	s, err := b.NewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &recordWriter{}
	codec, err := s.Bind(newFakeContext(w, withExtensions))
	if err != nil {
		t.Fatal(err)
	}
	if codec.PayloadType != 96 {
		t.Fatalf("Bind chose payload type %d, want VP8's 96", codec.PayloadType)
	}
	return b, s, w
}

func TestStreamPacketsAndStamps(t *testing.T) {
	var infos []FrameInfo
	var s *Stream
	cfg := StreamConfig{OnFrame: func(fi FrameInfo) {
		infos = append(infos, fi)
		if fi.Seq == 34 { // a command "applied" at the second chunk boundary
			s.SetCommandID(7)
		}
	}}
	b, s, w := newBoundStream(t, cfg, true)
	s.Resume()
	const n = 105 // more than one loop of the 99-frame clip
	var ticks []tick
	for i := range uint64(n) {
		ticks = append(ticks, step(b, i+1))
	}
	frames := framesOf(t, w.packets())
	if len(frames) != n || len(infos) != n {
		t.Fatalf("got %d frames and %d OnFrame calls, want %d", len(frames), len(infos), n)
	}
	var wantPackets uint64
	for i, f := range frames {
		fi := infos[i]
		wantPackets += uint64(len(f.pkts))
		checkFramePackets(t, i, f)
		if i > 0 && f.ts-frames[i-1].ts != ClockRate/30 {
			t.Fatalf("frame %d: RTP timestamp step %d, want 3000", i, f.ts-frames[i-1].ts)
		}
		if f.stamp.Seq != uint32(i+1) || fi.Seq != f.stamp.Seq {
			t.Fatalf("frame %d: stamp seq %d, OnFrame seq %d, want %d", i, f.stamp.Seq, fi.Seq, i+1)
		}
		if want := ticks[i].at.UnixMicro(); f.stamp.CaptureMicros != want {
			t.Fatalf("frame %d: capture %d, want tick time %d", i, f.stamp.CaptureMicros, want)
		}
		if !f.hasAbs || !f.abs.Timestamp.Equal(ticks[i].at) {
			t.Fatalf("frame %d: abs-capture-time %v, want %v", i, f.abs.Timestamp, ticks[i].at)
		}
		wantCmd := uint32(0)
		if fi.Seq >= 34 {
			wantCmd = 7
		}
		if f.stamp.CommandID != wantCmd {
			t.Fatalf("frame %d: command id %d, want %d", i, f.stamp.CommandID, wantCmd)
		}
		if fi.ClipFrame != i%99 || fi.FrameInChunk != i%33 || fi.Chunk != uint32(i/33) || fi.ChunkBoundary != (i%33 == 0) {
			t.Fatalf("frame %d: OnFrame info %+v", i, fi)
		}
		if fi.ChunkBoundary != b.clip.Keyframe(fi.ClipFrame) {
			t.Fatalf("frame %d: chunk boundary and keyframe disagree", i)
		}
	}
	st := s.Stats()
	if st.FramesSent != n || st.PacketsSent != wantPackets || st.BytesSent == 0 || st.WriteErrors != 0 {
		t.Fatalf("stats %+v, want %d frames and %d packets", st, n, wantPackets)
	}
	checkSequenceNumbers(t, w.packets())
}

// checkFramePackets checks one frame's packets: one timestamp, marker on
// the last only, both extensions on every packet.
func checkFramePackets(t *testing.T, i int, f recordedFrame) {
	t.Helper()
	for k, p := range f.pkts {
		if p.hdr.Marker != (k == len(f.pkts)-1) {
			t.Fatalf("frame %d packet %d: marker %v", i, k, p.hdr.Marker)
		}
		if p.hdr.PayloadType != 96 || p.hdr.SSRC != 0x11223344 {
			t.Fatalf("frame %d packet %d: pt %d ssrc %#x", i, k, p.hdr.PayloadType, p.hdr.SSRC)
		}
		if p.hdr.GetExtension(fakeStampID) == nil || p.hdr.GetExtension(fakeAbsID) == nil {
			t.Fatalf("frame %d packet %d: extensions missing", i, k)
		}
		if _, err := p.hdr.Marshal(); err != nil {
			t.Fatalf("frame %d packet %d: header does not marshal: %v", i, k, err)
		}
	}
}

func checkSequenceNumbers(t *testing.T, pkts []sentPacket) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		if pkts[i].hdr.SequenceNumber != pkts[i-1].hdr.SequenceNumber+1 {
			t.Fatalf("packet %d: sequence number %d after %d", i, pkts[i].hdr.SequenceNumber, pkts[i-1].hdr.SequenceNumber)
		}
	}
}

func TestStreamStartsPausedAndWaitsForBind(t *testing.T) {
	b := manualBroadcaster(t, 2)
	s, err := b.NewStream(StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Paused() {
		t.Fatal("new stream is not paused")
	}
	s.Resume()
	for i := range uint64(5) {
		step(b, i+1) // resumed but not negotiated: nothing to send
	}
	w := &recordWriter{}
	if _, err := s.Bind(newFakeContext(w, true)); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	for i := range uint64(5) {
		step(b, i+6)
	}
	if got := len(w.packets()); got != 0 || s.Stats().FramesSent != 0 {
		t.Fatalf("paused or unbound stream wrote %d packets", got)
	}
	s.Resume()
	step(b, 11)
	frames := framesOf(t, w.packets())
	if len(frames) != 1 || frames[0].stamp.Seq != 1 || !b.clip.Keyframe(0) {
		t.Fatalf("after resume got %d frames, first seq %d; want one frame with seq 1", len(frames), frames[0].stamp.Seq)
	}
}

func TestStreamPauseResumeContinuesClip(t *testing.T) {
	b, s, w := newBoundStream(t, StreamConfig{}, true)
	s.Resume()
	step(b, 1)
	step(b, 2)
	s.Pause()
	step(b, 3)
	s.Resume()
	step(b, 4)
	frames := framesOf(t, w.packets())
	if len(frames) != 3 {
		t.Fatalf("got %d frames, want 3", len(frames))
	}
	// Seq has no gap (nothing was lost); the RTP clock kept running.
	if frames[2].stamp.Seq != 3 || frames[2].ts-frames[1].ts != 2*ClockRate/30 {
		t.Fatalf("after pause: seq %d, ts step %d", frames[2].stamp.Seq, frames[2].ts-frames[1].ts)
	}
}

func TestStreamKeyframeRequestJumpsToNextChunk(t *testing.T) {
	var infos []FrameInfo
	b, s, _ := newBoundStream(t, StreamConfig{OnFrame: func(fi FrameInfo) { infos = append(infos, fi) }}, true)
	s.Resume()
	for i := range uint64(5) {
		step(b, i+1)
	}
	s.HandleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{}, &rtcp.PictureLossIndication{}})
	step(b, 6)
	last := infos[len(infos)-1]
	if last.ClipFrame != 33 || !last.ChunkBoundary || last.Chunk != 1 || last.Seq != 6 {
		t.Fatalf("after PLI: %+v, want clip frame 33 starting chunk 1", last)
	}
	// A request when the next frame starts a chunk anyway skips nothing.
	for range 32 {
		step(b, uint64(len(infos)+1))
	}
	s.RequestKeyframe()
	step(b, uint64(len(infos)+1))
	if last := infos[len(infos)-1]; last.ClipFrame != 66 || last.Chunk != 2 {
		t.Fatalf("request at a boundary: %+v, want clip frame 66 in chunk 2", last)
	}
}

func TestStreamWithoutNegotiatedExtensions(t *testing.T) {
	b, s, w := newBoundStream(t, StreamConfig{}, false)
	s.Resume()
	step(b, 1)
	pkts := w.packets()
	if len(pkts) == 0 {
		t.Fatal("no packets")
	}
	for _, p := range pkts {
		if p.hdr.Extension || len(p.hdr.Extensions) != 0 {
			t.Fatalf("extensions sent although none negotiated: %+v", p.hdr.Extensions)
		}
	}
}

func TestStreamTwoByteExtensionIDs(t *testing.T) {
	b := manualBroadcaster(t, 1)
	s, _ := b.NewStream(StreamConfig{})
	w := &recordWriter{}
	ctx := newFakeContext(w, true)
	ctx.exts[0].ID = 20 // only valid in the two-byte form
	if _, err := s.Bind(ctx); err != nil {
		t.Fatal(err)
	}
	s.Resume()
	step(b, 1)
	p := w.packets()[0]
	if p.hdr.ExtensionProfile != rtp.ExtensionProfileTwoByte || p.hdr.GetExtension(20) == nil {
		t.Fatalf("profile %#x, extension 20 %v", p.hdr.ExtensionProfile, p.hdr.GetExtension(20))
	}
	if _, err := p.hdr.Marshal(); err != nil {
		t.Fatal(err)
	}
}

func TestStreamDelayKeepsOrderWhenShrunk(t *testing.T) {
	b, s, w := newBoundStream(t, StreamConfig{Delay: 100 * time.Millisecond}, true)
	s.Resume()
	step(b, 1) // due at tick 1 + 100 ms
	s.SetDelay(0)
	step(b, 2) // would be due now, but must not overtake frame 1
	if got := len(w.packets()); got != 0 {
		t.Fatalf("%d packets written before the delayed frame was due", got)
	}
	step(b, 5) // 133 ms after tick 1: both due
	frames := framesOf(t, w.packets())
	if len(frames) != 3 || frames[0].stamp.Seq != 1 || frames[1].stamp.Seq != 2 {
		t.Fatalf("got %d frames, seqs %v", len(frames), seqs(frames))
	}
}

func seqs(frames []recordedFrame) []uint32 {
	var out []uint32
	for _, f := range frames {
		out = append(out, f.stamp.Seq)
	}
	return out
}

func TestStreamCloseStopsWritesAndUnbind(t *testing.T) {
	b, s, w := newBoundStream(t, StreamConfig{}, true)
	s.Resume()
	step(b, 1)
	before := len(w.packets())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	step(b, 2)
	if len(w.packets()) != before {
		t.Fatal("closed stream kept writing")
	}
	if b.Stats().Streams != 0 {
		t.Fatal("closed stream still attached")
	}
	if _, err := s.Bind(newFakeContext(w, true)); err == nil {
		t.Fatal("Bind on a closed stream succeeded")
	}
	// Unbind removes only the named binding.
	b2, s2, w2 := newBoundStream(t, StreamConfig{}, true)
	s2.Resume()
	if err := s2.Unbind(newFakeContext(w2, true)); err != nil {
		t.Fatal(err)
	}
	step(b2, 1)
	if len(w2.packets()) != 0 {
		t.Fatal("unbound stream kept writing")
	}
}

func TestBroadcasterBalancesStreams(t *testing.T) {
	b := manualBroadcaster(t, 2)
	for range 5 {
		if _, err := b.NewStream(StreamConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	if a, c := b.workers[0].size(), b.workers[1].size(); a+c != 5 || a-c > 1 || c-a > 1 {
		t.Fatalf("workers hold %d and %d streams", a, c)
	}
}

func TestJobHeapOrder(t *testing.T) {
	var h jobHeap
	base := time.Unix(1000, 0)
	dues := []int{5, 1, 4, 1, 3, 9, 2, 6}
	for i, d := range dues {
		h.push(frameJob{due: base.Add(time.Duration(d) * time.Millisecond), order: uint64(i)})
	}
	var prev frameJob
	for i := range dues {
		j := h.pop()
		if i > 0 && (j.due.Before(prev.due) || (j.due.Equal(prev.due) && j.order < prev.order)) {
			t.Fatalf("pop %d out of order: %v/%d after %v/%d", i, j.due, j.order, prev.due, prev.order)
		}
		prev = j
	}
	if len(h) != 0 {
		t.Fatal("heap not empty")
	}
}
