package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// Message scopes: model traffic and platform traffic.
const (
	ScopeApplication = "application"
	ScopeRuntime     = "runtime"
)

// Message kinds (v1 MessageKind, and the v0 control frame types).
const (
	KindRequest      = "request"
	KindResponse     = "response"
	KindNotification = "notification"
)

// Message is one inbound data-channel message, decoded per the codec of the
// frame (a text or JSON frame is v0, anything else v1).
//
// Types use the v0 vocabulary in both codecs: model messages keep the
// model's type; platform messages are "modelSchema", "clipReady",
// "clipFailed", "moderation", "sessionEnded", and the track verbs of the
// control channel ("publish_track", …).
type Message struct {
	Channel   string // LabelData or LabelControl
	Scope     string // ScopeApplication (model) or ScopeRuntime (platform)
	Type      string // "" for a bodyless v1 ack
	Kind      string // KindRequest/Response/Notification; "" for v0 data frames
	RequestID string
	Data      map[string]any
	Error     *RemoteError // a runtime Error payload / v0 control error
	Codec     Codec
	Received  time.Time
}

// RemoteError is an error the runtime sent on a channel.
type RemoteError struct {
	Code, Message string
}

// v1 control payload names mapped to the v0 runtime message names.
var v1ControlTypes = map[string]string{
	"model_schema":  wirev0.TypeModelSchema,
	"clip_ready":    wirev0.TypeClipReady,
	"clip_failed":   wirev0.TypeClipFailed,
	"moderation":    wirev0.TypeModeration,
	"session_ended": wirev0.TypeSessionEnded,
	"publish_track": wirev0.MethodPublishTrack,
}

func (c *Client) onChannelMessage(cn *conn, label string, m webrtc.DataChannelMessage) {
	msg, err := decodeMessage(label, m.Data, m.IsString)
	if err != nil {
		c.log.Warn("undecodable data-channel message", "channel", label, "err", err)
		return
	}
	msg.Received = time.Now()
	if c.deliver(msg) {
		return
	}
	if c.cfg.OnMessage != nil {
		c.cfg.OnMessage(*msg)
	}
}

// deliver hands a reply to its waiter; false when nobody waits for it.
func (c *Client) deliver(msg *Message) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if msg.Codec == CodecV0 {
		if msg.Type == wirev0.TypeModelSchema && msg.Scope == ScopeRuntime && len(c.schemaWaiters) > 0 {
			ch := c.schemaWaiters[0]
			c.schemaWaiters = c.schemaWaiters[1:]
			ch <- msg
			return true
		}
		if msg.Kind != KindResponse {
			return false
		}
	}
	if msg.Kind != KindResponse || msg.RequestID == "" {
		return false
	}
	ch, ok := c.waiters[msg.RequestID]
	if ok {
		delete(c.waiters, msg.RequestID)
		ch <- msg
	}
	return ok
}

// failWaiters releases every pending request when the connection goes.
func (c *Client) failWaiters() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for id, ch := range c.waiters {
		close(ch)
		delete(c.waiters, id)
	}
	for _, ch := range c.schemaWaiters {
		close(ch)
	}
	c.schemaWaiters = nil
}

func decodeMessage(label string, frame []byte, isText bool) (*Message, error) {
	if wirev0.Sniff(frame, isText) == wirev0.V0 {
		if label == LabelControl {
			return decodeV0Control(frame)
		}
		return decodeV0Data(frame)
	}
	if label == LabelControl {
		m, err := wirev1.DecodeControlServer(frame)
		if err != nil {
			return nil, err
		}
		return fromV1Control(m), nil
	}
	m, err := wirev1.DecodeDataServer(frame)
	if err != nil {
		return nil, err
	}
	return fromV1Data(m), nil
}

func decodeV0Data(frame []byte) (*Message, error) {
	env, err := wirev0.DecodeEnvelope(frame)
	if err != nil {
		// Un-enveloped JSON is an application message (the JS SDK's rule).
		var obj map[string]any
		if json.Unmarshal(frame, &obj) != nil {
			return nil, err
		}
		typ, _ := obj["type"].(string)
		data, _ := obj["data"].(map[string]any)
		if data == nil {
			data = obj
		}
		return &Message{Channel: LabelData, Scope: ScopeApplication, Type: typ, Data: data, Codec: CodecV0}, nil
	}
	data, err := env.Data.Object()
	if err != nil {
		return nil, err
	}
	return &Message{Channel: LabelData, Scope: string(env.Scope), Type: env.Data.Type, Data: data, Codec: CodecV0}, nil
}

