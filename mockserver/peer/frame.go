package peer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// Channel is a data channel's role. The runtime binds by label: "control"
// is the control channel, any other label is the data channel
// (PROTOCOL.md §3).
type Channel string

// The two roles.
const (
	ChannelControl Channel = "control"
	ChannelData    Channel = "data"
)

// ChannelFor maps a data channel label to its role.
func ChannelFor(label string) Channel {
	if label == string(ChannelControl) {
		return ChannelControl
	}
	return ChannelData
}

// Kind says what an inbound frame asks for, whatever its codec.
type Kind uint8

// Frame kinds.
const (
	// KindOther is a well-formed frame the runtime does not act on: a
	// response or error sent by the client, or a v1 payload this build
	// does not know.
	KindOther Kind = iota
	KindCommand
	KindPing
	KindRequestSchema
	KindFileUploaded
	KindRequestClip
	KindRequestRecording
	KindPublishTrack
	KindPauseTrack
	KindResumeTrack
	KindUnpublishTrack
	// KindClientStats is a v1 ClientStats report (PROTOCOL.md §9.3).
	KindClientStats
)

var kindNames = [...]string{"other", "command", "ping", "request_schema", "file_uploaded", "request_clip",
	"request_recording", "publish_track", "pause_track", "resume_track", "unpublish_track", "client_stats"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Frame is one inbound data-channel message, decoded. When Err is set the
// frame was dropped (too large or undecodable) and only Channel, Codec,
// Text, Size, Type and RequestID (as far as they could be read) are
// meaningful.
type Frame struct {
	Channel Channel
	Label   string
	Codec   wirev0.Codec
	// Legacy: a 2.2.1-era flat {"type","data"} frame on "data" (PROTOCOL.md
	// §3.1), decoded as a command; Codec is V0 and Scope is empty.
	Legacy bool
	Text   bool // sent as a text (string) message
	Size   int  // bytes
	// Frames is how many SCTP messages the message arrived in: 1 on a
	// plain channel, the dcchunk frame count on a chunked one.
	Frames int
	// SHA256 is the hex SHA-256 of a command's whole message as received
	// (reassembled), so a large command can be checked byte for byte.
	SHA256 string

	Kind Kind
	// Scope is the v0 envelope scope ("application" or "runtime"), or ""
	// for control frames and v1.
	Scope string
	// Type is what the journal shows as the frame's type: the v0 message
	// type, the v0 control event or method, or the v1 payload name.
	Type string
	// RequestID correlates a reply; Request says the client expects one (v1
	// REQUEST, v0 control request). A v1 command REQUEST without an id gets
	// one minted ("srv_<n>") as the runtime does.
	RequestID string
	Request   bool

	// Command payload (KindCommand): the command name, its data object and
	// the FileRefs the client moved into uploads. RawData is the data as
	// the client sent it, for v0 and legacy frames (JSON; nil when absent,
	// and for v1, whose data is a protobuf Struct).
	Command string
	Data    map[string]any
	RawData json.RawMessage
	Uploads map[string]wire.FileRef
	// Track is the track a track verb names.
	Track string
	// File is the upload a fileUploaded notice names.
	File wire.FileRef
	// Seconds is request_clip's duration.
	Seconds float64
	// Stats is a client_stats report, checked (wirev1.ReadStats).
	Stats *wirev1.StatsReport

	Err error
}

// ErrUndecodable wraps every decoding failure.
var ErrUndecodable = errors.New("undecodable frame")

// decodeFrame decodes raw under the connection's codec. It never panics on
// any input; failures come back as Frame.Err.
// limit is the largest message the connection accepts: 256 KiB on a plain
// channel, the negotiated receive limit on a chunked one.
func decodeFrame(ch Channel, codec wirev0.Codec, raw []byte, text bool, limit int) Frame {
	f := Frame{Channel: ch, Codec: codec, Text: text, Size: len(raw)}
	if err := checkSize(raw, limit); err != nil {
		if codec == wirev0.V1 {
			f.RequestID, f.Request = peekV1Request(raw)
		}
		f.Err = err
		return f
	}
	switch {
	case codec == wirev0.V0 && ch == ChannelData:
		decodeV0Data(&f, raw)
	case codec == wirev0.V0:
		decodeV0Control(&f, raw)
	case ch == ChannelData:
		decodeV1Data(&f, raw)
	default:
		decodeV1Control(&f, raw)
	}
	if f.Err != nil && codec == wirev0.V1 && f.RequestID == "" {
		f.RequestID, f.Request = peekV1Request(raw)
	}
	return f
}

func checkSize(raw []byte, limit int) error {
	if limit <= wirev0.MaxMessageBytes {
		return wirev0.CheckSize(raw)
	}
	if len(raw) > limit {
		return fmt.Errorf("%w: %d bytes, limit %d", wirev0.ErrTooLarge, len(raw), limit)
	}
	return nil
}

func undecodable(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUndecodable, fmt.Sprintf(format, a...))
}

