package mockserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// CORS: browser apps call the coordinator, the signalling routes and the
// presigned upload URL from their own origin. The platform's runtime allows
// any origin (auth rides the Authorization header, never a cookie, so no
// credentialed CORS), and object stores answer presigned PUTs with CORS; the
// mock does the same on every protocol route and never on /__admin/.

// CORSPolicy says which browser origins may call the mock.
type CORSPolicy struct {
	// AllowedOrigins are exact origins ("http://localhost:3000") or "*".
	// Default ["*"]: any page may call, as the platform runtime allows.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// AllowedHeaders are request headers allowed beyond the protocol's own
	// (Authorization, Content-Type, Reactor-*); "*" allows any.
	AllowedHeaders []string `json:"allowed_headers,omitempty"`
}

// corsMaxAge is how long a browser may cache a preflight answer (seconds).
const corsMaxAge = "600"

// corsProtocolHeaders are the request headers the SDKs send (PROTOCOL.md §1.0, §1.1).
var corsProtocolHeaders = []string{
	wire.HeaderAuthorization, wire.HeaderContentType, wire.HeaderAPIKey, wire.HeaderLegacyAPIKey,
	wire.HeaderAPIVersion, wire.HeaderAPIAcceptVersion, wire.HeaderWebRTCVersion,
}

// corsExposed are the response headers clients read beyond the safelisted ones.
var corsExposed = []string{wire.HeaderRetryAfter, "Allow"}

var corsMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

func (p CORSPolicy) validate() error {
	for _, o := range p.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || strings.HasSuffix(o, "/") {
			return fmt.Errorf("cors.allowed_origins: %q is not an origin (scheme://host[:port], no path) or \"*\"", o)
		}
	}
	for _, h := range p.AllowedHeaders {
		if h != "*" && (h == "" || strings.ContainsAny(h, " ,:")) {
			return fmt.Errorf("cors.allowed_headers: %q is not a header name or \"*\"", h)
		}
	}
	return nil
}

// originAllowed reports whether origin may call, and the value to answer in
// Access-Control-Allow-Origin.
func (p CORSPolicy) originAllowed(origin string) (string, bool) {
	if len(p.AllowedOrigins) == 0 || slices.Contains(p.AllowedOrigins, "*") {
		return "*", true
	}
	for _, o := range p.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return origin, true
		}
	}
	return "", false
}

// headersAllowed returns the first requested header that is not allowed.
func (p CORSPolicy) headersAllowed(requested string) (string, bool) {
	if slices.Contains(p.AllowedHeaders, "*") {
		return "", true
	}
	for _, h := range strings.Split(requested, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		ok := slices.ContainsFunc(corsProtocolHeaders, func(a string) bool { return strings.EqualFold(a, h) }) ||
			slices.ContainsFunc(p.AllowedHeaders, func(a string) bool { return strings.EqualFold(a, h) })
		if !ok {
			return h, false
		}
	}
	return "", true
}

type corsKey struct{}

// corsNote is what the CORS layer tells the journal about a request.
func corsNote(ctx context.Context) string {
	v, _ := ctx.Value(corsKey{}).(string)
	return v
}

// applyCORS runs before routing. It answers a preflight itself (done =
// true) or, for an ordinary cross-origin request, adds the response headers
// and returns the request carrying a journal note.
func (s *Server) applyCORS(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" || strings.HasPrefix(r.URL.Path, "/__admin/") {
		return r, false
	}
	pol := s.scn().CORS
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		s.preflight(w, r, pol, origin)
		return r, true
	}
	w.Header().Add("Vary", "Origin")
	allow, ok := pol.originAllowed(origin)
	if !ok {
		return r.WithContext(context.WithValue(r.Context(), corsKey{}, "origin "+origin+" not allowed: no CORS headers sent")), false
	}
	w.Header().Set("Access-Control-Allow-Origin", allow)
	w.Header().Set("Access-Control-Expose-Headers", strings.Join(corsExposed, ", "))
	return r.WithContext(context.WithValue(r.Context(), corsKey{}, "allowed origin "+origin)), false
}

// preflight answers OPTIONS + Access-Control-Request-Method: 204 with the
// CORS headers when origin, method and headers are allowed; otherwise a
// JSON error without any CORS header, so the browser blocks the call.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, pol CORSPolicy, origin string) {
	sw := &statusWriter{ResponseWriter: w}
	method := r.Header.Get("Access-Control-Request-Method")
	reqHeaders := r.Header.Get("Access-Control-Request-Headers")
	entry := Entry{Method: r.Method, Path: r.URL.Path, Headers: redactHeaders(r.Header), Auth: authKind(r), at: s.now()}
	allowedMethods := s.routedMethods(r)
	w.Header().Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	allow, okOrigin := pol.originAllowed(origin)
	bad, okHeaders := pol.headersAllowed(reqHeaders)
	switch {
	case len(allowedMethods) == 0:
		writeErr(sw, errf(http.StatusNotFound, "no route %s (CORS preflight for %s)", r.URL.Path, method))
	case !okOrigin:
		writeErr(sw, errf(http.StatusForbidden, "CORS preflight refused: origin %s is not in the scenario's cors.allowed_origins", origin))
	case !slices.Contains(allowedMethods, method):
		writeErr(sw, errf(http.StatusMethodNotAllowed, "CORS preflight refused: method %s not allowed on %s (allowed: %s)", method, r.URL.Path, strings.Join(allowedMethods, ", ")))
	case !okHeaders:
		writeErr(sw, errf(http.StatusForbidden, "CORS preflight refused: request header %s is not one the protocol uses nor in the scenario's cors.allowed_headers", bad))
	default:
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Allow-Methods", strings.Join(allowedMethods, ", "))
		if reqHeaders != "" {
			// Echoed: "*" would not cover Authorization (Fetch standard).
			h.Set("Access-Control-Allow-Headers", reqHeaders)
		}
		h.Set("Access-Control-Max-Age", corsMaxAge)
		if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
			// Chromium asks before a page on a public origin reaches a
			// loopback mock (Private Network Access).
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		sw.WriteHeader(http.StatusNoContent)
		entry.Detail = "CORS preflight allowed for " + method + " from " + origin
	}
	entry.Status = sw.status
	if entry.Detail == "" {
		entry.Detail = sw.detail
	}
	entry.CORS = "preflight " + method + " from " + origin
	s.journal.Add(entry)
}

// routedMethods lists the methods a protocol route serves on r's path.
func (s *Server) routedMethods(r *http.Request) []string {
	var out []string
	for _, m := range corsMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && !strings.Contains(pattern, "/__admin/") {
			out = append(out, m)
		}
	}
	return out
}
