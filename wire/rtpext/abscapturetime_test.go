package rtpext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Vectors computed by hand: NTP seconds = Unix seconds + 2208988800 (mod
// 2^32), fraction = round(ns * 2^32 / 1e9).
func TestAbsCaptureTimeVectors(t *testing.T) {
	cases := []struct {
		name string
		at   string
		want []byte
	}{
		{"unix epoch", "1970-01-01T00:00:00Z", []byte{0x83, 0xAA, 0x7E, 0x80, 0, 0, 0, 0}},
		{"half second", "1970-01-01T00:00:00.5Z", []byte{0x83, 0xAA, 0x7E, 0x80, 0x80, 0, 0, 0}},
		{"quarter second", "1970-01-01T00:00:00.25Z", []byte{0x83, 0xAA, 0x7E, 0x80, 0x40, 0, 0, 0}},
		{"y2k", "2000-01-01T00:00:00Z", []byte{0xBC, 0x17, 0xC2, 0x00, 0, 0, 0, 0}},
		// 0.123456789 * 2^32 = 530242871.2 -> 0x1F9ADD37.
		{"nanoseconds", "2024-05-01T12:00:00.123456789Z", []byte{0xE9, 0xDC, 0xAD, 0x40, 0x1F, 0x9A, 0xDD, 0x37}},
		{"era 0 start", "1968-01-20T03:14:08Z", []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"era 1 start", "2036-02-07T06:28:16Z", []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{"era 1 plus one", "2036-02-07T06:28:17Z", []byte{0, 0, 0, 1, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := mustTime(t, c.at)
			got, err := NewAbsCaptureTime(at).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) {
				t.Fatalf("Marshal(%s) = % x, want % x", c.at, got, c.want)
			}
			var back AbsCaptureTime
			if err := back.Unmarshal(c.want); err != nil {
				t.Fatal(err)
			}
			if !back.Timestamp.Equal(at) || back.HasClockOffset {
				t.Fatalf("Unmarshal = %+v, want %s without offset", back, at)
			}
		})
	}
}

func TestAbsCaptureTimeOffsetVectors(t *testing.T) {
	at := mustTime(t, "1970-01-01T00:00:00Z")
	cases := []struct {
		off  time.Duration
		want []byte // the 8 offset bytes after the timestamp
	}{
		{0, []byte{0, 0, 0, 0, 0, 0, 0, 0}},
		{250 * time.Millisecond, []byte{0, 0, 0, 0, 0x40, 0, 0, 0}},
		{3 * time.Second, []byte{0, 0, 0, 3, 0, 0, 0, 0}},
		// -1.5 s = -2 + 0.5: high half 0xFFFFFFFE, fraction 0x80000000.
		{-1500 * time.Millisecond, []byte{0xFF, 0xFF, 0xFF, 0xFE, 0x80, 0, 0, 0}},
		{-time.Second, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}},
	}
	for _, c := range cases {
		a := AbsCaptureTime{Timestamp: at, ClockOffset: c.off, HasClockOffset: true}
		got, err := a.Marshal()
		if err != nil {
			t.Fatalf("offset %s: %v", c.off, err)
		}
		want := append([]byte{0x83, 0xAA, 0x7E, 0x80, 0, 0, 0, 0}, c.want...)
		if !bytes.Equal(got, want) {
			t.Fatalf("offset %s: Marshal = % x, want % x", c.off, got, want)
		}
		var back AbsCaptureTime
		if err := back.Unmarshal(got); err != nil {
			t.Fatal(err)
		}
		if !back.HasClockOffset || back.ClockOffset != c.off || !back.Timestamp.Equal(at) {
			t.Fatalf("offset %s: Unmarshal = %+v", c.off, back)
		}
	}
}

func TestAbsCaptureTimeNanosecondRoundTrip(t *testing.T) {
	base := mustTime(t, "2026-01-02T03:04:05Z")
	for ns := 0; ns < 1_000_000_000; ns += 7_777_777 {
		at := base.Add(time.Duration(ns))
		v, err := NTPTime(at)
		if err != nil {
			t.Fatal(err)
		}
		if got := TimeFromNTP(v); !got.Equal(at) {
			t.Fatalf("%s -> %#x -> %s", at, v, got)
		}
	}
	for _, ns := range []int{1, 999_999_999} {
		at := base.Add(time.Duration(ns))
		v, _ := NTPTime(at)
		if got := TimeFromNTP(v); !got.Equal(at) {
			t.Fatalf("edge %d ns: got %s", ns, got)
		}
	}
}

