//go:build unix

package media

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestScaleLoopback is an opt-in measurement, not a check: it connects N
// loopback sessions (client and mock pion stacks in this one process, so
// the figures include the receiving side too), streams for a few seconds
// and logs CPU use, frame rate and late ticks. Run it with
//
//	MEDIA_SCALE_SESSIONS=500 go test -run TestScaleLoopback -v ./mockserver/media
func TestScaleLoopback(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MEDIA_SCALE_SESSIONS"))
	if n <= 0 {
		t.Skip("set MEDIA_SCALE_SESSIONS to run")
	}
	b := startBroadcaster(t)
	sessions := make([]*session, 0, n)
	for range n {
		sessions = append(sessions, connect(t, b))
	}
	for _, s := range sessions {
		s.stream.Resume()
	}
	time.Sleep(time.Second) // let every stream start
	const window = 5 * time.Second
	before := snapshot(b, sessions)
	discardFrames(sessions, window)
	after := snapshot(b, sessions)
	wall := after.at.Sub(before.at)
	t.Logf("sessions=%d cpu=%.2f cores frames/s=%.0f (ideal %d) late ticks=%d write errors=%d",
		n, float64(after.cpu-before.cpu)/float64(wall),
		float64(after.frames-before.frames)/wall.Seconds(), n*b.FPS(),
		after.late-before.late, after.errs-before.errs)
	for _, s := range sessions {
		s.close()
	}
	b.Close()
}

type scaleSnapshot struct {
	at                 time.Time
	cpu                time.Duration
	frames, late, errs uint64
}

func snapshot(b *Broadcaster, sessions []*session) scaleSnapshot {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	st := scaleSnapshot{
		at:   time.Now(),
		cpu:  time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		late: b.Stats().LateTicks,
	}
	for _, s := range sessions {
		ss := s.stream.Stats()
		st.frames += ss.FramesSent
		st.errs += ss.WriteErrors
	}
	return st
}

// discardFrames keeps the client channels empty for d so readers never drop.
func discardFrames(sessions []*session, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, s := range sessions {
			for range len(s.frames) {
				<-s.frames
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}
