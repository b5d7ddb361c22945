package model_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/wire"
)

// The Helios command schemas come from mockserver's model definition; the
// catalog is compiled once for the whole test binary, as the glue does once
// per model.
var heliosCatalog = sync.OnceValue(func() *model.Catalog {
	cat, err := model.NewCatalog(mockserver.HeliosModel().Capabilities().Commands)
	if err != nil {
		panic(err)
	}
	return cat
})

const chunk = 33

// recorder collects emitted messages.
type recorder struct {
	mu   sync.Mutex
	msgs []model.Message
}

func (r *recorder) emit(m model.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

// take returns the messages emitted so far and forgets them.
func (r *recorder) take() []model.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

func types(msgs []model.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Type
	}
	return out
}

// lastOf finds the last message of a type.
func lastOf(t *testing.T, msgs []model.Message, typ string) model.Message {
	t.Helper()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Type == typ {
			return msgs[i]
		}
	}
	t.Fatalf("no %s message among %v", typ, types(msgs))
	return model.Message{}
}

func newRuntime(t testing.TB, mutate func(*model.Config)) (*model.Runtime, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg := model.Config{Catalog: heliosCatalog(), Emit: rec.emit}
	if mutate != nil {
		mutate(&cfg)
	}
	rt, err := model.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt, rec
}

// source is a frame source like media.Stream: a boundary every 33 frames,
// starting with the first.
type source struct {
	rt  *model.Runtime
	seq uint32
	pos int
}

// frame feeds one frame and returns the id OnFrame reported.
func (s *source) frame() uint32 {
	s.seq++
	f := model.Frame{Seq: s.seq, Chunk: uint32(s.pos / chunk), ChunkBoundary: s.pos%chunk == 0}
	s.pos++
	return s.rt.OnFrame(f)
}

func (s *source) frames(n int) {
	for range n {
		s.frame()
	}
}

// toBoundary feeds frames up to and including the next chunk's first frame.
func (s *source) toBoundary() uint32 {
	for s.pos%chunk != 0 {
		s.frame()
	}
	return s.frame()
}

// decode parses JSON data the way the v0 glue does.
func decode(t testing.TB, js string) map[string]any {
	t.Helper()
	if js == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return m
}

func submit(t testing.TB, rt *model.Runtime, name, js string) uint32 {
	t.Helper()
	res, err := rt.Submit(context.Background(), model.Command{Name: name, Data: decode(t, js)})
	if err != nil {
		t.Fatalf("Submit(%s %s): %v", name, js, err)
	}
	if res.Reply != nil {
		t.Fatalf("Submit(%s) replied %+v, want a bodyless ack", name, res.Reply)
	}
	return res.CommandID
}

const refJSON = `{"upload_id":"u1","name":"cat.png","mime_type":"image/png","size":10}`

var ref = wire.FileRef{UploadID: "u1", Name: "cat.png", MimeType: "image/png", Size: 10}

