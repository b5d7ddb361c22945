package model_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
)

var lingbotCatalog = sync.OnceValue(func() *model.Catalog {
	cat, err := model.NewCatalog(mockserver.LingBotModel().Capabilities().Commands)
	if err != nil {
		panic(err)
	}
	return cat
})

// lingbotRuntime is a LingBot runtime fed one chunk per boundary call.
func lingbotRuntime(t *testing.T) (*model.Runtime, *recorder, func()) {
	t.Helper()
	rec := &recorder{}
	rt, err := model.New(model.Config{Catalog: lingbotCatalog(), Emit: rec.emit,
		Semantics: model.LingBotSemantics, ChunkFrames: mockserver.LingBotModel().ChunkFrames()})
	if err != nil {
		t.Fatal(err)
	}
	var seq uint32
	chunk := func() { // one full chunk, starting on its boundary
		for i := range mockserver.LingBotModel().ChunkFrames() {
			seq++
			rt.OnFrame(model.Frame{Seq: seq, ChunkBoundary: i == 0})
		}
	}
	return rt, rec, chunk
}

const seedRef = `{"image":{"upload_id":"upl_1","name":"seed.png","mime_type":"image/png","size":10}}`

func TestLingBotLifecycle(t *testing.T) {
	rt, rec, chunk := lingbotRuntime(t)
	if s := rt.State(); s.Phase != model.PhaseWaiting || s.Started {
		t.Fatalf("initial state: phase %q started %v", s.Phase, s.Started)
	}

	// start needs the seed image, then the prompt.
	submit(t, rt, "start", "")
	chunk()
	if e := lastOf(t, rec.take(), model.TypeCommandError); e.Data["code"] != model.CodeMissingImage {
		t.Fatalf("start with nothing set: %v", e.Data)
	}
	submit(t, rt, "set_image", seedRef)
	submit(t, rt, "start", "")
	chunk()
	msgs := rec.take()
	if e := lastOf(t, msgs, model.TypeCommandError); e.Data["code"] != model.CodeMissingPrompt {
		t.Fatalf("start with only an image: %v", e.Data)
	}
	if c := lastOf(t, msgs, model.TypeConditionsReady); c.Data["has_image"] != true || c.Data["has_prompt"] != false {
		t.Fatalf("conditions_ready after set_image: %v", c.Data)
	}

	submit(t, rt, "set_prompt", `{"prompt":"a forest"}`)
	submit(t, rt, "set_look_horizontal", `{"look_horizontal":"left"}`)
	submit(t, rt, "set_rotation_speed_deg", `{"rotation_speed_deg":5}`)
	submit(t, rt, "start", "")
	chunk()
	msgs = rec.take()
	want := []string{"prompt_accepted", "conditions_ready", "state", "state", "state", "generation_started", "state"}
	if got := types(msgs); !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	if st := msgs[len(msgs)-1].Data; st["state"] != model.PhaseGenerating || st["look_horizontal"] != "left" || st["rotation_speed_deg"] != 5.0 {
		t.Fatalf("state after start: %v", st)
	}

	// The run completes after LingBotRunChunks chunks and starts over.
	for range model.LingBotRunChunks {
		chunk()
	}
	msgs = rec.take()
	done := lastOf(t, msgs, model.TypeGenerationComplete)
	if done.Data["run"] != int64(0) || done.Data["chunks"] != int64(model.LingBotRunChunks) {
		t.Fatalf("generation_complete %v", done.Data)
	}
	if again := lastOf(t, msgs, model.TypeGenerationStarted); again.Data["run"] != int64(1) {
		t.Fatalf("restart %v", again.Data)
	}

	submit(t, rt, "pause", "")
	chunk()
	if s := rt.State(); s.Phase != model.PhasePaused || s.Running {
		t.Fatalf("after pause: phase %q running %v", s.Phase, s.Running)
	}
	submit(t, rt, "resume", "")
	chunk()
	if s := rt.State(); s.Phase != model.PhaseGenerating {
		t.Fatalf("after resume: phase %q", s.Phase)
	}
	submit(t, rt, "reset", "")
	chunk()
	s := rt.State()
	if s.Phase != model.PhaseWaiting || s.ImageSet || s.CurrentPrompt != nil || s.Controls["look_horizontal"] != "idle" {
		t.Fatalf("after reset: %+v", s)
	}
}

// TestLingBotBadArguments: the schema refuses what the docs do not allow,
// at Submit, naming the field.
func TestLingBotBadArguments(t *testing.T) {
	rt, _, _ := lingbotRuntime(t)
	for _, c := range []struct{ name, data string }{
		{"set_movement", `{"movement":"jump"}`},
		{"set_movement", `{}`},
		{"set_look_horizontal", `{"look_horizontal":0.5}`},
		{"set_look_vertical", `{"look_vertical":"left"}`},
		{"set_rotation_speed_deg", `{"rotation_speed_deg":-1}`},
		{"set_rotation_speed_deg", `{"rotation_speed_deg":"fast"}`},
		{"set_seed", `{"seed":1.5}`},
		{"set_image", `{"image":"seed.png"}`},
		{"set_prompt", `{"prompt":"x","extra":1}`},
		{"schedule_prompt", `{"prompt":"x","chunk":0}`}, // Helios's, not LingBot's
		{"save_snapshot", `{}`},
	} {
		_, err := rt.Submit(context.Background(), model.Command{Name: c.name, Data: decode(t, c.data)})
		if err == nil {
			t.Errorf("%s %s was accepted", c.name, c.data)
		}
	}
	if n := len(rt.State().Pending); n != 0 {
		t.Fatalf("%d refused commands were queued", n)
	}
}

// FuzzLingBotSubmit: random data for LingBot's commands never panics, every
// refusal is a *CommandError with a known code, and the runtime state is
// always one of the three documented phases.
func FuzzLingBotSubmit(f *testing.F) {
	names := lingbotCatalog().Names()
	f.Add(uint8(0), `{"prompt":"a"}`)
	f.Add(uint8(1), seedRef)
	f.Add(uint8(2), `{"movement":"forward"}`)
	f.Add(uint8(3), `{"look_horizontal":"left"}`)
	f.Add(uint8(5), `{"rotation_speed_deg":1e308}`)
	f.Add(uint8(7), `{}`)
	f.Add(uint8(200), `null`)
	rt, err := model.New(model.Config{Catalog: lingbotCatalog(), Semantics: model.LingBotSemantics,
		ChunkFrames: 4, MaxQueued: 8, Emit: func(model.Message) {}})
	if err != nil {
		f.Fatal(err)
	}
	var seq uint32
	f.Fuzz(func(t *testing.T, pick uint8, js string) {
		name := names[int(pick)%len(names)]
		var data map[string]any
		_ = json.Unmarshal([]byte(js), &data)
		if _, err := rt.Submit(context.Background(), model.Command{Name: name, Data: data}); err != nil {
			var ce *model.CommandError
			if !errors.As(err, &ce) || (ce.Code != model.CodeInvalidCommand && ce.Code != model.CodeQueueFull) {
				t.Fatalf("%s %s: error %v", name, js, err)
			}
		}
		for range 4 {
			seq++
			rt.OnFrame(model.Frame{Seq: seq, ChunkBoundary: seq%4 == 0})
		}
		switch p := rt.State().Phase; p {
		case model.PhaseWaiting, model.PhaseGenerating, model.PhasePaused:
		default:
			t.Fatalf("phase %q", p)
		}
	})
}
