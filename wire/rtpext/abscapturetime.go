package rtpext

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// AbsCaptureTimeURI names the standard abs-capture-time header extension
// (webrtc.org experiments). Reactor's runtime does not negotiate it; the mock
// offers it so that clients able to read it can measure latency without the
// harness's own extension.
const AbsCaptureTimeURI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time"

// Payload lengths of abs-capture-time: the timestamp alone, or the timestamp
// followed by the estimated capture clock offset.
const (
	AbsCaptureTimeSize           = 8
	AbsCaptureTimeWithOffsetSize = 16
)

// ErrOutOfRange is returned (wrapped) when a time or offset cannot be
// represented in the extension's fixed-point fields.
var ErrOutOfRange = errors.New("rtpext: value out of range")

// ntpUnixOffset is the number of seconds from the NTP epoch (1900-01-01 UTC)
// to the Unix epoch (1970-01-01 UTC): 70 years with 17 leap days.
const ntpUnixOffset = 2208988800

// The 32-bit NTP seconds field wraps every 2^32 s (136 years). Following
// RFC 4330 section 3, values with the top bit set are read in era 0
// (1968-2036) and values without it in era 1 (2036-2104), so the codec covers
// [minNTPUnix, maxNTPUnix) in Unix seconds without ambiguity.
const (
	minNTPUnix = 1<<31 - ntpUnixOffset                 // 1968-01-20T03:14:08Z
	maxNTPUnix = 1<<32 + 1<<31 - ntpUnixOffset         // 2104-02-26T09:42:24Z
	maxOffset  = time.Duration(1<<31)*time.Second - 1  // largest Q32.32 offset
	minOffset  = -time.Duration(1<<31) * time.Second   // smallest Q32.32 offset
	nanosPerS  = uint64(time.Second / time.Nanosecond) // 1e9, as uint64
	halfNanoS  = nanosPerS / 2                         // rounding term
	fracOne    = uint64(1) << 32                       // 1.0 in 32.32 fixed point
	fracHalf   = fracOne / 2                           // rounding term
	fracMask   = fracOne - 1                           // low 32 bits
	ntpEraBits = uint64(1) << 31                       // RFC 4330 era pivot
)

// AbsCaptureTime is the payload of the abs-capture-time extension.
type AbsCaptureTime struct {
	// Timestamp is when the frame was captured, as UQ32.32 seconds since the
	// NTP epoch on the wire. Nanosecond precision survives a round trip.
	Timestamp time.Time
	// ClockOffset is the estimated offset of the capturer's clock relative
	// to the sender's (signed Q32.32 seconds); meaningful only when
	// HasClockOffset is true.
	ClockOffset    time.Duration
	HasClockOffset bool
}

// NewAbsCaptureTime describes a frame captured at t, with no clock offset
// (the sender is the capturer).
func NewAbsCaptureTime(t time.Time) AbsCaptureTime {
	return AbsCaptureTime{Timestamp: t}
}

// Marshal returns the 8-byte payload, or 16 bytes when HasClockOffset.
func (a AbsCaptureTime) Marshal() ([]byte, error) {
	return a.AppendTo(make([]byte, 0, AbsCaptureTimeWithOffsetSize))
}

// AppendTo appends the payload to b; senders use it to avoid allocating.
func (a AbsCaptureTime) AppendTo(b []byte) ([]byte, error) {
	ts, err := NTPTime(a.Timestamp)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint64(b, ts)
	if !a.HasClockOffset {
		return b, nil
	}
	off, err := durationToQ32(a.ClockOffset)
	if err != nil {
		return b[:len(b)-AbsCaptureTimeSize], err
	}
	return binary.BigEndian.AppendUint64(b, uint64(off)), nil
}

