package model

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Helios semantics (PLATFORM.md §6). Submit turns validated data into an op
// (all decoding happens there); OnFrame only applies ops.

// Model message types the runtime emits (application scope).
const (
	TypeState             = "state"
	TypeChunkComplete     = "chunk_complete"
	TypeGenerationStarted = "generation_started"
	TypeGenerationPaused  = "generation_paused"
	// TypeImageAccepted follows set_image and set_conditioning; the
	// platform's exact type string is unconfirmed (PLATFORM.md §6).
	TypeImageAccepted = "image_accepted"
	// TypeCommandError carries {command, code, message[, command_id]} for a
	// refused command; the platform's exact type string is unconfirmed.
	TypeCommandError = "command_error"
)

// Defaults of the settable values until a command changes them. The
// platform documents none of them; these are the mock's choices.
const (
	DefaultSRScale       = "off"
	DefaultSeed          = -1 // random, drawn at start
	DefaultImageStrength = 0.5
)

// MaxScheduledPrompts bounds the prompts waiting for a future chunk.
const MaxScheduledPrompts = 64

type opKind uint8

const (
	opNoop opKind = iota // a catalog command this runtime has no semantics for
	opSetPrompt
	opSchedulePrompt
	opSetImage
	opSetConditioning
	opSetImageStrength
	opSetSRScale
	opSetSeed
	opStart
	opPause
	opResume
	opReset
	opSetMovement
	opSetLookHorizontal
	opSetLookVertical
	opSetRotationSpeed
)

var opByName = map[string]opKind{
	"set_prompt":         opSetPrompt,
	"schedule_prompt":    opSchedulePrompt,
	"set_image":          opSetImage,
	"set_conditioning":   opSetConditioning,
	"set_image_strength": opSetImageStrength,
	"set_sr_scale":       opSetSRScale,
	"set_seed":           opSetSeed,
	"start":              opStart,
	"pause":              opPause,
	"resume":             opResume,
	"reset":              opReset,
	// LingBot's controls (lingbot.go).
	"set_movement":           opSetMovement,
	"set_look_horizontal":    opSetLookHorizontal,
	"set_look_vertical":      opSetLookVertical,
	"set_rotation_speed_deg": opSetRotationSpeed,
}

// op is a decoded command, ready to apply.
type op struct {
	kind      opKind
	prompt    string
	chunk     int64
	image     wire.FileRef
	strength  float64
	srScale   string
	seed      int64
	direction string  // set_movement, set_look_*
	value     float64 // set_rotation_speed_deg
	label     string  // save_snapshot
	index     int64   // rewind
}

// decodeOp extracts the typed arguments of a command whose data already
// passed its schema. It still checks every field it reads, so a catalog
// with looser schemas than Helios's yields errors, not panics.
func decodeOp(name string, data map[string]any) (op, *CommandError) {
	o := op{kind: opByName[name]}
	bad := func(param, want string) (op, *CommandError) {
		return op{}, cmdErr(CodeInvalidCommand, fmt.Sprintf("%s: /%s: want %s", name, param, want))
	}
	var ok bool
	switch o.kind {
	case opSetPrompt:
		if o.prompt, ok = data["prompt"].(string); !ok {
			return bad("prompt", "a string")
		}
	case opSchedulePrompt:
		if o.prompt, ok = data["prompt"].(string); !ok {
			return bad("prompt", "a string")
		}
		if o.chunk, ok = asInt64(data["chunk"]); !ok || o.chunk < 0 {
			return bad("chunk", "an integer from 0 to 2^63-1")
		}
	case opSetImage:
		if o.image, ok = asFileRef(data["image"]); !ok {
			return bad("image", "a FileRef")
		}
	case opSetConditioning:
		if o.prompt, ok = data["prompt"].(string); !ok {
			return bad("prompt", "a string")
		}
		if o.image, ok = asFileRef(data["image"]); !ok {
			return bad("image", "a FileRef")
		}
	case opSetImageStrength:
		if o.strength, ok = asFloat64(data["image_strength"]); !ok || o.strength < 0 || o.strength > 1 {
			return bad("image_strength", "a number from 0 to 1")
		}
	case opSetSRScale:
		if o.srScale, ok = data["sr_scale"].(string); !ok {
			return bad("sr_scale", "a string")
		}
	case opSetSeed:
		if o.seed, ok = asInt64(data["seed"]); !ok {
			return bad("seed", "an integer that fits in 64 bits")
		}
	case opSetMovement, opSetLookHorizontal, opSetLookVertical:
		param := controlParam[o.kind]
		if o.direction, ok = data[param].(string); !ok {
			return bad(param, "a string")
		}
	case opSetRotationSpeed:
		if o.value, ok = asFloat64(data["rotation_speed_deg"]); !ok {
			return bad("rotation_speed_deg", "a number")
		}
	case opSaveSnapshot, opListSnapshots, opRewind:
		if cerr := decodeSnapshotOp(&o, name, data); cerr != nil {
			return op{}, cerr
		}
	}
	return o, nil
}

