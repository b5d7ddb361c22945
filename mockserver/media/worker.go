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
	jobs    jobHeap   // captures and delayed frames, earliest first
	order   uint64    // tie-break so equal due times keep send order

	// now is the capture clock: time.Now, or a stopped clock in tests that
	// drive ticks by hand (their captures are then stamped on schedule).
	now func() time.Time
}

func newWorker(b *Broadcaster) *worker {
	return &worker{b: b, ticks: make(chan tick, 1), now: time.Now}
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

// run serves ticks, captures and delayed frames until done is closed. One
// waker per worker, re-armed for the earliest job, replaces a timer per
// frame or per stream.
func (w *worker) run(done <-chan struct{}, wk *waker) {
	defer wk.stop()
	for range maxWorkerSteps {
		var timerC <-chan time.Time
		var alarmC <-chan struct{}
		if len(w.jobs) > 0 {
			// Only a delayed send needs the precise alarm: a capture is
			// stamped when it actually happens, so waking late for it
			// shifts the frame, not its measured latency.
			wk.arm(time.Until(w.jobs[0].due), w.jobs[0].captured)
			timerC, alarmC = wk.timerC(), wk.alarmC()
		}
		select {
		case <-done:
			return
		case tk := <-w.ticks:
			w.onTick(tk)
		case <-timerC:
		case <-alarmC:
		}
		w.releaseDue(time.Now())
	}
}

// maxWorkerSteps bounds the worker loop: at 240 fps with 256 phases and a
// delayed send for each, it lasts over 18 years.
const maxWorkerSteps = 1 << 40

// onTick schedules every stream of the shard to capture its frame of the
// tick at the tick's time plus the stream's phase, and captures those due
// already. The stream list is copied under the lock so Close and NewStream
// never wait for network writes.
func (w *worker) onTick(tk tick) {
	w.mu.Lock()
	w.scratch = append(w.scratch[:0], w.streams...)
	w.mu.Unlock()
	for _, s := range w.scratch {
		w.push(s.captureJob(tk))
	}
	clear(w.scratch) // do not keep closed streams reachable
	w.releaseDue(tk.at)
}

// releaseDue runs every job due by now, earliest first: a capture stamps
// its frame, which is written at once or, when the stream is delayed,
// queued again for its send time.
func (w *worker) releaseDue(now time.Time) {
	for len(w.jobs) > 0 && !w.jobs[0].due.After(now) {
		j := w.jobs.pop()
		if j.captured {
			j.s.send(&j)
			continue
		}
		captured := w.now()
		f, ok := j.s.prepare(&j, captured)
		switch {
		case !ok:
		case f.due.After(now) && f.due.After(captured):
			w.push(f)
		default:
			f.s.send(&f)
		}
	}
}

// push queues a job; order breaks ties between equal due times so frames
// of one stream keep their order.
func (w *worker) push(j frameJob) {
	w.order++
	j.order = w.order
	w.jobs.push(j)
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
