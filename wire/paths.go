package wire

import "fmt"

// Route paths. Functions build concrete paths; the patterns are Go 1.22
// ServeMux patterns used by the mock.
const (
	PathTokens   = "/tokens"
	PathSessions = "/sessions"
)

// SessionPath is /sessions/{id}.
func SessionPath(id string) string { return PathSessions + "/" + id }

// TransportBase is /sessions/{id}/transport/webrtc.
func TransportBase(id string) string { return SessionPath(id) + "/transport/webrtc" }

// ConnectionPath is .../connections/{cid}.
func ConnectionPath(id string, cid int) string {
	return fmt.Sprintf("%s/connections/%d", TransportBase(id), cid)
}
