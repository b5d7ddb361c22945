package wirev0

import "errors"

// Sentinel errors the decoders wrap; test with errors.Is. The wrapping
// message names the offending field and value.
var (
	// ErrNotJSON: the frame is not valid UTF-8 JSON.
	ErrNotJSON = errors.New("frame is not valid UTF-8 JSON")
	// ErrNotObject: the frame, or a part that must be one, is not a JSON object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrMissingScope: an envelope without "scope" (a 2.2.1 flat frame looks
	// like this; decode those with DecodeLegacy).
	ErrMissingScope = errors.New(`missing "scope"`)
	// ErrUnknownScope: "scope" is neither "application" nor "runtime".
	ErrUnknownScope = errors.New("unknown scope")
	// ErrMissingType: no non-empty string "type" where one is required.
	ErrMissingType = errors.New(`missing "type"`)
	// ErrDataNotObject: a "data" that must be a JSON object is not one.
	ErrDataNotObject = errors.New(`"data" is not a JSON object`)
	// ErrBadUploads: "uploads" is malformed or appears outside a command.
	ErrBadUploads = errors.New(`bad "uploads"`)
	// ErrBadControl: a control-channel frame breaks the v0 control shape.
	ErrBadControl = errors.New("bad control frame")
)
