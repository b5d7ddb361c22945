package dcchunk

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// goldenFrames are the reference platform's golden cases for format
// version 0 (the same inputs and outputs, in this table's own layout): a
// message of a type, split at a frame size, gives exactly these frames.
var goldenFrames = []struct {
	name      string
	chunkSize int
	text      bool
	message   string // hex
	frames    string // hex, comma-separated
}{
	{"empty binary is a header-only frame", 4, false, "", "00"},
	{"empty text is a header-only frame", 4, true, "", "02"},
	{"binary that fits one frame", 4, false, "616263", "00616263"},
	{"binary one byte over a frame", 4, false, "61626364", "01616263,0064"},
	{"text over two frames", 4, true, "68656c6c6f", "0368656c,026c6f"},
	{"binary over two full frames", 5, false, "6162636465666768", "0161626364,0065666768"},
	{"a UTF-8 character cut across frames", 2, true, "e282ac", "03e2,0382,02ac"},
	{"sixteen-byte frames", 16, false, "000102030405060708090a0b0c0d0e0f10",
		"01000102030405060708090a0b0c0d0e,000f10"},
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestGoldenFramesSplit(t *testing.T) {
	for _, c := range goldenFrames {
		t.Run(c.name, func(t *testing.T) {
			got, err := Split(unhex(t, c.message), c.text, c.chunkSize)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(c.frames, ",")
			if len(got) != len(want) {
				t.Fatalf("got %d frames, want %d", len(got), len(want))
			}
			for i := range want {
				if hex.EncodeToString(got[i]) != want[i] {
					t.Errorf("frame %d = %x, want %s", i, got[i], want[i])
				}
			}
			if n := FrameCount(len(unhex(t, c.message)), c.chunkSize); n != len(want) {
				t.Errorf("FrameCount = %d, want %d", n, len(want))
			}
		})
	}
}

func TestGoldenFramesReassemble(t *testing.T) {
	for _, c := range goldenFrames {
		t.Run(c.name, func(t *testing.T) {
			r := NewReassembler(1024, 0)
			frames := strings.Split(c.frames, ",")
			for i, f := range frames {
				d, err := r.Push(unhex(t, f))
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				last := i == len(frames)-1
				if !last && d.Outcome != Pending {
					t.Fatalf("frame %d: outcome %v before the last frame", i, d.Outcome)
				}
				if last {
					if d.Outcome != Complete || d.Text != c.text || !bytes.Equal(d.Data, unhex(t, c.message)) {
						t.Fatalf("got %+v, want message %s text=%v", d, c.message, c.text)
					}
				}
			}
			if r.MidMessage() {
				t.Error("still mid-message after the last frame")
			}
		})
	}
}

func TestHeaderBits(t *testing.T) {
	for _, c := range []struct {
		h    Header
		byte byte
	}{
		{Header{}, 0x00}, {Header{More: true}, 0x01},
		{Header{Text: true}, 0x02}, {Header{More: true, Text: true}, 0x03},
	} {
		if got := c.h.Encode(); got != c.byte {
			t.Errorf("%+v encodes %#02x, want %#02x", c.h, got, c.byte)
		}
		if got, err := DecodeHeader(c.byte); err != nil || got != c.h {
			t.Errorf("%#02x decodes %+v, %v", c.byte, got, err)
		}
	}
	for b := 0x04; b <= 0xff; b++ {
		if _, err := DecodeHeader(byte(b)); err == nil {
			t.Errorf("%#02x: version bits accepted", b)
		}
	}
}

func TestFramesRefusesAChunkSizeWithoutPayload(t *testing.T) {
	for _, n := range []int{-1, 0, 1} {
		if _, err := Split([]byte("abc"), false, n); err == nil {
			t.Errorf("chunk size %d accepted", n)
		}
	}
}
