package model_test

import (
	"context"
	"fmt"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/mockserver/media"
	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/wire"
)

// How the mock server's glue wires a Runtime: Submit from the data channel,
// OnFrame from media.StreamConfig.OnFrame (its result goes to
// Stream.SetCommandID), Emit to the data channel.
func Example() {
	// Once per model, shared by every session of it.
	helios := mockserver.HeliosModel()
	cat, err := model.NewCatalog(helios.Capabilities().Commands)
	if err != nil {
		panic(err)
	}
	doc := helios.OpenAPI()

	// Once per session.
	rt, err := model.New(model.Config{
		Catalog: cat,
		Schema:  doc,
		ResolveUpload: func(ctx context.Context, ref wire.FileRef) error {
			return nil // the glue waits on the upload store and compares sizes
		},
		Emit: func(m model.Message) {
			fmt.Println("message:", m.Type) // the glue queues it for the data channel
		},
	})
	if err != nil {
		panic(err)
	}
	var stamped uint32 // stands in for Stream.SetCommandID
	onFrame := func(fi media.FrameInfo) {
		stamped = rt.OnFrame(model.Frame{Seq: fi.Seq, Chunk: fi.Chunk, ChunkBoundary: fi.ChunkBoundary})
	}

	// A command arrives on the data channel; v1 answers with a bodyless ack.
	res, err := rt.Submit(context.Background(), model.Command{Name: "set_prompt", Data: map[string]any{"prompt": "a cat"}})
	fmt.Println("accepted id:", res.CommandID, "error:", err)
	_, err = rt.Submit(context.Background(), model.Command{Name: "start", Data: map[string]any{"now": true}})
	fmt.Println("refused:", err)

	// The media worker captures frames; the command applies on the chunk's first frame.
	onFrame(media.FrameInfo{Seq: 1, Chunk: 0, ChunkBoundary: true})
	fmt.Println("frame 1 stamped with:", stamped)

	// Output:
	// accepted id: 1 error: <nil>
	// message: command_error
	// refused: invalid_command: start: (root): additional properties 'now' not allowed
	// message: state
	// frame 1 stamped with: 1
}
