package reports

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// WriteText writes the short human summary of a run (what the CLI prints on
// stdout): status and parameters, session and frame counts, errors, one line
// per latency metric (count, p50, p90, p99, p99.9, max, mean in ms),
// threshold verdicts and notes.
func WriteText(w io.Writer, s *Summary) error {
	var b strings.Builder
	model := s.Params.Model + " model"
	switch s.Params.Model {
	case "closed":
		model += fmt.Sprintf(", %d sessions", s.Params.Sessions)
	case "open":
		model += fmt.Sprintf(", %s sessions/s", fmtFloat(s.Params.Rate))
		if s.Params.MaxSessions > 0 {
			model += fmt.Sprintf(" (max %d)", s.Params.MaxSessions)
		}
	}
	if s.Params.RampS > 0 {
		model += fmt.Sprintf(", ramp %ss", fmtFloat(s.Params.RampS))
	}
	if s.Shard.Count > 1 {
		model += fmt.Sprintf(", shard %d/%d", s.Shard.Index, s.Shard.Count)
	}
	fmt.Fprintf(&b, "reactor-harness load: %s after %.1fs (%.1fs measured", s.Status, s.ElapsedS, s.MeasuredS)
	if s.Warmup.DurationS > 0 {
		fmt.Fprintf(&b, " after a %ss warm-up", fmtFloat(s.Warmup.DurationS))
	}
	fmt.Fprintf(&b, "), %s\n", model)

	c := s.Counters
	fmt.Fprintf(&b, "sessions  started %d  ready %d  failed %d  with errors %d  abandoned %d\n",
		c["sessions_started"], c["sessions_ready"], c["sessions_failed"], c["sessions_errored"], c["sessions_abandoned"])
	fmt.Fprintf(&b, "frames    %d  late %d  missing %d  packets %d  lost %d\n",
		c["frames"], c["late_frames"], c["missing_frames"], c["packets"], c["packets_lost"])
	fmt.Fprintf(&b, "errors    %d", s.ErrorsTotal)
	if len(s.Errors) > 0 {
		classes := sortedKeys(s.Errors)
		parts := make([]string, len(classes))
		for i, k := range classes {
			parts[i] = fmt.Sprintf("%s=%d", k, s.Errors[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, " "))
	}
	b.WriteString("\n")

	if names := orderedMetrics(s); len(names) > 0 {
		fmt.Fprintf(&b, "\n%-24s %9s %9s %9s %9s %9s %9s %9s  (ms)\n", "metric", "count", "p50", "p90", "p99", "p99.9", "max", "mean")
		for _, name := range names {
			m := s.Metrics[name]
			fmt.Fprintf(&b, "%-24s %9d %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f", name, m.Count, m.P50Ms, m.P90Ms, m.P99Ms, m.P999Ms, m.MaxMs, m.MeanMs)
			if m.BelowRange+m.AboveRange > 0 {
				fmt.Fprintf(&b, "  out of range: %d below, %d above", m.BelowRange, m.AboveRange)
			}
			b.WriteString("\n")
		}
	}

	if len(s.Thresholds) > 0 {
		failed := 0
		for _, t := range s.Thresholds {
			if !t.Pass {
				failed++
			}
		}
		fmt.Fprintf(&b, "\nthresholds: %d of %d failed\n", failed, len(s.Thresholds))
		for _, t := range s.Thresholds {
			verdict := "PASS"
			if !t.Pass {
				verdict = "FAIL"
			}
			obs := "no data"
			if t.Observed != nil {
				obs = FormatValue(*t.Observed, t.Unit)
			}
			fmt.Fprintf(&b, "  %s  %-32s observed %s", verdict, t.Expr, obs)
			if t.Detail != "" {
				fmt.Fprintf(&b, " (%s)", t.Detail)
			}
			b.WriteString("\n")
		}
	}
	if s.Dropped > 0 {
		fmt.Fprintf(&b, "\nWARNING: %d values were dropped merging histograms\n", s.Dropped)
	}
	if len(s.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	if v := s.Verdict; v != nil {
		fmt.Fprintf(&b, "\nverdict: %s (exit %d): %s\n", v.Result, v.ExitCode, v.Reason)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatValue prints a threshold value in its unit: "9.8ms", "2.5%",
// "1234", "29.9/s".
func FormatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmtFloat(v) + "ms"
	case "ratio":
		return fmtFloat(v*100) + "%"
	case "per_s":
		return fmtFloat(v) + "/s"
	default:
		return fmtFloat(v)
	}
}

// fmtFloat prints v with at most 3 decimals and no trailing zeros.
func fmtFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func orderedMetrics(s *Summary) []string {
	seen := make(map[string]bool, len(s.Metrics))
	var out []string
	for _, name := range s.MetricOrder {
		if _, ok := s.Metrics[name]; ok && !seen[name] {
			out = append(out, name)
			seen[name] = true
		}
	}
	for _, name := range sortedKeys(s.Metrics) {
		if !seen[name] {
			out = append(out, name)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
