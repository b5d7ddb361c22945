package wirev0

import (
	"encoding/json"
	"fmt"
)

// LegacyTypeApplication is the "type" of every model message a 2.2.1 client
// surfaces; it drops frames of any other type (PROTOCOL.md §3.1).
const LegacyTypeApplication = "application"

// LegacyFrame is a 2.2.1-era flat frame on the single "data" channel:
// {"type":"<command>","data":<payload>} from the client and
// {"type":"application","data":<payload>} from the server. The payload may
// be any JSON value (the old client JSON-parses string payloads first).
type LegacyFrame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// DecodeLegacy strictly parses a flat frame: a JSON object with a non-empty
// string "type"; "data" may be any JSON value or absent.
func DecodeLegacy(frame []byte) (LegacyFrame, error) {
	members, err := parseObject(frame)
	if err != nil {
		return LegacyFrame{}, err
	}
	typ, ok := stringMember(members, "type")
	if _, envelope := members["scope"]; !ok && envelope {
		return LegacyFrame{}, fmt.Errorf("%w: frame has \"scope\" but no \"type\", it is a v0 envelope (use DecodeEnvelope)", ErrMissingType)
	}
	if !ok || typ == "" {
		return LegacyFrame{}, fmt.Errorf("%w: flat frame needs a non-empty string \"type\"", ErrMissingType)
	}
	return LegacyFrame{Type: typ, Data: members["data"]}, nil
}

// NewLegacyCommand renders a 2.2.1 client command; data may be any JSON
// value (nil encodes as {}).
func NewLegacyCommand(typ string, data any) ([]byte, error) {
	if typ == "" {
		return nil, fmt.Errorf("wirev0: %w", ErrMissingType)
	}
	raw, err := payload(data)
	if err != nil {
		return nil, err
	}
	return mustMarshal(LegacyFrame{Type: typ, Data: raw}), nil
}

// NewLegacyApplication renders a model message for a 2.2.1 client.
func NewLegacyApplication(data any) ([]byte, error) {
	return NewLegacyCommand(LegacyTypeApplication, data)
}