func TestSubmitValidation(t *testing.T) {
	cases := []struct {
		name    string
		cmd     string
		data    string
		uploads map[string]wire.FileRef
		code    string   // "" = accepted
		msg     []string // substrings of the error message
	}{
		{name: "set_prompt", cmd: "set_prompt", data: `{"prompt":"a cat"}`},
		{name: "set_prompt empty", cmd: "set_prompt", data: `{"prompt":""}`},
		{name: "set_prompt missing", cmd: "set_prompt", data: `{}`, code: "invalid_command", msg: []string{"set_prompt", "(root)", "prompt"}},
		{name: "set_prompt nil data", cmd: "set_prompt", code: "invalid_command", msg: []string{"prompt"}},
		{name: "set_prompt number", cmd: "set_prompt", data: `{"prompt":1}`, code: "invalid_command", msg: []string{"/prompt", "want string"}},
		{name: "set_prompt extra", cmd: "set_prompt", data: `{"prompt":"a","style":"noir"}`, code: "invalid_command", msg: []string{"style"}},
		{name: "schedule_prompt", cmd: "schedule_prompt", data: `{"prompt":"a","chunk":3}`},
		{name: "schedule_prompt chunk 0", cmd: "schedule_prompt", data: `{"prompt":"a","chunk":0}`},
		{name: "schedule_prompt negative", cmd: "schedule_prompt", data: `{"prompt":"a","chunk":-1}`, code: "invalid_command", msg: []string{"/chunk"}},
		{name: "schedule_prompt fraction", cmd: "schedule_prompt", data: `{"prompt":"a","chunk":1.5}`, code: "invalid_command", msg: []string{"/chunk"}},
		{name: "schedule_prompt string chunk", cmd: "schedule_prompt", data: `{"prompt":"a","chunk":"3"}`, code: "invalid_command", msg: []string{"/chunk"}},
		{name: "schedule_prompt missing chunk", cmd: "schedule_prompt", data: `{"prompt":"a"}`, code: "invalid_command", msg: []string{"chunk"}},
		{name: "set_image nested", cmd: "set_image", data: `{"image":` + refJSON + `}`},
		{name: "set_image in uploads", cmd: "set_image", data: `{}`, uploads: map[string]wire.FileRef{"image": ref}},
		{name: "set_image string", cmd: "set_image", data: `{"image":"u1"}`, code: "invalid_command", msg: []string{"/image", "want object"}},
		{name: "set_image no upload_id", cmd: "set_image", data: `{"image":{"name":"a","mime_type":"image/png","size":1}}`, code: "invalid_command", msg: []string{"/image", "upload_id"}},
		{name: "set_image size string", cmd: "set_image", data: `{"image":{"upload_id":"u1","name":"a","mime_type":"image/png","size":"10"}}`, code: "invalid_command", msg: []string{"/image/size"}},
		{name: "set_image missing", cmd: "set_image", data: `{}`, code: "invalid_command", msg: []string{"image"}},
		{name: "set_image bad upload ref", cmd: "set_image", data: `{}`, uploads: map[string]wire.FileRef{"image": {UploadID: "u1"}}, code: "invalid_command", msg: []string{"/image/size"}},
		{name: "set_conditioning", cmd: "set_conditioning", data: `{"prompt":"a","image":` + refJSON + `}`},
		{name: "set_conditioning image in uploads", cmd: "set_conditioning", data: `{"prompt":"a"}`, uploads: map[string]wire.FileRef{"image": ref}},
		{name: "set_conditioning no image", cmd: "set_conditioning", data: `{"prompt":"a"}`, code: "invalid_command", msg: []string{"image"}},
		{name: "set_conditioning no prompt", cmd: "set_conditioning", data: `{"image":` + refJSON + `}`, code: "invalid_command", msg: []string{"prompt"}},
		{name: "set_image_strength 0", cmd: "set_image_strength", data: `{"image_strength":0}`},
		{name: "set_image_strength 1", cmd: "set_image_strength", data: `{"image_strength":1}`},
		{name: "set_image_strength 0.25", cmd: "set_image_strength", data: `{"image_strength":0.25}`},
		{name: "set_image_strength above", cmd: "set_image_strength", data: `{"image_strength":1.5}`, code: "invalid_command", msg: []string{"/image_strength"}},
		{name: "set_image_strength below", cmd: "set_image_strength", data: `{"image_strength":-0.1}`, code: "invalid_command", msg: []string{"/image_strength"}},
		{name: "set_image_strength string", cmd: "set_image_strength", data: `{"image_strength":"0.5"}`, code: "invalid_command", msg: []string{"/image_strength"}},
		{name: "set_sr_scale off", cmd: "set_sr_scale", data: `{"sr_scale":"off"}`},
		{name: "set_sr_scale 2x", cmd: "set_sr_scale", data: `{"sr_scale":"2x"}`},
		{name: "set_sr_scale 4x", cmd: "set_sr_scale", data: `{"sr_scale":"4x"}`},
		{name: "set_sr_scale 3x", cmd: "set_sr_scale", data: `{"sr_scale":"3x"}`, code: "invalid_command", msg: []string{"/sr_scale"}},
		{name: "set_sr_scale number", cmd: "set_sr_scale", data: `{"sr_scale":2}`, code: "invalid_command", msg: []string{"/sr_scale"}},
		{name: "set_seed", cmd: "set_seed", data: `{"seed":42}`},
		{name: "set_seed random", cmd: "set_seed", data: `{"seed":-1}`},
		{name: "set_seed integral float", cmd: "set_seed", data: `{"seed":7.0}`},
		{name: "set_seed below", cmd: "set_seed", data: `{"seed":-2}`, code: "invalid_command", msg: []string{"/seed"}},
		{name: "set_seed fraction", cmd: "set_seed", data: `{"seed":1.5}`, code: "invalid_command", msg: []string{"/seed"}},
		{name: "set_seed string", cmd: "set_seed", data: `{"seed":"1"}`, code: "invalid_command", msg: []string{"/seed", "want integer"}},
		{name: "set_seed beyond int64", cmd: "set_seed", data: `{"seed":1e300}`, code: "invalid_command", msg: []string{"/seed"}},
		{name: "start", cmd: "start", data: `{}`},
		{name: "start nil data", cmd: "start"},
		{name: "start extra", cmd: "start", data: `{"now":true}`, code: "invalid_command", msg: []string{"now"}},
		{name: "pause", cmd: "pause", data: `{}`},
		{name: "pause extra", cmd: "pause", data: `{"x":1}`, code: "invalid_command", msg: []string{"pause"}},
		{name: "resume", cmd: "resume", data: `{}`},
		{name: "reset", cmd: "reset", data: `{}`},
		{name: "reset extra", cmd: "reset", data: `{"hard":true}`, code: "invalid_command", msg: []string{"hard"}},
		{name: "unknown", cmd: "set_promt", data: `{"prompt":"a"}`, code: "invalid_command", msg: []string{"unknown command", "set_promt", "set_prompt"}},
		{name: "empty name", cmd: "", data: `{}`, code: "invalid_command", msg: []string{"unknown command"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resolved []wire.FileRef
			rt, rec := newRuntime(t, func(c *model.Config) {
				c.ResolveUpload = func(_ context.Context, r wire.FileRef) error {
					resolved = append(resolved, r)
					return nil
				}
			})
			res, err := rt.Submit(context.Background(), model.Command{Name: tc.cmd, Data: decode(t, tc.data), Uploads: tc.uploads})
			msgs := rec.take()
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Submit refused a valid command: %v", err)
				}
				if res.CommandID != 1 {
					t.Fatalf("first command got id %d, want 1", res.CommandID)
				}
				if len(msgs) != 0 {
					t.Fatalf("an accepted command emitted %v before any chunk boundary", types(msgs))
				}
				if strings.Contains(tc.data, "upload_id") || tc.uploads != nil {
					if len(resolved) != 1 || resolved[0] != ref {
						t.Fatalf("ResolveUpload saw %+v, want exactly %+v", resolved, ref)
					}
				}
				return
			}
			var ce *model.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("Submit error = %v (%T), want a *model.CommandError", err, err)
			}
			if ce.Code != tc.code {
				t.Fatalf("code = %q, want %q (message %q)", ce.Code, tc.code, ce.Message)
			}
			for _, s := range tc.msg {
				if !strings.Contains(ce.Message, s) {
					t.Errorf("message %q does not mention %q", ce.Message, s)
				}
			}
			if res.CommandID != 0 {
				t.Errorf("refused command got id %d", res.CommandID)
			}
			if len(resolved) != 0 {
				t.Errorf("ResolveUpload called for a command refused by its schema")
			}
			if len(msgs) != 1 || msgs[0].Type != model.TypeCommandError {
				t.Fatalf("emitted %v, want one command_error", types(msgs))
			}
			d := msgs[0].Data
			if d["code"] != tc.code || d["message"] != ce.Message || d["command"] != tc.cmd {
				t.Errorf("command_error data = %v", d)
			}
		})
	}
}

