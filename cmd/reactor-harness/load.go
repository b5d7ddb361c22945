package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/load"
	"github.com/reactor-harness/reactor-harness/mockserver"
)

// loadFlags are the load command's settings before validation.
type loadFlags struct {
	target, apiKey, model, scenario, out, shard, codec string
	commandSize                                        string
	cpuProfile, memProfile, interceptors               string
	metricsListen                                      string
	sessions, maxSessions                              int
	rate                                               float64
	ramp, duration, warmup, interval                   time.Duration
	commandInterval, pingInterval                      time.Duration
	thresholds, commands                               []string
	allowSessionErrors, clientStats                    bool
}

// defaultWarmup is --warmup's default; a run shorter than twice it gets no
// warm-up unless one is asked for, so `--duration 1s` just works.
const defaultWarmup = 3 * time.Second

// runLoad runs one load test with checked flags.
func runLoad(f *loadFlags, stdout, stderr io.Writer) int {
	metricsOpts, stopMetrics, err := startLoadMetrics(f, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return exitUsage
	}
	defer stopMetrics()
	target, key, stopMock, err := loadTarget(f, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return exitUsage
	}
	defer stopMock()
	api, err := loadClientAPI(f, target)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return load.ExitCode(nil, err)
	}
	fn, err := loadSession(f, target, key, api)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return exitUsage
	}
	opts, err := loadOptions(f, target, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return exitUsage
	}
	r, err := load.New(fn, append(opts, metricsOpts...)...)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return load.ExitCode(nil, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return exitHarnessError
	}
	defer stopProfile()
	defer writeHeapProfile(f.memProfile, stderr)
	fmt.Fprintf(stdout, "load: %s against %s, results in %s\n", describeLoad(f), target, f.out)
	res, err := r.Run(ctx)
	if res != nil {
		_ = res.WriteText(stdout)
	}
	if err != nil && !errors.Is(err, load.ErrInterrupted) {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
	}
	return load.ExitCode(res, err)
}

