package server

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// The pre-overhaul protocol (JS SDK 2.2.1), PROTOCOL.md §1.2 "Legacy
// coordinator endpoints": the current profile refuses it with 426 so that
// old SDKs fail with CLIENT_VERSION_TOO_OLD instead of misbehaving; the
// mock's legacy profile serves it as it used to work.

func init() {
	register(Case{ID: "legacy/1", Section: "1.2", Check: legacyCreateRefused,
		Requirement: "a POST /sessions body carrying sdp_offer (the 2.2.1 shape) MUST be answered 426 by a current server, even with current headers"})
	register(Case{ID: "legacy/2", Section: "1.2", Check: legacyRouteRefused(http.MethodGet, "/sdp_params", nil),
		Requirement: "GET /sessions/{id}/sdp_params (2.2.1 answer poll) MUST be answered 426 by a current server"})
	register(Case{ID: "legacy/3", Section: "1.2", Check: legacyRouteRefused(http.MethodPut, "/sdp_params", wire.LegacySDPOffer{SDPOffer: "v=0\r\n", ExtraArgs: map[string]any{}}),
		Requirement: "PUT /sessions/{id}/sdp_params (2.2.1 reconnect) MUST be answered 426 by a current server"})
	register(Case{ID: "legacy/4", Section: "1.2", Check: legacyIceServersRefused,
		Requirement: "GET /ice_servers?model= (2.2.1) MUST be answered 426 by a current server"})
	register(Case{ID: "legacy/5", Section: "1.1", Destructive: true, Check: legacyToken,
		Requirement: "in the legacy profile, GET /tokens with X-API-Key MUST answer 200 {jwt} and the jwt MUST authenticate"})
	register(Case{ID: "legacy/6", Section: "1.2", Destructive: true, Check: legacyCreate,
		Requirement: "in the legacy profile, POST /sessions {model, sdp_offer, extra_args} without version headers MUST answer 2xx {session_id} with a UUID v4 id"})
	register(Case{ID: "legacy/7", Section: "1.2", Destructive: true, Check: legacyIceServers,
		Requirement: "in the legacy profile, GET /ice_servers?model= MUST answer 200 {ice_servers: [{uris: [...]}...]}"})
	register(Case{ID: "legacy/8", Section: "1.2", Destructive: true, Check: legacySDPPoll,
		Requirement: "in the legacy profile, GET /sessions/{id}/sdp_params MUST answer only 202 (pending) or 200 {sdp_answer}, and PUT a new offer 200 or 202"})
	register(Case{ID: "legacy/9", Section: "1.2", Destructive: true, Check: legacyServesCurrent,
		Requirement: "the legacy profile MUST still serve current SDKs: POST /sessions with the current body and headers answers 201"})
	register(Case{ID: "legacy/10", Section: "1.2", Destructive: true, Check: legacySDPAnswered,
		Requirement: "in the legacy profile, GET /sessions/{id}/sdp_params MUST eventually answer 200 with an SDP answer to the offer sent at creation"})
}

func legacyBody(model, offer string) wire.LegacyCreateSessionRequest {
	return wire.LegacyCreateSessionRequest{Model: wire.ModelRef{Name: model}, SDPOffer: offer, ExtraArgs: map[string]any{}}
}

func legacyCreateRefused(ctx context.Context, r *Run) error {
	offer, err := makeOffer(ctx)
	if err != nil {
		return err
	}
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), legacyBody(r.T.Model, offer))
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusUpgradeRequired)
}

func legacyRouteRefused(method, suffix string, body any) Check {
	return func(ctx context.Context, r *Run) error {
		sr, _, err := r.CreateSession(ctx)
		if err != nil {
			return err
		}
		resp, err := r.coord(ctx, method, wire.SessionPath(sr.SessionID)+suffix, body)
		if err != nil {
			return err
		}
		return wantStatus(resp, http.StatusUpgradeRequired)
	}
}

