package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Profiles select which protocol generation the mock serves.
const (
	ProfileCurrent = "current" // refuses pre-overhaul clients with 426
	ProfileLegacy  = "legacy"  // serves the 2.2.1-era flows as they used to work
)

// Scenario is everything a test or user can script about the mock: profile,
// timings, limits, token lifetimes, version ranges and injected faults. It is
// read from YAML or JSON (the same field names) and exchanged as JSON over
// GET/PUT /__admin/scenario. Zero values mean "use the default".
type Scenario struct {
	Name     string        `json:"name,omitempty"`
	Profile  string        `json:"profile,omitempty"`
	Cluster  string        `json:"cluster,omitempty"`
	Timings  Timings       `json:"timings"`
	Limits   Limits        `json:"limits"`
	Tokens   TokenPolicy   `json:"tokens"`
	Uploads  UploadPolicy  `json:"uploads"`
	Versions VersionPolicy `json:"versions"`
	Journal  JournalPolicy `json:"journal"`
	Media    MediaPolicy   `json:"media"`
	Models   ModelPolicy   `json:"models"`
	CORS     CORSPolicy    `json:"cors"`
	// Transport is what the WebRTC answerer negotiates (scenario_transport.go).
	Transport TransportPolicy `json:"transport"`
	Faults    []Fault         `json:"faults,omitempty"`
}

// Timings shape the session lifecycle as clients observe it.
type Timings struct {
	// PendingPolls is how many GET /sessions/{id} answers stay PENDING before
	// the session reaches WAITING (with capabilities). 0 = ready at the first poll.
	PendingPolls int `json:"pending_polls"`
	// AssignDelay is the simulated GPU-assignment time: the session cannot
	// reach WAITING before this much time has passed since creation.
	AssignDelay Duration `json:"assign_delay"`
	// SDPAnswerPolls is how many GETs of an answer stay 202 once it exists.
	SDPAnswerPolls int `json:"sdp_answer_polls"`
	// RecoverWindow is how long a SUSPENDED session waits for a reconnect.
	RecoverWindow Duration `json:"recover_window"`
}

// Limits are the platform quotas (PLATFORM.md §2), per account.
type Limits struct {
	MaxConcurrentSessions int      `json:"max_concurrent_sessions"`
	CreatesPerMinute      int      `json:"creates_per_minute"` // per model
	MaxSessionDuration    Duration `json:"max_session_duration"`
	MaxConnections        int      `json:"max_connections"` // per session
}

// TokenPolicy governs JWTs minted by POST /tokens.
type TokenPolicy struct {
	DefaultTTL Duration `json:"default_ttl"` // when expires_after is absent
	MaxTTL     Duration `json:"max_ttl"`     // silent clamp
	Leeway     Duration `json:"leeway"`      // accepted clock skew on exp
	// Secret fixes the HS256 key (base64 or plain text) so that tokens survive
	// a restart or are shared by mocks; empty = random per process.
	Secret string `json:"secret,omitempty"`
}

// UploadPolicy governs presigned uploads.
type UploadPolicy struct {
	URLTTL   Duration `json:"url_ttl"`
	MaxBytes int64    `json:"max_bytes"`
}

// VersionPolicy holds the accepted version ranges. API versions default to
// 1..1 when a scenario leaves them out; an explicit 0 is kept, so a file can
// script a server that predates version 1 (current clients then get 501).
type VersionPolicy struct {
	APIMin    int    `json:"api_min"`
	APIMax    int    `json:"api_max"`
	WebRTCMin string `json:"webrtc_min"`
	WebRTCMax string `json:"webrtc_max"`

	// apiMinSet/apiMaxSet record that a scenario file named the field.
	apiMinSet, apiMaxSet bool
}

// UnmarshalJSON remembers which API bounds were given, so 0 can be told
// apart from "absent".
func (v *VersionPolicy) UnmarshalJSON(b []byte) error {
	type plain VersionPolicy
	var p plain
	if err := strictUnmarshal(b, &p); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	_, p.apiMinSet = keys["api_min"]
	_, p.apiMaxSet = keys["api_max"]
	*v = VersionPolicy(p)
	return nil
}

