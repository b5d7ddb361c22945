package load

import (
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// phaser is HdrHistogram's WriterReaderPhaser (Java's Recorder uses it; Go's
// hdrhistogram has no equivalent). A single writer goroutine brackets each
// update with enter/exit, two uncontended atomic adds and no lock; the one
// reader swaps the writer's buffer and then flip waits until every writer
// that may still be using the old buffer has left, after which the reader
// owns it alone.
type phaser struct {
	start   atomic.Int64
	evenEnd atomic.Int64
	oddEnd  atomic.Int64
}

func newPhaser() *phaser {
	p := &phaser{}
	p.oddEnd.Store(math.MinInt64)
	return p
}

func (p *phaser) enter() int64 { return p.start.Add(1) - 1 }

func (p *phaser) exit(v int64) {
	if v < 0 {
		p.oddEnd.Add(1)
	} else {
		p.evenEnd.Add(1)
	}
}

// pendingFlip remembers a flip whose wait timed out.
type pendingFlip struct {
	active    bool
	nextEven  bool
	startSeen int64
}

// flip starts a new phase and waits, at most maxWait, until all writers of
// the previous phase have exited. Writers' critical sections never block
// (they update in-memory histograms), so the wait is normally a few
// nanoseconds; on timeout flip returns false and the flip stays pending.
func (p *phaser) flip(pf *pendingFlip, maxWait time.Duration) bool {
	if !pf.active {
		pf.nextEven = p.start.Load() < 0
		var initial int64
		if pf.nextEven {
			initial = 0
			p.evenEnd.Store(0)
		} else {
			initial = math.MinInt64
			p.oddEnd.Store(math.MinInt64)
		}
		pf.startSeen = p.start.Swap(initial)
		pf.active = true
	}
	return p.drain(pf, maxWait)
}

func (p *phaser) drain(pf *pendingFlip, maxWait time.Duration) bool {
	done := func() bool {
		if pf.nextEven {
			return p.oddEnd.Load() == pf.startSeen
		}
		return p.evenEnd.Load() == pf.startSeen
	}
	var deadline time.Time
	for i := 0; ; i++ {
		if done() {
			pf.active = false
			return true
		}
		switch {
		case i < 64:
			runtime.Gosched()
		case i == 64:
			deadline = time.Now().Add(maxWait)
			fallthrough
		default:
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}