func legacyIceServersRefused(ctx context.Context, r *Run) error {
	resp, err := r.coord(ctx, http.MethodGet, "/ice_servers?model="+r.T.Model, nil)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusUpgradeRequired)
}

func (r *Run) legacyProfile(ctx context.Context) error {
	return r.MutateScenario(ctx, func(sc *mockserver.Scenario) { sc.Profile = mockserver.ProfileLegacy })
}

// legacyJWT mints a token the 2.2.1 way.
func (r *Run) legacyJWT(ctx context.Context) (string, *Resp, error) {
	h := http.Header{}
	h.Set(wire.HeaderLegacyAPIKey, r.T.APIKey)
	resp, err := r.send(ctx, http.MethodGet, wire.PathTokens, h, nil)
	if err != nil {
		return "", nil, err
	}
	if err := wantStatus(resp, http.StatusOK); err != nil {
		return "", resp, err
	}
	var tr wire.LegacyTokenResponse
	if err := resp.JSON(&tr); err != nil {
		return "", resp, err
	}
	if tr.JWT == "" {
		return "", resp, fail(resp, "the body has no non-empty \"jwt\"")
	}
	return tr.JWT, resp, nil
}

func legacyToken(ctx context.Context, r *Run) error {
	if err := r.legacyProfile(ctx); err != nil {
		return err
	}
	jwt, _, err := r.legacyJWT(ctx)
	if err != nil {
		return err
	}
	resp, err := r.authProbe(ctx, bearer(jwt))
	if err != nil {
		return err
	}
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
		return fail(resp, "the JWT from GET /tokens must authenticate coordinator calls, received %s", statusName(resp.Status))
	}
	return nil
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// legacySession creates a session the 2.2.1 way and returns its id.
func (r *Run) legacySession(ctx context.Context) (string, *Resp, error) {
	offer, err := makeOffer(ctx)
	if err != nil {
		return "", nil, err
	}
	jwt, _, err := r.legacyJWT(ctx)
	if err != nil {
		return "", nil, err
	}
	resp, err := r.postSession(ctx, withBearer(http.Header{}, jwt), legacyBody(r.T.Model, offer))
	if err != nil {
		return "", nil, err
	}
	if err := want2xx(resp, http.StatusOK); err != nil {
		return "", resp, err
	}
	var body wire.LegacyCreateSessionResponse
	if err := resp.JSON(&body); err != nil {
		return "", resp, err
	}
	if !uuidV4.MatchString(body.SessionID) {
		return "", resp, fail(resp, "session_id %q is not a lowercase UUID v4 (JS 2.2.1 validates it with z.uuidv4())", body.SessionID)
	}
	return body.SessionID, resp, nil
}

func legacyCreate(ctx context.Context, r *Run) error {
	if err := r.legacyProfile(ctx); err != nil {
		return err
	}
	_, _, err := r.legacySession(ctx)
	return err
}

func legacyIceServers(ctx context.Context, r *Run) error {
	if err := r.legacyProfile(ctx); err != nil {
		return err
	}
	jwt, _, err := r.legacyJWT(ctx)
	if err != nil {
		return err
	}
	resp, err := r.send(ctx, http.MethodGet, "/ice_servers?model="+r.T.Model, withBearer(http.Header{}, jwt), nil)
	if err != nil {
		return err
	}
	m, err := wantObject(resp, http.StatusOK)
	if err != nil {
		return err
	}
	var p problems
	list, ok := m["ice_servers"].([]any)
	if !ok {
		p.add("\"ice_servers\" must be an array, got %s", jsonOf(m["ice_servers"]))
	}
	for i, sAny := range list {
		s, ok := sAny.(map[string]any)
		if !ok {
			p.add("ice_servers[%d] must be an object", i)
			continue
		}
		if uris, ok := s["uris"].([]any); !ok || len(uris) == 0 {
			p.add("ice_servers[%d].uris must be a non-empty array, got %s", i, jsonOf(s["uris"]))
		}
	}
	return p.err(resp, "the ICE server list does not have the 2.2.1 shape")
}

