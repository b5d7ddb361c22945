package impair

import (
	"fmt"
	"math/rand/v2"
)

// loss drops each datagram independently with probability pct/100.
type loss struct{ pct float64 }

func newLoss(pct float64) (fault, error) {
	if pct <= 0 || pct > 100 {
		return nil, fmt.Errorf("loss must be above 0 and at most 100 (%%), got %g", pct)
	}
	return loss{pct}, nil
}

func (loss) kind() string { return "loss" }

func (l loss) decide(v *verdict, rng *rand.Rand) {
	if rng.Float64()*100 < l.pct {
		v.drop = true
	}
}