// json.Number (a decoder with UseNumber) must validate like float64.
func TestSubmitJSONNumber(t *testing.T) {
	rt, _ := newRuntime(t, nil)
	for _, js := range []string{`{"seed":5}`, `{"seed":-1}`} {
		dec := json.NewDecoder(strings.NewReader(js))
		dec.UseNumber()
		var data map[string]any
		if err := dec.Decode(&data); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Submit(context.Background(), model.Command{Name: "set_seed", Data: data}); err != nil {
			t.Fatalf("%s: %v", js, err)
		}
	}
	src := &source{rt: rt}
	src.frame()
	if got := rt.State().Seed; got != -1 {
		t.Fatalf("seed = %d, want -1", got)
	}
}

func TestAppliesOnlyAtNextBoundary(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	src.frames(5) // mid-chunk
	rec.take()
	id := submit(t, rt, "set_prompt", `{"prompt":"a cat"}`)
	if id != 1 {
		t.Fatalf("id = %d, want 1", id)
	}
	for src.pos%chunk != 0 {
		if got := src.frame(); got != 0 {
			t.Fatalf("frame %d (inside the chunk) reports applied id %d", src.seq, got)
		}
		if rt.AppliedCommandID() != 0 || rt.State().CurrentPrompt != nil {
			t.Fatalf("command took effect at frame %d, before the chunk boundary", src.seq)
		}
	}
	if msgs := rec.take(); len(msgs) != 0 {
		t.Fatalf("emitted %v before the boundary", types(msgs))
	}
	if got := src.frame(); got != 1 {
		t.Fatalf("boundary frame reports applied id %d, want 1", got)
	}
	if rt.AppliedCommandID() != 1 {
		t.Fatalf("AppliedCommandID = %d, want 1", rt.AppliedCommandID())
	}
	msgs := rec.take()
	if !slices.Equal(types(msgs), []string{"state"}) {
		t.Fatalf("emitted %v, want [state]", types(msgs))
	}
	if msgs[0].Data["current_prompt"] != "a cat" {
		t.Fatalf("state = %v", msgs[0].Data)
	}
	st := rt.State()
	if len(st.Pending) != 0 || st.LastCommandID != 1 || st.AppliedCommandID != 1 {
		t.Fatalf("snapshot = %+v", st)
	}
}

