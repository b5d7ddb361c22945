// Package livemetrics serves a load run's metrics to Prometheus while the
// run goes, so a long or sharded run can be watched (and alerted on) rather
// than read afterwards. It is a load.Output: each interval's HdrHistogram
// samples become observations of Prometheus histograms (native buckets and
// classic ones), its counters become counters, and the run's state gauges.
//
// Names follow Prometheus conventions: reactor_harness_ prefix, base units
// (seconds), _total on counters. A sharded run labels everything with its
// shard, so one query sums the shards.
//
// What it must not know: the files of a run (package reports), the mock, or
// WebRTC; it sees only what package load hands every Output.
package livemetrics