func decodeV0Control(frame []byte) (*Message, error) {
	f, err := wirev0.DecodeControl(frame)
	if err != nil {
		return nil, err
	}
	msg := &Message{Channel: LabelControl, Scope: ScopeRuntime, Kind: f.Type, RequestID: f.RequestID, Codec: CodecV0}
	msg.Type = f.Method
	if f.Event != "" {
		msg.Type = f.Event
	}
	if len(f.Data) > 0 {
		_ = json.Unmarshal(f.Data, &msg.Data)
	}
	if f.Error != nil {
		msg.Error = &RemoteError{Code: f.Error.Code, Message: f.Error.Message}
	}
	return msg, nil
}

func kindName(k wirev1.MessageKind) string {
	switch k {
	case wirev1.KindRequest:
		return KindRequest
	case wirev1.KindResponse:
		return KindResponse
	case wirev1.KindNotification:
		return KindNotification
	}
	return ""
}

func fromV1Data(m *wirev1.DataServerMessage) *Message {
	msg := &Message{Channel: LabelData, Scope: ScopeApplication, Kind: kindName(m.GetKind()), RequestID: m.GetRequestId(), Codec: CodecV1}
	if mm := m.GetMessage(); mm != nil {
		msg.Type, msg.Data = mm.GetType(), wirev1.FromStruct(mm.GetData())
	}
	if e := m.GetError(); e != nil {
		msg.Error = &RemoteError{Code: e.GetCode(), Message: e.GetMessage()}
	}
	return msg
}

func fromV1Control(m *wirev1.ControlServerMessage) *Message {
	msg := &Message{Channel: LabelControl, Scope: ScopeRuntime, Kind: kindName(m.GetKind()), RequestID: m.GetRequestId(), Codec: CodecV1}
	name := wirev1.PayloadName(m)
	switch {
	case m.GetError() != nil:
		msg.Error = &RemoteError{Code: m.GetError().GetCode(), Message: m.GetError().GetMessage()}
	case m.GetModelSchema() != nil:
		msg.Type, msg.Data = wirev0.TypeModelSchema, wirev1.FromStruct(m.GetModelSchema().GetOpenapi())
	case name != "":
		msg.Type = v1ControlTypes[name]
		if msg.Type == "" {
			msg.Type = name
		}
		msg.Data = protoToMap(m)
	}
	return msg
}

