package peer

import (
	"bytes"
	"sync"
	"testing"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// staticSchema is a fixed document for tests.
type staticSchema map[string]any

func (s staticSchema) Schema() map[string]any { return s }

// countingSchema counts how often its document is asked for.
type countingSchema struct {
	mu    sync.Mutex
	calls int
}

func (s *countingSchema) Schema() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return map[string]any{"openapi": "3.1.0", "paths": map[string]any{"/events/x": map[string]any{}}}
}

// TestSchemaEncodedOnce has both channels of a connection ask at once: the
// document is rendered once and every reply carries its own request id.
func TestSchemaEncodedOnce(t *testing.T) {
	for _, codec := range []wirev0.Codec{wirev0.V0, wirev0.V1} {
		src := &countingSchema{}
		frame := SchemaFramer(codec)
		var wg sync.WaitGroup
		replies := make([][]byte, 8)
		for i := range replies {
			wg.Go(func() {
				b, err := frame(string(rune('a'+i)), src)
				if err != nil {
					t.Error(err)
				}
				replies[i] = b
			})
		}
		wg.Wait()
		if src.calls != 1 {
			t.Errorf("%s: document rendered %d times, want 1", codec, src.calls)
		}
		if codec == wirev0.V1 && !bytes.Contains(replies[3], []byte{0x0a, 1, 'd'}) {
			t.Errorf("v1 reply lacks its request id: %x", replies[3])
		}
	}
}
