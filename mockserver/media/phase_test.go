package media

import (
	"testing"
	"time"
)

// phasedStreams binds n resumed streams to a one-worker broadcaster with
// the given number of phases.
func phasedStreams(t *testing.T, phases, n int) (*Broadcaster, []*Stream, []*recordWriter) {
	t.Helper()
	b := phasedBroadcaster(t, 1, phases)
	streams, writers := bindStreams(t, b, n, nil)
	return b, streams, writers
}

// bindStreams creates n streams on b, each bound to its own recordWriter,
// calls setup (if any) on each, then resumes it.
func bindStreams(t *testing.T, b *Broadcaster, n int, setup func(i int, s *Stream)) ([]*Stream, []*recordWriter) {
	t.Helper()
	var streams []*Stream
	var writers []*recordWriter
	for i := range n {
		s, err := b.NewStream(StreamConfig{})
		if err != nil {
			t.Fatal(err)
		}
		w := &recordWriter{}
		if _, err := s.Bind(newFakeContext(w, true)); err != nil {
			t.Fatal(err)
		}
		if setup != nil {
			setup(i, s)
		}
		s.Resume()
		streams, writers = append(streams, s), append(writers, w)
	}
	return streams, writers
}

func TestPhasesSpreadCaptures(t *testing.T) {
	const phases, n = 4, 8
	b, streams, writers := phasedStreams(t, phases, n)
	for i, s := range streams {
		if want := time.Duration(i%phases) * b.interval / phases; s.Phase() != want {
			t.Fatalf("stream %d phase %s, want %s", i, s.Phase(), want)
		}
	}
	tk := step(b, 1)
	for k := range phases {
		at := tk.at.Add(time.Duration(k) * b.interval / phases)
		b.workers[0].releaseDue(at)
		for i, w := range writers {
			frames := framesOf(t, w.packets())
			switch {
			case i%phases > k && len(frames) != 0:
				t.Fatalf("instant %d: stream %d (phase %d) already sent", k, i, i%phases)
			case i%phases <= k && len(frames) != 1:
				t.Fatalf("instant %d: stream %d (phase %d) sent %d frames, want 1", k, i, i%phases, len(frames))
			case i%phases == k && frames[0].stamp.CaptureMicros != at.UnixMicro():
				t.Fatalf("stream %d: capture %d, want its instant %d", i, frames[0].stamp.CaptureMicros, at.UnixMicro())
			}
		}
	}
}

func TestPhaseAndDelayAddUp(t *testing.T) {
	const delay = 10 * time.Millisecond
	b, streams, writers := phasedStreams(t, 4, 2)
	s, w := streams[1], writers[1] // phase: a quarter interval
	s.SetDelay(delay)
	tk := step(b, 1)
	capture := tk.at.Add(s.Phase())
	for _, at := range []time.Time{capture, capture.Add(delay - time.Microsecond)} {
		b.workers[0].releaseDue(at)
		if got := len(w.packets()); got != 0 {
			t.Fatalf("%d packets written %s after capture, before the %s delay", got, at.Sub(capture), delay)
		}
	}
	b.workers[0].releaseDue(capture.Add(delay))
	frames := framesOf(t, w.packets())
	if len(frames) != 1 || frames[0].stamp.CaptureMicros != capture.UnixMicro() {
		t.Fatalf("got %d frames (want 1 stamped at its capture %d)", len(frames), capture.UnixMicro())
	}
	if got := len(framesOf(t, writers[0].packets())); got != 1 {
		t.Fatalf("undelayed phase-0 stream sent %d frames, want 1", got)
	}
}

func TestPhasesOption(t *testing.T) {
	clip, err := DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{-1, maxPhases + 1} {
		if _, err := newBroadcaster(clip, Options{Phases: p}); err == nil {
			t.Fatalf("Phases %d accepted", p)
		}
	}
	b, err := newBroadcaster(clip, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.phases != DefaultPhases {
		t.Fatalf("default phases %d, want %d", b.phases, DefaultPhases)
	}
}

// The waker may fire late on a busy machine, but never early: an early
// wake would send a delayed frame before its delay. Each of its clocks is
// checked on its own.
func TestWakerNeverEarly(t *testing.T) {
	wk := newWaker(true)
	defer wk.stop()
	for _, d := range []time.Duration{20 * time.Microsecond, 300 * time.Microsecond, 2 * time.Millisecond} {
		t0 := time.Now()
		wk.arm(d, true)
		select {
		case <-wk.timerC():
		case <-time.After(5 * time.Second):
			t.Fatalf("Go timer armed for %s never fired", d)
		}
		if got := time.Since(t0); got < d {
			t.Fatalf("Go timer armed for %s fired after %s", d, got)
		}
		a := newAlarm() // a fresh one: wk's own also fired, a stale wake
		if a == nil {
			continue // no alarm on this platform
		}
		defer a.close()
		t0 = time.Now()
		a.set(d)
		select {
		case <-a.c:
		case <-time.After(5 * time.Second):
			t.Fatalf("alarm set for %s never fired", d)
		}
		if got := time.Since(t0); got < d {
			t.Fatalf("alarm set for %s fired after %s", d, got)
		}
	}
}

// A sender that reaches a stream after its capture instant captures then:
// the frame is stamped with the real capture time, so the sender's own
// lateness is not counted as the frame's latency.
func TestLateCaptureStampedWhenItHappens(t *testing.T) {
	b, _, writers := phasedStreams(t, 1, 1)
	late := b.start.Add(b.interval + 3*time.Millisecond)
	b.workers[0].now = func() time.Time { return late }
	step(b, 1)
	frames := framesOf(t, writers[0].packets())
	if len(frames) != 1 || frames[0].stamp.CaptureMicros != late.UnixMicro() {
		t.Fatalf("got %d frames, want 1 stamped at the late capture %d", len(frames), late.UnixMicro())
	}
}
