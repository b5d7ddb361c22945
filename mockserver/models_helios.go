package mockserver

import (
	"github.com/reactor-harness/reactor-harness/fixtures/video"
	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/wire"
)

// HeliosModel is the Helios-like default model (PLATFORM.md §6).
func HeliosModel() *Model { return heliosModel }

var heliosModel = register(buildHelios())

func buildHelios() *Model {
	cmds := []*Command{
		{Name: "set_prompt", Description: "Set the text prompt. Before start it applies to chunk 0; while paused to the current chunk (on resume); while running to the next chunk.",
			Schema: objectSchema(map[string]any{"prompt": stringProp("Text prompt.")}, "prompt")},
		{Name: "schedule_prompt", Description: "Schedule a prompt to take effect at the given chunk index (33 frames per chunk).",
			Schema: objectSchema(map[string]any{
				"prompt": stringProp("Text prompt."),
				"chunk":  map[string]any{"type": "integer", "minimum": 0, "description": "Chunk index at which the prompt applies."},
			}, "prompt", "chunk")},
		{Name: "set_image", Description: "Set or swap the reference image (image-to-video); works mid-stream. reset clears it.",
			Schema: objectSchema(map[string]any{"image": fileRefSchema("Reference image.")}, "image")},
		{Name: "set_conditioning", Description: "Set prompt and reference image in one atomic step, avoiding a race on the first chunk.",
			Schema: objectSchema(map[string]any{
				"prompt": stringProp("Text prompt."),
				"image":  fileRefSchema("Reference image."),
			}, "prompt", "image")},
		{Name: "set_image_strength", Description: "How strongly the reference image conditions generation (0.0 to 1.0); ignored when no image is set.",
			Schema: objectSchema(map[string]any{
				"image_strength": map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			}, "image_strength")},
		{Name: "set_sr_scale", Description: "Super-resolution factor; applies at the next chunk.",
			Schema: objectSchema(map[string]any{
				"sr_scale": map[string]any{"type": "string", "enum": []any{"off", "2x", "4x"}},
			}, "sr_scale")},
		{Name: "set_seed", Description: "Random seed read once at start; the same seed gives the same video. -1 picks a random seed.",
			Schema: objectSchema(map[string]any{
				"seed": map[string]any{"type": "integer", "minimum": -1},
			}, "seed")},
		{Name: "start", Description: "Start generating; a prompt must have been set first.", Schema: objectSchema(nil)},
		{Name: "pause", Description: "Pause generation at the current chunk.", Schema: objectSchema(nil)},
		{Name: "resume", Description: "Resume a paused generation.", Schema: objectSchema(nil)},
		{Name: "reset", Description: "Stop and clear prompt, image and position.", Schema: objectSchema(nil)},
		// Snapshots (PROTOCOL.md §9.6): answered at once with a reply body.
		{Name: "save_snapshot", Description: "Save the current world state; the reply carries its snapshot_index.",
			Schema: objectSchema(map[string]any{"label": stringProp("Optional label shown by list_snapshots.")})},
		{Name: "list_snapshots", Description: "List the saved snapshots: snapshot_index, chunk, label, parent_id.", Schema: objectSchema(nil)},
		{Name: "rewind", Description: "Return to a saved snapshot; the reply says where it landed (snapshot_index, chunk).",
			Schema: objectSchema(map[string]any{
				"snapshot_index": map[string]any{"type": "integer", "minimum": 0, "description": "A snapshot_index from save_snapshot or list_snapshots."},
			}, "snapshot_index")},
	}
	return buildModel(modelSpec{
		names:       []string{"helios", "reactor/helios"},
		version:     "0.9.0",
		fps:         video.FPS,
		width:       video.Width,
		height:      video.Height,
		tracks:      []wire.TrackSpec{{Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}},
		commands:    cmds,
		semantics:   model.HeliosSemantics,
		clip:        media.DefaultClip,
		chunkFrames: video.ChunkFrames,
		messages: map[string]map[string]any{
			"state": {
				"type": "object",
				"properties": map[string]any{
					"started":        map[string]any{"type": "boolean"},
					"running":        map[string]any{"type": "boolean"},
					"paused":         map[string]any{"type": "boolean"},
					"current_prompt": map[string]any{"type": []any{"string", "null"}},
					"current_chunk":  map[string]any{"type": "integer"},
					"current_frame":  map[string]any{"type": "integer"},
					"image_set":      map[string]any{"type": "boolean"},
					// Not in the platform's documented list; the mock adds them so
					// a client can see every setter's effect.
					"sr_scale":       map[string]any{"type": "string"},
					"seed":           map[string]any{"type": "integer"},
					"image_strength": map[string]any{"type": "number"},
				},
			},
			"chunk_complete":     {"type": "object", "properties": map[string]any{"chunk": map[string]any{"type": "integer"}}},
			"generation_started": {"type": "object"},
			"generation_paused":  {"type": "object"},
			// The platform's exact names for these two are unconfirmed
			// (PLATFORM.md §6); the mock's synthetic model emits them.
			"image_accepted": {"type": "object"},
			"command_error": {"type": "object", "properties": map[string]any{
				"command": map[string]any{"type": "string"}, "code": map[string]any{"type": "string"},
				"message": map[string]any{"type": "string"}}},
		},
	})
}
