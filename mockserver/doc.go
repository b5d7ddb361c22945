// Package mockserver is the mock Reactor: the coordinator's HTTP control
// plane (tokens, sessions, version negotiation, uploads), the local-runtime
// API, the older protocol generations, a scriptable scenario and fault
// engine, a request journal and the admin API under /__admin/.
//
// It speaks the protocol through the types in package wire. It must not know
// about the conformance suites, the load runner or any SDK in particular:
// it behaves like the platform, and tests observe it through the journal.
package mockserver
