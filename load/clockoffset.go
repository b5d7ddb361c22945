package load

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/reactor-harness/reactor-harness/reports"
)

// Keys of summary.json's params.extra under which a run records its clock
// offset to the target (reports.Summary has no field of its own for it;
// params.extra is the summary's one open map, and the HTML report lists it
// among the run's parameters). Values are decimal milliseconds.
const (
	ExtraClockOffset            = "clock_offset_estimate_ms"
	ExtraClockOffsetUncertainty = "clock_offset_uncertainty_ms"
)

// ClockOffset is this host's clock minus the target's, estimated from the
// frames and data-channel round trips of a run.
type ClockOffset struct {
	// OK is false when the run has nothing to estimate from; Note says why.
	OK bool
	// EstimateMs is the offset (positive: this host's clock is ahead of the
	// target's, so frame latency reads too high by that much);
	// UncertaintyMs is the half-width of the interval it is known to lie in.
	EstimateMs, UncertaintyMs float64
	Note                      string
}

// clockOffsetMethod explains the estimate in the summary's notes.
const clockOffsetMethod = "params.extra." + ExtraClockOffset + " (this host's clock minus the target's) = " +
	"min frame latency − min dc_rtt/2, ± min dc_rtt/2: the fastest frame's one-way delay lies between 0 and a round trip; " +
	"it errs high by the target's capture-to-send time. An offset comparable to frame latency makes frame latency untrustworthy " +
	"(connect phases and dc_rtt are measured on one clock)"

// EstimateClockOffset estimates this host's clock offset to the target the
// way NTP does, with the target's capture stamps playing the server's
// transmit time: for each frame, arrival − capture = d + θ, where d is the
// frame's one-way delay (plus the target's capture-to-send time) and θ the
// offset. The least-delayed frame gives min(arrival − capture) = d_min + θ,
// and the data channel's fastest round trip bounds d_min: 0 ≤ d_min ≲
// min dc_rtt (both directions share the path). Hence θ ∈ [L − R, L] with
// L = min frame latency and R = min dc_rtt, reported as its midpoint
// L − R/2 ± R/2. The minimum round trip rather than the median is used for
// the same reason NTP keeps its minimum-delay sample: queueing only ever
// adds delay, so the fastest probe is the closest to the path's own delay.
//
// A negative frame latency (counted below the histograms' range) means the
// true minimum is unknown; no estimate is made then, nor without stamped
// frames or round trips.
func EstimateClockOffset(res *Results) ClockOffset {
	fl := res.Histograms[FrameLatency.String()]
	rtt := res.Histograms[DCRTT.String()]
	switch {
	case res.BelowRange[FrameLatency.String()] > 0:
		return ClockOffset{Note: fmt.Sprintf("clock offset not estimated: %d frame latencies were negative, so this host's clock is behind the target's by more than their one-way delay", res.BelowRange[FrameLatency.String()])}
	case fl == nil || fl.TotalCount() == 0:
		return ClockOffset{Note: "clock offset not estimated: no frames with the target's capture stamp"}
	case rtt == nil || rtt.TotalCount() == 0:
		return ClockOffset{Note: fmt.Sprintf("clock offset not estimated: no data-channel round trips (--ping-interval 0); it is at most the min frame latency, %.3f ms", float64(fl.Min())/1000)}
	}
	l := float64(fl.Min()) / 1000
	r := float64(rtt.Min()) / 1000
	return ClockOffset{OK: true, EstimateMs: l - r/2, UncertaintyMs: r / 2, Note: clockOffsetMethod}
}

// annotateClockOffset records the estimate in s (a copy of params.extra,
// which the Runner shares between summaries) and explains it in a note.
func annotateClockOffset(s *reports.Summary, res *Results) {
	co := EstimateClockOffset(res)
	if !co.OK {
		if h := res.Histograms[FrameLatency.String()]; (h != nil && h.TotalCount() > 0) || res.BelowRange[FrameLatency.String()] > 0 {
			s.Notes = append(s.Notes, co.Note)
		}
		return
	}
	extra := maps.Clone(s.Params.Extra)
	if extra == nil {
		extra = map[string]string{}
	}
	extra[ExtraClockOffset] = strconv.FormatFloat(co.EstimateMs, 'f', 3, 64)
	extra[ExtraClockOffsetUncertainty] = strconv.FormatFloat(co.UncertaintyMs, 'f', 3, 64)
	s.Params.Extra = extra
	s.Notes = append(s.Notes, co.Note)
}
