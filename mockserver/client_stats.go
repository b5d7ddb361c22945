package mockserver

import (
	"net/http"
	"sync"
	"time"

	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// Client stats (PROTOCOL.md §9.3): every report a session's clients send
// is journaled decoded (channel control, type client_stats) and kept in a
// bounded per-session history that GET /__admin/sessions/{id}/client_stats
// serves.

// clientStatsHistory is how many reports a session keeps: ten minutes at
// the SDKs' 5 s cadence.
const clientStatsHistory = 120

// ClientStatsReport is one report as the admin view shows it.
type ClientStatsReport struct {
	ConnectionID int    `json:"connection_id"`
	Received     string `json:"received"` // RFC 3339 with ms, the mock's clock
	wirev1.StatsReport
}

// ClientStatsView is the body of GET /__admin/sessions/{id}/client_stats.
type ClientStatsView struct {
	SessionID string              `json:"session_id"`
	Received  int                 `json:"received"` // reports ever received
	Latest    *ClientStatsReport  `json:"latest"`
	History   []ClientStatsReport `json:"history"` // oldest first, at most clientStatsHistory
}

// clientStatsLog is a session's bounded report history.
type clientStatsLog struct {
	mu      sync.Mutex
	reports []ClientStatsReport
	total   int
}

func (l *clientStatsLog) add(cid int, at time.Time, r wirev1.StatsReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if len(l.reports) == clientStatsHistory {
		l.reports = append(l.reports[:0], l.reports[1:]...)
	}
	l.reports = append(l.reports, ClientStatsReport{ConnectionID: cid, Received: at.UTC().Format(journalTime), StatsReport: r})
}

func (l *clientStatsLog) view(sid string) ClientStatsView {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := ClientStatsView{SessionID: sid, Received: l.total, History: append([]ClientStatsReport{}, l.reports...)}
	if n := len(v.History); n > 0 {
		latest := v.History[n-1]
		v.Latest = &latest
	}
	return v
}

// adminClientStats serves a session's stats history; a session the mock
// never created is 404.
func (s *Server) adminClientStats(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	if s.sessions.lookup(id) == nil {
		return errf(http.StatusNotFound, "Unknown session: %s", id)
	}
	v := ClientStatsView{SessionID: id, History: []ClientStatsReport{}}
	if sp := s.rtc.lookup(id); sp != nil {
		v = sp.stats.view(id)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
