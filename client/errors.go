package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Phases name where a client operation failed (Error.Phase) and key the
// fields of Timings.
const (
	PhaseToken        = "token"
	PhaseCreate       = "create"
	PhaseReady        = "ready" // polling GET /sessions/{id}
	PhaseICEServers   = "ice_servers"
	PhaseRegister     = "register"
	PhaseOffer        = "offer"      // create offer + ICE gathering
	PhaseSignalling   = "signalling" // offer POST/PUT → answer
	PhaseTrickle      = "trickle"
	PhaseICEConnect   = "ice_connect"
	PhaseChannelsOpen = "channels_open"
	PhaseFirstFrame   = "first_frame"
	PhaseCommand      = "command"
	PhasePing         = "ping"
	PhaseControl      = "control"
	PhaseUpload       = "upload"
	PhaseDisconnect   = "disconnect"
	PhaseReconnect    = "reconnect"
)

// Error codes the client uses besides wire.CodeForStatus's HTTP mapping
// (reactor-core's names where it has one). A v1 command refused by the
// runtime carries the runtime's own code (e.g. "invalid_command").
const (
	CodeTimeout         = "REQUEST_TIMEOUT"
	CodeNetwork         = "NETWORK_ERROR"
	CodeTransport       = "TRANSPORT_ERROR" // ICE/DTLS failure, channel closed
	CodeSessionTerminal = "SESSION_TERMINAL"
	CodeInvalidState    = "INVALID_STATE"
	CodeProtocol        = "PROTOCOL_ERROR" // an unexpected status or body
	CodeTooLarge        = "MESSAGE_TOO_LARGE"
	CodeCancelled       = "CANCELLED" // the caller's context was cancelled
)

// Sentinel causes, for errors.Is on an *Error.
var (
	// ErrUnexpectedStatus: a status outside what the protocol allows at
	// that step (Error.Status says which).
	ErrUnexpectedStatus = errors.New("unexpected HTTP status")
	// ErrPollExhausted: a poll schedule ran out of attempts.
	ErrPollExhausted = errors.New("poll attempts exhausted")
	// ErrSessionTerminal: the session reached CLOSED or INACTIVE while polling.
	ErrSessionTerminal = errors.New("session entered a terminal state")
	// ErrICEFailed: the peer connection failed or closed before connecting.
	ErrICEFailed = errors.New("peer connection failed")
	// ErrTimeout: a bounded wait expired.
	ErrTimeout = errors.New("timed out")
	// ErrNotReady: the operation needs a ready client.
	ErrNotReady = errors.New("client is not ready")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client is closed")
	// ErrRemote: the runtime answered a request with an Error payload.
	ErrRemote = errors.New("runtime returned an error")
)

// Error is every error the client returns from its public methods.
type Error struct {
	// Phase is where it happened (Phase* constants).
	Phase string
	// Status is the HTTP status, 0 when the failure was not an HTTP answer.
	Status int
	// Code is wire.CodeForStatus(Status) for HTTP failures, a Code* constant
	// otherwise, or the runtime's code for a refused v1 request.
	Code string
	// Detail is the server's {"detail"} text (or the runtime's error
	// message); raw body text when the body is not that shape.
	Detail string
	// RetryAfter is the Retry-After header (delta-seconds) when sent.
	RetryAfter time.Duration
	// Err is the cause (one of the sentinels above, a context error, a
	// network error, a pion error …).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("client: ")
	b.WriteString(e.Phase)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the error is a timeout of any kind: an expired
// bounded wait, a context deadline, a network timeout, or a poll schedule
// that ran out.
func (e *Error) Timeout() bool {
	if errors.Is(e.Err, ErrTimeout) || errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, ErrPollExhausted) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// Retryable reports whether reactor-core would mark the failure
// recoverable: rate limits, server errors, network failures and timeouts,
// transport loss.
func (e *Error) Retryable() bool {
	switch e.Code {
	case "RATE_LIMITED", "SERVER_ERROR", CodeNetwork, CodeTimeout, CodeTransport:
		return true
	}
	return false
}

func newErr(phase, code string, cause error) *Error {
	return &Error{Phase: phase, Code: code, Err: cause}
}

// ctxErr wraps a context or wait failure of phase.
func ctxErr(phase string, err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		return newErr(phase, CodeTimeout, err)
	}
	if errors.Is(err, context.Canceled) {
		return newErr(phase, CodeCancelled, err)
	}
	if errors.Is(err, ErrClosed) {
		return newErr(phase, CodeInvalidState, err)
	}
	return newErr(phase, CodeNetwork, err)
}

// ErrorClass names the failure for the load runner's error breakdown:
// "http_<status>" for HTTP answers, "timeout", "ice_failed",
// "session_terminal", "cancelled", or the lower-cased error code.
func (e *Error) ErrorClass() string {
	switch {
	case e.Status != 0:
		return fmt.Sprintf("http_%d", e.Status)
	case errors.Is(e.Err, context.Canceled):
		return "cancelled"
	case e.Timeout():
		return "timeout"
	case errors.Is(e.Err, ErrICEFailed):
		return "ice_failed"
	case errors.Is(e.Err, ErrSessionTerminal):
		return "session_terminal"
	case e.Code != "":
		return strings.ToLower(e.Code)
	}
	return "other"
}
