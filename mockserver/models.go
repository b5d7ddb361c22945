package mockserver

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/wire"
)

// jsonSchemaDialect is the JSON Schema draft every command schema declares.
const jsonSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// Model is a model the mock can host: the names it answers to, the
// capabilities sessions advertise once assigned (PROTOCOL.md §4) and its
// command contract. A Model is immutable after construction; every method
// may be called concurrently, and returned maps and slices must not be
// modified.
type Model struct {
	names    []string // names[0] is the canonical name
	version  string
	caps     wire.Capabilities
	capsJSON json.RawMessage // caps encoded once: session polls are the mock's hottest path
	commands map[string]*Command
	order    []string // command names in declaration order
	webhooks map[string]map[string]any

	rank          int
	width, height int
	semantics     model.Semantics
	clip          func() (*media.Clip, error)
	chunkFrames   int
}

// Semantics is the model's behaviour in mockserver/model.
func (m *Model) Semantics() model.Semantics { return m.semantics }

// Clip is the clip the model's sessions stream (parsed once per process).
func (m *Model) Clip() (*media.Clip, error) { return m.clip() }

// ChunkFrames is the length of one of the model's chunks, in frames.
func (m *Model) ChunkFrames() int { return m.chunkFrames }

// VideoSize is the size of the model's main_video frames.
func (m *Model) VideoSize() (width, height int) { return m.width, m.height }

// Command is one command a model accepts, with a draft 2020-12 JSON Schema
// for its data object.
type Command struct {
	Name        string
	Description string
	Schema      map[string]any
}

// Name is the model's canonical name.
func (m *Model) Name() string { return m.names[0] }

// Names lists every name the model answers to, canonical first.
func (m *Model) Names() []string { return append([]string(nil), m.names...) }

// Version is the model version reported in the OpenAPI document.
func (m *Model) Version() string { return m.version }

// Capabilities are what GET /sessions/{id} carries from WAITING on. The
// returned value is shared; callers must not modify it.
func (m *Model) Capabilities() *wire.Capabilities { return &m.caps }

// Command looks a command up by its wire name ("set_prompt").
func (m *Model) Command(name string) (*Command, bool) {
	c, ok := m.commands[name]
	return c, ok
}

// Commands lists the commands in declaration order.
func (m *Model) Commands() []*Command {
	out := make([]*Command, 0, len(m.order))
	for _, n := range m.order {
		out = append(out, m.commands[n])
	}
	return out
}

// answersTo reports whether name is one of the model's names.
func (m *Model) answersTo(name string) bool {
	for _, n := range m.names {
		if n == name {
			return true
		}
	}
	return false
}

// ValidateCommand checks a command against the model's contract: the command
// must exist and its data must satisfy the command's schema. data is the
// decoded JSON object (nil is treated as {}). FileRefs that a client moved
// into the v0 `uploads` map must be merged back into data before calling.
func (m *Model) ValidateCommand(name string, data map[string]any) error {
	c, ok := m.Command(name)
	if !ok {
		return fmt.Errorf("unknown command %q; known: %s", name, strings.Join(m.order, ", "))
	}
	return c.Validate(data)
}

// Validate checks data against the command's schema. It implements the JSON
// Schema keywords the built-in models use (type, properties, required,
// additionalProperties:false, enum, minimum, maximum, minLength); it is not a
// general JSON Schema validator.
func (c *Command) Validate(data map[string]any) error {
	if data == nil {
		data = map[string]any{}
	}
	return validateValue(c.Schema, data, c.Name)
}