func newLoadCmd() *cobra.Command {
	var f *loadFlags
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "run a load test of real WebRTC sessions (embedded mock unless --target)",
		Long: `Runs sessions the way an SDK does — token, session, SDP, ICE, VP8 video with capture stamps,
data-channel commands and round-trip probes — and records every phase and frame in
HdrHistograms. Closed model (--sessions N concurrent) or open model (--rate per second). Writes
summary.json, summary.txt, run.hlog and one .hgrm per metric to --out; the last line of the
summary is the verdict, and the exit code follows it (see "Exit codes" below).

Thresholds (--threshold, repeatable, k6 style) are <metric>.<statistic><op><value>:
` + thresholdHelp() + `

Exit codes: 0 pass; 1 no session became ready, the target was unreachable or the run was
interrupted (whatever the thresholds); 2 a usage mistake; 99 a threshold failed, or sessions
failed and neither --allow-session-errors nor a threshold on errors.* or sessions_* accepts it.`,
		Example: `  # 10 sessions for 10 s against the embedded mock
  reactor-harness load --sessions 10 --duration 10s

  # a deployment, judged by latency and error thresholds
  reactor-harness load --target https://api.example --api-key "$REACTOR_API_KEY" \
    --sessions 50 --duration 2m --threshold 'frame_latency.p99<50ms' --threshold 'errors.rate<1%'

  # open model: 2 new sessions per second, at most 100
  reactor-harness load --rate 2 --max-sessions 100 --duration 1m

  # shard 0 of 4 of a distributed run (merge the folders with reactor-harness merge)
  reactor-harness load --target https://api.example --shard 0/4 --out results/shard-0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code := checkLoadFlags(f, cmd.Flags(), cmd.ErrOrStderr()); code >= 0 {
				return exit(code)
			}
			return exit(runLoad(f, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	f = defineLoadFlags(cmd.Flags())
	return cmd
}

// thresholdHelp lists what a threshold may name, from the registries the
// runner judges with, so the help cannot fall behind them.
func thresholdHelp() string {
	var lat, ctr []string
	for _, m := range load.Metrics() {
		lat = append(lat, m.String())
	}
	for _, c := range load.Counters() {
		ctr = append(ctr, c.String())
	}
	ctr = append(ctr, "sessions_completed", "sessions_abandoned", "errors", "errors.<class>")
	return "  latency metrics: " + wrapList(lat, "    ") + `
    statistics: pNN or p(NN) (e.g. p99, p99.9), med, min, max, mean, stddev, count;
    values take a unit (50ms, 2s, 500us; a bare number is ms)
  counters: ` + wrapList(ctr, "    ") + `
    statistics: count, per_s, and rate (errors, sessions_*, late_frames, missing_frames,
    packets_lost); rates are written 1% or 0.01
  operators: <, <=, >, >=, ==, !=
  examples: frame_latency.p99<50ms  first_frame.p50<=2s  errors.rate<1%  errors.http_429.count==0`
}

// wrapList joins names into lines of at most ~90 columns.
func wrapList(names []string, indent string) string {
	var b strings.Builder
	col := 0
	for i, n := range names {
		if i > 0 {
			b.WriteString(",")
			if col+len(n) > 86 {
				b.WriteString("\n" + indent)
				col = len(indent)
			} else {
				b.WriteString(" ")
			}
		}
		b.WriteString(n)
		col += len(n) + 2
	}
	return b.String()
}

// defineLoadFlags declares load's flags on fs, bound to the returned
// settings.
func defineLoadFlags(fs *pflag.FlagSet) *loadFlags {
	f := &loadFlags{}
	fs.SortFlags = false
	fs.StringVar(&f.target, "target", "", "base `URL` of the Reactor deployment; empty = start the embedded mock on loopback")
	fs.StringVar(&f.apiKey, "api-key", os.Getenv("REACTOR_API_KEY"), "API `key` (env REACTOR_API_KEY; the embedded mock's key by default)")
	fs.StringVar(&f.model, "model", client.DefaultModel, "model `name`")
	fs.StringVar(&f.scenario, "scenario", "", "scenario `file` for the embedded mock (not with --target: load it into the mock target instead)")
	fs.IntVar(&f.sessions, "sessions", 10, "closed model: number of concurrent sessions")
	fs.Float64Var(&f.rate, "rate", 0, "open model: sessions started per second (overrides --sessions)")
	fs.IntVar(&f.maxSessions, "max-sessions", 0, "open model: cap on sessions started (0 = no cap)")
	fs.DurationVar(&f.ramp, "ramp", 0, "spread session starts over this long")
	fs.DurationVar(&f.duration, "duration", 15*time.Second, "run length, warm-up included")
	fs.DurationVar(&f.warmup, "warmup", defaultWarmup, "samples before this are excluded from results (default 0 when --duration is under twice the default)")
	fs.StringArrayVar(&f.commands, "commands", nil, "`command` sent in rotation: name or name={json} (repeatable; default set_prompt, start, set_prompt)")
	fs.BoolVar(&f.clientStats, "client-stats", true, "with --codec v1, send a ClientStats report on control every 5 s like reactor-sdk 1.13.0")
	fs.StringVar(&f.commandSize, "command-size", "", "pad each bare set_prompt's prompt to this `size` (e.g. 300kB, 1MiB; up to 64MiB): over 256KiB it needs data-channel chunking")
	fs.DurationVar(&f.commandInterval, "command-interval", 3*time.Second, "time between commands of a session (0 = only the first round)")
	fs.DurationVar(&f.pingInterval, "ping-interval", load.DefaultPingInterval,
		"data-channel round-trip probe period, the first one as soon as a session is ready (0 = none; the default is the JS SDK's keep-alive period)")
	fs.StringVar(&f.codec, "codec", "v1", "data-channel wire: v0 (JSON envelope) or v1 (protobuf)")
	fs.StringVar(&f.interceptors, "interceptors", "default", "pion interceptors per session: default (NACK, RTCP reports, TWCC feedback), minimal (NACK, RTCP reports), reports (RTCP reports only), none")
	fs.StringArrayVar(&f.thresholds, "threshold", nil, "threshold `expr`, e.g. frame_latency.p99<50ms or errors.rate<1% (repeatable; see above)")
	fs.BoolVar(&f.allowSessionErrors, "allow-session-errors", false, "accept failed sessions: without it (or a threshold on errors.* or sessions_failed) any failed session exits 99")
	fs.StringVar(&f.out, "out", "", "results `folder` (default results/load-<time>)")
	fs.DurationVar(&f.interval, "interval", time.Second, "interval-log and progress period")
	fs.StringVar(&f.shard, "shard", "", "run shard `i/n` of a distributed run (0-based)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "serve live Prometheus metrics on this `address` (host:port; :0 picks a port) at /metrics while the run goes")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the whole run to this `file` (read with go tool pprof)")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a Go heap profile (allocations since start, and live heap) to this `file` when the run ends")
	groupFlags(fs, "Target", "target", "api-key", "model", "scenario")
	groupFlags(fs, "Workload", "sessions", "rate", "max-sessions", "ramp", "duration", "warmup",
		"commands", "command-interval", "ping-interval", "codec", "interceptors")
	groupFlags(fs, "Verdict", "threshold", "allow-session-errors")
	groupFlags(fs, "Output", "out", "interval", "shard", "metrics-listen", "cpuprofile", "memprofile")
	return f
}

// parseLoadFlags parses load's arguments outside the command tree (the
// k8s manifest checks its pods' load arguments with it): settings, or an
// exit code ≥ 0 when they are wrong.
func parseLoadFlags(args []string, stderr io.Writer) (*loadFlags, int) {
	fs := pflag.NewFlagSet("load", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := defineLoadFlags(fs)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "reactor-harness load: unexpected argument %q\n", fs.Arg(0))
		return nil, exitUsage
	}
	if code := checkLoadFlags(f, fs, stderr); code >= 0 {
		return nil, code
	}
	return f, -1
}

// checkLoadFlags checks parsed settings before anything starts and fills in
// the defaults that depend on other flags; -1 means go on.
func checkLoadFlags(f *loadFlags, fs *pflag.FlagSet, stderr io.Writer) int {
	// The scenario scripts the embedded mock only; with --target it would
	// be silently ignored and the run would not measure what was asked.
	if f.scenario != "" && f.target != "" {
		fmt.Fprintln(stderr, "reactor-harness load: --scenario configures the embedded mock and has no effect with --target; "+
			"to script a mock target, load the scenario into it (reactor-harness mock --scenario FILE, or PUT /__admin/scenario)")
		return exitUsage
	}
	if _, err := client.ParseInterceptors(f.interceptors); err != nil {
		fmt.Fprintf(stderr, "reactor-harness load: --%v\n", err)
		return exitUsage
	}
	if !fs.Changed("warmup") && f.duration < 2*defaultWarmup {
		f.warmup = 0
	}
	if err := validateLoadFlags(f); err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return exitUsage
	}
	if f.out == "" {
		f.out = filepath.Join("results", "load-"+time.Now().UTC().Format("20060102-150405"))
	}
	return -1
}

// loadTarget returns the target URL and key, starting the embedded mock
// when no target is given. The embedded mock lifts the account quotas: a
// load run is not a quota test.
func loadTarget(f *loadFlags, stdout io.Writer) (string, string, func(), error) {
	if f.target != "" {
		if f.apiKey == "" {
			return "", "", nil, errors.New("--api-key (or REACTOR_API_KEY) is required with --target")
		}
		return strings.TrimRight(f.target, "/"), f.apiKey, func() {}, nil
	}
	sc := mockserver.DefaultScenario()
	sc.Name = "load-default"
	sc.Limits.MaxConcurrentSessions, sc.Limits.CreatesPerMinute = mockserver.Unlimited, mockserver.Unlimited
	if f.scenario != "" {
		var err error
		if sc, err = mockserver.LoadScenario(f.scenario); err != nil {
			return "", "", nil, err
		}
	}
	key := f.apiKey
	if key == "" {
		key = mockserver.DefaultAPIKey
	}
	srv, err := mockserver.New(mockserver.WithAPIKey(key), mockserver.WithScenario(sc))
	if err != nil {
		return "", "", nil, err
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return "", "", nil, err
	}
	fmt.Fprintf(stdout, "embedded mock Reactor on %s (scenario %s)\n", srv.URL(), sc.Name)
	return srv.URL(), key, func() { _ = srv.Close() }, nil
}

// loadClientAPI builds the pion API every session shares (parseLoadFlags
// has already checked --interceptors).
func loadClientAPI(f *loadFlags, target string) (*webrtc.API, error) {
	return load.NewClientAPI(load.WithLoopbackOnly(isLoopback(target)),
		load.WithInterceptors(client.Interceptors(f.interceptors)))
}

func loadSession(f *loadFlags, target, key string, api *webrtc.API) (load.SessionFunc, error) {
	codec := client.CodecV1
	switch f.codec {
	case "v1":
	case "v0":
		codec = client.CodecV0
	default:
		return nil, fmt.Errorf("--codec must be v0 or v1, got %q", f.codec)
	}
	steps := load.DefaultCommands()
	if len(f.commands) > 0 {
		steps = steps[:0]
		for _, c := range f.commands {
			s, err := load.ParseCommandStep(c)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s)
		}
	}
	size, err := commandSize(f)
	if err != nil {
		return nil, err
	}
	return load.ClientSession(load.SessionConfig{
		Client: client.Config{BaseURL: target, APIKey: key, Model: f.model, API: api, Codec: codec,
			ClientStats: f.clientStats},
		Commands: steps, CommandInterval: f.commandInterval, PingInterval: f.pingInterval, CommandSize: size,
	}), nil
}

func loadOptions(f *loadFlags, target string, stderr io.Writer) ([]load.Option, error) {
	opts := []load.Option{
		load.WithDuration(f.duration), load.WithWarmup(f.warmup), load.WithInterval(f.interval),
		load.WithRamp(f.ramp), load.WithOutDir(f.out), load.WithThresholds(f.thresholds...),
		load.WithProgress(load.NewProgress(stderr)),
		load.WithParam("target", target), load.WithParam("model", f.model), load.WithParam("codec", f.codec),
		load.WithParam("interceptors", f.interceptors),
		load.WithAllowSessionErrors(f.allowSessionErrors),
	}
	if f.commandSize != "" {
		opts = append(opts, load.WithParam("command_size", f.commandSize))
	}
	if f.rate > 0 {
		opts = append(opts, load.WithRate(f.rate))
		if f.maxSessions > 0 {
			opts = append(opts, load.WithMaxSessions(f.maxSessions))
		}
	} else {
		opts = append(opts, load.WithSessions(f.sessions))
	}
	if f.shard != "" {
		i, n, err := parseShard(f.shard)
		if err != nil {
			return nil, err
		}
		opts = append(opts, load.WithShard(i, n))
	}
	return opts, nil
}

// startCPUProfile starts profiling into path (no-op when empty) and returns
// the function that stops it and closes the file.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		_ = fh.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = fh.Close() }, nil
}

// writeHeapProfile writes the heap profile at the end of the run; its
// alloc_space view shows where the run's garbage came from, which is what
// sets the GC cost at high session counts.
func writeHeapProfile(path string, stderr io.Writer) {
	if path == "" {
		return
	}
	fh, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(fh, 0)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness load: --memprofile:", err)
	}
}

func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard must be i/n with 0 ≤ i < n, got %q", s)
	}
	return i, n, nil
}

func describeLoad(f *loadFlags) string {
	if f.rate > 0 {
		return fmt.Sprintf("open model %.3g sessions/s (max %d) for %s", f.rate, f.maxSessions, f.duration)
	}
	return fmt.Sprintf("%d sessions for %s (warm-up %s)", f.sessions, f.duration, f.warmup)
}

func isLoopback(target string) bool {
	for _, h := range []string{"://127.", "://localhost", "://[::1]"} {
		if strings.Contains(target, h) {
			return true
		}
	}
	return false
}

// validateLoadFlags checks, before any mock starts or folder is written,
// what parsing alone cannot: every error names its flag.
// commandSize reads --command-size ("" = 0).
func commandSize(f *loadFlags) (int, error) {
	if f.commandSize == "" {
		return 0, nil
	}
	n, err := load.ParseCommandSize(f.commandSize)
	if err != nil {
		return 0, fmt.Errorf("--command-size: %v", err)
	}
	return n, nil
}

func validateLoadFlags(f *loadFlags) error {
	if f.codec != "v0" && f.codec != "v1" {
		return fmt.Errorf("--codec must be v0 or v1, got %q", f.codec)
	}
	if _, err := commandSize(f); err != nil {
		return err
	}
	for _, c := range f.commands {
		if _, err := load.ParseCommandStep(c); err != nil {
			return fmt.Errorf("--commands %q: %v", c, err)
		}
	}
	for _, t := range f.thresholds {
		if _, err := load.ParseThreshold(t); err != nil {
			return fmt.Errorf("--threshold %q: %v", t, err)
		}
	}
	if f.shard != "" {
		if _, _, err := parseShard(f.shard); err != nil {
			return err
		}
	}
	switch {
	case f.duration <= 0:
		return fmt.Errorf("--duration must be positive, got %v", f.duration)
	case f.warmup < 0 || f.warmup >= f.duration:
		return fmt.Errorf("--warmup %v must be shorter than --duration %v (lower --warmup, or --warmup 0)", f.warmup, f.duration)
	case f.sessions < 0 || f.rate < 0 || f.maxSessions < 0:
		return errors.New("--sessions, --rate and --max-sessions must not be negative")
	}
	return checkURLFlag("--target", f.target)
}

// checkURLFlag refuses a non-empty value that is not an http(s) URL with a
// host, naming the flag.
func checkURLFlag(flag, v string) error {
	if v == "" {
		return nil
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an http(s) URL such as https://api.example, got %q", flag, v)
	}
	return nil
}
