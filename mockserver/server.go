package mockserver

import (
	"context"
	"errors"
	"fmt"
	"github.com/reactor-harness/reactor-harness/wire"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultAPIKey is the key the mock accepts unless told otherwise.
const DefaultAPIKey = "rk_mock_key"

// DefaultListen is where `reactor-harness mock` listens by default.
const DefaultListen = "127.0.0.1:8080"

// Server is one mock Reactor instance. It is an http.Handler; Start runs it
// on a listener of its own.
type Server struct {
	apiKey  string
	now     func() time.Time
	baseURL string // set by Start or WithBaseURL; used to build presigned URLs

	mu       sync.Mutex // guards scenario and initial
	scenario *Scenario
	initial  *Scenario

	journal  *Journal
	tokens   *tokenIssuer
	sessions *sessionStore
	uploads  *uploadStore
	faults   *faultEngine

	mediaOverride *MediaPolicy // WithMediaPolicy, applied over the starting scenario
	rtc           *rtcPlane    // signalling, peer connections, media, model runtimes

	metrics *serverMetrics // GET /metrics
	mux     *http.ServeMux
	httpSrv *http.Server
	ln      net.Listener
}

// Option configures a Server.
type Option func(*Server) error

// WithAPIKey sets the accepted API key.
func WithAPIKey(key string) Option {
	return func(s *Server) error {
		if key == "" {
			return errors.New("api key must not be empty")
		}
		s.apiKey = key
		return nil
	}
}

// WithScenario sets the scenario the server starts with (and returns to on
// POST /__admin/reset).
func WithScenario(sc *Scenario) Option {
	return func(s *Server) error {
		if err := sc.Validate(); err != nil {
			return err
		}
		s.initial = sc.Clone()
		return nil
	}
}

// WithClock replaces the wall clock; tests use it to check expiry to the second.
func WithClock(now func() time.Time) Option {
	return func(s *Server) error { s.now = now; return nil }
}

// WithBaseURL fixes the externally visible base URL (scheme://host:port)
// used in presigned upload URLs when the server is mounted by the caller.
func WithBaseURL(u string) Option {
	return func(s *Server) error { s.baseURL = u; return nil }
}

// New builds a Server. It does not listen; use Start or mount it as a handler.
func New(opts ...Option) (*Server, error) {
	s := &Server{apiKey: DefaultAPIKey, now: time.Now, initial: DefaultScenario()}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.mediaOverride != nil {
		s.initial.Media = *s.mediaOverride
	}
	s.scenario = s.initial.Clone()
	s.journal = newJournal(s.scenario.Journal.MaxEntries)
	tok, err := newTokenIssuer(s)
	if err != nil {
		return nil, err
	}
	s.tokens = tok
	s.sessions = newSessionStore(s)
	s.uploads = newUploadStore(s)
	s.faults = newFaultEngine()
	s.rtc = newRTCPlane(s)
	s.sessions.setLegacyAnswerer(s.rtc)
	s.sessions.setEndHook(s.sessionEnded)
	s.mux = http.NewServeMux()
	s.metrics = newServerMetrics(s)
	s.routes()
	return s, nil
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background. The base URL is derived from the bound address.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	if s.baseURL == "" {
		s.baseURL = "http://" + ln.Addr().String()
	}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: serverMaxHeaderBytes}
	go func() { _ = s.httpSrv.Serve(ln) }()
	return nil
}

// URL is the base URL clients use.
func (s *Server) URL() string { return s.baseURL }

// APIKey is the accepted API key.
func (s *Server) APIKey() string { return s.apiKey }

// Journal exposes the request journal to in-process tests.
func (s *Server) Journal() *Journal { return s.journal }

// Close stops serving and releases every session.
func (s *Server) Close() error {
	var err error
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.httpSrv.Shutdown(ctx)
	}
	s.rtc.close()
	s.sessions.closeAll()
	return err
}

// Scenario returns a copy of the active scenario.
func (s *Server) Scenario() *Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scenario.Clone()
}

// SetScenario replaces the active scenario and restarts fault counters.
func (s *Server) SetScenario(sc *Scenario) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.scenario = sc.Clone()
	s.mu.Unlock()
	s.faults.reset()
	s.rtc.applyPolicy(sc.Media)
	return nil
}

// sessionEnded runs when a session reaches INACTIVE or CLOSED (DELETE, max
// duration, an expired recoverable window): its connections, stream and
// model go at once rather than at the plane's next sweep, and a CLOSED
// session's uploads are forgotten so their URLs stop working and their
// bytes do not outlive it. INACTIVE keeps them: it can be restarted.
//
// The journal records the end with its reason (Type "session_ended", no
// method or channel), so a suite can see why the server ended a session.
func (s *Server) sessionEnded(id string, state wire.SessionState, reason string) {
	s.journal.Add(Entry{SessionID: id, Type: "session_ended", Detail: string(state) + ": " + reason})
	s.rtc.closeSession(id, reason)
	if state == wire.StateClosed {
		s.uploads.forgetSession(id)
	}
}

// Reset returns the server to its starting state: the initial scenario, no
// sessions, no uploads, an empty journal.
func (s *Server) Reset() {
	s.mu.Lock()
	s.scenario = s.initial.Clone()
	s.mu.Unlock()
	s.faults.reset()
	s.rtc.reset()
	s.sessions.closeAll()
	s.uploads.clear()
	s.journal.Clear()
}

// scn returns the active scenario for read-only use by handlers. Handlers
// must not modify it; SetScenario swaps the pointer rather than mutating.
func (s *Server) scn() *Scenario {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scenario
}
