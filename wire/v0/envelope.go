package wirev0

import (
	"encoding/json"
	"fmt"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Scope says who a v0 data-channel message is for: the model (application)
// or the platform (runtime).
type Scope string

// The two scopes of PROTOCOL.md §3.2.
const (
	ScopeApplication Scope = "application"
	ScopeRuntime     Scope = "runtime"
)

// Envelope is one v0 frame on the "data" channel:
// {"scope": ..., "data": {"type": ..., "data": {...}, "uploads": {...}}}.
type Envelope struct {
	Scope Scope   `json:"scope"`
	Data  Message `json:"data"`
}

// Message is the envelope's inner {"type","data","uploads"}. Data keeps the
// peer's raw JSON so checks can see exactly what was sent; use DecodeData or
// Object to read it. Uploads appears only on client commands carrying files.
type Message struct {
	Type    string                  `json:"type"`
	Data    json.RawMessage         `json:"data,omitempty"`
	Uploads map[string]wire.FileRef `json:"uploads,omitempty"`
}

// DecodeData unmarshals m.Data into v; absent data reads as {}.
func (m Message) DecodeData(v any) error {
	raw := m.Data
	if len(raw) == 0 {
		raw = emptyObject
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("wirev0: %s data: %w", m.Type, err)
	}
	return nil
}

// Object returns m.Data as a map; absent data reads as an empty map.
func (m Message) Object() (map[string]any, error) {
	obj := map[string]any{}
	if err := m.DecodeData(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// DecodeEnvelope strictly parses a v0 data-channel frame. It fails, wrapping
// the matching sentinel, when the frame is not UTF-8 JSON or not an object,
// when "scope" is missing or unknown, when the inner "data" is not an object
// or lacks a string "type", when the payload "data" is present but not an
// object or (for application scope, i.e. commands and model messages) absent,
// and when "uploads" is malformed or sent with runtime scope. Unknown members
// are ignored, as the runtime ignores them.
func DecodeEnvelope(frame []byte) (Envelope, error) {
	outer, err := parseObject(frame)
	if err != nil {
		return Envelope{}, err
	}
	scope, err := decodeScope(outer)
	if err != nil {
		return Envelope{}, err
	}
	rawInner, ok := outer["data"]
	if !ok {
		return Envelope{}, fmt.Errorf("%w: envelope has no \"data\"", ErrNotObject)
	}
	inner, err := objectMembers(rawInner, `envelope "data"`)
	if err != nil {
		return Envelope{}, err
	}
	msg, err := decodeMessage(scope, inner)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{Scope: scope, Data: msg}, nil
}

// decodeScope reads and checks the envelope's "scope".
func decodeScope(outer map[string]json.RawMessage) (Scope, error) {
	raw, present := outer["scope"]
	if !present {
		if _, flat := outer["type"]; flat {
			return "", fmt.Errorf("%w (a flat {\"type\",\"data\"} frame is the 2.2.1 format)", ErrMissingScope)
		}
		return "", ErrMissingScope
	}
	s, ok := stringMember(outer, "scope")
	if !ok {
		return "", fmt.Errorf("%w: scope is %s, want \"application\" or \"runtime\"", ErrUnknownScope, kindOf(raw))
	}
	if scope := Scope(s); scope == ScopeApplication || scope == ScopeRuntime {
		return scope, nil
	}
	return "", fmt.Errorf("%w: %q, want \"application\" or \"runtime\"", ErrUnknownScope, s)
}

// decodeMessage reads the inner {"type","data","uploads"} under scope.
func decodeMessage(scope Scope, inner map[string]json.RawMessage) (Message, error) {
	typ, ok := stringMember(inner, "type")
	if !ok || typ == "" {
		return Message{}, fmt.Errorf("%w: %s message needs a non-empty string \"type\"", ErrMissingType, scope)
	}
	msg := Message{Type: typ}
	data, present := inner["data"]
	switch {
	case present && !isObject(data):
		return Message{}, fmt.Errorf("%w: %s %q has data %s", ErrDataNotObject, scope, typ, kindOf(data))
	case !present && scope == ScopeApplication:
		return Message{}, fmt.Errorf("%w: application %q has no data", ErrDataNotObject, typ)
	case present:
		msg.Data = data
	}
	uploads, err := decodeUploads(scope, typ, inner)
	if err != nil {
		return Message{}, err
	}
	msg.Uploads = uploads
	return msg, nil
}

// decodeUploads reads the optional "uploads" map of a command.
func decodeUploads(scope Scope, typ string, inner map[string]json.RawMessage) (map[string]wire.FileRef, error) {
	raw, present := inner["uploads"]
	if !present {
		return nil, nil
	}
	if scope != ScopeApplication {
		return nil, fmt.Errorf("%w: runtime %q carries uploads", ErrBadUploads, typ)
	}
	if !isObject(raw) {
		return nil, fmt.Errorf("%w: %q uploads is %s", ErrBadUploads, typ, kindOf(raw))
	}
	var uploads map[string]wire.FileRef
	if err := json.Unmarshal(raw, &uploads); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadUploads, typ, err)
	}
	for param, ref := range uploads {
		if ref.UploadID == "" {
			return nil, fmt.Errorf("%w: %q upload %q has no upload_id", ErrBadUploads, typ, param)
		}
	}
	return uploads, nil
}

// Encode renders an envelope. data may be nil (encoded as {}), a
// json.RawMessage, or any value encoding/json accepts; it must be a JSON
// object, as the decoders of every peer require.
func Encode(scope Scope, typ string, data any, uploads map[string]wire.FileRef) ([]byte, error) {
	if scope != ScopeApplication && scope != ScopeRuntime {
		return nil, fmt.Errorf("wirev0: %w: %q", ErrUnknownScope, scope)
	}
	if typ == "" {
		return nil, fmt.Errorf("wirev0: %w", ErrMissingType)
	}
	if len(uploads) > 0 && scope != ScopeApplication {
		return nil, fmt.Errorf("wirev0: %w: runtime %q carries uploads", ErrBadUploads, typ)
	}
	raw, err := objectPayload(data)
	if err != nil {
		return nil, err
	}
	return mustMarshal(Envelope{Scope: scope, Data: Message{Type: typ, Data: raw, Uploads: uploads}}), nil
}

// NewCommand renders a client command (application scope, C→S) the way
// current JS SDKs send it: FileRef arguments go in uploads keyed by
// parameter name.
func NewCommand(typ string, data any, uploads map[string]wire.FileRef) ([]byte, error) {
	return Encode(ScopeApplication, typ, data, uploads)
}

// NewModelMessage renders a model emission (application scope, S→C).
func NewModelMessage(typ string, data any) ([]byte, error) {
	return Encode(ScopeApplication, typ, data, nil)
}

// NewRuntimeMessage renders a platform message (runtime scope, either
// direction), e.g. NewRuntimeMessage(TypeClipFailed, ClipFailed{Reason: "x"}).
func NewRuntimeMessage(typ string, data any) ([]byte, error) {
	return Encode(ScopeRuntime, typ, data, nil)
}
