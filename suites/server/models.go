package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/wire"
)

// LingBot, PROTOCOL.md §9.6 (docs.reactor.inc/model-api-reference/lingbot):
// its names, capabilities, frame rate and the seed-image rule.

// lingbotNames are the names the LingBot docs and typed SDK send.
var lingbotNames = []string{"reactor/lingbot", "lingbot", "@reactor-models/lingbot"}

// lingbotCommands are the commands the LingBot schema page lists.
var lingbotCommands = []string{"set_prompt", "set_image", "set_movement", "set_look_horizontal",
	"set_look_vertical", "set_rotation_speed_deg", "set_seed", "start", "pause", "resume", "reset"}

const (
	lingbotFPS = 16
	// lingbotFrames is how many complete frames the rate check reads.
	lingbotFrames = 24
)

func init() {
	register(Case{ID: "model/1", Section: "9.6", Check: modelLingBotNames,
		Requirement: "POST /sessions with each LingBot name (reactor/lingbot, lingbot, @reactor-models/lingbot) MUST create a session whose capabilities advertise main_video, emission_fps 16 and every documented LingBot command"})
	register(Case{ID: "model/2", Section: "9.6", Check: modelLingBotRate,
		Requirement: "a LingBot session's main_video MUST be paced at 16 fps: the median RTP timestamp step per frame MUST be 90000/16 = 5625 (±10%)"})
	register(Case{ID: "model/3", Section: "9.6", Check: modelLingBotNeedsImage,
		Requirement: "LingBot start before set_image MUST be refused with a command_error naming start; after set_image and set_prompt, start MUST emit generation_started"})
}

// withModel points the client at another model than the target's.
func withModel(name string) func(*client.Config) {
	return func(c *client.Config) { c.Model = name }
}

func modelLingBotNames(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	for _, name := range lingbotNames {
		body := r.createBody()
		body.Model = &wire.ModelRef{Name: name}
		resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), body)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated {
			return fail(resp, "model %q: expected 201 Created, received %s", name, statusName(resp.Status))
		}
		var sr wire.SessionResponse
		if err := resp.JSON(&sr); err != nil {
			return err
		}
		ready, resp, err := r.WaitReady(ctx, sr.SessionID)
		if err != nil {
			return err
		}
		if err := checkLingBotCaps(ready.Capabilities); err != nil {
			return fail(resp, "model %q: %v", name, err)
		}
	}
	return nil
}

func checkLingBotCaps(caps *wire.Capabilities) error {
	if caps == nil {
		return fmt.Errorf("no capabilities")
	}
	var p []string
	if !slices.ContainsFunc(caps.Tracks, func(t wire.TrackSpec) bool {
		return t.Name == "main_video" && t.Kind == "video" && t.Direction == wire.DirectionRecvOnly
	}) {
		p = append(p, "no recvonly video track main_video")
	}
	if caps.EmissionFPS == nil || *caps.EmissionFPS != lingbotFPS {
		p = append(p, fmt.Sprintf("emission_fps is %v, expected %d", jsonOf(caps.EmissionFPS), lingbotFPS))
	}
	have := map[string]bool{}
	for _, c := range caps.Commands {
		have[c.Name] = true
	}
	for _, c := range lingbotCommands {
		if !have[c] {
			p = append(p, "command "+c+" is missing")
		}
	}
	if len(p) > 0 {
		return fmt.Errorf("capabilities: %v", p)
	}
	return nil
}

func modelLingBotRate(ctx context.Context, r *Run) error {
	log := &frameLog{}
	c, err := r.connect(ctx, client.CodecV1, true, log, withModel(lingbotNames[0]))
	if err != nil {
		return err
	}
	track, err := recvTrack(c)
	if err != nil {
		return err
	}
	ok, err := waitFor(ctx, firstFrameWait+2*time.Second, func() bool { return len(log.complete(track)) >= lingbotFrames })
	if err != nil {
		return err
	}
	frames := log.complete(track)
	if !ok {
		return fmt.Errorf("LingBot: %d complete frames on %q within %s, want %d; per-track receive stats: %s",
			len(frames), track, firstFrameWait+2*time.Second, lingbotFrames, trackStats(c))
	}
	var steps []float64
	for i := 1; i < len(frames); i++ {
		a, b := frames[i-1], frames[i]
		n := 1.0
		if a.Stamp != nil && b.Stamp != nil && b.Stamp.Seq > a.Stamp.Seq {
			n = float64(b.Stamp.Seq - a.Stamp.Seq) // frames lost in between
		}
		steps = append(steps, float64(b.RTPTimestamp-a.RTPTimestamp)/n)
	}
	sort.Float64s(steps)
	median := steps[len(steps)/2]
	const want = 90000.0 / lingbotFPS
	if median < want*0.9 || median > want*1.1 {
		return fmt.Errorf("LingBot main_video: median RTP step %.0f per frame (%.1f fps), expected %.0f (16 fps); steps %v",
			median, 90000/median, want, steps)
	}
	return nil
}

func modelLingBotNeedsImage(ctx context.Context, r *Run) error {
	log := &frameLog{}
	c, err := r.connect(ctx, client.CodecV1, true, log, withModel(lingbotNames[0]))
	if err != nil {
		return err
	}
	if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "a misty forest at dawn"}); err != nil {
		return fmt.Errorf("set_prompt: %w", err)
	}
	// A correlated refusal is as good as a command_error message.
	_, err = c.SendCommand(ctx, "start", nil)
	var ce *client.Error
	if err != nil && !errors.As(err, &ce) {
		return fmt.Errorf("start: %w", err)
	}
	if ce == nil {
		refused, err := waitFor(ctx, 10*time.Second, func() bool { return hasAppMessage(log, "command_error", "command", "start") })
		if err != nil {
			return err
		}
		if !refused {
			return fmt.Errorf("start before set_image: no command_error naming start within 10 s; model messages: %s", messageTypes(log))
		}
	}
	ref, err := c.Upload(ctx, "seed.png", "image/png", payload(256))
	if err != nil {
		return fmt.Errorf("uploading the seed image: %w", err)
	}
	if _, err := c.SendCommand(ctx, "set_image", map[string]any{"image": ref}); err != nil {
		return fmt.Errorf("set_image: %w", err)
	}
	if _, err := c.SendCommand(ctx, "start", nil); err != nil {
		return fmt.Errorf("start after set_image: %w", err)
	}
	started, err := waitFor(ctx, 10*time.Second, func() bool { return hasAppMessage(log, "generation_started", "", nil) })
	if err != nil {
		return err
	}
	if !started {
		return fmt.Errorf("start after set_image and set_prompt: no generation_started within 10 s; model messages: %s", messageTypes(log))
	}
	return nil
}

// hasAppMessage reports a model message of typ (with data[key] == val when
// key is set).
func hasAppMessage(log *frameLog, typ, key string, val any) bool {
	for _, m := range log.appMessages() {
		if m.Type == typ && (key == "" || m.Data[key] == val) {
			return true
		}
	}
	return false
}

func messageTypes(log *frameLog) string {
	var out []string
	for _, m := range log.appMessages() {
		out = append(out, m.Type)
	}
	return jsonOf(out)
}
