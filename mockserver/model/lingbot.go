package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/reactor-harness/reactor-harness/wire"
)

// LingBot semantics (PROTOCOL.md §9.6): a navigable world conditioned on a
// seed image and a prompt, both required before start; the run is
// LingBotRunChunks chunks long and restarts by itself when it completes.

// LingBot's runtime states, as the state message's "state" field says them.
const (
	PhaseWaiting    = "WAITING"
	PhaseGenerating = "GENERATING"
	PhasePaused     = "PAUSED"
)

// LingBot message types beside the shared ones.
const (
	TypePromptAccepted     = "prompt_accepted"
	TypeConditionsReady    = "conditions_ready"
	TypeGenerationComplete = "generation_complete"
)

// LingBotRunChunks is the length of one run; the platform documents none,
// so this is the mock's choice (short, so tests see a restart).
const LingBotRunChunks = 4

// CodeMissingImage refuses a LingBot start before set_image (start also
// needs a prompt: CodeMissingPrompt).
const CodeMissingImage = "missing_image"

// controlParam names the data field of each direction command.
var controlParam = map[opKind]string{
	opSetMovement:       "movement",
	opSetLookHorizontal: "look_horizontal",
	opSetLookVertical:   "look_vertical",
}

// LingBotSemantics are LingBot's.
var LingBotSemantics = Semantics{name: "lingbot", new: func() behaviour { return newLingBot() }}

// lingbot is the model's state, guarded by Runtime.mu.
type lingbot struct {
	phase     string
	hasPrompt bool
	prompt    string
	image     *wire.FileRef
	seed      int64
	active    int64 // the seed read at start
	run       int64 // completed runs
	chunk     int64 // chunk of the current run being generated or next
	inChunk   int
	frame     int64 // frames generated since start
	movement  string
	lookH     string
	lookV     string
	rotSpeed  float64
}

func newLingBot() *lingbot {
	return &lingbot{phase: PhaseWaiting, seed: DefaultSeed, movement: "idle", lookH: "idle", lookV: "idle", rotSpeed: DefaultRotationSpeed}
}

// DefaultRotationSpeed is the mock's look rotation speed until set
// (degrees per frame); the platform documents no default.
const DefaultRotationSpeed = 2.0

func (l *lingbot) running() bool { return l.phase == PhaseGenerating }
func (l *lingbot) advance()      { l.inChunk++; l.frame++ }
func (l *lingbot) begin()        { l.inChunk = 1; l.frame++ }

// completeChunk ends a chunk; the last chunk of a run completes the run,
// which then starts over from chunk 0 with the same conditions.
func (l *lingbot) completeChunk(out []Message) []Message {
	if l.inChunk == 0 {
		return out
	}
	done := l.chunk
	l.chunk++
	l.inChunk = 0
	out = append(out, Message{Type: TypeChunkComplete, Data: map[string]any{"chunk": done, "run": l.run}})
	if l.chunk >= LingBotRunChunks {
		out = append(out, Message{Type: TypeGenerationComplete, Data: map[string]any{"run": l.run, "chunks": l.chunk}})
		l.run++
		l.chunk = 0
		out = append(out, Message{Type: TypeGenerationStarted, Data: map[string]any{"run": l.run}})
	}
	return append(out, l.stateMessage())
}

func (l *lingbot) apply(o *op, name string, id uint32, out []Message) []Message {
	fail := func(code, msg string) []Message {
		return append(out, Message{Type: TypeCommandError, Data: map[string]any{
			"command": name, "code": code, "message": msg, "command_id": int64(id),
		}})
	}
	switch o.kind {
	case opSetPrompt:
		l.hasPrompt, l.prompt = true, o.prompt
		out = append(out, Message{Type: TypePromptAccepted, Data: map[string]any{"prompt": o.prompt}})
	case opSetImage:
		img := o.image
		l.image = &img
		out = append(out, Message{Type: TypeImageAccepted, Data: map[string]any{"command": name, "image": fileRefValue(img)}})
	case opSetMovement:
		l.movement = o.direction
	case opSetLookHorizontal:
		l.lookH = o.direction
	case opSetLookVertical:
		l.lookV = o.direction
	case opSetRotationSpeed:
		l.rotSpeed = o.value
	case opSetSeed:
		l.seed = o.seed
	case opStart:
		if l.phase != PhaseWaiting {
			break
		}
		if l.image == nil {
			return fail(CodeMissingImage, "start needs a seed image: send set_image first")
		}
		if !l.hasPrompt {
			return fail(CodeMissingPrompt, "start needs a prompt: send set_prompt first")
		}
		l.phase, l.active = PhaseGenerating, l.seed
		if l.active == -1 {
			l.active = rand.Int64N(1 << 53)
		}
		out = append(out, Message{Type: TypeGenerationStarted, Data: map[string]any{"run": l.run}})
	case opPause:
		if l.phase == PhaseGenerating {
			l.phase = PhasePaused
			out = append(out, Message{Type: TypeGenerationPaused, Data: map[string]any{}})
		}
	case opResume:
		if l.phase == PhasePaused {
			l.phase = PhaseGenerating
		}
	case opReset:
		*l = *newLingBot()
	default:
		return fail(CodeInvalidCommand, fmt.Sprintf("%s: LingBot has no semantics for this command", name))
	}
	if o.kind == opSetPrompt || o.kind == opSetImage {
		out = append(out, Message{Type: TypeConditionsReady, Data: map[string]any{"has_prompt": l.hasPrompt, "has_image": l.image != nil}})
	}
	return append(out, l.stateMessage())
}

func (l *lingbot) stateMessage() Message {
	var prompt any
	if l.hasPrompt {
		prompt = l.prompt
	}
	return Message{Type: TypeState, Data: map[string]any{
		"state": l.phase, "current_prompt": prompt, "image_set": l.image != nil,
		"current_chunk": l.chunk, "current_frame": l.frame, "run": l.run, "seed": l.seed,
		"movement": l.movement, "look_horizontal": l.lookH, "look_vertical": l.lookV,
		"rotation_speed_deg": l.rotSpeed,
	}}
}

func (l *lingbot) fill(s *StateSnapshot) {
	s.Phase = l.phase
	s.Started = l.phase != PhaseWaiting
	s.Running, s.Paused = l.running(), l.phase == PhasePaused
	s.CurrentChunk, s.CurrentFrame = l.chunk, l.frame
	s.ImageSet, s.Seed, s.ActiveSeed = l.image != nil, l.seed, l.active
	if l.hasPrompt {
		p := l.prompt
		s.CurrentPrompt = &p
	}
	if l.image != nil {
		img := *l.image
		s.Image = &img
	}
	s.Controls = map[string]any{"movement": l.movement, "look_horizontal": l.lookH,
		"look_vertical": l.lookV, "rotation_speed_deg": l.rotSpeed, "run": l.run}
}
