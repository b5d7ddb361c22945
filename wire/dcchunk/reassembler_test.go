package dcchunk

import (
	"bytes"
	"errors"
	"testing"
)

func push(t *testing.T, r *Reassembler, frame string) Delivery {
	t.Helper()
	d, err := r.Push([]byte(frame))
	if err != nil {
		t.Fatalf("push %q: %v", frame, err)
	}
	return d
}

func TestOversizedMessageIsDroppedAndTheChannelKeepsWorking(t *testing.T) {
	r := NewReassembler(5, 0)
	push(t, r, "\x01abcd")
	push(t, r, "\x01efgh")
	if d := push(t, r, "\x00ij"); d.Outcome != Dropped || d.Size != 10 {
		t.Fatalf("got %+v, want dropped of 10 bytes", d)
	}
	if r.Buffered() != 0 {
		t.Errorf("kept %d bytes of a dropped message", r.Buffered())
	}
	if d := push(t, r, "\x00ok"); d.Outcome != Complete || string(d.Data) != "ok" {
		t.Fatalf("next message: %+v", d)
	}
}

func TestMessageExactlyAtTheLimitIsKept(t *testing.T) {
	r := NewReassembler(4, 0)
	push(t, r, "\x01ab")
	if d := push(t, r, "\x00cd"); d.Outcome != Complete || string(d.Data) != "abcd" {
		t.Fatalf("got %+v", d)
	}
}

func TestBrokenFramesAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		frames []string
		want   error
	}{
		{"empty frame", []string{""}, ErrEmptyFrame},
		{"version bit 7", []string{"\x80x"}, ErrUnknownVersion},
		{"version bit 2 mid-message", []string{"\x01ab", "\x04cd"}, ErrUnknownVersion},
		{"text frame inside a binary message", []string{"\x01ab", "\x02cd"}, ErrTypeChanged},
		{"binary frame inside a text message", []string{"\x03ab", "\x00cd"}, ErrTypeChanged},
		{"a stream that never ends", []string{"\x01a", "\x01", "\x01", "\x01"}, ErrTooManyFrames},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReassembler(100, 3)
			var err error
			for _, f := range c.frames {
				if _, err = r.Push([]byte(f)); err != nil {
					break
				}
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestTheFrameBoundAllowsALastFrame(t *testing.T) {
	r := NewReassembler(100, 2)
	push(t, r, "\x01a")
	push(t, r, "\x01b")
	if d := push(t, r, "\x00c"); d.Outcome != Complete || string(d.Data) != "abc" {
		t.Fatalf("got %+v", d)
	}
}

func TestResetDiscardsAPartialMessage(t *testing.T) {
	r := NewReassembler(100, 0)
	push(t, r, "\x01ab")
	r.Reset()
	if r.MidMessage() || r.Buffered() != 0 {
		t.Fatal("partial message survived Reset")
	}
	if d := push(t, r, "\x02cd"); d.Outcome != Complete || !d.Text || string(d.Data) != "cd" {
		t.Fatalf("got %+v", d)
	}
}

func TestReassemblerDoesNotAliasTheFrame(t *testing.T) {
	r := NewReassembler(100, 0)
	f := []byte("\x00xyz")
	d := push(t, r, string(f))
	f[1] = 'Q'
	if string(d.Data) != "xyz" {
		t.Fatalf("delivery changed with the frame: %q", d.Data)
	}
}

func TestOneMebibyteRoundTrip(t *testing.T) {
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	for _, cs := range []int{BrowserChunkSize, NativeChunkSize} {
		r := NewReassembler(DefaultMaxMessageSize, 0)
		var got Delivery
		n := 0
		err := Frames(msg, false, cs, func(f []byte) error {
			n++
			d, err := r.Push(f)
			got = d
			return err
		})
		if err != nil || got.Outcome != Complete || !bytes.Equal(got.Data, msg) {
			t.Fatalf("chunk %d: err %v outcome %v", cs, err, got.Outcome)
		}
		if n != FrameCount(len(msg), cs) {
			t.Errorf("chunk %d: %d frames, FrameCount says %d", cs, n, FrameCount(len(msg), cs))
		}
	}
}

// FuzzReassembler feeds arbitrary frame sequences: the reassembler must
// never panic, never hold more than its limit, and every message it
// completes must respect that limit.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte("\x01abc\x00\x00d"), uint8(2))
	f.Add([]byte("\x03h\x02i"), uint8(1))
	f.Add([]byte("\x80\x01\x02"), uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		const limit = 16
		r := NewReassembler(limit, 8)
		step := int(cut%7) + 1
		for len(stream) > 0 {
			n := min(step, len(stream))
			d, err := r.Push(stream[:n])
			stream = stream[n:]
			if err != nil {
				r.Reset()
				continue
			}
			if r.Buffered() > limit || (d.Outcome == Complete && len(d.Data) > limit) {
				t.Fatalf("over the limit: buffered %d, delivered %d", r.Buffered(), len(d.Data))
			}
		}
	})
}
