package mockserver

import (
	"net/http"
	"strings"
	"testing"
)

// Impairments in a scenario are checked field by field: a bad one is a
// 4xx naming it and the active scenario stays as it was.
func TestScenarioImpairmentsValidated(t *testing.T) {
	ts := newTestServer(t)
	ok := map[string]any{"media": map[string]any{"impairments": []any{
		map[string]any{"at": "2s", "for": "3s", "blackout": true},
		map[string]any{"at": "10s", "loss": "5%", "traffic": "media", "direction": "send"},
		map[string]any{"at": "0s", "delay": "50ms", "jitter": "10ms"},
	}}}
	if r := ts.do(t, "PUT", "/__admin/scenario", nil, ok); r.Status != http.StatusOK {
		t.Fatalf("valid impairments: %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct {
		w     map[string]any
		field string
	}{
		{map[string]any{"loss": "150%"}, "media.impairments[0].loss"},
		{map[string]any{"loss": "lots"}, "loss"},
		{map[string]any{"delay": "10ms", "jitter": "-1ms"}, "media.impairments[0].delay"},
		{map[string]any{"loss": 5, "traffic": "video"}, "media.impairments[0].traffic"},
		{map[string]any{"at": "1s"}, "media.impairments[0].loss"},
	} {
		body := map[string]any{"media": map[string]any{"impairments": []any{tc.w}}}
		r := ts.do(t, "PUT", "/__admin/scenario", nil, body)
		if r.Status < 400 || r.Status >= 500 || !strings.Contains(r.Detail(), tc.field) {
			t.Errorf("%v: %d %q, want a 4xx naming %s", tc.w, r.Status, r.Detail(), tc.field)
		}
	}
	if got := ts.MediaPolicy().Impairments; len(got) != 3 || float64(got[1].Loss) != 5 {
		t.Fatalf("a refused scenario changed the active impairments: %+v", got)
	}
}
