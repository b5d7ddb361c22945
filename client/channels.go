package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
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
	received := time.Now()
	if c.deliverPingReply(label, m, received) {
		return
	}
	msg, err := decodeMessage(label, m.Data, m.IsString)
	if err != nil {
		c.log.Warn("undecodable data-channel message", "channel", label, "err", err)
		return
	}
	msg.Received = received
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
		if msg.Type == wirev0.TypeModelSchema && msg.Scope == ScopeRuntime && c.popSchemaWaiterLocked(msg, false) {
			return true
		}
		if msg.Kind != KindResponse {
			return false
		}
	}
	if msg.Kind != KindResponse || msg.RequestID == "" {
		return false
	}
	w, ok := c.waiters[msg.RequestID]
	if ok {
		delete(c.waiters, msg.RequestID)
		w.ch <- msg
	}
	return ok
}

// popSchemaWaiterLocked hands msg to the oldest v0 schema request, if any
// (only if it is a Ping's when pingOnly is set).
func (c *Client) popSchemaWaiterLocked(msg *Message, pingOnly bool) bool {
	if len(c.schemaWaiters) == 0 || (pingOnly && !c.schemaWaiters[0].ping) {
		return false
	}
	w := c.schemaWaiters[0]
	c.schemaWaiters = c.schemaWaiters[1:]
	w.ch <- msg
	return true
}

// deliverPingReply hands a waiting Ping its reply without decoding the
// schema in it: Ping only times the reply, and decoding the document (most
// of the frame) for every probe of every session was a large share of a
// load run's CPU. The reply is recognised from its envelope: a v1 RESPONSE
// on "control" with a model_schema payload and a Ping's request_id, or a v0
// runtime modelSchema on "data" while a Ping waits. Anything else, a
// schema reply nobody waits for included, is decoded in full.
func (c *Client) deliverPingReply(label string, m webrtc.DataChannelMessage, at time.Time) bool {
	if wirev0.Sniff(m.Data, m.IsString) == wirev0.V0 {
		return label == LabelData && isV0SchemaReply(m.Data) && c.deliverV0PingReply(at)
	}
	if label != LabelControl {
		return false
	}
	id, ok := v1SchemaReplyID(m.Data)
	return ok && c.deliverV1PingReply(id, at)
}

func (c *Client) deliverV0PingReply(at time.Time) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.popSchemaWaiterLocked(&Message{Channel: LabelData, Scope: ScopeRuntime,
		Type: wirev0.TypeModelSchema, Codec: CodecV0, Received: at}, true)
}

func (c *Client) deliverV1PingReply(id []byte, at time.Time) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w, ok := c.waiters[string(id)]
	if !ok || !w.ping {
		return false
	}
	delete(c.waiters, string(id))
	w.ch <- &Message{Channel: LabelControl, Scope: ScopeRuntime, Type: wirev0.TypeModelSchema,
		Kind: KindResponse, RequestID: string(id), Codec: CodecV1, Received: at}
	return true
}

// Field numbers of the ControlServerMessage envelope, from its descriptor.
var (
	controlFields      = (&wirev1.ControlServerMessage{}).ProtoReflect().Descriptor().Fields()
	controlRequestID   = controlFields.ByName("request_id").Number()
	controlKind        = controlFields.ByName("kind").Number()
	controlModelSchema = controlFields.ByName("model_schema").Number()
)

// v1SchemaReplyID reads the top-level fields of a control frame, skipping
// their contents, and returns the request_id of a RESPONSE whose payload is
// model_schema. As in a full decode, the last value of a field wins; a
// frame with unknown fields after the schema is left to the full decoder.
func v1SchemaReplyID(frame []byte) (id []byte, ok bool) {
	var kind uint64
	schema := false
	for len(frame) > 0 {
		num, typ, n := protowire.ConsumeTag(frame)
		if n < 0 {
			return nil, false
		}
		frame = frame[n:]
		switch {
		case num == controlRequestID && typ == protowire.BytesType:
			id, n = protowire.ConsumeBytes(frame)
		case num == controlKind && typ == protowire.VarintType:
			kind, n = protowire.ConsumeVarint(frame)
		default:
			schema = num == controlModelSchema && typ == protowire.BytesType
			n = protowire.ConsumeFieldValue(num, typ, frame)
		}
		if n < 0 {
			return nil, false
		}
		frame = frame[n:]
	}
	return id, schema && kind == uint64(wirev1.KindResponse) && len(id) > 0
}

// v0SchemaHead is how a v0 modelSchema frame begins when its members come
// in the order wirev0.Encode writes them: scope and type before the
// payload.
var v0SchemaHead = []json.Token{json.Delim('{'), "scope", string(wirev0.ScopeRuntime),
	"data", json.Delim('{'), "type", wirev0.TypeModelSchema}

// isV0SchemaReply reports whether a v0 data frame begins as a runtime
// modelSchema, reading no further: the payload is not parsed. A frame
// with its members in another order is left to the full decoder.
func isV0SchemaReply(frame []byte) bool {
	d := json.NewDecoder(bytes.NewReader(frame))
	for _, want := range v0SchemaHead {
		if tok, err := d.Token(); err != nil || tok != want {
			return false
		}
	}
	return true
}

