package peer

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// SchemaSource gives the OpenAPI document a connection sends for
// requestSchema (the session's model runtime).
type SchemaSource interface {
	Schema() map[string]any
}

// SendSchema sends the model's OpenAPI document: v0 runtime modelSchema on
// "data", v1 ModelSchema RESPONSE on "control". The document is taken from
// src and encoded on the first call only; later calls reuse it, so src must
// give the same document for the connection's life (a session's model never
// changes). Load runners ask for it every few seconds as a round-trip probe.
func (c *Conn) SendSchema(requestID string, src SchemaSource) error {
	b, err := c.schemaFrame(requestID, src)
	if err != nil {
		return err
	}
	if c.v1() {
		return c.write(ChannelControl, b, false)
	}
	return c.write(ChannelData, b, true)
}

// schemaFrame encodes the schema reply to requestID in the connection's
// codec. A v0 frame carries no request id and is the cached frame itself.
func (c *Conn) schemaFrame(requestID string, src SchemaSource) ([]byte, error) {
	v1 := c.v1()
	body, err := c.schema.get(v1, src)
	if err != nil || !v1 {
		return body, err
	}
	return schemaResponse(requestID, body), nil
}

// schemaCache is a connection's encoded schema. It is keyed by codec only
// to stay right on a connection whose codec is not latched yet; a latched
// codec never changes.
type schemaCache struct {
	mu    sync.Mutex
	built bool
	v1    bool
	body  []byte // v1: the ControlServerMessage's payload field; v0: the whole frame
	err   error
}

func (s *schemaCache) get(v1 bool, src SchemaSource) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.built || s.v1 != v1 {
		s.body, s.err = encodeSchema(v1, src.Schema())
		s.built, s.v1 = true, v1
	}
	return s.body, s.err
}

func encodeSchema(v1 bool, doc map[string]any) ([]byte, error) {
	if !v1 {
		return wirev0.NewRuntimeMessage(wirev0.TypeModelSchema, doc)
	}
	m, err := wirev1.NewModelSchema("", doc)
	if err != nil {
		return nil, err
	}
	// Without request_id and kind the message encodes as its payload field
	// alone, which schemaResponse appends after the two.
	m.Kind = wirev1.MessageKind_MESSAGE_KIND_UNSPECIFIED
	return marshalV1(m)
}

// Field numbers of the ControlServerMessage envelope, from its descriptor.
var (
	controlFields      = (&wirev1.ControlServerMessage{}).ProtoReflect().Descriptor().Fields()
	controlRequestID   = controlFields.ByName("request_id").Number()
	controlMessageKind = controlFields.ByName("kind").Number()
)

// schemaResponse prefixes the encoded payload field with request_id and
// kind RESPONSE. The bytes are those the deterministic marshaller writes for
// the whole message (fields in number order, empty request_id omitted).
func schemaResponse(requestID string, payload []byte) []byte {
	b := make([]byte, 0, len(requestID)+len(payload)+16)
	if requestID != "" {
		b = protowire.AppendTag(b, controlRequestID, protowire.BytesType)
		b = protowire.AppendString(b, requestID)
	}
	b = protowire.AppendTag(b, controlMessageKind, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(wirev1.KindResponse))
	return append(b, payload...)
}
