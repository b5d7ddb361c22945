package peer

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// ErrChannelNotOpen is returned when sending on a channel the client has
// not opened (or closed). 2.9.0 clients never open "control".
var ErrChannelNotOpen = errors.New("peer: data channel not open")

// readBufferSize is the initial read buffer of a channel: every frame a
// client normally sends fits; a bigger one grows it for that frame only.
const readBufferSize = 4 << 10

// onDataChannel binds a client channel by label. A second channel with the
// same role replaces the first for sending; both are still read.
func (c *Conn) onDataChannel(dc *webrtc.DataChannel) {
	ch := ChannelFor(dc.Label())
	label := dc.Label()
	c.chMu.Lock()
	if c.closing {
		c.chMu.Unlock()
		return
	}
	c.channels[ch] = dc
	c.chMu.Unlock()
	dc.OnOpen(func() {
		rwc, err := dc.Detach()
		if err != nil {
			return // closed before it opened
		}
		c.goTracked(func() {
			c.readChannel(ch, label, rwc)
			_ = dc.Close() // a no-op unless the peer broke the chunking format
		})
	})
}

// readChannel reads one detached channel until it or the connection
// closes, or a chunked channel's peer breaks the format. A frame larger
// than the buffer leaves the SCTP message in place (io.ErrShortBuffer); the
// buffer doubles, up to what the association can deliver, and shrinks back
// after the frame.
func (c *Conn) readChannel(ch Channel, label string, r datachannel.Reader) {
	limit := maxReadMessage
	cr := c.newChunkReader()
	buf := make([]byte, readBufferSize)
	for range readBound {
		n, text, err := r.ReadDataChannel(buf)
		if errors.Is(err, io.ErrShortBuffer) {
			if len(buf) >= limit {
				return // larger than the association can deliver: cannot happen
			}
			buf = make([]byte, min(2*len(buf), limit))
			continue
		}
		if err != nil {
			return
		}
		// Frames are decoded (or reassembled) into fresh values, so buf is
		// free to reuse.
		if cr == nil {
			c.handleMessage(ch, label, buf[:n], text, 1)
		} else if !c.onChunk(ch, label, cr, buf[:n]) {
			return
		}
		if len(buf) > readBufferSize {
			buf = make([]byte, readBufferSize)
		}
	}
}

// handleMessage handles one inbound message (a plain frame, or a chunked
// one reassembled from frames): liveness, codec latch, decoding, counters,
// the invalid_command reply a broken v1 request gets, then the handler.
func (c *Conn) handleMessage(ch Channel, label string, raw []byte, text bool, frames int) {
	c.lastInbound.Store(nowNanos()) // any frame counts as a ping
	codec, first := c.latch(raw, text)
	f := decodeFrame(ch, codec, raw, text, int(c.chunking.RecvLimit))
	f.Label, f.Frames = label, frames
	if f.Kind == KindCommand {
		f.SHA256 = digest(raw)
	}
	if first && f.Legacy {
		// A client that opens with a flat frame is a 2.2.1 client: answer it
		// in the only frames it surfaces. (A flat frame later on a v0
		// connection is still taken as a command, but changes nothing.)
		c.legacy.Store(true)
	}
	k := c.ctr(ch)
	k.framesIn.Add(1)
	k.bytesIn.Add(uint64(len(raw)))
	if f.Err != nil {
		k.dropped.Add(1)
		if codec == wirev0.V1 && f.Request && f.RequestID != "" {
			_ = c.SendError(ch, f.RequestID, wirev1.CodeInvalidCommand, f.Err.Error())
		}
	} else if codec == wirev0.V1 && f.Kind == KindCommand && f.Request && f.RequestID == "" {
		f.RequestID = fmt.Sprintf("srv_%d", c.minted.Add(1))
	}
	c.h.OnFrame(c, f)
}

// latch fixes the codec from the first inbound frame on either channel
// (PROTOCOL.md §3.4); later frames use it whatever they look like. first
// reports that this frame fixed it.
func (c *Conn) latch(raw []byte, text bool) (codec wirev0.Codec, first bool) {
	if c.latched.Load() {
		return c.Codec(), false
	}
	c.latchMu.Lock()
	defer c.latchMu.Unlock()
	if !c.latched.Load() {
		c.codec.Store(uint32(wirev0.Sniff(raw, text)))
		c.latched.Store(true)
		first = true
	}
	return c.Codec(), first
}

// sendV1 encodes and writes a v1 server message (binary).
func (c *Conn) sendV1(ch Channel, m proto.Message) error {
	b, err := marshalV1(m)
	if err != nil {
		return err
	}
	return c.write(ch, b, false)
}

// sendV0 writes a v0 frame (text: JS parses event.data as a string).
func (c *Conn) sendV0(ch Channel, b []byte, err error) error {
	if err != nil {
		return err
	}
	return c.write(ch, b, true)
}

func (c *Conn) write(ch Channel, b []byte, text bool) error {
	k := c.ctr(ch)
	dc := c.channel(ch)
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		k.sendErrors.Add(1)
		return fmt.Errorf("%w: %s", ErrChannelNotOpen, ch)
	}
	var err error
	switch {
	case c.chunking.Negotiated():
		err = c.writeChunked(dc.Send, b, text)
	case text:
		err = dc.SendText(string(b))
	default:
		err = dc.Send(b)
	}
	if err != nil {
		k.sendErrors.Add(1)
		return fmt.Errorf("peer: send on %s: %w", ch, err)
	}
	k.framesOut.Add(1)
	k.bytesOut.Add(uint64(len(b)))
	return nil
}

// WireError is an error a reply carries: {code, message}.
type WireError struct {
	Code, Message string
}

func (e *WireError) Error() string { return e.Code + ": " + e.Message }

