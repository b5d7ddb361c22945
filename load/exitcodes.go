package load

import (
	"errors"
	"fmt"
)

// Exit codes of `reactor-harness load` and `merge` (documented in the
// README). They follow k6's split between "the system under test failed a
// threshold" (k6's ThresholdsHaveFailed = 99) and "the harness failed".
const (
	ExitOK               = 0  // the run completed and every threshold passed
	ExitHarnessError     = 1  // the harness failed, or the run was interrupted before its end
	ExitUsage            = 2  // bad command line or configuration
	ExitThresholdsFailed = 99 // the run completed but a threshold failed
)

// UsageError is an error in the caller's configuration (bad option, bad
// threshold expression); it maps to ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ErrInterrupted is returned by Runner.Run (with the partial Result) when the
// run's context was cancelled before its duration ended.
var ErrInterrupted = errors.New("load: run interrupted before its duration ended")

// ExitCode maps a run's outcome to the process exit code: a usage error
// gives ExitUsage, an interruption or any other error ExitHarnessError
// (a partial run proves nothing either way); otherwise the final summary's
// verdict (reports.Judge: no session ready → ExitHarnessError, failed
// thresholds or unaccepted failed sessions → ExitThresholdsFailed), or for
// a result without one, its thresholds. res may be nil.
func ExitCode(res *Result, err error) int {
	var ue *UsageError
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case err != nil:
		return ExitHarnessError
	case res != nil && res.Summary != nil && res.Summary.Verdict != nil:
		return res.Summary.Verdict.ExitCode
	case res != nil && !res.ThresholdsPassed():
		return ExitThresholdsFailed
	default:
		return ExitOK
	}
}
