package wirev0

// Runtime-scope message types on the v0 "data" channel (PROTOCOL.md §3.2).
const (
	// Client to server.
	TypePing             = "ping"             // data {}; JS every 5 s
	TypeRequestSchema    = "requestSchema"    // data {}
	TypeFileUploaded     = "fileUploaded"     // data wire.FileRef
	TypeRequestClip      = "requestClip"      // data RequestClip
	TypeRequestRecording = "requestRecording" // data {}

	// Server to client.
	TypeModelSchema  = "modelSchema"  // data is the OpenAPI document itself
	TypeClipReady    = "clipReady"    // data ClipReady
	TypeClipFailed   = "clipFailed"   // data ClipFailed
	TypeModeration   = "moderation"   // data Moderation
	TypeSessionEnded = "sessionEnded" // data SessionEnded

	// Deprecated: JS 2.9.0's capability probe; the current runtime drops it
	// as undecodable.
	TypeRequestCapabilities = "requestCapabilities"
	// Deprecated: the answer to TypeRequestCapabilities,
	// {commands:[{name,description,schema}]}.
	TypeModelCapabilities = "modelCapabilities"
)

// Values of ClipReady.Kind.
const (
	ClipKindSnap      = "snap"
	ClipKindRecording = "recording"
)

// Values of Moderation.Action and Moderation.InputKind.
const (
	ModerationWarn      = "warn"
	ModerationTerminate = "terminate"
	InputKindText       = "text"
	InputKindImage      = "image"
)

// RequestClip is the data of requestClip.
type RequestClip struct {
	DurationSeconds float64 `json:"duration_seconds"`
}

// ClipReady is the data of clipReady. v0 has no request id: a client pairs
// it with its requestClip/requestRecording by receipt order.
type ClipReady struct {
	SessionID          string  `json:"session_id"`
	Kind               string  `json:"kind"`
	StartMarker        float64 `json:"start_marker"`
	EndMarker          float64 `json:"end_marker"`
	NowMarker          float64 `json:"now_marker"`
	PredictedReadyAtMs int64   `json:"predicted_ready_at_ms"`
	PlaylistURL        string  `json:"playlist_url"`
}

// ClipFailed is the data of clipFailed.
type ClipFailed struct {
	Reason string `json:"reason"`
}

// Moderation is the data of moderation.
type Moderation struct {
	Action     string   `json:"action"`
	InputKind  string   `json:"input_kind"`
	Command    string   `json:"command"`
	Categories []string `json:"categories"` // nil encodes as null; peers send []
	Message    string   `json:"message"`
}

// SessionEnded is the data of sessionEnded.
type SessionEnded struct {
	Reason string `json:"reason"`
}
