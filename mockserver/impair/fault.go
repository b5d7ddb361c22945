package impair

import (
	"math/rand/v2"
	"time"
)

// verdict is what the active windows decide for one datagram.
type verdict struct {
	drop  bool
	delay time.Duration
}

// fault is one kind of impairment. decide is called with the engine's lock
// held, so it may use rng freely; it adds its effect to v.
type fault interface {
	kind() string
	decide(v *verdict, rng *rand.Rand)
}
