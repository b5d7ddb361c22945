package reports

import (
	"bytes"
	"math/rand/v2"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// TestV2EncoderMatchesLibrary: the reused-compressor encoder writes the
// same bytes as hdrhistogram-go's own Encode, for empty, sparse, dense and
// extreme histograms, call after call with one encoder.
func TestV2EncoderMatchesLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := map[string]func(h *hdr.Histogram){
		"empty":  func(*hdr.Histogram) {},
		"one":    func(h *hdr.Histogram) { _ = h.RecordValue(1) },
		"bounds": func(h *hdr.Histogram) { _ = h.RecordValue(HistogramLowest); _ = h.RecordValue(HistogramHighest) },
		"frames": func(h *hdr.Histogram) {
			for range 20000 {
				_ = h.RecordValue(int64(r.NormFloat64()*3000 + 33000))
			}
		},
		"latency tail": func(h *hdr.Histogram) {
			for range 50000 {
				_ = h.RecordValue(int64(r.ExpFloat64()*200) + 15)
			}
			_ = h.RecordValues(2_000_000, 1<<40) // a count needing the long varint
		},
	}
	var e v2Encoder
	for round := range 2 {
		for name, fill := range cases {
			h := NewHistogram()
			fill(h)
			want, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.encode(h)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d, %s: encodings differ\n got %s\nwant %s", round, name, got, want)
			}
			back, err := hdr.Decode(got)
			if err != nil || !back.Equals(h) {
				t.Fatalf("round %d, %s: decode: %v", round, name, err)
			}
		}
	}
}

func TestAppendZigZag(t *testing.T) {
	for _, c := range []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0}}, {-1, []byte{1}}, {1, []byte{2}}, {63, []byte{0x7e}}, {64, []byte{0x80, 0x01}},
		{-64, []byte{0x7f}}, {-65, []byte{0x81, 0x01}},
		{-1 << 63, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		if got := appendZigZag(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("appendZigZag(%d) = % x, want % x", c.v, got, c.want)
		}
	}
}

func BenchmarkHlogEncode(b *testing.B) {
	h := NewHistogram()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		_ = h.RecordValue(int64(r.ExpFloat64()*200) + 15)
	}
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Encode(hdr.V2CompressedEncodingCookieBase); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		var e v2Encoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.encode(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
