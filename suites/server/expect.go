package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Assertion helpers. Each returns an error whose text says what was
// required, what was sent and what came back, so a failure is actionable
// from the message alone:
//
//	expected 201 Created, received 500 Internal Server Error
//	  sent:     POST /sessions {"model":{"name":"helios"},...}
//	  received: 500 Internal Server Error {"detail":"injected fault: ..."}

func statusName(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}

func statusList(codes []int) string {
	names := make([]string, len(codes))
	for i, c := range codes {
		names[i] = statusName(c)
	}
	return strings.Join(names, " or ")
}

// fail builds an error about resp: the message, then the exchange.
func fail(resp *Resp, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if resp == nil {
		return fmt.Errorf("%s", msg)
	}
	sent, received, _ := strings.Cut(resp.Line(), " → ")
	return fmt.Errorf("%s\n  sent:     %s\n  headers:  %s\n  received: %s", msg, sent, protocolHeaders(resp.Ex.ReqHdr), received)
}

// protocolHeaders lists the request headers a case varies (auth and
// versions), already redacted by the recorder.
func protocolHeaders(h http.Header) string {
	var parts []string
	for _, k := range []string{wire.HeaderAuthorization, wire.HeaderAPIKey, wire.HeaderLegacyAPIKey,
		wire.HeaderAPIVersion, wire.HeaderAPIAcceptVersion, wire.HeaderWebRTCVersion} {
		if vs, ok := h[http.CanonicalHeaderKey(k)]; ok {
			parts = append(parts, fmt.Sprintf("%s: %q", k, strings.Join(vs, ", ")))
		}
	}
	if len(parts) == 0 {
		return "(no Authorization, API key or version headers)"
	}
	return strings.Join(parts, "; ")
}

// wantStatus requires resp.Status to be one of codes.
func wantStatus(resp *Resp, codes ...int) error {
	if slices.Contains(codes, resp.Status) {
		return nil
	}
	return fail(resp, "expected %s, received %s", statusList(codes), statusName(resp.Status))
}

// wantObject requires resp.Status to be one of codes and the body to be a
// JSON object, which it returns.
func wantObject(resp *Resp, codes ...int) (map[string]any, error) {
	if err := wantStatus(resp, codes...); err != nil {
		return nil, err
	}
	return resp.Object()
}

// want2xx requires any 2xx (what the SDKs accept) and names the documented
// status in the message.
func want2xx(resp *Resp, documented int) error {
	if resp.Status/100 == 2 {
		return nil
	}
	return fail(resp, "expected %s (any 2xx), received %s", statusName(documented), statusName(resp.Status))
}

// problems collects several findings about one answer.
type problems []string

func (p *problems) add(format string, a ...any) { *p = append(*p, fmt.Sprintf(format, a...)) }

func (p problems) err(resp *Resp, what string) error {
	if len(p) == 0 {
		return nil
	}
	return fail(resp, "%s:\n    - %s", what, strings.Join(p, "\n    - "))
}

// JSON field access on decoded objects, for presence checks that typed
// decoding cannot make (a missing field and an empty one look alike there).

func field(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = obj[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// requireString adds a problem unless path holds a non-empty string.
func requireString(p *problems, m map[string]any, path string) string {
	v, ok := field(m, path)
	if !ok {
		p.add("%q is missing", path)
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		p.add("%q must be a string, got %s", path, jsonOf(v))
		return ""
	}
	if s == "" {
		p.add("%q is an empty string", path)
	}
	return s
}

// requireNumber adds a problem unless path holds a JSON number.
func requireNumber(p *problems, m map[string]any, path string) (float64, bool) {
	v, ok := field(m, path)
	if !ok {
		p.add("%q is missing", path)
		return 0, false
	}
	f, isNum := v.(float64)
	if !isNum {
		p.add("%q must be a number, got %s", path, jsonOf(v))
		return 0, false
	}
	return f, true
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := string(b)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// wantDetail requires the platform's error body {"detail": "<string>"}.
func wantDetail(resp *Resp) error {
	var m map[string]any
	if json.Unmarshal(resp.Body, &m) != nil || m == nil {
		return fail(resp, "an error answer must carry the platform's JSON error body {\"detail\": \"...\"}; the body is not a JSON object")
	}
	v, ok := m["detail"]
	if !ok {
		return fail(resp, "an error answer must carry the platform's JSON error body {\"detail\": \"...\"}; \"detail\" is missing")
	}
	switch d := v.(type) {
	case string:
		if strings.TrimSpace(d) == "" {
			return fail(resp, "the error body's \"detail\" is empty; it should say what was wrong")
		}
	case []any: // FastAPI 422 validation errors
	default:
		return fail(resp, "the error body's \"detail\" must be a string (or FastAPI's 422 list), got %s", jsonOf(v))
	}
	return nil
}
