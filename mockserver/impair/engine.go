package impair

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxRemotes bounds the per-remote clocks an engine keeps; beyond it the
// oldest half is forgotten (those remotes start their timeline again).
const maxRemotes = 8192

// Engine applies a Timeline to datagrams. One engine serves every socket of
// the mock's WebRTC plane; each remote address has its own clock.
type Engine struct {
	now    func() time.Time
	active atomic.Bool // a non-empty timeline: the lock-free way out for every datagram otherwise

	mu      sync.Mutex
	tl      *Timeline
	rng     *rand.Rand
	started map[netip.AddrPort]time.Time
	order   []netip.AddrPort
	state   map[netip.AddrPort]uint64 // per remote: bitmask of the windows last seen active
	// OnChange, when set, is told each time a remote enters or leaves a
	// window (called with the lock released, from the datagram's goroutine).
	onChange func(remote string, label string, active bool)
}

// NewEngine returns an engine for tl (nil: no impairment).
func NewEngine(tl *Timeline) *Engine {
	e := &Engine{now: time.Now, started: map[netip.AddrPort]time.Time{}, state: map[netip.AddrPort]uint64{}}
	e.Set(tl)
	return e
}

// Set replaces the timeline; clocks keep running.
func (e *Engine) Set(tl *Timeline) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tl = tl
	e.active.Store(!tl.Empty())
	var seed uint64
	if tl != nil {
		seed = tl.seed
	}
	e.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// OnChange sets the change callback.
func (e *Engine) OnChange(fn func(remote, label string, active bool)) {
	e.mu.Lock()
	e.onChange = fn
	e.mu.Unlock()
}

type change struct {
	label  string
	active bool
}

// decide returns what happens to one datagram to or from remote.
func (e *Engine) decide(remote net.Addr, b []byte, dir Direction) verdict {
	if !e.active.Load() {
		return verdict{}
	}
	e.mu.Lock()
	if e.tl.Empty() {
		e.mu.Unlock()
		return verdict{}
	}
	key := addrKey(remote)
	now := e.now()
	start, ok := e.started[key]
	if !ok {
		e.remember(key, now)
		start = now
	}
	t := now.Sub(start)
	class := Classify(b)
	var v verdict
	var mask uint64
	for i, w := range e.tl.windows {
		if !w.active(t) {
			continue
		}
		if i < 64 {
			mask |= 1 << i
		}
		if w.traffic&class != 0 && w.dir&dir != 0 {
			w.f.decide(&v, e.rng)
		}
	}
	changes := e.diff(key, mask)
	fn := e.onChange
	e.mu.Unlock()
	if fn != nil {
		for _, c := range changes {
			fn(key.String(), c.label, c.active)
		}
	}
	return v
}

// addrKey is a remote's map key, without allocating for UDP addresses.
func addrKey(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func (e *Engine) remember(key netip.AddrPort, now time.Time) {
	if len(e.order) >= maxRemotes {
		for _, k := range e.order[:maxRemotes/2] {
			delete(e.started, k)
			delete(e.state, k)
		}
		e.order = append(e.order[:0], e.order[maxRemotes/2:]...)
	}
	e.started[key] = now
	e.order = append(e.order, key)
}

// diff records the remote's active windows and returns what changed.
func (e *Engine) diff(key netip.AddrPort, mask uint64) []change {
	old := e.state[key]
	if old == mask {
		return nil
	}
	e.state[key] = mask
	var out []change
	for i, w := range e.tl.windows {
		if i >= 64 {
			break
		}
		was, is := old&(1<<i) != 0, mask&(1<<i) != 0
		if was != is {
			out = append(out, change{w.label, is})
		}
	}
	return out
}