// legacyAuthedSession is the setup of the 2.2.1 SDP cases: the 2.2.1
// profile, a session created the 2.2.1 way, and headers bearing a 2.2.1 JWT.
func (r *Run) legacyAuthedSession(ctx context.Context) (string, http.Header, error) {
	if err := r.legacyProfile(ctx); err != nil {
		return "", nil, err
	}
	id, _, err := r.legacySession(ctx)
	if err != nil {
		return "", nil, err
	}
	jwt, _, err := r.legacyJWT(ctx)
	if err != nil {
		return "", nil, err
	}
	return id, withBearer(http.Header{}, jwt), nil
}

// wantLegacyAnswer checks a 200 of GET /sessions/{id}/sdp_params: a body
// whose sdp_answer is an SDP answer.
func wantLegacyAnswer(resp *Resp) error {
	var body wire.LegacySDPParams
	if err := resp.JSON(&body); err != nil {
		return err
	}
	if !strings.HasPrefix(body.SDPAnswer, "v=0") {
		return fail(resp, "sdp_answer must be an SDP answer (starting \"v=0\"), got %q", firstLine(body.SDPAnswer))
	}
	return nil
}

func legacySDPPoll(ctx context.Context, r *Run) error {
	id, h, err := r.legacyAuthedSession(ctx)
	if err != nil {
		return err
	}
	// A bounded poll: the mock answers 202 until its WebRTC plane can answer.
	for i := 0; i < 8; i++ {
		resp, err := r.send(ctx, http.MethodGet, wire.SessionPath(id)+"/sdp_params", h, nil)
		if err != nil {
			return err
		}
		if resp.Status == http.StatusOK {
			if err := wantLegacyAnswer(resp); err != nil {
				return err
			}
			break
		}
		if err := wantStatus(resp, http.StatusAccepted); err != nil {
			return fmt.Errorf("JS 2.2.1 throws on anything but 200 or 202 here: %w", err)
		}
		if err := sleep(ctx, 100*time.Millisecond<<min(i, 3)); err != nil {
			return err
		}
	}
	offer, err := makeOffer(ctx)
	if err != nil {
		return err
	}
	put, err := r.send(ctx, http.MethodPut, wire.SessionPath(id)+"/sdp_params", h, wire.LegacySDPOffer{SDPOffer: offer, ExtraArgs: map[string]any{}})
	if err != nil {
		return err
	}
	if err := wantStatus(put, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("the 2.2.1 reconnect accepts only 200 (answer) or 202 (poll): %w", err)
	}
	return nil
}

func legacyServesCurrent(ctx context.Context, r *Run) error {
	if err := r.legacyProfile(ctx); err != nil {
		return err
	}
	resp, err := r.createRaw(ctx)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusCreated)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 80 {
		line = line[:80] + "…"
	}
	return line
}

// makeOffer builds a real SDP offer (one recvonly video m-section and a
// data channel) with pion on loopback, so that a server which answers
// offers can answer it. Gathering is bounded.
func makeOffer(ctx context.Context) (string, error) {
	k, err := newOfferKit(ctx, &wire.Capabilities{Tracks: []wire.TrackSpec{{Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}}})
	if err != nil {
		return "", err
	}
	defer k.Close()
	return k.sdp, nil
}

func legacySDPAnswered(ctx context.Context, r *Run) error {
	id, h, err := r.legacyAuthedSession(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for delay := 100 * time.Millisecond; ; delay = min(delay*2, time.Second) {
		resp, err := r.send(ctx, http.MethodGet, wire.SessionPath(id)+"/sdp_params", h, nil)
		if err != nil {
			return err
		}
		if resp.Status == http.StatusOK {
			return wantLegacyAnswer(resp)
		}
		if err := wantStatus(resp, http.StatusAccepted); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fail(resp, "no SDP answer after polling GET /sessions/{id}/sdp_params for 15 s")
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}