// protoToMap renders the payload of a control message as JSON field names
// (proto names, every field present).
func protoToMap(m *wirev1.ControlServerMessage) map[string]any {
	r := m.ProtoReflect()
	fd := r.WhichOneof(r.Descriptor().Oneofs().ByName("payload"))
	if fd == nil || fd.Message() == nil {
		return nil
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(r.Get(fd).Message().Interface())
	if err != nil {
		return nil
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// ready returns the current connection if the client is ready.
func (c *Client) ready(phase string) (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, newErr(phase, CodeInvalidState, ErrClosed)
	}
	if c.status != StatusReady || c.cur == nil {
		return nil, newErr(phase, CodeInvalidState, fmt.Errorf("%w (status %s)", ErrNotReady, c.status))
	}
	return c.cur, nil
}

// send writes one frame: text for v0, binary for v1, refusing frames over
// 256 KiB like the SDKs.
func send(phase string, dc *webrtc.DataChannel, frame []byte, text bool) error {
	if err := wirev0.CheckSize(frame); err != nil {
		return newErr(phase, CodeTooLarge, err)
	}
	var err error
	if text {
		err = dc.SendText(string(frame))
	} else {
		err = dc.Send(frame)
	}
	if err != nil {
		return newErr(phase, CodeTransport, err)
	}
	return nil
}

func (c *Client) sendV1(phase string, dc *webrtc.DataChannel, m proto.Message) error {
	frame, err := wirev1.Marshal(m)
	if err != nil {
		return newErr(phase, CodeProtocol, err)
	}
	return send(phase, dc, frame, false)
}

// splitUploads copies data, moving wire.FileRef values into uploads keyed
// by parameter name, as the SDKs do.
func splitUploads(data map[string]any) (map[string]any, map[string]wire.FileRef) {
	args := make(map[string]any, len(data))
	var uploads map[string]wire.FileRef
	for k, v := range data {
		var ref *wire.FileRef
		switch r := v.(type) {
		case wire.FileRef:
			ref = &r
		case *wire.FileRef:
			ref = r
		}
		if ref == nil {
			args[k] = v
			continue
		}
		if uploads == nil {
			uploads = map[string]wire.FileRef{}
		}
		uploads[k] = *ref
	}
	return args, uploads
}

// SendCommand sends a model command. With CodecV0 it is the envelope
// {scope:"application", data:{type, data, uploads?}} on "data",
// fire-and-forget: it returns (nil, nil) once sent. With CodecV1 it is a
// DataClientMessage REQUEST with request_id "data_<n>"; SendCommand waits
// (Timeouts.Command) for the RESPONSE with that id and returns it (Type ""
// for a bodyless ack); an Error response is an *Error whose Code is the
// runtime's code. wire.FileRef values in data go to uploads.
func (c *Client) SendCommand(ctx context.Context, name string, data map[string]any) (*Message, error) {
	cn, err := c.ready(PhaseCommand)
	if err != nil {
		return nil, err
	}
	args, uploads := splitUploads(data)
	if c.cfg.Codec == CodecV0 {
		frame, err := wirev0.NewCommand(name, args, uploads)
		if err != nil {
			return nil, newErr(PhaseCommand, CodeProtocol, err)
		}
		return nil, send(PhaseCommand, cn.data, frame, true)
	}
	id := wirev1.DataRequestID(c.dataSeq.Add(1))
	m, err := wirev1.NewCommand(id, name, args, uploads)
	if err != nil {
		return nil, newErr(PhaseCommand, CodeProtocol, err)
	}
	ch := c.await(id)
	if err := c.sendV1(PhaseCommand, cn.data, m); err != nil {
		c.forget(id)
		return nil, err
	}
	return c.wait(ctx, PhaseCommand, id, ch)
}

func (c *Client) await(id string) chan *Message {
	ch := make(chan *Message, 1)
	c.wmu.Lock()
	c.waiters[id] = ch
	c.wmu.Unlock()
	return ch
}

func (c *Client) forget(id string) {
	c.wmu.Lock()
	delete(c.waiters, id)
	c.wmu.Unlock()
}

// wait waits for the reply on ch; id is forgotten on timeout.
func (c *Client) wait(ctx context.Context, phase, id string, ch chan *Message) (*Message, error) {
	t := time.NewTimer(c.timeouts.Command)
	defer t.Stop()
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, newErr(phase, CodeTransport, fmt.Errorf("connection closed while waiting for %s", id))
		}
		if msg.Error != nil {
			return msg, &Error{Phase: phase, Code: msg.Error.Code, Detail: msg.Error.Message, Err: ErrRemote}
		}
		return msg, nil
	case <-t.C:
		c.forget(id)
		return nil, newErr(phase, CodeTimeout, fmt.Errorf("%w: no response to %s within %s", ErrTimeout, id, c.timeouts.Command))
	case <-ctx.Done():
		c.forget(id)
		return nil, ctxErr(phase, ctx.Err())
	}
}

// Ping measures a data-channel round trip ("dc_rtt") with the one request
// every runtime answers: with CodecV1 a request_schema REQUEST on "control"
// (request_id "ctrl_<n>") timed to its RESPONSE; with CodecV0 a
// requestSchema runtime message on "data" timed to the next modelSchema
// (v0 has no request ids, so replies pair with requests in order). The
// reply is consumed, not passed to OnMessage. The RTT includes the
// runtime's work to render its schema.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	cn, err := c.ready(PhasePing)
	if err != nil {
		return 0, err
	}
	if c.cfg.Codec == CodecV0 {
		frame, err := wirev0.NewRuntimeMessage(wirev0.TypeRequestSchema, nil)
		if err != nil {
			return 0, newErr(PhasePing, CodeProtocol, err)
		}
		ch := make(chan *Message, 1)
		c.wmu.Lock()
		c.schemaWaiters = append(c.schemaWaiters, ch)
		c.wmu.Unlock()
		t0 := time.Now()
		if err := send(PhasePing, cn.data, frame, true); err != nil {
			c.dropSchemaWaiter(ch)
			return 0, err
		}
		return c.waitSchema(ctx, t0, ch)
	}
	id := wirev1.ControlRequestID(c.ctrlSeq.Add(1))
	ch := c.await(id)
	t0 := time.Now()
	if err := c.sendV1(PhasePing, cn.control, wirev1.NewRequestSchema(id)); err != nil {
		c.forget(id)
		return 0, err
	}
	msg, err := c.wait(ctx, PhasePing, id, ch)
	if err != nil {
		return 0, err
	}
	return msg.Received.Sub(t0), nil
}