func TestAbsCaptureTimeOutOfRange(t *testing.T) {
	for _, s := range []string{"1968-01-20T03:14:07.999Z", "1900-01-01T00:00:00Z", "2104-02-26T09:42:24Z"} {
		if _, err := NewAbsCaptureTime(mustTime(t, s)).Marshal(); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s: error %v, want ErrOutOfRange", s, err)
		}
	}
	if _, err := NewAbsCaptureTime(mustTime(t, "2104-02-26T09:42:23.999Z")).Marshal(); err != nil {
		t.Errorf("last representable second refused: %v", err)
	}
	a := AbsCaptureTime{Timestamp: time.Unix(0, 0), ClockOffset: 100 * 365 * 24 * time.Hour, HasClockOffset: true}
	if _, err := a.Marshal(); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("100-year offset: error %v, want ErrOutOfRange", err)
	}
}

func TestAbsCaptureTimeBadLength(t *testing.T) {
	for _, n := range []int{0, 4, 7, 9, 15, 17, 24} {
		var a AbsCaptureTime
		if err := a.Unmarshal(make([]byte, n)); !errors.Is(err, ErrBadLength) {
			t.Errorf("Unmarshal(%d bytes) error = %v, want ErrBadLength", n, err)
		}
	}
}

func FuzzAbsCaptureTimeUnmarshal(f *testing.F) {
	f.Add([]byte{0x83, 0xAA, 0x7E, 0x80, 0, 0, 0, 0})
	f.Add([]byte{0xE9, 0xDC, 0xAD, 0x40, 0x1F, 0x9A, 0xDD, 0x37})
	f.Add([]byte{0x83, 0xAA, 0x7E, 0x80, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFE, 0x80, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0xFF}, 16))
	f.Add(make([]byte, 16))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var a AbsCaptureTime
		err := a.Unmarshal(b)
		if len(b) != AbsCaptureTimeSize && len(b) != AbsCaptureTimeWithOffsetSize {
			if !errors.Is(err, ErrBadLength) {
				t.Fatalf("%d bytes: error %v, want ErrBadLength", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%d bytes refused: %v", len(b), err)
		}
		// Every decoded value is representable, and decoding is stable: the
		// wire has finer steps than 1 ns, so bytes may move by a few units
		// of 2^-32 s but the decoded value must not.
		out, err := a.Marshal()
		if err != nil {
			t.Fatalf("re-encode of %+v: %v", a, err)
		}
		if len(out) != len(b) {
			t.Fatalf("re-encoded length %d, want %d", len(out), len(b))
		}
		var again AbsCaptureTime
		if err := again.Unmarshal(out); err != nil {
			t.Fatal(err)
		}
		if !again.Timestamp.Equal(a.Timestamp) || again.ClockOffset != a.ClockOffset || again.HasClockOffset != a.HasClockOffset {
			t.Fatalf("unstable: %+v -> % x -> %+v", a, out, again)
		}
		// Seconds are never carried, so the seconds bytes must match and
		// the fraction may move by at most a few 2^-32 s steps.
		if !bytes.Equal(out[:4], b[:4]) || absDiff(binary.BigEndian.Uint32(out[4:8]), binary.BigEndian.Uint32(b[4:8])) > 3 {
			t.Fatalf("timestamp moved: % x -> % x", b[:8], out[:8])
		}
	})
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestAbsCaptureTimeLastInstantRoundTrips(t *testing.T) {
	// The last fraction of the last representable second must decode to a
	// time that encodes again (no carry into an out-of-range second).
	last := TimeFromNTP(0x7FFFFFFF_FFFFFFFF)
	if want := mustTime(t, "2104-02-26T09:42:23.999999999Z"); !last.Equal(want) {
		t.Fatalf("TimeFromNTP = %s, want %s", last, want)
	}
	if _, err := NTPTime(last); err != nil {
		t.Fatal(err)
	}
}
