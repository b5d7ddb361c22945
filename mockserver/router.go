package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// routeGroup decides which cross-cutting checks a route gets.
type routeGroup int

const (
	groupTokens      routeGroup = iota // API key checked by the handler
	groupCoordinator                   // API version + bearer JWT
	groupTransport                     // WebRTC version + bearer JWT (none for the local session id)
	groupLegacy                        // pre-overhaul routes: 426 in the current profile
	groupUploadPut                     // presigned: signature instead of a bearer
	groupLocal                         // local runtime: no auth, no versions
)

// reqCtx carries what the middleware learned about a request to its handler
// and back to the journal.
type reqCtx struct {
	route     string
	group     routeGroup
	claims    *claims
	sessionID string
	fault     string
}

// handlerFunc is the shape of every protocol handler. A handler writes its
// success itself and returns an *apiError for the failure paths.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError

// handle registers a protocol route. pattern is "METHOD /path" and is also
// the route name faults and the journal use.
func (s *Server) handle(pattern string, g routeGroup, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.serveRoute(w, r, pattern, g, h)
	})
}

// ServeHTTP dispatches to the registered routes and turns the mux's own
// plain-text 404/405 into the platform's JSON error shape.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, done := s.applyCORS(w, r)
	if done {
		return
	}
	if e := checkRequestLimits(r); e != nil {
		drainBody(w, r)
		writeErr(w, e)
		// Neither the target nor the headers are kept: they are what was
		// too large.
		path := r.URL.Path
		if len(path) > 256 {
			path = path[:256] + "…"
		}
		s.journal.Add(Entry{Method: r.Method, Path: path, Status: e.Status, Auth: authKind(r), Detail: e.Detail})
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		// Only the mux's own ServeHTTP fills in path values ({id}).
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	e := errf(rec.Code, "no route %s %s", r.Method, r.URL.Path)
	if rec.Code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.Header().Get("Allow"))
		e.Detail = fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.Header().Get("Allow"))
	}
	sw := &statusWriter{ResponseWriter: w}
	writeErr(sw, e)
	s.journal.Add(Entry{Method: r.Method, Path: r.URL.Path, Query: redactQuery(r.URL.RawQuery),
		Status: sw.status, Headers: redactHeaders(r.Header), Auth: authKind(r), Detail: e.Detail, CORS: corsNote(r.Context())})
}

// serveRoute runs the middleware chain: journal, recover, faults, version
// negotiation, authentication, then the handler.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, route string, g routeGroup, h handlerFunc) {
	start := time.Now()
	rc := &reqCtx{route: route, group: g, sessionID: r.PathValue("id")}
	sw := &statusWriter{ResponseWriter: w}
	entry := Entry{Method: r.Method, Path: r.URL.Path, Query: redactQuery(r.URL.RawQuery), Route: route,
		Headers: redactHeaders(r.Header), Auth: authKind(r), CORS: corsNote(r.Context()), at: start}
	var bodyErr *apiError
	if g != groupUploadPut {
		bodyErr = captureBody(w, r, &entry)
	} else {
		entry.BodyBytes = int(r.ContentLength)
	}
	defer func() {
		if p := recover(); p != nil {
			// A panic is a mock bug; answer 500 so it is visible, never crash.
			writeErr(sw, errf(http.StatusInternalServerError, "mock internal error: %v", p))
			entry.Detail = fmt.Sprint("panic: ", p)
		}
		entry.Status, entry.DurationMS = sw.status, float64(time.Since(start).Microseconds())/1000
		entry.SessionID, entry.Fault = rc.sessionID, rc.fault
		if rc.claims != nil {
			entry.TokenID = rc.claims.TokenID
		}
		if entry.Detail == "" {
			entry.Detail = sw.detail
		}
		s.journal.Add(entry)
		s.metrics.observe(route, entry.Status, time.Since(start))
	}()
	if bodyErr != nil {
		writeErr(sw, bodyErr)
		return
	}
	if e := s.runChain(sw, r, rc, h); e != nil {
		writeErr(sw, e)
	}
}

func (s *Server) runChain(w http.ResponseWriter, r *http.Request, rc *reqCtx, h handlerFunc) *apiError {
	if e := s.faults.apply(r.Context(), s.scn(), rc); e != nil {
		return e
	}
	if rc.group == groupLegacy && s.scn().Profile != ProfileLegacy {
		return &apiError{Status: http.StatusUpgradeRequired, Detail: "CLIENT_VERSION_TOO_OLD: " + rc.route +
			" belongs to the pre-overhaul protocol this server no longer serves; upgrade the SDK to a version that creates sessions with client_info and signals under /sessions/{id}/transport/webrtc"}
	}
	local := rc.group == groupLocal || (rc.group == groupTransport && rc.sessionID == wire.LocalSessionID)
	if !local {
		if e := s.negotiateVersion(r, rc.group); e != nil {
			return e
		}
		if rc.group == groupCoordinator || rc.group == groupTransport || rc.group == groupLegacy {
			c, e := s.tokens.authenticate(r)
			if e != nil {
				return e
			}
			rc.claims = c
		}
	}
	return h(w, r, rc)
}

// captureBody reads a body for the journal and puts it back for the
// handler; an oversized body is refused with 413 before any handler runs.
func captureBody(w http.ResponseWriter, r *http.Request, e *Entry) *apiError {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	raw, ae := readBody(w, r, maxJSONBody)
	if ae != nil {
		e.BodyBytes = int(r.ContentLength)
		return ae
	}
	r.Body = readCloser{bytes.NewReader(raw)}
	e.journalBody(raw)
	return nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// redactQuery hides presigned signatures.
func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok && (k == "sig" || k == "signature") {
			parts[i] = k + "=[redacted]"
		}
	}
	return strings.Join(parts, "&")
}

// statusWriter records the status and error detail written.
type statusWriter struct {
	http.ResponseWriter
	status int
	detail string
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && w.detail == "" {
		var eb wire.ErrorBody
		if json.Unmarshal(b, &eb) == nil {
			w.detail = eb.Detail
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// sleepCtx waits d or until ctx ends, reporting whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
