// Package reports writes and reads the files a load run leaves in its output
// folder, one file per format:
//
//   - hgrm.go: <metric>.hgrm, the wrk2/HdrHistogram percentile-distribution
//     text (PercentilesPrint with 5 ticks per half distance, µs → ms);
//   - hlog.go: run.hlog, the HdrHistogram interval log (one tagged interval
//     histogram per metric per interval, plus counter comment lines), and a
//     reader that merges such logs back into per-metric histograms;
//   - summary.go: summary.json, the machine-readable summary (schema below),
//     always replaced atomically;
//   - text.go: the short human summary printed on stdout.
//
// Histogram values are microseconds everywhere; every human-facing number is
// in milliseconds.
//
// What it must not know: reports writes and reads files and runs nothing. It
// does not start sessions, pace anything, talk to a target or evaluate
// thresholds (load does that and hands over verdicts as data). It depends only
// on the standard library and hdrhistogram-go, so the load runner, the merge
// command and the HTML report can all use it.
package reports
