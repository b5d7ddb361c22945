package load

import (
	"time"

	"github.com/reactor-harness/reactor-harness/client"
)

// Option configures a Runner.
type Option func(*config)

type config struct {
	rate        float64
	sessions    int
	maxSessions int
	ramp        time.Duration
	duration    time.Duration
	warmup      time.Duration
	interval    time.Duration
	window      time.Duration
	grace       time.Duration
	outDir      string
	thresholds  []string
	progress    Progress
	outputs     []Output
	clock       Clock
	shardIndex  int
	shardCount  int
	pacer       Pacer
	params      map[string]string
	// allowSessionErrors accepts failed sessions without a threshold on them.
	allowSessionErrors bool
	set                map[string]bool
}

// Defaults of the Runner's options.
const (
	DefaultDuration = 10 * time.Second
	DefaultInterval = time.Second
	DefaultWindow   = 5 * time.Second
	DefaultGrace    = 5 * time.Second
	// MaxPlannedSessions bounds the sessions one process starts.
	MaxPlannedSessions = 1 << 20
)

func (c *config) mark(name string) {
	if c.set == nil {
		c.set = map[string]bool{}
	}
	c.set[name] = true
}

// WithAllowSessionErrors accepts failed sessions: without it (and without a
// threshold on errors or failed sessions) a run in which any session failed
// exits ExitThresholdsFailed.
func WithAllowSessionErrors(on bool) Option {
	return func(c *config) { c.allowSessionErrors = on }
}

// WithRate selects the open model: sessions arrive at perSecond per second
// (across all shards), whatever the target does.
func WithRate(perSecond float64) Option {
	return func(c *config) { c.rate = perSecond; c.mark("rate") }
}

// WithSessions selects the closed model: n sessions (across all shards),
// started together or spread over the ramp.
func WithSessions(n int) Option {
	return func(c *config) { c.sessions = n; c.mark("sessions") }
}

// WithMaxSessions caps the open model's arrivals at n sessions in all
// (across all shards); later arrivals are not started. Sessions that end
// early are not replaced.
func WithMaxSessions(n int) Option {
	return func(c *config) { c.maxSessions = n; c.mark("max-sessions") }
}

// WithRamp spreads the start: in the closed model session n starts at
// n·ramp/N; in the open model the rate rises linearly from 0 to the rate
// over ramp.
func WithRamp(d time.Duration) Option {
	return func(c *config) { c.ramp = d; c.mark("ramp") }
}

// WithDuration sets the run's length, warm-up included (default 10 s). At
// its end every session's context is cancelled.
func WithDuration(d time.Duration) Option {
	return func(c *config) { c.duration = d; c.mark("duration") }
}

// WithWarmup excludes the first d of the run from the results: samples and
// per-frame counter increments recorded before it ends are only tallied
// (summary.json "warmup"). Session counts and errors always count.
func WithWarmup(d time.Duration) Option {
	return func(c *config) { c.warmup = d; c.mark("warmup") }
}

// WithInterval sets how often results are harvested and flushed: one
// interval histogram per metric in run.hlog, summary.json rewritten, and a
// progress update (default 1 s).
func WithInterval(d time.Duration) Option {
	return func(c *config) { c.interval = d; c.mark("interval") }
}

// WithWindow sets the length of the rolling window of the live p50/p99
// (default 5 s, rounded to whole intervals).
func WithWindow(d time.Duration) Option {
	return func(c *config) { c.window = d; c.mark("window") }
}

// WithGrace sets how long sessions get to return after their context is
// cancelled (default 5 s); those still running are counted as abandoned and
// the results are written without them.
func WithGrace(d time.Duration) Option {
	return func(c *config) { c.grace = d; c.mark("grace") }
}

// WithOutDir writes run.hlog, summary.json and the .hgrm files to dir
// (created if needed). Without it nothing is written.
func WithOutDir(dir string) Option {
	return func(c *config) { c.outDir = dir }
}

// WithThresholds adds threshold expressions (see Threshold); New fails with
// a UsageError on a bad one.
func WithThresholds(exprs ...string) Option {
	return func(c *config) { c.thresholds = append(c.thresholds, exprs...) }
}

// WithProgress sets where progress goes (nil: nowhere). See NewProgress.
func WithProgress(p Progress) Option {
	return func(c *config) { c.progress = p }
}

// WithClock replaces the wall clock (tests use a FakeClock).
func WithClock(clk Clock) Option {
	return func(c *config) { c.clock = clk }
}

// WithShard makes this process shard i of n (0 ≤ i < n): it runs the
// sessions whose index ≡ i (mod n), each at the time the unsharded schedule
// gives it. The sessions, the rate (--rate R: each shard starts R/n per
// second) and the max sessions are thus divided by n, and the union of the
// shards' sessions is exactly the unsharded run's, provided the shards start
// together. Session ids passed to the SessionFunc are the global indexes;
// summary.json records the shard, and the merge command combines shards by
// merging their histograms.
func WithShard(i, n int) Option {
	return func(c *config) { c.shardIndex, c.shardCount = i, n; c.mark("shard") }
}

// WithPacer replaces the pacer that WithRate, WithSessions and WithRamp
// would build (the model is reported as "custom").
func WithPacer(p Pacer) Option {
	return func(c *config) { c.pacer = p }
}

// WithParam records a run parameter the runner does not know (target URL,
// model name, command mix, …) in summary.json's params.extra.
func WithParam(key, value string) Option {
	return func(c *config) {
		if c.params == nil {
			c.params = map[string]string{}
		}
		c.params[key] = value
	}
}

// ClientOption configures the pion API that ClientSession's clients share
// (see NewClientAPI). Without options it is the realistic client: pion's
// default interceptors and one UDP socket per session. (No option shares
// one socket between sessions: a target that serves every session from
// one socket, as the mock does, cannot be told apart by address, and at
// 100 sessions pion's single reader lost packets and cost more CPU.)
type ClientOption func(*clientAPIConfig)

type clientAPIConfig struct {
	api client.APIOptions
}

// WithLoopbackOnly restricts ICE to IPv4 loopback host candidates (a target
// on this host).
func WithLoopbackOnly(on bool) ClientOption {
	return func(c *clientAPIConfig) { c.api.LoopbackOnly = on }
}

// WithInterceptors selects the pion interceptors of every session (see
// client.Interceptors; the default is pion's default set).
func WithInterceptors(set client.Interceptors) ClientOption {
	return func(c *clientAPIConfig) { c.api.Interceptors = set }
}
