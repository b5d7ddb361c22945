package load

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// latencies returns n plausible frame latencies (exponential around 4 ms).
func latencies(n int) []time.Duration {
	r := rand.New(rand.NewPCG(1, 1))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(r.ExpFloat64()*4e6) + 500*time.Microsecond
	}
	return out
}

// BenchmarkRecord is the per-sample cost on the hot path.
func BenchmarkRecord(b *testing.B) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	vals := latencies(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.Record(FrameLatency, vals[i&4095])
	}
}

// BenchmarkRecordCorrected records a frame latency corrected at 30 fps.
func BenchmarkRecordCorrected(b *testing.B) {
	agg := NewAggregator(t0)
	rec := agg.NewRecorder(0)
	vals := latencies(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.RecordCorrected(FrameLatencyCorrected, vals[i&4095], 33333*time.Microsecond)
	}
}

// BenchmarkMerge200Sessions is one interval harvest of 200 streaming
// sessions (30 fps for 1 s: 30 frame latencies, 30 inter-frame gaps and one
// ping each).
func BenchmarkMerge200Sessions(b *testing.B) {
	agg := NewAggregator(t0)
	recs := make([]*Recorder, 200)
	for i := range recs {
		recs[i] = agg.NewRecorder(i)
	}
	vals := latencies(4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j, rec := range recs {
			for k := range 30 {
				rec.Record(FrameLatency, vals[(j*31+k)&4095])
				rec.Record(InterFrameGap, 33*time.Millisecond+vals[(j+k)&4095]/8)
			}
			rec.Record(DCRTT, vals[j])
			rec.Count(Frames, 30)
		}
		b.StartTimer()
		agg.Harvest(t0.Add(time.Duration(i+1) * time.Second))
	}
	b.StopTimer()
	var bytes int
	for _, rec := range recs {
		bytes += recorderBytes(rec)
	}
	b.ReportMetric(float64(bytes)/float64(len(recs)), "hist-B/session")
}

// recorderBytes is the histogram storage of a recorder's two buffers (call
// only when nothing records into it).
func recorderBytes(r *Recorder) int {
	n := 0
	for _, s := range []*recSet{r.active.Load(), r.spare} {
		if s == nil {
			continue
		}
		for _, h := range s.hists {
			if h != nil {
				n += h.GetMemorySize()
			}
		}
	}
	return n
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Memory does not grow with the run's length: 10 million samples from 100
// sessions, harvested every 100,000, leave the heap where the first tenth
// left it.
func TestAggregatorMemoryIsFlat(t *testing.T) {
	total := 10_000_000
	if testing.Short() || raceEnabled {
		total = 1_000_000 // the race detector makes each sample ~10× dearer
	}
	agg := NewAggregator(t0)
	recs := make([]*Recorder, 100)
	for i := range recs {
		recs[i] = agg.NewRecorder(i)
	}
	vals := latencies(1 << 16)
	var base uint64
	var m0, m1 runtime.MemStats
	for i := 0; i < total; i++ {
		rec := recs[i%len(recs)]
		rec.Record(FrameLatency, vals[i&(1<<16-1)])
		rec.Count(Frames, 1)
		if (i+1)%100_000 == 0 {
			agg.Harvest(t0.Add(time.Duration(i) * time.Millisecond))
			if i+1 == total/10 {
				base = heapAfterGC()
				runtime.ReadMemStats(&m0)
			}
		}
	}
	runtime.ReadMemStats(&m1)
	after := heapAfterGC()
	res := agg.Results(time.Hour)
	if n := res.Histograms["frame_latency"].TotalCount(); n != int64(total) {
		t.Fatalf("%d samples merged, want %d", n, total)
	}
	growth := int64(after) - int64(base)
	t.Logf("heap after %d samples %d KiB, after %d %d KiB (growth %d KiB); %d allocations over the last %d samples",
		total/10, base>>10, total, after>>10, growth>>10, m1.Mallocs-m0.Mallocs, total-total/10)
	if growth > 4<<20 {
		t.Errorf("heap grew by %d KiB between %d and %d samples", growth>>10, total/10, total)
	}
	// Harvests allocate a little (an Interval and counter maps), never per sample.
	if perSample := float64(m1.Mallocs-m0.Mallocs) / float64(total-total/10); perSample > 0.01 {
		t.Errorf("%.4f allocations per sample", perSample)
	}
}
