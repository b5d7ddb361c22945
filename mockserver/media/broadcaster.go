package media

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// MaxDelay caps the extra per-frame delay: delayed frames wait in memory,
// so the cap bounds that memory (about MaxDelay*FPS frames per stream).
const MaxDelay = 10 * time.Second

// maxWorkers caps the sender goroutines; more than the CPU count only adds
// contention.
const maxWorkers = 16

// ErrClosed is returned when using a closed Broadcaster or Stream.
var ErrClosed = errors.New("media: closed")

// Options tunes a Broadcaster. The zero value plays the clip at its own rate
// with one sender goroutine per CPU.
type Options struct {
	// FPS overrides the clip's frame rate; 0 keeps it.
	FPS int
	// Workers is the number of sender goroutines; 0 means GOMAXPROCS
	// (capped at 16).
	Workers int
	// Phases is how many evenly spaced capture instants each frame interval
	// has. Streams are spread over them in turn, so a few streams capture
	// and send at each instant, like the independent sessions of a real
	// deployment, instead of all at once. 0 means DefaultPhases; 1 makes
	// every stream capture on the tick itself (one synchronised burst).
	Phases int
}

// DefaultPhases spreads streams over 32 instants of the frame interval
// (about 1 ms apart at 30 fps): with a few hundred sessions each instant
// has a handful of frames to write, so the last one is not held back
// behind hundreds of others.
const DefaultPhases = 32

// maxPhases bounds the spread; finer than this only adds wake-ups.
const maxPhases = 256

// Broadcaster plays one clip at one frame rate to any number of Streams
// with a fixed number of goroutines: one clock and Workers senders.
type Broadcaster struct {
	clip     *Clip
	fps      int
	interval time.Duration
	phases   uint64
	start    time.Time
	workers  []*worker

	delay     atomic.Int64  // extra delay for every stream, nanoseconds
	lastTick  atomic.Uint64 // number of the latest tick handed to workers
	ticks     atomic.Uint64
	lateTicks atomic.Uint64
	streams   atomic.Uint64 // streams created, for nextPhase
	closed    atomic.Bool

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// BroadcasterStats is a snapshot of a Broadcaster's counters.
type BroadcasterStats struct {
	Streams int
	// Ticks counts clock ticks; LateTicks counts ticks a sender goroutine
	// missed because it was still busy with an earlier one, and ticks the
	// clock skipped because the process stalled for longer than a frame
	// interval (overload: streams skipped a frame).
	Ticks, LateTicks uint64
}

// tick is one frame interval: its number since the broadcaster started and
// its scheduled time; a stream captures its frame of the tick at that time
// plus its phase.
type tick struct {
	n  uint64
	at time.Time
}

// NewBroadcaster starts the clock and sender goroutines for clip. Close
// stops them.
func NewBroadcaster(clip *Clip, opts Options) (*Broadcaster, error) {
	b, err := newBroadcaster(clip, opts)
	if err != nil {
		return nil, err
	}
	b.run()
	return b, nil
}

// newBroadcaster builds a broadcaster without starting goroutines, so
// benchmarks can drive ticks by hand.
func newBroadcaster(clip *Clip, opts Options) (*Broadcaster, error) {
	if clip == nil || clip.Frames() == 0 {
		return nil, errors.New("media: empty clip")
	}
	fps := opts.FPS
	if fps == 0 {
		fps = clip.FPS
	}
	if fps < 1 || fps > 240 {
		return nil, errors.New("media: FPS out of range 1-240")
	}
	phases := opts.Phases
	if phases == 0 {
		phases = DefaultPhases
	}
	if phases < 1 || phases > maxPhases {
		return nil, errors.New("media: Phases out of range 1-256")
	}
	b := &Broadcaster{
		clip:     clip,
		fps:      fps,
		interval: time.Second / time.Duration(fps),
		phases:   uint64(phases),
		start:    time.Now(),
		done:     make(chan struct{}),
	}
	for range workerCount(opts.Workers) {
		b.workers = append(b.workers, newWorker(b))
	}
	return b, nil
}

func workerCount(n int) int {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return max(1, min(n, maxWorkers))
}

// run starts the clock and the senders. Their wakers (and the alarms'
// reader goroutines) are made here, before run returns, so a caller that
// snapshots goroutines after NewBroadcaster sees all of them.
func (b *Broadcaster) run() {
	for _, w := range b.workers {
		wk := newWaker(true)
		b.wg.Go(func() { w.run(b.done, wk) })
	}
	wk := newWaker(false)
	b.wg.Go(func() { b.clock(wk) })
}

// clock hands one tick per frame interval to the senders at its scheduled
// time (see waker for how precisely). Ticks are numbered from the elapsed
// time, so RTP timestamps follow the wall clock; when the process stalled
// for longer than an interval the missed ticks are skipped and counted as
// late, never sent in a burst.
func (b *Broadcaster) clock(wk *waker) {
	defer wk.stop()
	for n := uint64(1); ; {
		at := b.start.Add(time.Duration(n) * b.interval)
		if !b.sleepUntil(wk, at) {
			return
		}
		b.fanOut(tick{n: n, at: at})
		next := uint64(time.Since(b.start)/b.interval) + 1
		if next > n+1 {
			b.lateTicks.Add(next - n - 1)
		}
		n = max(n+1, next)
	}
}

// sleepUntil waits for at and reports false when the broadcaster closed
// meanwhile. It loops because a stale alarm may wake it early; the bound
// covers a wait of one interval woken at every 10 µs.
func (b *Broadcaster) sleepUntil(wk *waker, at time.Time) bool {
	for range 10_000 {
		d := time.Until(at)
		if d <= 0 {
			break
		}
		wk.arm(d, false) // a late tick delays captures, not latencies
		select {
		case <-b.done:
			return false
		case <-wk.timerC():
		case <-wk.alarmC():
		}
	}
	return !b.closed.Load()
}

// fanOut hands the tick to every sender without waiting: a sender still
// busy with the previous tick skips this one instead of delaying the others.
func (b *Broadcaster) fanOut(tk tick) {
	b.lastTick.Store(tk.n)
	b.ticks.Add(1)
	for _, w := range b.workers {
		select {
		case w.ticks <- tk:
		default:
			b.lateTicks.Add(1)
		}
	}
}

// nextPhase gives each new stream the next of the broadcaster's capture
// instants, in turn, as an offset into the frame interval.
func (b *Broadcaster) nextPhase() time.Duration {
	k := (b.streams.Add(1) - 1) % b.phases
	return time.Duration(k) * b.interval / time.Duration(b.phases)
}

// Close stops the clock and the senders and waits for them. Frames still
// waiting out a delay are dropped. Streams stay valid but send nothing.
func (b *Broadcaster) Close() {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		close(b.done)
	})
	b.wg.Wait()
}

