package mockserver

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// One rule for unknown fields: every JSON request body is checked against
// the Go type it decodes into, and a key that type does not name, at any
// depth, is a 422 naming the key by its path. A client that misspells
// "expires_after" learns so instead of getting a default silently.
//
// What stays open, and why:
//   - maps and `any` (extra_args, extra_configs, the local runtime's
//     POST /start_session parameters, command data): free-form by
//     definition; the runtime passes them to the model (PROTOCOL.md §1.2,
//     §1.4).
//   - client_info (in POST /sessions, offers, ICE candidates): it only
//     identifies the SDK and nothing acts on it; the SDK suite checks its
//     keys exactly and reports any extra one by name, which a 422 on
//     connect would hide behind a failed connection.
//   - types with their own UnmarshalJSON: they define their own shape.
var openTypes = map[reflect.Type]bool{
	reflect.TypeFor[wire.ClientInfo](): true,
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// unknownField returns the path of the first key in doc (a decoded JSON
// value) that t does not know, or "" when there is none. Values of the
// wrong JSON kind are left for json.Unmarshal to report.
func unknownField(doc any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if openTypes[t] || reflect.PointerTo(t).Implements(unmarshalerType) {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return ""
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys) // the same answer for the same body
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return joinPath(path, k)
			}
			if p := unknownField(obj[k], ft, joinPath(path, k)); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		arr, _ := doc.([]any)
		for i, el := range arr {
			if p := unknownField(el, t.Elem(), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	case reflect.Map:
		obj, _ := doc.(map[string]any)
		for k, el := range obj {
			if p := unknownField(el, t.Elem(), joinPath(path, k)); p != "" {
				return p
			}
		}
	}
	return ""
}

// jsonFields maps the JSON names of t's fields (promoted ones included) to
// their types, as encoding/json names them but matched exactly: the
// platform's decoder is case-sensitive.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// strictUnknown reports the first unknown key of raw for v's type as a 422.
func strictUnknown(raw []byte, v any) *apiError {
	var doc any
	if json.Unmarshal(raw, &doc) != nil {
		return nil // json.Unmarshal into v reports it
	}
	if p := unknownField(doc, reflect.TypeOf(v), ""); p != "" {
		return errf(http.StatusUnprocessableEntity, "unknown field %q: this body does not take it (check its spelling)", p)
	}
	return nil
}
