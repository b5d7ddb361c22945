// Package mockrun is what `reactor-harness mock` promises the test runner
// that started it: one machine-readable ready line on stdout, and an end
// when that runner is gone (its process died, or it closed the mock's
// stdin), so that a crashed pytest or vitest leaves no orphan mock behind.
//
// It knows nothing of the protocol nor of the CLI library: the command
// hands it the started server's addresses and a context to cancel.
package mockrun
