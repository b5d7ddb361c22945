package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// Data-channel chunking, PROTOCOL.md §9.2: an offer declares
// a=x-reactor-dc-chunking:1 max-message-size=N at session level; a runtime
// that chunks declares it back, and then messages up to the smaller limit
// travel as frames. A malformed declaration counts as none.

func init() {
	register(Case{ID: "chunk/1", Section: "9.2", Check: chunkAnswered,
		Requirement: "an offer declaring a=x-reactor-dc-chunking:1 max-message-size=67108864 MUST be answered with the attribute at session level (before the first m=) with a parsable max-message-size"})
	register(Case{ID: "chunk/2", Section: "9.2", Check: chunkMalformedIgnored,
		Requirement: "an offer whose a=x-reactor-dc-chunking does not parse (max-message-size=lots) MUST be answered without the attribute: the connection stays on plain 256 KiB messages"})
	register(Case{ID: "chunk/3", Section: "9.2", Check: chunkLargeCommand,
		Requirement: "once chunking is negotiated, a 1 MiB v1 Command REQUEST sent as 4 KiB frames MUST get a RESPONSE with the same request_id and no Error"})
	register(Case{ID: "chunk/4", Section: "9.2", Destructive: true, Check: chunkRefused,
		Requirement: "a runtime without chunking (scenario transport.dc_chunking false) MUST answer without the attribute, and plain v1 frames MUST keep working"})
}

// answerTo posts the fixture's offer with attr (an a= line) at session level
// and returns the SDP answer.
func (r *Run) answerTo(ctx context.Context, attr string) (string, error) {
	f, err := r.signalFixture(ctx)
	if err != nil {
		return "", err
	}
	req := f.kit.request()
	req.SDPOffer = strings.Replace(req.SDPOffer, "\r\nm=", "\r\n"+attr+"\r\nm=", 1)
	resp, err := r.transport(ctx, http.MethodPost, f.sdpPath(), req)
	if err != nil {
		return "", err
	}
	if err := wantStatus(resp, http.StatusAccepted); err != nil {
		return "", err
	}
	ans, _, err := r.awaitAnswer(ctx, f.sdpPath(), false)
	if err != nil {
		return "", err
	}
	return ans.SDPAnswer, nil
}

const chunkOffer = "a=x-reactor-dc-chunking:1 max-message-size=67108864"

func chunkAnswered(ctx context.Context, r *Run) error {
	answer, err := r.answerTo(ctx, chunkOffer)
	if err != nil {
		return err
	}
	p, err := dcchunk.Parse(answer)
	switch {
	case errors.Is(err, dcchunk.ErrNotDeclared):
		return errors.New("the answer does not declare a=x-reactor-dc-chunking: 1.13.0 SDKs then refuse every command over 256 KiB (MessageTooLargeError)")
	case err != nil:
		return fmt.Errorf("the answer's chunking attribute does not parse (%v), so clients treat it as absent", err)
	case !p.HasMaxMessageSize:
		return errors.New("the answer declares chunking without max-message-size: clients then limit messages to the legacy 256 KiB")
	}
	if at, m := strings.Index(answer, "a=x-reactor-dc-chunking:"), strings.Index(answer, "\nm="); m >= 0 && at > m {
		return errors.New("the answer declares a=x-reactor-dc-chunking inside a media section; it is a session-level attribute (before the first m=)")
	}
	return nil
}

func chunkMalformedIgnored(ctx context.Context, r *Run) error {
	answer, err := r.answerTo(ctx, "a=x-reactor-dc-chunking:1 max-message-size=lots")
	if err != nil {
		return err
	}
	if dcchunk.Present(answer) {
		return errors.New("the answer declares a=x-reactor-dc-chunking to an offer whose declaration does not parse; the client treats its own as absent and would send plain frames the server reads as chunked")
	}
	return nil
}

func chunkLargeCommand(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	if on, _ := c.Chunked(); !on {
		return errors.New("the answer did not declare a=x-reactor-dc-chunking, so the client cannot send a 1 MiB command (see chunk/1)")
	}
	if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": strings.Repeat("c", 1<<20)}); err != nil {
		return fmt.Errorf("1 MiB v1 set_prompt over a chunked channel: %w", err)
	}
	return nil
}

func chunkRefused(ctx context.Context, r *Run) error {
	off := false
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) { sc.Transport.DCChunking = &off }); err != nil {
		return err
	}
	answer, err := r.answerTo(ctx, chunkOffer)
	if err != nil {
		return err
	}
	if dcchunk.Present(answer) {
		return errors.New("with transport.dc_chunking false the answer still declares a=x-reactor-dc-chunking")
	}
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	if on, limit := c.Chunked(); on || limit != wirev0.MaxMessageBytes {
		return fmt.Errorf("the client negotiated chunking (limit %d) against a runtime that refuses it", limit)
	}
	if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "plain"}); err != nil {
		return fmt.Errorf("a plain v1 command after chunking was refused: %w", err)
	}
	return nil
}
