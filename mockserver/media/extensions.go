package media

import (
	"fmt"

	"github.com/pion/webrtc/v4"

	"github.com/reactor-harness/reactor-harness/wire/rtpext"
)

// RegisterExtensions registers the frame-stamp and abs-capture-time header
// extensions for video on m, in both directions. Both the mock's answerer
// and the harness's client call it (after registering codecs), because an
// extension is only negotiated when the offer and the answer both list it.
func RegisterExtensions(m *webrtc.MediaEngine) error {
	for _, uri := range []string{rtpext.FrameStampURI, rtpext.AbsCaptureTimeURI} {
		ext := webrtc.RTPHeaderExtensionCapability{URI: uri}
		if err := m.RegisterHeaderExtension(ext, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("media: register header extension %s: %w", uri, err)
		}
	}
	return nil
}
