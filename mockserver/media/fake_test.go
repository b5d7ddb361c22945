package media

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// Extension ids the fake negotiation hands out.
const (
	fakeStampID = 3
	fakeAbsID   = 5
)

// fakeContext stands in for the context pion passes to TrackLocal.Bind.
type fakeContext struct {
	id   string
	exts []webrtc.RTPHeaderExtensionParameter
	out  webrtc.TrackLocalWriter
}

func newFakeContext(out webrtc.TrackLocalWriter, withExtensions bool) *fakeContext {
	c := &fakeContext{id: "binding-1", out: out}
	if withExtensions {
		c.exts = []webrtc.RTPHeaderExtensionParameter{
			{URI: rtpext.FrameStampURI, ID: fakeStampID},
			{URI: rtpext.AbsCaptureTimeURI, ID: fakeAbsID},
		}
	}
	return c
}

func (c *fakeContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: ClockRate}, PayloadType: 98},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "video/vp8", ClockRate: ClockRate}, PayloadType: 96},
	}
}
func (c *fakeContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c *fakeContext) SSRC() webrtc.SSRC                                      { return 0x11223344 }
func (c *fakeContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c *fakeContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *fakeContext) WriteStream() webrtc.TrackLocalWriter                   { return c.out }
func (c *fakeContext) ID() string                                             { return c.id }
func (c *fakeContext) RTCPReader() interceptor.RTCPReader                     { return nil }

// sentPacket is what recordWriter keeps of one write.
type sentPacket struct {
	hdr     rtp.Header
	payload []byte
	at      time.Time
}

// recordWriter keeps copies of every packet written, like a receiver would.
type recordWriter struct {
	mu   sync.Mutex
	pkts []sentPacket
}

func (w *recordWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	p := sentPacket{hdr: h.Clone(), payload: append([]byte(nil), payload...), at: time.Now()}
	w.mu.Lock()
	w.pkts = append(w.pkts, p)
	w.mu.Unlock()
	return h.MarshalSize() + len(payload), nil
}

func (w *recordWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *recordWriter) packets() []sentPacket {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]sentPacket(nil), w.pkts...)
}

// discardWriter counts bytes and keeps nothing: the benchmarks' sink.
type discardWriter struct{ n int }

func (w *discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n := h.MarshalSize() + len(payload)
	w.n += n
	return n, nil
}

func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// manualBroadcaster is a broadcaster whose clock the test drives. Its
// streams all capture on the tick (one phase), so step delivers whole
// ticks; phasedBroadcaster is the one with phases.
func manualBroadcaster(tb testing.TB, workers int) *Broadcaster {
	tb.Helper()
	return phasedBroadcaster(tb, workers, 1)
}

func phasedBroadcaster(tb testing.TB, workers, phases int) *Broadcaster {
	tb.Helper()
	clip, err := DefaultClip()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := newBroadcaster(clip, Options{Workers: workers, Phases: phases})
	if err != nil {
		tb.Fatal(err)
	}
	for _, w := range b.workers {
		w.now = func() time.Time { return time.Time{} } // stamp on schedule
	}
	return b
}

// step delivers tick n to every worker synchronously, as the clock would,
// and releases delayed frames due by then.
func step(b *Broadcaster, n uint64) tick {
	tk := tick{n: n, at: b.start.Add(time.Duration(n) * b.interval)}
	b.lastTick.Store(n)
	for _, w := range b.workers {
		w.onTick(tk)
		w.releaseDue(tk.at)
	}
	return tk
}

// recordedFrame is one frame rebuilt from recorded packets.
type recordedFrame struct {
	ts      uint32
	pkts    []sentPacket
	stamp   rtpext.FrameStamp
	abs     rtpext.AbsCaptureTime
	hasAbs  bool
	payload []byte // VP8 payloads concatenated, descriptors stripped
}

// framesOf groups recorded packets into frames by RTP timestamp and decodes
// the stamps of each frame's first packet.
func framesOf(t *testing.T, pkts []sentPacket) []recordedFrame {
	t.Helper()
	var out []recordedFrame
	for _, p := range pkts {
		if len(out) == 0 || out[len(out)-1].ts != p.hdr.Timestamp {
			out = append(out, recordedFrame{ts: p.hdr.Timestamp})
		}
		f := &out[len(out)-1]
		f.pkts = append(f.pkts, p)
		f.payload = append(f.payload, p.payload[1:]...)
	}
	for i := range out {
		f := &out[i]
		if b := f.pkts[0].hdr.GetExtension(fakeStampID); b != nil {
			if err := f.stamp.Unmarshal(b); err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
		}
		if b := f.pkts[0].hdr.GetExtension(fakeAbsID); b != nil {
			if err := f.abs.Unmarshal(b); err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			f.hasAbs = true
		}
	}
	return out
}
