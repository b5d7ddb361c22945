package mockserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Request limits (README "Limits"). Each answers with the platform's
// {"detail"} body; the numbers are the mock's own (the platform documents
// none), chosen above anything an SDK sends.
const (
	// maxJSONBody bounds every JSON request body; larger bodies get 413.
	maxJSONBody = 1 << 20
	// maxURLBytes bounds the request target (path and query): 414.
	maxURLBytes = 8 << 10
	// maxHeaderBytes bounds the request's header fields, names and values
	// together: 431. Beyond serverMaxHeaderBytes the Go server refuses the
	// request itself (plain-text 431) before the mock sees it.
	maxHeaderBytes       = 32 << 10
	serverMaxHeaderBytes = 1 << 20
	// maxDrain is how much of a refused body the mock still reads and
	// discards, within drainTimeout, so that a client that is still
	// sending gets to read the error instead of a connection reset (a
	// server that closes with unread bytes in its receive buffer sends RST,
	// and the client's kernel then discards the response it had received).
	maxDrain     = 64 << 20
	drainTimeout = 10 * time.Second
)

// apiError is a client-visible failure: a status and the platform's
// {"detail": ...} body, optionally with Retry-After.
type apiError struct {
	Status     int
	Detail     string
	RetryAfter int  // seconds; 0 = no header
	Close      bool // answer with Connection: close (the body was not read whole)
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
	if e.Close {
		w.Header().Set("Connection", "close")
	}
	writeJSON(w, e.Status, wire.ErrorBody{Detail: e.Detail})
}

// decodeBody reads an optional JSON body into v. It reports whether a body
// was present: an empty body and the literal null both count as absent.
// Malformed JSON is 400, a well-formed body of the wrong shape or with a
// key v's type does not name (strict.go) is 422 (the platform's FastAPI
// convention), an oversized body is 413.
func decodeBody(r *http.Request, v any) (present bool, e *apiError) {
	raw, e := readBody(nil, r, maxJSONBody)
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
	if e := strictUnknown(raw, v); e != nil {
		return true, e
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, shapeError(err)
	}
	return true, nil
}

// readBody reads at most limit bytes; more is 413, after draining the rest
// (see maxDrain). w, when not nil, bounds the drain in time.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	if r.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Detail: fmt.Sprintf("could not read request body: %v", err), Close: true}
	}
	if int64(len(raw)) > limit {
		drainBody(w, r)
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Close: true,
			Detail: fmt.Sprintf("request body exceeds the limit of %d bytes", limit)}
	}
	return raw, nil
}

// drainBody reads and discards what is left of a body the mock refuses, up
// to maxDrain bytes within drainTimeout, so the client can finish sending
// and read the answer. Past either bound the connection is closed.
func drainBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	if w != nil {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(drainTimeout)) == nil {
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	_, _ = io.CopyN(io.Discard, r.Body, maxDrain)
}

// checkRequestLimits refuses an over-long request target (414) or header
// block (431) before any route runs.
func checkRequestLimits(r *http.Request) *apiError {
	if n := len(r.RequestURI); n > maxURLBytes {
		return &apiError{Status: http.StatusRequestURITooLong, Close: true,
			Detail: fmt.Sprintf("request target is %d bytes; the limit is %d", n, maxURLBytes)}
	}
	n := len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	if n > maxHeaderBytes {
		return &apiError{Status: http.StatusRequestHeaderFieldsTooLarge, Close: true,
			Detail: fmt.Sprintf("request header fields total %d bytes; the limit is %d", n, maxHeaderBytes)}
	}
	return nil
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
