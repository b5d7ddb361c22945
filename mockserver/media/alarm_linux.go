//go:build linux

package media

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// alarm is a timerfd read through Go's network poller: its expiry makes
// epoll_wait return at once, with no millisecond rounding.
type alarm struct {
	fd int
	f  *os.File
	c  chan struct{} // capacity 1: one pending expiry is enough
	// exited is closed when the reader goroutine returns, so close leaves
	// no goroutine behind.
	exited chan struct{}
}

// newAlarm returns nil when no timerfd can be made; the waker then falls
// back to its Go timer.
func newAlarm() *alarm {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// A non-blocking fd given to os.NewFile is registered with the poller,
	// so the reader below parks its goroutine instead of a thread.
	a := &alarm{fd: fd, f: os.NewFile(uintptr(fd), "media-alarm"), c: make(chan struct{}, 1), exited: make(chan struct{})}
	go a.read()
	return a
}

// read forwards expiries to c until the file is closed.
func (a *alarm) read() {
	defer close(a.exited)
	var buf [8]byte // the expiry count, which we do not need
	for range maxWorkerSteps {
		if _, err := a.f.Read(buf[:]); err != nil {
			return
		}
		select {
		case a.c <- struct{}{}:
		default:
		}
	}
}

// set (re)arms the alarm d from now, replacing any earlier setting.
// timerfd never fires early, and a zero value would disarm it, hence the
// 1 ns floor.
func (a *alarm) set(d time.Duration) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(max(d, 1)))}
	_ = unix.TimerfdSettime(a.fd, 0, &spec, nil) // cannot fail on a valid fd
}

// close stops the alarm and waits for its reader to return.
func (a *alarm) close() {
	_ = a.f.Close()
	<-a.exited
}
