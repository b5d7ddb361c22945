package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Version negotiation and common conventions, PROTOCOL.md §1.0: a declared
// version below the accepted range is 426 (CLIENT_VERSION_TOO_OLD), above it
// 501 (SERVER_VERSION_TOO_OLD); errors carry {"detail": "..."}.

func init() {
	register(Case{ID: "version/1", Section: "1.0", Check: versionMissingHeaders,
		Requirement: "a coordinator call without Reactor-API-Version (a pre-overhaul SDK) MUST be answered 426 Upgrade Required"})
	register(Case{ID: "version/2", Section: "1.0", Check: versionAPI("0", http.StatusUpgradeRequired),
		Requirement: "a coordinator call declaring Reactor-API-Version 0, older than the server accepts, MUST be answered 426"})
	register(Case{ID: "version/3", Section: "1.0", Check: versionAPI("999", http.StatusNotImplemented),
		Requirement: "a coordinator call declaring Reactor-API-Version 999, newer than the server knows, MUST be answered 501"})
	register(Case{ID: "version/4", Section: "1.0", Check: versionCurrentAccepted,
		Requirement: "the headers current SDKs send (Reactor-API-Version: 1, Reactor-API-Accept-Version: 1) MUST be accepted on every coordinator route"})
	register(Case{ID: "version/5", Section: "1.0", Destructive: true, Check: versionRangeMoved,
		Requirement: "when the server's API range moves above 1, a current SDK's POST /sessions MUST get 426 rather than being served"})
	register(Case{ID: "version/6", Section: "1.0", Check: versionErrorBodies,
		Requirement: "error answers (401, 404, 426, 501) MUST carry the platform's JSON body {\"detail\": \"<string>\"}"})
	register(Case{ID: "version/7", Section: "1.0", Check: versionWebRTCMissing,
		Requirement: "a transport call without Reactor-WebRTC-Version MUST be answered 426"})
	register(Case{ID: "version/8", Section: "1.0", Check: versionWebRTCOutOfRange,
		Requirement: "a transport call declaring Reactor-WebRTC-Version 0.9 MUST be answered 426 and one declaring 99.0 MUST be answered 501"})
	register(Case{ID: "version/9", Section: "1.0", Destructive: true, Check: versionWebRTCRangeMoved,
		Requirement: "when the server's WebRTC range moves above 1.0, a current SDK's transport calls MUST get 426"})
}

func versionMissingHeaders(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	resp, err := r.postSession(ctx, withBearer(http.Header{}, jwt), r.createBody())
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusUpgradeRequired)
}

func versionAPI(declared string, want int) Check {
	return func(ctx context.Context, r *Run) error {
		jwt, err := r.Token(ctx)
		if err != nil {
			return err
		}
		h := withBearer(http.Header{}, jwt)
		h.Set(wire.HeaderAPIVersion, declared)
		h.Set(wire.HeaderAPIAcceptVersion, declared)
		resp, err := r.postSession(ctx, h, r.createBody())
		if err != nil {
			return err
		}
		return wantStatus(resp, want)
	}
}

func versionCurrentAccepted(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx) // POST /sessions with the current headers
	if err != nil {
		return err
	}
	id := sr.SessionID
	calls := []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, wire.SessionPath(id), nil},
		{http.MethodGet, wire.SessionPath(id) + "/info", nil},
		{http.MethodPost, wire.SessionPath(id) + "/uploads", wire.UploadRequest{Name: "v.txt", Size: 1, MimeType: "text/plain"}},
		{http.MethodDelete, wire.SessionPath(id), nil},
	}
	for _, c := range calls {
		resp, err := r.coord(ctx, c.method, c.path, c.body)
		if err != nil {
			return err
		}
		if resp.Status == http.StatusUpgradeRequired || resp.Status == http.StatusNotImplemented || resp.Status/100 != 2 {
			return fail(resp, "the current version headers must be served on %s %s, received %s", c.method, c.path, statusName(resp.Status))
		}
	}
	return nil
}

func versionRangeMoved(ctx context.Context, r *Run) error {
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Versions.APIMin, sc.Versions.APIMax = 2, 3
	}); err != nil {
		return err
	}
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), r.createBody())
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusUpgradeRequired); err != nil {
		return fmt.Errorf("with the accepted API range set to 2..3, version 1 is too old: %w", err)
	}
	return nil
}

func versionErrorBodies(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	type probe struct {
		what string
		do   func() (*Resp, error)
		want int
	}
	noVersion := withBearer(http.Header{}, jwt)
	tooNew := withBearer(http.Header{}, jwt)
	tooNew.Set(wire.HeaderAPIVersion, "999")
	probes := []probe{
		{"unauthenticated call", func() (*Resp, error) { return r.authProbe(ctx, nil) }, http.StatusUnauthorized},
		{"unknown session", func() (*Resp, error) { return r.coord(ctx, http.MethodGet, wire.SessionPath(randomUUID()), nil) }, http.StatusNotFound},
		{"missing version", func() (*Resp, error) {
			return r.send(ctx, http.MethodGet, wire.SessionPath(randomUUID()), noVersion, nil)
		}, http.StatusUpgradeRequired},
		{"version too new", func() (*Resp, error) {
			return r.send(ctx, http.MethodGet, wire.SessionPath(randomUUID()), tooNew, nil)
		}, http.StatusNotImplemented},
	}
	for _, p := range probes {
		resp, err := p.do()
		if err != nil {
			return err
		}
		if resp.Status/100 == 2 {
			return fail(resp, "setup: the %s probe was expected to fail with %s but succeeded", p.what, statusName(p.want))
		}
		if err := wantDetail(resp); err != nil {
			return fmt.Errorf("%s: %w", p.what, err)
		}
	}
	return nil
}

// webrtcProbe sends GET B/ice_servers for session sid with the API headers,
// the bearer and the given Reactor-WebRTC-Version (nil: none).
func (r *Run) webrtcProbe(ctx context.Context, sid string, version *string) (*Resp, error) {
	jwt, err := r.Token(ctx)
	if err != nil {
		return nil, err
	}
	h := withBearer(apiHeaders(), jwt)
	if version != nil {
		h.Set(wire.HeaderWebRTCVersion, *version)
	}
	return r.send(ctx, http.MethodGet, wire.TransportBase(sid)+"/ice_servers", h, nil)
}

func versionWebRTCMissing(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	resp, err := r.webrtcProbe(ctx, sr.SessionID, nil)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusUpgradeRequired)
}

func versionWebRTCOutOfRange(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	for _, c := range []struct {
		v    string
		want int
	}{{"0.9", http.StatusUpgradeRequired}, {"99.0", http.StatusNotImplemented}} {
		v := c.v
		resp, err := r.webrtcProbe(ctx, sr.SessionID, &v)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, c.want); err != nil {
			return fmt.Errorf("Reactor-WebRTC-Version %s: %w", c.v, err)
		}
	}
	return nil
}

func versionWebRTCRangeMoved(ctx context.Context, r *Run) error {
	// The session is created and ready first: with the range moved, its
	// supported_transports (webrtc 1.0) would no longer be selectable.
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Versions.WebRTCMin, sc.Versions.WebRTCMax = "2.0", "2.0"
	}); err != nil {
		return err
	}
	v := wire.CurrentWebRTCVersion
	resp, err := r.webrtcProbe(ctx, sr.SessionID, &v)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusUpgradeRequired); err != nil {
		return fmt.Errorf("with the accepted WebRTC range set to 2.0..2.0, version 1.0 is too old: %w", err)
	}
	return nil
}
