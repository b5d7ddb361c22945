package peer

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/mockserver/impair"
	"github.com/reactor-harness/reactor-harness/mockserver/media"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// Defaults of Config (PROTOCOL.md §1.3 and §6: RT's gathering timeout,
// ping watchdog and negotiation deadline).
const (
	DefaultGatherTimeout      = 3 * time.Second
	DefaultWatchdogTimeout    = 20 * time.Second
	DefaultWatchdogInterval   = 2 * time.Second
	DefaultNegotiationTimeout = 30 * time.Second
	// DefaultSCTPMaxMessageSize is what the answer advertises as
	// a=max-message-size: libwebrtc's 256 KiB, the protocol's client limit
	// (PROTOCOL.md §3.5), so SDKs that size frames from the SDP refuse the
	// same frames they would refuse against the platform. The mock still
	// reads bigger frames from clients that ignore it (up to
	// maxReadMessage), to drop and journal them.
	DefaultSCTPMaxMessageSize = wirev0.MaxMessageBytes
	// sctpReceiveBuffer bounds what one association buffers; no message
	// larger than it can be delivered.
	sctpReceiveBuffer = 4 << 20
	// maxReadMessage is the largest frame a channel reader accepts: all the
	// association can deliver.
	maxReadMessage = sctpReceiveBuffer
	// nackBufferPackets is how many sent packets per SSRC the NACK responder
	// keeps for retransmission: about four seconds of the fixture clip,
	// far more than a loopback round trip needs.
	nackBufferPackets = 256
)

// Config tunes an API. The zero value is the loopback default: host
// candidates on 127.0.0.1, one UDP socket per connection from the OS's
// ephemeral range, the runtime's timeouts.
type Config struct {
	// UDPMux makes every connection share one UDP socket bound to MuxAddr
	// (default "127.0.0.1:0", a free port), so hundreds of sessions need one
	// socket instead of hundreds. MuxAddr should name one address: the
	// answer's only host candidate is the socket's address.
	UDPMux  bool
	MuxAddr string
	// PortMin and PortMax restrict the per-connection sockets to a range
	// (without UDPMux); 0 and 0 let the OS choose.
	PortMin, PortMax uint16
	// AllInterfaces gathers host candidates on every IPv4 interface rather
	// than on loopback only (without UDPMux). Use it when clients run on
	// other machines.
	AllInterfaces bool
	// GatherTimeout bounds the wait for ICE gathering before the answer is
	// returned with whatever candidates were found.
	GatherTimeout time.Duration
	// WatchdogTimeout declares a connected connection lost when no frame
	// arrived on any of its data channels for this long; WatchdogInterval is
	// how often the one shared watchdog looks.
	// Impair, when set, sits on every ICE socket (the mux's or each
	// connection's) and degrades datagrams by its timeline.
	Impair           *impair.Engine
	WatchdogTimeout  time.Duration
	WatchdogInterval time.Duration
	// NegotiationTimeout closes a connection that was answered but never
	// connected.
	NegotiationTimeout time.Duration
	// SCTPMaxMessageSize is advertised in the answer (see
	// DefaultSCTPMaxMessageSize). Frames up to 4 MiB are read whatever it
	// says.
	SCTPMaxMessageSize uint32
	// LoggerFactory receives pion's logs; nil logs errors to stderr.
	LoggerFactory logging.LoggerFactory
}

func (c *Config) fill() {
	if c.MuxAddr == "" {
		c.MuxAddr = "127.0.0.1:0"
	}
	if c.GatherTimeout <= 0 {
		c.GatherTimeout = DefaultGatherTimeout
	}
	if c.WatchdogTimeout <= 0 {
		c.WatchdogTimeout = DefaultWatchdogTimeout
	}
	if c.WatchdogInterval <= 0 {
		c.WatchdogInterval = DefaultWatchdogInterval
	}
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = DefaultNegotiationTimeout
	}
	if c.SCTPMaxMessageSize == 0 {
		c.SCTPMaxMessageSize = DefaultSCTPMaxMessageSize
	}
}

// API is the answerer shared by every session of a server. It is safe for
// concurrent use.
type API struct {
	cfg     Config
	api     *webrtc.API
	mux     ice.UDPMux
	muxConn net.PacketConn

	wd watchdog
	// wg tracks goroutines the API starts outside any one connection's
	// lifetime (closing a lost or failed connection).
	wg sync.WaitGroup

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
}

// ErrClosed is returned by an API or Conn that was closed.
var ErrClosed = errors.New("peer: closed")

// NewAPI builds the shared answerer. With cfg.UDPMux it binds the shared
// socket now; Close releases it.
func NewAPI(cfg Config) (*API, error) {
	cfg.fill()
	a := &API{cfg: cfg, conns: map[*Conn]struct{}{}}
	a.wd.init(a)
	me, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	ir, err := newInterceptors(me)
	if err != nil {
		return nil, err
	}
	se, err := a.settingEngine()
	if err != nil {
		return nil, err
	}
	a.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return a, nil
}

