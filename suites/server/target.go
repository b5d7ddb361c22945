package server

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
)

// Environment variables that select the target (flags override them).
const (
	EnvBaseURL      = "REACTOR_BASE_URL"
	EnvAPIKey       = "REACTOR_API_KEY"
	EnvModel        = "REACTOR_MODEL"
	EnvAdminAPI     = "REACTOR_ADMIN_API"     // "1"/"true": the target is a reactor-harness mock with /__admin/
	EnvReadyTimeout = "REACTOR_READY_TIMEOUT" // Go duration, e.g. 90s
	EnvLocalURL     = "REACTOR_LOCAL_URL"     // local runtime API (reactor-runtime), e.g. http://localhost:8080
)

// DefaultModel is the model the suite creates sessions of.
const DefaultModel = "helios"

// Config says which server the suite checks. The zero BaseURL means "start
// an embedded mock on loopback".
type Config struct {
	BaseURL      string
	APIKey       string
	Model        string
	AdminAPI     bool
	ReadyTimeout time.Duration
	// LocalURL is the local-runtime API (§1.4); the embedded mock serves it
	// on its own listener, an external target only when this is set.
	LocalURL string
}

// ConfigFromEnv reads the REACTOR_* variables.
func ConfigFromEnv() Config {
	c := Config{
		BaseURL:  strings.TrimSpace(os.Getenv(EnvBaseURL)),
		APIKey:   strings.TrimSpace(os.Getenv(EnvAPIKey)),
		Model:    strings.TrimSpace(os.Getenv(EnvModel)),
		LocalURL: strings.TrimSpace(os.Getenv(EnvLocalURL)),
	}
	c.AdminAPI, _ = strconv.ParseBool(os.Getenv(EnvAdminAPI))
	if d, err := time.ParseDuration(os.Getenv(EnvReadyTimeout)); err == nil {
		c.ReadyTimeout = d
	}
	return c
}

// BindFlags registers --reactor.* flags on fs with the current values of c
// as defaults, so flags override the environment.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.BaseURL, "reactor.base-url", c.BaseURL,
		"coordinator base URL of the server under test (env "+EnvBaseURL+"); empty starts an embedded mock on loopback")
	fs.StringVar(&c.APIKey, "reactor.api-key", c.APIKey, "API key (rk_...) for POST /tokens (env "+EnvAPIKey+")")
	fs.StringVar(&c.Model, "reactor.model", c.Model, "model to create sessions of (env "+EnvModel+", default "+DefaultModel+")")
	fs.BoolVar(&c.AdminAPI, "reactor.admin-api", c.AdminAPI,
		"the target is a reactor-harness mock whose /__admin/ API may be used, so destructive cases run (env "+EnvAdminAPI+")")
	fs.StringVar(&c.LocalURL, "reactor.local-url", c.LocalURL,
		"local-runtime API base URL for the local-runtime cases (env "+EnvLocalURL+"); the embedded mock serves it itself")
	fs.DurationVar(&c.ReadyTimeout, "reactor.ready-timeout", c.ReadyTimeout,
		"how long to poll GET /sessions/{id} for capabilities (env "+EnvReadyTimeout+", default 60s)")
}

// Validate fills defaults and checks what can be checked before any request.
func (c *Config) Validate() error {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	if c.LocalURL != "" {
		u, err := url.Parse(c.LocalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s / --reactor.local-url must be an http(s) URL like http://localhost:8080, got %q", EnvLocalURL, c.LocalURL)
		}
		c.LocalURL = strings.TrimRight(c.LocalURL, "/")
	}
	if c.BaseURL == "" {
		return nil
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s / --reactor.base-url must be an http(s) URL like https://api.example.com, got %q", EnvBaseURL, c.BaseURL)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.APIKey == "" {
		return fmt.Errorf("%s / --reactor.api-key is required with a base URL (%s): POST /tokens needs a key", EnvAPIKey, c.BaseURL)
	}
	return nil
}

