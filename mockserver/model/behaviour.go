package model

// behaviour is one model's semantics: what its commands do to its state and
// which messages it says. The Runtime owns the queue, ids, locking and
// message delivery; a behaviour only changes state, always under
// Runtime.mu, and never blocks.
type behaviour interface {
	// running reports whether frames are being generated.
	running() bool
	// advance counts one frame inside a chunk while running.
	advance()
	// completeChunk ends the chunk in progress at a boundary (only called
	// while running with a chunk begun) and appends what that says.
	completeChunk(out []Message) []Message
	// begin starts the next chunk with this frame (only called while running).
	begin()
	// apply runs one queued command at a chunk boundary and appends the
	// messages it causes; id is the command's id.
	apply(o *op, name string, id uint32, out []Message) []Message
	// fill writes the model's state into an admin snapshot.
	fill(s *StateSnapshot)
}

// snapshotter is a behaviour with saved states (save_snapshot, rewind).
type snapshotter interface {
	snapshotOp(name string, o *op) (map[string]any, *Message, *CommandError)
}

// Semantics selects a model's behaviour for Config.Semantics; the zero
// value is Helios.
type Semantics struct {
	name string
	new  func() behaviour
}

// Name names the semantics ("helios").
func (s Semantics) Name() string {
	if s.new == nil {
		return HeliosSemantics.name
	}
	return s.name
}

func (s Semantics) build() behaviour {
	if s.new == nil {
		return HeliosSemantics.new()
	}
	return s.new()
}

// HeliosSemantics are Helios's (helios.go).
var HeliosSemantics = Semantics{name: "helios", new: func() behaviour { h := newHelios(); return &h }}
