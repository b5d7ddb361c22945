package sdk

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
)

// Commands outside ready (PLATFORM.md §3 "The waiting state for commands"):
// sent while connecting or waiting they are rejected, not queued; the
// application is told; at ready they arrive once and in order.

func init() {
	register(Case{
		ID:          "sdk/waiting/1",
		Title:       "commands sent while waiting are not queued",
		Requirement: "A command sent while the session is waiting for a GPU MUST NOT be queued: it MUST never reach the model, not even after the SDK becomes ready",
		Sections:    []string{"PLATFORM.md §3", "PROTOCOL.md §7 item 28"},
		Labels:      []string{"data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       func(ctx context.Context, r *Run) error { return checkNotQueued(ctx, r, "waiting") },
	})
	register(Case{
		ID:          "sdk/waiting/2",
		Title:       "the application is told when a command is sent while waiting",
		Requirement: "A command sent while waiting MUST be refused visibly: a warning, an error event or an exception (per SDK), never silent success",
		Sections:    []string{"PLATFORM.md §3", "PROTOCOL.md §7 item 28"},
		Labels:      []string{"data-channel"},
		Timeout:     60 * time.Second,
		Check:       func(ctx context.Context, r *Run) error { return checkToldApp(ctx, r, "waiting") },
	})
	register(Case{
		ID:          "sdk/waiting/3",
		Title:       "commands sent while connecting are refused visibly and not queued",
		Requirement: "A command sent while connecting (session not created yet) MUST be refused visibly and MUST never reach the model after ready",
		Sections:    []string{"PLATFORM.md §3", "PROTOCOL.md §7 item 28"},
		Labels:      []string{"data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       func(ctx context.Context, r *Run) error { return checkNotQueued(ctx, r, "connecting") },
	})
	register(Case{
		ID:          "sdk/waiting/4",
		Title:       "commands sent at ready arrive once, in order",
		Requirement: "Commands sent at ready MUST each reach the model exactly once and in the order they were sent",
		Sections:    []string{"PLATFORM.md §3", "PROTOCOL.md §3.2", "PROTOCOL.md §3.3"},
		Labels:      []string{"data-channel"},
		WebRTC:      true,
		Timeout:     60 * time.Second,
		Check:       checkReadyOrder,
	})
}

// probe is the command sent outside ready; its seed value is unmistakable.
const probeCommand, probeSeed = "set_seed", 424242

// holdIn starts a connect and returns once the SDK is in phase ("waiting":
// session created, polling; "connecting": before the session exists). The
// mock's scenario holds it there for several seconds.
func holdIn(ctx context.Context, r *Run, phase string) (*driver.Pending, time.Duration, error) {
	var sc *mockserver.Scenario
	switch phase {
	case "connecting":
		sc = ReadyScenario("hold-connecting")
		sc.Faults = append(sc.Faults, mockserver.Fault{Route: routeCreate, Nth: 1, Latency: mockserver.Duration(2500 * time.Millisecond)})
	default:
		sc = PendingScenario("hold-waiting", 3, 2*time.Second)
	}
	if err := r.Setup(ctx, sc); err != nil {
		return nil, 0, err
	}
	if r.Legacy() && phase == "waiting" {
		return nil, 0, NotApplicable("%s never reports waiting (its status goes connecting → ready); sdk/waiting/3 covers connecting", r.SDKName())
	}
	mark := r.Drv.EventCount()
	p, bound, err := r.StartConnect(ctx, ConnectOpts{ReadyTimeout: 25 * time.Second})
	if err != nil {
		return nil, 0, err
	}
	if _, err := r.WaitStatus(ctx, mark, 10*time.Second, phase); err != nil {
		return p, bound, err
	}
	if phase == "waiting" {
		// make sure the session exists and polling has begun
		if _, err := r.Drv.WaitEvent(ctx, mark, 5*time.Second, driver.Named("session_id")); err != nil {
			return p, bound, fmt.Errorf("no session_id event before waiting: %w", err)
		}
	}
	return p, bound, nil
}

// sendOutside sends the probe and describes how the SDK told the app ("" =
// silently accepted). status is the SDK status at the call.
func sendOutside(ctx context.Context, r *Run) (told, status string, err error) {
	mark := r.Drv.EventCount()
	cr, serr := r.Drv.SendCommand(ctx, probeCommand, map[string]any{"seed": probeSeed}, nil, 20*time.Second)
	if serr != nil && !errIsCode(serr, "sdk_error") {
		return "", "", fmt.Errorf("send_command outside ready: %s", ErrText(serr))
	}
	time.Sleep(300 * time.Millisecond) // an error event may follow the reply
	var parts []string
	if serr != nil {
		parts = append(parts, "exception: "+oneLine(ErrText(serr), 200))
	} else {
		status = cr.StatusAtCall
		if len(cr.Warnings) > 0 {
			parts = append(parts, "warning: "+oneLine(strings.Join(cr.Warnings, "; "), 200))
		}
	}
	for _, rep := range r.Reported(mark) {
		if strings.HasPrefix(rep, "error") || (len(parts) == 0 && strings.HasPrefix(rep, "warning")) {
			parts = append(parts, rep)
		}
	}
	return strings.Join(uniq(parts), "; "), status, nil
}

func checkToldApp(ctx context.Context, r *Run, phase string) error {
	p, bound, err := holdIn(ctx, r, phase)
	if err != nil {
		return err
	}
	told, status, err := sendOutside(ctx, r)
	if err != nil {
		return err
	}
	cur := r.Statuses(0)
	if len(cur) > 0 && cur[len(cur)-1] == "ready" {
		return fmt.Errorf("harness: %s became ready before the probe was sent; the case could not hold it in %s", r.SDKName(), phase)
	}
	if _, derr := r.Drv.Disconnect(ctx, false, 20*time.Second); derr != nil {
		r.Note("disconnect while %s: %s", phase, ErrText(derr))
	}
	if p != nil {
		_, _ = r.AwaitConnect(ctx, p, bound)
	}
	if told == "" {
		return fmt.Errorf("%s accepted send_command(%s) while %s (status at call %q) silently: no warning, no error event, no exception",
			r.SDKName(), probeCommand, phase, status)
	}
	r.Note("send while %s: %s", phase, told)
	return nil
}

func checkNotQueued(ctx context.Context, r *Run, phase string) error {
	p, bound, err := holdIn(ctx, r, phase)
	if err != nil {
		return err
	}
	told, _, err := sendOutside(ctx, r)
	if err != nil {
		return err
	}
	if told != "" {
		r.Note("send while %s: %s", phase, told)
	} else {
		r.Note("send while %s: accepted silently", phase)
	}
	res, err := r.AwaitConnect(ctx, p, bound)
	if err != nil {
		return fmt.Errorf("%s did not reach ready after the send while %s: %s%s", r.SDKName(), phase, ErrText(err), r.PlaneHint())
	}
	if !res.Ready {
		return fmt.Errorf("%s did not reach ready (status %q)%s", r.SDKName(), res.Status, r.PlaneHint())
	}
	sid := res.SID()
	if err := r.SendAndObserve(ctx, sid, "set_prompt", map[string]any{"prompt": "sent at ready"}); err != nil {
		return err
	}
	time.Sleep(time.Second)
	var late []string
	for _, e := range r.DataChannel(sid) {
		if e.Type == probeCommand {
			late = append(late, DescribeEntry(e, time.Time{}))
		}
	}
	if snap, ok := r.Mock.TransportSnapshot(sid); ok && snap.Model != nil && snap.Model.Seed == probeSeed {
		late = append(late, fmt.Sprintf("the model's seed is %d", probeSeed))
	}
	if len(late) > 0 {
		return fmt.Errorf("%s queued the command sent while %s and delivered it after ready: %s", r.SDKName(), phase, strings.Join(late, "; "))
	}
	if phase == "connecting" && told == "" {
		return fmt.Errorf("%s accepted send_command(%s) while connecting silently (nothing was delivered, but the application was not told)", r.SDKName(), probeCommand)
	}
	return nil
}

// orderProbe are commands with distinct names and values, sent back to back.
var orderProbe = []struct {
	name string
	data map[string]any
}{
	{"set_prompt", map[string]any{"prompt": "first"}},
	{"set_seed", map[string]any{"seed": 11}},
	{"set_sr_scale", map[string]any{"sr_scale": "2x"}},
	{"set_image_strength", map[string]any{"image_strength": 0.25}},
	{"schedule_prompt", map[string]any{"prompt": "fifth", "chunk": 40}},
}

func checkReadyOrder(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, ReadyScenario("ready")); err != nil {
		return err
	}
	res, err := r.ConnectReady(ctx, ConnectOpts{})
	if err != nil {
		return err
	}
	sid := res.SID()
	want := make([]string, len(orderProbe))
	for i, c := range orderProbe {
		want[i] = c.name
	}
	// First as an application awaiting each call: the requirement.
	got, err := r.sendBatch(ctx, sid, false)
	if err != nil {
		return err
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("%s delivered the commands as [%s]; sent one after the other as [%s] (each must arrive once, in order)",
			r.SDKName(), strings.Join(got, ", "), strings.Join(want, ", "))
	}
	// Then issued back to back without waiting for each call to return (the
	// driver starts requests in arrival order): recorded, not judged, since
	// an SDK whose send awaits a reply may legitimately interleave them.
	got, err = r.sendBatch(ctx, sid, true)
	if err != nil {
		return err
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		r.Note("commands issued concurrently (without awaiting each) arrived as [%s], issued as [%s]", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	return nil
}

// sendBatch sends orderProbe (awaiting each call, or all at once) and
// returns the command names the mock received, in arrival order.
func (r *Run) sendBatch(ctx context.Context, sid string, concurrent bool) ([]string, error) {
	before := len(r.DataChannel(sid))
	var pend []*driver.Pending
	for _, c := range orderProbe {
		pr, err := r.Drv.Go("send_command", map[string]any{"name": c.name, "data": c.data})
		if err != nil {
			return nil, err
		}
		if concurrent {
			pend = append(pend, pr)
			continue
		}
		if _, err := pr.Wait(ctx, 20*time.Second); err != nil {
			return nil, fmt.Errorf("send_command %s at ready: %s", c.name, ErrText(err))
		}
	}
	for i, pr := range pend {
		if _, err := pr.Wait(ctx, 20*time.Second); err != nil {
			return nil, fmt.Errorf("send_command %s at ready: %s", orderProbe[i].name, ErrText(err))
		}
	}
	n := len(orderProbe)
	if _, err := r.WaitDataChannel(ctx, sid, before, 5*time.Second, func(mockserver.Entry) bool {
		c := 0
		for _, e := range r.DataChannel(sid)[before:] {
			if isCommandEntry(e) {
				c++
			}
		}
		return c >= n
	}); err != nil {
		got := []string{}
		for _, e := range r.DataChannel(sid)[before:] {
			if isCommandEntry(e) {
				got = append(got, e.Type)
			}
		}
		return got, fmt.Errorf("%s: only [%s] of the %d commands sent at ready reached the mock", r.SDKName(), strings.Join(got, ", "), n)
	}
	time.Sleep(300 * time.Millisecond) // duplicates would show up by now
	var got []string
	for _, e := range r.DataChannel(sid)[before:] {
		if isCommandEntry(e) {
			got = append(got, e.Type)
		}
	}
	return got, nil
}

// isCommandEntry says whether a data-channel entry is an application command.
func isCommandEntry(e mockserver.Entry) bool {
	if e.Channel != "data" {
		return false
	}
	if e.Scope == "application" {
		return true
	}
	return e.Codec == "legacy" && e.Scope == ""
}
