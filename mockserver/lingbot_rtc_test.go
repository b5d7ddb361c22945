package mockserver

import (
	"testing"

	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/wire"
)

// checkVideo verifies frames of one stream against a model's rate and size:
// every RTP timestamp step is a whole number of 90000/fps ticks (a late
// clock tick skips one: the frame sequence then steps 1 while the
// timestamp steps 2), most steps are exactly one tick, and every keyframe
// header carries the model's size. It returns the keyframes seen.
func checkVideo(t *testing.T, frames []stampedFrame, fps uint32, w, h int) int {
	t.Helper()
	step := uint32(media.ClockRate) / fps
	keys, single := 0, 0
	for i, f := range frames {
		if f.width != 0 || f.height != 0 {
			keys++
			if f.width != w || f.height != h {
				t.Fatalf("frame %d: keyframe of %dx%d, want %dx%d", i, f.width, f.height, w, h)
			}
		}
		if i == 0 {
			continue
		}
		prev := frames[i-1]
		if f.stamp.Seq <= prev.stamp.Seq {
			t.Fatalf("frame %d: seq %d after %d", i, f.stamp.Seq, prev.stamp.Seq)
		}
		d := f.rtpTS - prev.rtpTS
		if d == 0 || d%step != 0 {
			t.Fatalf("frame %d: RTP timestamp advanced %d, not a multiple of %d (%d fps)", i, d, step, fps)
		}
		if d == step {
			single++
		}
	}
	if steps := len(frames) - 1; single*10 < steps*9 {
		t.Fatalf("%d of %d RTP steps are one frame (%d) at %d fps, want at least 90%%", single, steps, step, fps)
	}
	return keys
}

// TestRTCLingBot: a LingBot session streams its own clip at 16 fps and
// 1664x960 while a Helios session on the same mock keeps 30 fps at 320x240,
// refuses start before set_image, generates after it and restarts its run
// by itself.
func TestRTCLingBot(t *testing.T) {
	ts := newRTCServer(t, nil, MediaPolicy{})
	lb := ts.client(t, rtcClientOpts{v1: true, model: "lingbot"})
	lb.connect(ts.APIKey())
	defer lb.close()
	he := ts.client(t, rtcClientOpts{v1: true})
	he.connect(ts.APIKey())
	defer he.close()
	ts.waitState(t, lb.sid, wire.StateActive)
	if got := ts.sessions.lookup(lb.sid).model.Name(); got != "reactor/lingbot" {
		t.Fatalf("session model %q, want reactor/lingbot", got)
	}

	lb.resume()
	he.resume()
	// 40 frames span at least two LingBot keyframes (one per 16 frames).
	if keys := checkVideo(t, lb.collectFrames(40), 16, 1664, 960); keys < 2 {
		t.Fatalf("LingBot: %d keyframes in 40 frames, want at least 2", keys)
	}
	if keys := checkVideo(t, he.collectFrames(70), 30, 320, 240); keys < 2 {
		t.Fatalf("Helios: %d keyframes in 70 frames, want at least 2", keys)
	}

	// start before set_image is refused at the chunk boundary.
	lb.command("set_prompt", map[string]any{"prompt": "a misty forest"}, nil)
	got := lb.waitMsgs("prompt_accepted, conditions_ready", isModelMsg(model.TypePromptAccepted), isModelMsg(model.TypeConditionsReady))
	if got[1].data["has_image"] != false || got[1].data["has_prompt"] != true {
		t.Fatalf("conditions_ready after set_prompt: %v", got[1].data)
	}
	lb.command("start", nil, nil)
	e := lb.waitMsg("command_error", isModelMsg(model.TypeCommandError))
	if e.data["command"] != "start" || e.data["code"] != model.CodeMissingImage {
		t.Fatalf("start before set_image: %v", e.data)
	}

	// A bad argument is refused with the field named.
	lb.command("set_movement", map[string]any{"movement": "jump"}, nil)
	e = lb.waitMsg("command_error", isModelMsg(model.TypeCommandError))
	if e.data["command"] != "set_movement" {
		t.Fatalf("set_movement jump: %v", e.data)
	}

	ref := lb.upload("seed.png", "image/png", tinyPNG)
	lb.fileUploaded(ref)
	lb.command("set_image", map[string]any{}, map[string]wire.FileRef{"image": ref})
	lb.waitMsgs("image_accepted, conditions_ready", isModelMsg(model.TypeImageAccepted), isModelMsg(model.TypeConditionsReady))
	lb.command("set_movement", map[string]any{"movement": "forward"}, nil)
	lb.command("start", nil, nil)
	lb.waitMsg("generation_started", isModelMsg(model.TypeGenerationStarted))
	st := lb.waitMsg("state GENERATING", func(m serverMsg) bool {
		return isModelMsg(model.TypeState)(m) && m.data["state"] == model.PhaseGenerating
	})
	if st.data["movement"] != "forward" {
		t.Fatalf("state: %v", st.data)
	}

	// The run completes after LingBotRunChunks chunks and starts over.
	done := lb.waitMsg("generation_complete", isModelMsg(model.TypeGenerationComplete))
	if done.data["chunks"] != float64(model.LingBotRunChunks) {
		t.Fatalf("generation_complete: %v", done.data)
	}
	again := lb.waitMsg("generation_started of run 1", isModelMsg(model.TypeGenerationStarted))
	if again.data["run"] != float64(1) {
		t.Fatalf("restart: %v", again.data)
	}
	if s := ts.rtc.lookup(lb.sid).rt.State(); s.Phase != model.PhaseGenerating || !s.Running {
		t.Fatalf("runtime after restart: phase %q running %v", s.Phase, s.Running)
	}
}
