package peer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// connectChunked connects a pion client whose offer carries attr (a full
// a=x-reactor-dc-chunking line, or "" for none) at session level.
func connectChunked(t *testing.T, rec *recorder, attr string, pol ChunkingPolicy) (*offerer, *Conn, string) {
	t.Helper()
	a := newAPI(t, Config{})
	t.Cleanup(func() { _ = a.Close() })
	o := newOfferer(t, true)
	sdp := o.offer()
	if attr != "" {
		sdp = strings.Replace(sdp, "\r\nm=", "\r\n"+attr+"\r\nm=", 1)
	}
	off := Offer{SDP: sdp, Tracks: heliosTracks, Label: "test/1002", Handler: rec, Chunking: pol,
		Mapping: []wire.TrackMapping{{MID: o.videoMid(), Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}}}
	c, answer, err := a.Answer(context.Background(), off)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	o.accept(answer)
	rec.waitUntil(t, "connected", func() bool { return rec.hasState(StateConnected) })
	o.waitOpen(o.control, o.data)
	return o, c, answer
}

const offerAttr = "a=x-reactor-dc-chunking:1 max-message-size=67108864"

// sendChunked sends msg on dc as 4 KiB frames, as a browser SDK does.
func sendChunked(t *testing.T, dc *webrtc.DataChannel, msg []byte) int {
	t.Helper()
	n := 0
	err := dcchunk.Frames(msg, false, dcchunk.BrowserChunkSize, func(f []byte) error {
		n++
		return dc.Send(f)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// receiveChunked reassembles the next message the server sends.
func (o *offerer) receiveChunked() []byte {
	o.t.Helper()
	ra := dcchunk.NewReassembler(dcchunk.DefaultMaxMessageSize, 0)
	for range 10_000 {
		d, err := ra.Push(o.next())
		if err != nil {
			o.t.Fatalf("server frame breaks the chunking format: %v", err)
		}
		if d.Outcome == dcchunk.Complete {
			return d.Data
		}
	}
	o.t.Fatal("no complete message")
	return nil
}

func TestChunkingNegotiatedCarriesAMebibyteCommand(t *testing.T) {
	rec := newRecorder()
	rec.onF = func(c *Conn, f Frame) {
		if f.Kind == KindCommand {
			_ = c.RespondCommand(f.RequestID, &ModelReply{Type: "echo", Data: map[string]any{"n": float64(len(f.Command))}}, nil)
		}
	}
	o, c, answer := connectChunked(t, rec, offerAttr, ChunkingPolicy{})
	defer o.close()
	defer c.Close()
	if !strings.Contains(answer, "a=x-reactor-dc-chunking:1 max-message-size=67108864\r\n") ||
		strings.Index(answer, "a=x-reactor-dc-chunking") > strings.Index(answer, "m=") {
		t.Fatalf("answer does not declare chunking at session level:\n%s", answer)
	}
	if r := c.Chunking(); !r.Negotiated() || r.SendLimit != dcchunk.DefaultMaxMessageSize || r.Offered != 67108864 {
		t.Fatalf("chunking = %+v", r)
	}

	cmd, err := wirev1.NewCommand("data_1", "set_prompt", map[string]any{"prompt": strings.Repeat("z", 1<<20)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := wirev1.Marshal(cmd)
	frames := sendChunked(t, o.data, raw)
	rec.waitUntil(t, "the command", func() bool { return len(rec.frames) >= 1 })
	f := rec.frames[0]
	sum := sha256.Sum256(raw)
	if f.Err != nil || f.Kind != KindCommand || f.Size != len(raw) || f.Frames != frames || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("command = kind %v size %d/%d frames %d/%d err %v", f.Kind, f.Size, len(raw), f.Frames, frames, f.Err)
	}
	if p, _ := f.Data["prompt"].(string); len(p) != 1<<20 {
		t.Fatalf("prompt arrived with %d bytes", len(p))
	}
	reply, err := wirev1.DecodeDataServer(o.receiveChunked())
	if err != nil || reply.GetRequestId() != "data_1" || reply.GetMessage().GetType() != "echo" {
		t.Fatalf("reply = %v, %v", reply, err)
	}
}

func TestChunkingSendsLargeMessagesUpToTheSmallerLimit(t *testing.T) {
	rec := newRecorder()
	o, c, _ := connectChunked(t, rec, "a=x-reactor-dc-chunking:1 max-message-size=400000", ChunkingPolicy{})
	defer o.close()
	defer c.Close()
	if got := c.Chunking().SendLimit; got != 400000 {
		t.Fatalf("send limit %d, want the offer's 400000", got)
	}
	// Latch v1 first, so the model message goes out as protobuf.
	ping, _ := wirev1.Marshal(wirev1.NewPing())
	sendChunked(t, o.control, ping)
	rec.waitUntil(t, "the ping", func() bool { return len(rec.frames) >= 1 })
	big := strings.Repeat("q", 300_000)
	if err := c.SendModelMessage("state", map[string]any{"blob": big}); err != nil {
		t.Fatalf("300 kB model message: %v", err)
	}
	m, err := wirev1.DecodeDataServer(o.receiveChunked())
	if err != nil || m.GetMessage().GetData().GetFields()["blob"].GetStringValue() != big {
		t.Fatalf("model message did not arrive intact: %v", err)
	}
	err = c.SendModelMessage("state", map[string]any{"blob": strings.Repeat("q", 500_000)})
	if !errors.Is(err, wirev0.ErrTooLarge) {
		t.Fatalf("over the peer's limit: %v", err)
	}
}

func TestChunkingNotNegotiated(t *testing.T) {
	for _, c := range []struct {
		name, attr string
		pol        ChunkingPolicy
		outcome    string
	}{
		{"absent", "", ChunkingPolicy{}, ChunkingAbsent},
		{"refused by policy", offerAttr, ChunkingPolicy{Refuse: true}, ChunkingRefused},
		{"malformed size", "a=x-reactor-dc-chunking:1 max-message-size=lots", ChunkingPolicy{}, ChunkingMalformed},
		{"another version", "a=x-reactor-dc-chunking:2", ChunkingPolicy{}, ChunkingMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			o, conn, answer := connectChunked(t, rec, c.attr, c.pol)
			defer o.close()
			defer conn.Close()
			if strings.Contains(answer, "x-reactor-dc-chunking") {
				t.Fatalf("answer declares chunking:\n%s", answer)
			}
			r := conn.Chunking()
			if r.Outcome != c.outcome || r.SendLimit != wirev0.MaxMessageBytes || (c.outcome == ChunkingMalformed) != (r.Reason != "") {
				t.Fatalf("chunking = %+v, want %s", r, c.outcome)
			}
			// Plain frames: no header byte is stripped.
			ping, _ := wirev1.Marshal(wirev1.NewPing())
			_ = o.control.Send(ping)
			rec.waitUntil(t, "the ping", func() bool { return len(rec.frames) >= 1 })
			if f := rec.frames[0]; f.Err != nil || f.Kind != KindPing || f.Frames != 1 {
				t.Fatalf("plain ping = %+v", f)
			}
		})
	}
}

func TestChunkingRefusesBrokenFrames(t *testing.T) {
	for _, c := range []struct {
		name   string
		frames [][]byte
	}{
		{"version bits", [][]byte{{0x04, 0x0a}}},
		{"type change mid-message", [][]byte{{0x01, 'a'}, {0x02, 'b'}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			o, conn, _ := connectChunked(t, rec, offerAttr, ChunkingPolicy{})
			defer o.close()
			defer conn.Close()
			for _, f := range c.frames {
				_ = o.data.Send(f)
			}
			rec.waitUntil(t, "the refusal", func() bool { return len(rec.frames) >= 1 })
			if f := rec.frames[0]; !errors.Is(f.Err, ErrChunking) {
				t.Fatalf("frame = %+v", f)
			}
			deadline := time.Now().Add(waitFor)
			for o.data.ReadyState() == webrtc.DataChannelStateOpen && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if s := o.data.ReadyState(); s == webrtc.DataChannelStateOpen {
				t.Fatal("the mock left the channel open after a format violation")
			}
		})
	}
}

func TestChunkingDropsAMessageOverTheReceiveLimit(t *testing.T) {
	rec := newRecorder()
	o, c, answer := connectChunked(t, rec, offerAttr, ChunkingPolicy{MaxMessageSize: 10_000})
	defer o.close()
	defer c.Close()
	if !strings.Contains(answer, "max-message-size=10000") {
		t.Fatalf("answer does not declare the receive limit:\n%s", answer)
	}
	sendChunked(t, o.data, make([]byte, 20_000))
	ping, _ := wirev1.Marshal(wirev1.NewPing())
	sendChunked(t, o.control, ping)
	rec.waitUntil(t, "2 frames", func() bool { return len(rec.frames) >= 2 })
	var dropped, pinged bool
	for _, f := range rec.frames {
		dropped = dropped || (errors.Is(f.Err, wirev0.ErrTooLarge) && f.Size == 20_000 && f.Channel == ChannelData)
		pinged = pinged || (f.Err == nil && f.Kind == KindPing)
	}
	if !dropped || !pinged {
		t.Fatalf("frames = %+v", rec.frames)
	}
	if o.data.ReadyState() != webrtc.DataChannelStateOpen {
		t.Fatal("an oversized message closed the channel; the runtime drops it and goes on")
	}
}
