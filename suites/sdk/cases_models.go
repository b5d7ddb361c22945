package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/reactor-harness/reactor-harness/suites/sdk/driver"
)

// LingBot (PROTOCOL.md §9.6) through a published SDK: the SDK asks for it by
// name, receives its capabilities and its video, and delivers its model
// messages, among them the refusal of start before set_image.

func init() {
	register(Case{
		ID:          "sdk/model/1",
		Title:       "LingBot: capabilities, video and the seed-image refusal",
		Requirement: "An SDK connecting to model lingbot MUST reach ready with LingBot's capabilities (emission_fps 16, set_movement among the commands), MUST receive main_video frames, and MUST deliver the command_error the model sends for start before set_image",
		Sections:    []string{"PROTOCOL.md §9.6"},
		Labels:      []string{"media", "data-channel"},
		WebRTC:      true,
		Timeout:     60 * time.Second,
		Check:       checkLingBot,
	})
}

func checkLingBot(ctx context.Context, r *Run) error {
	if err := r.Setup(ctx, nil); err != nil {
		return err
	}
	mark := r.Drv.EventCount()
	if _, err := r.ConnectReady(ctx, ConnectOpts{Model: "lingbot"}); err != nil {
		return err
	}
	if r.Legacy() {
		r.Note("%s speaks the pre-overhaul protocol, which carries no capabilities: only video and messages are checked", r.SDKName())
	} else if err := r.checkLingBotCaps(ctx, mark); err != nil {
		return err
	}
	if _, err := r.Drv.WaitEvent(ctx, mark, 15*time.Second, func(e driver.Event) bool {
		var counts map[string]int
		if e.Name != "frames" || json.Unmarshal(e.Data, &counts) != nil {
			return false
		}
		// The only track is main_video; SDKs that do not name tracks
		// (JS 2.2.1) report it under a driver-made name.
		n := 0
		for _, c := range counts {
			n += c
		}
		return n >= 16
	}); err != nil {
		return fmt.Errorf("%s counted fewer than 16 video frames of lingbot: %w", r.SDKName(), err)
	}
	sent := r.Drv.EventCount()
	if _, err := r.Drv.SendCommand(ctx, "start", map[string]any{}, nil, 15*time.Second); err != nil {
		return fmt.Errorf("send_command start: %s", ErrText(err))
	}
	if _, err := r.Drv.WaitEvent(ctx, sent, 10*time.Second, func(e driver.Event) bool {
		var m struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		return e.Name == "message" && json.Unmarshal(e.Data, &m) == nil && m.Type == "command_error" && m.Data["command"] == "start"
	}); err != nil {
		return fmt.Errorf("%s delivered no command_error for start before set_image: %w", r.SDKName(), err)
	}
	r.Note("lingbot: video frames counted, start refused before set_image")
	return nil
}

// checkLingBotCaps requires the capabilities event to be LingBot's.
func (r *Run) checkLingBotCaps(ctx context.Context, mark int) error {
	ev, err := r.Drv.WaitEvent(ctx, mark, 10*time.Second, driver.Named("capabilities"))
	if err != nil {
		return fmt.Errorf("%s reported no capabilities for lingbot: %w", r.SDKName(), err)
	}
	var caps struct {
		EmissionFPS float64 `json:"emission_fps"`
		Commands    []struct {
			Name string `json:"name"`
		} `json:"commands"`
	}
	if err := json.Unmarshal(ev.Data, &caps); err != nil {
		return fmt.Errorf("capabilities event %s: %w", ev.Data, err)
	}
	r.Note("lingbot: capabilities at %v fps with %d commands", caps.EmissionFPS, len(caps.Commands))
	if caps.EmissionFPS != 16 || !slices.ContainsFunc(caps.Commands, func(c struct {
		Name string `json:"name"`
	}) bool {
		return c.Name == "set_movement"
	}) {
		return fmt.Errorf("%s delivered capabilities %s: expected emission_fps 16 and set_movement", r.SDKName(), oneLine(string(ev.Data), 300))
	}
	return nil
}
