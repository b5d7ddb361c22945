package reports

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The cookies of HdrHistogram's V2 encoding (word size 8 in the low bits).
const (
	v2EncodingCookie           = hdr.V2EncodingCookieBase | 0x10
	v2CompressedEncodingCookie = hdr.V2CompressedEncodingCookieBase | 0x10
)

// v2Encoder writes the base64 V2 compressed encoding of a histogram, byte
// for byte what hdr.Histogram.Encode(hdr.V2CompressedEncodingCookieBase)
// gives for histograms of this package (conversion ratio 1), but with one
// zlib writer and its buffers kept across calls. Encode builds a new
// compressor, ~600 kB, for each histogram: for a load run's interval log,
// several per second, that was ~8% of all the garbage at 300 sessions.
// Not safe for concurrent use.
type v2Encoder struct {
	zw      *zlib.Writer
	payload []byte
	comp    bytes.Buffer
	raw     []byte
	out     []byte
}

func (e *v2Encoder) encode(h *hdr.Histogram) ([]byte, error) {
	snap := h.Export()
	counts := snap.Counts
	limit := 1 // the payload runs to the highest non-zero count, at least one
	for i := len(counts) - 1; i >= 0; i-- {
		if counts[i] != 0 {
			limit = i + 1
			break
		}
	}
	p := e.payload[:0]
	p = binary.BigEndian.AppendUint32(p, uint32(v2EncodingCookie))
	p = binary.BigEndian.AppendUint32(p, 0) // payload length, set below
	p = binary.BigEndian.AppendUint32(p, 0) // normalizing index offset: counts are unrotated
	p = binary.BigEndian.AppendUint32(p, uint32(snap.SignificantFigures))
	p = binary.BigEndian.AppendUint64(p, uint64(snap.LowestTrackableValue))
	p = binary.BigEndian.AppendUint64(p, uint64(snap.HighestTrackableValue))
	p = binary.BigEndian.AppendUint64(p, math.Float64bits(1))
	const header = 40
	for i := 0; i < limit; {
		c := counts[i]
		i++
		if c != 0 {
			p = appendZigZag(p, c)
			continue
		}
		zeros := int64(1)
		for i < limit && counts[i] == 0 {
			zeros++
			i++
		}
		if zeros > 1 {
			p = appendZigZag(p, -zeros)
		} else {
			p = appendZigZag(p, 0)
		}
	}
	binary.BigEndian.PutUint32(p[4:], uint32(len(p)-header))
	e.payload = p

	e.comp.Reset()
	if e.zw == nil {
		zw, err := zlib.NewWriterLevel(&e.comp, zlib.BestCompression)
		if err != nil {
			return nil, err
		}
		e.zw = zw
	} else {
		e.zw.Reset(&e.comp)
	}
	if _, err := e.zw.Write(p); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	raw := binary.BigEndian.AppendUint32(e.raw[:0], uint32(v2CompressedEncodingCookie))
	raw = binary.BigEndian.AppendUint32(raw, uint32(e.comp.Len()))
	raw = append(raw, e.comp.Bytes()...)
	e.raw = raw
	e.out = base64.StdEncoding.AppendEncode(e.out[:0], raw)
	return e.out, nil
}

// appendZigZag appends v as a ZigZag LEB128 varint of at most 9 bytes
// (the ninth carries 8 bits), HdrHistogram's count encoding.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for range 8 {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}
