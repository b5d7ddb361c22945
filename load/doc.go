// Package load is the core of the load runner: the metrics registry
// (per-session HdrHistograms and counters, merged by an Aggregator), the
// pacers (open and closed models), the Runner that starts sessions on
// schedule and flushes results as the run goes, thresholds with k6-like exit
// codes, and progress output (bars on a terminal, plain lines otherwise).
//
// A session is whatever the caller's SessionFunc does: the CLI wraps the
// WebRTC client of package client in one; tests use plain functions. The
// SessionFunc records into the *Recorder it is given; the Runner owns
// everything else.
//
// Data flow:
//
//	Pacer ──► Runner ──go──► SessionFunc(ctx, id, rec) ──Record/Count/Error──► Recorder (one per session, lock-free)
//	                 every interval: Aggregator.Harvest ◄── flip each Recorder's double buffer
//	                    ├─► reports: run.hlog (appended), summary.json (atomic rewrite)
//	                    └─► Progress (stderr)
//	          at the end: merged histograms ─► <metric>.hgrm, thresholds ─► exit code
//
// Timing conventions: values are recorded in microseconds (rounded to the
// nearest µs) in histograms from 1 µs to 1 h with 3 significant figures,
// never as raw samples, so memory does not grow with run length.
//
// What it must not know: load knows nothing of HTML, of the mock server or of
// WebRTC. It writes its files through package reports and never imports
// package client or mockserver; the caller supplies the session.
package load
