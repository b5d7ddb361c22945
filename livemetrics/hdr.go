package livemetrics

import (
	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
)

// observeHDR replays an interval's HdrHistogram (µs) into a Prometheus
// histogram (s). Each recorded HDR bucket is observed at its midpoint, as
// many times as it counted: the HDR's 3 significant figures are finer than
// any Prometheus bucket, so nothing visible is lost. Only buckets with
// counts cost work.
func observeHDR(o prometheus.Observer, h *hdr.Histogram) {
	left := h.TotalCount()
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		v := float64(b.From+b.To) / 2 / 1e6
		for range b.Count {
			o.Observe(v)
		}
		if left -= b.Count; left <= 0 {
			return
		}
	}
}
