package mockserver

import (
	"github.com/reactor-harness/reactor-harness/fixtures/video"
	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/wire"
)

// LingBotModel is the LingBot-like navigable world model (PROTOCOL.md §9.6):
// 16 fps at 1664x960, a seed image and a prompt before start, WASD movement
// and look controls.
func LingBotModel() *Model { return lingbotModel }

var lingbotModel = register(buildLingBot())

// lingbotMaxRotation bounds set_rotation_speed_deg (degrees per frame). The
// platform documents no range; this is the mock's.
const lingbotMaxRotation = 45

func directionSchema(param, desc string, values ...any) map[string]any {
	return objectSchema(map[string]any{
		param: map[string]any{"type": "string", "enum": values, "description": desc},
	}, param)
}

func buildLingBot() *Model {
	cmds := []*Command{
		{Name: "set_prompt", Description: "Set the text prompt; may be sent again at any time to re-steer. Emits prompt_accepted then conditions_ready.",
			Schema: objectSchema(map[string]any{"prompt": stringProp("Text prompt.")}, "prompt")},
		{Name: "set_image", Description: "Set the seed image (required before start). Emits image_accepted then conditions_ready.",
			Schema: objectSchema(map[string]any{"image": fileRefSchema("Seed image.")}, "image")},
		{Name: "set_movement", Description: "WASD movement direction; idle holds position. Applies at the next chunk boundary.",
			Schema: directionSchema("movement", "Movement direction (default idle).", "idle", "forward", "back", "strafe_left", "strafe_right")},
		{Name: "set_look_horizontal", Description: "Turn the camera left or right; idle stops turning.",
			Schema: directionSchema("look_horizontal", "Horizontal look direction (default idle).", "idle", "left", "right")},
		{Name: "set_look_vertical", Description: "Tilt the camera up or down; idle stops tilting.",
			Schema: directionSchema("look_vertical", "Vertical look direction (default idle).", "idle", "up", "down")},
		{Name: "set_rotation_speed_deg", Description: "How fast the look commands turn the camera, in degrees per frame.",
			Schema: objectSchema(map[string]any{
				"rotation_speed_deg": map[string]any{"type": "number", "minimum": 0, "maximum": lingbotMaxRotation},
			}, "rotation_speed_deg")},
		{Name: "set_seed", Description: "Random seed read at start; -1 picks a random seed.",
			Schema: objectSchema(map[string]any{"seed": map[string]any{"type": "integer", "minimum": -1}}, "seed")},
		{Name: "start", Description: "WAITING to GENERATING; needs a seed image and a prompt.", Schema: objectSchema(nil)},
		{Name: "pause", Description: "GENERATING to PAUSED.", Schema: objectSchema(nil)},
		{Name: "resume", Description: "PAUSED to GENERATING.", Schema: objectSchema(nil)},
		{Name: "reset", Description: "Clear prompt, image and controls; back to WAITING from any state.", Schema: objectSchema(nil)},
	}
	intProp := map[string]any{"type": "integer"}
	strProp := map[string]any{"type": "string"}
	return buildModel(modelSpec{
		names:       []string{"reactor/lingbot", "lingbot", "@reactor-models/lingbot"},
		rank:        1,
		version:     "0.2.40",
		fps:         video.LingBotFPS,
		width:       video.LingBotWidth,
		height:      video.LingBotHeight,
		tracks:      []wire.TrackSpec{{Name: "main_video", Kind: "video", Direction: wire.DirectionRecvOnly}},
		commands:    cmds,
		semantics:   model.LingBotSemantics,
		clip:        media.ClipLoader(video.LingBotIVF, video.LingBotChunkFrames),
		chunkFrames: video.LingBotChunkFrames,
		messages: map[string]map[string]any{
			"state": {"type": "object", "properties": map[string]any{
				"state":          map[string]any{"type": "string", "enum": []any{model.PhaseWaiting, model.PhaseGenerating, model.PhasePaused}},
				"current_prompt": map[string]any{"type": []any{"string", "null"}},
				"image_set":      map[string]any{"type": "boolean"},
				"current_chunk":  intProp, "current_frame": intProp, "run": intProp, "seed": intProp,
				"movement": strProp, "look_horizontal": strProp, "look_vertical": strProp,
				"rotation_speed_deg": map[string]any{"type": "number"},
			}},
			"prompt_accepted":     {"type": "object", "properties": map[string]any{"prompt": strProp}},
			"image_accepted":      {"type": "object"},
			"conditions_ready":    {"type": "object", "properties": map[string]any{"has_prompt": map[string]any{"type": "boolean"}, "has_image": map[string]any{"type": "boolean"}}},
			"chunk_complete":      {"type": "object", "properties": map[string]any{"chunk": intProp, "run": intProp}},
			"generation_started":  {"type": "object", "properties": map[string]any{"run": intProp}},
			"generation_paused":   {"type": "object"},
			"generation_complete": {"type": "object", "properties": map[string]any{"run": intProp, "chunks": intProp}},
			"command_error": {"type": "object", "properties": map[string]any{
				"command": strProp, "code": strProp, "message": strProp}},
		},
	})
}
