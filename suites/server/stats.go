package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
)

// Client stats, PROTOCOL.md §9.3: 1.13.0-generation clients send a v1
// ClientStats NOTIFICATION on control every 5 s. A notification gets no
// reply, and a server that does not know it must not break the channel.

func init() {
	register(Case{ID: "stats/1", Section: "9.3", Check: statsTaken,
		Requirement: "v1 ClientStats notifications on control MUST be taken silently: no Error or other reply to them, the control channel stays open and a RequestSchema after them is still answered"})
}

func statsTaken(ctx context.Context, r *Run) error {
	var mu sync.Mutex
	var sent int
	var sendErr error
	var replies []client.Message
	c, err := r.connect(ctx, client.CodecV1, true, nil, func(cfg *client.Config) {
		cfg.ClientStats, cfg.ClientStatsInterval = true, 300*time.Millisecond
		cfg.OnClientStats = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && sendErr == nil {
				sendErr = err
			} else if err == nil {
				sent++
			}
		}
		cfg.OnMessage = func(m client.Message) {
			if m.Channel == client.LabelControl {
				mu.Lock()
				replies = append(replies, m)
				mu.Unlock()
			}
		}
	})
	if err != nil {
		return err
	}
	ok, err := waitFor(ctx, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return sent >= 3 || sendErr != nil
	})
	if err != nil {
		return err
	}
	mu.Lock()
	n, serr, got := sent, sendErr, append([]client.Message(nil), replies...)
	mu.Unlock()
	switch {
	case serr != nil:
		return fmt.Errorf("sending ClientStats failed after %d reports: %w (did the server close control?)", n, serr)
	case !ok:
		return fmt.Errorf("only %d ClientStats reports could be sent in 10 s", n)
	}
	for _, m := range got {
		if m.Error != nil || m.Kind == client.KindResponse {
			return fmt.Errorf("the server answered a ClientStats notification: %s %q error %v", m.Kind, m.Type, m.Error)
		}
	}
	if _, err := c.RequestSchema(ctx); err != nil {
		return errors.Join(errors.New("after ClientStats reports the control channel no longer answers RequestSchema"), err)
	}
	return nil
}
