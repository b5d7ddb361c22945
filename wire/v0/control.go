package wirev0

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Frame types, the method and the events of the v0 "control" channel
// (PROTOCOL.md §3.2). In v0 only track verbs use this channel; everything
// else rides "data" under scope "runtime". The set is frozen.
const (
	ControlRequest      = "request"
	ControlResponse     = "response"
	ControlNotification = "notification"

	MethodPublishTrack = "publish_track"

	EventPauseTrack     = "pause_track"
	EventResumeTrack    = "resume_track"
	EventUnpublishTrack = "unpublish_track"
)

// ControlRequestPrefix starts every client control request id ("ctrl_<n>").
const ControlRequestPrefix = "ctrl_"

// ControlRequestID returns the n-th control request id, "ctrl_<n>".
func ControlRequestID(n uint64) string {
	return ControlRequestPrefix + strconv.FormatUint(n, 10)
}

// ControlFrame is one v0 control-channel frame. Requests carry Method and
// RequestID, responses RequestID and either Data (granted) or Error,
// notifications Event. Data keeps the peer's raw JSON.
type ControlFrame struct {
	Type      string          `json:"type"`
	Method    string          `json:"method,omitempty"`
	Event     string          `json:"event,omitempty"`
	RequestID string          `json:"request_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	Error     *ControlError   `json:"error,omitempty"`
}

// ControlError is the error of a refused control request, e.g.
// {"code":"publish_refused","message":"track already published"}.
type ControlError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TrackData is the data of every v0 track verb.
type TrackData struct {
	Name string `json:"name"`
}

// TrackName returns data.name, the track a request or notification names.
func (f ControlFrame) TrackName() (string, error) {
	var d TrackData
	if len(f.Data) == 0 || !isObject(f.Data) {
		return "", fmt.Errorf("%w: %s has no data object", ErrBadControl, f.Type)
	}
	if err := json.Unmarshal(f.Data, &d); err != nil {
		return "", fmt.Errorf("%w: data.name: %v", ErrBadControl, err)
	}
	if d.Name == "" {
		return "", fmt.Errorf("%w: data.name is empty", ErrBadControl)
	}
	return d.Name, nil
}

// DecodeControl strictly parses a v0 control-channel frame: a JSON object
// with a known "type"; a request needs method "publish_track" and a
// request_id; a response needs a request_id (and, if it names a method,
// "publish_track"); a notification needs a known event. Keys match exactly;
// "method", "event" and "request_id" must be strings, "data" an object and
// "error" an object of strings.
func DecodeControl(frame []byte) (ControlFrame, error) {
	members, err := parseObject(frame)
	if err != nil {
		return ControlFrame{}, err
	}
	f, err := controlFromMembers(members)
	if err != nil {
		return ControlFrame{}, err
	}
	if err := checkControlShape(f); err != nil {
		return ControlFrame{}, err
	}
	return f, nil
}

// controlFromMembers copies the exact-keyed members into a ControlFrame,
// checking each member's JSON kind.
func controlFromMembers(members map[string]json.RawMessage) (ControlFrame, error) {
	var f ControlFrame
	var ok bool
	if f.Type, ok = stringMember(members, "type"); !ok {
		return f, fmt.Errorf("%w: control frame needs a string \"type\"", ErrMissingType)
	}
	// A slice, not a map, so the first bad member reported is always the same.
	optional := []struct {
		key string
		dst *string
	}{{"method", &f.Method}, {"event", &f.Event}, {"request_id", &f.RequestID}}
	for _, o := range optional {
		if _, present := members[o.key]; !present {
			continue
		}
		if *o.dst, ok = stringMember(members, o.key); !ok {
			return f, fmt.Errorf("%w: %q is %s, want a string", ErrBadControl, o.key, kindOf(members[o.key]))
		}
	}
	if data, present := members["data"]; present {
		if !isObject(data) {
			return f, fmt.Errorf("%w: control data is %s", ErrDataNotObject, kindOf(data))
		}
		f.Data = data
	}
	if raw, present := members["error"]; present {
		e, err := decodeControlError(raw)
		if err != nil {
			return f, err
		}
		f.Error = e
	}
	return f, nil
}

// decodeControlError reads a response's {"code","message"}.
func decodeControlError(raw json.RawMessage) (*ControlError, error) {
	if !isObject(raw) {
		return nil, fmt.Errorf("%w: error is %s", ErrBadControl, kindOf(raw))
	}
	var e ControlError
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: error: %v", ErrBadControl, err)
	}
	return &e, nil
}

// checkControlShape applies the per-type rules of DecodeControl.
func checkControlShape(f ControlFrame) error {
	switch f.Type {
	case ControlRequest:
		if f.Method != MethodPublishTrack {
			return fmt.Errorf("%w: unknown request method %q", ErrBadControl, f.Method)
		}
		if f.RequestID == "" {
			return fmt.Errorf("%w: request without request_id", ErrBadControl)
		}
	case ControlResponse:
		if f.RequestID == "" {
			return fmt.Errorf("%w: response without request_id", ErrBadControl)
		}
		if f.Method != "" && f.Method != MethodPublishTrack {
			return fmt.Errorf("%w: response to unknown method %q", ErrBadControl, f.Method)
		}
	case ControlNotification:
		if !isTrackEvent(f.Event) {
			return fmt.Errorf("%w: unknown notification event %q", ErrBadControl, f.Event)
		}
	default:
		return fmt.Errorf("%w: unknown type %q, want request, response or notification", ErrBadControl, f.Type)
	}
	return nil
}

func isTrackEvent(event string) bool {
	return event == EventPauseTrack || event == EventResumeTrack || event == EventUnpublishTrack
}

// NewPublishTrackRequest renders a client's publish_track request.
func NewPublishTrackRequest(requestID, name string) []byte {
	return mustMarshal(ControlFrame{
		Type: ControlRequest, Method: MethodPublishTrack, RequestID: requestID,
		Data: mustMarshal(TrackData{Name: name}),
	})
}

// NewPublishTrackGranted renders the runtime's grant: data is {} (the
// runtime does not echo the name in v0).
func NewPublishTrackGranted(requestID string) []byte {
	return mustMarshal(ControlFrame{
		Type: ControlResponse, Method: MethodPublishTrack, RequestID: requestID, Data: emptyObject,
	})
}

// NewPublishTrackRefused renders a refusal, e.g. code "publish_refused".
func NewPublishTrackRefused(requestID, code, message string) []byte {
	return mustMarshal(ControlFrame{
		Type: ControlResponse, Method: MethodPublishTrack, RequestID: requestID,
		Error: &ControlError{Code: code, Message: message},
	})
}

// NewTrackNotification renders pause_track, resume_track or
// unpublish_track for a track.
func NewTrackNotification(event, name string) ([]byte, error) {
	if !isTrackEvent(event) {
		return nil, fmt.Errorf("wirev0: %w: unknown event %q", ErrBadControl, event)
	}
	return mustMarshal(ControlFrame{
		Type: ControlNotification, Event: event, Data: mustMarshal(TrackData{Name: name}),
	}), nil
}