func TestOrderAndIDs(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	src.frame()
	var ids []uint32
	for i, p := range []string{"one", "two", "three"} {
		ids = append(ids, submit(t, rt, "set_prompt", fmt.Sprintf(`{"prompt":%q}`, p)))
		if ids[i] != uint32(i+1) {
			t.Fatalf("ids = %v, want 1, 2, 3", ids)
		}
	}
	st := rt.State()
	if len(st.Pending) != 3 || st.Pending[0].ID != 1 || st.Pending[2].Name != "set_prompt" {
		t.Fatalf("pending = %+v", st.Pending)
	}
	if got := src.toBoundary(); got != 3 {
		t.Fatalf("applied id at boundary = %d, want 3", got)
	}
	msgs := rec.take()
	var prompts []any
	for _, m := range msgs {
		prompts = append(prompts, m.Data["current_prompt"])
	}
	if !slices.Equal(prompts, []any{"one", "two", "three"}) {
		t.Fatalf("states carry prompts %v, want one, two, three in order", prompts)
	}
	if id := submit(t, rt, "start", ""); id != 4 {
		t.Fatalf("next id = %d, want 4", id)
	}
}

func TestStartWithoutPrompt(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	id := submit(t, rt, "start", `{}`)
	src.frame()
	msgs := rec.take()
	if !slices.Equal(types(msgs), []string{"command_error"}) {
		t.Fatalf("emitted %v, want [command_error]", types(msgs))
	}
	d := msgs[0].Data
	if d["command"] != "start" || d["code"] != model.CodeMissingPrompt || d["command_id"] != int64(id) {
		t.Fatalf("command_error = %v", d)
	}
	if rt.State().Started {
		t.Fatal("started without a prompt")
	}
	if rt.AppliedCommandID() != id {
		t.Fatalf("AppliedCommandID = %d, want %d (refused at the boundary still counts as processed)", rt.AppliedCommandID(), id)
	}
}

func TestGenerationLifecycle(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	src.frames(10)
	submit(t, rt, "set_prompt", `{"prompt":"a cat"}`)
	submit(t, rt, "start", `{}`)
	src.toBoundary()
	msgs := rec.take()
	if want := []string{"state", "generation_started", "state"}; !slices.Equal(types(msgs), want) {
		t.Fatalf("emitted %v, want %v", types(msgs), want)
	}
	s := msgs[2].Data
	if s["started"] != true || s["running"] != true || s["paused"] != false || s["current_chunk"] != int64(0) {
		t.Fatalf("state after start = %v", s)
	}

	// The chunk that began on the start frame completes at the next boundary.
	src.frames(chunk - 1)
	if msgs := rec.take(); len(msgs) != 0 {
		t.Fatalf("emitted %v inside a chunk", types(msgs))
	}
	src.frame()
	msgs = rec.take()
	if want := []string{"chunk_complete", "state"}; !slices.Equal(types(msgs), want) {
		t.Fatalf("emitted %v, want %v", types(msgs), want)
	}
	if msgs[0].Data["chunk"] != int64(0) {
		t.Fatalf("chunk_complete = %v, want chunk 0", msgs[0].Data)
	}
	if s := msgs[1].Data; s["current_chunk"] != int64(1) || s["current_frame"] != int64(chunk) {
		t.Fatalf("state after chunk 0 = %v", s)
	}

	// Pause lands after the chunk in progress completes.
	src.frames(3)
	submit(t, rt, "pause", `{}`)
	src.toBoundary()
	msgs = rec.take()
	if want := []string{"chunk_complete", "state", "generation_paused", "state"}; !slices.Equal(types(msgs), want) {
		t.Fatalf("emitted %v, want %v", types(msgs), want)
	}
	if s := msgs[3].Data; s["running"] != false || s["paused"] != true || s["started"] != true || s["current_chunk"] != int64(2) {
		t.Fatalf("state after pause = %v", s)
	}

	// Nothing happens while paused; set_prompt applies to the chunk resume generates.
	src.frames(2 * chunk)
	if msgs := rec.take(); len(msgs) != 0 {
		t.Fatalf("emitted %v while paused", types(msgs))
	}
	submit(t, rt, "set_prompt", `{"prompt":"a dog"}`)
	submit(t, rt, "resume", `{}`)
	src.toBoundary()
	msgs = rec.take()
	if want := []string{"state", "state"}; !slices.Equal(types(msgs), want) {
		t.Fatalf("emitted %v, want %v", types(msgs), want)
	}
	if s := msgs[1].Data; s["running"] != true || s["current_prompt"] != "a dog" || s["current_chunk"] != int64(2) || s["current_frame"] != int64(2*chunk) {
		t.Fatalf("state after resume = %v", s)
	}
	src.toBoundary()
	msgs = rec.take()
	if msgs[0].Type != "chunk_complete" || msgs[0].Data["chunk"] != int64(2) {
		t.Fatalf("after resume emitted %v, want chunk_complete of chunk 2", msgs)
	}

	// Reset clears prompt, image and position, keeps the settings.
	submit(t, rt, "set_seed", `{"seed":9}`)
	submit(t, rt, "set_image", `{"image":`+refJSON+`}`)
	src.toBoundary()
	submit(t, rt, "reset", `{}`)
	src.toBoundary()
	rec.take()
	st := rt.State()
	if st.Started || st.Running || st.Paused || st.CurrentPrompt != nil || st.ImageSet || st.CurrentChunk != 0 || st.CurrentFrame != 0 || st.Seed != 9 {
		t.Fatalf("state after reset = %+v", st)
	}
	src.frames(3 * chunk)
	if msgs := rec.take(); len(msgs) != 0 {
		t.Fatalf("emitted %v after reset", types(msgs))
	}
}