func (c *Client) waitSchema(ctx context.Context, t0 time.Time, ch chan *Message) (time.Duration, error) {
	t := time.NewTimer(c.timeouts.Command)
	defer t.Stop()
	select {
	case msg, ok := <-ch:
		if !ok {
			return 0, newErr(PhasePing, CodeTransport, errors.New("connection closed while waiting for modelSchema"))
		}
		return msg.Received.Sub(t0), nil
	case <-t.C:
		c.dropSchemaWaiter(ch)
		return 0, newErr(PhasePing, CodeTimeout, fmt.Errorf("%w: no modelSchema within %s", ErrTimeout, c.timeouts.Command))
	case <-ctx.Done():
		c.dropSchemaWaiter(ch)
		return 0, ctxErr(PhasePing, ctx.Err())
	}
}

func (c *Client) dropSchemaWaiter(ch chan *Message) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for i, w := range c.schemaWaiters {
		if w == ch {
			c.schemaWaiters = append(c.schemaWaiters[:i:i], c.schemaWaiters[i+1:]...)
			return
		}
	}
}

// ResumeTrack asks the runtime to (re)start sending a recvonly track: a
// resume_track notification on "control".
func (c *Client) ResumeTrack(name string) error {
	cn, err := c.ready(PhaseControl)
	if err != nil {
		return err
	}
	return cn.sendTrackVerb(true, name)
}

// PauseTrack asks the runtime to stop sending a track for now.
func (c *Client) PauseTrack(name string) error {
	cn, err := c.ready(PhaseControl)
	if err != nil {
		return err
	}
	return cn.sendTrackVerb(false, name)
}

func (cn *conn) sendTrackVerb(resume bool, name string) error {
	if cn.c.cfg.Codec == CodecV1 {
		m := wirev1.NewPauseTrack(name)
		if resume {
			m = wirev1.NewResumeTrack(name)
		}
		return cn.c.sendV1(PhaseControl, cn.control, m)
	}
	event := wirev0.EventPauseTrack
	if resume {
		event = wirev0.EventResumeTrack
	}
	frame, err := wirev0.NewTrackNotification(event, name)
	if err != nil {
		return newErr(PhaseControl, CodeProtocol, err)
	}
	return send(PhaseControl, cn.control, frame, true)
}

// sendFileUploaded tells the runtime an upload finished: v0 runtime
// fileUploaded on "data", v1 FileUploaded notification on "control".
func (cn *conn) sendFileUploaded(ref wire.FileRef) error {
	if cn.c.cfg.Codec == CodecV1 {
		return cn.c.sendV1(PhaseUpload, cn.control, wirev1.NewFileUploaded(ref))
	}
	frame, err := wirev0.NewRuntimeMessage(wirev0.TypeFileUploaded, ref)
	if err != nil {
		return newErr(PhaseUpload, CodeProtocol, err)
	}
	return send(PhaseUpload, cn.data, frame, true)
}

// startHeartbeat sends the SDK keep-alive while the connection lives: v0
// "ping" on data every 5 s (first after one period, like JS), v1 Ping on
// control every 10 s (first at once, like reactor-core).
func (cn *conn) startHeartbeat() {
	if !cn.enter() {
		return
	}
	c := cn.c
	every := c.cfg.HeartbeatInterval
	if every <= 0 {
		every = 5 * time.Second
		if c.cfg.Codec == CodecV1 {
			every = 10 * time.Second
		}
	}
	go func() {
		defer cn.wg.Done()
		beat := func() error {
			if c.cfg.Codec == CodecV1 {
				return c.sendV1(PhaseControl, cn.control, wirev1.NewPing())
			}
			frame, err := wirev0.NewRuntimeMessage(wirev0.TypePing, nil)
			if err != nil {
				return err
			}
			return send(PhaseControl, cn.data, frame, true)
		}
		if c.cfg.Codec == CodecV1 {
			if err := beat(); err != nil {
				c.log.Debug("heartbeat", "err", err)
			}
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-cn.done:
				return
			case <-t.C:
				if err := beat(); err != nil {
					c.log.Debug("heartbeat", "err", err)
				}
			}
		}
	}()
}
