package media

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Every test must leave no goroutine behind, pion's included.
	goleak.VerifyTestMain(m)
}

func TestBroadcasterRealClockDelayAndClose(t *testing.T) {
	const delay = 50 * time.Millisecond
	clip, err := DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBroadcaster(clip, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	streams, writers := bindStreams(t, b, 4, func(i int, s *Stream) {
		if i%2 == 0 { // half the streams delayed, half not
			s.SetDelay(delay)
		}
	})
	waitFrames(t, streams, 10)
	b.Close()
	after := len(writers[0].packets())
	time.Sleep(3 * b.interval)
	if len(writers[0].packets()) != after {
		t.Fatal("frames written after Broadcaster.Close")
	}
	for i, w := range writers {
		checkWriteDelays(t, i, w, streams[i].Delay())
	}
	if st := b.Stats(); st.Ticks == 0 || st.Streams != 4 {
		t.Fatalf("stats %+v", st)
	}
	for _, s := range streams {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.NewStream(StreamConfig{}); err == nil {
		t.Fatal("NewStream on a closed broadcaster succeeded")
	}
	goleak.VerifyNone(t)
}

// waitFrames waits (bounded) until every stream has sent n frames.
func waitFrames(t *testing.T, streams []*Stream, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range streams {
		for s.Stats().FramesSent < n {
			if time.Now().After(deadline) {
				t.Fatalf("stream sent %d frames, want %d", s.Stats().FramesSent, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// checkWriteDelays checks that no packet was written before its capture
// time plus the stream's delay.
func checkWriteDelays(t *testing.T, i int, w *recordWriter, delay time.Duration) {
	t.Helper()
	for _, f := range framesOf(t, w.packets()) {
		for _, p := range f.pkts {
			if lag := p.at.Sub(f.stamp.CaptureTime()); lag < delay {
				t.Fatalf("stream %d frame %d written %s after capture, want at least %s", i, f.stamp.Seq, lag, delay)
			}
		}
	}
}

func TestBroadcasterOptions(t *testing.T) {
	clip, err := DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewBroadcaster(nil, Options{}); err == nil {
		t.Fatal("nil clip accepted")
	}
	if _, err := NewBroadcaster(clip, Options{FPS: 1000}); err == nil {
		t.Fatal("1000 fps accepted")
	}
	b, err := NewBroadcaster(clip, Options{FPS: 15, Workers: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.FPS() != 15 || len(b.workers) != maxWorkers || b.Clip() != clip {
		t.Fatalf("fps %d workers %d", b.FPS(), len(b.workers))
	}
	b.SetDelay(time.Hour)
	if b.Delay() != MaxDelay {
		t.Fatalf("delay %s not clamped to %s", b.Delay(), MaxDelay)
	}
}
