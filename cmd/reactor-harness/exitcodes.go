package main

import "github.com/reactor-harness/reactor-harness/load"

// Exit codes (documented in the README) are the load runner's, so every
// subcommand speaks the same k6-style split between "the system under test
// failed a threshold" and "the harness itself failed".
const (
	exitOK               = load.ExitOK               // success; every threshold passed
	exitHarnessError     = load.ExitHarnessError     // the harness could not do its job
	exitUsage            = load.ExitUsage            // bad command line or configuration
	exitThresholdsFailed = load.ExitThresholdsFailed // the run completed but a threshold failed
)
