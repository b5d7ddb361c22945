package rtpext

import (
	"encoding/binary"
	"fmt"
	"time"
)

// FrameStampURI names the harness's frame-stamp header extension in SDP
// (a=extmap). Both the mock server and the harness's own client register it.
const FrameStampURI = "urn:reactor-harness:rtp-hdrext:frame-stamp"

// FrameStampSize is the exact payload length of a frame stamp. At 16 bytes it
// is the largest payload the one-byte extension header form can carry.
const FrameStampSize = 16

// FrameStamp identifies one video frame sent by the mock server.
//
// Wire layout, all big-endian:
//
//	bytes 0-7   capture wall clock, microseconds since the Unix epoch (u64)
//	bytes 8-11  frame sequence number within the stream (u32)
//	bytes 12-15 id of the last command the model applied, 0 = none (u32)
type FrameStamp struct {
	// CaptureMicros is when the frame was captured, in microseconds since the
	// Unix epoch on the sender's wall clock. Stored as int64 for easy
	// arithmetic; it travels as the same 64 bits unsigned.
	CaptureMicros int64
	// Seq counts the frames of one stream; a gap means a lost frame.
	Seq uint32
	// CommandID is the id of the last command applied before this frame was
	// produced, or 0 when none has been.
	CommandID uint32
}

// NewFrameStamp stamps a frame captured at t.
func NewFrameStamp(t time.Time, seq, commandID uint32) FrameStamp {
	return FrameStamp{CaptureMicros: t.UnixMicro(), Seq: seq, CommandID: commandID}
}

// CaptureTime returns CaptureMicros as a time.Time.
func (s FrameStamp) CaptureTime() time.Time {
	return time.UnixMicro(s.CaptureMicros)
}

// Marshal returns the 16-byte payload.
func (s FrameStamp) Marshal() []byte {
	return s.AppendTo(make([]byte, 0, FrameStampSize))
}

// AppendTo appends the 16-byte payload to b and returns the extended slice;
// senders use it to stamp frames without allocating.
func (s FrameStamp) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(s.CaptureMicros))
	b = binary.BigEndian.AppendUint32(b, s.Seq)
	return binary.BigEndian.AppendUint32(b, s.CommandID)
}

// Unmarshal decodes a payload, which must be exactly FrameStampSize bytes:
// a different length means a different extension or a corrupted packet, and
// guessing would give a wrong latency rather than an error.
func (s *FrameStamp) Unmarshal(b []byte) error {
	if len(b) != FrameStampSize {
		return fmt.Errorf("%w: frame stamp is %d bytes, want %d", ErrBadLength, len(b), FrameStampSize)
	}
	s.CaptureMicros = int64(binary.BigEndian.Uint64(b[0:8]))
	s.Seq = binary.BigEndian.Uint32(b[8:12])
	s.CommandID = binary.BigEndian.Uint32(b[12:16])
	return nil
}
