package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Coordinator session lifecycle, PROTOCOL.md §1.2 and §4: POST /sessions,
// GET /sessions/{id} until capabilities + selected_transport, /info, DELETE.

func init() {
	register(Case{ID: "session/1", Section: "1.2", Check: sessionCreateShape,
		Requirement: "POST /sessions with the current body MUST answer 201 with every field the JS SDK's schema requires: session_id, state, cluster, model.name, server_info.server_version"})
	register(Case{ID: "session/2", Section: "1.2", Check: sessionCreateEchoesModel,
		Requirement: "the create answer's model.name MUST name the model that was asked for"})
	register(Case{ID: "session/3", Section: "1.2", Check: sessionUnknownModel,
		Requirement: "POST /sessions for a model the server does not host MUST answer 404"})
	register(Case{ID: "session/4", Section: "1.2", Check: sessionMissingModel,
		Requirement: "POST /sessions without model.name MUST be refused as a client error (400 or 422), never 2xx or 5xx"})
	register(Case{ID: "session/5", Section: "1.2", Check: sessionPollReady,
		Requirement: "polling GET /sessions/{id} MUST reach a 200 body carrying both capabilities and selected_transport {protocol: webrtc, version: 1.0}"})
	register(Case{ID: "session/6", Section: "4", Check: sessionCapabilitiesShape,
		Requirement: "capabilities MUST list ≥1 track with a unique name, kind video|audio and direction recvonly|sendonly, and commands (if any) each with a name and a description string"})
	register(Case{ID: "session/7", Section: "1.2", Check: sessionFullBody,
		Requirement: "every GET /sessions/{id} body MUST still carry the slim fields (same session_id, state, cluster, model.name, server_info.server_version)"})
	register(Case{ID: "session/8", Section: "1.2", Check: sessionInfo,
		Requirement: "GET /sessions/{id}/info MUST answer 200 {session_id, state, cluster} for a live session"})
	register(Case{ID: "session/9", Section: "1.2", Check: sessionDelete,
		Requirement: "DELETE /sessions/{id} MUST answer 2xx, after which GET /sessions/{id} and /info answer 404"})
	register(Case{ID: "session/10", Section: "1.2", Check: sessionDeleteTwice,
		Requirement: "DELETE of an already deleted or never existing session MUST answer 404 (SDKs treat it as success), never another error"})
	register(Case{ID: "session/11", Section: "1.2", Check: sessionDeleteReason,
		Requirement: "DELETE /sessions/{id} with the optional JSON body {\"reason\": ...} MUST answer 2xx"})
	register(Case{ID: "session/12", Section: "1.2", Check: sessionUnknownID,
		Requirement: "GET /sessions/{id} for an id that never existed MUST answer 404"})
	register(Case{ID: "session/13", Section: "1.2", Check: sessionExtraArgs,
		Requirement: "POST /sessions with an extra_args object MUST be accepted like one without (201)"})
	register(Case{ID: "session/14", Section: "1.1", Check: sessionAdoption,
		Requirement: "an unscoped token of the same account MUST be able to poll a session another token created (session adoption)"})
}

// checkSlim verifies the fields the JS zod schema requires in a session
// body (PROTOCOL.md §1.2: missing cluster or server_info makes JS throw).
func checkSlim(p *problems, m map[string]any) {
	requireString(p, m, "session_id")
	requireString(p, m, "state")
	if v, ok := field(m, "cluster"); !ok {
		p.add("\"cluster\" is missing (JS 2.9+ throws on it)")
	} else if _, isStr := v.(string); !isStr {
		p.add("\"cluster\" must be a string, got %s", jsonOf(v))
	}
	requireString(p, m, "model.name")
	if v, ok := field(m, "server_info.server_version"); !ok {
		p.add("\"server_info.server_version\" is missing (JS 2.9+ throws on it)")
	} else if _, isStr := v.(string); !isStr {
		p.add("\"server_info.server_version\" must be a string, got %s", jsonOf(v))
	}
}

func sessionCreateShape(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), r.createBody())
	if err != nil {
		return err
	}
	m, err := wantObject(resp, http.StatusCreated)
	if err != nil {
		return err
	}
	var p problems
	checkSlim(&p, m)
	return p.err(resp, "the create answer lacks fields every JS SDK requires")
}

