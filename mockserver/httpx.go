package mockserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reactor-harness/reactor-harness/wire"
)

// maxJSONBody bounds every JSON request body; larger bodies get 413.
const maxJSONBody = 1 << 20

// apiError is a client-visible failure: a status and the platform's
// {"detail": ...} body, optionally with Retry-After.
type apiError struct {
	Status     int
	Detail     string
	RetryAfter int // seconds; 0 = no header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Detail) }

func errf(status int, format string, a ...any) *apiError {
	return &apiError{Status: status, Detail: fmt.Sprintf(format, a...)}
}

// writeJSON writes v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set(wire.HeaderContentType, wire.ContentTypeJSON)
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// writeErr writes an apiError as {"detail": ...}.
func writeErr(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set(wire.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, wire.ErrorBody{Detail: e.Detail})
}

// decodeBody reads an optional JSON body into v. It reports whether a body
// was present: an empty body and the literal null both count as absent.
// Malformed JSON is 400, a well-formed body of the wrong shape is 422 (the
// platform's FastAPI convention), an oversized body is 413.
func decodeBody(r *http.Request, v any) (present bool, e *apiError) {
	raw, e := readBody(r, maxJSONBody)
	if e != nil {
		return false, e
	}
	trimmed := strings.TrimSpace(string(raw))
	if trimmed == "" || trimmed == "null" {
		return false, nil
	}
	if !json.Valid(raw) {
		return false, errf(http.StatusBadRequest, "malformed JSON body")
	}
	if !utf8.Valid(raw) {
		// JSON text is UTF-8 (RFC 8259 §8.1); Go's decoder would silently
		// turn the bad bytes into U+FFFD, FastAPI refuses them with 400.
		return false, errf(http.StatusBadRequest, "JSON body is not valid UTF-8")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, shapeError(err)
	}
	return true, nil
}

// readBody reads at most limit bytes; more is 413.
func readBody(r *http.Request, limit int64) ([]byte, *apiError) {
	if r.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errf(http.StatusBadRequest, "could not read request body: %v", err)
	}
	if int64(len(raw)) > limit {
		return nil, errf(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", limit)
	}
	return raw, nil
}

// shapeError turns a json type error into a 422 naming the field.
func shapeError(err error) *apiError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return errf(http.StatusUnprocessableEntity, "%s: expected %s, got JSON %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return errf(http.StatusUnprocessableEntity, "body does not match the expected shape: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	case "ptr":
		return "an object"
	}
	return "a number"
}
