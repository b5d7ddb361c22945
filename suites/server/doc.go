// Package server is the server conformance suite: a catalog of cases that
// checks whether a Reactor server (the reactor-harness mock, a staging
// deployment, or production with an API key) speaks the protocol the SDKs
// rely on (/work/shared/PROTOCOL.md §1–§5).
//
// The catalog is h2spec-shaped: one file per protocol area (token.go,
// session.go, states.go, versioning.go, uploads.go, limits.go, legacy.go,
// signalling.go, media.go, datachannel.go, local.go), and in each a list of
// cases with a stable ID ("token/1"), the PROTOCOL.md section, a one-line
// MUST-style requirement and labels. A case's Check is a plain function of
// a context and a Run (the target plus an HTTP recorder), so the Ginkgo
// suite in this package's tests, the meta tests that prove each area can
// fail, and a CLI wrapper all run the same code.
//
// Run it with `go test ./suites/server/` (embedded mock) or against any
// server with REACTOR_BASE_URL and REACTOR_API_KEY; README.md has the
// commands and docs/server-cases.md the generated case list.
package server
