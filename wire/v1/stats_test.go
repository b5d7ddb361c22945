package wirev1

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
)

func sampleStats() *ClientStats {
	return &ClientStats{
		TrackStats: []*ClientTrackStat{{
			Timestamp: 1700000000000, TrackName: "main_video", Kind: TrackKind_TRACK_KIND_VIDEO,
			Direction: TrackDirection_TRACK_DIRECTION_RECVONLY,
			Codec:     &ClientTrackStat_VideoCodec{VideoCodec: VideoCodec_VIDEO_CODEC_VP8},
			Metrics:   map[string]float64{"frame_width": 320, "jitter_ms": 1.5, "nack_count": 0},
		}},
		ConnectionStat: &ClientConnectionStat{Timestamp: 1700000000001, Metrics: map[string]float64{"time_to_connect_ms": 812}},
	}
}

// The frame 1.13.0 sends starts 10 03 9a 01: kind NOTIFICATION, then
// field 19 length-delimited (PROTOCOL.md §9.3).
func TestClientStatsFrameStartsLikeTheSDKs(t *testing.T) {
	b, err := Marshal(NewClientStats(sampleStats()))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b[:4]); got != "10039a01" {
		t.Fatalf("frame starts %s, want 10039a01", got)
	}
	m, err := DecodeControlClient(b)
	if err != nil || PayloadName(m) != "client_stats" {
		t.Fatalf("decoded %v, %v", PayloadName(m), err)
	}
	r, err := ReadStats(m.GetClientStats())
	if err != nil {
		t.Fatal(err)
	}
	tr := r.Tracks[0]
	if tr.Name != "main_video" || tr.Kind != "video" || tr.Direction != "recvonly" || tr.Codec != "VP8" ||
		tr.Metrics["frame_width"] != 320 || r.Connection["time_to_connect_ms"] != 812 {
		t.Fatalf("report = %+v", r)
	}
}

func TestReadStatsRefusesGarbage(t *testing.T) {
	many := map[string]float64{}
	for i := range MaxStatsMetrics + 1 {
		many[strings.Repeat("m", 1+i%60)+string(rune('a'+i%26))+string(rune('a'+i/26))] = 1
	}
	cases := map[string]func(s *ClientStats){
		"NaN metric":       func(s *ClientStats) { s.TrackStats[0].Metrics["jitter_ms"] = math.NaN() },
		"infinite metric":  func(s *ClientStats) { s.ConnectionStat.Metrics["x"] = math.Inf(1) },
		"unnamed metric":   func(s *ClientStats) { s.TrackStats[0].Metrics[""] = 1 },
		"long metric name": func(s *ClientStats) { s.TrackStats[0].Metrics[strings.Repeat("n", 65)] = 1 },
		"too many metrics": func(s *ClientStats) { s.TrackStats[0].Metrics = many },
		"unnamed track":    func(s *ClientStats) { s.TrackStats[0].TrackName = " " },
		"too many tracks": func(s *ClientStats) {
			for range MaxStatsTracks {
				s.TrackStats = append(s.TrackStats, &ClientTrackStat{TrackName: "t"})
			}
		},
	}
	for name, breakIt := range cases {
		s := sampleStats()
		breakIt(s)
		if _, err := ReadStats(s); !errors.Is(err, ErrBadStats) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMismatchedCodecArmReadsAsAbsent(t *testing.T) {
	s := sampleStats()
	s.TrackStats[0].Codec = &ClientTrackStat_AudioCodec{AudioCodec: AudioCodec_AUDIO_CODEC_OPUS}
	r, err := ReadStats(s)
	if err != nil || r.Tracks[0].Codec != "" {
		t.Fatalf("codec %q, %v", r.Tracks[0].Codec, err)
	}
}

func FuzzReadStats(f *testing.F) {
	b, _ := Marshal(NewClientStats(sampleStats()))
	f.Add(b)
	f.Add([]byte{0x10, 0x03, 0x9a, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := DecodeControlClient(frame)
		if err != nil || m.GetClientStats() == nil {
			return
		}
		r, err := ReadStats(m.GetClientStats())
		if err != nil {
			return
		}
		if len(r.Tracks) > MaxStatsTracks {
			t.Fatalf("%d tracks kept", len(r.Tracks))
		}
		for _, tr := range r.Tracks {
			for k, v := range tr.Metrics {
				if math.IsNaN(v) || math.IsInf(v, 0) || k == "" {
					t.Fatalf("kept metric %q = %v", k, v)
				}
			}
		}
	})
}
