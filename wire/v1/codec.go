package wirev1

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Marshal encodes one frame. It is deterministic (map entries sorted) so
// golden files and journal comparisons are stable; any deterministic or
// non-deterministic encoding is equally valid on the wire.
func Marshal(m proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wirev1: marshal %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return b, nil
}

// DecodeDataClient decodes a client frame from the "data" channel.
func DecodeDataClient(frame []byte) (*DataClientMessage, error) {
	return decode(frame, &DataClientMessage{})
}

// DecodeDataServer decodes a runtime frame from the "data" channel.
func DecodeDataServer(frame []byte) (*DataServerMessage, error) {
	return decode(frame, &DataServerMessage{})
}

// DecodeControlClient decodes a client frame from the "control" channel.
func DecodeControlClient(frame []byte) (*ControlClientMessage, error) {
	return decode(frame, &ControlClientMessage{})
}

// DecodeControlServer decodes a runtime frame from the "control" channel.
func DecodeControlServer(frame []byte) (*ControlServerMessage, error) {
	return decode(frame, &ControlServerMessage{})
}

// decode unmarshals frame into m. Unknown fields are kept, not refused: a
// newer peer's payload (like session_ended to an older client) must not
// break decoding; PayloadName reports it as "".
func decode[M proto.Message](frame []byte, m M) (M, error) {
	if err := proto.Unmarshal(frame, m); err != nil {
		var zero M
		return zero, fmt.Errorf("wirev1: decode %s: %w", m.ProtoReflect().Descriptor().Name(), err)
	}
	return m, nil
}

// PayloadName returns the proto name of the payload set in an envelope
// message ("command", "resume_track", "error", …), or "" when there is none
// (a bodyless ack, or a payload this package does not know). Journals and
// failure messages use it as the frame's type.
func PayloadName(m proto.Message) string {
	r := m.ProtoReflect()
	oneof := r.Descriptor().Oneofs().ByName("payload")
	if oneof == nil {
		return ""
	}
	if fd := r.WhichOneof(oneof); fd != nil {
		return string(fd.Name())
	}
	return ""
}
