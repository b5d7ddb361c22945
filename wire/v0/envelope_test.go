package wirev0

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/reactor-harness/reactor-harness/wire"
)

var imageRef = wire.FileRef{UploadID: "u1", Name: "a.png", MimeType: "image/png", Size: 5}

// must unwraps an encoder result inside test tables.
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestEncodeGolden pins the exact bytes the encoders produce: the shapes of
// PROTOCOL.md §3.1–§3.2 as the JS SDKs send them.
func TestEncodeGolden(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"command", must(NewCommand("set_prompt", map[string]any{"prompt": "a <cat>"}, nil)),
			`{"scope":"application","data":{"type":"set_prompt","data":{"prompt":"a <cat>"}}}`},
		{"command with uploads", must(NewCommand("edit", map[string]any{}, map[string]wire.FileRef{"image": imageRef})),
			`{"scope":"application","data":{"type":"edit","data":{},"uploads":{"image":{"upload_id":"u1","name":"a.png","mime_type":"image/png","size":5}}}}`},
		{"ping", must(NewRuntimeMessage(TypePing, nil)),
			`{"scope":"runtime","data":{"type":"ping","data":{}}}`},
		{"requestClip", must(NewRuntimeMessage(TypeRequestClip, RequestClip{DurationSeconds: 5})),
			`{"scope":"runtime","data":{"type":"requestClip","data":{"duration_seconds":5}}}`},
		{"sessionEnded", must(NewRuntimeMessage(TypeSessionEnded, SessionEnded{Reason: "idle"})),
			`{"scope":"runtime","data":{"type":"sessionEnded","data":{"reason":"idle"}}}`},
		{"model message", must(NewModelMessage("progress", json.RawMessage(`{"pct":50}`))),
			`{"scope":"application","data":{"type":"progress","data":{"pct":50}}}`},
		{"publish request", NewPublishTrackRequest(ControlRequestID(1), "webcam"),
			`{"type":"request","method":"publish_track","request_id":"ctrl_1","data":{"name":"webcam"}}`},
		{"publish granted", NewPublishTrackGranted("ctrl_1"),
			`{"type":"response","method":"publish_track","request_id":"ctrl_1","data":{}}`},
		{"publish refused", NewPublishTrackRefused("ctrl_1", "publish_refused", "track already published"),
			`{"type":"response","method":"publish_track","request_id":"ctrl_1","error":{"code":"publish_refused","message":"track already published"}}`},
		{"resume notification", must(NewTrackNotification(EventResumeTrack, "main_video")),
			`{"type":"notification","event":"resume_track","data":{"name":"main_video"}}`},
		{"legacy command", must(NewLegacyCommand("requestCapabilities", nil)),
			`{"type":"requestCapabilities","data":{}}`},
		{"legacy application", must(NewLegacyApplication("hello")),
			`{"type":"application","data":"hello"}`},
	}
	for _, tc := range cases {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	cases := []struct {
		scope   Scope
		typ     string
		data    any
		uploads map[string]wire.FileRef
		into    any
	}{
		{ScopeApplication, "set_prompt", map[string]any{"prompt": "hi", "n": 2.0}, nil, &map[string]any{}},
		{ScopeApplication, "edit", map[string]any{"strength": 0.5}, map[string]wire.FileRef{"image": imageRef}, &map[string]any{}},
		{ScopeRuntime, TypeFileUploaded, imageRef, nil, &wire.FileRef{}},
		{ScopeRuntime, TypeClipReady, ClipReady{SessionID: "s", Kind: ClipKindSnap, StartMarker: 1, EndMarker: 2,
			NowMarker: 3, PredictedReadyAtMs: 1000, PlaylistURL: "/clips?id=1"}, nil, &ClipReady{}},
		{ScopeRuntime, TypeModeration, Moderation{Action: ModerationWarn, InputKind: InputKindText,
			Command: "set_prompt", Categories: []string{"violence"}, Message: "careful"}, nil, &Moderation{}},
		{ScopeRuntime, TypeClipFailed, ClipFailed{Reason: "no frames"}, nil, &ClipFailed{}},
		{ScopeRuntime, TypeModelSchema, map[string]any{"openapi": "3.1.0"}, nil, &map[string]any{}},
	}
	for _, tc := range cases {
		frame, err := Encode(tc.scope, tc.typ, tc.data, tc.uploads)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		env, err := DecodeEnvelope(frame)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", tc.typ, frame, err)
		}
		if env.Scope != tc.scope || env.Data.Type != tc.typ || !reflect.DeepEqual(env.Data.Uploads, tc.uploads) {
			t.Fatalf("%s: decoded %+v", tc.typ, env)
		}
		if err := env.Data.DecodeData(tc.into); err != nil {
			t.Fatal(err)
		}
		if got := reflect.ValueOf(tc.into).Elem().Interface(); !reflect.DeepEqual(got, normalise(t, tc.data)) {
			t.Fatalf("%s: data %#v, want %#v", tc.typ, got, tc.data)
		}
	}
}

