package client

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// pingClient is a client whose OnMessage records what reaches it.
func pingClient(t *testing.T, codec Codec) (*Client, *[]Message) {
	t.Helper()
	var got []Message
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "rk_test", Codec: codec,
		OnMessage: func(m Message) { got = append(got, m) }})
	if err != nil {
		t.Fatal(err)
	}
	return c, &got
}

func replyOf(t *testing.T, ch chan *Message) *Message {
	t.Helper()
	select {
	case msg := <-ch:
		return msg
	default:
		t.Fatal("the waiter got nothing")
		return nil
	}
}

// checkPingReply checks the reply a Ping got without its schema decoded.
func checkPingReply(t *testing.T, msg *Message, label, requestID string, codec Codec, since time.Time) {
	t.Helper()
	if msg.Channel != label || msg.Scope != ScopeRuntime || msg.Type != wirev0.TypeModelSchema ||
		msg.RequestID != requestID || msg.Codec != codec || msg.Data != nil || msg.Error != nil || msg.Received.Before(since) {
		t.Errorf("ping reply = %+v", msg)
	}
}

// checkSchemaMessage checks that exactly one full schema reached OnMessage.
func checkSchemaMessage(t *testing.T, got []Message) {
	t.Helper()
	if len(got) != 1 || got[0].Type != wirev0.TypeModelSchema || got[0].Data["openapi"] != "3.1.0" {
		t.Fatalf("OnMessage got %d messages, want the full schema: %+v", len(got), got)
	}
}

// A Ping's reply reaches the Ping undecoded; a schema reply nobody pings
// for still reaches OnMessage in full.
func TestPingReplyV1(t *testing.T) {
	c, got := pingClient(t, CodecV1)
	label, frame := schemaReply(t, CodecV1, "ctrl_7")
	ch := c.addWaiter("ctrl_7", true)
	t0 := time.Now()
	c.onChannelMessage(nil, label, frame)
	msg := replyOf(t, ch)
	checkPingReply(t, msg, LabelControl, "ctrl_7", CodecV1, t0)
	if msg.Kind != KindResponse {
		t.Errorf("kind %q", msg.Kind)
	}
	if len(*got) != 0 {
		t.Fatalf("the Ping reply reached OnMessage: %+v", *got)
	}
	c.onChannelMessage(nil, label, frame) // ctrl_7 again: nobody waits now
	checkSchemaMessage(t, *got)
}

// A request that is not a Ping gets its schema reply decoded.
func TestSchemaReplyToOtherRequestV1(t *testing.T) {
	c, _ := pingClient(t, CodecV1)
	label, frame := schemaReply(t, CodecV1, "ctrl_3")
	ch := c.await("ctrl_3")
	c.onChannelMessage(nil, label, frame)
	if msg := replyOf(t, ch); msg.Data["openapi"] != "3.1.0" || msg.RequestID != "ctrl_3" {
		t.Errorf("reply = %+v, want the decoded schema", msg)
	}
}

// An Error reply to a Ping takes the full decoder and carries the error.
func TestPingErrorReplyV1(t *testing.T) {
	c, _ := pingClient(t, CodecV1)
	b, err := wirev1.Marshal(wirev1.NewControlError("ctrl_2", wirev1.CodeInternalError, "no schema"))
	if err != nil {
		t.Fatal(err)
	}
	ch := c.addWaiter("ctrl_2", true)
	c.onChannelMessage(nil, LabelControl, webrtc.DataChannelMessage{Data: b})
	if msg := replyOf(t, ch); msg.Error == nil || msg.Error.Code != wirev1.CodeInternalError {
		t.Errorf("reply = %+v, want the error", msg)
	}
}

func TestPingReplyV0(t *testing.T) {
	c, got := pingClient(t, CodecV0)
	label, frame := schemaReply(t, CodecV0, "")
	ch := c.awaitSchema(true)
	t0 := time.Now()
	c.onChannelMessage(nil, label, frame)
	checkPingReply(t, replyOf(t, ch), LabelData, "", CodecV0, t0)
	if len(*got) != 0 {
		t.Fatalf("the Ping reply reached OnMessage: %+v", *got)
	}
	c.onChannelMessage(nil, label, frame) // no Ping waits now
	checkSchemaMessage(t, *got)
}

// Members in another order than wirev0's take the full decoder, which
// still pairs the reply with the waiting Ping.
func TestPingReplyV0OtherOrder(t *testing.T) {
	c, got := pingClient(t, CodecV0)
	frame := []byte(`{"data":{"data":{"openapi":"3.1.0"},"type":"modelSchema"},"scope":"runtime"}`)
	ch := c.awaitSchema(true)
	c.onChannelMessage(nil, LabelData, webrtc.DataChannelMessage{IsString: true, Data: frame})
	if msg := replyOf(t, ch); msg.Type != wirev0.TypeModelSchema || msg.Data["openapi"] != "3.1.0" {
		t.Errorf("reply = %+v", msg)
	}
	if len(*got) != 0 {
		t.Errorf("the Ping reply reached OnMessage: %+v", *got)
	}
}

func TestV1SchemaReplyID(t *testing.T) {
	marshal := func(m *wirev1.ControlServerMessage) []byte {
		b, err := wirev1.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	schema, err := wirev1.NewModelSchema("ctrl_1", map[string]any{"openapi": "3.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	noID, _ := wirev1.NewModelSchema("", map[string]any{})
	cases := []struct {
		name  string
		frame []byte
		ok    bool
	}{
		{"schema reply", marshal(schema), true},
		{"truncated", marshal(schema)[:12], false},
		{"no request id", marshal(noID), false},
		{"error reply", marshal(wirev1.NewControlError("ctrl_1", wirev1.CodeInternalError, "x")), false},
		{"clip failed", marshal(wirev1.NewClipFailed("ctrl_1", "x")), false},
		{"notification", marshal(wirev1.NewSessionEnded("bye")), false},
		{"schema then unknown field", append(marshal(schema), 0xf8, 0x01, 0x01), false},
	}
	for _, tc := range cases {
		id, ok := v1SchemaReplyID(tc.frame)
		if ok != tc.ok || (ok && string(id) != "ctrl_1") {
			t.Errorf("%s: id %q ok %v, want ok %v", tc.name, id, ok, tc.ok)
		}
	}
}

// A RequestSchema waiter first in line gets the schema decoded in full,
// even though the frame looks like a Ping's reply.
func TestSchemaRequestV0GetsDecodedSchema(t *testing.T) {
	c, got := pingClient(t, CodecV0)
	label, frame := schemaReply(t, CodecV0, "")
	ch := c.awaitSchema(false)
	c.onChannelMessage(nil, label, frame)
	if msg := replyOf(t, ch); msg.Type != wirev0.TypeModelSchema || len(msg.Data) == 0 {
		t.Fatalf("RequestSchema reply = %+v, want the decoded schema", msg)
	}
	if len(*got) != 0 {
		t.Fatalf("the schema reply reached OnMessage: %+v", *got)
	}
}
