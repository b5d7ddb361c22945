package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Status is the client status machine of every SDK (PROTOCOL.md §2.3).
type Status string

// Client statuses.
const (
	StatusDisconnected Status = "disconnected"
	StatusConnecting   Status = "connecting" // until the session is created
	StatusWaiting      Status = "waiting"    // polling and negotiating
	StatusReady        Status = "ready"      // peer connected, both channels open
)

// Client is one Reactor client: one session, one peer connection at a time.
// Its methods are safe for concurrent use, except that Connect, Reconnect,
// Disconnect and Close run one at a time and must not be called from the
// client's own callbacks.
type Client struct {
	cfg        Config
	baseURL    string
	http       *http.Client
	api        *webrtc.API
	log        *slog.Logger
	timeouts   Timeouts
	sessPoll   Backoff
	sdpPoll    Backoff
	autoResume bool
	clientInfo wire.ClientInfo

	op sync.Mutex // serializes Connect, Reconnect, Disconnect, Close

	mu        sync.Mutex
	status    Status
	closed    bool
	minted    string
	sessionID string
	connID    int
	caps      *wire.Capabilities
	timings   Timings
	cur       *conn

	dataSeq, ctrlSeq atomic.Uint64

	wmu           sync.Mutex
	waiters       map[string]waiter // v1 requests by request_id
	schemaWaiters []waiter          // v0 requestSchema, FIFO
}

// New validates cfg and returns a disconnected client. It does no I/O.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: BaseURL %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.APIKey == "" && cfg.JWT == "" && cfg.JWTFunc == nil {
		return nil, errors.New("client: one of APIKey, JWT or JWTFunc is required")
	}
	if cfg.Codec != CodecV0 && cfg.Codec != CodecV1 {
		return nil, fmt.Errorf("client: unknown codec %v", cfg.Codec)
	}
	c := &Client{
		cfg:        cfg,
		baseURL:    strings.TrimRight(cfg.BaseURL, "/"),
		http:       cfg.HTTPClient,
		api:        cfg.API,
		log:        cfg.Logger,
		timeouts:   cfg.Timeouts.withDefaults(),
		sessPoll:   cfg.SessionPoll.orDefault(DefaultSessionPoll),
		sdpPoll:    cfg.SDPPoll.orDefault(DefaultSDPPoll),
		autoResume: cfg.AutoResume == nil || *cfg.AutoResume,
		clientInfo: wire.ClientInfo{SDKVersion: cfg.SDKVersion, SDKType: SDKType},
		status:     StatusDisconnected,
		waiters:    map[string]waiter{},
	}
	if c.cfg.Model == "" {
		c.cfg.Model = DefaultModel
	}
	if c.clientInfo.SDKVersion == "" {
		c.clientInfo.SDKVersion = Version
	}
	if c.http == nil {
		c.http = defaultHTTP
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.api == nil {
		if c.api, err = sharedAPI(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// SessionID returns the session id ("" before POST /sessions succeeded or
// after a non-recoverable Disconnect).
func (c *Client) SessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// ConnectionID returns the registered connection id (0 if none).
func (c *Client) ConnectionID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connID
}

// Status returns the current status.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Capabilities returns the session's capabilities (nil before the session
// was ready).
func (c *Client) Capabilities() *wire.Capabilities {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps
}

// Timings returns a copy of the latest Connect's or Reconnect's timings.
func (c *Client) Timings() Timings {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timings
}

// TrackStats returns the counters of the current peer connection's remote
// tracks.
func (c *Client) TrackStats() []TrackStats {
	cn := c.current()
	if cn == nil {
		return nil
	}
	return cn.trackStats()
}

func (c *Client) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func (c *Client) setStatus(s Status) {
	c.mu.Lock()
	changed := c.status != s
	c.status = s
	c.mu.Unlock()
	if changed && c.cfg.OnStatus != nil {
		c.cfg.OnStatus(s)
	}
}

func (c *Client) setTiming(phase string, d time.Duration) {
	c.mu.Lock()
	c.timings.set(phase, d)
	c.mu.Unlock()
}

// timed runs f and records its duration as phase.
func (c *Client) timed(phase string, f func() error) error {
	t0 := time.Now()
	err := f()
	c.setTiming(phase, time.Since(t0))
	return err
}

// begin checks that an operation may start.
func (c *Client) begin(phase string, want ...Status) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return newErr(phase, CodeInvalidState, ErrClosed)
	}
	for _, s := range want {
		if c.status == s {
			return nil
		}
	}
	return newErr(phase, CodeInvalidState, fmt.Errorf("status is %s", c.status))
}

