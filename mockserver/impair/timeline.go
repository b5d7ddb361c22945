package impair

import (
	"errors"
	"fmt"
	"time"
)

// Window is one impairment for a span of a session: from At to At+For
// (For 0: to the end). Exactly one of Loss, Delay and Blackout is set.
type Window struct {
	At, For   time.Duration
	Loss      float64 // percent of datagrams dropped, (0, 100]
	Delay     time.Duration
	Jitter    time.Duration // ± around Delay
	Blackout  bool
	Traffic   string // all (default), media, rtp, rtcp, sctp, stun
	Direction string // both (default), send, recv
}

// window is a checked Window.
type window struct {
	from, to time.Duration // to < 0: no end
	f        fault
	traffic  Traffic
	dir      Direction
	label    string
}

// Timeline is a checked list of windows.
type Timeline struct {
	windows []window
	seed    uint64
}

// FieldError names the window and field a bad value is in.
type FieldError struct {
	Index int
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("impairments[%d].%s: %v", e.Index, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// NewTimeline checks the windows. Two windows of the same kind on the same
// traffic and direction may not overlap: which one holds would be a guess.
func NewTimeline(seed uint64, ws []Window) (*Timeline, error) {
	tl := &Timeline{seed: seed}
	for i, w := range ws {
		cw, err := checkWindow(i, w)
		if err != nil {
			return nil, err
		}
		for j, o := range tl.windows {
			if o.f.kind() == cw.f.kind() && o.traffic&cw.traffic != 0 && o.dir&cw.dir != 0 && overlap(o, cw) {
				return nil, &FieldError{i, "at", fmt.Errorf("%s window overlaps impairments[%d] (%s) on the same traffic and direction",
					cw.label, j, o.label)}
			}
		}
		tl.windows = append(tl.windows, cw)
	}
	return tl, nil
}

func checkWindow(i int, w Window) (window, error) {
	bad := func(field string, err error) (window, error) { return window{}, &FieldError{i, field, err} }
	if w.At < 0 {
		return bad("at", fmt.Errorf("must be at least 0, got %v", w.At))
	}
	if w.For < 0 {
		return bad("for", fmt.Errorf("must be at least 0 (0: to the end), got %v", w.For))
	}
	cw := window{from: w.At, to: -1}
	if w.For > 0 {
		cw.to = w.At + w.For
	}
	var err error
	if cw.traffic, err = ParseTraffic(w.Traffic); err != nil {
		return bad("traffic", err)
	}
	if cw.dir, err = ParseDirection(w.Direction); err != nil {
		return bad("direction", err)
	}
	kinds := 0
	if w.Loss != 0 {
		kinds++
		if cw.f, err = newLoss(w.Loss); err != nil {
			return bad("loss", err)
		}
	}
	if w.Delay != 0 || w.Jitter != 0 {
		kinds++
		if cw.f, err = newDelay(w.Delay, w.Jitter); err != nil {
			return bad("delay", err)
		}
	}
	if w.Blackout {
		kinds++
		cw.f = blackout{}
	}
	switch kinds {
	case 0:
		return bad("loss", errors.New("a window needs one of loss, delay or blackout"))
	case 1:
	default:
		return bad("loss", errors.New("a window holds one of loss, delay or blackout; write one window each"))
	}
	cw.label = fmt.Sprintf("%s from %v", cw.f.kind(), w.At)
	return cw, nil
}

func overlap(a, b window) bool {
	endsAfter := func(w window, t time.Duration) bool { return w.to < 0 || w.to > t }
	return endsAfter(a, b.from) && endsAfter(b, a.from)
}

// Empty reports whether the timeline has no windows.
func (tl *Timeline) Empty() bool { return tl == nil || len(tl.windows) == 0 }

// active reports whether w holds at t.
func (w window) active(t time.Duration) bool { return t >= w.from && (w.to < 0 || t < w.to) }
