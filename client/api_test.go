package client

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func TestParseInterceptors(t *testing.T) {
	for in, want := range map[string]Interceptors{"": InterceptorsDefault, "default": InterceptorsDefault,
		"minimal": InterceptorsMinimal, "reports": InterceptorsReports, "none": InterceptorsNone} {
		if got, err := ParseInterceptors(in); err != nil || got != want {
			t.Errorf("ParseInterceptors(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseInterceptors("nack"); err == nil {
		t.Error("ParseInterceptors(nack): no error")
	}
}

// TestInterceptorSetsOffer: the offer advertises transport-cc (TWCC
// feedback) only with the default set, and NACK feedback with every set.
func TestInterceptorSetsOffer(t *testing.T) {
	for set, twcc := range map[Interceptors]bool{InterceptorsDefault: true, InterceptorsMinimal: false,
		InterceptorsReports: false, InterceptorsNone: false} {
		sdp := offerWith(t, APIOptions{Interceptors: set, LoopbackOnly: true})
		if got := strings.Contains(sdp, "transport-cc"); got != twcc {
			t.Errorf("%s: transport-cc in the offer = %v, want %v", set, got, twcc)
		}
		if !strings.Contains(sdp, "nack") {
			t.Errorf("%s: no nack feedback in the offer", set)
		}
	}
	if _, err := NewAPI(APIOptions{Interceptors: "bogus"}); err == nil {
		t.Error("NewAPI with an unknown set: no error")
	}
}

func offerWith(t *testing.T, opts APIOptions) string {
	t.Helper()
	api, err := NewAPI(opts)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Close() }()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}
