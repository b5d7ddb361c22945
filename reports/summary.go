package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// SummarySchema names the version of the summary.json layout.
const SummarySchema = "reactor-harness/load-summary/v1"

// Run states written in Summary.Status.
const (
	StatusRunning     = "running"     // rewritten at every interval while the run goes on
	StatusComplete    = "complete"    // the run reached its duration
	StatusInterrupted = "interrupted" // cancelled (SIGINT) or stopped early; results cover what was measured
	StatusFailed      = "failed"      // the harness failed; results may be partial
)

// Summary is the content of summary.json. Durations are in seconds (suffix
// _s), latencies in milliseconds (suffix _ms), times in RFC 3339. The load
// runner rewrites it atomically at every interval, so a reader always finds
// a complete document.
type Summary struct {
	Schema string `json:"schema"`
	Status string `json:"status"`
	Params Params `json:"params"`
	Shard  Shard  `json:"shard"`

	// Start is when the run started; MeasureStart is the end of the warm-up
	// (Start when there is none); End is the end of the run, or the time of
	// the last update while it runs. Rates are computed over MeasuredS.
	Start        time.Time `json:"start"`
	MeasureStart time.Time `json:"measure_start"`
	End          time.Time `json:"end"`
	ElapsedS     float64   `json:"elapsed_s"`
	MeasuredS    float64   `json:"measured_s"`

	// Counters holds every counter by name (frames, packets, packets_lost,
	// late_frames, missing_frames, sessions_started, sessions_ready,
	// sessions_failed, sessions_errored, sessions_completed,
	// sessions_abandoned, …), measured window only for per-frame counters.
	Counters map[string]int64 `json:"counters"`
	// Errors counts errors by class (http_429, timeout, ice_failed, …).
	Errors      map[string]int64 `json:"errors"`
	ErrorsTotal int64            `json:"errors_total"`

	// Metrics holds one entry per latency metric that has any sample or any
	// out-of-range value.
	Metrics map[string]MetricSummary `json:"metrics"`
	// MetricOrder lists metric names in presentation order (connect phases
	// first); metrics not in it come after, sorted.
	MetricOrder []string `json:"metric_order,omitempty"`
	// Warmup counts what was recorded during the warm-up and left out.
	Warmup Warmup `json:"warmup"`

	Thresholds       []ThresholdVerdict `json:"thresholds"`
	ThresholdsPassed bool               `json:"thresholds_passed"`

	// Dropped is the number of values lost merging histograms: always 0
	// unless something is wrong, and then a note says so.
	Dropped  int64    `json:"dropped"`
	Schedule Schedule `json:"schedule"`
	// Files lists the files of the output folder, relative to it.
	Files []string `json:"files,omitempty"`
	Notes []string `json:"notes"`
	// ExitCode is set in the final summary only.
	ExitCode *int `json:"exit_code,omitempty"`
	// Verdict is the final summary's outcome and why (verdict.go).
	Verdict *RunVerdict `json:"verdict,omitempty"`
}

// Params are the run parameters.
type Params struct {
	// Model is "open" (sessions arrive at Rate whatever the target does) or
	// "closed" (Sessions sessions).
	Model       string  `json:"model"`
	Sessions    int     `json:"sessions,omitempty"`
	Rate        float64 `json:"rate_per_s,omitempty"`
	MaxSessions int     `json:"max_sessions,omitempty"`
	RampS       float64 `json:"ramp_s,omitempty"`
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s,omitempty"`
	IntervalS   float64 `json:"interval_s"`
	GraceS      float64 `json:"grace_s"`
	// Extra carries what the caller knows and the runner does not (target
	// URL, model name, command mix, …).
	Extra map[string]string `json:"extra,omitempty"`
}

// Shard says which part of a sharded run this is: sessions whose index is
// Index mod Count. Count is 1 for an unsharded run.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// MetricSummary describes one latency histogram, in ms.
type MetricSummary struct {
	Count    int64   `json:"count"`
	MinMs    float64 `json:"min_ms"`
	MeanMs   float64 `json:"mean_ms"`
	StdDevMs float64 `json:"stddev_ms"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P95Ms    float64 `json:"p95_ms"`
	P99Ms    float64 `json:"p99_ms"`
	P999Ms   float64 `json:"p99_9_ms"`
	MaxMs    float64 `json:"max_ms"`
	// BelowRange counts negative values (e.g. a capture time ahead of the
	// receiver's clock), AboveRange values over 1 h; neither is in the
	// histogram. CorrectionTruncated counts coordinated-omission back-fill
	// samples not recorded because one stall asked for too many.
	BelowRange          int64 `json:"below_range"`
	AboveRange          int64 `json:"above_range"`
	CorrectionTruncated int64 `json:"correction_truncated,omitempty"`
	Dropped             int64 `json:"dropped"`
	// Hgrm is the percentile-distribution file, relative to the folder
	// (written at the end of the run).
	Hgrm string `json:"hgrm,omitempty"`
}

// Warmup counts samples and counter increments recorded before the warm-up
// ended; they are in no histogram and no counter of the results.
type Warmup struct {
	DurationS float64          `json:"duration_s"`
	Samples   map[string]int64 `json:"samples,omitempty"`
	Counters  map[string]int64 `json:"counters,omitempty"`
}

// ThresholdVerdict is one evaluated threshold.
type ThresholdVerdict struct {
	Expr string `json:"expr"`
	// Observed is the measured value in Unit; nil when there was nothing
	// to measure (then the threshold fails and Detail says why).
	Observed *float64 `json:"observed"`
	Unit     string   `json:"unit"`
	Pass     bool     `json:"pass"`
	Detail   string   `json:"detail,omitempty"`
}

// Schedule tells how well session starts kept to the pacer's schedule.
type Schedule struct {
	// Started is the number of sessions started; LateStarts those started
	// more than 10 ms after their scheduled time; MaxStartLagMs the worst.
	Started       int64   `json:"started"`
	LateStarts    int64   `json:"late_starts"`
	MaxStartLagMs float64 `json:"max_start_lag_ms"`
}

// WriteSummaryJSON writes s as indented JSON.
func WriteSummaryJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteSummaryFile replaces path with s atomically (temporary file + rename),
// so an interrupted run always leaves a valid summary.json.
func WriteSummaryFile(path string, s *Summary) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return WriteSummaryJSON(w, s) })
}

// ReadSummaryFile reads a summary.json.
func ReadSummaryFile(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer f.Close()
	var s Summary
	dec := json.NewDecoder(io.LimitReader(f, 64<<20))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reports: %s: %w", path, err)
	}
	if s.Schema != SummarySchema {
		return nil, fmt.Errorf("reports: %s: schema %q, want %q", path, s.Schema, SummarySchema)
	}
	return &s, nil
}
