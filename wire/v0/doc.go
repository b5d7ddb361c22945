// Package wirev0 is the Reactor data-channel JSON of PROTOCOL.md §3.1–§3.2:
// the v0 envelope {"scope","data":{"type","data","uploads"}}, the runtime
// message names and payloads, the v0 "control" channel JSON, the 2.2.1-era
// flat frames, and the codec sniff of §3.4 that tells a v0 frame from a v1
// (protobuf) frame.
//
// Decoders are strict and return errors that wrap the package's sentinel
// errors, so a conformance check can say exactly what a peer got wrong; a
// lenient peer (like the mock) decides itself what to tolerate.
//
// It must not know about HTTP servers, pion, data channels as objects or the
// v1 protobuf messages: it turns bytes into values and values into bytes.
package wirev0
