package mockserver

import "fmt"

// ModelPolicy switches model behaviour where the platform and its
// documentation disagree (PROTOCOL.md §9.6).
type ModelPolicy struct {
	// SnapshotReplies is how Helios answers save_snapshot, list_snapshots
	// and rewind: "documented" (default; the reply bodies of the
	// snapshot-and-rewind example) or "bodyless" (production today: a
	// bodyless ack).
	SnapshotReplies string `json:"snapshot_replies,omitempty"`
}

// SnapshotReplies values.
const (
	SnapshotRepliesDocumented = "documented"
	SnapshotRepliesBodyless   = "bodyless"
)

// Validate names a bad field.
func (m ModelPolicy) Validate() error {
	switch m.SnapshotReplies {
	case "", SnapshotRepliesDocumented, SnapshotRepliesBodyless:
		return nil
	}
	return fmt.Errorf("models.snapshot_replies must be %q or %q, got %q", SnapshotRepliesDocumented, SnapshotRepliesBodyless, m.SnapshotReplies)
}