// OpenAPI returns the model's schema document (OpenAPI 3.1) as RT's GET
// /schema and the modelSchema message carry it: client-triggerable events
// under paths["/events/<command>"].post, model messages under webhooks and
// tracks under x-reactor.tracks (PROTOCOL.md §4). A fresh copy each call.
func (m *Model) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, c := range m.Commands() {
		paths["/events/"+c.Name] = map[string]any{
			"post": map[string]any{
				"operationId": c.Name,
				"summary":     c.Description,
				"requestBody": map[string]any{
					"required": true,
					"content": map[string]any{
						wire.ContentTypeJSON: map[string]any{"schema": deepCopyJSON(c.Schema)},
					},
				},
				"responses": map[string]any{
					"202": map[string]any{"description": "accepted; applied at the next chunk boundary"},
				},
			},
		}
	}
	hooks := map[string]any{}
	for name, sch := range m.webhooks {
		hooks[name] = map[string]any{
			"post": map[string]any{
				"operationId": "message_" + name,
				"requestBody": map[string]any{
					"content": map[string]any{wire.ContentTypeJSON: map[string]any{"schema": deepCopyJSON(sch)}},
				},
				"responses": map[string]any{"200": map[string]any{"description": "delivered"}},
			},
		}
	}
	tracks := make([]any, 0, len(m.caps.Tracks))
	for _, t := range m.caps.Tracks {
		tracks = append(tracks, map[string]any{"name": t.Name, "kind": t.Kind, "direction": t.Direction})
	}
	xr := map[string]any{"tracks": tracks, "protocol_version": m.caps.ProtocolVersion,
		"video": map[string]any{"width": m.width, "height": m.height}}
	if m.caps.EmissionFPS != nil {
		xr["emission_fps"] = *m.caps.EmissionFPS
	}
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": jsonSchemaDialect,
		"info":              map[string]any{"title": m.Name(), "version": m.version},
		"paths":             paths,
		"webhooks":          hooks,
		"x-reactor":         xr,
	}
}

// modelRegistry resolves the names clients send in POST /sessions.
type modelRegistry struct {
	models []*Model
}

func newModelRegistry(models ...*Model) *modelRegistry { return &modelRegistry{models: models} }

// lookup finds the model answering to name.
func (r *modelRegistry) lookup(name string) (*Model, bool) {
	for _, m := range r.models {
		if m.answersTo(name) {
			return m, true
		}
	}
	return nil, false
}

// knownNames lists every accepted name, for error details.
func (r *modelRegistry) knownNames() []string {
	var out []string
	for _, m := range r.models {
		out = append(out, m.names...)
	}
	return out
}

// builtinModels are the models a mock hosts by default, in registration
// order; each models_<name>.go file registers one.
var builtinModels []*Model

// register adds a built-in model; called from package-level vars.
func register(m *Model) *Model {
	builtinModels = append(builtinModels, m)
	return m
}

// DefaultModels are the models a mock hosts unless configured otherwise,
// Helios (the default of the local runtime) first, then by name.
func DefaultModels() []*Model {
	out := slices.Clone(builtinModels)
	slices.SortStableFunc(out, func(a, b *Model) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.Name(), b.Name())
	})
	return out
}

// LookupModel finds a default model by any of its names.
func LookupModel(name string) (*Model, bool) {
	return newModelRegistry(DefaultModels()...).lookup(name)
}

// modelSpec is everything model-specific about a built-in model: adding a
// model is one file declaring one spec, plus its clip in fixtures/video.
type modelSpec struct {
	names    []string // canonical first
	rank     int      // DefaultModels order; 0 first
	version  string
	fps      float64
	width    int
	height   int
	tracks   []wire.TrackSpec
	commands []*Command
	messages map[string]map[string]any // model message schemas (webhooks)
	// semantics is what the commands do (mockserver/model); clip is the
	// VP8 clip its sessions stream, chunkFrames the frames of one chunk.
	semantics   model.Semantics
	clip        func() (*media.Clip, error)
	chunkFrames int
}

