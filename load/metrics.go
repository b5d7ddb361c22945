package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/reactor-harness/reactor-harness/reports"
)

// Metric names a latency histogram. Values are durations recorded in µs.
type Metric uint8

// The latency metrics of a session (issue 4 §3).
const (
	Token                 Metric = iota // POST /tokens round trip
	SessionCreate                       // POST /sessions round trip
	TimeToReady                         // session created → polled state reaches ready
	Signalling                          // SDP offer sent → answer received
	ICEConnect                          // ICE + DTLS connect
	FirstFrame                          // connected (or start) → first complete video frame
	FrameLatency                        // capture time stamped by the target → last packet of the frame
	FrameLatencyCorrected               // FrameLatency corrected for coordinated omission at the emission interval
	InterFrameGap                       // time between consecutive complete frames
	CommandToEffect                     // command sent → first frame whose command id shows it
	DCRTT                               // data-channel ping round trip
	OneWayDelayVariation                // from RTP timestamps, when the target stamps no capture time
	ReceiveLag                          // kernel arrival of a frame's last packet → the runner read it (the runner's own lag)
	FreezeDuration                      // a freeze's length: the gap between the frames around it (freeze.go)
	numMetrics
)

var metricNames = [numMetrics]string{
	Token:                 "token",
	SessionCreate:         "session_create",
	TimeToReady:           "time_to_ready",
	Signalling:            "signalling",
	ICEConnect:            "ice_connect",
	FirstFrame:            "first_frame",
	FrameLatency:          "frame_latency",
	FrameLatencyCorrected: "frame_latency_corrected",
	InterFrameGap:         "inter_frame_gap",
	CommandToEffect:       "command_to_effect",
	DCRTT:                 "dc_rtt",
	OneWayDelayVariation:  "one_way_delay_variation",
	ReceiveLag:            "receive_lag",
	FreezeDuration:        "freeze_duration",
}

// SteadyState reports whether m samples the running stream (frames,
// commands, round trips) and so is subject to the warm-up. Connect-phase
// metrics happen once per session, mostly during the warm-up of a closed
// run; dropping them would leave the connect phases unmeasured.
func (m Metric) SteadyState() bool { return m >= FrameLatency }

// String returns the metric's name as used in files and thresholds.
func (m Metric) String() string {
	if m < numMetrics {
		return metricNames[m]
	}
	return fmt.Sprintf("metric(%d)", uint8(m))
}

// Metrics returns every metric in presentation order.
func Metrics() []Metric {
	out := make([]Metric, numMetrics)
	for i := range out {
		out[i] = Metric(i)
	}
	return out
}

// MetricNames returns the names of Metrics(), in the same order.
func MetricNames() []string { return metricNames[:] }

// ParseMetric returns the metric named name.
func ParseMetric(name string) (Metric, bool) {
	for i, n := range metricNames {
		if n == name {
			return Metric(i), true
		}
	}
	return 0, false
}

// Counter names a per-session count.
type Counter uint8

// The counters. Frames, Packets, PacketsLost, LateFrames, MissingFrames and
// Freezes are samples: increments during the warm-up are left out of the results
// (and tallied apart). Session counters and errors always count.
const (
	Frames           Counter = iota // complete frames received
	Packets                         // RTP packets received
	PacketsLost                     // RTP packets lost (sequence gaps)
	LateFrames                      // frames that completed after their deadline
	MissingFrames                   // frames never completed
	Freezes                         // video freezes, by the webrtc-stats rule (freeze.go)
	PacketsRecovered                // RTP packets that filled a hole counted lost (retransmissions); packets_lost is net of them
	SessionsStarted                 // counted by the Runner
	SessionsReady                   // counted by the session (Recorder.Ready)
	SessionsFailed                  // counted by the Runner: SessionFunc returned an error
	SessionsErrored                 // sessions that recorded at least one error
	numCounters
)

var counterNames = [numCounters]string{
	Frames:           "frames",
	Packets:          "packets",
	PacketsLost:      "packets_lost",
	LateFrames:       "late_frames",
	MissingFrames:    "missing_frames",
	Freezes:          "freezes",
	PacketsRecovered: "packets_recovered",
	SessionsStarted:  "sessions_started",
	SessionsReady:    "sessions_ready",
	SessionsFailed:   "sessions_failed",
	SessionsErrored:  "sessions_errored",
}

// String returns the counter's name.
func (c Counter) String() string {
	if c < numCounters {
		return counterNames[c]
	}
	return fmt.Sprintf("counter(%d)", uint8(c))
}

// Counters returns every counter.
func Counters() []Counter {
	out := make([]Counter, numCounters)
	for i := range out {
		out[i] = Counter(i)
	}
	return out
}

// ParseCounter returns the counter named name.
func ParseCounter(name string) (Counter, bool) {
	for i, n := range counterNames {
		if n == name {
			return Counter(i), true
		}
	}
	return 0, false
}

// isSample reports whether increments of c are samples that the warm-up
// excludes.
func (c Counter) isSample() bool { return c <= PacketsRecovered }

// Histogram geometry (µs, 1 µs … 1 h, 3 significant figures). Values outside
// [0, HighestMicros] are counted as out of range, never recorded or dropped.
const (
	LowestMicros  = reports.HistogramLowest
	HighestMicros = reports.HistogramHighest
	SigFigs       = reports.HistogramSigFigs
)

// NewHistogram returns an empty dense histogram of the registry's geometry.
func NewHistogram() *hdr.Histogram { return reports.NewHistogram() }

func newPacked() *hdr.PackedHistogram {
	return hdr.NewPacked(LowestMicros, HighestMicros, SigFigs)
}

// Error classes the Runner itself records; sessions may use any other short
// snake_case class (http_429, http_5xx, ice_failed, …).
const (
	ClassTimeout  = "timeout"  // context deadline exceeded
	ClassPanic    = "panic"    // the SessionFunc panicked (recovered)
	ClassOther    = "other"    // an error with no class
	ClassOverflow = "overflow" // more distinct classes than MaxErrorClasses
)

// MaxErrorClasses bounds the number of distinct error classes kept (per
// session and per run); further classes count under ClassOverflow.
const MaxErrorClasses = 64

// MaxNotes bounds the number of distinct notes kept per run.
const MaxNotes = 32

// Classifier is implemented by errors that know their class.
type Classifier interface{ ErrorClass() string }

// ErrorClass returns the class of err: its ErrorClass() if it (or an error
// it wraps) implements Classifier, ClassTimeout for a deadline, otherwise
// ClassOther. Classes are normalised by NormalizeClass.
func ErrorClass(err error) string {
	for e := err; e != nil; {
		if c, ok := e.(Classifier); ok {
			return NormalizeClass(c.ErrorClass())
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	if isDeadline(err) {
		return ClassTimeout
	}
	return ClassOther
}

// NormalizeClass makes class a short token usable as a JSON key and in
// .hlog comment lines: lower case, [a-z0-9_.-] only, at most 48 bytes.
func NormalizeClass(class string) string {
	class = strings.ToLower(strings.TrimSpace(class))
	var b strings.Builder
	for _, r := range class {
		if b.Len() >= 48 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return ClassOther
	}
	return b.String()
}

// isDeadline reports whether err is a timeout: a context deadline, an I/O
// deadline, or an error whose Timeout() says so (net.Error).
func isDeadline(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
