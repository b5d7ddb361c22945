// Package driver runs an SDK driver process (drivers/PROTOCOL.md) and talks
// the driver protocol to it: JSON requests with ids on stdin, one reply per
// request and events at any time on stdout, free-form diagnostics on stderr.
//
// Every call has a deadline. A driver that does not answer in time, or that
// is still alive when the harness is done with it, is killed (its whole
// process group), so a hung SDK can never hang a test run.
package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults for the bounds the protocol states (drivers/PROTOCOL.md §1.3, §1.4).
const (
	DefaultHelloTimeout = 30 * time.Second
	DefaultCallTimeout  = 30 * time.Second
	quitGrace           = 5 * time.Second
	maxLine             = 32 << 20
)

// Config says how to start a driver.
type Config struct {
	// Command is the argv; Command[0] is looked up in PATH unless it has a slash.
	Command []string
	// Dir is the working directory (the driver's own folder by convention).
	Dir string
	// Env is added to the harness's environment.
	Env []string
	// StderrPath receives the driver's stderr; empty discards it.
	StderrPath string
	// TranscriptPath receives every line exchanged, with the harness's clock;
	// empty keeps no transcript file (the in-memory tail is kept regardless).
	TranscriptPath string
	// QuitGrace bounds each shutdown step (reply to quit, exit after it);
	// 0 means 5 s (drivers/PROTOCOL.md §1.4).
	QuitGrace time.Duration
}

// Event is one event line.
type Event struct {
	Name string          `json:"event"`
	TMs  int64           `json:"t_ms"`
	Data json.RawMessage `json:"data"`
	// Seq orders events as the harness read them (0-based); Received is the
	// harness's wall clock when the line arrived.
	Seq      int       `json:"-"`
	Received time.Time `json:"-"`
}

// String renders data as a string when it is one (status events).
func (e Event) String() string {
	var s string
	if json.Unmarshal(e.Data, &s) == nil {
		return s
	}
	return string(e.Data)
}

// Decode unmarshals the event data.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// OpError is a reply with ok:false.
type OpError struct {
	Op      string          `json:"-"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details,omitempty"`
}

func (e *OpError) Error() string {
	return fmt.Sprintf("driver op %s failed: %s: %s", e.Op, e.Code, e.Message)
}

// DetailsMap decodes details (nil when absent or not an object).
func (e *OpError) DetailsMap() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(e.Details, &m)
	return m
}

// ErrTimeout is returned when a call ran out of time; the driver has been killed.
var ErrTimeout = errors.New("driver call timed out")

// ErrExited is returned when the driver exited before answering.
var ErrExited = errors.New("driver exited")

// Reply is one reply line.
type Reply struct {
	ID     int64           `json:"id"`
	OK     bool            `json:"ok"`
	TMs    int64           `json:"t_ms"`
	Result json.RawMessage `json:"result"`
	Error  *OpError        `json:"error"`
}

// Driver is a running driver process.
type Driver struct {
	cfg     Config
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	started time.Time

	writeMu sync.Mutex

	mu         sync.Mutex
	nextID     int64
	pending    map[int64]chan Reply
	events     []Event
	changed    chan struct{} // closed and replaced whenever an event arrives
	badLines   []string
	tail       []string // last lines exchanged (both directions)
	transcript *os.File
	stderrFile *os.File
	killed     string // why the harness killed it, if it did

	exited  chan struct{}
	exitErr error
}

// Start launches the driver. It does not send hello; call Hello.
func Start(cfg Config) (*Driver, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("driver: empty command")
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Dir = cfg.Dir
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg, cmd: cmd, stdin: stdin, pending: map[int64]chan Reply{},
		changed: make(chan struct{}), exited: make(chan struct{})}
	if cfg.StderrPath != "" {
		f, err := os.Create(cfg.StderrPath)
		if err != nil {
			return nil, err
		}
		d.stderrFile = f
		cmd.Stderr = f
	}
	if cfg.TranscriptPath != "" {
		f, err := os.Create(cfg.TranscriptPath)
		if err != nil {
			d.closeFiles()
			return nil, err
		}
		d.transcript = f
	}
	if err := cmd.Start(); err != nil {
		d.closeFiles()
		return nil, fmt.Errorf("driver: start %q: %w", strings.Join(cfg.Command, " "), err)
	}
	d.started = time.Now()
	go d.readLoop(stdout)
	return d, nil
}