// Unmarshal decodes an 8- or 16-byte payload; any other length is an error.
// The timestamp is returned in UTC.
func (a *AbsCaptureTime) Unmarshal(b []byte) error {
	switch len(b) {
	case AbsCaptureTimeSize, AbsCaptureTimeWithOffsetSize:
	default:
		return fmt.Errorf("%w: abs-capture-time is %d bytes, want %d or %d",
			ErrBadLength, len(b), AbsCaptureTimeSize, AbsCaptureTimeWithOffsetSize)
	}
	*a = AbsCaptureTime{Timestamp: TimeFromNTP(binary.BigEndian.Uint64(b[0:8]))}
	if len(b) == AbsCaptureTimeWithOffsetSize {
		a.ClockOffset = q32ToDuration(int64(binary.BigEndian.Uint64(b[8:16])))
		a.HasClockOffset = true
	}
	return nil
}

// NTPTime converts t to a UQ32.32 NTP timestamp (seconds since
// 1900-01-01 UTC in the high 32 bits, binary fraction in the low 32),
// rounding to the nearest 2^-32 s. Times outside 1968-01-20T03:14:08Z to
// 2104-02-26T09:42:24Z cannot be told apart from others and are refused.
func NTPTime(t time.Time) (uint64, error) {
	sec := t.Unix() // floor, so Nanosecond() is the non-negative remainder
	if sec < minNTPUnix || sec >= maxNTPUnix {
		return 0, fmt.Errorf("%w: %s is outside the NTP eras 0-1 window", ErrOutOfRange, t.UTC().Format(time.RFC3339))
	}
	ntpSec := uint64(sec+ntpUnixOffset) & fracMask // era 1 wraps to small values
	return ntpSec<<32 | nanosToFrac(uint64(t.Nanosecond())), nil
}

// TimeFromNTP converts a UQ32.32 NTP timestamp to a UTC time.Time, rounding
// to the nearest nanosecond and reading the seconds by RFC 4330's era rule.
func TimeFromNTP(v uint64) time.Time {
	ntpSec := v >> 32
	unix := int64(ntpSec) - ntpUnixOffset
	if ntpSec < ntpEraBits {
		unix += int64(fracOne) // era 1: the counter wrapped in 2036
	}
	return time.Unix(unix, int64(fracToNanos(v&fracMask))).UTC()
}

// nanosToFrac maps ns in [0, 1e9) to the nearest 32-bit binary fraction.
// The result never reaches 2^32 (at most 2^32-4), so no carry into seconds.
func nanosToFrac(ns uint64) uint64 {
	return (ns<<32 + halfNanoS) / nanosPerS
}

// fracToNanos maps a 32-bit binary fraction to the nearest nanosecond, but
// never to a full second: the top fractions (within 0.77 ns of 1 s) round
// down instead, so the seconds field is never carried. Carrying would turn
// the last representable instant into one Marshal refuses.
func fracToNanos(frac uint64) uint64 {
	return min((frac*nanosPerS+fracHalf)>>32, nanosPerS-1)
}

// durationToQ32 encodes d as signed Q32.32 seconds: floor seconds in the
// high half (two's complement) and a non-negative fraction in the low half.
func durationToQ32(d time.Duration) (int64, error) {
	if d < minOffset || d > maxOffset {
		return 0, fmt.Errorf("%w: clock offset %s exceeds ±2^31 s", ErrOutOfRange, d)
	}
	sec := int64(d / time.Second)
	rem := int64(d % time.Second)
	if rem < 0 { // make the remainder non-negative, as Q32.32 requires
		sec--
		rem += int64(time.Second)
	}
	return sec<<32 + int64(nanosToFrac(uint64(rem))), nil
}

// q32ToDuration decodes signed Q32.32 seconds to the nearest nanosecond.
func q32ToDuration(q int64) time.Duration {
	sec := q >> 32 // arithmetic shift keeps the sign: floor seconds
	frac := uint64(q) & fracMask
	return time.Duration(sec)*time.Second + time.Duration(fracToNanos(frac))
}
