package client

import (
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/mockserver"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// BenchmarkPingReply is the client's side of one load-runner ping (dc_rtt):
// a Ping waits for its reply and the mock's Helios schema reply arrives on
// the channel, from the channel callback to the waiting Ping.
//
//	go test -run '^$' -bench BenchmarkPingReply -benchmem -count 5 ./client/
func BenchmarkPingReply(b *testing.B) {
	for _, codec := range []Codec{CodecV0, CodecV1} {
		b.Run(codec.String(), func(b *testing.B) {
			c := newBenchClient(b, codec)
			label, m := schemaReply(b, codec, "ctrl_1")
			b.ReportAllocs()
			for b.Loop() {
				var ch chan *Message
				if codec == CodecV0 {
					ch = c.awaitSchema(true)
				} else {
					ch = c.addWaiter("ctrl_1", true)
				}
				c.onChannelMessage(nil, label, m)
				if msg := <-ch; msg == nil {
					b.Fatal("no reply delivered")
				}
			}
		})
	}
}

func newBenchClient(tb testing.TB, codec Codec) *Client {
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "rk_bench", Codec: codec})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// schemaReply is the frame the mock answers a Ping with, and its channel.
func schemaReply(tb testing.TB, codec Codec, requestID string) (string, webrtc.DataChannelMessage) {
	doc := mockserver.HeliosModel().OpenAPI()
	if codec == CodecV0 {
		b, err := wirev0.NewRuntimeMessage(wirev0.TypeModelSchema, doc)
		if err != nil {
			tb.Fatal(err)
		}
		return LabelData, webrtc.DataChannelMessage{IsString: true, Data: b}
	}
	m, err := wirev1.NewModelSchema(requestID, doc)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := wirev1.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return LabelControl, webrtc.DataChannelMessage{Data: b}
}