// buildModel turns a spec into an immutable Model.
func buildModel(s modelSpec) *Model {
	fps := s.fps
	m := &Model{
		names: s.names, rank: s.rank, version: s.version, width: s.width, height: s.height,
		commands: map[string]*Command{}, webhooks: s.messages,
		semantics: s.semantics, clip: s.clip, chunkFrames: s.chunkFrames,
	}
	defs := make([]wire.CommandDef, 0, len(s.commands))
	for _, c := range s.commands {
		m.commands[c.Name] = c
		m.order = append(m.order, c.Name)
		defs = append(defs, wire.CommandDef{Name: c.Name, Description: c.Description, Schema: c.Schema})
	}
	m.caps = wire.Capabilities{ProtocolVersion: "1.0", Tracks: s.tracks, Commands: defs, EmissionFPS: &fps}
	raw, err := json.Marshal(m.caps)
	if err != nil {
		panic(s.names[0] + " capabilities do not encode: " + err.Error()) // static data; caught by any test
	}
	m.capsJSON = raw
	return m
}

// Schema helpers: every command schema is a closed object.
func objectSchema(props map[string]any, required ...string) map[string]any {
	if props == nil {
		props = map[string]any{}
	}
	if required == nil {
		required = []string{}
	}
	return map[string]any{
		"$schema":              jsonSchemaDialect,
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}
}

func fileRefSchema(desc string) map[string]any {
	return map[string]any{
		"type":        "object",
		"description": desc + " A FileRef returned by an upload.",
		"properties": map[string]any{
			"upload_id": map[string]any{"type": "string", "minLength": 1},
			"name":      map[string]any{"type": "string"},
			"mime_type": map[string]any{"type": "string"},
			"size":      map[string]any{"type": "integer", "minimum": 1},
		},
		"required":             []string{"upload_id", "name", "mime_type", "size"},
		"additionalProperties": false,
	}
}

func stringProp(desc string) map[string]any {
	return map[string]any{"type": "string", "description": desc}
}

// validateValue checks v against the subset of JSON Schema used above. path
// names the value in errors ("set_seed.seed").
func validateValue(schema map[string]any, v any, path string) error {
	if t, ok := schema["type"]; ok && !typeMatches(t, v) {
		return fmt.Errorf("%s: expected %v, got %s", path, t, jsonTypeOf(v))
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == v {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", path, v, enum)
		}
	}
	if n, ok := asNumber(v); ok {
		if lo, ok := asNumber(schema["minimum"]); ok && n < lo {
			return fmt.Errorf("%s: %v is below the minimum %v", path, v, lo)
		}
		if hi, ok := asNumber(schema["maximum"]); ok && n > hi {
			return fmt.Errorf("%s: %v is above the maximum %v", path, v, hi)
		}
	}
	if s, ok := v.(string); ok {
		if ml, ok := asNumber(schema["minLength"]); ok && float64(len([]rune(s))) < ml {
			return fmt.Errorf("%s: must have at least %v characters", path, ml)
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	props, _ := schema["properties"].(map[string]any)
	for _, r := range stringList(schema["required"]) {
		if _, ok := obj[r]; !ok {
			return fmt.Errorf("%s: missing required property %q", path, r)
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps, known := props[k].(map[string]any)
		if !known {
			if ap, ok := schema["additionalProperties"].(bool); ok && !ap {
				return fmt.Errorf("%s: unexpected property %q", path, k)
			}
			continue
		}
		if err := validateValue(ps, obj[k], path+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func typeMatches(t any, v any) bool {
	switch tt := t.(type) {
	case string:
		return typeIs(tt, v)
	case []any:
		for _, x := range tt {
			if s, ok := x.(string); ok && typeIs(s, v) {
				return true
			}
		}
	}
	return false
}

func typeIs(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := asNumber(v)
		return ok
	case "integer":
		n, ok := asNumber(v)
		return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
	}
	return false
}

func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	if _, ok := asNumber(v); ok {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// deepCopyJSON copies a JSON-shaped value so callers may modify the result.
func deepCopyJSON(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out map[string]any
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}
