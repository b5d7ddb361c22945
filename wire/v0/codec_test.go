package wirev0

import (
	"bytes"
	"errors"
	"testing"
)

func TestSniff(t *testing.T) {
	cases := []struct {
		name   string
		frame  []byte
		isText bool
		want   Codec
	}{
		{"text JSON", []byte(`{"scope":"runtime"}`), true, V0},
		{"text garbage is still v0", []byte{0x10, 0x03}, true, V0},
		{"empty text", nil, true, V0},
		{"binary object", []byte(`{"scope":"runtime"}`), false, V0},
		{"binary array", []byte(`[1]`), false, V0},
		{"binary object after whitespace", []byte(" \t\r\n\v\f{"), false, V0},
		{"binary ping", []byte{0x10, 0x03, 0x52, 0x00}, false, V1},
		{"binary resume_track", []byte{0x10, 0x03, 0x8a, 0x01, 0x00}, false, V1},
		{"binary request_id data_1", append([]byte{0x0a, 0x06}, "data_1"...), false, V1},
		{"empty binary", []byte{}, false, V1},
		{"only whitespace", []byte("  \n"), false, V1},
		{"binary string JSON", []byte(`"x"`), false, V1},
	}
	for _, tc := range cases {
		if got := Sniff(tc.frame, tc.isText); got != tc.want {
			t.Errorf("%s: Sniff(% x, %v) = %v, want %v", tc.name, tc.frame, tc.isText, got, tc.want)
		}
	}
}

func TestCodecString(t *testing.T) {
	if V0.String() != "v0" || V1.String() != "v1" || Codec(9).String() != "Codec(9)" {
		t.Fatal("Codec.String")
	}
	if SeedCodec("1.0") != V0 || SeedCodec("") != V0 || SeedCodec("2.0") != V0 {
		t.Fatal("every seed is v0 today (PROTOCOL.md §3.4)")
	}
}

func TestCheckSize(t *testing.T) {
	if MaxMessageBytes != 262144 {
		t.Fatalf("MaxMessageBytes = %d", MaxMessageBytes)
	}
	if err := CheckSize(make([]byte, MaxMessageBytes)); err != nil {
		t.Fatalf("a frame of exactly the limit is allowed: %v", err)
	}
	if err := CheckSize(make([]byte, MaxMessageBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("CheckSize(limit+1) = %v", err)
	}
}

// sniffReference restates §3.4 with the standard library, for the fuzzer.
func sniffReference(frame []byte, isText bool) Codec {
	if isText {
		return V0
	}
	t := bytes.TrimLeft(frame, " \t\n\r\v\f")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return V0
	}
	return V1
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte(`{"a":1}`), false)
	f.Add([]byte(" [\n"), false)
	f.Add([]byte{0x0a, 0x7b}, false)
	f.Add([]byte{0x10, 0x03, 0x52, 0x00}, false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, frame []byte, isText bool) {
		if got, want := Sniff(frame, isText), sniffReference(frame, isText); got != want {
			t.Fatalf("Sniff(% x, %v) = %v, reference says %v", frame, isText, got, want)
		}
	})
}
