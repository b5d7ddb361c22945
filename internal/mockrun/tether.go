package mockrun

import (
	"context"
	"io"
	"os"
	"time"
)

// DefaultPoll is how often the parent process is checked: a mock outlives
// a dead runner by at most about this long.
const DefaultPoll = 250 * time.Millisecond

// Tether says when the process that started the mock is gone.
type Tether struct {
	// Stdin, when set, is read and discarded until it ends: EOF or an
	// error (the runner closed its end of the pipe, or died) ends the mock.
	Stdin io.Reader
	// WatchParent ends the mock when its parent process changes.
	WatchParent bool
	// Poll is the parent check interval; DefaultPoll when zero.
	Poll time.Duration
	// getppid is os.Getppid except in tests.
	getppid func() int
}

// Why a tethered context ended; context.Cause reports one of these.
var (
	ErrParentGone  = causeError("parent process exited")
	ErrStdinClosed = causeError("stdin closed")
)

type causeError string

func (e causeError) Error() string { return string(e) }

// Bind returns a context that is cancelled, with ErrParentGone or
// ErrStdinClosed as its cause, when the tether's conditions say so, or
// when parent is done.
//
// The parent is watched by polling getppid rather than with Linux's
// PR_SET_PDEATHSIG: that signal fires when the parent *thread* that forked
// us exits (a worker thread of a Node or Python runner may well), and it
// does not exist on macOS. An orphan is re-parented (to init or to a
// subreaper), so a change of getppid is the parent's death, portably. A
// mock started with parent pid 1 (a container's entrypoint, a daemon)
// has no parent to lose and is not watched.
func (t Tether) Bind(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	if t.Stdin != nil {
		go func() {
			_, _ = io.Copy(io.Discard, t.Stdin)
			cancel(ErrStdinClosed)
		}()
	}
	if t.WatchParent {
		getppid := t.getppid
		if getppid == nil {
			getppid = os.Getppid
		}
		if first := getppid(); first > 1 {
			go watchParent(ctx, first, getppid, t.poll(), cancel)
		}
	}
	return ctx, func() { cancel(context.Canceled) }
}

func (t Tether) poll() time.Duration {
	if t.Poll > 0 {
		return t.Poll
	}
	return DefaultPoll
}

// watchParent runs until ctx ends: it is bounded by the mock's life.
func watchParent(ctx context.Context, first int, getppid func() int, every time.Duration, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if getppid() != first {
				cancel(ErrParentGone)
				return
			}
		}
	}
}
