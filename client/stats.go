package client

import (
	"math"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// Client stats (PROTOCOL.md §9.3): like reactor-sdk 1.13.0, a v1 client
// with Config.ClientStats sends a ClientStats notification on control every
// 5 s once ready, one reading per received track from pion's own stats.

// DefaultClientStatsInterval is the SDKs' stats period.
const DefaultClientStatsInterval = 5 * time.Second

// startStats sends reports until the connection closes. Each send's
// outcome goes to Config.OnClientStats.
func (cn *conn) startStats() {
	c := cn.c
	if !c.cfg.ClientStats || c.cfg.Codec != CodecV1 || !cn.enter() {
		return
	}
	every := c.cfg.ClientStatsInterval
	if every <= 0 {
		every = DefaultClientStatsInterval
	}
	go func() {
		defer cn.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for first := true; ; first = false {
			select {
			case <-cn.done:
				return
			case <-t.C:
			}
			err := cn.sendV1(PhaseControl, cn.control, wirev1.NewClientStats(cn.statsReport(first)))
			if c.cfg.OnClientStats != nil {
				c.cfg.OnClientStats(err)
			}
		}
	}()
}

// statsReport reads pion's inbound-rtp stats of every received track.
func (cn *conn) statsReport(first bool) *wirev1.ClientStats {
	now := time.Now().UnixMilli()
	bySSRC := map[webrtc.SSRC]webrtc.InboundRTPStreamStats{}
	for _, s := range cn.pc.GetStats() {
		if in, ok := s.(webrtc.InboundRTPStreamStats); ok {
			bySSRC[in.SSRC] = in
		}
	}
	out := &wirev1.ClientStats{ConnectionStat: &wirev1.ClientConnectionStat{Timestamp: now, Metrics: map[string]float64{}}}
	if tm := cn.c.Timings(); first && !tm.ReadyAt.IsZero() {
		out.ConnectionStat.Metrics["time_to_connect_ms"] = float64(tm.ReadyAt.Sub(tm.Start).Milliseconds())
	}
	for r, spec := range cn.names {
		tr := r.Track()
		if tr == nil {
			continue
		}
		out.TrackStats = append(out.TrackStats, trackStat(now, spec, tr.Codec().MimeType, bySSRC[tr.SSRC()]))
	}
	return out
}

// videoCodecs maps negotiated MIME types to the wire's codec enum.
var videoCodecs = map[string]wirev1.VideoCodec{
	webrtc.MimeTypeVP8: wirev1.VideoCodec_VIDEO_CODEC_VP8, webrtc.MimeTypeVP9: wirev1.VideoCodec_VIDEO_CODEC_VP9,
	webrtc.MimeTypeAV1: wirev1.VideoCodec_VIDEO_CODEC_AV1, webrtc.MimeTypeH264: wirev1.VideoCodec_VIDEO_CODEC_H264,
	webrtc.MimeTypeH265: wirev1.VideoCodec_VIDEO_CODEC_H265,
}

func videoCodec(mime string) wirev1.VideoCodec {
	for m, c := range videoCodecs {
		if strings.EqualFold(m, mime) {
			return c
		}
	}
	return wirev1.VideoCodec_VIDEO_CODEC_UNSPECIFIED
}

func trackStat(now int64, spec wire.TrackSpec, mime string, in webrtc.InboundRTPStreamStats) *wirev1.ClientTrackStat {
	ts := &wirev1.ClientTrackStat{Timestamp: now, TrackName: spec.Name, Direction: wirev1.TrackDirection_TRACK_DIRECTION_RECVONLY,
		Metrics: map[string]float64{
			"packets_received":  float64(in.PacketsReceived),
			"packets_lost":      float64(in.PacketsLost),
			"nack_count":        float64(in.NACKCount),
			"keyframe_requests": float64(in.PLICount + in.FIRCount),
		}}
	if j := in.Jitter * 1000; !math.IsNaN(j) && !math.IsInf(j, 0) {
		ts.Metrics["jitter_ms"] = j
	}
	switch spec.Kind {
	case "video":
		ts.Kind = wirev1.TrackKind_TRACK_KIND_VIDEO
		ts.Codec = &wirev1.ClientTrackStat_VideoCodec{VideoCodec: videoCodec(mime)}
	case "audio":
		ts.Kind = wirev1.TrackKind_TRACK_KIND_AUDIO
		if strings.EqualFold(mime, webrtc.MimeTypeOpus) {
			ts.Codec = &wirev1.ClientTrackStat_AudioCodec{AudioCodec: wirev1.AudioCodec_AUDIO_CODEC_OPUS}
		}
	}
	return ts
}
