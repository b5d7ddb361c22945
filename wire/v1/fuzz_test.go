package wirev1

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// seedFrames adds the golden-style frames a fuzz target starts from.
func seedFrames(f *testing.F, msgs ...proto.Message) {
	for _, m := range msgs {
		b, err := Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte(`{"scope":"runtime","data":{"type":"ping","data":{}}}`))
	f.Add([]byte{0x0a, 0x7b, '{'})
	f.Add([]byte{0xc2, 0x02, 0x00, 0x52, 0x00})
}

// checkFrame is the property every decoder must keep on any input: never
// panic, and what decodes re-encodes to a frame that decodes to an equal
// message. It also checks that frames the reference client could send
// (no unknown fields, ids "data_<n>"/"ctrl_<n>" or none) sniff as v1.
func checkFrame[M proto.Message](t *testing.T, frame []byte, decode func([]byte) (M, error), requestID func(M) string) {
	_ = wirev0.Sniff(frame, false)
	m, err := decode(frame)
	if err != nil {
		return
	}
	again, err := Marshal(m)
	if err != nil {
		t.Fatalf("re-marshal of a decoded frame failed: %v", err)
	}
	back, err := decode(again)
	if err != nil {
		t.Fatalf("re-decode failed: %v", err)
	}
	if !proto.Equal(m, back) {
		t.Fatalf("round trip changed the message:\n%v\n%v", m, back)
	}
	if len(m.ProtoReflect().GetUnknown()) == 0 && clientStyleID(requestID(m)) {
		if c := wirev0.Sniff(again, false); c != wirev0.V1 {
			t.Fatalf("client-style v1 frame % x sniffed as %v", again, c)
		}
	}
}

// clientStyleID reports ids the reference client mints (or none).
func clientStyleID(id string) bool {
	if id == "" {
		return true
	}
	return (strings.HasPrefix(id, DataRequestPrefix) || strings.HasPrefix(id, ControlRequestPrefix)) &&
		len(id) != '{' && len(id) != '['
}

func FuzzDataClientMessage(f *testing.F) {
	seedFrames(f,
		must(NewCommand("data_1", "set_prompt", map[string]any{"prompt": "hi", "n": 2.5}, nil)),
		must(NewCommand("data_2", "edit", nil, nil)),
		&DataClientMessage{RequestId: "data_3", Kind: KindResponse,
			Payload: &DataClientMessage_Error{Error: &Error{Code: "x"}}},
	)
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkFrame(t, frame, DecodeDataClient, (*DataClientMessage).GetRequestId)
	})
}

func FuzzControlClientMessage(f *testing.F) {
	seedFrames(f,
		NewPing(), NewResumeTrack("main_video"), NewPauseTrack("main_video"),
		NewPublishTrack("ctrl_1", "webcam"), NewRequestClip("ctrl_2", 5), NewRequestSchema("ctrl_3"),
	)
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkFrame(t, frame, DecodeControlClient, (*ControlClientMessage).GetRequestId)
	})
}
