// Package wire holds the Reactor protocol as Go types: the JSON bodies of the
// coordinator, transport and local-runtime HTTP APIs (current and legacy
// shapes), header names, version constants, session states and the error body.
//
// It is the single definition the mock server, the Go client and the suites
// share. It must not know about HTTP servers, pion or any test framework:
// only shapes and the small pure functions that interpret them.
package wire
