package client

import (
	"fmt"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// Data-channel chunking (PROTOCOL.md §9.2), as reactor-sdk 1.13.0 offers
// it: the offer declares a=x-reactor-dc-chunking with a 64 MiB receive
// limit; when the answer declares it back, every message on both channels
// travels as dcchunk frames of BrowserChunkSize, and the largest command
// is the smaller of both sides' limits instead of 256 KiB.

// chunkState is a connection's negotiated chunking. The zero value is a
// plain connection.
type chunkState struct {
	on        atomic.Bool
	sendLimit atomic.Int64
}

// declareChunking adds the attribute to the offer unless the client opts out.
func (c *Client) declareChunking(sdp string) string {
	if c.cfg.NoDCChunking {
		return sdp
	}
	return dcchunk.Declare(sdp, dcchunk.Local(dcchunk.DefaultMaxMessageSize))
}

// applyChunking reads the answer's attribute; a missing or malformed one
// leaves the connection plain.
func (cn *conn) applyChunking(answer string) {
	if cn.c.cfg.NoDCChunking {
		return
	}
	remote, err := dcchunk.Parse(answer)
	if err != nil {
		return
	}
	cn.chunk.sendLimit.Store(dcchunk.EffectiveLimit(dcchunk.DefaultMaxMessageSize, remote))
	cn.chunk.on.Store(true)
}

// Chunked reports whether the current connection negotiated chunking and
// the largest message it may send (256 KiB when it did not).
func (c *Client) Chunked() (bool, int64) {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil || !cn.chunk.on.Load() {
		return false, wirev0.MaxMessageBytes
	}
	return true, cn.chunk.sendLimit.Load()
}

// onChunkedMessage returns a channel's message handler: on a chunked
// connection it reassembles frames and hands whole messages on, so the rest
// of the client sees the same messages either way. A frame that breaks the
// format is logged and the partial message discarded.
func (cn *conn) onChunkedMessage(label string) func(webrtc.DataChannelMessage) {
	ra := dcchunk.NewReassembler(dcchunk.DefaultMaxMessageSize, 0)
	return func(m webrtc.DataChannelMessage) {
		if !cn.chunk.on.Load() {
			cn.c.onChannelMessage(cn, label, m)
			return
		}
		d, err := ra.Push(m.Data)
		if err != nil {
			ra.Reset()
			cn.c.log.Warn("data-channel frame breaks the chunking format", "channel", label, "err", err)
			return
		}
		switch d.Outcome {
		case dcchunk.Complete:
			cn.c.onChannelMessage(cn, label, webrtc.DataChannelMessage{IsString: d.Text, Data: d.Data})
		case dcchunk.Dropped:
			cn.c.log.Warn("dropped a data-channel message over the limit", "channel", label, "bytes", d.Size)
		}
	}
}

// send writes one message: text for v0, binary for v1. Plain connections
// refuse messages over 256 KiB like the SDKs; chunked ones split messages
// up to the negotiated limit into frames.
func (cn *conn) send(phase string, dc *webrtc.DataChannel, frame []byte, text bool) error {
	var err error
	switch {
	case cn.chunk.on.Load():
		if limit := cn.chunk.sendLimit.Load(); int64(len(frame)) > limit {
			return newErr(phase, CodeTooLarge, fmt.Errorf("%w: %d bytes, negotiated limit %d", wirev0.ErrTooLarge, len(frame), limit))
		}
		err = dcchunk.Frames(frame, text, dcchunk.BrowserChunkSize, dc.Send)
	case wirev0.CheckSize(frame) != nil:
		return newErr(phase, CodeTooLarge, wirev0.CheckSize(frame))
	case text:
		err = dc.SendText(string(frame))
	default:
		err = dc.Send(frame)
	}
	if err != nil {
		return newErr(phase, CodeTransport, err)
	}
	return nil
}