func (d *Driver) closeFiles() {
	if d.stderrFile != nil {
		_ = d.stderrFile.Close()
	}
	d.mu.Lock()
	if d.transcript != nil {
		_ = d.transcript.Close()
		d.transcript = nil
	}
	d.mu.Unlock()
}

// record keeps a line for the transcript; dir is ">" (to the driver) or "<".
func (d *Driver) recordLocked(dir, line string) {
	const keep = 400
	stamp := time.Since(d.started).Milliseconds()
	text := fmt.Sprintf("%7d %s %s", stamp, dir, line)
	if len(d.tail) >= keep {
		d.tail = append(d.tail[:0], d.tail[len(d.tail)-keep/2:]...)
	}
	d.tail = append(d.tail, truncate(text, 2000))
	if d.transcript != nil {
		_, _ = d.transcript.WriteString(text + "\n")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}

func (d *Driver) readLoop(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Text()
		now := time.Now()
		var probe struct {
			ID    json.RawMessage `json:"id"`
			Event *string         `json:"event"`
		}
		d.mu.Lock()
		d.recordLocked("<", line)
		if err := json.Unmarshal([]byte(line), &probe); err != nil {
			d.badLines = append(d.badLines, truncate(line, 500))
			d.mu.Unlock()
			continue
		}
		switch {
		case probe.Event != nil:
			var ev Event
			if json.Unmarshal([]byte(line), &ev) != nil {
				d.badLines = append(d.badLines, truncate(line, 500))
				break
			}
			ev.Seq, ev.Received = len(d.events), now
			d.events = append(d.events, ev)
			close(d.changed)
			d.changed = make(chan struct{})
		case len(probe.ID) > 0:
			var r Reply
			if json.Unmarshal([]byte(line), &r) != nil {
				d.badLines = append(d.badLines, truncate(line, 500))
				break
			}
			if ch, ok := d.pending[r.ID]; ok {
				delete(d.pending, r.ID)
				ch <- r
			}
		default:
			d.badLines = append(d.badLines, truncate(line, 500))
		}
		d.mu.Unlock()
	}
	err := d.cmd.Wait()
	d.mu.Lock()
	d.exitErr = err
	for id, ch := range d.pending {
		delete(d.pending, id)
		close(ch)
	}
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
	close(d.exited)
	d.closeFiles()
}

// Pending is a request in flight.
type Pending struct {
	d  *Driver
	op string
	id int64
	ch chan Reply
}