// ModelReply is a model message sent as a command's reply.
type ModelReply struct {
	Type string
	Data map[string]any
}

func (c *Conn) v1() bool { return c.Codec() == wirev0.V1 }

// SendModelMessage sends an unsolicited model emission on "data": a v1
// NOTIFICATION, a v0 application envelope, or for a legacy (2.2.1)
// connection a flat {"type":"application","data":{"type":typ,"data":data}}.
//
// The legacy payload is the model message itself ({type, data}), not just
// its data: 2.2.1 hands the payload of an "application" frame to newMessage
// as is, so its application sees the same {type, data} object a 2.9.0
// application gets from "message", and can tell a state from a
// command_error (the data objects of different messages overlap).
func (c *Conn) SendModelMessage(typ string, data map[string]any) error {
	if c.v1() {
		m, err := wirev1.NewModelNotification(typ, data)
		if err != nil {
			return err
		}
		return c.sendV1(ChannelData, m)
	}
	if c.Legacy() {
		if data == nil {
			data = map[string]any{}
		}
		b, err := wirev0.NewLegacyApplication(map[string]any{"type": typ, "data": data})
		return c.sendV0(ChannelData, b, err)
	}
	b, err := wirev0.NewModelMessage(typ, data)
	return c.sendV0(ChannelData, b, err)
}

// RespondCommand answers a command. v1: RESPONSE with the same request_id
// carrying werr as Error, or reply as ModelMessage, or nothing (a bodyless
// ack). v0 has no replies (PROTOCOL.md §3.2): a reply is sent as an
// ordinary model message and werr is not sent (the caller reports it as a
// model message of its own).
func (c *Conn) RespondCommand(requestID string, reply *ModelReply, werr *WireError) error {
	if !c.v1() {
		if reply != nil {
			return c.SendModelMessage(reply.Type, reply.Data)
		}
		return nil
	}
	switch {
	case werr != nil:
		return c.sendV1(ChannelData, wirev1.NewDataError(requestID, werr.Code, werr.Message))
	case reply != nil:
		m, err := wirev1.NewModelResponse(requestID, reply.Type, reply.Data)
		if err != nil {
			return err
		}
		return c.sendV1(ChannelData, m)
	}
	return c.sendV1(ChannelData, wirev1.NewAck(requestID))
}

// RespondPublish grants (werr nil) or refuses a publish_track request on
// "control".
func (c *Conn) RespondPublish(requestID, name string, werr *WireError) error {
	if c.v1() {
		if werr != nil {
			return c.sendV1(ChannelControl, wirev1.NewControlError(requestID, werr.Code, werr.Message))
		}
		return c.sendV1(ChannelControl, wirev1.NewPublishGranted(requestID, name))
	}
	if werr != nil {
		return c.sendV0(ChannelControl, wirev0.NewPublishTrackRefused(requestID, werr.Code, werr.Message), nil)
	}
	return c.sendV0(ChannelControl, wirev0.NewPublishTrackGranted(requestID), nil)
}

// RespondClipFailed answers requestClip/requestRecording with a failure:
// v0 runtime clipFailed on "data", v1 ClipFailed RESPONSE on "control".
func (c *Conn) RespondClipFailed(requestID, reason string) error {
	if c.v1() {
		return c.sendV1(ChannelControl, wirev1.NewClipFailed(requestID, reason))
	}
	b, err := wirev0.NewRuntimeMessage(wirev0.TypeClipFailed, wirev0.ClipFailed{Reason: reason})
	return c.sendV0(ChannelData, b, err)
}

// SendSessionEnded tells the client the platform is ending the session:
// v0 runtime sessionEnded on "data", v1 SessionEnded NOTIFICATION on
// "control".
func (c *Conn) SendSessionEnded(reason string) error {
	if c.v1() {
		return c.sendV1(ChannelControl, wirev1.NewSessionEnded(reason))
	}
	b, err := wirev0.NewRuntimeMessage(wirev0.TypeSessionEnded, wirev0.SessionEnded{Reason: reason})
	return c.sendV0(ChannelData, b, err)
}

// SendModeration sends a moderation verdict: v0 runtime moderation on
// "data", v1 Moderation NOTIFICATION on "control".
func (c *Conn) SendModeration(m wirev0.Moderation) error {
	if m.Categories == nil {
		m.Categories = []string{}
	}
	if c.v1() {
		return c.sendV1(ChannelControl, wirev1.NewModeration(&wirev1.Moderation{Action: m.Action, InputKind: m.InputKind,
			Command: m.Command, Categories: m.Categories, Message: m.Message}))
	}
	b, err := wirev0.NewRuntimeMessage(wirev0.TypeModeration, m)
	return c.sendV0(ChannelData, b, err)
}

// Flush waits until every channel has handed its queued frames to the
// network, or timeout passes: a last message (sessionEnded, moderation)
// sent right before Close would otherwise die in the SCTP queue.
func (c *Conn) Flush(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		queued := uint64(0)
		for _, ch := range []Channel{ChannelControl, ChannelData} {
			if dc := c.channel(ch); dc != nil && dc.ReadyState() == webrtc.DataChannelStateOpen {
				queued += dc.BufferedAmount()
			}
		}
		if queued == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SendError answers a v1 request on ch with Error{code, message}. v0 has
// no error replies; it returns nil without sending.
func (c *Conn) SendError(ch Channel, requestID, code, message string) error {
	if !c.v1() {
		return nil
	}
	if ch == ChannelControl {
		return c.sendV1(ChannelControl, wirev1.NewControlError(requestID, code, message))
	}
	return c.sendV1(ChannelData, wirev1.NewDataError(requestID, code, message))
}

func nowNanos() int64 { return time.Now().UnixNano() }
