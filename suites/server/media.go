package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
)

// Media, PROTOCOL.md §5: the runtime answers with its codec preference
// (VP9 > VP8 > H264 > AV1 > H265, Opus), starts every outbound track paused
// and streams after resume_track.

// firstFrameWait bounds the wait for video after resume_track.
const firstFrameWait = 10 * time.Second

func init() {
	register(Case{ID: "media/1", Section: "5", Check: mediaFramesAfterResume,
		Requirement: "after resume_track for a recvonly video track, the server MUST deliver complete video frames on it (first within 10 s)"})
	register(Case{ID: "media/2", Section: "5", Check: mediaCodecs,
		Requirement: "the SDP answer MUST pick a video codec among VP9, VP8, H264, AV1, H265 (and Opus for audio)"})
	register(Case{ID: "media/3", Section: "5", Check: mediaPausedUntilResume,
		Requirement: "outbound tracks MUST stay paused (no video frames for 1.5 s) until the client sends resume_track, then flow"})
	register(Case{ID: "media/4", Section: "5", Check: mediaKeyframeFirst,
		Requirement: "video after resume_track MUST include a complete keyframe within 10 s, so that a decoder can start"})
}

var (
	videoCodecs = []string{"VP9", "VP8", "H264", "AV1", "H265"}
	// Codecs that may be listed beside the media codec in an answer.
	auxCodecs = []string{"RTX", "RED", "ULPFEC", "FLEXFEC-03"}
)

// connectVideo connects a CodecV0 client that logs its frames and names
// the video track the model sends; autoResume as in connect.
func (r *Run) connectVideo(ctx context.Context, autoResume bool) (*client.Client, *frameLog, string, error) {
	log := &frameLog{}
	c, err := r.connect(ctx, client.CodecV0, autoResume, log)
	if err != nil {
		return nil, nil, "", err
	}
	track, err := recvTrack(c)
	if err != nil {
		return nil, nil, "", err
	}
	return c, log, track, nil
}

func mediaFramesAfterResume(ctx context.Context, r *Run) error {
	c, log, track, err := r.connectVideo(ctx, true)
	if err != nil {
		return err
	}
	ok, err := waitFor(ctx, firstFrameWait, func() bool { return len(log.complete(track)) >= 3 })
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("fewer than 3 complete video frames on %q within %s of resume_track (got %d); per-track receive stats: %s",
			track, firstFrameWait, len(log.complete(track)), trackStats(c))
	}
	return nil
}

func mediaCodecs(ctx context.Context, r *Run) error {
	_, ans, resp, err := r.negotiate(ctx)
	if err != nil {
		return err
	}
	var p problems
	for _, s := range parseSections(ans.SDPAnswer) {
		if s.direction == "inactive" || (s.media != "video" && s.media != "audio") {
			continue
		}
		allowed := videoCodecs
		if s.media == "audio" {
			allowed = []string{"OPUS"}
		}
		var media []string
		for _, c := range s.codecs {
			if !slices.Contains(auxCodecs, c) {
				media = append(media, c)
			}
		}
		if len(media) == 0 {
			p.add("the %s section (mid %q) lists no media codec", s.media, s.mid)
			continue
		}
		for _, c := range media {
			if !slices.Contains(allowed, c) {
				p.add("the %s section (mid %q) answers codec %s, not one of %v", s.media, s.mid, c, allowed)
			}
		}
	}
	return p.err(resp, "the answer's codecs are outside the runtime's list")
}

func mediaPausedUntilResume(ctx context.Context, r *Run) error {
	c, log, track, err := r.connectVideo(ctx, false)
	if err != nil {
		return err
	}
	if err := sleep(ctx, 1500*time.Millisecond); err != nil {
		return err
	}
	if n := len(log.complete(track)); n > 0 {
		return fmt.Errorf("%d video frames arrived on %q although the client never sent resume_track (tracks must start paused); stats: %s",
			n, track, trackStats(c))
	}
	if err := c.ResumeTrack(track); err != nil {
		return fmt.Errorf("sending resume_track: %w", err)
	}
	ok, err := waitFor(ctx, firstFrameWait, func() bool { return len(log.complete(track)) > 0 })
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no video frame on %q within %s after resume_track; stats: %s", track, firstFrameWait, trackStats(c))
	}
	return nil
}

func mediaKeyframeFirst(ctx context.Context, r *Run) error {
	c, log, track, err := r.connectVideo(ctx, true)
	if err != nil {
		return err
	}
	hasKey := func() bool {
		for _, f := range log.complete(track) {
			if f.Keyframe {
				return true
			}
		}
		return false
	}
	ok, err := waitFor(ctx, firstFrameWait, hasKey)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%d complete frames but no keyframe on %q within %s of resume_track: a decoder cannot start; stats: %s",
			len(log.complete(track)), track, firstFrameWait, trackStats(c))
	}
	return nil
}