func decodeV0Data(f *Frame, raw []byte) {
	env, err := wirev0.DecodeEnvelope(raw)
	if errors.Is(err, wirev0.ErrMissingScope) {
		// No "scope": a 2.2.1 flat {"type":"<command>","data":...} frame
		// when it has a "type" (PROTOCOL.md §3.1), else undecodable.
		if lf, lerr := wirev0.DecodeLegacy(raw); lerr == nil {
			decodeLegacyCommand(f, lf)
			return
		}
	}
	if err != nil {
		f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
		return
	}
	f.Scope, f.Type = string(env.Scope), env.Data.Type
	if env.Scope == wirev0.ScopeApplication {
		obj, err := env.Data.Object()
		if err != nil {
			f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
			return
		}
		f.Kind, f.Command, f.Data, f.Uploads = KindCommand, env.Data.Type, obj, env.Data.Uploads
		f.RawData = env.Data.Data
		return
	}
	switch env.Data.Type {
	case wirev0.TypePing:
		f.Kind = KindPing
	case wirev0.TypeRequestSchema:
		f.Kind = KindRequestSchema
	case wirev0.TypeRequestRecording:
		f.Kind = KindRequestRecording
	case wirev0.TypeRequestClip:
		var rc wirev0.RequestClip
		if err := env.Data.DecodeData(&rc); err != nil {
			f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
			return
		}
		f.Kind, f.Seconds = KindRequestClip, rc.DurationSeconds
	case wirev0.TypeFileUploaded:
		var ref wire.FileRef
		if err := env.Data.DecodeData(&ref); err != nil {
			f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
			return
		}
		if ref.UploadID == "" {
			f.Err = undecodable("fileUploaded without upload_id")
			return
		}
		f.Kind, f.File = KindFileUploaded, ref
	default:
		// The runtime's v0 decoder knows only the types above; anything
		// else (JS 2.9.0's requestCapabilities, say) is dropped.
		f.Err = undecodable("unknown runtime message type %q", env.Data.Type)
	}
}

// decodeLegacyCommand reads a flat frame as a command: every flat frame a
// 2.2.1 client sends is one (it has no runtime messages, no ping and no
// uploads). The payload may be any JSON value on that wire; the model takes
// an object, so an absent or null payload reads as {} and anything else
// that is not an object is dropped.
func decodeLegacyCommand(f *Frame, lf wirev0.LegacyFrame) {
	f.Legacy, f.Type = true, lf.Type
	obj := map[string]any{}
	switch t := bytes.TrimSpace(lf.Data); {
	case len(t) == 0 || string(t) == "null":
	case t[0] == '{':
		if err := json.Unmarshal(t, &obj); err != nil {
			f.Err = undecodable("legacy command %q: data: %v", lf.Type, err)
			return
		}
		f.RawData = lf.Data
	default:
		f.Err = undecodable("legacy command %q: data must be a JSON object, got %s", lf.Type, clipText(t, 40))
		return
	}
	f.Kind, f.Command, f.Data = KindCommand, lf.Type, obj
}

// clipText shortens b for an error message.
func clipText(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}

func decodeV0Control(f *Frame, raw []byte) {
	cf, err := wirev0.DecodeControl(raw)
	if err != nil {
		f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
		return
	}
	f.RequestID = cf.RequestID
	switch cf.Type {
	case wirev0.ControlRequest:
		f.Type, f.Request = cf.Method, true
		name, err := cf.TrackName()
		if err != nil {
			f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
			return
		}
		f.Kind, f.Track = KindPublishTrack, name
	case wirev0.ControlNotification:
		f.Type = cf.Event
		name, err := cf.TrackName()
		if err != nil {
			f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
			return
		}
		f.Track = name
		switch cf.Event {
		case wirev0.EventPauseTrack:
			f.Kind = KindPauseTrack
		case wirev0.EventResumeTrack:
			f.Kind = KindResumeTrack
		case wirev0.EventUnpublishTrack:
			f.Kind = KindUnpublishTrack
		}
	default:
		f.Type, f.Kind = cf.Type, KindOther
	}
}

