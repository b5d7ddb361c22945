package load

import (
	"math"
	"testing"
	"time"
)

// due returns the scheduled offset of session n.
func due(t *testing.T, p Pacer, n uint64) (time.Duration, bool) {
	t.Helper()
	w, stop := p.Pace(0, n)
	return w, !stop
}

func TestConstantRateSchedule(t *testing.T) {
	p := ConstantRate{PerSecond: 4}
	for n := uint64(0); n < 100; n++ {
		if at, ok := due(t, p, n); !ok || at != time.Duration(n)*250*time.Millisecond {
			t.Fatalf("session %d due at %v", n, at)
		}
	}
	// Pace depends only on the schedule, not on how late the caller is.
	if w, _ := p.Pace(2*time.Second, 4); w != -time.Second {
		t.Fatalf("late caller: wait %v, want -1s (due now)", w)
	}
	if _, stop := (ConstantRate{}).Pace(0, 0); !stop {
		t.Fatal("a zero rate starts sessions")
	}
}

func TestLinearRampSchedule(t *testing.T) {
	p := LinearRamp{From: 0, To: 10, Over: 10 * time.Second} // 50 arrivals during the ramp
	prev := time.Duration(-1)
	count := 0
	for n := uint64(0); n < 200; n++ {
		at, ok := due(t, p, n)
		if !ok {
			t.Fatalf("session %d not scheduled", n)
		}
		if at < prev {
			t.Fatalf("schedule goes back at %d: %v < %v", n, at, prev)
		}
		prev = at
		if at < 10*time.Second {
			count++
		}
		// arrivals(t) = 0.5·t² during the ramp, 50 + 10·(t−10) after
		want := math.Sqrt(2 * float64(n))
		if float64(n) > 50 {
			want = 10 + (float64(n)-50)/10
		}
		if d := math.Abs(at.Seconds() - want); d > 1e-6 {
			t.Fatalf("session %d at %v, want %.6fs", n, at, want)
		}
	}
	if count != 50 {
		t.Fatalf("%d arrivals during the ramp, want 50", count)
	}
	if r := p.Rate(5 * time.Second); r != 5 {
		t.Fatalf("rate at 5s %v", r)
	}
}

func TestClosedSchedule(t *testing.T) {
	p := Closed{N: 4}
	for n := uint64(0); n < 4; n++ {
		if at, ok := due(t, p, n); !ok || at != 0 {
			t.Fatalf("session %d at %v", n, at)
		}
	}
	if _, ok := due(t, p, 4); ok {
		t.Fatal("closed model starts a 5th session")
	}
	r := Closed{N: 4, Ramp: 2 * time.Second}
	if at, _ := due(t, r, 3); at != 1500*time.Millisecond {
		t.Fatalf("ramped session 3 at %v", at)
	}
}
