package wirev0

import (
	"errors"
	"testing"
)

func TestDecodeLegacy(t *testing.T) {
	cases := []struct{ frame, typ, data string }{
		{`{"type":"requestCapabilities","data":{}}`, TypeRequestCapabilities, `{}`},
		{`{"type":"application","data":{"commands":{}}}`, LegacyTypeApplication, `{"commands":{}}`},
		{`{"type":"set_prompt","data":"a cat"}`, "set_prompt", `"a cat"`},
		{`{"type":"noop"}`, "noop", ``},
	}
	for _, tc := range cases {
		got, err := DecodeLegacy([]byte(tc.frame))
		if err != nil {
			t.Fatalf("%s: %v", tc.frame, err)
		}
		if got.Type != tc.typ || string(got.Data) != tc.data {
			t.Fatalf("%s: got %+v", tc.frame, got)
		}
	}
}

func TestDecodeLegacyMalformed(t *testing.T) {
	cases := []struct {
		frame string
		want  error
	}{
		{`nope`, ErrNotJSON},
		{`[]`, ErrNotObject},
		{`{"data":{}}`, ErrMissingType},
		{`{"type":""}`, ErrMissingType},
		{`{"type":null}`, ErrMissingType},
		{`{"scope":"application","data":{"type":"x","data":{}}}`, ErrMissingType},
	}
	for _, tc := range cases {
		if _, err := DecodeLegacy([]byte(tc.frame)); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.frame, err, tc.want)
		}
	}
}

func FuzzDecodeLegacy(f *testing.F) {
	f.Add([]byte(`{"type":"application","data":{"x":1}}`))
	f.Add([]byte(`{"type":"set_prompt","data":"a"}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		lf, err := DecodeLegacy(frame)
		if err != nil {
			return
		}
		again, err := NewLegacyCommand(lf.Type, lf.Data)
		if err != nil {
			t.Fatalf("re-encode of %q: %v", frame, err)
		}
		if back, err := DecodeLegacy(again); err != nil || back.Type != lf.Type {
			t.Fatalf("re-decode of %s: %+v %v", again, back, err)
		}
	})
}
