package peer

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// TestDecodeLegacyFrames: on a v0 "data" channel a frame without "scope"
// but with a flat "type" is a 2.2.1 command (PROTOCOL.md §3.1); frames that
// are neither that nor an envelope are still dropped.
func TestDecodeLegacyFrames(t *testing.T) {
	cases := []struct {
		name, raw string
		cmd       string         // "" = dropped
		data      map[string]any // when accepted
		rawData   string
	}{
		{"object", `{"type":"set_prompt","data":{"prompt":"hi"}}`, "set_prompt", map[string]any{"prompt": "hi"}, `{"prompt":"hi"}`},
		{"no data", `{"type":"start"}`, "start", map[string]any{}, ""},
		{"null data", `{"type":"start","data":null}`, "start", map[string]any{}, ""},
		{"capabilities", `{"type":"requestCapabilities","data":{}}`, "requestCapabilities", map[string]any{}, `{}`},
		{"string data", `{"type":"set_prompt","data":"hi"}`, "", nil, ""},
		{"array data", `{"type":"set_prompt","data":[1,2]}`, "", nil, ""},
		{"empty type", `{"type":"","data":{}}`, "", nil, ""},
		{"type not a string", `{"type":5,"data":{}}`, "", nil, ""},
		{"neither", `{"data":{}}`, "", nil, ""},
		{"scope wins", `{"scope":"application","type":"x","data":{"type":"set_seed","data":{"seed":1}}}`, "set_seed", map[string]any{"seed": float64(1)}, `{"seed":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := decodeFrame(ChannelData, wirev0.V0, []byte(tc.raw), true, wirev0.MaxMessageBytes)
			if tc.cmd == "" {
				if f.Err == nil || !errors.Is(f.Err, ErrUndecodable) {
					t.Fatalf("accepted: %+v", f)
				}
				return
			}
			if f.Err != nil || f.Kind != KindCommand || f.Command != tc.cmd || f.Type != tc.cmd {
				t.Fatalf("frame %+v", f)
			}
			wantLegacy := tc.name != "scope wins"
			if f.Legacy != wantLegacy || (wantLegacy && f.Scope != "") {
				t.Fatalf("legacy %v scope %q", f.Legacy, f.Scope)
			}
			got, _ := json.Marshal(f.Data)
			want, _ := json.Marshal(tc.data)
			if string(got) != string(want) || string(f.RawData) != tc.rawData {
				t.Fatalf("data %s raw %s, want %s raw %s", got, f.RawData, want, tc.rawData)
			}
		})
	}
	// The drop of a flat frame with a bad payload still names the command.
	if f := decodeFrame(ChannelData, wirev0.V0, []byte(`{"type":"set_prompt","data":"hi"}`), true, wirev0.MaxMessageBytes); !f.Legacy || f.Type != "set_prompt" {
		t.Fatalf("dropped flat frame %+v", f)
	}
	// Control frames are never legacy.
	if f := decodeFrame(ChannelControl, wirev0.V0, []byte(`{"type":"set_prompt","data":{}}`), true, wirev0.MaxMessageBytes); f.Legacy || f.Kind == KindCommand {
		t.Fatalf("control frame %+v", f)
	}
}

// legacyPair connects a data-only client; legacy sets Offer.Legacy.
func legacyPair(t *testing.T, a *API, rec *recorder, legacy bool) (*offerer, *Conn) {
	t.Helper()
	o := newOfferer(t, false)
	off := Offer{SDP: o.offer(), Tracks: heliosTracks, Label: "test/1001", Handler: rec, Legacy: legacy}
	c, answer, err := a.Answer(context.Background(), off)
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	o.accept(answer)
	rec.waitUntil(t, "connected", func() bool { return rec.hasState(StateConnected) })
	o.waitOpen(o.data)
	return o, c
}

// decodeLegacyOut reads a server frame as 2.2.1 does: only
// {"type":"application","data":<payload>} surfaces, with the payload.
func decodeLegacyOut(t *testing.T, b []byte) map[string]any {
	t.Helper()
	lf, err := wirev0.DecodeLegacy(b)
	if err != nil || lf.Type != wirev0.LegacyTypeApplication {
		t.Fatalf("server frame %s is not a 2.2.1 application frame (%v)", b, err)
	}
	var payload map[string]any
	if err := json.Unmarshal(lf.Data, &payload); err != nil {
		t.Fatalf("payload %s: %v", lf.Data, err)
	}
	return payload
}

// TestLegacyConnection: a connection answered with Offer.Legacy takes flat
// commands and sends model messages (and command replies) as 2.2.1
// application frames carrying {type, data}.
func TestLegacyConnection(t *testing.T) {
	a := newAPI(t, Config{})
	defer a.Close()
	rec := newRecorder()
	rec.onF = func(c *Conn, f Frame) {
		if f.Kind == KindCommand {
			_ = c.RespondCommand(f.RequestID, &ModelReply{Type: "echo", Data: map[string]any{"command": f.Command}}, nil)
		}
	}
	o, c := legacyPair(t, a, rec, true)
	defer o.close()
	defer c.Close()
	if !c.Legacy() || c.CodecName() != "legacy" || c.Stats().Codec != "legacy" {
		t.Fatalf("legacy %v codec %q", c.Legacy(), c.CodecName())
	}
	// Before the client says anything, server messages are already flat.
	if err := c.SendModelMessage("state", map[string]any{"running": true}); err != nil {
		t.Fatal(err)
	}
	p := decodeLegacyOut(t, o.next())
	if p["type"] != "state" || p["data"].(map[string]any)["running"] != true {
		t.Fatalf("payload %v", p)
	}
	cmd, _ := wirev0.NewLegacyCommand("set_prompt", map[string]any{"prompt": "old"})
	if err := o.data.SendText(string(cmd)); err != nil {
		t.Fatal(err)
	}
	rec.waitUntil(t, "the command", func() bool { return len(rec.frames) >= 1 })
	if f := rec.frames[0]; !f.Legacy || f.Kind != KindCommand || f.Command != "set_prompt" || f.Data["prompt"] != "old" {
		t.Fatalf("frame %+v", f)
	}
	if p := decodeLegacyOut(t, o.next()); p["type"] != "echo" || p["data"].(map[string]any)["command"] != "set_prompt" {
		t.Fatalf("reply payload %v", p)
	}
	if err := c.SendModelMessage("nil_data", nil); err != nil {
		t.Fatal(err)
	}
	if p := decodeLegacyOut(t, o.next()); p["type"] != "nil_data" || p["data"] == nil {
		t.Fatalf("payload %v, want data {}", p)
	}
}

// TestLegacyLatch: a connection not answered as legacy becomes legacy when
// its first inbound frame is flat; one that opened with a v0 envelope
// still takes a later flat frame as a command but keeps answering in v0.
func TestLegacyLatch(t *testing.T) {
	a := newAPI(t, Config{})
	defer a.Close()
	flat, _ := wirev0.NewLegacyCommand("set_prompt", map[string]any{"prompt": "p"})

	t.Run("first frame flat", func(t *testing.T) {
		rec := newRecorder()
		o, c := legacyPair(t, a, rec, false)
		defer o.close()
		defer c.Close()
		if c.Legacy() {
			t.Fatal("legacy before any frame")
		}
		_ = o.data.SendText(string(flat))
		rec.waitUntil(t, "the command", func() bool { return len(rec.frames) >= 1 })
		if !rec.frames[0].Legacy || !c.Legacy() || c.Codec() != wirev0.V0 {
			t.Fatalf("frame %+v, conn legacy %v", rec.frames[0], c.Legacy())
		}
		_ = c.SendModelMessage("state", map[string]any{})
		if p := decodeLegacyOut(t, o.next()); p["type"] != "state" {
			t.Fatalf("payload %v", p)
		}
	})

	t.Run("first frame v0", func(t *testing.T) {
		rec := newRecorder()
		o, c := legacyPair(t, a, rec, false)
		defer o.close()
		defer c.Close()
		ping, _ := wirev0.NewRuntimeMessage(wirev0.TypePing, nil)
		_ = o.data.SendText(string(ping))
		_ = o.data.SendText(string(flat))
		rec.waitUntil(t, "2 frames", func() bool { return len(rec.frames) >= 2 })
		if f := rec.frames[1]; !f.Legacy || f.Kind != KindCommand {
			t.Fatalf("flat frame %+v", f)
		}
		if c.Legacy() || c.CodecName() != "v0" {
			t.Fatalf("conn turned %s", c.CodecName())
		}
		_ = c.SendModelMessage("state", map[string]any{})
		env, err := wirev0.DecodeEnvelope(o.next())
		if err != nil || env.Scope != wirev0.ScopeApplication || env.Data.Type != "state" {
			t.Fatalf("v0 model message: %+v %v", env, err)
		}
	})
}
