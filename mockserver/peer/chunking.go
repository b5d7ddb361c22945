package peer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// Data-channel chunking (PROTOCOL.md §9.2): when the offer declares
// a=x-reactor-dc-chunking and the policy allows it, the answer declares it
// back and every message on both channels travels as dcchunk frames:
// inbound frames are reassembled before decoding, outbound messages are
// split into NativeChunkSize frames, as the runtime's native stack does.

// ChunkingPolicy is what the answerer does with an offer's chunking
// attribute.
type ChunkingPolicy struct {
	// Refuse answers without the attribute, as a runtime that predates
	// chunking does: the connection stays on plain 256 KiB messages.
	Refuse bool
	// MaxMessageSize is the receive limit the answer declares (0 =
	// dcchunk.DefaultMaxMessageSize, 64 MiB).
	MaxMessageSize int64
}

// Chunking outcomes of an offer.
const (
	ChunkingAbsent     = "absent"     // the offer does not declare it
	ChunkingNegotiated = "negotiated" // both sides declare it
	ChunkingRefused    = "refused"    // declared, answered without (policy)
	ChunkingMalformed  = "malformed"  // declared but unparsable: ignored
)

// ChunkingResult is how a connection's chunking was negotiated.
type ChunkingResult struct {
	Outcome string
	// Reason explains a malformed attribute.
	Reason string
	// Offered is the offer's max-message-size (0 when absent or malformed).
	Offered uint64
	// SendLimit is the largest message the mock may send; RecvLimit the
	// largest it accepts. Both are the legacy 256 KiB when not negotiated.
	SendLimit, RecvLimit int64
}

// Negotiated reports whether the connection's channels are chunked.
func (r ChunkingResult) Negotiated() bool { return r.Outcome == ChunkingNegotiated }

// negotiateChunking decides chunking from the offer alone.
func negotiateChunking(offerSDP string, pol ChunkingPolicy) ChunkingResult {
	plain := ChunkingResult{Outcome: ChunkingAbsent, SendLimit: wirev0.MaxMessageBytes, RecvLimit: wirev0.MaxMessageBytes}
	remote, err := dcchunk.Parse(offerSDP)
	switch {
	case errors.Is(err, dcchunk.ErrNotDeclared):
		return plain
	case err != nil:
		plain.Outcome, plain.Reason = ChunkingMalformed, err.Error()
		return plain
	}
	plain.Offered = remote.MaxMessageSize
	if pol.Refuse {
		plain.Outcome = ChunkingRefused
		return plain
	}
	local := pol.MaxMessageSize
	if local <= 0 {
		local = dcchunk.DefaultMaxMessageSize
	}
	return ChunkingResult{Outcome: ChunkingNegotiated, Offered: remote.MaxMessageSize,
		SendLimit: dcchunk.EffectiveLimit(local, remote), RecvLimit: local}
}

// Chunking reports how the connection's chunking was negotiated.
func (c *Conn) Chunking() ChunkingResult { return c.chunking }

// declareChunking adds the answer's attribute when chunking was negotiated.
func (c *Conn) declareChunking(answer string) string {
	if !c.chunking.Negotiated() {
		return answer
	}
	return dcchunk.Declare(answer, dcchunk.Local(c.chunking.RecvLimit))
}

// chunkReader reassembles one chunked channel's frames.
type chunkReader struct {
	ra     *dcchunk.Reassembler
	frames int // frames of the message in progress
}

// newChunkReader returns nil when the connection is not chunked.
func (c *Conn) newChunkReader() *chunkReader {
	if !c.chunking.Negotiated() {
		return nil
	}
	return &chunkReader{ra: dcchunk.NewReassembler(c.chunking.RecvLimit, 0)}
}

// onChunk feeds one SCTP message of a chunked channel. It returns false when
// the peer broke the format: the frame is reported and the caller closes
// the channel, as the runtime does.
func (c *Conn) onChunk(ch Channel, label string, cr *chunkReader, raw []byte) bool {
	cr.frames++
	d, err := cr.ra.Push(raw)
	if err != nil {
		c.report(ch, label, Frame{Size: cr.ra.Buffered() + len(raw), Frames: cr.frames,
			Err: fmt.Errorf("%w: %v; channel closed", ErrChunking, err)})
		cr.ra.Reset()
		return false
	}
	switch d.Outcome {
	case dcchunk.Pending:
		c.lastInbound.Store(nowNanos()) // a frame is a sign of life
	case dcchunk.Dropped:
		c.report(ch, label, Frame{Text: d.Text, Size: int(d.Size), Frames: cr.frames,
			Err: fmt.Errorf("%w: reassembled message of %d bytes, negotiated limit %d",
				wirev0.ErrTooLarge, d.Size, c.chunking.RecvLimit)})
		cr.frames = 0
	case dcchunk.Complete:
		n := cr.frames
		cr.frames = 0
		c.handleMessage(ch, label, d.Data, d.Text, n)
	}
	return true
}

// ErrChunking wraps a chunked channel's protocol errors (a version bit, an
// empty frame, a type change mid-message, a stream that never ends).
var ErrChunking = errors.New("data-channel chunking violated")

// report hands the handler a frame that was dropped before decoding.
func (c *Conn) report(ch Channel, label string, f Frame) {
	c.lastInbound.Store(nowNanos())
	f.Channel, f.Label, f.Codec = ch, label, c.Codec()
	k := c.ctr(ch)
	k.framesIn.Add(1)
	k.bytesIn.Add(uint64(f.Size))
	k.dropped.Add(1)
	c.h.OnFrame(c, f)
}

// writeChunked splits an outbound message into binary frames.
func (c *Conn) writeChunked(send func([]byte) error, b []byte, text bool) error {
	if int64(len(b)) > c.chunking.SendLimit {
		return fmt.Errorf("%w: message of %d bytes, negotiated limit %d", wirev0.ErrTooLarge, len(b), c.chunking.SendLimit)
	}
	return dcchunk.Frames(b, text, dcchunk.NativeChunkSize, send)
}

// digest is the hex SHA-256 of b.
func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