func TestSettersAndImage(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	st := rt.State()
	if st.SRScale != model.DefaultSRScale || st.Seed != model.DefaultSeed || st.ImageStrength != model.DefaultImageStrength {
		t.Fatalf("defaults = %+v", st)
	}
	submit(t, rt, "set_sr_scale", `{"sr_scale":"4x"}`)
	submit(t, rt, "set_seed", `{"seed":1234}`)
	submit(t, rt, "set_image_strength", `{"image_strength":0.75}`)
	if _, err := rt.Submit(context.Background(), model.Command{
		Name: "set_conditioning", Data: decode(t, `{"prompt":"a cat"}`), Uploads: map[string]wire.FileRef{"image": ref},
	}); err != nil {
		t.Fatal(err)
	}
	src.frame()
	msgs := rec.take()
	if want := []string{"state", "state", "state", "image_accepted", "state"}; !slices.Equal(types(msgs), want) {
		t.Fatalf("emitted %v, want %v", types(msgs), want)
	}
	ia := msgs[3].Data
	if ia["command"] != "set_conditioning" || ia["image"].(map[string]any)["upload_id"] != "u1" {
		t.Fatalf("image_accepted = %v", ia)
	}
	s := msgs[4].Data
	if s["sr_scale"] != "4x" || s["seed"] != int64(1234) || s["image_strength"] != 0.75 || s["image_set"] != true || s["current_prompt"] != "a cat" {
		t.Fatalf("state = %v", s)
	}
	st = rt.State()
	if st.Image == nil || *st.Image != ref {
		t.Fatalf("snapshot image = %+v", st.Image)
	}
	// Seed is read at start.
	submit(t, rt, "start", "")
	src.toBoundary()
	if st := rt.State(); st.ActiveSeed != 1234 {
		t.Fatalf("active seed = %d, want 1234", st.ActiveSeed)
	}
	// Every message encodes as JSON.
	for _, m := range msgs {
		if _, err := json.Marshal(m.Data); err != nil {
			t.Fatalf("%s does not encode: %v", m.Type, err)
		}
	}
}

func TestSchedulePrompt(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	// A prompt scheduled at chunk 0 satisfies start; one for chunk 2 waits.
	submit(t, rt, "schedule_prompt", `{"prompt":"first","chunk":0}`)
	submit(t, rt, "schedule_prompt", `{"prompt":"third","chunk":2}`)
	submit(t, rt, "start", "")
	src.frame()
	st := rt.State()
	if !st.Running || *st.CurrentPrompt != "first" || len(st.ScheduledPrompts) != 1 {
		t.Fatalf("after start: %+v", st)
	}
	rec.take()
	src.toBoundary() // chunk 0 done, chunk 1 begins
	if p := lastOf(t, rec.take(), "state").Data["current_prompt"]; p != "first" {
		t.Fatalf("chunk 1 prompt = %v, want first", p)
	}
	src.toBoundary() // chunk 1 done, chunk 2 begins with the scheduled prompt
	msgs := rec.take()
	if s := lastOf(t, msgs, "state").Data; s["current_prompt"] != "third" || s["current_chunk"] != int64(2) {
		t.Fatalf("chunk 2 state = %v", s)
	}
	if len(rt.State().ScheduledPrompts) != 0 {
		t.Fatal("the applied scheduled prompt is still pending")
	}
	// A past chunk applies at the next boundary.
	submit(t, rt, "schedule_prompt", `{"prompt":"late","chunk":1}`)
	src.toBoundary()
	if p := lastOf(t, rec.take(), "state").Data["current_prompt"]; p != "late" {
		t.Fatalf("late prompt = %v", p)
	}
	// The schedule is bounded.
	for i := range model.MaxScheduledPrompts + 1 {
		submit(t, rt, "schedule_prompt", fmt.Sprintf(`{"prompt":"p","chunk":%d}`, 1000+i))
	}
	src.toBoundary()
	if ce := lastOf(t, rec.take(), "command_error").Data; ce["code"] != model.CodeScheduleFull {
		t.Fatalf("overflow = %v", ce)
	}
	if n := len(rt.State().ScheduledPrompts); n != model.MaxScheduledPrompts {
		t.Fatalf("%d scheduled prompts, want %d", n, model.MaxScheduledPrompts)
	}
}

