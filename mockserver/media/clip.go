package media

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/reactor-harness/reactor-harness/fixtures/video"
)

// MTU is the largest RTP packet a Stream sends: header, extensions and
// payload. 1200 leaves room for tunnels and TURN on any path.
const MTU = 1200

// extensionBudget is the room kept for header extensions: the 4-byte
// extension header, frame stamp (1+16), abs-capture-time (1+16) and the
// transport-cc that pion's interceptor may add (1+2), rounded up with slack
// for one more small extension (e.g. mid).
const extensionBudget = 48

// ClockRate is the RTP clock of video, in Hz.
const ClockRate = 90000

// Clip is an encoded VP8 clip, parsed and packetized once and then shared,
// read-only, by every Stream.
type Clip struct {
	// Width and Height of the frames in pixels, and FPS, their intended
	// rate, as read from the IVF header.
	Width, Height, FPS int
	// ChunkFrames is the chunk length; every chunk starts on a keyframe.
	ChunkFrames int

	frames []clipFrame
}

// clipFrame is one frame cut into RTP payloads (VP8 payload descriptor plus
// data). The payloads do not depend on the stream because the VP8 picture
// id is not used, which is what lets all streams share them.
type clipFrame struct {
	payloads [][]byte
	keyframe bool
}

// LoadIVF parses a VP8 IVF file and packetizes every frame. chunkFrames
// must divide the frame count, and every chunk must start on a keyframe:
// the stream loops and jumps (RequestKeyframe) only to chunk starts, so a
// clip that breaks this rule would show corrupt video.
func LoadIVF(data []byte, chunkFrames int) (*Clip, error) {
	r, hdr, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("media: read IVF header: %w", err)
	}
	if hdr.FourCC != "VP80" {
		return nil, fmt.Errorf("media: clip codec %q, want VP80", hdr.FourCC)
	}
	fps, err := ivfFPS(hdr)
	if err != nil {
		return nil, err
	}
	c := &Clip{Width: int(hdr.Width), Height: int(hdr.Height), FPS: fps, ChunkFrames: chunkFrames}
	if err := c.readFrames(r); err != nil {
		return nil, err
	}
	return c, c.checkChunks()
}

// ivfFPS derives an integral frame rate from the IVF time base, because the
// broadcaster's RTP timestamps step by ClockRate/FPS exactly.
func ivfFPS(hdr *ivfreader.IVFFileHeader) (int, error) {
	if hdr.TimebaseNumerator == 0 || hdr.TimebaseDenominator%hdr.TimebaseNumerator != 0 {
		return 0, fmt.Errorf("media: IVF time base %d/%d is not a whole frame rate",
			hdr.TimebaseNumerator, hdr.TimebaseDenominator)
	}
	fps := int(hdr.TimebaseDenominator / hdr.TimebaseNumerator)
	if fps < 1 || fps > 240 {
		return 0, fmt.Errorf("media: IVF frame rate %d out of range", fps)
	}
	return fps, nil
}

// maxClipFrames bounds the read loop; the fixture has 99.
const maxClipFrames = 100_000

func (c *Clip) readFrames(r *ivfreader.IVFReader) error {
	pk := rtp.NewPacketizer(MTU-extensionBudget, 0, 0, &codecs.VP8Payloader{},
		rtp.NewRandomSequencer(), ClockRate)
	for range maxClipFrames {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("media: read IVF frame %d: %w", len(c.frames), err)
		}
		if len(frame) == 0 {
			return fmt.Errorf("media: IVF frame %d is empty", len(c.frames))
		}
		c.frames = append(c.frames, packetize(pk, frame))
	}
	return fmt.Errorf("media: clip longer than %d frames", maxClipFrames)
}

// packetize cuts one frame with pion's packetizer and keeps only the
// payloads: headers are written per stream at send time. The marker bit
// belongs on the last payload, which the sender derives from the position.
func packetize(pk rtp.Packetizer, frame []byte) clipFrame {
	pkts := pk.Packetize(frame, 0)
	f := clipFrame{payloads: make([][]byte, len(pkts)), keyframe: isVP8Keyframe(frame)}
	for i, p := range pkts {
		f.payloads[i] = p.Payload
	}
	return f
}

// isVP8Keyframe reads the P bit of the VP8 frame tag (RFC 6386 9.1):
// 0 means a key frame.
func isVP8Keyframe(frame []byte) bool {
	return len(frame) > 0 && frame[0]&0x01 == 0
}

func (c *Clip) checkChunks() error {
	n := len(c.frames)
	if n == 0 {
		return errors.New("media: clip has no frames")
	}
	if c.ChunkFrames < 1 || n%c.ChunkFrames != 0 {
		return fmt.Errorf("media: %d frames do not split into chunks of %d", n, c.ChunkFrames)
	}
	for i := 0; i < n; i += c.ChunkFrames {
		if !c.frames[i].keyframe {
			return fmt.Errorf("media: chunk starting at frame %d does not start on a keyframe", i)
		}
	}
	return nil
}

// Frames returns the number of frames in the clip.
func (c *Clip) Frames() int { return len(c.frames) }

// Keyframe reports whether clip frame i is a keyframe.
func (c *Clip) Keyframe(i int) bool { return c.frames[i].keyframe }

// Packets returns how many RTP packets clip frame i is sent as.
func (c *Clip) Packets(i int) int { return len(c.frames[i].payloads) }

// defaultClip parses the embedded fixture once per process; every
// broadcaster and test shares the result.
var defaultClip = sync.OnceValues(func() (*Clip, error) {
	return LoadIVF(video.HeliosIVF, video.ChunkFrames)
})

// DefaultClip returns the embedded fixture clip (fixtures/video).
func DefaultClip() (*Clip, error) { return defaultClip() }

// ClipLoader returns a loader that parses an IVF clip once per process, for
// a model's fixture; every broadcaster of the model shares the result.
func ClipLoader(ivf []byte, chunkFrames int) func() (*Clip, error) {
	return sync.OnceValues(func() (*Clip, error) { return LoadIVF(ivf, chunkFrames) })
}
