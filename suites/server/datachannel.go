package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Data channels, PROTOCOL.md §3: the client creates "control" then "data";
// v0 is the JSON envelope (fire-and-forget commands, runtime messages on
// data), v1 is protobuf with request ids and correlated responses. The
// codec is latched by the client's first frame.

func init() {
	register(Case{ID: "data/1", Section: "3", Check: dataReady,
		Requirement: "the server MUST accept the client-created control and data channels: the client reaches ready (peer connected, both channels open)"})
	register(Case{ID: "data/2", Section: "3.2", Check: dataSchema(client.CodecV0),
		Requirement: "a v0 runtime requestSchema on data MUST be answered with a runtime modelSchema carrying an OpenAPI 3 document"})
	register(Case{ID: "data/3", Section: "3.3", Check: dataSchema(client.CodecV1),
		Requirement: "a v1 RequestSchema REQUEST on control MUST be answered with a RESPONSE carrying the same request_id and an OpenAPI 3 document"})
	register(Case{ID: "data/4", Section: "3.2", Check: dataV0Command,
		Requirement: "v0 application commands (set_prompt, then start) MUST be accepted and lead to application-scope messages from the model"})
	register(Case{ID: "data/5", Section: "3.3", Check: dataV1Command,
		Requirement: "a valid v1 Command REQUEST MUST get a RESPONSE with the same request_id and no Error"})
	register(Case{ID: "data/6", Section: "3.3", Check: dataV1Invalid,
		Requirement: "a v1 command whose data fails the command's schema MUST get an Error response with code invalid_command"})
	register(Case{ID: "data/7", Section: "3.3", Check: dataUnresolvedUpload,
		Requirement: "a v1 command referencing an upload id that was never reserved MUST get an Error response with code unresolved_upload"})
	register(Case{ID: "data/8", Section: "1.2", Check: dataUploadedFile,
		Requirement: "a file uploaded to the session (reserve, PUT, fileUploaded) MUST be usable as a FileRef argument of a v1 command"})
	register(Case{ID: "data/9", Section: "3.2", Pending: "the default model (helios) has no sendonly input track to publish; needs a model with one",
		Requirement: "a publish_track request on control MUST get a response with the same request_id (granted, or publish_refused)"})
	// PROTOCOL.md §9.6, checks in snapshots.go.
	register(Case{ID: "data/10", Section: "9.6", Check: dataSnapshots,
		Requirement: "Helios snapshots: v1 save_snapshot {label} MUST reply {snapshot_index}, list_snapshots MUST list it with chunk, label and parent_id, rewind MUST reply where it landed"})
	register(Case{ID: "data/11", Section: "9.6", Check: dataSnapshotUnknown,
		Requirement: "rewind to a snapshot_index that was never saved MUST get an Error response, not an ack"})
}

func dataReady(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV0, true, nil)
	if err != nil {
		return err
	}
	if st := c.Status(); st != client.StatusReady {
		return fmt.Errorf("after Connect the client is %q, expected ready", st)
	}
	return nil
}

func dataSchema(codec client.Codec) Check {
	return func(ctx context.Context, r *Run) error {
		c, err := r.connect(ctx, codec, true, nil)
		if err != nil {
			return err
		}
		msg, err := c.RequestSchema(ctx)
		if err != nil {
			return fmt.Errorf("schema request (%s codec) was not answered: %w", codec, err)
		}
		return checkOpenAPI(msg.Data)
	}
}

// checkOpenAPI requires the parts of the model schema clients rely on: an
// OpenAPI 3 version and the paths object holding the model's commands.
func checkOpenAPI(doc map[string]any) error {
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		return fmt.Errorf("the schema's openapi field is %v; expected an OpenAPI 3 version string", doc["openapi"])
	}
	if _, ok := doc["paths"].(map[string]any); !ok {
		return fmt.Errorf("the schema has no paths object (the model's commands live under paths[\"/events/<name>\"])")
	}
	return nil
}

func dataV0Command(ctx context.Context, r *Run) error {
	log := &frameLog{}
	c, err := r.connect(ctx, client.CodecV0, true, log)
	if err != nil {
		return err
	}
	if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "a conformance test pattern"}); err != nil {
		return fmt.Errorf("sending set_prompt: %w", err)
	}
	if _, err := c.SendCommand(ctx, "start", map[string]any{}); err != nil {
		return fmt.Errorf("sending start: %w", err)
	}
	ok, err := waitFor(ctx, 10*time.Second, func() bool { return len(log.appMessages()) > 0 })
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no application-scope message within 10 s of set_prompt + start (v0); the model should report its state")
	}
	return nil
}

func dataV1Command(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "a conformance test pattern"}); err != nil {
		return fmt.Errorf("v1 set_prompt: %w", err)
	}
	return nil
}

// wantRemoteCode requires err to be the runtime's Error with code.
func wantRemoteCode(err error, code, what string) error {
	if err == nil {
		return fmt.Errorf("%s was accepted; expected an Error response with code %s", what, code)
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("%s: expected an Error response with code %s, got %v", what, code, err)
	}
	if ce.Code != code {
		return fmt.Errorf("%s: expected an Error response with code %s, got code %q (%v)", what, code, ce.Code, err)
	}
	return nil
}

func dataV1Invalid(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	_, err = c.SendCommand(ctx, "set_seed", map[string]any{"seed": "not-a-number"})
	return wantRemoteCode(err, "invalid_command", `set_seed {"seed": "not-a-number"}`)
}

func dataUnresolvedUpload(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	ref := wire.FileRef{UploadID: "upl_conformance_missing_" + randHex(6), Name: "missing.png", MimeType: "image/png", Size: 10}
	_, err = c.SendCommand(ctx, "set_image", map[string]any{"image": ref})
	return wantRemoteCode(err, "unresolved_upload", "set_image with a FileRef to an upload that was never reserved")
}

func dataUploadedFile(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	ref, err := c.Upload(ctx, "conformance.png", "image/png", payload(256))
	if err != nil {
		return fmt.Errorf("uploading 256 bytes: %w", err)
	}
	if _, err := c.SendCommand(ctx, "set_image", map[string]any{"image": ref}); err != nil {
		return fmt.Errorf("set_image with the uploaded FileRef %s: %w", jsonOf(ref), err)
	}
	return nil
}