// Without boundary flags from the frame source, a chunk ends after
// ChunkFrames frames.
func TestChunkFramesBound(t *testing.T) {
	rt, rec := newRuntime(t, func(c *model.Config) { c.ChunkFrames = 4 })
	submit(t, rt, "set_prompt", `{"prompt":"x"}`)
	submit(t, rt, "start", "")
	var applied []uint32
	for i := range 9 {
		applied = append(applied, rt.OnFrame(model.Frame{Seq: uint32(i + 1), ChunkBoundary: i == 0}))
	}
	if applied[0] != 2 {
		t.Fatalf("applied ids %v", applied)
	}
	var done []any
	for _, m := range rec.take() {
		if m.Type == "chunk_complete" {
			done = append(done, m.Data["chunk"])
		}
	}
	if !slices.Equal(done, []any{int64(0), int64(1)}) {
		t.Fatalf("chunks completed: %v, want 0 and 1 after 9 frames of 4-frame chunks", done)
	}
}

func TestUploadResolution(t *testing.T) {
	t.Run("resolved", func(t *testing.T) {
		var got wire.FileRef
		rt, _ := newRuntime(t, func(c *model.Config) {
			c.ResolveUpload = func(ctx context.Context, r wire.FileRef) error {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("ResolveUpload got a context without a deadline")
				}
				got = r
				return nil
			}
		})
		submit(t, rt, "set_image", `{"image":`+refJSON+`}`)
		if got != ref {
			t.Fatalf("resolved %+v, want %+v", got, ref)
		}
	})
	refused := func(t *testing.T, resolve func(context.Context, wire.FileRef) error, wantMsg string) {
		t.Helper()
		rt, rec := newRuntime(t, func(c *model.Config) {
			c.ResolveUpload = resolve
			c.UploadWait = 20 * time.Millisecond
		})
		_, err := rt.Submit(context.Background(), model.Command{Name: "set_image", Uploads: map[string]wire.FileRef{"image": ref}})
		var ce *model.CommandError
		if !errors.As(err, &ce) || ce.Code != model.CodeUnresolvedUpload {
			t.Fatalf("Submit error = %v, want unresolved_upload", err)
		}
		for _, s := range []string{"set_image", "/image", "u1", wantMsg} {
			if !strings.Contains(ce.Message, s) {
				t.Errorf("message %q does not mention %q", ce.Message, s)
			}
		}
		if msgs := rec.take(); len(msgs) != 1 || msgs[0].Data["code"] != model.CodeUnresolvedUpload {
			t.Fatalf("emitted %v", msgs)
		}
		if st := rt.State(); st.LastCommandID != 0 || len(st.Pending) != 0 {
			t.Fatalf("refused command was queued: %+v", st)
		}
	}
	t.Run("timeout", func(t *testing.T) {
		refused(t, func(ctx context.Context, _ wire.FileRef) error {
			<-ctx.Done()
			return fmt.Errorf("upload has no bytes yet: %w", ctx.Err())
		}, "deadline exceeded")
	})
	t.Run("missing", func(t *testing.T) {
		refused(t, func(context.Context, wire.FileRef) error { return errors.New("upload not found") }, "upload not found")
	})
	t.Run("resolver ignores its context", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		refused(t, func(context.Context, wire.FileRef) error { <-block; return nil }, "not complete after")
	})
}

func TestQueueFull(t *testing.T) {
	rt, rec := newRuntime(t, func(c *model.Config) { c.MaxQueued = 2 })
	submit(t, rt, "pause", "")
	submit(t, rt, "pause", "")
	_, err := rt.Submit(context.Background(), model.Command{Name: "pause"})
	var ce *model.CommandError
	if !errors.As(err, &ce) || ce.Code != model.CodeQueueFull {
		t.Fatalf("third command: %v, want queue_full", err)
	}
	rec.take()
	rt.OnFrame(model.Frame{Seq: 1, ChunkBoundary: true})
	if id := submit(t, rt, "pause", ""); id != 3 {
		t.Fatalf("id after drain = %d, want 3", id)
	}
}

