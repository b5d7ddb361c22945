package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/reactor-harness/reactor-harness/client"
)

// Helios snapshots, PROTOCOL.md §9.6 (reactor-client-sdks
// sdks/js/examples/07-snapshot-and-rewind): the v1 replies of
// save_snapshot, list_snapshots and rewind carry data. Registered in
// datachannel.go with the rest of the area.

// snapshotCmd sends a snapshot command and requires a reply with data; a
// model without the command skips the case.
func snapshotCmd(ctx context.Context, c *client.Client, name string, data map[string]any) (map[string]any, error) {
	m, err := c.SendCommand(ctx, name, data)
	var ce *client.Error
	if errors.As(err, &ce) && strings.Contains(ce.Error(), "unknown command") {
		return nil, skipf("the target model has no %s command", name)
	}
	if err != nil {
		return nil, fmt.Errorf("v1 %s: %w", name, err)
	}
	if m == nil || len(m.Data) == 0 {
		return nil, fmt.Errorf("v1 %s was answered with a bodyless ack; the snapshot-and-rewind example reads its reply's data (production's bodyless ack is a known gap, PROTOCOL.md §9.6)", name)
	}
	return m.Data, nil
}

func asIndex(v any) (int64, bool) {
	f, ok := v.(float64)
	if ok && f == float64(int64(f)) {
		return int64(f), true
	}
	i, ok := v.(int64)
	return i, ok
}

func dataSnapshots(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	saved, err := snapshotCmd(ctx, c, "save_snapshot", map[string]any{"label": "conformance"})
	if err != nil {
		return err
	}
	idx, ok := asIndex(saved["snapshot_index"])
	if !ok {
		return fmt.Errorf("save_snapshot replied %v: expected an integer snapshot_index", saved)
	}
	listed, err := snapshotCmd(ctx, c, "list_snapshots", nil)
	if err != nil {
		return err
	}
	snaps, _ := listed["snapshots"].([]any)
	var found map[string]any
	for _, s := range snaps {
		if m, _ := s.(map[string]any); m != nil {
			if i, ok := asIndex(m["snapshot_index"]); ok && i == idx {
				found = m
			}
		}
	}
	if found == nil {
		return fmt.Errorf("list_snapshots replied %v: snapshot %d (just saved) is missing", listed, idx)
	}
	for _, k := range []string{"chunk", "label", "parent_id"} {
		if _, ok := found[k]; !ok {
			return fmt.Errorf("list_snapshots entry %v lacks %q (expected snapshot_index, chunk, label, parent_id)", found, k)
		}
	}
	if found["label"] != "conformance" {
		return fmt.Errorf("list_snapshots entry %v: label is not the one saved (\"conformance\")", found)
	}
	landed, err := snapshotCmd(ctx, c, "rewind", map[string]any{"snapshot_index": idx})
	if err != nil {
		return err
	}
	if i, ok := asIndex(landed["snapshot_index"]); !ok || i != idx {
		return fmt.Errorf("rewind to %d replied %v: expected it to say it landed on snapshot_index %d", idx, landed, idx)
	}
	return nil
}

func dataSnapshotUnknown(ctx context.Context, r *Run) error {
	c, err := r.connect(ctx, client.CodecV1, true, nil)
	if err != nil {
		return err
	}
	if _, err := snapshotCmd(ctx, c, "list_snapshots", nil); err != nil {
		return err
	}
	_, err = c.SendCommand(ctx, "rewind", map[string]any{"snapshot_index": 1 << 30})
	if err == nil {
		return errors.New("rewind to a snapshot that was never saved was accepted; expected an Error response")
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("rewind to a snapshot that was never saved: expected an Error response, got %v", err)
	}
	return nil
}
