package peer

import wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"

// SchemaFramer returns the encoding half of SendSchema on one connection
// latched to codec, for the benchmarks (which need the mock's real model,
// a package this one must not import).
func SchemaFramer(codec wirev0.Codec) func(requestID string, src SchemaSource) ([]byte, error) {
	c := &Conn{}
	c.codec.Store(uint32(codec))
	c.latched.Store(true)
	return c.schemaFrame
}
