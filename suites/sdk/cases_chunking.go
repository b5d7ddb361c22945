package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
)

// Data-channel chunking (PROTOCOL.md §9.2): an SDK that declares
// a=x-reactor-dc-chunking sends commands up to 64 MiB once the runtime
// declares it back, and must refuse them itself when the runtime does not.

// chunkedCommandSize is the prompt the cases send: 1 MiB, four times the
// 256 KiB a plain data channel carries.
const chunkedCommandSize = 4 * dcchunk.LegacyMaxMessageSize

func init() {
	register(Case{
		ID:          "sdk/chunking/1",
		Title:       "a 1 MiB command arrives intact over a chunked channel",
		Requirement: "An SDK whose offer declares a=x-reactor-dc-chunking MUST, once the runtime declares it back, deliver a 1 MiB set_prompt byte for byte: the model gets data whose SHA-256 matches what the application sent",
		Sections:    []string{"PROTOCOL.md §9.2", "PROTOCOL.md §3.5"},
		Labels:      []string{"data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkChunkedCommand,
	})
	register(Case{
		ID:          "sdk/chunking/2",
		Title:       "without the runtime's answer a 1 MiB command is refused by the SDK",
		Requirement: "Against a runtime that does not answer a=x-reactor-dc-chunking, the SDK MUST refuse a 1 MiB command with an error to the application (1.13.0: MessageTooLargeError … exceeds 262144) and send nothing of it",
		Sections:    []string{"PROTOCOL.md §9.2", "PROTOCOL.md §3.5"},
		Labels:      []string{"data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkUnchunkedRefusal,
	})
}

// connectChunking connects the SDK against sc and reports whether its offer
// declared chunking (NotApplicable when it did not).
func (r *Run) connectChunking(ctx context.Context, sc *mockserver.Scenario) error {
	if err := r.SetupExact(ctx, sc); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s speaks the pre-overhaul protocol, which has no chunking", r.SDKName())
	}
	if _, err := r.ConnectReady(ctx, ConnectOpts{}); err != nil {
		return err
	}
	for _, e := range r.Journal(mockserver.Filter{}) {
		if strings.HasSuffix(e.Path, "/sdp_params") && e.Method == "POST" {
			if !strings.Contains(string(e.Body), "a="+dcchunk.Attribute+":") {
				return NotApplicable("%s does not declare a=x-reactor-dc-chunking in its offer (SDKs before 1.13.0 do not chunk)", r.SDKName())
			}
			return nil
		}
	}
	return fmt.Errorf("the journal holds no POST …/sdp_params of %s, so its offer cannot be read", r.SDKName())
}

// commandEntry waits for the journaled set_prompt after mark.
func (r *Run) commandEntry(ctx context.Context, mark int64, within time.Duration) (*mockserver.Entry, error) {
	deadline := time.Now().Add(within)
	for {
		for _, e := range After(r.Journal(mockserver.Filter{Channel: "data"}), mark) {
			if e.Type == "set_prompt" {
				return &e, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func bigPromptData() map[string]any {
	return map[string]any{"prompt": strings.Repeat("r", chunkedCommandSize)}
}

func checkChunkedCommand(ctx context.Context, r *Run) error {
	if err := r.connectChunking(ctx, nil); err != nil {
		return err
	}
	mark := r.JournalMark()
	data := bigPromptData()
	if _, err := r.Drv.SendCommand(ctx, "set_prompt", data, nil, 30*time.Second); err != nil {
		return fmt.Errorf("%s refused a 1 MiB set_prompt although chunking was negotiated: %w", r.SDKName(), err)
	}
	e, err := r.commandEntry(ctx, mark, 20*time.Second)
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("the 1 MiB set_prompt %s accepted never reached the mock within 20 s\njournal:\n%s",
			r.SDKName(), DescribeEntries(After(r.Journal(mockserver.Filter{}), mark), 20))
	}
	want := mockserver.DataDigest(data)
	var p []string
	if e.DataSHA256 != want {
		p = append(p, fmt.Sprintf("data SHA-256 %s, want %s (the model did not get what the application sent)", e.DataSHA256, want))
	}
	if e.BodyBytes < chunkedCommandSize {
		p = append(p, fmt.Sprintf("the message has %d bytes, fewer than its 1 MiB prompt", e.BodyBytes))
	}
	if e.Frames < 2 {
		p = append(p, fmt.Sprintf("it arrived in %d frame(s), so it was not chunked", e.Frames))
	}
	if !strings.HasPrefix(e.Detail, "accepted") {
		p = append(p, "the mock did not accept it: "+e.Detail)
	}
	if len(p) > 0 {
		return fmt.Errorf("%s 1 MiB set_prompt: %s", r.SDKName(), strings.Join(p, "; "))
	}
	r.Note("1 MiB set_prompt: message %d bytes in %d frames (≈%d B each), sha256 %s, data sha256 %s",
		e.BodyBytes, e.Frames, e.BodyBytes/max(e.Frames, 1), e.SHA256, e.DataSHA256)
	return nil
}

func checkUnchunkedRefusal(ctx context.Context, r *Run) error {
	off := false
	sc := mockserver.DefaultScenario()
	sc.Transport.DCChunking = &off
	if err := r.connectChunking(ctx, sc); err != nil {
		return err
	}
	mark := r.JournalMark()
	_, err := r.Drv.SendCommand(ctx, "set_prompt", bigPromptData(), nil, 30*time.Second)
	var oe *driver.OpError
	if !errors.As(err, &oe) {
		return fmt.Errorf("%s accepted a 1 MiB set_prompt on a channel without chunking (err %v); the runtime cannot receive it", r.SDKName(), err)
	}
	if e, _ := r.commandEntry(ctx, mark, 2*time.Second); e != nil {
		return fmt.Errorf("%s raised %s but the mock still received a set_prompt of %d bytes", r.SDKName(), oe.Code, e.BodyBytes)
	}
	r.Note("refused with %s: %s", oe.Code, oneLine(oe.Message, 200))
	return nil
}