// Go sends a request without waiting for its reply.
func (d *Driver) Go(op string, args any) (*Pending, error) {
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	ch := make(chan Reply, 1)
	d.pending[id] = ch
	d.mu.Unlock()
	req := map[string]any{"id": id, "op": op}
	if args != nil {
		req["args"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		d.forget(id)
		return nil, err
	}
	if err := d.writeLine(string(b)); err != nil {
		d.forget(id)
		return nil, fmt.Errorf("driver op %s: %w", op, err)
	}
	return &Pending{d: d, op: op, id: id, ch: ch}, nil
}

func (d *Driver) forget(id int64) {
	d.mu.Lock()
	delete(d.pending, id)
	d.mu.Unlock()
}

// WriteRaw writes a raw line (tests of malformed input).
func (d *Driver) WriteRaw(line string) error { return d.writeLine(line) }

func (d *Driver) writeLine(line string) error {
	select {
	case <-d.exited:
		return ErrExited
	default:
	}
	d.mu.Lock()
	d.recordLocked(">", line)
	d.mu.Unlock()
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	_, err := io.WriteString(d.stdin, line+"\n")
	return err
}

// Wait waits for the reply. On timeout (or ctx end) the driver is killed and
// ErrTimeout is returned: a driver that does not answer cannot be trusted
// with the next request. A reply with ok:false returns *OpError.
func (p *Pending) Wait(ctx context.Context, timeout time.Duration) (json.RawMessage, error) {
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r, ok := <-p.ch:
		if !ok {
			return nil, fmt.Errorf("driver op %s: %w (%s)", p.op, ErrExited, p.d.ExitStatus())
		}
		if !r.OK {
			e := r.Error
			if e == nil {
				e = &OpError{Code: "internal", Message: "reply with ok:false and no error"}
			}
			e.Op = p.op
			return r.Result, e
		}
		return r.Result, nil
	case <-t.C:
		p.d.Kill(fmt.Sprintf("op %s (id %d) got no reply within %s", p.op, p.id, timeout))
		return nil, fmt.Errorf("driver op %s: %w after %s; driver killed", p.op, ErrTimeout, timeout)
	case <-ctx.Done():
		p.d.Kill(fmt.Sprintf("op %s (id %d) abandoned: %v", p.op, p.id, ctx.Err()))
		return nil, fmt.Errorf("driver op %s: %w", p.op, ctx.Err())
	}
}

// ErrGaveUp is returned by WaitOrStop when the stop predicate fired; the
// request is still in flight and the driver is left running.
var ErrGaveUp = errors.New("gave up waiting for the reply")

// WaitOrStop is Wait, but every interval it asks stop whether waiting any
// longer is pointless; a non-empty answer ends the wait with ErrGaveUp
// (wrapped with that reason) without killing the driver.
func (p *Pending) WaitOrStop(ctx context.Context, timeout, interval time.Duration, stop func() string) (json.RawMessage, error) {
	if stop == nil {
		return p.Wait(ctx, timeout)
	}
	deadline := time.Now().Add(timeout)
	for {
		step := min(interval, time.Until(deadline))
		if step <= 0 {
			return p.Wait(ctx, time.Millisecond)
		}
		t := time.NewTimer(step)
		select {
		case r, ok := <-p.ch:
			t.Stop()
			if !ok {
				return nil, fmt.Errorf("driver op %s: %w (%s)", p.op, ErrExited, p.d.ExitStatus())
			}
			p.ch <- r // buffered (capacity 1): hand it to Wait
			return p.Wait(ctx, time.Second)
		case <-t.C:
			if why := stop(); why != "" {
				return nil, fmt.Errorf("driver op %s: %w: %s", p.op, ErrGaveUp, why)
			}
		case <-ctx.Done():
			t.Stop()
			return p.Wait(ctx, time.Millisecond)
		}
	}
}

// Call sends a request and waits for its reply (see Pending.Wait).
func (d *Driver) Call(ctx context.Context, op string, args any, timeout time.Duration) (json.RawMessage, error) {
	p, err := d.Go(op, args)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx, timeout)
}

// CallInto is Call followed by unmarshalling the result into out. An
// *OpError still decodes the result (some ops put a would-be result there).
func (d *Driver) CallInto(ctx context.Context, op string, args any, timeout time.Duration, out any) error {
	raw, err := d.Call(ctx, op, args, timeout)
	if len(raw) > 0 && out != nil {
		if uerr := json.Unmarshal(raw, out); uerr != nil && err == nil {
			return fmt.Errorf("driver op %s: result does not decode: %w", op, uerr)
		}
	}
	return err
}

// Events returns a copy of every event so far.
func (d *Driver) Events() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Event(nil), d.events...)
}

// EventCount is how many events have arrived; use it as a mark for WaitEvent.
func (d *Driver) EventCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.events)
}

