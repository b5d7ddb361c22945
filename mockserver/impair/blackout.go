package impair

import "math/rand/v2"

// blackout carries nothing: every datagram of its traffic is dropped. A
// blackout of all traffic longer than ICE's disconnect timeout (5 s in
// pion and browsers) disconnects both ends; longer than the failed timeout
// fails them, as an unplugged cable would.
type blackout struct{}

func (blackout) kind() string { return "blackout" }

func (blackout) decide(v *verdict, _ *rand.Rand) { v.drop = true }
