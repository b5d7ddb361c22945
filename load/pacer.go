package load

import (
	"math"
	"time"
)

// Pacer decides when sessions start (vegeta's Pacer shape). Sessions are
// numbered 0, 1, 2, … across all shards of a run, and each has a scheduled
// start time that depends only on its number: the Runner starts session n at
// t0 + its scheduled offset whatever the target does (an open model never
// waits for earlier sessions, so a stalling target cannot slow the arrivals
// down and hide its own latency: no coordinated omission).
type Pacer interface {
	// Pace returns how long after elapsed session n is due (≤ 0: due now),
	// or stop = true when the pacer starts no session n.
	Pace(elapsed time.Duration, n uint64) (wait time.Duration, stop bool)
	// Rate returns the arrival rate in sessions per second at elapsed, for
	// reports (0 for a closed model once all sessions are started).
	Rate(elapsed time.Duration) float64
}

// ConstantRate is the open model at a constant rate: session n is due at
// n/PerSecond seconds. PerSecond must be positive.
type ConstantRate struct {
	PerSecond float64
}

// Pace implements Pacer.
func (p ConstantRate) Pace(elapsed time.Duration, n uint64) (time.Duration, bool) {
	if !(p.PerSecond > 0) {
		return 0, true
	}
	return seconds(float64(n)/p.PerSecond) - elapsed, false
}

// Rate implements Pacer.
func (p ConstantRate) Rate(time.Duration) float64 { return p.PerSecond }

// LinearRamp is the open model with a rate that changes linearly from From
// to To sessions/s over Over, then stays at To (--ramp with --rate: From 0).
// Session n is due when the integral of the rate reaches n.
type LinearRamp struct {
	From, To float64
	Over     time.Duration
}

// Pace implements Pacer.
func (p LinearRamp) Pace(elapsed time.Duration, n uint64) (time.Duration, bool) {
	t, ok := p.at(float64(n))
	if !ok {
		return 0, true
	}
	return t - elapsed, false
}

// at returns the time the integral of the rate reaches x.
func (p LinearRamp) at(x float64) (time.Duration, bool) {
	T := p.Over.Seconds()
	from, to := math.Max(p.From, 0), math.Max(p.To, 0)
	if T <= 0 {
		if to <= 0 {
			return 0, false
		}
		return seconds(x / to), true
	}
	a := (to - from) / (2 * T) // arrivals(t) = from·t + a·t² for t ≤ T
	rampArrivals := from*T + a*T*T
	if x <= rampArrivals {
		var t float64
		if math.Abs(a) < 1e-12 {
			if from <= 0 {
				return 0, x == 0
			}
			t = x / from
		} else {
			// smallest non-negative root of a·t² + from·t − x = 0
			disc := from*from + 4*a*x
			if disc < 0 {
				disc = 0
			}
			t = (-from + math.Sqrt(disc)) / (2 * a)
		}
		return seconds(t), true
	}
	if to <= 0 {
		return 0, false
	}
	return seconds(T + (x-rampArrivals)/to), true
}

// Rate implements Pacer.
func (p LinearRamp) Rate(elapsed time.Duration) float64 {
	if p.Over <= 0 || elapsed >= p.Over {
		return p.To
	}
	return p.From + (p.To-p.From)*elapsed.Seconds()/p.Over.Seconds()
}

// Closed is the closed model: N sessions, all due at once, or spread evenly
// over Ramp (session n due at n·Ramp/N).
type Closed struct {
	N    int
	Ramp time.Duration
}

// Pace implements Pacer.
func (p Closed) Pace(elapsed time.Duration, n uint64) (time.Duration, bool) {
	if p.N <= 0 || n >= uint64(p.N) {
		return 0, true
	}
	if p.Ramp <= 0 {
		return -elapsed, false
	}
	return time.Duration(float64(p.Ramp)*float64(n)/float64(p.N)) - elapsed, false
}

// Rate implements Pacer.
func (p Closed) Rate(elapsed time.Duration) float64 {
	if p.Ramp <= 0 || elapsed >= p.Ramp {
		return 0
	}
	return float64(p.N) / p.Ramp.Seconds()
}

func seconds(s float64) time.Duration {
	if s >= math.MaxInt64/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}
