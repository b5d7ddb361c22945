// Package rtpext encodes and decodes the payloads of the RTP header
// extensions the harness uses to measure video latency end to end:
//
//   - FrameStamp, the harness's own 16-byte extension (FrameStampURI) that the
//     mock server puts on every packet of every frame it sends: capture wall
//     clock, frame sequence number and the last command the model applied;
//   - AbsCaptureTime, the standard abs-capture-time extension
//     (AbsCaptureTimeURI): an NTP-epoch capture timestamp and an optional
//     estimated capture clock offset.
//
// It deals in extension payloads only (the bytes after the one- or two-byte
// element header). It must not know about pion, RTP packet layout, SDP or
// which id an extension was negotiated with: callers put the bytes into
// packets with whatever RTP library they use.
package rtpext

import "errors"

// ErrBadLength is returned (wrapped) when a payload has the wrong size for
// the extension being decoded.
var ErrBadLength = errors.New("rtpext: wrong payload length")
