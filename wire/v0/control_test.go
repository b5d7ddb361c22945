package wirev0

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeControl(t *testing.T) {
	cases := []struct {
		name, frame string
		want        ControlFrame
		track       string
	}{
		{"publish request",
			`{"type":"request","method":"publish_track","request_id":"ctrl_1","data":{"name":"webcam"}}`,
			ControlFrame{Type: ControlRequest, Method: MethodPublishTrack, RequestID: "ctrl_1"}, "webcam"},
		{"granted", `{"type":"response","method":"publish_track","request_id":"ctrl_1","data":{}}`,
			ControlFrame{Type: ControlResponse, Method: MethodPublishTrack, RequestID: "ctrl_1"}, ""},
		{"refused", `{"type":"response","request_id":"ctrl_2","error":{"code":"publish_refused","message":"no"}}`,
			ControlFrame{Type: ControlResponse, RequestID: "ctrl_2",
				Error: &ControlError{Code: "publish_refused", Message: "no"}}, ""},
		{"pause", `{"type":"notification","event":"pause_track","data":{"name":"main_video"}}`,
			ControlFrame{Type: ControlNotification, Event: EventPauseTrack}, "main_video"},
		{"unpublish", `{"type":"notification","event":"unpublish_track","data":{"name":"webcam"}}`,
			ControlFrame{Type: ControlNotification, Event: EventUnpublishTrack}, "webcam"},
	}
	for _, tc := range cases {
		got, err := DecodeControl([]byte(tc.frame))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Type != tc.want.Type || got.Method != tc.want.Method || got.Event != tc.want.Event ||
			got.RequestID != tc.want.RequestID || (got.Error == nil) != (tc.want.Error == nil) ||
			(got.Error != nil && *got.Error != *tc.want.Error) {
			t.Fatalf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		if tc.track == "" {
			continue
		}
		if name, err := got.TrackName(); err != nil || name != tc.track {
			t.Fatalf("%s: TrackName = %q, %v", tc.name, name, err)
		}
	}
}

func TestDecodeControlMalformed(t *testing.T) {
	cases := []struct {
		name, frame string
		want        error
		mention     string
	}{
		{"not JSON", `request`, ErrNotJSON, "JSON"},
		{"not object", `"request"`, ErrNotObject, "a string"},
		{"no type", `{"method":"publish_track"}`, ErrMissingType, "type"},
		{"TYPE capitalised", `{"TYPE":"request","method":"publish_track","request_id":"c"}`, ErrMissingType, "type"},
		{"unknown type", `{"type":"event"}`, ErrBadControl, `"event"`},
		{"unknown method", `{"type":"request","method":"mute","request_id":"c"}`, ErrBadControl, `"mute"`},
		{"request without id", `{"type":"request","method":"publish_track","data":{"name":"w"}}`, ErrBadControl, "request_id"},
		{"request id number", `{"type":"request","method":"publish_track","request_id":1}`, ErrBadControl, "request_id"},
		{"response without id", `{"type":"response","data":{}}`, ErrBadControl, "request_id"},
		{"response unknown method", `{"type":"response","method":"x","request_id":"c"}`, ErrBadControl, `"x"`},
		{"unknown event", `{"type":"notification","event":"stop_track","data":{"name":"v"}}`, ErrBadControl, "stop_track"},
		{"data array", `{"type":"notification","event":"pause_track","data":["v"]}`, ErrDataNotObject, "an array"},
		{"error string", `{"type":"response","request_id":"c","error":"refused"}`, ErrBadControl, "a string"},
		{"error code number", `{"type":"response","request_id":"c","error":{"code":1}}`, ErrBadControl, "error"},
	}
	for _, tc := range cases {
		_, err := DecodeControl([]byte(tc.frame))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.mention)
		}
	}
}

func TestTrackNameErrors(t *testing.T) {
	for _, frame := range []string{
		`{"type":"notification","event":"pause_track"}`,
		`{"type":"notification","event":"pause_track","data":{}}`,
		`{"type":"notification","event":"pause_track","data":{"name":5}}`,
	} {
		f, err := DecodeControl([]byte(frame))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.TrackName(); !errors.Is(err, ErrBadControl) {
			t.Errorf("%s: TrackName err = %v", frame, err)
		}
	}
}

func TestControlRoundTrip(t *testing.T) {
	frames := [][]byte{
		NewPublishTrackRequest(ControlRequestID(3), "webcam"),
		NewPublishTrackGranted("ctrl_3"),
		NewPublishTrackRefused("ctrl_3", "publish_refused", "busy"),
		must(NewTrackNotification(EventResumeTrack, "main_video")),
	}
	for _, frame := range frames {
		if _, err := DecodeControl(frame); err != nil {
			t.Errorf("%s: %v", frame, err)
		}
	}
}

func FuzzDecodeControl(f *testing.F) {
	f.Add([]byte(`{"type":"request","method":"publish_track","request_id":"ctrl_1","data":{"name":"webcam"}}`))
	f.Add([]byte(`{"type":"response","request_id":"ctrl_1","error":{"code":"publish_refused","message":"x"}}`))
	f.Add([]byte(`{"type":"notification","event":"resume_track","data":{"name":"main_video"}}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		cf, err := DecodeControl(frame)
		if err != nil {
			return
		}
		_, _ = cf.TrackName()
		// What decodes re-encodes (encoding/json of the frame) and decodes again.
		again := mustMarshal(cf)
		if _, err := DecodeControl(again); err != nil {
			t.Fatalf("re-decode of %s (from %q): %v", again, frame, err)
		}
	})
}
