package wirev1

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

func TestRequestIDs(t *testing.T) {
	if got := DataRequestID(7); got != "data_7" {
		t.Errorf("DataRequestID(7) = %q", got)
	}
	if got := ControlRequestID(12); got != "ctrl_12" {
		t.Errorf("ControlRequestID(12) = %q", got)
	}
}

func TestErrorCodes(t *testing.T) {
	for got, want := range map[string]string{
		CodeInvalidCommand: "invalid_command", CodeUnresolvedUpload: "unresolved_upload",
		CodeInternalError: "internal_error", CodePublishRefused: "publish_refused",
	} {
		if got != want {
			t.Errorf("code %q, want %q", got, want)
		}
	}
}

func TestStructConversion(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	in := map[string]any{
		"prompt": "a cat", "steps": 4, "ok": true, "none": nil,
		"tags":  []string{"a", "b"},                 // not a structpb type: goes through JSON
		"point": point{X: 2},                        // likewise
		"deep":  map[string]any{"list": []any{1.5}}, // structpb type
	}
	s, err := ToStruct(in)
	if err != nil {
		t.Fatal(err)
	}
	got := FromStruct(s)
	want := map[string]any{
		"prompt": "a cat", "steps": 4.0, "ok": true, "none": nil,
		"tags": []any{"a", "b"}, "point": map[string]any{"x": 2.0},
		"deep": map[string]any{"list": []any{1.5}},
	}
	if !equalJSON(t, got, want) {
		t.Fatalf("round trip = %v, want %v", got, want)
	}
}

func TestStructEdges(t *testing.T) {
	s, err := ToStruct(nil)
	if err != nil || s == nil || len(s.GetFields()) != 0 {
		t.Fatalf("ToStruct(nil) = %v, %v; want an empty, present Struct", s, err)
	}
	if m := FromStruct(nil); m == nil || len(m) != 0 {
		t.Fatalf("FromStruct(nil) = %#v; want an empty map", m)
	}
	if _, err := ToStruct(map[string]any{"ch": make(chan int)}); err == nil {
		t.Fatal("ToStruct accepted a channel")
	}
}

func TestFileRefRoundTrip(t *testing.T) {
	ref := wire.FileRef{UploadID: "u9", Name: "x.jpg", MimeType: "image/jpeg", Size: 1 << 40}
	if got := ToFileRef(ToUploadReference(ref)); got != ref {
		t.Fatalf("round trip = %+v, want %+v", got, ref)
	}
	msg := must(NewCommand("data_3", "edit", map[string]any{}, map[string]wire.FileRef{"image": ref}))
	if got := ToFileRef(msg.GetCommand().GetUploads()["image"]); got != ref {
		t.Fatalf("command upload = %+v, want %+v", got, ref)
	}
}

func TestBuilderKinds(t *testing.T) {
	type enveloped interface {
		proto.Message
		GetRequestId() string
		GetKind() MessageKind
	}
	cases := []struct {
		msg  enveloped
		kind MessageKind
		id   string
	}{
		{NewPing(), KindNotification, ""},
		{NewPauseTrack("v"), KindNotification, ""},
		{NewUnpublishTrack("v"), KindNotification, ""},
		{NewPublishTrack("ctrl_1", "webcam"), KindRequest, "ctrl_1"},
		{NewRequestSchema("ctrl_2"), KindRequest, "ctrl_2"},
		{NewRequestRecording("ctrl_3"), KindRequest, "ctrl_3"},
		{must(NewModelSchema("ctrl_2", map[string]any{"openapi": "3.1.0"})), KindResponse, "ctrl_2"},
		{NewClipFailed("ctrl_3", "no frames"), KindResponse, "ctrl_3"},
		{must(NewModelResponse("data_4", "done", nil)), KindResponse, "data_4"},
	}
	for _, tc := range cases {
		if tc.msg.GetKind() != tc.kind || tc.msg.GetRequestId() != tc.id {
			t.Errorf("%s: kind %v id %q, want %v %q", PayloadName(tc.msg),
				tc.msg.GetKind(), tc.msg.GetRequestId(), tc.kind, tc.id)
		}
	}
}

// A payload from a newer wire release (here an unknown tag 16) must decode
// without error and read as "no payload", as pinned clients treat
// session_ended.
func TestUnknownPayloadIsKept(t *testing.T) {
	frame := protowire.AppendTag(nil, 2, protowire.VarintType)
	frame = protowire.AppendVarint(frame, 3)
	frame = protowire.AppendTag(frame, 16, protowire.BytesType)
	frame = protowire.AppendBytes(frame, []byte{0x0a, 0x01, 'x'})
	msg, err := DecodeControlServer(frame)
	if err != nil {
		t.Fatal(err)
	}
	if PayloadName(msg) != "" || msg.GetKind() != KindNotification {
		t.Fatalf("got payload %q kind %v", PayloadName(msg), msg.GetKind())
	}
	again, _ := Marshal(msg)
	if string(again) != string(frame) {
		t.Fatalf("unknown field not preserved: % x", again)
	}
}

func TestDecodeGarbage(t *testing.T) {
	for _, frame := range [][]byte{{0xff}, {0x0a, 0x05, 'a'}, []byte(`{"scope":"runtime"}`)} {
		if _, err := DecodeDataClient(frame); err == nil {
			t.Errorf("DecodeDataClient(% x) succeeded", frame)
		} else if !strings.Contains(err.Error(), "DataClientMessage") {
			t.Errorf("error %q does not name the message", err)
		}
	}
	if _, err := Marshal(&DataClientMessage{RequestId: "\xff"}); err == nil {
		t.Error("Marshal accepted a request_id that is not UTF-8")
	}
}

// Frames the reference client sends first (ping, resume_track, a command
// with a data_<n> id) must latch a connection to v1.
func TestBuiltFramesSniffAsV1(t *testing.T) {
	for _, m := range []proto.Message{
		NewPing(), NewResumeTrack("main_video"), NewPublishTrack("ctrl_1", "webcam"),
		must(NewCommand("data_1", "set_prompt", map[string]any{"prompt": "{"}, nil)),
	} {
		b, _ := Marshal(m)
		if c := wirev0.Sniff(b, false); c != wirev0.V1 {
			t.Errorf("%s sniffed as %v", PayloadName(m), c)
		}
	}
}

// The sniff rule of PROTOCOL.md §3.4 misreads a v1 frame whose request_id
// is 123 bytes long: 0x0a (the request_id tag) is whitespace and 123 is '{'.
// This pins the quirk so nobody "fixes" one side only.
func TestSniffQuirkLongRequestID(t *testing.T) {
	b, _ := Marshal(NewPublishTrack(strings.Repeat("x", 123), "webcam"))
	if c := wirev0.Sniff(b, false); c != wirev0.V0 {
		t.Fatalf("123-byte request_id sniffed as %v; the quirk changed", c)
	}
}

// equalJSON compares two values by their JSON encodings (map order aside).
func equalJSON(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
