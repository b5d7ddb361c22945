package dcchunk

import (
	"errors"
	"fmt"
)

const (
	moreBit     = 0x01
	textBit     = 0x02
	versionBits = ^byte(moreBit | textBit)
)

// Errors a receiver cannot recover from: the peer is broken or speaks
// another version, and the platform closes the channel. They are returned
// wrapped; test with errors.Is.
var (
	// ErrEmptyFrame: a zero-length SCTP message, which has no header.
	ErrEmptyFrame = errors.New("dcchunk: empty frame: every frame carries a header byte")
	// ErrUnknownVersion: the header sets any of bits 2-7.
	ErrUnknownVersion = errors.New("dcchunk: frame header sets unknown version bits")
	// ErrTypeChanged: a frame's TEXT flag differs from the first frame of
	// its message, which is how a second message interleaved into an
	// unfinished one shows on the wire.
	ErrTypeChanged = errors.New("dcchunk: frame changes text/binary type in the middle of a message")
	// ErrTooManyFrames: a message still has MORE set after the frame bound,
	// a chunk stream that would otherwise never end.
	ErrTooManyFrames = errors.New("dcchunk: message has more frames than the bound")
)

// Header is a decoded frame header.
type Header struct {
	// More is set when further frames of the same message follow.
	More bool
	// Text is set when the reassembled message is text rather than binary.
	Text bool
}

// Encode returns the header byte (version 0).
func (h Header) Encode() byte {
	var b byte
	if h.More {
		b |= moreBit
	}
	if h.Text {
		b |= textBit
	}
	return b
}

// DecodeHeader decodes a header byte; any version bit set is an error
// wrapping ErrUnknownVersion.
func DecodeHeader(b byte) (Header, error) {
	if b&versionBits != 0 {
		return Header{}, fmt.Errorf("%w: %#02x", ErrUnknownVersion, b)
	}
	return Header{More: b&moreBit != 0, Text: b&textBit != 0}, nil
}
