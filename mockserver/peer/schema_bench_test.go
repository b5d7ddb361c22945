package peer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/mockserver/peer"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// BenchmarkSchemaReply is the mock's side of one load-runner ping (dc_rtt):
// the reply to requestSchema, encoded for a Helios session the way the mock
// builds its runtimes, short of the channel write.
//
//	go test -run '^$' -bench BenchmarkSchemaReply -benchmem -count 5 ./mockserver/peer/
func BenchmarkSchemaReply(b *testing.B) {
	rt := heliosRuntime(b)
	for _, codec := range []wirev0.Codec{wirev0.V0, wirev0.V1} {
		b.Run(codec.String(), func(b *testing.B) {
			frame := peer.SchemaFramer(codec)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := frame("ctrl_1", rt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func heliosRuntime(tb testing.TB) *model.Runtime {
	m := mockserver.HeliosModel()
	cat, err := model.NewCatalog(m.Capabilities().Commands)
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := model.New(model.Config{Catalog: cat, Schema: m.OpenAPI()})
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

// TestSchemaReplyEncoding checks that the cached reply is, byte for byte,
// the full encoding of the runtime's document for every request id.
func TestSchemaReplyEncoding(t *testing.T) {
	rt := heliosRuntime(t)
	long := strings.Repeat("x", 300) // a length that needs a two-byte varint
	for _, codec := range []wirev0.Codec{wirev0.V0, wirev0.V1} {
		frame := peer.SchemaFramer(codec)
		for _, id := range []string{"ctrl_1", "", long, "ctrl_2"} {
			got, err := frame(id, rt)
			if err != nil {
				t.Fatal(err)
			}
			if want := fullSchemaFrame(t, codec, id, rt.Schema()); !bytes.Equal(got, want) {
				t.Fatalf("%s reply to %q differs from the full encoding:\n got %x\nwant %x", codec, id, got, want)
			}
		}
	}
}

func fullSchemaFrame(t *testing.T, codec wirev0.Codec, requestID string, doc map[string]any) []byte {
	t.Helper()
	if codec == wirev0.V0 {
		b, err := wirev0.NewRuntimeMessage(wirev0.TypeModelSchema, doc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m, err := wirev1.NewModelSchema(requestID, doc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wirev1.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
