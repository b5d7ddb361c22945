package mockserver

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/reactor-harness/reactor-harness/wire"
)

func TestModelsHeliosCapabilities(t *testing.T) {
	for _, name := range []string{"helios", "reactor/helios"} {
		m, ok := LookupModel(name)
		if !ok || m.Name() != "helios" {
			t.Fatalf("LookupModel(%q) = %v, %v", name, m, ok)
		}
	}
	if _, ok := LookupModel("Helios"); ok {
		t.Error("model names are case-sensitive")
	}
	c := HeliosModel().Capabilities()
	if c.ProtocolVersion != "1.0" || c.EmissionFPS == nil || *c.EmissionFPS != 30 {
		t.Errorf("capabilities %+v", c)
	}
	if len(c.Tracks) != 1 || c.Tracks[0] != (wire.TrackSpec{Name: "main_video", Kind: "video", Direction: "recvonly"}) {
		t.Errorf("tracks %+v", c.Tracks)
	}
	var names []string
	for _, cmd := range c.Commands {
		names = append(names, cmd.Name)
		// JS zod requires a description on every command.
		if cmd.Description == "" {
			t.Errorf("%s has no description", cmd.Name)
		}
		s := cmd.Schema
		if s["$schema"] != jsonSchemaDialect || s["type"] != "object" || s["additionalProperties"] != false {
			t.Errorf("%s schema header: %v", cmd.Name, s)
		}
		if _, ok := s["required"]; !ok {
			t.Errorf("%s schema lacks required", cmd.Name)
		}
	}
	want := "set_prompt schedule_prompt set_image set_conditioning set_image_strength set_sr_scale set_seed start pause resume reset save_snapshot list_snapshots rewind"
	if strings.Join(names, " ") != want {
		t.Errorf("commands %v", names)
	}
	// Capabilities survive a JSON round trip into the wire type.
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back wire.Capabilities
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Commands) != len(c.Commands) {
		t.Fatalf("round trip: %v %d", err, len(back.Commands))
	}
}

func TestModelsCommandValidation(t *testing.T) {
	ref := map[string]any{"upload_id": "up_1", "name": "cat.png", "mime_type": "image/png", "size": 12.0}
	cases := []struct {
		cmd  string
		data string
		ok   bool
	}{
		{"set_prompt", `{"prompt":"a cat"}`, true},
		{"set_prompt", `{}`, false},
		{"set_prompt", `{"prompt":5}`, false},
		{"set_prompt", `{"prompt":"a","extra":1}`, false},
		{"schedule_prompt", `{"prompt":"a","chunk":3}`, true},
		{"schedule_prompt", `{"prompt":"a","chunk":-1}`, false},
		{"schedule_prompt", `{"prompt":"a","chunk":1.5}`, false},
		{"schedule_prompt", `{"prompt":"a"}`, false},
		{"set_image", `{"image":` + sessMustJSON(t, ref) + `}`, true},
		{"set_image", `{"image":{"upload_id":"up_1"}}`, false},
		{"set_image", `{"image":{"upload_id":"up_1","name":"a","mime_type":"image/png","size":0}}`, false},
		{"set_image", `{"image":"up_1"}`, false},
		{"set_conditioning", `{"prompt":"a","image":` + sessMustJSON(t, ref) + `}`, true},
		{"set_conditioning", `{"prompt":"a"}`, false},
		{"set_image_strength", `{"image_strength":0}`, true},
		{"set_image_strength", `{"image_strength":1}`, true},
		{"set_image_strength", `{"image_strength":0.35}`, true},
		{"set_image_strength", `{"image_strength":1.01}`, false},
		{"set_image_strength", `{"image_strength":-0.1}`, false},
		{"set_image_strength", `{"image_strength":"0.5"}`, false},
		{"set_sr_scale", `{"sr_scale":"2x"}`, true},
		{"set_sr_scale", `{"sr_scale":"off"}`, true},
		{"set_sr_scale", `{"sr_scale":"3x"}`, false},
		{"set_seed", `{"seed":-1}`, true},
		{"set_seed", `{"seed":42}`, true},
		{"set_seed", `{"seed":-2}`, false},
		{"set_seed", `{"seed":4.2}`, false},
		{"start", `{}`, true},
		{"start", `null`, true},
		{"pause", `{"now":true}`, false},
		{"resume", `{}`, true},
		{"reset", `{}`, true},
		{"dance", `{}`, false},
	}
	m := HeliosModel()
	for _, c := range cases {
		var data map[string]any
		if err := json.Unmarshal([]byte(c.data), &data); err != nil {
			t.Fatal(err)
		}
		err := m.ValidateCommand(c.cmd, data)
		if (err == nil) != c.ok {
			t.Errorf("%s %s: err=%v, want ok=%v", c.cmd, c.data, err, c.ok)
		}
	}
	if _, ok := m.Command("set_seed"); !ok {
		t.Error("Command lookup failed")
	}
	if err := m.ValidateCommand("dance", nil); err == nil || !strings.Contains(err.Error(), "set_prompt") {
		t.Errorf("unknown command error should list known ones: %v", err)
	}
}

func sessMustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestModelsOpenAPI(t *testing.T) {
	m := HeliosModel()
	doc := m.OpenAPI()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title string `json:"title"`
		} `json:"info"`
		Paths map[string]struct {
			Post struct {
				OperationID string `json:"operationId"`
				RequestBody struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"post"`
		} `json:"paths"`
		Webhooks map[string]any `json:"webhooks"`
		XReactor struct {
			Tracks []wire.TrackSpec `json:"tracks"`
		} `json:"x-reactor"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.1") || d.Info.Title != "helios" {
		t.Errorf("header %s %s", d.OpenAPI, d.Info.Title)
	}
	var paths []string
	for p, item := range d.Paths {
		paths = append(paths, p)
		name := strings.TrimPrefix(p, "/events/")
		cmd, ok := m.Command(name)
		if !ok || item.Post.OperationID != name {
			t.Errorf("path %s", p)
			continue
		}
		sch := item.Post.RequestBody.Content["application/json"].Schema
		if sch["additionalProperties"] != false || len(stringList(sch["required"])) != len(stringList(cmd.Schema["required"])) {
			t.Errorf("%s schema %v", p, sch)
		}
	}
	sort.Strings(paths)
	if len(paths) != len(m.Commands()) || len(paths) != 14 || paths[0] != "/events/list_snapshots" {
		t.Errorf("paths %v", paths)
	}
	if len(d.XReactor.Tracks) != 1 || d.XReactor.Tracks[0].Name != "main_video" {
		t.Errorf("x-reactor.tracks %+v", d.XReactor.Tracks)
	}
	if _, ok := d.Webhooks["state"]; !ok {
		t.Errorf("webhooks %v", d.Webhooks)
	}
	// The document is a copy: changing it leaves the model alone.
	doc["openapi"] = "x"
	if m.OpenAPI()["openapi"] != "3.1.0" {
		t.Error("OpenAPI shares state")
	}
}
