// Package htmlreport writes the report people look at: ONE self-contained
// HTML file built from Ginkgo JSON reports (conformance suites, one or more
// per SDK version or server target) and load-run output folders
// (summary.json, run.hlog, <metric>.hgrm as written by package reports).
//
// Sections:
//
//   - Conformance matrix (the Autobahn|Testsuite habit): rows are case IDs
//     (the "token/1:" or "sdk/breaking/1:" that starts a spec text), columns
//     are targets (SDK name and version, or server URL), cells are PASS /
//     FAIL / XFAIL (expected to fail) / SKIP / PEND / — (not run). Each cell
//     links to a details block with the requirement, the failure message and
//     location, and every report entry attached to the spec (HTTP exchanges,
//     journal excerpts …), so a maintainer sees what failed and why without
//     opening another file. How columns and expected failures are recognised
//     is documented on BuildMatrix and classify.
//   - Per load run: run parameters, counts, error breakdown, thresholds and
//     verdicts, a latency table, a p50/p99 time series of frame latency and
//     the active-session gauge from the interval log, and one
//     percentile-distribution plot per latency metric on HdrHistogram's log
//     axis (x = 1/(1−percentile): 0%, 90%, 99%, 99.9%, 99.99% …, y = ms).
//     Distributions come from the .hgrm files, else from the interval log's
//     merged histograms, else from summary.json's percentiles.
//   - With two or more runs, a comparison: percentile curves overlaid, p99
//     time series overlaid, a table with Δp99 against the first run, and the
//     parameters side by side with differences highlighted.
//
// Rendering choice: the charts are inline SVG generated in Go (svg.go), not
// a JavaScript charting library. The file must open with no network fetch,
// so a library would have to be inlined into every report, and the smallest
// maintained ones (uPlot, ~50 KB) outweigh the data of a typical report; the
// plots needed are polylines on two axis types, which is little code. The
// SVG renders without JavaScript, prints, and is checked in a real browser
// by the package's chromedp test. The only script is a few lines that open
// the details block a cell links to and filter the matrix to failing rows.
//
// Every text comes from html/template (or template.HTMLEscapeString inside
// the SVG), so report entries holding HTML or script are shown, not run.
// Entries are cut at 6 KB and captured output at its last 4 KB to keep the
// file small.
//
// What it must not know: htmlreport reads files and writes one; it runs no
// suite and no load, and depends on package reports for the load-folder
// formats and on Ginkgo's types for the conformance reports.
package htmlreport
