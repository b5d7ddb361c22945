// Package dcchunk is the data-channel chunking format of the Reactor
// transport (PROTOCOL.md §9.2): the one-byte frame header, a chunker that
// splits a message into frames, a bounded reassembler that puts frames back
// together, and the session-level SDP attribute both peers declare
// (a=x-reactor-dc-chunking:1 max-message-size=N).
//
// Once both peers declare the attribute, every message on an ordered,
// reliable channel travels as one or more binary frames. Each frame is one
// header byte followed by a slice of the message:
//
//	bit 0     MORE: more frames of this message follow
//	bit 1     TEXT: the reassembled message is text, not binary
//	bits 2-7  version, 0 today; any other value is a protocol error
//
// Frames of one message are sent back to back, so on an ordered channel
// they need no message id and at most one message is in progress.
//
// The package is sans-I/O: it knows no data channel, pion or HTTP. The mock
// server and the Go client drive it from their channel callbacks.
package dcchunk

// Sizes of the format, in bytes.
const (
	// DefaultMaxMessageSize is what a chunking peer accepts unless it says
	// otherwise: 64 MiB.
	DefaultMaxMessageSize = 64 << 20
	// LegacyMaxMessageSize limits a message to a peer that declares
	// chunking without a max-message-size, and every message to a peer
	// that does not chunk at all: the 256 KiB of a plain data channel.
	LegacyMaxMessageSize = 256 << 10
	// NativeChunkSize is the frame size, header included, native senders
	// use (64 KiB).
	NativeChunkSize = 64 << 10
	// BrowserChunkSize is the frame size, header included, browser senders
	// use (4 KiB).
	BrowserChunkSize = 4 << 10
)
