// Package client is a Go reference client of the current Reactor protocol
// (the generation of the 2.12 JS SDK and reactor-core): it mints or resolves
// a JWT, creates a session over HTTP, polls until the runtime is ready, runs
// WebRTC signalling over HTTP (register a connection, POST an offer with its
// track mapping, poll for the answer, optional trickle ICE), and then
// receives video and exchanges commands with the model over the "control"
// and "data" data channels in either wire codec (v0 JSON or v1 protobuf).
//
// Every phase of Connect is timed (Timings) and every failure is a typed
// *Error naming its phase, HTTP status and platform error code, so the load
// runner can classify failures. Incoming video is not decoded: each remote
// track has one reader goroutine that reassembles frames from RTP packets by
// timestamp and marker bit and reports them (Frame) with the harness's
// frame-stamp header extension and abs-capture-time when negotiated.
//
// The client is built to be cheap enough that one process runs hundreds of
// them: share one *webrtc.API (NewAPI) and one *http.Client between
// clients; per packet the reader reuses its buffers.
//
// It speaks only the wire protocol (package wire and its codecs) and knows
// nothing of the mock server's internals.
package client
