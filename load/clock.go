package load

import (
	"sort"
	"sync"
	"time"
)

// Clock is the Runner's source of time. Tests use a FakeClock; everything
// else uses the real clock. Every wait of the Runner goes through Timer, so
// a fake clock controls the schedule completely.
type Clock interface {
	Now() time.Time
	// Timer returns a channel that receives the time once d has elapsed
	// (at once when d ≤ 0), and a function that releases the timer.
	Timer(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// RealClock returns the wall clock.
func RealClock() Clock { return realClock{} }

// FakeClock is a manually advanced Clock for tests. Timers fire only when
// Advance or AdvanceToNext moves the time past their deadline.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  chan struct{} // signalled whenever a timer is armed
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

// NewFakeClock returns a fake clock reading now.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, armed: make(chan struct{}, 1)}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Timer arms a fake timer.
func (c *FakeClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t.c, func() {}
	}
	c.timers = append(c.timers, t)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return t.c, func() { c.stop(t) }
}

func (c *FakeClock) stop(t *fakeTimer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// Advance moves the time forward by d, firing (in deadline order) every
// timer due by then.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for len(c.timers) > 0 && !c.timers[0].at.After(c.now) {
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.c <- t.at
	}
}

// AdvanceToNext moves the time to the earliest armed timer's deadline and
// fires the timers due then. It returns false when no timer is armed.
func (c *FakeClock) AdvanceToNext() bool {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return false
	}
	d := c.timers[0].at.Sub(c.now)
	c.mu.Unlock()
	c.Advance(d)
	return true
}

// Pending returns the number of armed timers.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitPending waits (in real time, at most max) until at least n timers are
// armed, and reports whether they are.
func (c *FakeClock) WaitPending(n int, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		if c.Pending() >= n {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		select {
		case <-c.armed:
		case <-time.After(min(left, 5*time.Millisecond)):
		}
	}
}