func decodeV1Data(f *Frame, raw []byte) {
	m, err := wirev1.DecodeDataClient(raw)
	if err != nil {
		f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
		return
	}
	f.Type, f.RequestID = wirev1.PayloadName(m), m.GetRequestId()
	f.Request = expectsReply(m.GetKind())
	switch p := m.GetPayload().(type) {
	case *wirev1.DataClientMessage_Command:
		cmd := p.Command
		if cmd.GetType() == "" {
			f.Err = undecodable("command has an empty type")
			return
		}
		// The journal names a command by its type in both codecs.
		f.Kind, f.Type, f.Command, f.Data = KindCommand, cmd.GetType(), cmd.GetType(), wirev1.FromStruct(cmd.GetData())
		if len(cmd.GetUploads()) > 0 {
			f.Uploads = make(map[string]wire.FileRef, len(cmd.GetUploads()))
			for param, ref := range cmd.GetUploads() {
				if ref.GetUploadId() == "" {
					f.Err = undecodable("uploads[%q] has no upload_id", param)
					return
				}
				f.Uploads[param] = wirev1.ToFileRef(ref)
			}
		}
	case nil:
		f.Err = undecodable("DataClientMessage without a payload")
	default:
		f.Kind = KindOther
	}
}

func decodeV1Control(f *Frame, raw []byte) {
	m, err := wirev1.DecodeControlClient(raw)
	if err != nil {
		f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
		return
	}
	f.Type, f.RequestID = wirev1.PayloadName(m), m.GetRequestId()
	f.Request = expectsReply(m.GetKind())
	switch p := m.GetPayload().(type) {
	case *wirev1.ControlClientMessage_Ping:
		f.Kind = KindPing
	case *wirev1.ControlClientMessage_RequestSchema:
		f.Kind = KindRequestSchema
	case *wirev1.ControlClientMessage_FileUploaded:
		fu := p.FileUploaded
		if fu.GetUploadId() == "" {
			f.Err = undecodable("file_uploaded without upload_id")
			return
		}
		f.Kind = KindFileUploaded
		f.File = wire.FileRef{UploadID: fu.GetUploadId(), Name: fu.GetName(), MimeType: fu.GetMimeType(), Size: fu.GetSize()}
	case *wirev1.ControlClientMessage_RequestClip:
		f.Kind, f.Seconds = KindRequestClip, p.RequestClip.GetDurationSeconds()
	case *wirev1.ControlClientMessage_RequestRecording:
		f.Kind = KindRequestRecording
	case *wirev1.ControlClientMessage_PublishTrack:
		f.Kind, f.Track = KindPublishTrack, p.PublishTrack.GetName()
	case *wirev1.ControlClientMessage_PauseTrack:
		f.Kind, f.Track = KindPauseTrack, p.PauseTrack.GetName()
	case *wirev1.ControlClientMessage_ResumeTrack:
		f.Kind, f.Track = KindResumeTrack, p.ResumeTrack.GetName()
	case *wirev1.ControlClientMessage_UnpublishTrack:
		f.Kind, f.Track = KindUnpublishTrack, p.UnpublishTrack.GetName()
	case *wirev1.ControlClientMessage_ClientStats:
		r, err := wirev1.ReadStats(p.ClientStats)
		if err != nil {
			f.Err = fmt.Errorf("%w: %v", ErrUndecodable, err)
			return
		}
		f.Kind, f.Stats = KindClientStats, &r
	case nil:
		f.Err = undecodable("ControlClientMessage without a payload")
		return
	default:
		f.Kind = KindOther
	}
	if isTrackVerb(f.Kind) && f.Track == "" {
		f.Err = undecodable("%s without a track name", f.Type)
	}
}

func isTrackVerb(k Kind) bool {
	return k == KindPublishTrack || k == KindPauseTrack || k == KindResumeTrack || k == KindUnpublishTrack
}

// expectsReply: a REQUEST, or a message of unspecified kind (a lax
// client), wants an answer; notifications and responses do not.
func expectsReply(k wirev1.MessageKind) bool {
	return k == wirev1.KindRequest || k == wirev1.MessageKind_MESSAGE_KIND_UNSPECIFIED
}

// peekV1Request reads request_id (field 1) and kind (field 2) from the
// front of a v1 frame that cannot be decoded as a whole (oversized or
// corrupt further on), so the client can still be told its request failed.
// It stops at the first malformed field.
func peekV1Request(raw []byte) (requestID string, request bool) {
	kind := wirev1.MessageKind_MESSAGE_KIND_UNSPECIFIED
	b := raw
	for range 64 { // the two fields come first in practice; never scan far
		if len(b) == 0 {
			break
		}
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			break
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return requestID, requestID != "" && expectsReply(kind)
			}
			requestID, b = string(v), b[m:]
			continue
		case num == 2 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return requestID, requestID != "" && expectsReply(kind)
			}
			kind, b = wirev1.MessageKind(v), b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			break
		}
		b = b[m:]
	}
	if len(requestID) > 256 || !utf8.ValidString(requestID) {
		return "", false // not an id this runtime could echo back
	}
	return requestID, requestID != "" && expectsReply(kind)
}

// marshalV1 encodes a server message; the builders only produce valid
// messages, so an error here is a bug reported to the caller.
func marshalV1(m proto.Message) ([]byte, error) { return wirev1.Marshal(m) }