func TestSchema(t *testing.T) {
	doc := mockserver.HeliosModel().OpenAPI()
	rt, _ := newRuntime(t, func(c *model.Config) { c.Schema = doc })
	got := rt.Schema()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(doc)
	if !bytes.Equal(a, b) {
		t.Fatal("Schema() differs from Config.Schema")
	}
	got["openapi"] = "changed"
	if doc["openapi"] == "changed" {
		t.Fatal("Schema() shares the configured document")
	}

	rt, _ = newRuntime(t, nil)
	paths, _ := rt.Schema()["paths"].(map[string]any)
	for _, n := range heliosCatalog().Names() {
		if _, ok := paths["/events/"+n]; !ok {
			t.Errorf("fallback schema lacks /events/%s", n)
		}
	}
}

func TestCatalog(t *testing.T) {
	cat := heliosCatalog()
	if got := cat.FileRefParams("set_conditioning"); !slices.Equal(got, []string{"image"}) {
		t.Fatalf("FileRefParams(set_conditioning) = %v", got)
	}
	if err := cat.Validate("set_prompt", map[string]any{"prompt": "x"}); err != nil {
		t.Fatalf("Validate(valid) = %v", err)
	}
	if err := cat.Validate("set_prompt", nil); err == nil {
		t.Fatal("Validate(missing prompt) = nil")
	}
	if err := cat.Validate("nope", nil); err == nil {
		t.Fatal("Validate(unknown) = nil")
	}
	if got := cat.FileRefParams("set_prompt"); len(got) != 0 {
		t.Fatalf("FileRefParams(set_prompt) = %v", got)
	}
	if _, err := model.NewCatalog([]wire.CommandDef{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Fatal("duplicate names accepted")
	}
	if _, err := model.NewCatalog([]wire.CommandDef{{Name: "x", Schema: map[string]any{"$ref": "https://example.com/s.json"}}}); err == nil {
		t.Fatal("a schema with an external $ref compiled (it must not be fetched)")
	}
	if _, err := model.NewCatalog([]wire.CommandDef{{Name: "x", Schema: map[string]any{"type": 12}}}); err == nil {
		t.Fatal("an invalid schema compiled")
	}
	// A command the runtime has no semantics for is accepted and applied as a no-op.
	rt, err := model.New(model.Config{Commands: []wire.CommandDef{{Name: "wave"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Submit(context.Background(), model.Command{Name: "wave", Data: map[string]any{"hand": "left"}}); err != nil {
		t.Fatal(err)
	}
	if rt.OnFrame(model.Frame{ChunkBoundary: true}) != 1 {
		t.Fatal("no-op command not applied")
	}
}

// Emit may call back into the runtime, including Submit, without deadlock.
func TestEmitReentrant(t *testing.T) {
	var rt *model.Runtime
	var mu sync.Mutex
	var seen []string
	rt, err := model.New(model.Config{Catalog: heliosCatalog(), Emit: func(m model.Message) {
		_ = rt.State()
		mu.Lock()
		seen = append(seen, m.Type)
		mu.Unlock()
		if m.Type == model.TypeGenerationStarted {
			_, _ = rt.Submit(context.Background(), model.Command{Name: "bogus"})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	submit(t, rt, "set_prompt", `{"prompt":"x"}`)
	submit(t, rt, "start", "")
	rt.OnFrame(model.Frame{ChunkBoundary: true})
	want := []string{"state", "generation_started", "state", "command_error"}
	if !slices.Equal(seen, want) {
		t.Fatalf("emitted %v, want %v", seen, want)
	}
}

// Submit from several goroutines while frames tick; run with -race.
func TestConcurrentSubmitAndFrames(t *testing.T) {
	// The queue may hold everything: the ticker goroutine may lag behind.
	rt, rec := newRuntime(t, func(c *model.Config) { c.MaxQueued = 1000 })
	const workers, each = 8, 50
	var wg sync.WaitGroup
	ids := make(chan uint32, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				name, js := "set_prompt", fmt.Sprintf(`{"prompt":"w%d-%d"}`, w, i)
				switch i % 5 {
				case 1:
					name, js = "start", ""
				case 2:
					name, js = "set_sr_scale", `{"sr_scale":"2x"}`
				case 3:
					name, js = "set_seed", `{"seed":"bad"}` // refused
				}
				res, err := rt.Submit(context.Background(), model.Command{Name: name, Data: decode(t, js)})
				if err == nil {
					ids <- res.CommandID
				}
				_ = rt.State()
			}
		}()
	}
	stop := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		src := &source{rt: rt}
		for i := 0; i < 1_000_000; i++ { // bounded; stops once the workers are done
			select {
			case <-stop:
				src.toBoundary()
				return
			default:
			}
			src.frame()
		}
	}()
	wg.Wait()
	close(stop)
	<-ticked
	close(ids)
	var got []uint32
	for id := range ids {
		got = append(got, id)
	}
	slices.Sort(got)
	want := workers * each * 4 / 5
	if len(got) != want {
		t.Fatalf("%d commands accepted, want %d", len(got), want)
	}
	for i, id := range got {
		if id != uint32(i+1) {
			t.Fatalf("ids are not 1..%d without gaps: %v", want, got[:i+1])
		}
	}
	if rt.AppliedCommandID() != uint32(want) {
		t.Fatalf("AppliedCommandID = %d, want %d after a final boundary", rt.AppliedCommandID(), want)
	}
	var errs int
	for _, m := range rec.take() {
		if m.Type == model.TypeCommandError {
			errs++
		}
	}
	if errs != workers*each/5 {
		t.Fatalf("%d command_error messages, want %d", errs, workers*each/5)
	}
}

// FuzzSubmit: random data for random command names never panics, and every
// refusal is a *CommandError with a known code.
func FuzzSubmit(f *testing.F) {
	names := heliosCatalog().Names()
	f.Add(uint8(0), `{"prompt":"a"}`)
	f.Add(uint8(1), `{"prompt":"a","chunk":1e20}`)
	f.Add(uint8(2), `{"image":{"upload_id":"u","name":"n","mime_type":"m","size":1}}`)
	f.Add(uint8(4), `{"image_strength":0.5}`)
	f.Add(uint8(6), `{"seed":-1}`)
	f.Add(uint8(200), `{}`)
	f.Add(uint8(3), `[1,2]`)
	f.Add(uint8(3), `null`)
	rt, err := model.New(model.Config{
		Catalog: heliosCatalog(), MaxQueued: 8, Emit: func(model.Message) {},
		ResolveUpload: func(_ context.Context, r wire.FileRef) error {
			if strings.HasPrefix(r.UploadID, "x") {
				return errors.New("unknown upload")
			}
			return nil
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	var seq uint32
	f.Fuzz(func(t *testing.T, pick uint8, js string) {
		name := fmt.Sprintf("cmd%d", pick)
		if int(pick) < len(names)*2 {
			name = names[int(pick)%len(names)]
		}
		var data map[string]any
		_ = json.Unmarshal([]byte(js), &data) // non-objects leave data nil
		_, err := rt.Submit(context.Background(), model.Command{Name: name, Data: data})
		if err != nil {
			var ce *model.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is a %T, not a *CommandError", err, err)
			}
			switch ce.Code {
			case model.CodeInvalidCommand, model.CodeUnresolvedUpload, model.CodeQueueFull,
				// One runtime serves every input, so saves accumulate past
				// the limit and rewinds name indexes never saved.
				model.CodeSnapshotLimit, model.CodeUnknownSnapshot:
			default:
				t.Fatalf("unexpected code %q", ce.Code)
			}
		}
		seq++
		rt.OnFrame(model.Frame{Seq: seq, ChunkBoundary: seq%3 == 0})
	})
}

func BenchmarkOnFrame(b *testing.B) {
	for _, running := range []bool{false, true} {
		b.Run(fmt.Sprintf("running=%v", running), func(b *testing.B) {
			rt, _ := newRuntime(b, func(c *model.Config) { c.Emit = func(model.Message) {} })
			if running {
				submit(b, rt, "set_prompt", `{"prompt":"x"}`)
				submit(b, rt, "start", "")
			}
			src := &source{rt: rt}
			src.frame()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				src.frame()
			}
		})
	}
}

func BenchmarkSubmit(b *testing.B) {
	cmds := []struct{ name, js string }{
		{"set_prompt", `{"prompt":"a cat on a skateboard"}`},
		{"set_image", `{"image":` + refJSON + `}`},
		{"set_seed", `{"seed":"bad"}`},
	}
	for _, c := range cmds {
		b.Run(c.name, func(b *testing.B) {
			rt, _ := newRuntime(b, func(cfg *model.Config) {
				cfg.Emit = func(model.Message) {}
				cfg.ResolveUpload = func(context.Context, wire.FileRef) error { return nil }
			})
			data := decode(b, c.js)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				_, _ = rt.Submit(context.Background(), model.Command{Name: c.name, Data: data})
				if n++; n%64 == 0 {
					rt.OnFrame(model.Frame{ChunkBoundary: true}) // keep the queue short
				}
			}
		})
	}
}