// WaitEvent waits until an event with Seq >= from satisfies pred. It returns
// an error on timeout, ctx end or driver exit (without killing the driver).
func (d *Driver) WaitEvent(ctx context.Context, from int, timeout time.Duration, pred func(Event) bool) (Event, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	next := from
	for {
		d.mu.Lock()
		for ; next < len(d.events); next++ {
			if pred(d.events[next]) {
				ev := d.events[next]
				d.mu.Unlock()
				return ev, nil
			}
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-d.exited:
			// one last pass over what arrived before the exit
			d.mu.Lock()
			for ; next < len(d.events); next++ {
				if pred(d.events[next]) {
					ev := d.events[next]
					d.mu.Unlock()
					return ev, nil
				}
			}
			d.mu.Unlock()
			return Event{}, fmt.Errorf("%w while waiting for an event (%s)", ErrExited, d.ExitStatus())
		case <-t.C:
			return Event{}, fmt.Errorf("no matching event within %s", timeout)
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// Status is a predicate for a status event with one of the given values.
func Status(values ...string) func(Event) bool {
	return func(e Event) bool {
		if e.Name != "status" {
			return false
		}
		s := e.String()
		for _, v := range values {
			if s == v {
				return true
			}
		}
		return false
	}
}

// Named is a predicate for events with the given name.
func Named(name string) func(Event) bool {
	return func(e Event) bool { return e.Name == name }
}

// BadLines are stdout lines that were not protocol JSON (a driver bug).
func (d *Driver) BadLines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.badLines...)
}

// Tail returns the last n transcript lines (both directions).
func (d *Driver) Tail(n int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n <= 0 || n > len(d.tail) {
		n = len(d.tail)
	}
	return append([]string(nil), d.tail[len(d.tail)-n:]...)
}

// StartTime is when the process was started (harness clock).
func (d *Driver) StartTime() time.Time { return d.started }

// Pid is the driver's process id.
func (d *Driver) Pid() int { return d.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (d *Driver) Exited() <-chan struct{} { return d.exited }

// ExitStatus describes how the process ended ("running" while it has not).
func (d *Driver) ExitStatus() string {
	select {
	case <-d.exited:
	default:
		return "running"
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := "exit status 0"
	if d.exitErr != nil {
		s = d.exitErr.Error()
	}
	if d.killed != "" {
		s += "; killed by the harness: " + d.killed
	}
	return s
}

// Killed reports why the harness killed the driver ("" if it did not).
func (d *Driver) Killed() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.killed
}

// Kill ends the driver's whole process group at once.
func (d *Driver) Kill(why string) {
	select {
	case <-d.exited:
		return
	default:
	}
	d.mu.Lock()
	if d.killed == "" {
		d.killed = why
	}
	d.mu.Unlock()
	if p := d.cmd.Process; p != nil {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
		_ = p.Kill()
	}
}

// Close asks the driver to quit (bounded), closes stdin, and kills it if it
// has not exited within the grace period. It returns a description of any
// shutdown problem ("" when the driver quit cleanly).
func (d *Driver) Close() string {
	select {
	case <-d.exited:
		return ""
	default:
	}
	grace := d.cfg.QuitGrace
	if grace <= 0 {
		grace = quitGrace
	}
	var problem string
	p, err := d.Go("quit", nil)
	if err == nil {
		select {
		case r, ok := <-p.ch:
			if ok && !r.OK && r.Error != nil {
				problem = "quit answered " + r.Error.Code + ": " + r.Error.Message
			}
		case <-time.After(grace):
			problem = fmt.Sprintf("no reply to quit within %s", grace)
		case <-d.exited:
		}
	}
	_ = d.stdin.Close()
	select {
	case <-d.exited:
	case <-time.After(grace):
		problem = strings.TrimPrefix(problem+"; ", "; ") + fmt.Sprintf("still running %s after quit", grace)
		d.Kill(problem)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			problem += "; did not die after SIGKILL"
		}
	}
	return problem
}
