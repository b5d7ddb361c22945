package client

import (
	"fmt"
	"net"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// APIOptions configures NewAPI.
type APIOptions struct {
	// LoopbackOnly restricts ICE to IPv4 UDP host candidates on loopback
	// interfaces, with mDNS off: for the embedded mock and tests.
	LoopbackOnly bool
	// UDPMux, when set, makes every peer connection built from the API
	// share this ICE UDP mux (one port for all clients), e.g.
	// webrtc.NewICEUDPMux(nil, conn). The caller closes it after the
	// clients.
	UDPMux ice.UDPMux
	// PortMin and PortMax, when both set, restrict the ephemeral ICE UDP
	// ports (ignored with UDPMux).
	PortMin, PortMax uint16
	// Interceptors selects pion's RTP/RTCP interceptors ("" is
	// InterceptorsDefault).
	Interceptors Interceptors
	// DisableInterceptors leaves out pion's default interceptors (NACK,
	// RTCP reports, TWCC feedback): fewer goroutines and timers per client,
	// but no retransmission requests and no receiver reports. It overrides
	// Interceptors (same as InterceptorsNone).
	DisableInterceptors bool
	// DisableArrivalStamps leaves the client's UDP sockets unwrapped:
	// frames then arrive when pion hands out their last packet, after its
	// receive path, rather than when the kernel received it (see
	// Frame.Arrival). Arrivals are never stamped with UDPMux.
	DisableArrivalStamps bool
	// Setting, when set, may adjust the SettingEngine last.
	Setting func(*webrtc.SettingEngine)
}

// Video feedback every codec advertises.
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
}

// RegisterCodecs registers the client's codecs on m: VP8, VP9 (profile 0),
// H264 (constrained baseline, packetization-mode 1) and Opus — what the
// runtime answers with (PROTOCOL.md §5).
func RegisterCodecs(m *webrtc.MediaEngine) error {
	video := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: videoFeedback}, PayloadType: 98},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: videoFeedback}, PayloadType: 102},
	}
	for _, c := range video {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("client: register %s: %w", c.MimeType, err)
		}
	}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}
	if err := m.RegisterCodec(opus, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("client: register opus: %w", err)
	}
	return nil
}

// RegisterExtensions registers the harness's frame-stamp and the
// abs-capture-time header extensions for video, as the mock does; an
// extension is negotiated only when both offer and answer list it.
func RegisterExtensions(m *webrtc.MediaEngine) error {
	for _, uri := range []string{rtpext.FrameStampURI, rtpext.AbsCaptureTimeURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("client: register header extension %s: %w", uri, err)
		}
	}
	return nil
}

// NewAPI builds a pion API for clients: a MediaEngine with VP8, VP9, H264
// and Opus plus the two header extensions, the interceptors opts selects
// (pion's defaults unless told otherwise), and a SettingEngine per opts. Build one and share it
// between all clients of a process.
func NewAPI(opts APIOptions) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := RegisterCodecs(m); err != nil {
		return nil, err
	}
	if err := RegisterExtensions(m); err != nil {
		return nil, err
	}
	set := opts.Interceptors
	if opts.DisableInterceptors {
		set = InterceptorsNone
	}
	ir := &interceptor.Registry{}
	if err := registerInterceptors(m, ir, set); err != nil {
		return nil, fmt.Errorf("client: interceptors: %w", err)
	}
	var se webrtc.SettingEngine
	if opts.LoopbackOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	if !opts.DisableArrivalStamps && opts.UDPMux == nil {
		n, err := newStampNet()
		if err != nil {
			return nil, fmt.Errorf("client: network: %w", err)
		}
		se.SetNet(n)
	}
	switch {
	case opts.UDPMux != nil:
		se.SetICEUDPMux(opts.UDPMux)
	case opts.PortMin != 0 && opts.PortMax != 0:
		if err := se.SetEphemeralUDPPortRange(opts.PortMin, opts.PortMax); err != nil {
			return nil, fmt.Errorf("client: port range: %w", err)
		}
	}
	if opts.Setting != nil {
		opts.Setting(&se)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// Interceptors names a set of pion interceptors for a receiving client.
// Every set but none keeps the client a real RTP receiver: it sends RTCP
// receiver reports, which senders use for loss and round-trip estimates.
type Interceptors string

// The interceptor sets, from the most browser-like to none.
const (
	// InterceptorsDefault sends what a browser sends: NACK (generator and
	// responder), RTCP receiver and sender reports and TWCC feedback
	// (transport-cc negotiated). It is pion's default set without the stats
	// interceptor, which puts nothing on the wire and serves only GetStats
	// (never called here) at the price of a copy of every packet's header.
	InterceptorsDefault Interceptors = "default"
	// InterceptorsMinimal keeps what a receiver needs on a lossy network:
	// RTCP reports and NACK (retransmission requests). It drops TWCC
	// feedback (transport-cc is then not offered, so the sender gets no
	// congestion feedback from this client) and the stats interceptor (the
	// client never calls GetStats), which both cost work on every packet.
	InterceptorsMinimal Interceptors = "minimal"
	// InterceptorsReports keeps RTCP reports only: for lossless links such
	// as loopback, where a NACK generator never finds a hole to ask for.
	InterceptorsReports Interceptors = "reports"
	// InterceptorsNone runs no interceptor: no receiver reports, no NACK.
	InterceptorsNone Interceptors = "none"
)

// ParseInterceptors reads an interceptor set name ("" is the default).
func ParseInterceptors(s string) (Interceptors, error) {
	switch v := Interceptors(s); v {
	case "":
		return InterceptorsDefault, nil
	case InterceptorsDefault, InterceptorsMinimal, InterceptorsReports, InterceptorsNone:
		return v, nil
	}
	return "", fmt.Errorf("interceptors must be default, minimal, reports or none, got %q", s)
}

// registerInterceptors registers set on m and ir. Minimal and reports
// still register the simulcast header extensions (mid, rid) of the default
// set, so the offer's media sections demultiplex the same way; none keeps
// the bare MediaEngine DisableInterceptors always had.
func registerInterceptors(m *webrtc.MediaEngine, ir *interceptor.Registry, set Interceptors) error {
	switch set {
	case "", InterceptorsDefault:
		if err := webrtc.ConfigureNack(m, ir); err != nil {
			return err
		}
		if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
			return err
		}
	case InterceptorsNone:
		return nil
	case InterceptorsMinimal:
		if err := webrtc.ConfigureNack(m, ir); err != nil {
			return err
		}
	case InterceptorsReports:
	default:
		return fmt.Errorf("unknown interceptor set %q", set)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return err
	}
	return webrtc.ConfigureSimulcastExtensionHeaders(m)
}

var (
	defaultAPIOnce sync.Once
	defaultAPI     *webrtc.API
	defaultAPIErr  error
)

// sharedAPI is the API of clients without Config.API.
func sharedAPI() (*webrtc.API, error) {
	defaultAPIOnce.Do(func() { defaultAPI, defaultAPIErr = NewAPI(APIOptions{}) })
	return defaultAPI, defaultAPIErr
}
