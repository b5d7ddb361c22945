package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/reactor-harness/reactor-harness/wire"
)

// schemaBase is where command schemas live inside a Catalog's compiler. The
// host is reserved (.invalid) and the compiler's loader refuses every URL,
// so compiling never touches the network or the file system.
const schemaBase = "https://reactor-harness.invalid/commands/"

// maxReportedViolations bounds how many schema violations one error message
// names.
const maxReportedViolations = 4

var printer = message.NewPrinter(language.English)

// Catalog is a model's command contract with every JSON Schema compiled once.
// Build one per model and share it between the Runtimes of all its
// sessions: it is immutable and safe for concurrent use.
type Catalog struct {
	defs     []wire.CommandDef
	commands map[string]*catalogCommand
	names    []string // declaration order
}

type catalogCommand struct {
	def    wire.CommandDef
	schema *jsonschema.Schema
	// fileRefParams are the top-level parameters whose schema describes a
	// FileRef (an object with an upload_id property), in sorted order.
	fileRefParams []string
}

// noLoader refuses to load any schema resource: every schema the catalog
// compiles is added in memory, and a $ref to anything else is an error.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not available: command schemas must be self-contained", u)
}

// NewCatalog compiles the schemas of defs (draft 2020-12 unless a schema's
// $schema says otherwise; a nil schema accepts any object). Names must be
// unique and non-empty.
func NewCatalog(defs []wire.CommandDef) (*Catalog, error) {
	c := &Catalog{commands: make(map[string]*catalogCommand, len(defs))}
	comp := jsonschema.NewCompiler()
	comp.UseLoader(noLoader{})
	comp.DefaultDraft(jsonschema.Draft2020)
	for _, d := range defs {
		if d.Name == "" {
			return nil, errors.New("model: a command has no name")
		}
		if _, dup := c.commands[d.Name]; dup {
			return nil, fmt.Errorf("model: command %q is declared twice", d.Name)
		}
		doc, err := jsonValue(d.Schema)
		if err != nil {
			return nil, fmt.Errorf("model: schema of %q: %w", d.Name, err)
		}
		if d.Schema == nil {
			doc = map[string]any{"type": "object"}
		}
		loc := schemaBase + url.PathEscape(d.Name) + ".json"
		if err := comp.AddResource(loc, doc); err != nil {
			return nil, fmt.Errorf("model: schema of %q: %w", d.Name, err)
		}
		sch, err := comp.Compile(loc)
		if err != nil {
			return nil, fmt.Errorf("model: schema of %q does not compile: %w", d.Name, err)
		}
		c.commands[d.Name] = &catalogCommand{def: d, schema: sch, fileRefParams: fileRefParams(doc)}
		c.names = append(c.names, d.Name)
		c.defs = append(c.defs, d)
	}
	return c, nil
}

// jsonValue turns a Go schema (which may hold []string and other Go types)
// into the plain JSON value the compiler expects, numbers as json.Number.
func jsonValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
}

// fileRefParams lists the top-level properties of an object schema that are
// FileRefs: objects with an upload_id property.
func fileRefParams(doc any) []string {
	m, _ := doc.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	var out []string
	for name, p := range props {
		ps, _ := p.(map[string]any)
		inner, _ := ps["properties"].(map[string]any)
		if _, ok := inner["upload_id"]; ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Names lists the command names in declaration order.
func (c *Catalog) Names() []string { return slices.Clone(c.names) }

// Commands returns the definitions the catalog was built from. The schemas
// are shared; callers must not modify them.
func (c *Catalog) Commands() []wire.CommandDef { return slices.Clone(c.defs) }

// FileRefParams names the top-level parameters of a command that hold a
// FileRef according to its schema (for Helios: image of set_image and
// set_conditioning).
func (c *Catalog) FileRefParams(name string) []string {
	if cc, ok := c.commands[name]; ok {
		return slices.Clone(cc.fileRefParams)
	}
	return nil
}

// Validate checks a command's data (nil is treated as {}) against its
// schema. It returns nil or a *CommandError with code invalid_command whose
// message names the command and every failing location as a JSON pointer
// into data ("set_seed: /seed: got string, want integer").
func (c *Catalog) Validate(name string, data map[string]any) error {
	cc, cerr := c.lookup(name)
	if cerr == nil {
		cerr = cc.validate(data)
	}
	if cerr != nil {
		return cerr
	}
	return nil // not a typed nil
}

func (c *Catalog) lookup(name string) (*catalogCommand, *CommandError) {
	cc, ok := c.commands[name]
	if !ok {
		return nil, cmdErr(CodeInvalidCommand, fmt.Sprintf("unknown command %q; this model accepts: %s",
			clip(name, 64), strings.Join(c.names, ", ")))
	}
	return cc, nil
}

func (cc *catalogCommand) validate(data map[string]any) *CommandError {
	var inst any = data
	if data == nil {
		inst = map[string]any{}
	}
	err := cc.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return cmdErr(CodeInvalidCommand, cc.def.Name+": "+err.Error())
	}
	return cmdErr(CodeInvalidCommand, cc.def.Name+": "+describe(ve))
}

// describe renders the leaves of a validation error tree, each as
// "<pointer>: <what is wrong>", the root pointer shown as "(root)".
func describe(ve *jsonschema.ValidationError) string {
	var leaves []string
	var walk func(e *jsonschema.ValidationError, depth int)
	walk = func(e *jsonschema.ValidationError, depth int) {
		if len(e.Causes) == 0 || depth >= 32 {
			leaves = append(leaves, pointer(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(printer))
			return
		}
		for _, c := range e.Causes {
			walk(c, depth+1)
		}
	}
	walk(ve, 0)
	slices.Sort(leaves)
	leaves = slices.Compact(leaves)
	if len(leaves) > maxReportedViolations {
		more := len(leaves) - maxReportedViolations
		leaves = append(leaves[:maxReportedViolations], fmt.Sprintf("and %d more", more))
	}
	return strings.Join(leaves, "; ")
}

// pointer renders an instance location as a JSON pointer (RFC 6901).
func pointer(loc []string) string {
	if len(loc) == 0 {
		return "(root)"
	}
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		tok = strings.ReplaceAll(tok, "~", "~0")
		b.WriteString(strings.ReplaceAll(tok, "/", "~1"))
	}
	return b.String()
}

// clip shortens client-provided text quoted in error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// OpenAPI returns a minimal OpenAPI 3.1 document for the catalog: one
// paths["/events/<command>"].post per command with its schema as request
// body (PROTOCOL.md §4). Runtimes serve it only when Config.Schema is nil;
// the mock's models build a fuller document themselves. A fresh copy each
// call.
func (c *Catalog) OpenAPI() map[string]any {
	paths := make(map[string]any, len(c.defs))
	for _, d := range c.defs {
		sch, _ := deepCopy(d.Schema).(map[string]any)
		if sch == nil {
			sch = map[string]any{"type": "object"}
		}
		paths["/events/"+d.Name] = map[string]any{
			"post": map[string]any{
				"operationId": d.Name,
				"summary":     d.Description,
				"requestBody": map[string]any{
					"required": true,
					"content":  map[string]any{"application/json": map[string]any{"schema": sch}},
				},
				"responses": map[string]any{"202": map[string]any{"description": "accepted; applied at the next chunk boundary"}},
			},
		}
	}
	return map[string]any{
		"openapi":  "3.1.0",
		"info":     map[string]any{"title": "model", "version": "0"},
		"paths":    paths,
		"webhooks": map[string]any{},
	}
}

// deepCopy copies a JSON-shaped value through encoding/json; values that do
// not encode give nil.
func deepCopy(v any) any {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}
