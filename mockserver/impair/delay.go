package impair

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// delay holds each datagram for delay ± jitter (uniform). Delayed sends
// keep their order only when jitter is smaller than the packet spacing,
// as on a real path; reordering is the point of jitter.
type delay struct{ d, jitter time.Duration }

func newDelay(d, jitter time.Duration) (fault, error) {
	switch {
	case d < 0:
		return nil, fmt.Errorf("delay must be at least 0, got %v", d)
	case jitter < 0:
		return nil, fmt.Errorf("jitter must be at least 0, got %v", jitter)
	case jitter > d:
		return nil, fmt.Errorf("jitter (%v) must not exceed delay (%v): a datagram cannot leave before it was sent", jitter, d)
	case d > 10*time.Second:
		return nil, fmt.Errorf("delay must be at most 10s, got %v", d)
	case d == 0:
		return nil, fmt.Errorf("delay must be above 0 (leave it out for none)")
	}
	return delay{d, jitter}, nil
}

func (delay) kind() string { return "delay" }

func (dl delay) decide(v *verdict, rng *rand.Rand) {
	d := dl.d
	if dl.jitter > 0 {
		d += time.Duration(rng.Int64N(int64(2*dl.jitter)+1)) - dl.jitter
	}
	v.delay += d
}
