// Package media is the mock server's video source: it plays one encoded clip
// (by default the embedded fixture) as the model's output track of every
// session, stamping each frame so clients can measure latency end to end.
//
// One Broadcaster owns the clock for a frame rate: a single goroutine ticks
// once per frame interval and a few sender goroutines (one per CPU, not one
// per session) fan each tick out to the attached Streams. Streams are
// spread over phases of the interval (Options.Phases), so a few capture
// and send at each instant rather than all at once, and a frame is stamped
// when it is actually captured: the sender's own lateness moves frames,
// it is not counted as their latency. A delayed frame is sent on a
// precise alarm (see waker), so a scenario's delay D reads as D. A Stream is one
// session's outbound video track; it implements webrtc.TrackLocal, so the
// answerer hands it to pion like any track and pion tells it, per binding,
// the negotiated SSRC, payload type and header extension ids. The clip is
// parsed and packetized once; all streams share those read-only payloads and
// only write their own RTP headers.
//
// Each frame carries the rtpext.FrameStamp extension (capture wall clock,
// per-stream frame sequence, last applied command id) and, when negotiated,
// abs-capture-time.
//
// The package must not know about HTTP, signalling, session state or the
// scenario format: the answerer decides when a stream resumes, pauses or is
// delayed, and the synthetic model decides what command ids mean (it learns
// about chunk boundaries through StreamConfig.OnFrame).
package media
