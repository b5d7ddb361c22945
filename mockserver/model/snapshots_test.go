package model_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/reactor-harness/reactor-harness/mockserver/model"
)

// reply submits a command that answers with a body and returns it.
func reply(t *testing.T, rt *model.Runtime, name, js string) map[string]any {
	t.Helper()
	res, err := rt.Submit(context.Background(), model.Command{Name: name, Data: decode(t, js)})
	if err != nil {
		t.Fatalf("Submit(%s %s): %v", name, js, err)
	}
	if res.Reply == nil || res.Reply.Type != name {
		t.Fatalf("Submit(%s) replied %+v, want a %s reply with a body", name, res.Reply, name)
	}
	return res.Reply.Data
}

// TestSnapshotsRoundTrip: save answers the index, list shows every
// snapshot with its chunk, label and parent, rewind lands on the saved
// chunk and prompt and says where (PROTOCOL.md §9.6).
func TestSnapshotsRoundTrip(t *testing.T) {
	rt, rec := newRuntime(t, nil)
	src := &source{rt: rt}
	submit(t, rt, "set_prompt", `{"prompt":"fox"}`)
	submit(t, rt, "start", "")
	src.toBoundary()
	src.toBoundary() // chunk 1 in progress
	if got := reply(t, rt, "save_snapshot", `{"label":"first"}`); got["snapshot_index"] != int64(0) {
		t.Fatalf("save_snapshot → %v", got)
	}
	submit(t, rt, "set_prompt", `{"prompt":"owl"}`)
	src.toBoundary()
	src.toBoundary()
	if got := reply(t, rt, "save_snapshot", ""); got["snapshot_index"] != int64(1) {
		t.Fatalf("second save_snapshot → %v", got)
	}
	list := reply(t, rt, "list_snapshots", "")["snapshots"].([]any)
	want := []string{"0 chunk 1 first parent <nil>", "1 chunk 3  parent 0"}
	if len(list) != len(want) {
		t.Fatalf("list_snapshots → %v", list)
	}
	for i, s := range list {
		m := s.(map[string]any)
		if got := fmt.Sprintf("%v chunk %v %v parent %v", m["snapshot_index"], m["chunk"], m["label"], m["parent_id"]); got != want[i] {
			t.Errorf("snapshot %d = %q, want %q", i, got, want[i])
		}
	}
	rec.take()
	landed := reply(t, rt, "rewind", `{"snapshot_index":0}`)
	if landed["snapshot_index"] != int64(0) || landed["chunk"] != int64(1) {
		t.Fatalf("rewind → %v", landed)
	}
	st := lastOf(t, rec.take(), model.TypeState)
	if st.Data["current_chunk"] != int64(1) || st.Data["current_prompt"] != "fox" {
		t.Errorf("state after rewind %v, want chunk 1 and prompt fox", st.Data)
	}
	// A save after the rewind descends from snapshot 0.
	reply(t, rt, "save_snapshot", `{"label":"branch"}`)
	list = reply(t, rt, "list_snapshots", "")["snapshots"].([]any)
	if p := list[2].(map[string]any)["parent_id"]; p != int64(0) {
		t.Errorf("parent of the branch = %v, want 0", p)
	}
	// reset keeps the snapshots.
	submit(t, rt, "reset", "")
	src.toBoundary()
	if n := len(reply(t, rt, "list_snapshots", "")["snapshots"].([]any)); n != 3 {
		t.Errorf("%d snapshots after reset, want 3", n)
	}
}

// TestSnapshotsRefusals: bad arguments and unknown indexes are refused
// with a code and change nothing.
func TestSnapshotsRefusals(t *testing.T) {
	rt, _ := newRuntime(t, nil)
	reply(t, rt, "save_snapshot", "")
	for _, c := range []struct{ name, js, code string }{
		{"rewind", `{"snapshot_index":5}`, model.CodeUnknownSnapshot},
		{"rewind", `{"snapshot_index":-1}`, model.CodeInvalidCommand},
		{"rewind", `{}`, model.CodeInvalidCommand},
		{"rewind", `{"snapshot_index":"0"}`, model.CodeInvalidCommand},
		{"save_snapshot", `{"label":3}`, model.CodeInvalidCommand},
		{"save_snapshot", `{"extra":true}`, model.CodeInvalidCommand},
		{"list_snapshots", `{"x":1}`, model.CodeInvalidCommand},
	} {
		_, err := rt.Submit(context.Background(), model.Command{Name: c.name, Data: decode(t, c.js)})
		var ce *model.CommandError
		if !errors.As(err, &ce) || ce.Code != c.code {
			t.Errorf("%s %s: %v, want code %s", c.name, c.js, err, c.code)
		}
	}
	if n := len(reply(t, rt, "list_snapshots", "")["snapshots"].([]any)); n != 1 {
		t.Errorf("%d snapshots after refusals, want the 1 saved", n)
	}
	for range model.MaxSnapshots - 1 {
		reply(t, rt, "save_snapshot", "")
	}
	_, err := rt.Submit(context.Background(), model.Command{Name: "save_snapshot"})
	var ce *model.CommandError
	if !errors.As(err, &ce) || ce.Code != model.CodeSnapshotLimit {
		t.Errorf("save beyond %d: %v", model.MaxSnapshots, err)
	}
}

// TestSnapshotsBodyless: the production switch answers a bodyless ack but
// still saves.
func TestSnapshotsBodyless(t *testing.T) {
	rt, _ := newRuntime(t, func(c *model.Config) { c.BodylessSnapshotReplies = true })
	submit(t, rt, "save_snapshot", `{"label":"a"}`)
	submit(t, rt, "rewind", `{"snapshot_index":0}`)
	if _, err := rt.Submit(context.Background(), model.Command{Name: "rewind", Data: decode(t, `{"snapshot_index":1}`)}); err == nil {
		t.Error("rewind to a snapshot never saved was accepted")
	}
}
