package impair

import "fmt"

// Traffic is a set of packet classes, demultiplexed on the first byte as
// RFC 7983 does: STUN 0–3, DTLS 20–63 (the data channels' SCTP rides in
// it), RTP and RTCP 128–191 (RTCP when the second byte is a payload type
// of 192–223, RFC 5761).
type Traffic uint8

// Packet classes.
const (
	TrafficSTUN Traffic = 1 << iota
	TrafficDTLS         // DTLS, and with it SCTP (data channels)
	TrafficRTP
	TrafficRTCP
	TrafficOther // none of the above

	TrafficMedia = TrafficRTP | TrafficRTCP
	TrafficAll   = TrafficSTUN | TrafficDTLS | TrafficRTP | TrafficRTCP | TrafficOther
)

// trafficNames are the names a Timeline is written with.
var trafficNames = map[string]Traffic{
	"all": TrafficAll, "": TrafficAll, "media": TrafficMedia, "rtp": TrafficRTP, "rtcp": TrafficRTCP,
	"sctp": TrafficDTLS, "dtls": TrafficDTLS, "stun": TrafficSTUN,
}

// ParseTraffic reads a traffic name: all (the default), media (RTP and
// RTCP), rtp, rtcp, sctp (the data channels, i.e. DTLS), stun.
func ParseTraffic(s string) (Traffic, error) {
	if t, ok := trafficNames[s]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("unknown traffic %q (want all, media, rtp, rtcp, sctp or stun)", s)
}

// Classify returns the class of one datagram.
func Classify(b []byte) Traffic {
	if len(b) == 0 {
		return TrafficOther
	}
	switch c := b[0]; {
	case c <= 3:
		return TrafficSTUN
	case c >= 20 && c <= 63:
		return TrafficDTLS
	case c >= 128 && c <= 191:
		if len(b) > 1 && b[1] >= 192 && b[1] <= 223 {
			return TrafficRTCP
		}
		return TrafficRTP
	}
	return TrafficOther
}

// Direction says which way an impairment acts, seen from the mock.
type Direction uint8

// Directions.
const (
	Send Direction = 1 << iota // mock → client
	Recv                       // client → mock
	Both = Send | Recv
)

// ParseDirection reads a direction: both (the default), send, recv.
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "", "both":
		return Both, nil
	case "send":
		return Send, nil
	case "recv":
		return Recv, nil
	}
	return 0, fmt.Errorf("unknown direction %q (want both, send or recv)", s)
}