// FPS returns the rate the broadcaster ticks at.
func (b *Broadcaster) FPS() int { return b.fps }

// Clip returns the clip being played.
func (b *Broadcaster) Clip() *Clip { return b.clip }

// SetDelay sets an extra delay added to every stream's own delay: frames are
// stamped when captured but written that much later (scenario fault "add a
// fixed delay to every frame"). It is clamped to [0, MaxDelay].
func (b *Broadcaster) SetDelay(d time.Duration) { b.delay.Store(int64(clampDelay(d))) }

// Delay returns the broadcaster-wide extra delay.
func (b *Broadcaster) Delay() time.Duration { return time.Duration(b.delay.Load()) }

func clampDelay(d time.Duration) time.Duration { return max(0, min(d, MaxDelay)) }

// Stats returns a snapshot of the counters.
func (b *Broadcaster) Stats() BroadcasterStats {
	st := BroadcasterStats{Ticks: b.ticks.Load(), LateTicks: b.lateTicks.Load()}
	for _, w := range b.workers {
		st.Streams += w.size()
	}
	return st
}

// NewStream creates a paused stream and attaches it to the least loaded
// sender. Give it to pion (AddTrack or RTPSender.ReplaceTrack) and call
// Resume when the client asks for video.
func (b *Broadcaster) NewStream(cfg StreamConfig) (*Stream, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	w := b.leastLoaded()
	s := newStream(b, w, cfg)
	w.attach(s)
	return s, nil
}

func (b *Broadcaster) leastLoaded() *worker {
	best := b.workers[0]
	for _, w := range b.workers[1:] {
		if w.size() < best.size() {
			best = w
		}
	}
	return best
}
