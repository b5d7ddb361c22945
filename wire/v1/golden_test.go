package wirev1

import (
	"encoding/hex"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/reactor-harness/reactor-harness/wire"
)

// unhex turns "0a 06 64" into bytes; spaces only group bytes for reading.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad golden hex %q: %v", s, err)
	}
	return b
}

// ascii renders a string as the hex the golden vectors use, so the vectors
// spell tags and lengths by hand but not every letter.
func ascii(s string) string { return hex.EncodeToString([]byte(s)) }

// must unwraps a builder result while building test tables; a builder
// error there is a bug in the test itself.
func must[M any](m M, err error) M {
	if err != nil {
		panic(err)
	}
	return m
}

var imageRef = wire.FileRef{UploadID: "u1", Name: "a.png", MimeType: "image/png", Size: 5}

// TestGoldenVectors pins the field numbers of PROTOCOL.md §3.3: each message
// is encoded deterministically and compared with bytes written by hand from
// the spec (tag = field<<3 | wire type), then decoded back.
func TestGoldenVectors(t *testing.T) {
	const uploadRef = "0a 02 7531 12 05 612e706e67 1a 09 696d6167652f706e67 20 05" // u1, a.png, image/png, 5
	cases := []struct {
		name    string
		msg     proto.Message
		want    string
		decode  func([]byte) (proto.Message, error)
		payload string
	}{{
		name: "control resume_track NOTIFICATION",
		msg:  NewResumeTrack("main_video"),
		// kind=2:3 | resume_track=17 (0x8a 0x01) len 12 { name=1 "main_video" }
		want:   "10 03 8a01 0c 0a 0a " + ascii("main_video"),
		decode: asProto(DecodeControlClient), payload: "resume_track",
	}, {
		name: "control ping NOTIFICATION",
		msg:  NewPing(),
		// kind=3 | ping=10 empty
		want:   "10 03 52 00",
		decode: asProto(DecodeControlClient), payload: "ping",
	}, {
		name: "control request_clip REQUEST",
		msg:  NewRequestClip("ctrl_1", 5),
		// request_id "ctrl_1" | kind=1 | request_clip=13 { duration_seconds=1 double 5.0 }
		want:   "0a 06 " + ascii("ctrl_1") + " 10 01 6a 09 09 0000000000001440",
		decode: asProto(DecodeControlClient), payload: "request_clip",
	}, {
		name: "control file_uploaded NOTIFICATION",
		msg:  NewFileUploaded(imageRef),
		// kind=3 | file_uploaded=12 { upload_id=1, name=2, mime_type=3, size=4 }
		want:   "10 03 62 18 " + uploadRef,
		decode: asProto(DecodeControlClient), payload: "file_uploaded",
	}, {
		name: "data command REQUEST data_1",
		msg:  must(NewCommand(DataRequestID(1), "set_prompt", map[string]any{"prompt": "hi"}, nil)),
		// request_id "data_1" | kind=1 | command=10 len 30 {
		//   type=1 "set_prompt" | data=2 Struct { fields=1 entry { key=1 "prompt", value=2 Value { string_value=3 "hi" } } } }
		want: "0a 06 " + ascii("data_1") + " 10 01 52 1e 0a 0a " + ascii("set_prompt") +
			" 12 10 0a 0e 0a 06 " + ascii("prompt") + " 12 04 1a 02 " + ascii("hi"),
		decode: asProto(DecodeDataClient), payload: "command",
	}, {
		name: "data command REQUEST with uploads",
		msg: must(NewCommand(DataRequestID(2), "edit", nil,
			map[string]wire.FileRef{"image": imageRef})),
		// command { type=1 "edit" | data=2 {} (present) | uploads=3 entry { key=1 "image", value=2 UploadReference } }
		want: "0a 06 " + ascii("data_2") + " 10 01 52 2b 0a 04 " + ascii("edit") + " 12 00" +
			" 1a 21 0a 05 " + ascii("image") + " 12 18 " + uploadRef,
		decode: asProto(DecodeDataClient), payload: "command",
	}, {
		name:   "data bodyless ack RESPONSE",
		msg:    NewAck("data_1"),
		want:   "0a 06 " + ascii("data_1") + " 10 02",
		decode: asProto(DecodeDataServer), payload: "",
	}, {
		name: "data Error RESPONSE tag 40",
		msg:  NewDataError("data_1", CodeInvalidCommand, "bad"),
		// error=40 → tag 40<<3|2 = 322 = varint c2 02; Error { code=1, message=2 }
		want: "0a 06 " + ascii("data_1") + " 10 02 c202 16 0a 0f " + ascii("invalid_command") +
			" 12 03 " + ascii("bad"),
		decode: asProto(DecodeDataServer), payload: "error",
	}, {
		name: "data model NOTIFICATION",
		msg:  must(NewModelNotification("progress", map[string]any{"pct": 50})),
		// kind=3 | message=10 { type=1 "progress" | data=2 { "pct": number_value=2 double 50.0 } }
		want: "10 03 52 1e 0a 08 " + ascii("progress") + " 12 12 0a 10 0a 03 " + ascii("pct") +
			" 12 09 11 0000000000004940",
		decode: asProto(DecodeDataServer), payload: "message",
	}, {
		name: "control publish_track granted",
		msg:  NewPublishGranted("ctrl_1", "cam"),
		// kind=2 | publish_track=14 PublishTrackResponse { name=1 }
		want:   "0a 06 " + ascii("ctrl_1") + " 10 02 72 05 0a 03 " + ascii("cam"),
		decode: asProto(DecodeControlServer), payload: "publish_track",
	}, {
		name: "control Error RESPONSE tag 40",
		msg:  NewControlError("ctrl_1", CodePublishRefused, "taken"),
		want: "0a 06 " + ascii("ctrl_1") + " 10 02 c202 18 0a 0f " + ascii("publish_refused") +
			" 12 05 " + ascii("taken"),
		decode: asProto(DecodeControlServer), payload: "error",
	}, {
		name: "control clip_ready",
		msg: NewClipReady("ctrl_2", &ClipReady{SessionId: "s", Kind: "snap", StartMarker: 1, EndMarker: 2,
			NowMarker: 3, PredictedReadyAtMs: 1000, PlaylistUrl: "/c"}),
		// clip_ready=11 { session_id=1, kind=2, start/end/now_marker=3,4,5 doubles,
		//   predicted_ready_at_ms=6 varint 1000, playlist_url=7 }
		want: "0a 06 " + ascii("ctrl_2") + " 10 02 5a 2b 0a 01 73 12 04 " + ascii("snap") +
			" 19 000000000000f03f 21 0000000000000040 29 0000000000000840 30 e807 3a 02 " + ascii("/c"),
		decode: asProto(DecodeControlServer), payload: "clip_ready",
	}, {
		name: "control moderation NOTIFICATION",
		msg: NewModeration(&Moderation{Action: "warn", InputKind: "text", Command: "c",
			Categories: []string{"a", "b"}, Message: "m"}),
		// moderation=13 { action=1, input_kind=2, command=3, categories=4 repeated, message=5 }
		want: "10 03 6a 18 0a 04 " + ascii("warn") + " 12 04 " + ascii("text") +
			" 1a 01 63 22 01 61 22 01 62 2a 01 6d",
		decode: asProto(DecodeControlServer), payload: "moderation",
	}, {
		name: "control session_ended NOTIFICATION",
		msg:  NewSessionEnded("bye"),
		// session_ended=15 { reason=1 }
		want:   "10 03 7a 05 0a 03 " + ascii("bye"),
		decode: asProto(DecodeControlServer), payload: "session_ended",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.want)
			got, err := Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("encoding differs from the hand-written vector\n got % x\nwant % x", got, want)
			}
			back, err := tc.decode(want)
			if err != nil {
				t.Fatalf("decode golden bytes: %v", err)
			}
			if !proto.Equal(back, tc.msg) {
				t.Fatalf("decoded %v, want %v", back, tc.msg)
			}
			if name := PayloadName(back); name != tc.payload {
				t.Fatalf("PayloadName = %q, want %q", name, tc.payload)
			}
		})
	}
}

// asProto adapts a typed decoder to the table's common signature.
func asProto[M proto.Message](f func([]byte) (M, error)) func([]byte) (proto.Message, error) {
	return func(b []byte) (proto.Message, error) { return f(b) }
}
