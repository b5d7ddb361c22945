package load

import "time"

// Freezes are counted the way W3C webrtc-stats defines freezeCount and
// totalFreezesDuration for a video receiver: a frame duration (the time
// between two consecutive frames) is a freeze when it is at least
// max(3 × avg, avg + 150 ms), avg being the mean duration of the last 30
// frames. The runner does not decode, so "rendered" is "complete": a frame
// whose every packet arrived. A blackout of the media path therefore shows
// as one freeze as long as the blackout, whose duration is also the time to
// recover (last frame before → first frame after).

const (
	freezeWindow = 30                     // frames in the running average
	freezeFloor  = 150 * time.Millisecond // the rule's additive margin
)

// freezeDetector holds one receiver's last frame durations.
type freezeDetector struct {
	gaps [freezeWindow]time.Duration
	n    int // durations held, ≤ freezeWindow
	pos  int
	sum  time.Duration
}

// observe takes the next frame duration and reports whether it is a
// freeze, judged against the frames before it.
func (d *freezeDetector) observe(gap time.Duration) bool {
	freeze := false
	if d.n > 0 {
		avg := d.sum / time.Duration(d.n)
		freeze = gap >= max(3*avg, avg+freezeFloor)
	}
	if d.n == freezeWindow {
		d.sum -= d.gaps[d.pos]
	} else {
		d.n++
	}
	d.gaps[d.pos] = gap
	d.sum += gap
	d.pos = (d.pos + 1) % freezeWindow
	return freeze
}
