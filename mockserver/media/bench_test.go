package media

import (
	"fmt"
	"testing"
)

// BenchmarkBroadcast measures the harness's own per-tick fan-out cost:
// stamping and writing one frame to every stream, into an in-memory sink.
// pion's SRTP, interceptors and the UDP send are not included; they cost
// the same whatever the source. One op = one tick for all streams.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("%dStreams", n), func(b *testing.B) { benchBroadcast(b, n) })
	}
}

// BenchmarkBroadcast100Streams is the headline figure: 100 sessions.
func BenchmarkBroadcast100Streams(b *testing.B) { benchBroadcast(b, 100) }

func benchBroadcast(b *testing.B, streams int) {
	br := manualBroadcaster(b, 1) // one worker: the cost on one core
	var sinks []*discardWriter
	for range streams {
		s, err := br.NewStream(StreamConfig{OnFrame: func(FrameInfo) {}})
		if err != nil {
			b.Fatal(err)
		}
		w := &discardWriter{}
		if _, err := s.Bind(newFakeContext(w, true)); err != nil {
			b.Fatal(err)
		}
		s.Resume()
		sinks = append(sinks, w)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var n uint64
	for b.Loop() {
		n++
		step(br, n)
	}
	b.StopTimer()
	perStreamFrame := float64(b.Elapsed().Nanoseconds()) / float64(n) / float64(streams)
	b.ReportMetric(perStreamFrame, "ns/stream-frame")
	// Share of one core needed at the clip's 30 fps, for this many streams.
	b.ReportMetric(perStreamFrame*float64(streams)*float64(br.fps)/1e7, "%core@30fps")
	if sinks[0].n == 0 {
		b.Fatal("nothing written")
	}
}
