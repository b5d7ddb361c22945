package dcchunk

import "testing"

// BenchmarkReassemble measures reassembly of a 1 MiB message at the two
// frame sizes senders use. Read MB/s from the output and allocations per
// MiB straight from allocs/op (one op is one MiB).
func BenchmarkReassemble(b *testing.B) {
	msg := make([]byte, 1<<20)
	for _, c := range []struct {
		name string
		size int
	}{{"browser-4KiB", BrowserChunkSize}, {"native-64KiB", NativeChunkSize}} {
		frames, _ := Split(msg, false, c.size)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			r := NewReassembler(DefaultMaxMessageSize, 0)
			for b.Loop() {
				for _, f := range frames {
					if _, err := r.Push(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkFrames measures splitting a 1 MiB message into frames.
func BenchmarkFrames(b *testing.B) {
	msg := make([]byte, 1<<20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Frames(msg, false, BrowserChunkSize, func([]byte) error { return nil })
	}
}
