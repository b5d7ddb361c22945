package mockserver

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver/media"
)

// MediaPolicy holds the WebRTC plane's knobs: the scenario's "media" block
// (also set with WithMediaPolicy or SetMediaPolicy). The zero value is the
// platform's behaviour on loopback.
//
// Socket and watchdog knobs (UDPMux, UDPMuxAddr, PortMin/PortMax,
// AllInterfaces, the timeouts) take effect when the plane starts: on the
// first signalling request after New or Reset. FrameDelay and AutoStream
// apply at once.
type MediaPolicy struct {
	// UDPMux serves every peer connection from one UDP socket bound to
	// UDPMuxAddr ("127.0.0.1:0" = a free loopback port), so hundreds of
	// sessions need one socket.
	UDPMux     bool   `json:"udp_mux,omitempty"`
	UDPMuxAddr string `json:"udp_mux_addr,omitempty"`
	// PortMin and PortMax restrict per-connection sockets (without UDPMux).
	PortMin uint16 `json:"port_min,omitempty"`
	PortMax uint16 `json:"port_max,omitempty"`
	// AllInterfaces offers host candidates on every IPv4 interface instead
	// of loopback only, for clients on other machines.
	AllInterfaces bool `json:"all_interfaces,omitempty"`
	// FrameDelay is an extra delay between a frame's capture (the time it
	// is stamped with) and its sending, for every stream: the load
	// runner's latency measurement must report it (at most media.MaxDelay).
	FrameDelay Duration `json:"frame_delay,omitempty"`
	// AutoStream streams every connection's outbound tracks as soon as it
	// connects, without waiting for resume_track. 2.9.0-generation clients
	// (the paths without /connections, which have no control channel) are
	// always auto-streamed.
	AutoStream bool `json:"auto_stream,omitempty"`
	// WatchdogTimeout declares a connection lost after this long without an
	// inbound data-channel frame (default 20 s); WatchdogInterval is how
	// often it is checked (default 2 s).
	WatchdogTimeout  Duration `json:"watchdog_timeout,omitempty"`
	WatchdogInterval Duration `json:"watchdog_interval,omitempty"`
	// NegotiationTimeout closes a connection answered but never connected
	// (default 30 s).
	NegotiationTimeout Duration `json:"negotiation_timeout,omitempty"`
	// FPS overrides the clip's frame rate (0 keeps the clip's 30).
	FPS int `json:"fps,omitempty"`
	// Phases is how many evenly spaced capture instants each frame interval
	// has; sessions' streams are spread over them in turn, as independent
	// sessions of a real deployment would be (0 = media.DefaultPhases, 32).
	// 1 makes every stream capture and send on the same instant: the
	// mock's worst-case burst, all sessions at once. Applies at the next
	// plane start, like FPS.
	Phases int `json:"phases,omitempty"`
	// Impairments degrade the network under every session's WebRTC plane
	// (scenario_impair.go); ImpairSeed makes their random draws
	// repeatable. They apply at once, also to running sessions.
	Impairments []ImpairmentWindow `json:"impairments,omitempty"`
	ImpairSeed  uint64             `json:"impair_seed,omitempty"`
}

// Validate checks the policy; errors name the field.
func (p MediaPolicy) Validate() error {
	var errs []string
	if p.UDPMuxAddr != "" {
		if _, _, err := net.SplitHostPort(p.UDPMuxAddr); err != nil {
			errs = append(errs, fmt.Sprintf("media.udp_mux_addr %q: %v", p.UDPMuxAddr, err))
		}
	}
	if p.PortMin > p.PortMax {
		errs = append(errs, fmt.Sprintf("media.port_min %d > port_max %d", p.PortMin, p.PortMax))
	}
	if p.FrameDelay < 0 || p.FrameDelay.D() > media.MaxDelay {
		errs = append(errs, fmt.Sprintf("media.frame_delay must be within [0, %s]", media.MaxDelay))
	}
	if p.WatchdogTimeout < 0 || p.WatchdogInterval < 0 || p.NegotiationTimeout < 0 {
		errs = append(errs, "media: timeouts must not be negative")
	}
	if p.WatchdogInterval > 0 && p.WatchdogTimeout > 0 && p.WatchdogInterval > p.WatchdogTimeout {
		errs = append(errs, "media.watchdog_interval must not exceed watchdog_timeout")
	}
	if p.FPS < 0 || p.FPS > 240 {
		errs = append(errs, "media.fps must be within [0, 240]")
	}
	if p.Phases < 0 || p.Phases > 256 {
		errs = append(errs, "media.phases must be within [0, 256]")
	}
	if _, err := p.impairTimeline(); err != nil {
		errs = append(errs, "media."+err.Error())
	}
	if len(errs) > 0 {
		return errors.New("invalid media policy: " + strings.Join(errs, "; "))
	}
	return nil
}

// WithMediaPolicy sets the WebRTC plane's knobs of the starting scenario
// (whichever order it is given in relative to WithScenario).
func WithMediaPolicy(p MediaPolicy) Option {
	return func(s *Server) error {
		if err := p.Validate(); err != nil {
			return err
		}
		s.mediaOverride = &p
		return nil
	}
}

// MediaPolicy returns the active media knobs.
func (s *Server) MediaPolicy() MediaPolicy { return s.scn().Media }

// SetMediaPolicy replaces the active scenario's media knobs. FrameDelay and
// AutoStream apply at once; the socket and watchdog knobs at the next plane
// start (after Reset, or on a server whose plane has not started yet).
func (s *Server) SetMediaPolicy(p MediaPolicy) error {
	sc := s.Scenario()
	sc.Media = p
	return s.SetScenario(sc)
}

// frameDelay is FrameDelay as a time.Duration.
func (p MediaPolicy) frameDelay() time.Duration { return p.FrameDelay.D() }
