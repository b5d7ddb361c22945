package dcchunk

import "fmt"

// Frames splits msg into frames of at most chunkSize bytes, header
// included, and hands each one to send in order. A message that fits one
// frame (an empty one too) is a single frame with MORE clear.
//
// The slice passed to send is reused for the next frame: send must copy it
// or finish with it before returning (a data channel's Send copies). The
// first error from send stops the split and is returned.
func Frames(msg []byte, text bool, chunkSize int, send func(frame []byte) error) error {
	if chunkSize < 2 {
		return fmt.Errorf("dcchunk: chunk size %d leaves no room for payload", chunkSize)
	}
	room := chunkSize - 1
	buf := make([]byte, 0, min(chunkSize, len(msg)+1))
	for {
		take := min(room, len(msg))
		more := take < len(msg)
		buf = append(buf[:0], Header{More: more, Text: text}.Encode())
		buf = append(buf, msg[:take]...)
		if err := send(buf); err != nil {
			return err
		}
		msg = msg[take:]
		if !more {
			return nil
		}
	}
}

// Split returns the frames of msg as separate slices; a convenience for
// tests and small messages (Frames allocates one buffer for all of them).
func Split(msg []byte, text bool, chunkSize int) ([][]byte, error) {
	var out [][]byte
	err := Frames(msg, text, chunkSize, func(f []byte) error {
		out = append(out, append([]byte(nil), f...))
		return nil
	})
	return out, err
}

// FrameCount is how many frames Frames produces for a message of size bytes.
func FrameCount(size, chunkSize int) int {
	if size == 0 || chunkSize < 2 {
		return 1
	}
	room := chunkSize - 1
	return (size + room - 1) / room
}
