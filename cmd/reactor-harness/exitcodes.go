package main

// Exit codes (documented in the README). They follow k6's split between
// "the system under test failed a threshold" and "the harness itself failed".
const (
	exitOK               = 0  // success; every threshold passed
	exitHarnessError     = 1  // the harness could not do its job (bad target, I/O, crash)
	exitUsage            = 2  // bad command line or configuration
	exitThresholdsFailed = 99 // the run completed but a threshold failed
)