func sessionCreateEchoesModel(ctx context.Context, r *Run) error {
	sr, resp, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	if sr.Model.Name != r.T.Model {
		return fail(resp, "model.name is %q, expected the requested %q", sr.Model.Name, r.T.Model)
	}
	return nil
}

func sessionUnknownModel(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	body := r.createBody()
	body.Model = &wire.ModelRef{Name: "conformance-no-such-model-" + randHex(4)}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), body)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusNotFound)
}

func sessionMissingModel(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	body := r.createBody()
	body.Model = nil
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), body)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusBadRequest, http.StatusUnprocessableEntity)
}

func sessionPollReady(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	ready, resp, err := r.WaitReady(ctx, sr.SessionID)
	if err != nil {
		return err
	}
	want := wire.Transport{Protocol: wire.TransportProtocolWebRTC, Version: wire.CurrentWebRTCVersion}
	if *ready.SelectedTransport != want {
		return fail(resp, "selected_transport is %s, expected %s (the only transport the request offered)",
			jsonOf(ready.SelectedTransport), jsonOf(want))
	}
	return nil
}

func sessionCapabilitiesShape(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	_, resp, err := r.WaitReady(ctx, sr.SessionID)
	if err != nil {
		return err
	}
	m, err := resp.Object()
	if err != nil {
		return err
	}
	var p problems
	capsAny, _ := field(m, "capabilities")
	caps, ok := capsAny.(map[string]any)
	if !ok {
		return fail(resp, "capabilities must be a JSON object, got %s", jsonOf(capsAny))
	}
	checkCapabilities(&p, caps)
	return p.err(resp, "capabilities do not match the schema the SDKs parse (JS zod is strict about kind, direction and description)")
}

// checkCapabilities applies PROTOCOL.md §4 to a decoded capabilities object.
func checkCapabilities(p *problems, caps map[string]any) {
	tracks, ok := caps["tracks"].([]any)
	switch {
	case !ok:
		p.add("capabilities.tracks must be an array, got %s", jsonOf(caps["tracks"]))
	case len(tracks) == 0:
		p.add("capabilities.tracks is empty: a client cannot build an offer without tracks")
	}
	names := map[string]bool{}
	for i, tAny := range tracks {
		t, ok := tAny.(map[string]any)
		if !ok {
			p.add("tracks[%d] must be an object, got %s", i, jsonOf(tAny))
			continue
		}
		name := requireString(p, t, "name")
		if name != "" && names[name] {
			p.add("track name %q appears twice", name)
		}
		names[name] = true
		if k, _ := t["kind"].(string); k != "video" && k != "audio" {
			p.add("tracks[%d].kind is %s, must be \"video\" or \"audio\"", i, jsonOf(t["kind"]))
		}
		if d, _ := t["direction"].(string); d != wire.DirectionRecvOnly && d != wire.DirectionSendOnly {
			p.add("tracks[%d].direction is %s, must be \"recvonly\" or \"sendonly\" (client's perspective)", i, jsonOf(t["direction"]))
		}
	}
	if v, present := caps["commands"]; present && v != nil {
		cmds, ok := v.([]any)
		if !ok {
			p.add("capabilities.commands must be an array, got %s", jsonOf(v))
		}
		for i, cAny := range cmds {
			c, ok := cAny.(map[string]any)
			if !ok {
				p.add("commands[%d] must be an object, got %s", i, jsonOf(cAny))
				continue
			}
			requireString(p, c, "name")
			if d, present := c["description"]; !present {
				p.add("commands[%d] (%v) has no description (required by the JS SDK schema)", i, c["name"])
			} else if _, isStr := d.(string); !isStr {
				p.add("commands[%d].description must be a string, got %s", i, jsonOf(d))
			}
			if s, present := c["schema"]; present && s != nil {
				if _, isObj := s.(map[string]any); !isObj {
					p.add("commands[%d].schema must be a JSON Schema object, got %s", i, jsonOf(s))
				}
			}
		}
	}
	if v, present := caps["protocol_version"]; present && v != nil {
		if _, isStr := v.(string); !isStr {
			p.add("capabilities.protocol_version must be a string, got %s", jsonOf(v))
		}
	}
	if v, present := caps["emission_fps"]; present && v != nil {
		if f, isNum := v.(float64); !isNum || f <= 0 {
			p.add("capabilities.emission_fps must be a positive number or null, got %s", jsonOf(v))
		}
	}
}

