// Package wirev1 is the Reactor v1 data-channel protocol of PROTOCOL.md §3.3:
// the reactor_wire.v1 protobuf messages generated from our own .proto files
// under proto/ (see README.md), plus small builders for the frames a client
// and a runtime exchange, the runtime's error codes, the request-id scheme
// and map[string]any ⇄ google.protobuf.Struct conversion.
//
// One protobuf message is one SCTP message: no envelope, no length prefix.
// The (channel, direction) pair says which message type a frame is: use
// DecodeDataClient, DecodeDataServer, DecodeControlClient or
// DecodeControlServer. Telling v1 from v0 JSON is wirev0.Sniff.
//
// It must not know about HTTP servers, pion, data channels as objects or the
// v0 JSON: it turns bytes into messages and messages into bytes.
package wirev1
