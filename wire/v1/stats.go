package wirev1

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Client stats (PROTOCOL.md §9.3): SDKs from reactor-sdk 1.13.0 and js-sdk
// 3.1.0 send a ClientStats NOTIFICATION on "control" every 5 s. StatsReport
// is its checked, JSON-friendly view.

// Bounds of a report a receiver keeps; a report beyond them is refused
// whole, so one client cannot make the runtime hold unbounded stats.
const (
	MaxStatsTracks        = 64
	MaxStatsMetrics       = 128 // per track, and for the connection
	MaxStatsMetricNameLen = 64
)

// ErrBadStats wraps every reason a ClientStats report is refused.
var ErrBadStats = errors.New("bad client_stats")

// StatsReport is one decoded ClientStats.
type StatsReport struct {
	Tracks     []TrackStat        `json:"tracks"`
	Connection map[string]float64 `json:"connection,omitempty"`
	// ConnectionTimestamp is the connection reading's epoch milliseconds.
	ConnectionTimestamp int64 `json:"connection_timestamp,omitempty"`
}

// TrackStat is one track's reading. Codec is "" when the sender set none,
// or set an arm that disagrees with Kind (to be read as absent).
type TrackStat struct {
	Timestamp int64              `json:"timestamp"`
	Name      string             `json:"track_name"`
	Kind      string             `json:"kind"`      // video | audio | ""
	Direction string             `json:"direction"` // recvonly | sendonly | ""
	Codec     string             `json:"codec,omitempty"`
	Paused    bool               `json:"paused"`
	Metrics   map[string]float64 `json:"metrics"`
}

// NewClientStats builds the client's periodic stats NOTIFICATION.
func NewClientStats(s *ClientStats) *ControlClientMessage {
	return &ControlClientMessage{Kind: KindNotification, Payload: &ControlClientMessage_ClientStats{ClientStats: s}}
}

// ReadStats checks a ClientStats and returns its view. It refuses, wrapping
// ErrBadStats, a report with too many tracks or metrics, a track without a
// name, or a metric that is unnamed, too long a name, NaN or infinite.
func ReadStats(s *ClientStats) (StatsReport, error) {
	if len(s.GetTrackStats()) > MaxStatsTracks {
		return StatsReport{}, fmt.Errorf("%w: %d tracks, at most %d", ErrBadStats, len(s.GetTrackStats()), MaxStatsTracks)
	}
	r := StatsReport{Tracks: make([]TrackStat, 0, len(s.GetTrackStats()))}
	for i, t := range s.GetTrackStats() {
		ts, err := readTrackStat(t)
		if err != nil {
			return StatsReport{}, fmt.Errorf("%w: track_stats[%d]: %v", ErrBadStats, i, err)
		}
		r.Tracks = append(r.Tracks, ts)
	}
	if c := s.GetConnectionStat(); c != nil {
		m, err := readMetrics(c.GetMetrics())
		if err != nil {
			return StatsReport{}, fmt.Errorf("%w: connection_stat: %v", ErrBadStats, err)
		}
		r.Connection, r.ConnectionTimestamp = m, c.GetTimestamp()
	}
	return r, nil
}

func readTrackStat(t *ClientTrackStat) (TrackStat, error) {
	if strings.TrimSpace(t.GetTrackName()) == "" {
		return TrackStat{}, errors.New("no track_name")
	}
	m, err := readMetrics(t.GetMetrics())
	if err != nil {
		return TrackStat{}, err
	}
	ts := TrackStat{Timestamp: t.GetTimestamp(), Name: t.GetTrackName(), Paused: t.GetPaused(), Metrics: m}
	switch t.GetKind() {
	case TrackKind_TRACK_KIND_VIDEO:
		ts.Kind = "video"
		if c := t.GetVideoCodec(); c != VideoCodec_VIDEO_CODEC_UNSPECIFIED {
			ts.Codec = strings.TrimPrefix(c.String(), "VIDEO_CODEC_")
		}
	case TrackKind_TRACK_KIND_AUDIO:
		ts.Kind = "audio"
		if c := t.GetAudioCodec(); c != AudioCodec_AUDIO_CODEC_UNSPECIFIED {
			ts.Codec = strings.TrimPrefix(c.String(), "AUDIO_CODEC_")
		}
	}
	switch t.GetDirection() {
	case TrackDirection_TRACK_DIRECTION_RECVONLY:
		ts.Direction = "recvonly"
	case TrackDirection_TRACK_DIRECTION_SENDONLY:
		ts.Direction = "sendonly"
	}
	return ts, nil
}

func readMetrics(in map[string]float64) (map[string]float64, error) {
	if len(in) > MaxStatsMetrics {
		return nil, fmt.Errorf("%d metrics, at most %d", len(in), MaxStatsMetrics)
	}
	out := make(map[string]float64, len(in))
	for k, v := range in {
		switch {
		case k == "" || len(k) > MaxStatsMetricNameLen:
			return nil, fmt.Errorf("metric name %q is empty or longer than %d bytes", k, MaxStatsMetricNameLen)
		case math.IsNaN(v) || math.IsInf(v, 0):
			return nil, fmt.Errorf("metric %q is %v", k, v)
		}
		out[k] = v
	}
	return out, nil
}