func sessionFullBody(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	// Check a pending-phase poll and the ready body alike.
	first, err := r.coord(ctx, http.MethodGet, wire.SessionPath(sr.SessionID), nil)
	if err != nil {
		return err
	}
	if err := wantStatus(first, http.StatusOK); err != nil {
		return err
	}
	check := func(resp *Resp) error {
		m, err := resp.Object()
		if err != nil {
			return err
		}
		var p problems
		checkSlim(&p, m)
		if id, _ := m["session_id"].(string); id != sr.SessionID {
			p.add("session_id is %q, expected %q", id, sr.SessionID)
		}
		return p.err(resp, "a GET /sessions/{id} body lacks the slim fields")
	}
	if err := check(first); err != nil {
		return err
	}
	_, ready, err := r.WaitReady(ctx, sr.SessionID)
	if err != nil {
		return err
	}
	return check(ready)
}

func sessionInfo(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	resp, err := r.coord(ctx, http.MethodGet, wire.SessionPath(sr.SessionID)+"/info", nil)
	if err != nil {
		return err
	}
	m, err := wantObject(resp, http.StatusOK)
	if err != nil {
		return err
	}
	var p problems
	if id := requireString(&p, m, "session_id"); id != "" && id != sr.SessionID {
		p.add("session_id is %q, expected %q", id, sr.SessionID)
	}
	requireString(&p, m, "state")
	if v, ok := field(m, "cluster"); !ok {
		p.add("\"cluster\" is missing")
	} else if _, isStr := v.(string); !isStr {
		p.add("\"cluster\" must be a string, got %s", jsonOf(v))
	}
	return p.err(resp, "GET /sessions/{id}/info does not have the shape {session_id, state, cluster}")
}

func sessionDelete(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	del, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), nil)
	if err != nil {
		return err
	}
	if err := want2xx(del, http.StatusNoContent); err != nil {
		return err
	}
	for _, path := range []string{wire.SessionPath(sr.SessionID), wire.SessionPath(sr.SessionID) + "/info"} {
		resp, err := r.coord(ctx, http.MethodGet, path, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, http.StatusNotFound); err != nil {
			return fmt.Errorf("a deleted session must be gone: %w", err)
		}
	}
	return nil
}

func sessionDeleteTwice(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	first, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), nil)
	if err != nil {
		return err
	}
	if err := want2xx(first, http.StatusNoContent); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	for _, id := range []string{sr.SessionID, randomUUID()} {
		resp, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(id), nil)
		if err != nil {
			return err
		}
		if resp.Status != http.StatusNotFound && resp.Status/100 != 2 {
			return fail(resp, "expected 404 Not Found (or 2xx), received %s; SDKs clear their state on 404 but surface any other error from disconnect()", statusName(resp.Status))
		}
	}
	return nil
}

func sessionDeleteReason(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	resp, err := r.coord(ctx, http.MethodDelete, wire.SessionPath(sr.SessionID), wire.DeleteSessionRequest{Reason: "conformance suite: delete with a reason"})
	if err != nil {
		return err
	}
	return want2xx(resp, http.StatusNoContent)
}

func sessionUnknownID(ctx context.Context, r *Run) error {
	resp, err := r.coord(ctx, http.MethodGet, wire.SessionPath(randomUUID()), nil)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusNotFound)
}

func sessionExtraArgs(ctx context.Context, r *Run) error {
	jwt, err := r.Token(ctx)
	if err != nil {
		return err
	}
	body := r.createBody()
	body.ExtraArgs = map[string]any{"conformance": true, "note": "extra_args are passed through to the model"}
	resp, err := r.postSession(ctx, withBearer(apiHeaders(), jwt), body)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusCreated)
}

func sessionAdoption(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	other, _, err := r.MintToken(ctx, rawJSON("null"))
	if err != nil {
		return fmt.Errorf("setup: minting a second unscoped token: %w", err)
	}
	resp, err := r.send(ctx, http.MethodGet, wire.SessionPath(sr.SessionID), withBearer(apiHeaders(), other.JWT), nil)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusOK)
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
