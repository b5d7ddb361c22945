package media

import (
	"strings"
	"testing"

	"github.com/reactor-harness/reactor-harness/fixtures/video"
)

func TestDefaultClipMatchesFixture(t *testing.T) {
	c, err := DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	if c.Width != video.Width || c.Height != video.Height || c.FPS != video.FPS {
		t.Fatalf("clip is %dx%d@%d, fixture constants say %dx%d@%d",
			c.Width, c.Height, c.FPS, video.Width, video.Height, video.FPS)
	}
	if c.Frames() != video.Frames || c.ChunkFrames != video.ChunkFrames {
		t.Fatalf("clip has %d frames in chunks of %d, want %d in chunks of %d",
			c.Frames(), c.ChunkFrames, video.Frames, video.ChunkFrames)
	}
	for i := range c.Frames() {
		if want := i%video.ChunkFrames == 0; c.Keyframe(i) != want {
			t.Errorf("frame %d keyframe = %v, want %v (regenerate with fixtures/video/make.sh)", i, c.Keyframe(i), want)
		}
	}
}

func TestClipPayloadsFitMTU(t *testing.T) {
	c, err := DefaultClip()
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range c.frames {
		for k, p := range f.payloads {
			// 12-byte RTP header plus the extension budget must still fit.
			if 12+extensionBudget+len(p) > MTU {
				t.Fatalf("frame %d packet %d: %d-byte payload exceeds the MTU budget", i, k, len(p))
			}
			// VP8 descriptor: S bit on the first packet of a frame only.
			if start := p[0]&0x10 != 0; start != (k == 0) {
				t.Fatalf("frame %d packet %d: S bit %v", i, k, start)
			}
		}
	}
}

func TestLoadIVFRejects(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		chunk int
		want  string
	}{
		{"not ivf", []byte("definitely not an IVF file at all, no DKIF"), 33, "header"},
		{"uneven chunks", video.HeliosIVF, 10, "do not split"},
		{"chunk without keyframe", video.HeliosIVF, 9, "keyframe"},
		{"zero chunk", video.HeliosIVF, 0, "do not split"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadIVF(c.data, c.chunk)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestLoadIVFTruncated(t *testing.T) {
	// Cutting the file mid-frame must be an error, not a silently short clip.
	_, err := LoadIVF(video.HeliosIVF[:len(video.HeliosIVF)-100], 33)
	if err == nil {
		t.Fatal("truncated clip accepted")
	}
}
