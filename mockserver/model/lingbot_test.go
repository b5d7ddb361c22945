package model_test

import (
	"context"
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
