package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Browser access, PROTOCOL.md §1.0 and §9.7: the JS SDK runs in a page on
// the app's own origin and calls the coordinator, the signalling routes and
// the presigned upload URL cross-origin. The browser sends a preflight
// (OPTIONS + Access-Control-Request-Method) for each, because the calls
// carry Authorization, Reactor-* and JSON Content-Type headers; without an
// answer naming the origin, method and headers, fetch() fails before the
// request is sent. The platform's runtime allows any origin without
// credentials (auth is a header, never a cookie).

// corsOrigin is the page origin the cases pretend to be.
const corsOrigin = "http://app.cors-check.example:3000"

func init() {
	register(Case{ID: "cors/1", Section: "1.0", Check: corsCoordinatorPreflight,
		Requirement: "a preflight for POST /tokens and POST /sessions from a page origin, asking for the headers the SDKs send, MUST answer 2xx allowing that origin, the method and every requested header"})
	register(Case{ID: "cors/2", Section: "1.0", Check: corsTransportPreflight,
		Requirement: "a preflight for each WebRTC signalling call (ice_servers, connections, sdp_params POST/GET, ice_candidates) with Authorization and Reactor-WebRTC-Version MUST be allowed for the page origin"})
	register(Case{ID: "cors/3", Section: "1.2", Check: corsUploadPreflight,
		Requirement: "a preflight for PUT on a presigned upload URL with Content-Type MUST be allowed for the page origin, as object stores serve presigned PUTs"})
	register(Case{ID: "cors/4", Section: "1.0", Check: corsErrorReadable,
		Requirement: "an error answer (401 without Authorization) to a cross-origin POST /sessions MUST carry Access-Control-Allow-Origin, so the SDK sees the status instead of a network error"})
	register(Case{ID: "cors/5", Section: "1.0", Destructive: true, Check: corsConfiguredOrigins,
		Requirement: "with cors.allowed_origins set to one origin, a preflight from it MUST echo it with Vary: Origin, and one from another origin MUST get no Access-Control-Allow-Origin"})
	register(Case{ID: "cors/6", Section: "1.0", Destructive: true, Check: corsNotOnAdmin,
		Requirement: "the mock's /__admin/ routes MUST NOT answer CORS: a page of any origin must never steer the mock"})
}

// preflight sends OPTIONS for method on u as a browser does from origin.
func (r *Run) preflight(ctx context.Context, u, origin, method string, headers ...string) (*Resp, error) {
	h := http.Header{}
	h.Set("Origin", origin)
	h.Set("Access-Control-Request-Method", method)
	if len(headers) > 0 {
		h.Set("Access-Control-Request-Headers", strings.ToLower(strings.Join(headers, ",")))
	}
	return r.send(ctx, http.MethodOptions, u, h, nil)
}

// wantPreflightAllowed checks a preflight answer the way Chromium does.
func wantPreflightAllowed(resp *Resp, origin, method string, headers []string) error {
	if resp.Status/100 != 2 {
		return fail(resp, "a browser refuses the call when its preflight is not answered 2xx; got %s", statusName(resp.Status))
	}
	var p problems
	if ao := resp.Header.Get("Access-Control-Allow-Origin"); ao != "*" && ao != origin {
		p.add("Access-Control-Allow-Origin is %q, want %q or *", ao, origin)
	}
	if am := resp.Header.Get("Access-Control-Allow-Methods"); !listHas(am, method) && am != "*" {
		p.add("Access-Control-Allow-Methods %q does not include %s", am, method)
	}
	ah := resp.Header.Get("Access-Control-Allow-Headers")
	for _, h := range headers {
		// "*" never covers Authorization (Fetch standard).
		if !listHas(ah, h) && (ah != "*" || strings.EqualFold(h, wire.HeaderAuthorization)) {
			p.add("Access-Control-Allow-Headers %q does not allow %s", ah, h)
		}
	}
	return p.err(resp, "the preflight answer would make the browser block the call")
}

// listHas reports whether a comma-separated header value lists v (any case).
func listHas(list, v string) bool {
	for _, it := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(it), v) {
			return true
		}
	}
	return false
}

type preflightCall struct {
	path, method string
	headers      []string
}

