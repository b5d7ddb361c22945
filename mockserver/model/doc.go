// Package model is the mock server's synthetic model runtime: one Runtime per
// session plays a synthetic model well enough for conformance suites and
// load tests to observe command semantics. What the commands do is the
// model's Semantics (behaviour.go): Helios (helios.go, PLATFORM.md §6) and
// LingBot (lingbot.go, PROTOCOL.md §9.6); a new model's semantics is one
// file implementing behaviour.
//
// A Runtime receives decoded commands (Submit), checks them against the
// model's command contract (JSON Schemas compiled once per model into a
// Catalog shared by every session), resolves the uploads they reference
// through a callback, and queues them. The frame source calls OnFrame for
// every frame it captures; at each chunk boundary the queued commands take
// effect in submission order, and the runtime emits plain model messages
// (state, chunk_complete, generation_started, ..., command_error) through
// Config.Emit. The id of the last
// command taken off the queue is what the frame source stamps into frames,
// so command-to-effect latency is measurable end to end.
//
// The package must not know about HTTP, pion, the data-channel encodings
// (v0 JSON envelope, v1 protobuf) or the upload store's internals: it takes
// and returns plain Go values, and the mock server's glue adapts them.
package model