// failWaiters releases every pending request when the connection goes.
func (c *Client) failWaiters() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for id, w := range c.waiters {
		close(w.ch)
		delete(c.waiters, id)
	}
	for _, w := range c.schemaWaiters {
		close(w.ch)
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

func (cn *conn) sendV1(phase string, dc *webrtc.DataChannel, m proto.Message) error {
	frame, err := wirev1.Marshal(m)
	if err != nil {
		return newErr(phase, CodeProtocol, err)
	}
	return cn.send(phase, dc, frame, false)
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
		return nil, cn.send(PhaseCommand, cn.data, frame, true)
	}
	id := wirev1.DataRequestID(c.dataSeq.Add(1))
	m, err := wirev1.NewCommand(id, name, args, uploads)
	if err != nil {
		return nil, newErr(PhaseCommand, CodeProtocol, err)
	}
	ch := c.await(id)
	if err := cn.sendV1(PhaseCommand, cn.data, m); err != nil {
		c.forget(id)
		return nil, err
	}
	return c.wait(ctx, PhaseCommand, id, ch)
}

// waiter is a pending v1 request. ping marks a Ping's, whose reply is
// timed but never read.
type waiter struct {
	ch   chan *Message
	ping bool
}

func (c *Client) await(id string) chan *Message { return c.addWaiter(id, false) }

func (c *Client) addWaiter(id string, ping bool) chan *Message {
	ch := make(chan *Message, 1)
	c.wmu.Lock()
	c.waiters[id] = waiter{ch: ch, ping: ping}
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
// runtime's work to render its schema. The reply is recognised from its
// envelope and its schema is not decoded; RequestSchema decodes it.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	msg, t0, err := c.schemaRoundTrip(ctx, PhasePing, true)
	if err != nil {
		return 0, err
	}
	return msg.Received.Sub(t0), nil
}

// RequestSchema asks the runtime for its model schema, as Ping does, and
// returns the reply decoded in full: Message.Data is the schema document
// (for v1 the model_schema Struct as a map).
func (c *Client) RequestSchema(ctx context.Context) (*Message, error) {
	msg, _, err := c.schemaRoundTrip(ctx, PhaseControl, false)
	return msg, err
}

// schemaRoundTrip sends a schema request and waits for its reply; ping
// marks the waiter so the reply is matched without decoding the schema.
// It returns the reply and when the request was sent.
func (c *Client) schemaRoundTrip(ctx context.Context, phase string, ping bool) (*Message, time.Time, error) {
	cn, err := c.ready(phase)
	if err != nil {
		return nil, time.Time{}, err
	}
	if c.cfg.Codec == CodecV0 {
		frame, err := wirev0.NewRuntimeMessage(wirev0.TypeRequestSchema, nil)
		if err != nil {
			return nil, time.Time{}, newErr(phase, CodeProtocol, err)
		}
		ch := c.awaitSchema(ping)
		t0 := time.Now()
		if err := cn.send(phase, cn.data, frame, true); err != nil {
			c.dropSchemaWaiter(ch)
			return nil, t0, err
		}
		msg, err := c.waitSchema(ctx, phase, ch)
		return msg, t0, err
	}
	id := wirev1.ControlRequestID(c.ctrlSeq.Add(1))
	ch := c.addWaiter(id, ping)
	t0 := time.Now()
	if err := cn.sendV1(phase, cn.control, wirev1.NewRequestSchema(id)); err != nil {
		c.forget(id)
		return nil, t0, err
	}
	msg, err := c.wait(ctx, phase, id, ch)
	return msg, t0, err
}

// awaitSchema queues a v0 schema request for the next modelSchema; ping
// lets the reply skip decoding when this waiter is first in line.
func (c *Client) awaitSchema(ping bool) chan *Message {
	ch := make(chan *Message, 1)
	c.wmu.Lock()
	c.schemaWaiters = append(c.schemaWaiters, waiter{ch: ch, ping: ping})
	c.wmu.Unlock()
	return ch
}

func (c *Client) waitSchema(ctx context.Context, phase string, ch chan *Message) (*Message, error) {
	t := time.NewTimer(c.timeouts.Command)
	defer t.Stop()
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, newErr(phase, CodeTransport, errors.New("connection closed while waiting for modelSchema"))
		}
		return msg, nil
	case <-t.C:
		c.dropSchemaWaiter(ch)
		return nil, newErr(phase, CodeTimeout, fmt.Errorf("%w: no modelSchema within %s", ErrTimeout, c.timeouts.Command))
	case <-ctx.Done():
		c.dropSchemaWaiter(ch)
		return nil, ctxErr(phase, ctx.Err())
	}
}

func (c *Client) dropSchemaWaiter(ch chan *Message) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for i, w := range c.schemaWaiters {
		if w.ch == ch {
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
		return cn.sendV1(PhaseControl, cn.control, m)
	}
	event := wirev0.EventPauseTrack
	if resume {
		event = wirev0.EventResumeTrack
	}
	frame, err := wirev0.NewTrackNotification(event, name)
	if err != nil {
		return newErr(PhaseControl, CodeProtocol, err)
	}
	return cn.send(PhaseControl, cn.control, frame, true)
}

// sendFileUploaded tells the runtime an upload finished: v0 runtime
// fileUploaded on "data", v1 FileUploaded notification on "control".
func (cn *conn) sendFileUploaded(ref wire.FileRef) error {
	if cn.c.cfg.Codec == CodecV1 {
		return cn.sendV1(PhaseUpload, cn.control, wirev1.NewFileUploaded(ref))
	}
	frame, err := wirev0.NewRuntimeMessage(wirev0.TypeFileUploaded, ref)
	if err != nil {
		return newErr(PhaseUpload, CodeProtocol, err)
	}
	return cn.send(PhaseUpload, cn.data, frame, true)
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
				return cn.sendV1(PhaseControl, cn.control, wirev1.NewPing())
			}
			frame, err := wirev0.NewRuntimeMessage(wirev0.TypePing, nil)
			if err != nil {
				return err
			}
			return cn.send(PhaseControl, cn.data, frame, true)
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
