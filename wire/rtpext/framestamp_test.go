package rtpext

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestFrameStampVector(t *testing.T) {
	// 1_700_000_000_123_456 µs = 0x00060A2418202240, seq 0x01020304, command 7.
	s := FrameStamp{CaptureMicros: 1_700_000_000_123_456, Seq: 0x01020304, CommandID: 7}
	want := []byte{
		0x00, 0x06, 0x0A, 0x24, 0x18, 0x20, 0x22, 0x40,
		0x01, 0x02, 0x03, 0x04,
		0x00, 0x00, 0x00, 0x07,
	}
	if got := s.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Marshal = % x, want % x", got, want)
	}
	var back FrameStamp
	if err := back.Unmarshal(want); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if back != s {
		t.Fatalf("Unmarshal = %+v, want %+v", back, s)
	}
}

func TestFrameStampAllOnes(t *testing.T) {
	// The capture field is unsigned on the wire: all ones reads back as -1
	// in the int64 field and re-encodes to the same bytes.
	in := bytes.Repeat([]byte{0xff}, FrameStampSize)
	var s FrameStamp
	if err := s.Unmarshal(in); err != nil {
		t.Fatal(err)
	}
	if s.CaptureMicros != -1 || s.Seq != 0xffffffff || s.CommandID != 0xffffffff {
		t.Fatalf("got %+v", s)
	}
	if !bytes.Equal(s.Marshal(), in) {
		t.Fatal("round trip changed the bytes")
	}
}

func TestFrameStampTime(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
	s := NewFrameStamp(at, 3, 9)
	if s.CaptureMicros != at.UnixMicro() {
		t.Fatalf("CaptureMicros = %d, want %d", s.CaptureMicros, at.UnixMicro())
	}
	if want := at.Truncate(time.Microsecond); !s.CaptureTime().Equal(want) {
		t.Fatalf("CaptureTime = %v, want %v", s.CaptureTime(), want)
	}
}

func TestFrameStampAppendTo(t *testing.T) {
	prefix := []byte{0xAA}
	got := FrameStamp{Seq: 1}.AppendTo(prefix)
	if len(got) != 1+FrameStampSize || got[0] != 0xAA || got[12] != 1 {
		t.Fatalf("AppendTo = % x", got)
	}
}

func TestFrameStampBadLength(t *testing.T) {
	for _, n := range []int{0, 1, 8, 15, 17, 32} {
		var s FrameStamp
		err := s.Unmarshal(make([]byte, n))
		if !errors.Is(err, ErrBadLength) {
			t.Errorf("Unmarshal(%d bytes) error = %v, want ErrBadLength", n, err)
		}
	}
}

func FuzzFrameStampUnmarshal(f *testing.F) {
	f.Add(make([]byte, FrameStampSize))
	f.Add(FrameStamp{CaptureMicros: 1_700_000_000_123_456, Seq: 42, CommandID: 7}.Marshal())
	f.Add(bytes.Repeat([]byte{0xff}, FrameStampSize))
	f.Add([]byte{})
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s FrameStamp
		err := s.Unmarshal(b)
		if len(b) != FrameStampSize {
			if !errors.Is(err, ErrBadLength) {
				t.Fatalf("%d bytes: error %v, want ErrBadLength", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("16 bytes refused: %v", err)
		}
		// Every 16-byte payload is valid and encodes back bit for bit.
		if got := s.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip: % x -> %+v -> % x", b, s, got)
		}
	})
}
