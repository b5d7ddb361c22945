package wirev0

import (
	"errors"
	"fmt"
)

// Codec is the wire format a connection speaks on its data channels. It
// lives here rather than in wirev1 so that both codecs' packages can name it
// without importing each other.
type Codec uint8

const (
	// V0 is JSON text (this package). It is the zero value because it is the
	// seed every connection starts with (PROTOCOL.md §3.4 step 1).
	V0 Codec = iota
	// V1 is binary protobuf (package wirev1).
	V1
)

// String returns "v0" or "v1".
func (c Codec) String() string {
	switch c {
	case V0:
		return "v0"
	case V1:
		return "v1"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// MaxMessageBytes is the largest frame a current client sends when it does
// not know the SCTP limit (PROTOCOL.md §3.5); bigger frames are not sent.
const MaxMessageBytes = 256 * 1024

// ErrTooLarge reports a frame above MaxMessageBytes.
var ErrTooLarge = errors.New("message too large")

// CheckSize returns an error wrapping ErrTooLarge when frame exceeds
// MaxMessageBytes.
func CheckSize(frame []byte) error {
	if len(frame) > MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(frame), MaxMessageBytes)
	}
	return nil
}

// SeedCodec is the codec a connection starts with, given the
// Reactor-WebRTC-Version header of its SDP offer. Every known value ("1.0")
// and every unknown or absent one maps to V0; only the first inbound frame
// (Sniff) can switch a connection to V1.
func SeedCodec(webrtcVersion string) Codec {
	_ = webrtcVersion // no version selects v1 yet; kept so callers pass it
	return V0
}

// Sniff tells which codec the first inbound frame of a connection uses
// (PROTOCOL.md §3.4 step 2): a text frame, or a binary frame whose first
// non-whitespace byte opens a JSON object or array, is V0; anything else,
// including an empty binary frame, is V1.
//
// A valid v1 frame can start with bytes that look like whitespace (0x0A is
// the tag of request_id), so a v1 frame whose request_id is 91 or 123 bytes
// long sniffs as V0. The runtime behaves the same way; Sniff copies it
// rather than fixing it.
func Sniff(frame []byte, isText bool) Codec {
	if isText {
		return V0
	}
	for _, b := range frame {
		if isSniffSpace(b) {
			continue
		}
		if b == '{' || b == '[' {
			return V0
		}
		return V1
	}
	return V1
}

// isSniffSpace matches the runtime's bytes.lstrip(): ASCII whitespace,
// which includes vertical tab and form feed besides JSON's four.
func isSniffSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}