// newMediaEngine registers what a libwebrtc offer negotiates with: Opus,
// VP8 (what the mock sends), VP9 profile 0 and H264 constrained baseline (so
// offers that list them first still get an answer), their RTCP feedback, and
// the frame-stamp and abs-capture-time extensions.
func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	codecs := []struct {
		kind webrtc.RTPCodecType
		c    webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: media.ClockRate, RTCPFeedback: fb}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 98, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP9, ClockRate: media.ClockRate, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb}}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{PayloadType: 102, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: media.ClockRate,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: fb}}},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.c, c.kind); err != nil {
			return nil, fmt.Errorf("peer: register %s: %w", c.c.MimeType, err)
		}
	}
	if err := media.RegisterExtensions(m); err != nil {
		return nil, err
	}
	return m, nil
}

// newInterceptors keeps what a sender needs and nothing that ticks per
// connection without need: a NACK responder (retransmits from a small
// buffer), sender reports (receivers use them for sync) and the
// transport-cc header extension (libwebrtc's bandwidth estimation). No NACK
// generator, receiver reports or stats interceptor: client input tracks are
// read and discarded.
func newInterceptors(m *webrtc.MediaEngine) (*interceptor.Registry, error) {
	ir := &interceptor.Registry{}
	responder, err := nack.NewResponderInterceptor(nack.ResponderSize(nackBufferPackets))
	if err != nil {
		return nil, fmt.Errorf("peer: nack responder: %w", err)
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	ir.Add(responder)
	sr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("peer: sender reports: %w", err)
	}
	ir.Add(sr)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
		return nil, fmt.Errorf("peer: transport-cc: %w", err)
	}
	return ir, nil
}

// settingEngine makes candidates loopback-friendly: IPv4 UDP host
// candidates only, no mDNS (it would open a multicast socket per
// connection), and either the shared mux or an optional port range.
func (a *API) settingEngine() (webrtc.SettingEngine, error) {
	cfg := a.cfg
	var se webrtc.SettingEngine
	if cfg.LoggerFactory != nil {
		se.LoggerFactory = cfg.LoggerFactory
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	if !cfg.AllInterfaces {
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	} else {
		se.SetIPFilter(func(ip net.IP) bool { return ip.To4() != nil && !ip.IsLinkLocalUnicast() })
	}
	// Detached channels are read by our own loop with a small buffer that
	// grows for big frames only; pion's own loop keeps 64 KiB per channel.
	se.DetachDataChannels()
	se.SetSCTPMaxMessageSize(cfg.SCTPMaxMessageSize)
	se.SetSCTPMaxReceiveBufferSize(sctpReceiveBuffer)
	switch {
	case cfg.UDPMux:
		conn, err := net.ListenPacket("udp4", cfg.MuxAddr)
		if err != nil {
			return se, fmt.Errorf("peer: ICE UDP mux on %s: %w", cfg.MuxAddr, err)
		}
		var logger logging.LeveledLogger
		if cfg.LoggerFactory != nil {
			logger = cfg.LoggerFactory.NewLogger("ice-mux")
		}
		a.muxConn = conn
		var pc net.PacketConn = conn
		if cfg.Impair != nil {
			pc = impair.WrapPacketConn(conn, cfg.Impair)
		}
		a.mux = webrtc.NewICEUDPMux(logger, pc)
		se.SetICEUDPMux(a.mux)
	case cfg.PortMin != 0 || cfg.PortMax != 0:
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
			return se, fmt.Errorf("peer: port range %d-%d: %w", cfg.PortMin, cfg.PortMax, err)
		}
	}
	if cfg.Impair != nil && !cfg.UDPMux {
		n, err := stdnet.NewNet()
		if err != nil {
			return se, fmt.Errorf("peer: network for impairment: %w", err)
		}
		se.SetNet(impair.WrapNet(n, cfg.Impair))
	}
	return se, nil
}

// MuxAddr returns the shared socket's address, or nil without UDPMux.
func (a *API) MuxAddr() net.Addr {
	if a.muxConn == nil {
		return nil
	}
	return a.muxConn.LocalAddr()
}

// Config returns the effective configuration (defaults filled in).
func (a *API) Config() Config { return a.cfg }

// Conns returns how many connections are open.
func (a *API) Conns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.conns)
}

func (a *API) add(c *Conn) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	a.conns[c] = struct{}{}
	return nil
}

func (a *API) remove(c *Conn) {
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
}

// Close closes every connection, stops the watchdog and releases the
// shared socket. It waits for the goroutines the package started.
func (a *API) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	conns := make([]*Conn, 0, len(a.conns))
	for c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	CloseAll(conns)
	a.wd.shutdown()
	a.wg.Wait()
	var err error
	if a.mux != nil {
		err = a.mux.Close()
	}
	if a.muxConn != nil {
		// The mux closes the socket itself; closing again is harmless.
		if cerr := a.muxConn.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// CloseAll closes connections concurrently and waits for all of them.
func CloseAll(conns []*Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { _ = c.Close() })
	}
	wg.Wait()
}
