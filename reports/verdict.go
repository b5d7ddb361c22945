package reports

import (
	"fmt"
	"sort"
	"strings"
)

// Verdict results, from the worst a run can do to the best.
const (
	VerdictNoSessionReady   = "no_session_ready"  // the harness could not do its job
	VerdictInterrupted      = "interrupted"       // the run did not reach its end
	VerdictSessionsFailed   = "sessions_failed"   // sessions failed and nothing accepted that
	VerdictThresholdsFailed = "thresholds_failed" // a threshold failed
	VerdictPass             = "pass"
)

// RunVerdict is a run's outcome in one word, why, and the exit code it maps
// to (0 pass, 1 the harness could not do its job, 99 the target failed).
// It is the one place the exit rule is written, so a load run, a merge of
// shards and a report of a finished run cannot disagree about a verdict.
type RunVerdict struct {
	Result   string `json:"result"`
	ExitCode int    `json:"exit_code"`
	Reason   string `json:"reason"`
}

// VerdictPolicy is what the user accepted beyond the thresholds.
type VerdictPolicy struct {
	// AllowSessionErrors accepts failed sessions without a threshold about
	// them (--allow-session-errors).
	AllowSessionErrors bool
}

// Judge gives the verdict of a finished run from its summary. A run in which
// no session became ready exits 1 whatever its thresholds say: it measured
// nothing about the target. Failed sessions exit 99 unless the policy or an
// explicit threshold on errors or failed sessions (k6-style) accepts them.
func Judge(s *Summary, p VerdictPolicy) RunVerdict {
	started, ready := s.Counters["sessions_started"], s.Counters["sessions_ready"]
	failed := s.Counters["sessions_failed"]
	switch {
	case s.Status == StatusInterrupted:
		return RunVerdict{VerdictInterrupted, 1, "the run was interrupted before its end: a partial run proves nothing"}
	case ready == 0:
		return RunVerdict{VerdictNoSessionReady, 1, fmt.Sprintf(
			"no session became ready (%d started%s): the target is unreachable or refused every session", started, errorClasses(s.Errors))}
	}
	if !s.ThresholdsPassed {
		var bad []string
		for _, t := range s.Thresholds {
			if !t.Pass {
				bad = append(bad, t.Expr)
			}
		}
		return RunVerdict{VerdictThresholdsFailed, 99, "threshold failed: " + strings.Join(bad, ", ")}
	}
	if failed > 0 && !p.AllowSessionErrors && !thresholdOnErrors(s.Thresholds) {
		return RunVerdict{VerdictSessionsFailed, 99, fmt.Sprintf(
			"%d of %d sessions failed%s; accept that with --allow-session-errors or a threshold such as 'errors.rate<5%%'",
			failed, started, errorClasses(s.Errors))}
	}
	return RunVerdict{VerdictPass, 0, passReason(s, failed)}
}

func passReason(s *Summary, failed int64) string {
	if failed > 0 {
		return fmt.Sprintf("every threshold passed; %d sessions failed and were accepted", failed)
	}
	if len(s.Thresholds) == 0 {
		return "every session ran; no thresholds were set"
	}
	return "every threshold passed"
}

// thresholdOnErrors reports whether the user stated a threshold about errors
// or failed sessions: then that threshold, not the default rule, judges them.
func thresholdOnErrors(ts []ThresholdVerdict) bool {
	for _, t := range ts {
		metric, _, _ := strings.Cut(strings.TrimSpace(t.Expr), ".")
		switch metric {
		case "errors", "sessions_failed", "sessions_errored", "sessions_ready":
			return true
		}
	}
	return false
}

func errorClasses(errs map[string]int64) string {
	if len(errs) == 0 {
		return ""
	}
	names := make([]string, 0, len(errs))
	for k := range errs {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s=%d", k, errs[k])
	}
	return "; errors: " + strings.Join(parts, " ")
}