func (r *Run) preflightAll(ctx context.Context, calls []preflightCall) error {
	for _, c := range calls {
		resp, err := r.preflight(ctx, c.path, corsOrigin, c.method, c.headers...)
		if err != nil {
			return err
		}
		if err := wantPreflightAllowed(resp, corsOrigin, c.method, c.headers); err != nil {
			return fmt.Errorf("preflight for %s %s: %w", c.method, c.path, err)
		}
	}
	return nil
}

var coordHeaders = []string{wire.HeaderAuthorization, wire.HeaderContentType, wire.HeaderAPIVersion, wire.HeaderAPIAcceptVersion}

func corsCoordinatorPreflight(ctx context.Context, r *Run) error {
	return r.preflightAll(ctx, []preflightCall{
		{wire.PathTokens, http.MethodPost, []string{wire.HeaderAPIKey, wire.HeaderContentType}},
		{"/sessions", http.MethodPost, coordHeaders},
	})
}

func corsTransportPreflight(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	tb := wire.SessionPath(sr.SessionID) + "/transport/webrtc"
	th := []string{wire.HeaderAuthorization, wire.HeaderWebRTCVersion}
	jh := append([]string{wire.HeaderContentType}, th...)
	return r.preflightAll(ctx, []preflightCall{
		{tb + "/ice_servers", http.MethodGet, th},
		{tb + "/connections", http.MethodPost, th},
		{tb + "/connections/1002/sdp_params", http.MethodPost, jh},
		{tb + "/connections/1002/sdp_params", http.MethodGet, th},
		{tb + "/connections/1002/ice_candidates", http.MethodPost, jh},
	})
}

func corsUploadPreflight(ctx context.Context, r *Run) error {
	_, up, err := r.uploadFixture(ctx, 64)
	if err != nil {
		return err
	}
	return r.preflightAll(ctx, []preflightCall{{up.PresignedURL, http.MethodPut, []string{wire.HeaderContentType}}})
}

func corsErrorReadable(ctx context.Context, r *Run) error {
	h := apiHeaders()
	h.Set("Origin", corsOrigin)
	resp, err := r.send(ctx, http.MethodPost, "/sessions", h, r.createBody())
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusUnauthorized, http.StatusForbidden); err != nil {
		return err
	}
	if ao := resp.Header.Get("Access-Control-Allow-Origin"); ao != "*" && ao != corsOrigin {
		return fail(resp, "the error answer has Access-Control-Allow-Origin %q; a browser hides its status from the SDK", ao)
	}
	return nil
}

func corsConfiguredOrigins(ctx context.Context, r *Run) error {
	const other = "http://other.cors-check.example"
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) { sc.CORS.AllowedOrigins = []string{corsOrigin} }); err != nil {
		return err
	}
	ok, err := r.preflight(ctx, "/sessions", corsOrigin, http.MethodPost, coordHeaders...)
	if err != nil {
		return err
	}
	if err := wantPreflightAllowed(ok, corsOrigin, http.MethodPost, coordHeaders); err != nil {
		return err
	}
	if ao := ok.Header.Get("Access-Control-Allow-Origin"); ao != corsOrigin || !listHas(ok.Header.Get("Vary"), "Origin") {
		return fail(ok, "a listed origin must be echoed (got %q) with Vary: Origin (got %q)", ao, ok.Header.Get("Vary"))
	}
	bad, err := r.preflight(ctx, "/sessions", other, http.MethodPost, coordHeaders...)
	if err != nil {
		return err
	}
	if ao := bad.Header.Get("Access-Control-Allow-Origin"); ao != "" {
		return fail(bad, "an origin outside cors.allowed_origins got Access-Control-Allow-Origin %q", ao)
	}
	return nil
}

func corsNotOnAdmin(ctx context.Context, r *Run) error {
	if !r.T.Admin {
		return errNoAdmin
	}
	for _, method := range []string{http.MethodGet, http.MethodPut} {
		resp, err := r.preflight(ctx, "/__admin/scenario", corsOrigin, method, wire.HeaderContentType)
		if err != nil {
			return err
		}
		if ao := resp.Header.Get("Access-Control-Allow-Origin"); ao != "" {
			return fail(resp, "an admin preflight for %s answered Access-Control-Allow-Origin %q", method, ao)
		}
	}
	return nil
}
