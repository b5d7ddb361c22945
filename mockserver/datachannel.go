package mockserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver/model"
	"github.com/reactor-harness/reactor-harness/mockserver/peer"
	"github.com/reactor-harness/reactor-harness/wire"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// Data-channel semantics (PROTOCOL.md §3): what the runtime does with each
// decoded frame. The peer package has already latched the codec, decoded
// the frame, dropped oversized or undecodable ones (answering a v1 request
// among them with invalid_command) and minted ids for v1 commands without
// one; here every frame is journaled and acted on.

// Reasons the mock gives for refusals it decides itself.
const (
	clipUnsupported = "clips and recordings are not available on this mock"
)

// handleFrame runs on the channel's read loop, so frames of one channel are
// handled in order; a command that waits for its upload holds up that
// channel only (bounded by the model's upload wait and the connection's
// context).
func (sp *sessionPlane) handleFrame(cid int, c *peer.Conn, f peer.Frame) {
	at := time.Now()
	detail := ""
	if f.Err != nil {
		detail = "dropped: " + f.Err.Error()
	} else {
		detail = sp.dispatch(c, f)
	}
	scope, codec := f.Scope, f.Codec.String()
	if f.Legacy {
		codec = "legacy" // a flat 2.2.1 frame: no scope, Type is the command
	} else if scope == "" && f.Err == nil && f.Channel == peer.ChannelData && f.Kind == peer.KindCommand {
		scope = "application" // a v1 command, scoped as v0 would scope it
	}
	e := Entry{
		Channel: string(f.Channel), ConnectionID: cid, Codec: codec, Scope: scope, Type: f.Type,
		RequestID: f.RequestID, SessionID: sp.id, BodyBytes: f.Size, Detail: detail, at: at,
	}
	if c.Chunking().Negotiated() {
		e.Frames = f.Frames
	}
	if f.Err == nil && f.Kind == peer.KindClientStats {
		sp.stats.add(cid, at, *f.Stats)
		e.ClientStats = f.Stats
	}
	if f.Err == nil && f.Kind == peer.KindCommand {
		e.SHA256, e.DataSHA256 = f.SHA256, DataDigest(f.Data)
		e.Data, e.DataTruncated = journalData(f.RawData, f.Data)
		if len(f.Uploads) > 0 {
			e.Uploads = maps.Clone(f.Uploads)
		}
	}
	sp.p.s.journal.Add(e)
}

// journalChunking records how a connection's data-channel chunking was
// negotiated, unless the offer did not ask for it.
func (sp *sessionPlane) journalChunking(cid int, r peer.ChunkingResult) {
	var detail string
	switch r.Outcome {
	case peer.ChunkingAbsent:
		return
	case peer.ChunkingNegotiated:
		detail = fmt.Sprintf("negotiated: offer max-message-size %d; send limit %d, receive limit %d",
			r.Offered, r.SendLimit, r.RecvLimit)
	case peer.ChunkingRefused:
		detail = "refused by the scenario (transport.dc_chunking false): plain 256 KiB messages"
	default:
		detail = "ignored a malformed attribute: " + r.Reason
	}
	sp.p.s.journal.Add(Entry{SessionID: sp.id, ConnectionID: cid, Type: "dc_chunking", Detail: detail})
}