// normalise passes typed payloads through and turns maps into what
// encoding/json decodes them to, so DeepEqual compares like with like.
func normalise(t *testing.T, v any) any {
	if _, ok := v.(map[string]any); !ok {
		return v
	}
	b, _ := json.Marshal(v)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMessageObject(t *testing.T) {
	env, err := DecodeEnvelope([]byte(`{"scope":"runtime","data":{"type":"requestSchema"}}`))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := env.Data.Object()
	if err != nil || len(obj) != 0 {
		t.Fatalf("absent runtime data reads as {}: %v %v", obj, err)
	}
}

// TestDecodeEnvelopeMalformed: each bad frame fails with the sentinel a
// conformance check reports, and the message says what was wrong.
func TestDecodeEnvelopeMalformed(t *testing.T) {
	cases := []struct {
		name, frame string
		want        error
		mention     string
	}{
		{"not JSON", `scope=runtime`, ErrNotJSON, "JSON"},
		{"truncated", `{"scope":"runtime"`, ErrNotJSON, "JSON"},
		{"trailing garbage", `{"scope":"runtime","data":{"type":"ping"}} x`, ErrNotJSON, "JSON"},
		{"invalid UTF-8", "{\"scope\":\"runtime\",\"data\":{\"type\":\"p\xffing\"}}", ErrNotJSON, "UTF-8"},
		{"array", `[{"scope":"runtime"}]`, ErrNotObject, "an array"},
		{"missing scope", `{"data":{"type":"ping","data":{}}}`, ErrMissingScope, "scope"},
		{"flat 2.2.1 frame", `{"type":"set_prompt","data":{}}`, ErrMissingScope, "2.2.1"},
		{"unknown scope", `{"scope":"model","data":{"type":"x","data":{}}}`, ErrUnknownScope, `"model"`},
		{"scope case", `{"scope":"Runtime","data":{"type":"ping","data":{}}}`, ErrUnknownScope, `"Runtime"`},
		{"scope number", `{"scope":1,"data":{"type":"ping","data":{}}}`, ErrUnknownScope, "a number"},
		{"no inner data", `{"scope":"runtime"}`, ErrNotObject, `"data"`},
		{"inner data string", `{"scope":"runtime","data":"ping"}`, ErrNotObject, "a string"},
		{"missing type", `{"scope":"application","data":{"data":{}}}`, ErrMissingType, "type"},
		{"empty type", `{"scope":"application","data":{"type":"","data":{}}}`, ErrMissingType, "type"},
		{"type not string", `{"scope":"runtime","data":{"type":7}}`, ErrMissingType, "type"},
		{"Type capitalised", `{"scope":"runtime","data":{"Type":"ping"}}`, ErrMissingType, "type"},
		{"command data array", `{"scope":"application","data":{"type":"x","data":[1]}}`, ErrDataNotObject, "an array"},
		{"command data string", `{"scope":"application","data":{"type":"x","data":"{}"}}`, ErrDataNotObject, "a string"},
		{"command data null", `{"scope":"application","data":{"type":"x","data":null}}`, ErrDataNotObject, "null"},
		{"command without data", `{"scope":"application","data":{"type":"x"}}`, ErrDataNotObject, "no data"},
		{"runtime data number", `{"scope":"runtime","data":{"type":"requestClip","data":5}}`, ErrDataNotObject, "a number"},
		{"uploads array", `{"scope":"application","data":{"type":"x","data":{},"uploads":[]}}`, ErrBadUploads, "an array"},
		{"upload size string", `{"scope":"application","data":{"type":"x","data":{},"uploads":{"i":{"upload_id":"u","size":"5"}}}}`, ErrBadUploads, `"x"`},
		{"upload without id", `{"scope":"application","data":{"type":"x","data":{},"uploads":{"i":{"name":"a"}}}}`, ErrBadUploads, "upload_id"},
		{"runtime uploads", `{"scope":"runtime","data":{"type":"ping","data":{},"uploads":{}}}`, ErrBadUploads, "runtime"},
	}
	for _, tc := range cases {
		_, err := DecodeEnvelope([]byte(tc.frame))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.mention)
		}
	}
}

func TestEncodeRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unknown scope", second(Encode("model", "x", nil, nil)), ErrUnknownScope},
		{"empty type", second(NewCommand("", nil, nil)), ErrMissingType},
		{"array data", second(NewCommand("x", []int{1}, nil)), ErrDataNotObject},
		{"raw non-JSON", second(NewCommand("x", json.RawMessage(`{`), nil)), ErrNotJSON},
		{"runtime uploads", second(Encode(ScopeRuntime, "x", nil, map[string]wire.FileRef{"i": imageRef})), ErrBadUploads},
		{"unknown event", second(NewTrackNotification("stop_track", "v")), ErrBadControl},
		{"legacy empty type", second(NewLegacyCommand("", nil)), ErrMissingType},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := NewCommand("x", map[string]any{"c": make(chan int)}, nil); err == nil {
		t.Error("NewCommand accepted a channel")
	}
}

func second(_ []byte, err error) error { return err }

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"scope":"runtime","data":{"type":"ping","data":{}}}`))
	f.Add([]byte(`{"scope":"application","data":{"type":"edit","data":{"a":[1,{"b":null}]},"uploads":{"image":{"upload_id":"u1","name":"a.png","mime_type":"image/png","size":5}}}}`))
	f.Add([]byte(`{"type":"set_prompt","data":"x"}`))
	f.Add([]byte(`{"scope":"runtime","data":{"type":"clipReady","data":{"session_id":"s","kind":"snap"}}}`))
	f.Add([]byte{0x10, 0x03, 0x52, 0x00})
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, err := DecodeEnvelope(frame)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same envelope.
		again, err := Encode(env.Scope, env.Data.Type, env.Data.Data, env.Data.Uploads)
		if err != nil {
			t.Fatalf("re-encode of %q: %v", frame, err)
		}
		back, err := DecodeEnvelope(again)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
		if back.Scope != env.Scope || back.Data.Type != env.Data.Type ||
			!sameUploads(back.Data.Uploads, env.Data.Uploads) || !sameJSON(back.Data.Data, env.Data.Data) {
			t.Fatalf("round trip changed %+v into %+v", env, back)
		}
		if Sniff(again, false) != V0 {
			t.Fatalf("an encoded envelope sniffed as v1: %s", again)
		}
	})
}

// sameJSON compares two payloads by meaning; absent equals {}.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if len(a) == 0 {
		a = emptyObject
	}
	if len(b) == 0 {
		b = emptyObject
	}
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// sameUploads compares upload maps; an empty map encodes as none.
func sameUploads(a, b map[string]wire.FileRef) bool {
	return (len(a) == 0 && len(b) == 0) || reflect.DeepEqual(a, b)
}