// strictUnmarshal decodes JSON refusing unknown fields, as scenario files are.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// JournalPolicy bounds the request journal.
type JournalPolicy struct {
	MaxEntries int `json:"max_entries"`
}

// Fault injects latency or a status into matching requests. Route is
// "METHOD PATTERN" with the pattern as the mock registers it, for example
// "POST /sessions" or "GET /sessions/{id}"; "*" matches every route.
type Fault struct {
	Route      string   `json:"route"`
	Latency    Duration `json:"latency,omitempty"`
	Status     int      `json:"status,omitempty"`
	Detail     string   `json:"detail,omitempty"`
	RetryAfter int      `json:"retry_after,omitempty"` // seconds, sent with Status
	// Nth applies the fault to the Nth matching request only (1-based);
	// 0 applies it to every matching request.
	Nth int `json:"nth,omitempty"`
	// Times, with Nth 0, stops the fault after this many hits; 0 = unlimited.
	Times int `json:"times,omitempty"`
}

// DefaultScenario is the platform as documented: current profile, the
// documented quotas and lifetimes, one pending poll before readiness.
func DefaultScenario() *Scenario {
	return &Scenario{
		Name:    "default",
		Profile: ProfileCurrent,
		Cluster: "mock-local",
		Timings: Timings{PendingPolls: 1, SDPAnswerPolls: 0, RecoverWindow: Duration(30 * time.Second)},
		Limits: Limits{MaxConcurrentSessions: 5, CreatesPerMinute: 50,
			MaxSessionDuration: Duration(1200 * time.Second), MaxConnections: 64},
		Tokens:   TokenPolicy{DefaultTTL: Duration(6 * time.Hour), MaxTTL: Duration(6 * time.Hour)},
		Uploads:  UploadPolicy{URLTTL: Duration(15 * time.Minute), MaxBytes: 32 << 20},
		Versions: VersionPolicy{APIMin: 1, APIMax: 1, WebRTCMin: "1.0", WebRTCMax: "1.0"},
		Journal:  JournalPolicy{MaxEntries: 10000},
		CORS:     CORSPolicy{AllowedOrigins: []string{"*"}},
	}
}

// Clone returns a deep copy.
func (sc *Scenario) Clone() *Scenario {
	c := *sc
	c.Faults = append([]Fault(nil), sc.Faults...)
	c.CORS.AllowedOrigins = append([]string(nil), sc.CORS.AllowedOrigins...)
	c.CORS.AllowedHeaders = append([]string(nil), sc.CORS.AllowedHeaders...)
	return &c
}

