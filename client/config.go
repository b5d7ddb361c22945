package client

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pion/webrtc/v4"

	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
)

// Version is the harness version the client reports as client_info
// sdk_version. Set it at build time with
// -ldflags "-X github.com/reactor-harness/reactor-harness/client.Version=…"
// or per client with Config.SDKVersion.
var Version = "dev"

// SDKType is the client_info sdk_type the client reports.
const SDKType = "go-harness"

// DefaultModel is the model Connect asks for when Config.Model is empty.
const DefaultModel = "helios"

// Codec is the data-channel wire format: CodecV0 (JSON envelope, the JS
// SDKs) or CodecV1 (binary protobuf, reactor-core).
type Codec = wirev0.Codec

// The two data-channel codecs.
const (
	CodecV0 = wirev0.V0
	CodecV1 = wirev0.V1
)

// Backoff is a poll schedule: after the i-th unsuccessful attempt (from 0)
// the client sleeps min(Initial·Factor^i, Max); it gives up after Attempts
// requests.
type Backoff struct {
	Initial  time.Duration
	Factor   float64
	Max      time.Duration
	Attempts int
}

// Poll schedules of the current SDKs (PROTOCOL.md §6).
var (
	// DefaultSessionPoll polls GET /sessions/{id}: 200 ms ×2, cap 10 s, 20 attempts.
	DefaultSessionPoll = Backoff{Initial: 200 * time.Millisecond, Factor: 2, Max: 10 * time.Second, Attempts: 20}
	// DefaultSDPPoll polls GET …/sdp_params: 200 ms ×2, cap 15 s, 6 attempts.
	DefaultSDPPoll = Backoff{Initial: 200 * time.Millisecond, Factor: 2, Max: 15 * time.Second, Attempts: 6}
)

// Delay returns the sleep after the i-th unsuccessful attempt (i from 0).
func (b Backoff) Delay(i int) time.Duration {
	d := float64(b.Initial)
	for range min(i, 64) {
		d *= b.Factor
		if b.Max > 0 && d >= float64(b.Max) {
			return b.Max
		}
	}
	if b.Max > 0 && time.Duration(d) > b.Max {
		return b.Max
	}
	return time.Duration(d)
}

func (b Backoff) orDefault(def Backoff) Backoff {
	if b.Attempts <= 0 {
		return def
	}
	if b.Factor < 1 {
		b.Factor = 1
	}
	return b
}

// Timeouts bound every wait of the client. Zero fields take the defaults
// listed with each field.
type Timeouts struct {
	// HTTP bounds one HTTP request including reading its body (10 s).
	HTTP time.Duration
	// Gather bounds the wait for ICE gathering before the offer is sent
	// (5 s, like the JS SDKs); when it expires the offer goes out with the
	// candidates gathered so far.
	Gather time.Duration
	// Ready bounds setRemoteDescription → peer connected and both data
	// channels open (30 s, reactor-core's ready gate).
	Ready time.Duration
	// Command bounds a v1 command's wait for its RESPONSE and Ping's wait
	// for the schema (10 s).
	Command time.Duration
	// FirstFrame bounds Config.WaitFirstFrame (10 s).
	FirstFrame time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.HTTP, 10*time.Second)
	def(&t.Gather, 5*time.Second)
	def(&t.Ready, 30*time.Second)
	def(&t.Command, 10*time.Second)
	def(&t.FirstFrame, 10*time.Second)
	return t
}

// Config configures one Client. BaseURL and one way to authenticate (APIKey,
// JWT or JWTFunc) are required; everything else has a default.
type Config struct {
	// BaseURL is the coordinator, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// APIKey, when no JWT or JWTFunc is given, is exchanged once per
	// Connect for a JWT with POST /tokens (Reactor-API-Key header), the
	// token scoped to Model like the Python SDK does.
	APIKey string
	// JWT is a static token.
	JWT string
	// JWTFunc, when set, is called before every authenticated request, as
	// the current SDKs call their JWT resolver; "" omits Authorization.
	JWTFunc func(ctx context.Context) (string, error)
	// Model is the model name (default "helios").
	Model string
	// ExtraArgs, when non-nil, is sent as POST /sessions extra_args.
	ExtraArgs map[string]any
	// SDKVersion overrides Version in client_info.
	SDKVersion string

	// HTTPClient carries every request (default: a shared client with a
	// pooled transport). Share one between clients.
	HTTPClient *http.Client
	// API builds the peer connections (default: NewAPI(APIOptions{}),
	// built once per process). Share one between clients.
	API *webrtc.API

	// Codec is the data-channel wire format (default CodecV0).
	Codec Codec
	// AutoResume sends resume_track for every recvonly track when the
	// client becomes ready (after Connect and Reconnect). nil means true.
	AutoResume *bool
	// Heartbeat sends the SDKs' keep-alive while ready: v0 "ping" on data
	// every 5 s, or v1 Ping on control every 10 s, the first immediately.
	Heartbeat bool
	// HeartbeatInterval overrides the codec's heartbeat period.
	HeartbeatInterval time.Duration
	// Trickle sends the offer without waiting for ICE gathering and
	// trickles candidates to …/ice_candidates in 25 ms batches, ending with
	// is_final:true.
	Trickle bool
	// ClientStats sends a v1 ClientStats report on control every
	// ClientStatsInterval (default 5 s) while connected, as reactor-sdk
	// 1.13.0 does (PROTOCOL.md §9.3); ignored for v0. OnClientStats, when
	// set, learns each send's outcome (nil = sent).
	ClientStats         bool
	ClientStatsInterval time.Duration
	OnClientStats       func(error)
	// NoDCChunking leaves a=x-reactor-dc-chunking out of the offer, as
	// SDKs before 1.13.0 did: commands are then limited to 256 KiB.
	NoDCChunking bool
	// WaitFirstFrame makes Connect and Reconnect also wait (Timeouts.
	// FirstFrame) for the first complete video frame.
	WaitFirstFrame bool

	// SessionPoll and SDPPoll are the poll schedules (zero value: the
	// SDK defaults DefaultSessionPoll and DefaultSDPPoll).
	SessionPoll Backoff
	SDPPoll     Backoff
	Timeouts    Timeouts

	// OnFrame is called for each reassembled frame, synchronously on the
	// track's reader goroutine: it must return quickly.
	OnFrame func(Frame)
	// OnMessage is called for each inbound data-channel message that is not
	// the answer to a pending SendCommand or Ping, on the channel's reader
	// goroutine.
	OnMessage func(Message)
	// OnStatus is called on every status change.
	OnStatus func(Status)
	// Logger receives debug and warning logs (default: discarded).
	Logger *slog.Logger
}

// Bool returns a pointer to v, for Config.AutoResume.
func Bool(v bool) *bool { return &v }