// Target is the server a run checks. It is plain data so that
// SynchronizedBeforeSuite can hand it from process 1 to every process.
type Target struct {
	BaseURL string `json:"base_url"`
	APIKey  string `json:"api_key"`
	Model   string `json:"model"`
	// Embedded is true when the suite started the mock itself.
	Embedded bool `json:"embedded"`
	// Admin is true when the reactor-harness admin API (/__admin/) may be
	// used: scenarios, faults, forced states. Destructive cases need it.
	Admin        bool          `json:"admin"`
	ReadyTimeout time.Duration `json:"ready_timeout"`
	// Baseline is the scenario to put back after a destructive case, for an
	// external mock whose starting scenario is unknown to the suite; nil
	// means POST /__admin/reset alone restores it.
	Baseline json.RawMessage `json:"baseline,omitempty"`
	// LocalURL is the local-runtime API; empty skips the local-runtime cases.
	LocalURL string `json:"local_url,omitempty"`
}

// Describe names the target for reports.
func (t *Target) Describe() string {
	kind := "external server"
	switch {
	case t.Embedded:
		kind = "embedded mock"
	case t.Admin:
		kind = "external reactor-harness mock (admin API enabled)"
	}
	return fmt.Sprintf("%s at %s, model %q", kind, t.BaseURL, t.Model)
}

// EmbeddedScenario is the scenario the embedded mock runs the suite with:
// the documented platform (mockserver.DefaultScenario) except the two
// account quotas, which a whole catalog run (and ginkgo -p) would otherwise
// exhaust. The limits cases set small quotas themselves.
func EmbeddedScenario() *mockserver.Scenario {
	sc := mockserver.DefaultScenario()
	sc.Name = "conformance-suite"
	sc.Limits.MaxConcurrentSessions = 256
	sc.Limits.CreatesPerMinute = mockserver.Unlimited
	return sc
}

// Embedded is a mock started by the suite.
type Embedded struct {
	Server *mockserver.Server
	Target *Target
}

// StartEmbedded starts a mock on a free loopback port with sc (nil means
// EmbeddedScenario) and returns a Target for it.
func StartEmbedded(c Config, sc *mockserver.Scenario) (*Embedded, error) {
	if sc == nil {
		sc = EmbeddedScenario()
	}
	srv, err := mockserver.New(mockserver.WithScenario(sc))
	if err != nil {
		return nil, fmt.Errorf("embedded mock: %w", err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded mock: %w", err)
	}
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 60 * time.Second
	}
	return &Embedded{Server: srv, Target: &Target{BaseURL: srv.URL(), APIKey: srv.APIKey(), Model: c.Model,
		Embedded: true, Admin: true, ReadyTimeout: c.ReadyTimeout, LocalURL: srv.URL()}}, nil
}

// Close stops the mock.
func (e *Embedded) Close() error {
	if e == nil || e.Server == nil {
		return nil
	}
	return e.Server.Close()
}

// ResolveTarget turns a validated Config into a Target, starting an
// embedded mock when no base URL is configured. For an external mock with
// the admin API it records the current scenario as the baseline that
// destructive cases restore.
func ResolveTarget(c Config) (*Target, *Embedded, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if c.BaseURL == "" {
		e, err := StartEmbedded(c, nil)
		if err != nil {
			return nil, nil, err
		}
		return e.Target, e, nil
	}
	t := &Target{BaseURL: c.BaseURL, APIKey: c.APIKey, Model: c.Model, Admin: c.AdminAPI, ReadyTimeout: c.ReadyTimeout, LocalURL: c.LocalURL}
	if t.Admin {
		raw, err := fetchScenario(t)
		if err != nil {
			return nil, nil, fmt.Errorf("--reactor.admin-api is set but %s/__admin/scenario is not usable: %w", t.BaseURL, err)
		}
		t.Baseline = raw
	}
	return t, nil, nil
}

func fetchScenario(t *Target) (json.RawMessage, error) {
	r := NewRun(t)
	resp, err := r.send(bgCtx(), "GET", "/__admin/scenario", nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != 200 {
		return nil, errors.New(resp.Line())
	}
	return json.RawMessage(resp.Body), nil
}
