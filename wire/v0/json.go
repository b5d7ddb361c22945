package wirev0

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// emptyObject is what an absent payload encodes as: the shipped clients
// always send "data": {} rather than leaving it out.
var emptyObject = json.RawMessage(`{}`)

// parseObject decodes a whole frame that must be one JSON object into its
// raw members. Keys match exactly (encoding/json's struct matching would be
// case-insensitive, which is laxer than any peer).
func parseObject(frame []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(frame) || !json.Valid(frame) {
		return nil, ErrNotJSON
	}
	return objectMembers(frame, "frame")
}

// objectMembers splits a valid JSON value that must be an object; what names
// the value in the error.
func objectMembers(raw json.RawMessage, what string) (map[string]json.RawMessage, error) {
	if !isObject(raw) {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotObject, what, kindOf(raw))
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotObject, what, err)
	}
	return members, nil
}

// isObject reports whether a valid JSON value is an object.
func isObject(raw json.RawMessage) bool {
	t := bytes.TrimLeft(raw, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// kindOf names a JSON value's kind for error messages.
func kindOf(raw json.RawMessage) string {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 {
		return "empty"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// stringMember returns members[key] as a string; ok is false when it is
// absent or not a string.
func stringMember(members map[string]json.RawMessage, key string) (s string, ok bool) {
	raw, present := members[key]
	// A JSON null would unmarshal into "" without error; only a string counts.
	if !present || !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte(`"`)) {
		return "", false
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// marshal encodes v without HTML escaping, so frames in journals and golden
// files read like the JSON the SDKs send.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// mustMarshal encodes values whose types (strings, numbers, nested structs
// of them, valid RawMessages) cannot fail to encode.
func mustMarshal(v any) []byte {
	b, err := marshal(v)
	if err != nil {
		panic("wirev0: cannot encode a fixed shape: " + err.Error())
	}
	return b
}

// payload encodes data as the "data" member: nil or empty raw bytes become
// {}, a json.RawMessage or []byte is used as is (after validation) and
// anything else is marshalled.
func payload(data any) (json.RawMessage, error) {
	var raw []byte
	switch d := data.(type) {
	case nil:
		return emptyObject, nil
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := marshal(d)
		if err != nil {
			return nil, fmt.Errorf("wirev0: encode data: %w", err)
		}
		raw = b
	}
	if len(raw) == 0 {
		return emptyObject, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("wirev0: data: %w", ErrNotJSON)
	}
	return raw, nil
}

// objectPayload is payload for places that require a JSON object.
func objectPayload(data any) (json.RawMessage, error) {
	raw, err := payload(data)
	if err != nil {
		return nil, err
	}
	if !isObject(raw) {
		return nil, fmt.Errorf("wirev0: %w: data is %s", ErrDataNotObject, kindOf(raw))
	}
	return raw, nil
}
