package wire

// SessionState is a coordinator session state (PROTOCOL.md §2.1). Values are
// SCREAMING_SNAKE strings as the current SDKs deserialize them.
type SessionState string

// Coordinator states.
const (
	StateCreated   SessionState = "CREATED"
	StatePending   SessionState = "PENDING"
	StateSuspended SessionState = "SUSPENDED"
	StateWaiting   SessionState = "WAITING"
	StateActive    SessionState = "ACTIVE"
	StateInactive  SessionState = "INACTIVE"
	StateClosed    SessionState = "CLOSED"
)

// Terminal reports whether SDKs stop polling with an error on this state.
func (s SessionState) Terminal() bool { return s == StateInactive || s == StateClosed }

// Known reports whether s is one of the coordinator's seven states.
func (s SessionState) Known() bool {
	switch s {
	case StateCreated, StatePending, StateSuspended, StateWaiting, StateActive, StateInactive, StateClosed:
		return true
	}
	return false
}

// LegacyStateCode is the numeric state enum of the 2.2.1-era status schema
// (CREATED=0 … CLOSED=6), kept so legacy bodies can be produced and read.
func (s SessionState) LegacyStateCode() int {
	for i, v := range []SessionState{StateCreated, StatePending, StateSuspended, StateWaiting, StateActive, StateInactive, StateClosed} {
		if v == s {
			return i
		}
	}
	return -1
}

// RuntimeState is a local runtime state as reported (lowercase) by the
// local API (PROTOCOL.md §2.2).
type RuntimeState string

// Runtime states.
const (
	RuntimeCreated    RuntimeState = "created"
	RuntimeReady      RuntimeState = "ready"
	RuntimeWaiting    RuntimeState = "waiting"
	RuntimeStreaming  RuntimeState = "streaming"
	RuntimeOrphaned   RuntimeState = "orphaned"
	RuntimeClosing    RuntimeState = "closing"
	RuntimeTerminated RuntimeState = "terminated"
)

// Running reports whether transport routes are allowed in this state.
func (s RuntimeState) Running() bool {
	return s == RuntimeWaiting || s == RuntimeStreaming || s == RuntimeOrphaned
}

// HealthState maps a runtime state to /health's coarse state.
func (s RuntimeState) HealthState() string {
	switch s {
	case RuntimeCreated:
		return "loading"
	case RuntimeReady:
		return "available"
	case RuntimeTerminated:
		return "terminated"
	}
	return "serving"
}

// LocalSessionID is the fixed session id a local runtime always uses.
const LocalSessionID = "00000000-0000-0000-0000-000000000000"
