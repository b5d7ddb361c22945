package mockserver

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// TestUnknownFieldsRefused: one rule on every route that takes a JSON
// body: a key the body does not take, at any depth, is 422 naming its path.
func TestUnknownFieldsRefused(t *testing.T) {
	f := newUplFixture(t)
	ts, jwt, sid := f.ts, f.jwt, f.sid
	tb := wire.TransportBase(sid)
	th := currentHeaders(jwt)
	th.Set(wire.HeaderWebRTCVersion, "1.0")
	if r := ts.do(t, "POST", "/__admin/sessions/"+sid+"/state", nil, `{"state":"WAITING"}`); r.Status != http.StatusOK {
		t.Fatalf("force WAITING: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		method, path string
		h            http.Header
		body, field  string
	}{
		{"POST", "/tokens", keyHeader(ts.APIKey()), `{"expires_afer":60}`, "expires_afer"},
		{"POST", "/tokens", keyHeader(ts.APIKey()), `{"authorization_details":[{"type":"session","constraints":{"max_sesions":1}}]}`, "authorization_details[0].constraints.max_sesions"},
		{"POST", "/sessions", currentHeaders(jwt), `{"model":{"name":"helios","flavour":"x"}}`, "model.flavour"},
		{"POST", "/sessions", currentHeaders(jwt), `{"model":{"name":"helios"},"Model":{}}`, "Model"},
		{"DELETE", "/sessions/" + sid, currentHeaders(jwt), `{"reason":"x","why":"y"}`, "why"},
		{"POST", "/sessions/" + sid + "/uploads", currentHeaders(jwt), `{"name":"a","size":1,"mime_type":"image/png","sha":"x"}`, "sha"},
		{"POST", tb + "/connections/1500/sdp_params", th, `{"sdp_offer":"v=0","track_mapping":[{"mid":"0","name":"main_video","kind":"video","direction":"recvonly","ssrc":1}]}`, "track_mapping[0].ssrc"},
		{"POST", tb + "/connections/1500/ice_candidates", th, `{"candidates":[],"is_final":true,"final":true}`, "final"},
		{"POST", "/__admin/sessions/" + sid + "/state", nil, `{"state":"INACTIVE","force":true}`, "force"},
	} {
		r := ts.do(t, tc.method, tc.path, tc.h, tc.body)
		expectError(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.Detail(), `"`+tc.field+`"`) {
			t.Errorf("%s %s %s: detail %q does not name %q", tc.method, tc.path, tc.body, r.Detail(), tc.field)
		}
	}
	// Open by design: client_info's content, extra_args, and the local
	// runtime's session parameters.
	r := ts.do(t, "POST", "/sessions", currentHeaders(ts.token(t, claims{}, time.Hour)),
		`{"model":{"name":"helios"},"client_info":{"sdk_version":"1","sdk_type":"js","os":"linux"},"extra_args":{"anything":{"goes":[1]}}}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("open parts refused: %d %s", r.Status, r.Body)
	}
}

func TestUnknownFieldPaths(t *testing.T) {
	type inner struct {
		A int `json:"a"`
	}
	type embedded struct {
		E string `json:"e"`
	}
	type outer struct {
		embedded
		In    *inner           `json:"in"`
		List  []inner          `json:"list"`
		ByKey map[string]inner `json:"by_key"`
		Free  map[string]any   `json:"free"`
		Dur   Duration         `json:"dur"`
		Skip  string           `json:"-"`
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"e":"x","in":{"a":1},"list":[{"a":1}],"by_key":{"k":{"a":1}},"free":{"z":{"y":1}},"dur":"1s"}`, ""},
		{`{"in":{"b":1}}`, "in.b"},
		{`{"list":[{"a":1},{"c":1}]}`, "list[1].c"},
		{`{"by_key":{"k":{"d":1}}}`, "by_key.k.d"},
		{`{"Skip":"x"}`, "Skip"},
		{`{"-":"x"}`, "-"},
		{`{"in":"not an object"}`, ""}, // the decoder reports the type
		{`{"z":1,"y":2}`, "y"},         // the first in key order
	} {
		var o outer
		got := ""
		if e := strictUnknown([]byte(tc.doc), &o); e != nil {
			got = e.Detail
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, `"`+tc.want+`"`) && tc.want != "" {
			t.Errorf("%s: %q, want the field %q", tc.doc, got, tc.want)
		}
	}
	if !openTypes[reflect.TypeFor[wire.ClientInfo]()] {
		t.Fatal("client_info is documented open")
	}
}
