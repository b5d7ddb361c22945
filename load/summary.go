package load

import (
	"time"

	"github.com/reactor-harness/reactor-harness/reports"
)

// summary builds summary.json's content.
func (ru *run) summary(now time.Time, status string, res *Results, verdicts []Verdict, fi *finalInfo) *reports.Summary {
	c := ru.cfg
	measureStart := ru.t0.Add(c.warmup)
	if now.Before(measureStart) {
		measureStart = now
	}
	s := &reports.Summary{
		Schema: reports.SummarySchema,
		Status: status,
		Params: reports.Params{
			Model:     ru.model,
			RampS:     c.ramp.Seconds(),
			DurationS: c.duration.Seconds(),
			WarmupS:   c.warmup.Seconds(),
			IntervalS: c.interval.Seconds(),
			GraceS:    c.grace.Seconds(),
			Extra:     c.params,
		},
		Shard:        reports.Shard{Index: c.shardIndex, Count: c.shardCount},
		Start:        ru.t0.UTC(),
		MeasureStart: measureStart.UTC(),
		End:          now.UTC(),
		ElapsedS:     now.Sub(ru.t0).Seconds(),
		MeasuredS:    res.Measured.Seconds(),
		Counters:     res.Counters,
		Errors:       res.Errors,
		ErrorsTotal:  res.ErrorsTotal(),
		Metrics:      map[string]reports.MetricSummary{},
		MetricOrder:  MetricNames(),
		Warmup: reports.Warmup{
			DurationS: c.warmup.Seconds(),
			Samples:   res.WarmupSamples,
			Counters:  res.WarmupCounters,
		},
		Thresholds:       ReportVerdicts(verdicts),
		ThresholdsPassed: true,
		Dropped:          res.DroppedTotal(),
		Schedule: reports.Schedule{
			Started:       ru.launched.Load(),
			LateStarts:    ru.lateStart.Load(),
			MaxStartLagMs: float64(ru.maxLag.Load()) / float64(time.Millisecond),
		},
		Notes: append([]string{}, res.Notes...),
	}
	switch ru.model {
	case "closed":
		s.Params.Sessions = c.sessions
	case "open":
		s.Params.Rate = c.rate
		s.Params.MaxSessions = c.maxSessions
	}
	for _, v := range verdicts {
		if !v.Pass {
			s.ThresholdsPassed = false
		}
	}
	for _, name := range MetricNames() {
		if ms, ok := MetricSummaryOf(res, name); ok {
			s.Metrics[name] = ms
		}
	}
	annotateClockOffset(s, res) // clockoffset.go
	return s
}

// MetricSummaryOf summarises metric name of res in ms; ok is false when the
// metric has neither samples nor out-of-range values.
func MetricSummaryOf(res *Results, name string) (reports.MetricSummary, bool) {
	h := res.Histograms[name]
	ms := reports.MetricSummary{
		BelowRange:          res.BelowRange[name],
		AboveRange:          res.AboveRange[name],
		CorrectionTruncated: res.Truncated[name],
		Dropped:             res.Dropped[name],
	}
	if h == nil || h.TotalCount() == 0 {
		return ms, ms.BelowRange+ms.AboveRange+ms.Dropped > 0
	}
	const ms1 = 1000.0
	q := h.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9})
	ms.Count = h.TotalCount()
	ms.MinMs = float64(h.Min()) / ms1
	ms.MeanMs = h.Mean() / ms1
	ms.StdDevMs = h.StdDev() / ms1
	ms.P50Ms, ms.P90Ms, ms.P95Ms, ms.P99Ms, ms.P999Ms = float64(q[0])/ms1, float64(q[1])/ms1, float64(q[2])/ms1, float64(q[3])/ms1, float64(q[4])/ms1
	ms.MaxMs = float64(h.Max()) / ms1
	return ms, true
}