// Connect runs the whole flow of PROTOCOL.md §0 (token, create, poll, ICE
// servers, register, offer, answer, connect) and returns when the client is
// ready, or with an *Error naming the failed phase. After a failure the
// session, if one was created, is kept: call Disconnect(ctx, false) to
// delete it.
func (c *Client) Connect(ctx context.Context) error {
	c.op.Lock()
	defer c.op.Unlock()
	if err := c.begin(PhaseCreate, StatusDisconnected); err != nil {
		return err
	}
	start := time.Now()
	c.mu.Lock()
	c.timings = Timings{Start: start}
	c.sessionID, c.connID, c.caps = "", 0, nil
	c.mu.Unlock()
	c.setStatus(StatusConnecting)
	err := c.connect(ctx)
	c.finish(start, err)
	return err
}

func (c *Client) connect(ctx context.Context) error {
	if c.cfg.APIKey != "" && c.cfg.JWT == "" && c.cfg.JWTFunc == nil {
		if err := c.timed(PhaseToken, func() error { return c.mintToken(ctx) }); err != nil {
			return err
		}
	}
	if err := c.timed(PhaseCreate, func() error { return c.createSession(ctx) }); err != nil {
		return err
	}
	c.setStatus(StatusWaiting)
	if err := c.timed(PhaseReady, func() error { return c.pollSession(ctx) }); err != nil {
		return err
	}
	return c.negotiate(ctx, false)
}

// finish records Total and, on failure, tears the peer connection down.
func (c *Client) finish(start time.Time, err error) {
	if err != nil {
		c.dropConn()
		c.setStatus(StatusDisconnected)
	}
	c.mu.Lock()
	c.timings.Total = time.Since(start)
	c.mu.Unlock()
}

