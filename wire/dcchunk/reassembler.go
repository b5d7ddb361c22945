package dcchunk

import "fmt"

// DefaultMaxFrames bounds the frames of one message: a 64 MiB message in
// 64-byte frames. The format itself sets no bound; without one a peer
// could keep a message open forever with header-only MORE frames.
const DefaultMaxFrames = 1 << 20

// Outcome says what one frame completed.
type Outcome int

const (
	// Pending: the frame belongs to a message that is not complete yet.
	Pending Outcome = iota
	// Complete: a whole message is in Delivery.Data.
	Complete
	// Dropped: a message over the size limit ended; none of it was kept
	// and Delivery.Size says how large it was. The channel keeps working.
	Dropped
)

// Delivery is the result of one Push.
type Delivery struct {
	Outcome Outcome
	// Data is the reassembled message when Outcome is Complete. It is
	// owned by the caller.
	Data []byte
	// Text is the type the message was sent as.
	Text bool
	// Size is the message's length in bytes (kept or dropped).
	Size int64
}

// Reassembler turns one channel's frames back into messages. It holds at
// most one partial message of at most MaxMessageSize bytes. It is not safe
// for concurrent use; a channel delivers its messages one at a time.
type Reassembler struct {
	maxSize   int64
	maxFrames int

	buf      []byte
	inFlight bool  // a message has started and not ended
	text     bool  // its type, while inFlight
	frames   int   // frames of it so far
	skipped  int64 // its size so far, once it passed maxSize; -1 otherwise
}

// NewReassembler keeps messages up to maxSize bytes and refuses a message
// of more than maxFrames frames; a value <= 0 takes the default
// (DefaultMaxMessageSize, DefaultMaxFrames).
func NewReassembler(maxSize int64, maxFrames int) *Reassembler {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	if maxFrames <= 0 {
		maxFrames = DefaultMaxFrames
	}
	return &Reassembler{maxSize: maxSize, maxFrames: maxFrames, skipped: -1}
}

// MaxMessageSize is the largest message this reassembler keeps.
func (r *Reassembler) MaxMessageSize() int64 { return r.maxSize }

// Push feeds one frame as received from the channel. An error means the
// peer broke the format: the caller closes the channel (and Resets before
// any reuse). The frame is not retained.
func (r *Reassembler) Push(frame []byte) (Delivery, error) {
	if len(frame) == 0 {
		return Delivery{}, ErrEmptyFrame
	}
	h, err := DecodeHeader(frame[0])
	if err != nil {
		return Delivery{}, err
	}
	if err := r.admit(h); err != nil {
		return Delivery{}, err
	}
	r.take(frame[1:])
	if h.More {
		return Delivery{Outcome: Pending, Text: h.Text}, nil
	}
	return r.finish(h.Text), nil
}

// admit checks a frame's header against the message in progress.
func (r *Reassembler) admit(h Header) error {
	if !r.inFlight {
		r.inFlight, r.text, r.frames = true, h.Text, 0
	} else if r.text != h.Text {
		return ErrTypeChanged
	}
	r.frames++
	if r.frames > r.maxFrames && h.More {
		return fmt.Errorf("%w: %d frames and still MORE (bound %d)", ErrTooManyFrames, r.frames, r.maxFrames)
	}
	return nil
}

// take appends a payload, or counts it once the message is over the limit.
func (r *Reassembler) take(payload []byte) {
	n := int64(len(payload))
	switch {
	case r.skipped >= 0:
		r.skipped += n
	case int64(len(r.buf))+n > r.maxSize:
		r.skipped = int64(len(r.buf)) + n
		r.buf = nil
	default:
		r.grow(len(payload))
		r.buf = append(r.buf, payload...)
	}
}

// grow doubles the buffer, capped at the limit: append alone grows large
// slices by a quarter, which copies a 64 MiB message dozens of times.
func (r *Reassembler) grow(n int) {
	need := len(r.buf) + n
	if need <= cap(r.buf) {
		return
	}
	c := int(min(int64(max(2*cap(r.buf), need, 512)), r.maxSize))
	nb := make([]byte, len(r.buf), max(c, need))
	copy(nb, r.buf)
	r.buf = nb
}

// finish ends the message in progress.
func (r *Reassembler) finish(text bool) Delivery {
	r.inFlight = false
	if r.skipped >= 0 {
		d := Delivery{Outcome: Dropped, Text: text, Size: r.skipped}
		r.skipped = -1
		return d
	}
	data := r.buf
	if data == nil {
		data = []byte{}
	}
	r.buf = nil
	return Delivery{Outcome: Complete, Data: data, Text: text, Size: int64(len(data))}
}

// MidMessage reports whether a message has started but not ended.
func (r *Reassembler) MidMessage() bool { return r.inFlight }

// Buffered is how many bytes the message in progress holds.
func (r *Reassembler) Buffered() int { return len(r.buf) }

// Reset discards any partial message (the channel closed or was refused).
func (r *Reassembler) Reset() {
	r.buf, r.inFlight, r.frames, r.skipped = nil, false, 0, -1
}
