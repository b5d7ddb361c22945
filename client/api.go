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
	// DisableInterceptors leaves out pion's default interceptors (NACK,
	// RTCP reports, TWCC feedback): fewer goroutines and timers per client,
	// but no retransmission requests and no receiver reports.
	DisableInterceptors bool
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
// and Opus plus the two header extensions, pion's default interceptors
// (unless disabled), and a SettingEngine per opts. Build one and share it
// between all clients of a process.
func NewAPI(opts APIOptions) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := RegisterCodecs(m); err != nil {
		return nil, err
	}
	if err := RegisterExtensions(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if !opts.DisableInterceptors {
		if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
			return nil, fmt.Errorf("client: interceptors: %w", err)
		}
	}
	var se webrtc.SettingEngine
	if opts.LoopbackOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
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