// withDefaults fills every zero field from DefaultScenario, so a scenario
// file only needs to say what it changes.
func (sc *Scenario) withDefaults() {
	d := DefaultScenario()
	def := func(v *string, dv string) {
		if *v == "" {
			*v = dv
		}
	}
	defInt := func(v *int, dv int) {
		if *v == 0 {
			*v = dv
		}
	}
	defDur := func(v *Duration, dv Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	def(&sc.Profile, d.Profile)
	if len(sc.CORS.AllowedOrigins) == 0 {
		sc.CORS.AllowedOrigins = d.CORS.AllowedOrigins
	}
	def(&sc.Cluster, d.Cluster)
	defDur(&sc.Timings.RecoverWindow, d.Timings.RecoverWindow)
	defInt(&sc.Limits.MaxConcurrentSessions, d.Limits.MaxConcurrentSessions)
	defInt(&sc.Limits.CreatesPerMinute, d.Limits.CreatesPerMinute)
	defDur(&sc.Limits.MaxSessionDuration, d.Limits.MaxSessionDuration)
	defInt(&sc.Limits.MaxConnections, d.Limits.MaxConnections)
	defDur(&sc.Tokens.DefaultTTL, d.Tokens.DefaultTTL)
	defDur(&sc.Tokens.MaxTTL, d.Tokens.MaxTTL)
	defDur(&sc.Uploads.URLTTL, d.Uploads.URLTTL)
	if sc.Uploads.MaxBytes == 0 {
		sc.Uploads.MaxBytes = d.Uploads.MaxBytes
	}
	if !sc.Versions.apiMinSet {
		defInt(&sc.Versions.APIMin, d.Versions.APIMin)
	}
	if !sc.Versions.apiMaxSet {
		defInt(&sc.Versions.APIMax, d.Versions.APIMax)
	}
	def(&sc.Versions.WebRTCMin, d.Versions.WebRTCMin)
	def(&sc.Versions.WebRTCMax, d.Versions.WebRTCMax)
	defInt(&sc.Journal.MaxEntries, d.Journal.MaxEntries)
}

// Validate checks a scenario and fills defaults. Errors name the field.
func (sc *Scenario) Validate() error {
	sc.withDefaults()
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if sc.Profile != ProfileCurrent && sc.Profile != ProfileLegacy {
		bad("profile must be %q or %q, got %q", ProfileCurrent, ProfileLegacy, sc.Profile)
	}
	if sc.Timings.PendingPolls < 0 || sc.Timings.SDPAnswerPolls < 0 {
		bad("timings: poll counts must not be negative")
	}
	if sc.Limits.MaxConcurrentSessions < 0 || sc.Limits.CreatesPerMinute < 0 || sc.Limits.MaxConnections < 0 {
		bad("limits must not be negative")
	}
	if sc.Tokens.MaxTTL < Duration(time.Second) || sc.Tokens.DefaultTTL < Duration(time.Second) {
		bad("tokens: ttl must be at least 1s")
	}
	if sc.Versions.APIMin < 0 || sc.Versions.APIMin > sc.Versions.APIMax {
		bad("versions: api_min %d > api_max %d", sc.Versions.APIMin, sc.Versions.APIMax)
	}
	if err := checkWebRTCRange(sc.Versions.WebRTCMin, sc.Versions.WebRTCMax); err != nil {
		bad("versions: %v", err)
	}
	if err := sc.Media.Validate(); err != nil {
		bad("%v", err)
	}
	if err := sc.Models.Validate(); err != nil {
		bad("%v", err)
	}
	if err := sc.CORS.validate(); err != nil {
		bad("%v", err)
	}
	if err := sc.Transport.Validate(); err != nil {
		bad("%v", err)
	}
	for i, f := range sc.Faults {
		if err := f.validate(); err != nil {
			bad("faults[%d]: %v", i, err)
		}
	}
	if len(errs) > 0 {
		return errors.New("invalid scenario: " + strings.Join(errs, "; "))
	}
	return nil
}

func (f Fault) validate() error {
	if f.Route == "" {
		return errors.New("route is required (\"METHOD /pattern\" or \"*\")")
	}
	if f.Route != "*" && !strings.Contains(f.Route, " ") {
		return fmt.Errorf("route %q must be \"METHOD /pattern\"", f.Route)
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return fmt.Errorf("status %d is not an HTTP status", f.Status)
	}
	if f.Nth < 0 || f.Times < 0 || f.Latency < 0 {
		return errors.New("nth, times and latency must not be negative")
	}
	if f.Status == 0 && f.Latency == 0 {
		return errors.New("a fault needs a status or a latency")
	}
	return nil
}

// ParseScenario reads a scenario from YAML or JSON bytes, fills defaults and
// validates it. Unknown fields are errors so that typos do not pass silently.
func ParseScenario(data []byte) (*Scenario, error) {
	sc := &Scenario{}
	if err := yaml.UnmarshalStrict(data, sc); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

// Duration is a time.Duration written as a Go duration string ("250ms",
// "30s") in scenario files; a bare number is read as seconds.
type Duration time.Duration

// D converts to time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts "1.5s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\" or a number of seconds")
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}
