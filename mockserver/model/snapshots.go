package model

import (
	"fmt"
	"slices"
)

// Helios snapshots (PROTOCOL.md §9.6, reactor-client-sdks
// sdks/js/examples/07-snapshot-and-rewind): save_snapshot {label?} answers
// {snapshot_index}, list_snapshots {snapshots:[{snapshot_index, chunk,
// label, parent_id}]}, rewind {snapshot_index} where it landed. Unlike the
// other commands they act at once, not at the next chunk boundary, since
// their answer is the reply to the call. The reply's type is the command's
// name: the example reads only data, and the platform's type string is not
// documented.

// MaxSnapshots bounds the snapshots one session keeps; save_snapshot
// beyond it is refused with snapshot_limit.
const MaxSnapshots = 64

// Snapshot command codes.
const (
	CodeUnknownSnapshot = "unknown_snapshot"
	CodeSnapshotLimit   = "snapshot_limit"
)

const (
	opSaveSnapshot opKind = iota + 100
	opListSnapshots
	opRewind
)

func init() {
	opByName["save_snapshot"] = opSaveSnapshot
	opByName["list_snapshots"] = opListSnapshots
	opByName["rewind"] = opRewind
}

func isSnapshotOp(k opKind) bool { return k >= opSaveSnapshot && k <= opRewind }

// snapshot is one saved state.
type snapshot struct {
	index  int64
	chunk  int64
	label  string
	parent *int64 // the snapshot the state descended from (the last saved or rewound to)
	state  helios
}

// snapshotStore is a session's snapshots; head is the snapshot the current
// state descends from (nil before any save or rewind).
type snapshotStore struct {
	list []snapshot
	head *int64
}

// decodeSnapshotOp reads the arguments of a snapshot command whose data
// passed its schema.
func decodeSnapshotOp(o *op, name string, data map[string]any) *CommandError {
	switch o.kind {
	case opSaveSnapshot:
		if v, present := data["label"]; present {
			s, ok := v.(string)
			if !ok {
				return cmdErr(CodeInvalidCommand, name+": /label: want a string")
			}
			o.label = s
		}
	case opRewind:
		i, ok := asInt64(data["snapshot_index"])
		if !ok || i < 0 {
			return cmdErr(CodeInvalidCommand, name+": /snapshot_index: want an integer ≥ 0")
		}
		o.index = i
	}
	return nil
}

// snapshotNow applies a snapshot command under the lock and answers it.
// A refusal leaves every snapshot and the model state as they were.
func (r *Runtime) snapshotNow(name string, o *op) (Result, *CommandError) {
	snap, ok := r.b.(snapshotter)
	if !ok {
		return Result{}, cmdErr(CodeInvalidCommand, name+": this model keeps no snapshots")
	}
	r.mu.Lock()
	reply, state, cerr := snap.snapshotOp(name, o)
	if cerr == nil && state != nil {
		r.outbox = append(r.outbox, *state)
	}
	r.mu.Unlock()
	if cerr != nil {
		return Result{}, cerr
	}
	r.flush()
	if r.bodyless {
		return Result{}, nil
	}
	return Result{Reply: &Message{Type: name, Data: reply}}, nil
}

// snapshotOp runs one snapshot command on the model state and returns the
// reply data and, after a rewind, the new state message.
func (h *helios) snapshotOp(name string, o *op) (map[string]any, *Message, *CommandError) {
	st := h.snaps
	switch o.kind {
	case opSaveSnapshot:
		if len(st.list) >= MaxSnapshots {
			return nil, nil, cmdErr(CodeSnapshotLimit, fmt.Sprintf("%s: this session already keeps %d snapshots", name, MaxSnapshots))
		}
		saved := *h
		saved.schedule = slices.Clone(h.schedule)
		saved.inChunk = 0
		idx := int64(len(st.list))
		st.list = append(st.list, snapshot{index: idx, chunk: h.chunk, label: o.label, parent: st.head, state: saved})
		st.head = &idx
		return map[string]any{"snapshot_index": idx}, nil, nil
	case opListSnapshots:
		out := make([]any, len(st.list))
		for i, s := range st.list {
			var parent any
			if s.parent != nil {
				parent = *s.parent
			}
			out[i] = map[string]any{"snapshot_index": s.index, "chunk": s.chunk, "label": s.label, "parent_id": parent}
		}
		return map[string]any{"snapshots": out}, nil, nil
	case opRewind:
		if o.index >= int64(len(st.list)) {
			return nil, nil, cmdErr(CodeUnknownSnapshot, fmt.Sprintf("%s: no snapshot %d; this session has %d (list_snapshots)", name, o.index, len(st.list)))
		}
		s := st.list[o.index]
		restored := s.state
		restored.schedule = slices.Clone(s.state.schedule)
		restored.snaps = st
		*h = restored
		idx := s.index
		st.head = &idx
		msg := h.stateMessage()
		return map[string]any{"snapshot_index": idx, "chunk": h.chunk}, &msg, nil
	}
	return nil, nil, cmdErr(CodeInvalidCommand, name+": not a snapshot command")
}