// negotiate runs the transport part: ICE servers, register (unless a
// reconnect reuses the connection id), offer, answer, connect, ready.
func (c *Client) negotiate(ctx context.Context, reconnect bool) error {
	var servers []webrtc.ICEServer
	if err := c.timed(PhaseICEServers, func() (err error) { servers, err = c.iceServers(ctx); return err }); err != nil {
		return err
	}
	method := http.MethodPut
	if c.ConnectionID() == 0 || !reconnect {
		method = http.MethodPost
		if err := c.timed(PhaseRegister, func() error { return c.register(ctx) }); err != nil {
			return err
		}
	}
	var cn *conn
	var offer string
	var mapping []wire.TrackMapping
	err := c.timed(PhaseOffer, func() (err error) {
		if cn, err = c.newConn(servers); err != nil {
			return err
		}
		c.mu.Lock()
		c.cur = cn
		c.mu.Unlock()
		offer, mapping, err = cn.offer(ctx)
		return err
	})
	if err != nil {
		return err
	}
	var answer string
	err = c.timed(PhaseSignalling, func() (err error) {
		if err = c.sendOffer(ctx, method, offer, mapping); err != nil {
			return err
		}
		if c.cfg.Trickle {
			cn.startTrickle(c.ConnectionID())
		}
		answer, err = c.pollAnswer(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if err := cn.connect(ctx, answer); err != nil {
		return err
	}
	c.becomeReady(cn)
	if c.cfg.WaitFirstFrame {
		return cn.waitFirstFrame(ctx, c.timeouts.FirstFrame)
	}
	return nil
}

// becomeReady marks the client ready and starts what runs while ready.
func (c *Client) becomeReady(cn *conn) {
	now := time.Now()
	c.mu.Lock()
	c.timings.ReadyAt = now
	if ff := cn.firstFrameTime(); !ff.IsZero() {
		c.timings.FirstFrameAt = ff
	}
	c.mu.Unlock()
	c.setStatus(StatusReady)
	if c.autoResume {
		for _, m := range cn.mapping {
			if m.Direction == wire.DirectionRecvOnly {
				if err := cn.sendTrackVerb(true, m.Name); err != nil {
					c.log.Warn("resume_track failed", "track", m.Name, "err", err)
				}
			}
		}
	}
	if c.cfg.Heartbeat {
		cn.startHeartbeat()
	}
	cn.startStats()
}

// recordFirstFrame is called once per peer connection, from a reader
// goroutine, on its first complete video frame.
func (c *Client) recordFirstFrame(cn *conn, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != cn || c.timings.ReadyAt.IsZero() {
		return // becomeReady picks it up
	}
	c.timings.FirstFrameAt = at
	c.timings.FirstFrame = max(0, at.Sub(c.timings.ReadyAt))
}

// transportLost is called when a ready peer connection fails or closes.
func (c *Client) transportLost(cn *conn, state webrtc.PeerConnectionState) {
	c.mu.Lock()
	lost := c.cur == cn && c.status == StatusReady
	c.mu.Unlock()
	if lost {
		c.log.Warn("transport lost", "state", state.String(), "session", c.SessionID())
		c.setStatus(StatusDisconnected)
	}
}

// dropConn closes the current peer connection, if any, and waits for its
// goroutines.
func (c *Client) dropConn() {
	c.mu.Lock()
	cn := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cn != nil {
		cn.close()
	}
	c.failWaiters()
}

// Reconnect replaces the peer connection on the same session: a new offer
// is PUT to the registered connection id (or, without one, a connection is
// registered and the offer POSTed), the answer polled and the client made
// ready again. Timings then describe the Reconnect.
func (c *Client) Reconnect(ctx context.Context) error {
	c.op.Lock()
	defer c.op.Unlock()
	if err := c.begin(PhaseReconnect, StatusReady, StatusDisconnected); err != nil {
		return err
	}
	c.mu.Lock()
	sid, caps := c.sessionID, c.caps
	c.mu.Unlock()
	if sid == "" || caps == nil {
		return newErr(PhaseReconnect, CodeInvalidState, errors.New("no session to reconnect to"))
	}
	c.dropConn()
	start := time.Now()
	c.mu.Lock()
	c.timings = Timings{Start: start, Reconnect: true}
	c.mu.Unlock()
	c.setStatus(StatusConnecting)
	err := c.negotiate(ctx, true)
	c.finish(start, err)
	return err
}

// Disconnect closes the peer connection. A recoverable disconnect keeps the
// session for Reconnect; a non-recoverable one also sends DELETE
// /sessions/{id} (404 counts as success) and forgets the session.
func (c *Client) Disconnect(ctx context.Context, recoverable bool) error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	closed, sid := c.closed, c.sessionID
	c.mu.Unlock()
	if closed {
		return newErr(PhaseDisconnect, CodeInvalidState, ErrClosed)
	}
	c.dropConn()
	c.setStatus(StatusDisconnected)
	if recoverable || sid == "" {
		return nil
	}
	_, err := c.do(ctx, request{phase: PhaseDisconnect, method: http.MethodDelete, path: wire.SessionPath(sid),
		auth: true, api: true, want: []int{200, 202, 204, 404}})
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.sessionID == sid {
		c.sessionID, c.connID = "", 0
	}
	c.mu.Unlock()
	return nil
}

// Close releases the peer connection and every goroutine of the client. It
// sends nothing to the server (use Disconnect(ctx, false) first to delete
// the session). It is idempotent.
func (c *Client) Close() error {
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.dropConn()
	c.setStatus(StatusDisconnected)
	return nil
}