func asFileRef(v any) (wire.FileRef, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return wire.FileRef{}, false
	}
	var r wire.FileRef
	if r.UploadID, ok = m["upload_id"].(string); !ok {
		return wire.FileRef{}, false
	}
	r.Name, _ = m["name"].(string)
	r.MimeType, _ = m["mime_type"].(string)
	if s, present := m["size"]; present {
		if r.Size, ok = asInt64(s); !ok {
			return wire.FileRef{}, false
		}
	}
	return r, true
}

func fileRefValue(r wire.FileRef) map[string]any {
	return map[string]any{"upload_id": r.UploadID, "name": r.Name, "mime_type": r.MimeType, "size": r.Size}
}

// asInt64 accepts any JSON number that is an integer within int64.
func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint32:
		return int64(n), true
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		return floatToInt64(f)
	case float64:
		return floatToInt64(n)
	case float32:
		return floatToInt64(float64(n))
	}
	return 0, false
}

func floatToInt64(f float64) (int64, bool) {
	// 2^63 is exactly representable; every float64 below it converts.
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

func asFloat64(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), !math.IsNaN(float64(n))
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// scheduledPrompt is a prompt waiting for its chunk.
type scheduledPrompt struct {
	Chunk  int64  `json:"chunk"`
	Prompt string `json:"prompt"`
}

// helios is the model's state. Every field is guarded by Runtime.mu.
type helios struct {
	started, paused bool
	hasPrompt       bool
	prompt          string
	// chunk is the chunk being generated while running (inChunk > 0), or
	// the one generated next. frame counts frames generated since start.
	chunk   int64
	inChunk int
	frame   int64

	image         *wire.FileRef
	imageStrength float64
	srScale       string
	seed          int64
	activeSeed    int64 // the seed read at start; 0 before

	schedule []scheduledPrompt // sorted by chunk, at most one per chunk

	snaps *snapshotStore // saved states (snapshots.go); shared by copies, kept across reset
}

func newHelios() helios {
	return helios{imageStrength: DefaultImageStrength, srScale: DefaultSRScale, seed: DefaultSeed, snaps: &snapshotStore{}}
}

func (h *helios) running() bool { return h.started && !h.paused }

func (h *helios) advance() { h.inChunk++; h.frame++ }

func (h *helios) begin() { h.inChunk = 1; h.frame++ }

// completeChunk ends the chunk in progress: chunk_complete, then state.
func (h *helios) completeChunk(out []Message) []Message {
	if h.inChunk == 0 {
		return out
	}
	done := h.chunk
	h.chunk++
	h.inChunk = 0
	h.promote()
	return append(out, Message{Type: TypeChunkComplete, Data: map[string]any{"chunk": done}}, h.stateMessage())
}

func (h *helios) fill(s *StateSnapshot) {
	s.Started, s.Running, s.Paused = h.started, h.running(), h.paused
	s.CurrentChunk, s.CurrentFrame = h.chunk, h.frame
	s.ImageSet, s.ImageStrength, s.SRScale = h.image != nil, h.imageStrength, h.srScale
	s.Seed, s.ActiveSeed = h.seed, h.activeSeed
	s.ScheduledPrompts = slices.Clone(h.schedule)
	if h.hasPrompt {
		p := h.prompt
		s.CurrentPrompt = &p
	}
	if h.image != nil {
		img := *h.image
		s.Image = &img
	}
}

// schedulePrompt records a prompt for chunk c. A chunk that is not in the
// future (c <= h.chunk, and the current chunk has not begun) takes the
// prompt at once. It reports false when the schedule is full.
func (h *helios) schedulePrompt(c int64, p string) bool {
	if c <= h.chunk {
		h.hasPrompt, h.prompt = true, p
		return true
	}
	for i := range h.schedule {
		if h.schedule[i].Chunk == c {
			h.schedule[i].Prompt = p // the later command for a chunk wins
			return true
		}
	}
	if len(h.schedule) >= MaxScheduledPrompts {
		return false
	}
	i := len(h.schedule)
	for i > 0 && h.schedule[i-1].Chunk > c {
		i--
	}
	h.schedule = append(h.schedule, scheduledPrompt{})
	copy(h.schedule[i+1:], h.schedule[i:])
	h.schedule[i] = scheduledPrompt{Chunk: c, Prompt: p}
	return true
}

// promote makes due scheduled prompts current, the latest chunk winning.
func (h *helios) promote() {
	n := 0
	for n < len(h.schedule) && h.schedule[n].Chunk <= h.chunk {
		h.hasPrompt, h.prompt = true, h.schedule[n].Prompt
		n++
	}
	if n > 0 {
		h.schedule = append(h.schedule[:0], h.schedule[n:]...)
	}
}

// apply runs one op at a chunk boundary (no chunk in progress) and appends
// the messages it causes, state last, to out. name is the command's name.
func (h *helios) apply(o *op, name string, id uint32, out []Message) []Message {
	fail := func(code, msg string) []Message {
		return append(out, Message{Type: TypeCommandError, Data: map[string]any{
			"command": name, "code": code, "message": msg, "command_id": int64(id),
		}})
	}
	switch o.kind {
	case opSetPrompt:
		h.schedulePrompt(h.chunk, o.prompt)
	case opSchedulePrompt:
		if !h.schedulePrompt(o.chunk, o.prompt) {
			return fail(CodeScheduleFull, fmt.Sprintf("%d prompts are already scheduled for future chunks", MaxScheduledPrompts))
		}
	case opSetImage, opSetConditioning:
		img := o.image
		h.image = &img
		if o.kind == opSetConditioning {
			h.schedulePrompt(h.chunk, o.prompt)
		}
		out = append(out, Message{Type: TypeImageAccepted, Data: map[string]any{
			"command": name, "image": fileRefValue(img),
		}})
	case opSetImageStrength:
		h.imageStrength = o.strength
	case opSetSRScale:
		h.srScale = o.srScale
	case opSetSeed:
		h.seed = o.seed
	case opStart:
		if !h.started {
			if !h.hasPrompt {
				return fail(CodeMissingPrompt, "start needs a prompt: send set_prompt (or schedule_prompt at chunk 0) first")
			}
			h.started, h.paused = true, false
			h.activeSeed = h.seed
			if h.activeSeed == -1 {
				h.activeSeed = rand.Int64N(1 << 53)
			}
			out = append(out, Message{Type: TypeGenerationStarted, Data: map[string]any{}})
		}
	case opPause:
		if h.running() {
			h.paused = true
			out = append(out, Message{Type: TypeGenerationPaused, Data: map[string]any{}})
		}
	case opResume:
		if h.started {
			h.paused = false
		}
	case opReset:
		*h = helios{imageStrength: h.imageStrength, srScale: h.srScale, seed: h.seed, schedule: h.schedule[:0], snaps: h.snaps}
	}
	return append(out, h.stateMessage())
}

// stateMessage is the state message: the documented fields plus sr_scale,
// seed and image_strength. current_prompt is null until a prompt is set.
func (h *helios) stateMessage() Message {
	var prompt any
	if h.hasPrompt {
		prompt = h.prompt
	}
	return Message{Type: TypeState, Data: map[string]any{
		"started":        h.started,
		"running":        h.running(),
		"paused":         h.paused,
		"current_prompt": prompt,
		"current_chunk":  h.chunk,
		"current_frame":  h.frame,
		"image_set":      h.image != nil,
		"sr_scale":       h.srScale,
		"seed":           h.seed,
		"image_strength": h.imageStrength,
	}}
}