// DataDigest is the hex SHA-256 of a command's data as compact JSON with
// sorted keys (encoding/json of the decoded object): a client computes the
// same from the object it sent, so a large command can be proved intact
// without the journal holding it ("" when data does not encode).
func DataDigest(data map[string]any) string {
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// dispatch acts on one frame and returns a note for the journal ("" when
// there is nothing to say).
func (sp *sessionPlane) dispatch(c *peer.Conn, f peer.Frame) string {
	switch f.Kind {
	case peer.KindPing, peer.KindOther:
		return "" // liveness only (the watchdog already counted it)
	case peer.KindRequestSchema:
		if err := c.SendSchema(f.RequestID, sp.rt); err != nil {
			return "schema not sent: " + err.Error()
		}
		return ""
	case peer.KindFileUploaded:
		return sp.fileUploaded(f.File)
	case peer.KindCommand:
		return sp.command(c, f)
	case peer.KindResumeTrack, peer.KindPauseTrack:
		st := sp.streams[f.Track]
		if st == nil {
			return fmt.Sprintf("no output track %q (outputs: %s)", f.Track, sp.outputNames())
		}
		if f.Kind == peer.KindResumeTrack {
			st.Resume()
		} else {
			st.Pause()
		}
		return ""
	case peer.KindPublishTrack:
		werr := sp.publish(c, f.Track)
		if err := c.RespondPublish(f.RequestID, f.Track, werr); err != nil {
			return "publish reply not sent: " + err.Error()
		}
		if werr != nil {
			return "refused: " + werr.Error()
		}
		return "granted"
	case peer.KindUnpublishTrack:
		sp.unpublish(c, f.Track)
		return ""
	case peer.KindRequestClip, peer.KindRequestRecording:
		_ = c.RespondClipFailed(f.RequestID, clipUnsupported)
		return "clip refused: " + clipUnsupported
	}
	return ""
}

// command hands a command to the model. v1 requests get their correlated
// RESPONSE: a bodyless ack or the model's reply when accepted, Error with
// the model's code when refused. v0 commands are fire-and-forget; a refusal
// reaches the client as the model's command_error message, which the model
// emits itself.
func (sp *sessionPlane) command(c *peer.Conn, f peer.Frame) string {
	res, err := sp.rt.Submit(c.Context(), model.Command{Name: f.Command, Data: f.Data, Uploads: f.Uploads, RequestID: f.RequestID})
	var werr *peer.WireError
	if err != nil {
		var ce *model.CommandError
		if errors.As(err, &ce) {
			werr = &peer.WireError{Code: ce.Code, Message: ce.Message}
		} else {
			werr = &peer.WireError{Code: wirev1.CodeInternalError, Message: err.Error()}
		}
	}
	if f.Request {
		var reply *peer.ModelReply
		if res.Reply != nil {
			reply = &peer.ModelReply{Type: res.Reply.Type, Data: res.Reply.Data}
		}
		if serr := c.RespondCommand(f.RequestID, reply, werr); serr != nil {
			return fmt.Sprintf("reply not sent: %v", serr)
		}
	}
	if werr != nil {
		return "refused: " + werr.Error()
	}
	return fmt.Sprintf("accepted as command %d", res.CommandID)
}

// fileUploaded checks that the upload the client announces exists and
// belongs to this session; the runtime sends nothing back either way.
func (sp *sessionPlane) fileUploaded(ref wire.FileRef) string {
	info, ok := sp.p.s.uploads.lookup(ref.UploadID)
	switch {
	case !ok:
		return fmt.Sprintf("unknown upload %q", ref.UploadID)
	case info.SessionID != sp.id:
		return fmt.Sprintf("upload %q belongs to another session", ref.UploadID)
	case !info.Completed:
		return fmt.Sprintf("upload %q has no bytes yet", ref.UploadID)
	case ref.Size != 0 && ref.Size != info.Size:
		return fmt.Sprintf("upload %q: notice says %d bytes, the upload has %d", ref.UploadID, ref.Size, info.Size)
	}
	return "upload complete"
}

// publish gives a connection the single publisher slot of an input track.
func (sp *sessionPlane) publish(c *peer.Conn, name string) *peer.WireError {
	if !sp.isInput(name) {
		return &peer.WireError{Code: wirev1.CodePublishRefused,
			Message: fmt.Sprintf("model %s has no input track %q", sp.model.Name(), name)}
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if pub := sp.publishers[name]; pub != nil && pub != c && !pub.Closed() {
		return &peer.WireError{Code: wirev1.CodePublishRefused, Message: "track already published"}
	}
	sp.publishers[name] = c
	return nil
}

func (sp *sessionPlane) unpublish(c *peer.Conn, name string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.publishers[name] == c {
		delete(sp.publishers, name)
	}
}

func (sp *sessionPlane) isInput(name string) bool {
	for _, t := range sp.model.Capabilities().Tracks {
		if t.Name == name && t.Direction == wire.DirectionSendOnly {
			return true
		}
	}
	return false
}

func (sp *sessionPlane) outputNames() string {
	names := ""
	for _, t := range sp.model.Capabilities().Tracks {
		if t.Direction == wire.DirectionRecvOnly {
			if names != "" {
				names += ", "
			}
			names += t.Name
		}
	}
	return names
}
