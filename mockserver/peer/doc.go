// Package peer is the mock server's WebRTC answerer: it turns a client's SDP
// offer into a non-trickle answer, binds the session's outbound tracks to
// the transceivers the client's track_mapping names, accepts the client's
// data channels ("control" and "data") and speaks the data-channel wire
// formats of PROTOCOL.md §3 on them.
//
// One API is shared by every session of a server: one MediaEngine, one
// SettingEngine (host candidates only, optionally a single UDP port for all
// sessions through an ICE UDP mux) and one watchdog goroutine that checks
// every connection on a shared ticker.
//
// Per connection, the data-channel codec starts as v0 (JSON) and is latched
// by sniffing the first inbound frame on either channel (wirev0.Sniff);
// frames are decoded into Frame values and handed to the connection's
// Handler. Frames larger than wirev0.MaxMessageBytes or that do not decode
// are reported with Frame.Err set and never acted on; a v1 request among
// them that carries a request_id is answered with Error{invalid_command}.
//
// The package must not know HTTP, session state, uploads or the model: the
// caller (the mock's signalling glue) validates offers through Validate,
// runs Answer in the background, and reacts to Handler callbacks.
package peer
