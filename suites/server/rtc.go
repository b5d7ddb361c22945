package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Helpers for the cases that need a connected client (media §5, data
// channels §3): they use the Go reference client (package client) with the
// run's recording HTTP client, so its signalling shows in failure reports.

var (
	rtcAPIOnce sync.Once
	rtcAPI     *webrtc.API
	rtcAPIErr  error
)

// sharedRTCAPI is one loopback-only pion API for every client of the process.
func sharedRTCAPI() (*webrtc.API, error) {
	rtcAPIOnce.Do(func() { rtcAPI, rtcAPIErr = client.NewAPI(client.APIOptions{LoopbackOnly: true}) })
	return rtcAPI, rtcAPIErr
}

// frameLog collects what a client received.
type frameLog struct {
	mu       sync.Mutex
	frames   []client.Frame
	messages []client.Message
}

func (l *frameLog) onFrame(f client.Frame) {
	l.mu.Lock()
	if len(l.frames) < 2000 {
		l.frames = append(l.frames, f)
	}
	l.mu.Unlock()
}

func (l *frameLog) onMessage(m client.Message) {
	l.mu.Lock()
	if len(l.messages) < 2000 {
		l.messages = append(l.messages, m)
	}
	l.mu.Unlock()
}

// complete returns the complete frames of track received so far.
func (l *frameLog) complete(track string) []client.Frame {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []client.Frame
	for _, f := range l.frames {
		if f.Track == track && f.Complete {
			out = append(out, f)
		}
	}
	return out
}

func (l *frameLog) appMessages() []client.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []client.Message
	for _, m := range l.messages {
		if m.Scope == client.ScopeApplication {
			out = append(out, m)
		}
	}
	return out
}

// connect builds a client for the target and connects it (bounded). The
// client is disconnected (session deleted) and closed on cleanup.
func (r *Run) connect(ctx context.Context, codec client.Codec, autoResume bool, log *frameLog, mutate ...func(*client.Config)) (*client.Client, error) {
	api, err := sharedRTCAPI()
	if err != nil {
		return nil, fmt.Errorf("setup: pion API: %w", err)
	}
	cfg := client.Config{
		BaseURL: r.T.BaseURL, APIKey: r.T.APIKey, Model: r.T.Model,
		SDKVersion: "conformance", HTTPClient: r.client, API: api,
		Codec: codec, AutoResume: client.Bool(autoResume),
		Timeouts: client.Timeouts{HTTP: httpTimeout, Ready: 20 * time.Second, Command: 10 * time.Second},
	}
	if log != nil {
		cfg.OnFrame, cfg.OnMessage = log.onFrame, log.onMessage
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("setup: client: %w", err)
	}
	r.onCleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx, false)
		_ = c.Close()
	})
	quotaDeadline := time.Now().Add(maxQuotaWait)
	for {
		cctx, cancel := context.WithTimeout(ctx, r.T.ReadyTimeout+30*time.Second)
		err = c.Connect(cctx)
		cancel()
		if err == nil {
			break
		}
		// Wait out the account's creation quota like postSession does.
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == wire.CodeRateLimited {
			wait := max(ce.RetryAfter, time.Second)
			if time.Now().Add(wait).Before(quotaDeadline) {
				if serr := sleep(ctx, wait); serr == nil {
					continue
				}
			}
		}
		return c, fmt.Errorf("the Go reference client could not connect (%s codec): %w", codec, err)
	}
	if id := c.SessionID(); id != "" {
		r.mu.Lock()
		r.sessions = append(r.sessions, id)
		r.mu.Unlock()
	}
	return c, nil
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// recvTrack is the first recvonly (model output) video track of c.
func recvTrack(c *client.Client) (string, error) {
	caps := c.Capabilities()
	if caps == nil {
		return "", fmt.Errorf("setup: the client has no capabilities after connecting")
	}
	for _, t := range caps.Tracks {
		if t.Direction == "recvonly" && t.Kind == "video" {
			return t.Name, nil
		}
	}
	return "", fmt.Errorf("setup: the model has no recvonly video track (capabilities %s)", jsonOf(caps))
}

func trackStats(c *client.Client) string { return jsonOf(c.TrackStats()) }
