package media

import "time"

// waker wakes a goroutine at a deadline with two clocks at once, because
// neither is precise on its own. A Go timer is precise while the process
// is busy (the scheduler checks timers on every switch) but up to ~1 ms
// late when it is idle: an idle Go process sleeps in epoll_wait, whose
// timeout has millisecond resolution. That lateness would show up in every
// frame latency a client measures. The alarm (a timerfd on Linux) is read
// through the same epoll, so it wakes an idle process within the kernel's
// timer slack (~50 µs), but a busy process looks at epoll less often.
// Whichever fires first wakes the goroutine; a stale wake is harmless
// because callers recheck the time.
type waker struct {
	t *time.Timer
	a *alarm // nil where no alarm is available: the Go timer alone
}

// newWaker makes a waker; withAlarm false leaves the alarm out for a
// goroutine that never needs it.
func newWaker(withAlarm bool) *waker {
	t := time.NewTimer(time.Hour)
	t.Stop()
	w := &waker{t: t}
	if withAlarm {
		w.a = newAlarm()
	}
	return w
}

// arm sets the Go timer to fire d from now (at once when d <= 0), and the
// alarm too when precise is set: the alarm costs a system call and an
// extra goroutine wake, so only waits that end up in a measured latency
// use it.
func (w *waker) arm(d time.Duration, precise bool) {
	w.t.Reset(d)
	if precise && w.a != nil {
		w.a.set(d)
	}
}

// timerC and alarmC are the two channels to select on after arm; alarmC
// is nil (never ready) without an alarm.
func (w *waker) timerC() <-chan time.Time { return w.t.C }

func (w *waker) alarmC() <-chan struct{} {
	if w.a == nil {
		return nil
	}
	return w.a.c
}

// stop releases both clocks.
func (w *waker) stop() {
	w.t.Stop()
	if w.a != nil {
		w.a.close()
	}
}
