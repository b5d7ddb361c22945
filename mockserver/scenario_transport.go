package mockserver

import (
	"fmt"

	"github.com/reactor-harness/reactor-harness/mockserver/peer"
	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
)

// TransportPolicy is the scenario's "transport" block: what the WebRTC
// answerer negotiates beyond plain SDP (PROTOCOL.md §9.2). It applies to
// offers answered after it is set.
type TransportPolicy struct {
	// DCChunking answers an offer's a=x-reactor-dc-chunking (default true).
	// false answers without it, as a runtime that predates chunking does:
	// clients stay on 256 KiB messages.
	DCChunking *bool `json:"dc_chunking,omitempty"`
	// DCMaxMessageSize is the receive limit the answer declares, in bytes
	// (default and maximum 64 MiB).
	DCMaxMessageSize int64 `json:"dc_max_message_size,omitempty"`
}

// Validate names a bad field.
func (t TransportPolicy) Validate() error {
	if t.DCMaxMessageSize < 0 || t.DCMaxMessageSize > dcchunk.DefaultMaxMessageSize {
		return fmt.Errorf("transport.dc_max_message_size must be between 1 and %d bytes, got %d",
			dcchunk.DefaultMaxMessageSize, t.DCMaxMessageSize)
	}
	return nil
}

// chunking is the answerer's policy for this transport block.
func (t TransportPolicy) chunking() peer.ChunkingPolicy {
	return peer.ChunkingPolicy{Refuse: t.DCChunking != nil && !*t.DCChunking, MaxMessageSize: t.DCMaxMessageSize}
}
