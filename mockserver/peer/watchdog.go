package peer

import (
	"fmt"
	"sync"
	"time"
)

// watchdog is the one goroutine that checks every connection's liveness on
// a shared ticker (RT polls every 2 s). It runs only while at least one
// connection is watched, so an idle server has no ticking goroutine.
type watchdog struct {
	a *API

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	stop   chan struct{} // non-nil while the goroutine runs
	closed bool
	wg     sync.WaitGroup
}

func (w *watchdog) init(a *API) {
	w.a = a
	w.conns = map[*Conn]struct{}{}
}

func (w *watchdog) watch(c *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.conns[c] = struct{}{}
	if w.stop == nil {
		stop := make(chan struct{})
		w.stop = stop
		w.wg.Go(func() { w.run(stop) })
	}
}

func (w *watchdog) unwatch(c *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.conns, c)
	if len(w.conns) == 0 && w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
}

// shutdown stops the goroutine for good and waits for it.
func (w *watchdog) shutdown() {
	w.mu.Lock()
	w.closed = true
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *watchdog) run(stop <-chan struct{}) {
	t := time.NewTicker(w.a.cfg.WatchdogInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			w.check(now)
		}
	}
}

// check expires connections that are silent past WatchdogTimeout, or were
// answered but not connected within NegotiationTimeout.
func (w *watchdog) check(now time.Time) {
	cfg := w.a.cfg
	type victim struct {
		c      *Conn
		reason string
	}
	var victims []victim
	w.mu.Lock()
	for c := range w.conns {
		if c.connected.Load() {
			if silent := now.Sub(time.Unix(0, c.lastInbound.Load())); silent > cfg.WatchdogTimeout {
				victims = append(victims, victim{c, fmt.Sprintf("no inbound data-channel frame for %s (watchdog timeout %s)",
					silent.Round(time.Millisecond), cfg.WatchdogTimeout)})
			}
			continue
		}
		if waited := now.Sub(time.Unix(0, c.answeredAt.Load())); waited > cfg.NegotiationTimeout {
			victims = append(victims, victim{c, fmt.Sprintf("not connected within %s of the answer", cfg.NegotiationTimeout)})
		}
	}
	for _, v := range victims {
		delete(w.conns, v.c)
	}
	w.mu.Unlock()
	for _, v := range victims {
		v.c.expire(v.reason)
	}
}
