package reports

import hdr "github.com/HdrHistogram/hdrhistogram-go"

// The histogram geometry of every file this package writes or merges: values
// in microseconds from 1 µs to 1 h, 3 significant figures (wrk2 uses the same
// precision). Merging histograms of one geometry never drops a value.
const (
	HistogramLowest  int64 = 1
	HistogramHighest int64 = 3_600_000_000 // 1 h in µs
	HistogramSigFigs       = 3
)

// NewHistogram returns an empty dense histogram of the standard geometry.
func NewHistogram() *hdr.Histogram {
	return hdr.New(HistogramLowest, HistogramHighest, HistogramSigFigs)
}
