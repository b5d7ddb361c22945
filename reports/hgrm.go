package reports

import (
	"io"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HgrmTicksPerHalfDistance and HgrmValueScale are the PercentilesPrint
// arguments wrk2 uses: 5 ticks per half distance, and values divided by 1000
// so that a histogram of microseconds prints milliseconds.
const (
	HgrmTicksPerHalfDistance = 5
	HgrmValueScale           = 1000.0
)

// WriteHgrm writes h (values in µs) as a percentile distribution in the
// wrk2/HdrHistogram ".hgrm" format, values in ms:
//
//	 Value	Percentile	TotalCount	1/(1-Percentile)
//	       1.234     0.000000            1         1.00
//	…
//	#[Mean    =        6.602, StdDeviation   =        1.919]
//	#[Max     =       12.496, Total count    =        39500]
//	#[Buckets =           27, SubBuckets     =         2048]
//
// The HdrHistogram plotter (plotFiles.html) reads it as is.
func WriteHgrm(w io.Writer, h *hdr.Histogram) error {
	_, err := h.PercentilesPrint(w, HgrmTicksPerHalfDistance, HgrmValueScale)
	return err
}

// WriteHgrmFile writes h to path atomically (see WriteFileAtomic).
func WriteHgrmFile(path string, h *hdr.Histogram) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return WriteHgrm(w, h) })
}
