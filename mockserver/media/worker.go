package media

import (
	"slices"
	"sync"
	"time"
)

// worker is one sender goroutine. It owns a shard of the streams: it alone
// prepares and writes their frames, so per-stream frame state needs no lock
// and a stream's frames are always written in order.
type worker struct {
	b     *Broadcaster
	ticks chan tick // capacity 1: at most one tick waits

	mu      sync.Mutex
	streams []*Stream

	scratch []*Stream // copy of streams for one tick, reused
	delayed jobHeap   // frames waiting out their delay, earliest first
	order   uint64    // tie-break so equal due times keep send order
}

func newWorker(b *Broadcaster) *worker {
	return &worker{b: b, ticks: make(chan tick, 1)}
}

func (w *worker) attach(s *Stream) {
	w.mu.Lock()
	w.streams = append(w.streams, s)
	w.mu.Unlock()
}

func (w *worker) detach(s *Stream) {
	w.mu.Lock()
	if i := slices.Index(w.streams, s); i >= 0 {
		w.streams = slices.Delete(w.streams, i, i+1)
	}
	w.mu.Unlock()
}

func (w *worker) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.streams)
}

// run serves ticks and releases delayed frames until done is closed. One
// timer per worker, re-armed for the earliest delayed frame, replaces a
// timer per frame or per stream.
func (w *worker) run(done <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-done:
			return
		case tk := <-w.ticks:
			w.onTick(tk)
		case <-timer.C:
		}
		w.releaseDue(time.Now())
		if len(w.delayed) > 0 {
			timer.Reset(time.Until(w.delayed[0].due))
		}
	}
}

// onTick prepares one frame for every active stream of the shard and writes
// it now, or queues it when the stream is delayed. The stream list is
// copied under the lock so Close and NewStream never wait for network
// writes.
func (w *worker) onTick(tk tick) {
	// Frames due by this tick go first: a stream whose delay just shrank
	// to zero must not have its new frame overtake its queued ones.
	w.releaseDue(tk.at)
	w.mu.Lock()
	w.scratch = append(w.scratch[:0], w.streams...)
	w.mu.Unlock()
	for _, s := range w.scratch {
		j, ok := s.prepare(tk)
		if !ok {
			continue
		}
		if j.due.After(tk.at) {
			w.order++
			j.order = w.order
			w.delayed.push(j)
			continue
		}
		s.send(&j)
	}
	clear(w.scratch) // do not keep closed streams reachable
}

func (w *worker) releaseDue(now time.Time) {
	for len(w.delayed) > 0 && !w.delayed[0].due.After(now) {
		j := w.delayed.pop()
		j.s.send(&j)
	}
}

// jobHeap is a binary min-heap of frames by (due, order). It is typed
// rather than container/heap so pushing a frame does not allocate.
type jobHeap []frameJob

func (h jobHeap) less(i, k int) bool {
	if h[i].due.Equal(h[k].due) {
		return h[i].order < h[k].order
	}
	return h[i].due.Before(h[k].due)
}

func (h *jobHeap) push(j frameJob) {
	*h = append(*h, j)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *jobHeap) pop() frameJob {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = frameJob{} // drop the stream reference
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
