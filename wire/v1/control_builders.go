package wirev1

import (
	"github.com/reactor-harness/reactor-harness/wire"
)

// Client to runtime on "control". Ping, track verbs other than publish and
// file_uploaded are NOTIFICATIONs; the rest are REQUESTs the runtime answers
// with the same request_id.

// NewPing builds the client heartbeat.
func NewPing() *ControlClientMessage {
	return &ControlClientMessage{Kind: KindNotification, Payload: &ControlClientMessage_Ping{Ping: &Ping{}}}
}

// NewResumeTrack asks the runtime to start (or restart) sending a track.
func NewResumeTrack(name string) *ControlClientMessage {
	return &ControlClientMessage{Kind: KindNotification,
		Payload: &ControlClientMessage_ResumeTrack{ResumeTrack: &ResumeTrack{Name: name}}}
}

// NewPauseTrack asks the runtime to stop sending a track for now.
func NewPauseTrack(name string) *ControlClientMessage {
	return &ControlClientMessage{Kind: KindNotification,
		Payload: &ControlClientMessage_PauseTrack{PauseTrack: &PauseTrack{Name: name}}}
}

// NewUnpublishTrack tells the runtime the client stopped sending a track.
func NewUnpublishTrack(name string) *ControlClientMessage {
	return &ControlClientMessage{Kind: KindNotification,
		Payload: &ControlClientMessage_UnpublishTrack{UnpublishTrack: &UnpublishTrack{Name: name}}}
}

// NewFileUploaded tells the runtime an upload finished.
func NewFileUploaded(ref wire.FileRef) *ControlClientMessage {
	return &ControlClientMessage{Kind: KindNotification,
		Payload: &ControlClientMessage_FileUploaded{FileUploaded: &FileUploaded{
			UploadId: ref.UploadID, Name: ref.Name, MimeType: ref.MimeType, Size: ref.Size}}}
}

// NewPublishTrack asks to publish a client track; requestID is
// ControlRequestID(n).
func NewPublishTrack(requestID, name string) *ControlClientMessage {
	return &ControlClientMessage{RequestId: requestID, Kind: KindRequest,
		Payload: &ControlClientMessage_PublishTrack{PublishTrack: &PublishTrack{Name: name}}}
}

// NewRequestSchema asks for the model's OpenAPI document.
func NewRequestSchema(requestID string) *ControlClientMessage {
	return &ControlClientMessage{RequestId: requestID, Kind: KindRequest,
		Payload: &ControlClientMessage_RequestSchema{RequestSchema: &RequestSchema{}}}
}

// NewRequestClip asks for a clip of the last seconds of output.
func NewRequestClip(requestID string, seconds float64) *ControlClientMessage {
	return &ControlClientMessage{RequestId: requestID, Kind: KindRequest,
		Payload: &ControlClientMessage_RequestClip{RequestClip: &RequestClip{DurationSeconds: seconds}}}
}

// NewRequestRecording asks for a recording of the session so far.
func NewRequestRecording(requestID string) *ControlClientMessage {
	return &ControlClientMessage{RequestId: requestID, Kind: KindRequest,
		Payload: &ControlClientMessage_RequestRecording{RequestRecording: &RequestRecording{}}}
}

// Runtime to client on "control".

// NewPublishGranted grants a publish_track request.
func NewPublishGranted(requestID, name string) *ControlServerMessage {
	return &ControlServerMessage{RequestId: requestID, Kind: KindResponse,
		Payload: &ControlServerMessage_PublishTrack{PublishTrack: &PublishTrackResponse{Name: name}}}
}

// NewControlError answers a control request with an Error, e.g.
// NewControlError("ctrl_1", CodePublishRefused, "track already published").
func NewControlError(requestID, code, message string) *ControlServerMessage {
	return &ControlServerMessage{RequestId: requestID, Kind: KindResponse,
		Payload: &ControlServerMessage_Error{Error: &Error{Code: code, Message: message}}}
}

// NewModelSchema answers request_schema with the OpenAPI document.
func NewModelSchema(requestID string, openapi map[string]any) (*ControlServerMessage, error) {
	s, err := ToStruct(openapi)
	if err != nil {
		return nil, err
	}
	return &ControlServerMessage{RequestId: requestID, Kind: KindResponse,
		Payload: &ControlServerMessage_ModelSchema{ModelSchema: &ModelSchema{Openapi: s}}}, nil
}

// NewClipReady answers request_clip or request_recording.
func NewClipReady(requestID string, clip *ClipReady) *ControlServerMessage {
	return &ControlServerMessage{RequestId: requestID, Kind: KindResponse,
		Payload: &ControlServerMessage_ClipReady{ClipReady: clip}}
}

// NewClipFailed answers request_clip or request_recording with a failure.
func NewClipFailed(requestID, reason string) *ControlServerMessage {
	return &ControlServerMessage{RequestId: requestID, Kind: KindResponse,
		Payload: &ControlServerMessage_ClipFailed{ClipFailed: &ClipFailed{Reason: reason}}}
}

// NewModeration broadcasts a moderation verdict (a NOTIFICATION).
func NewModeration(m *Moderation) *ControlServerMessage {
	return &ControlServerMessage{Kind: KindNotification,
		Payload: &ControlServerMessage_Moderation{Moderation: m}}
}

// NewSessionEnded tells the client the platform is ending the session (a
// NOTIFICATION; clients pinned to wire 1.20260722.6 ignore it).
func NewSessionEnded(reason string) *ControlServerMessage {
	return &ControlServerMessage{Kind: KindNotification,
		Payload: &ControlServerMessage_SessionEnded{SessionEnded: &SessionEnded{Reason: reason}}}
}
