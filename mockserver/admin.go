package mockserver

import (
	"bytes"
	"net/http"
	"strconv"
)

// adminRoutes mounts the admin API under /__admin/. Admin calls are not
// journaled and no fault applies to them: they are how tests observe and
// steer the mock, not part of the protocol.
func (s *Server) adminRoutes() {
	s.admin("GET /__admin/requests", s.adminListRequests)
	s.admin("DELETE /__admin/requests", func(w http.ResponseWriter, r *http.Request) *apiError {
		s.journal.Clear()
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.admin("GET /__admin/sessions", func(w http.ResponseWriter, r *http.Request) *apiError {
		snaps := s.sessions.snapshot()
		for i := range snaps {
			if ts, ok := s.TransportSnapshot(snaps[i].SessionID); ok {
				snaps[i].Transport = &ts
			}
		}
		writeJSON(w, http.StatusOK, snaps)
		return nil
	})
	s.admin("POST /__admin/sessions/{id}/state", s.adminForceState)
	s.admin("GET /__admin/sessions/{id}/client_stats", s.adminClientStats)
	s.admin("GET /__admin/uploads", func(w http.ResponseWriter, r *http.Request) *apiError {
		writeJSON(w, http.StatusOK, s.uploads.snapshot())
		return nil
	})
	s.admin("GET /__admin/scenario", func(w http.ResponseWriter, r *http.Request) *apiError {
		writeJSON(w, http.StatusOK, s.Scenario())
		return nil
	})
	s.admin("PUT /__admin/scenario", s.adminPutScenario)
	s.admin("POST /__admin/reset", func(w http.ResponseWriter, r *http.Request) *apiError {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

func (s *Server) admin(pattern string, h func(http.ResponseWriter, *http.Request) *apiError) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		// Read the body here, where the writer is at hand, so that an
		// oversized one is drained and answered like on protocol routes.
		if r.Body != nil && r.Body != http.NoBody {
			raw, e := readBody(w, r, maxJSONBody)
			if e != nil {
				writeErr(w, e)
				return
			}
			r.Body = readCloser{bytes.NewReader(raw)}
		}
		if e := h(w, r); e != nil {
			writeErr(w, e)
		}
	})
}

// adminListRequests serves the journal, optionally filtered by
// ?session_id=, ?path_prefix=, ?method=, ?channel= and ?since=<seq>.
func (s *Server) adminListRequests(w http.ResponseWriter, r *http.Request) *apiError {
	q := r.URL.Query()
	f := Filter{SessionID: q.Get("session_id"), PathPrefix: q.Get("path_prefix"),
		Method: q.Get("method"), Channel: q.Get("channel")}
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errf(http.StatusBadRequest, "since must be a journal sequence number, got %q", v)
		}
		f.SinceSeq = n
	}
	writeJSON(w, http.StatusOK, s.journal.Entries(f))
	return nil
}

func (s *Server) adminPutScenario(w http.ResponseWriter, r *http.Request) *apiError {
	raw, e := readBody(w, r, maxJSONBody)
	if e != nil {
		return e
	}
	sc, err := ParseScenario(raw)
	if err != nil {
		return errf(http.StatusBadRequest, "%v", err)
	}
	if err := s.SetScenario(sc); err != nil {
		return errf(http.StatusBadRequest, "%v", err)
	}
	writeJSON(w, http.StatusOK, s.Scenario())
	return nil
}

// adminForceState moves a session to a state a test needs (for example
// INACTIVE to exercise restart, or CLOSED to exercise terminal polling).
func (s *Server) adminForceState(w http.ResponseWriter, r *http.Request) *apiError {
	var body struct {
		State string `json:"state"`
	}
	if _, e := decodeBody(r, &body); e != nil {
		return e
	}
	snap, e := s.sessions.force(r.PathValue("id"), body.State)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, snap)
	return nil
}
