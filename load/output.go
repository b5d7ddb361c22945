package load

// Output receives a run as it goes, one interval at a time, the way k6's
// outputs do: live metrics, a stream to another system. The files under
// the output folder are not an Output; they are the run's record.
//
// AddInterval is called from the runner's one flushing goroutine, in order,
// after every interval and once more at the end; it must return quickly.
// The Interval and its histograms are valid only during the call.
type Output interface {
	AddInterval(iv *Interval, s Snapshot)
}

// WithOutputs adds outputs that see every interval.
func WithOutputs(outs ...Output) Option {
	return func(c *config) { c.outputs = append(c.outputs, outs...) }
}
