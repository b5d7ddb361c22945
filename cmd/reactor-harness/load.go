package main

import (
	"context"
	"errors"
	"flag"
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

	"github.com/reactor-harness/reactor-harness/client"
	"github.com/reactor-harness/reactor-harness/load"
	"github.com/reactor-harness/reactor-harness/mockserver"
)

// loadFlags are the load command's settings before validation.
type loadFlags struct {
	target, apiKey, model, scenario, out, shard, codec string
	cpuProfile, memProfile, interceptors               string
	sessions, maxSessions                              int
	rate                                               float64
	ramp, duration, warmup, interval                   time.Duration
	commandInterval, pingInterval                      time.Duration
	thresholds, commands                               multiFlag
	allowSessionErrors                                 bool
}

// defaultWarmup is --warmup's default; a run shorter than twice it gets no
// warm-up unless one is asked for, so `--duration 1s` just works.
const defaultWarmup = 3 * time.Second

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runLoad(args []string, stdout, stderr io.Writer) int {
	f, code := parseLoadFlags(args, stderr)
	if code >= 0 {
		return code
	}
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
	r, err := load.New(fn, opts...)
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

func parseLoadFlags(args []string, stderr io.Writer) (*loadFlags, int) {
	f := &loadFlags{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.target, "target", "", "base URL of the Reactor deployment; empty = start the embedded mock on loopback")
	fs.StringVar(&f.apiKey, "api-key", os.Getenv("REACTOR_API_KEY"), "API key (env REACTOR_API_KEY; the embedded mock's key by default)")
	fs.StringVar(&f.model, "model", client.DefaultModel, "model name")
	fs.StringVar(&f.scenario, "scenario", "", "scenario file for the embedded mock (not with --target: load it into the mock target instead)")
	fs.IntVar(&f.sessions, "sessions", 10, "closed model: number of concurrent sessions")
	fs.Float64Var(&f.rate, "rate", 0, "open model: sessions started per second (overrides --sessions)")
	fs.IntVar(&f.maxSessions, "max-sessions", 0, "open model: cap on sessions started (0 = no cap)")
	fs.DurationVar(&f.ramp, "ramp", 0, "spread session starts over this long")
	fs.DurationVar(&f.duration, "duration", 15*time.Second, "run length, warm-up included")
	fs.DurationVar(&f.warmup, "warmup", defaultWarmup, "samples before this are excluded from results (default 0 when --duration is under twice the default)")
	fs.DurationVar(&f.interval, "interval", time.Second, "interval-log and progress period")
	fs.Var(&f.commands, "commands", "command sent in rotation: name or name={json} (repeatable; default set_prompt, start, set_prompt)")
	fs.DurationVar(&f.commandInterval, "command-interval", 3*time.Second, "time between commands of a session (0 = only the first round)")
	fs.DurationVar(&f.pingInterval, "ping-interval", load.DefaultPingInterval,
		"data-channel round-trip probe period, the first one as soon as a session is ready (0 = none; the default is the JS SDK's keep-alive period)")
	fs.StringVar(&f.codec, "codec", "v1", "data-channel wire: v0 (JSON envelope) or v1 (protobuf)")
	fs.StringVar(&f.out, "out", "", "results folder (default results/load-<time>)")
	fs.Var(&f.thresholds, "threshold", "threshold, e.g. frame_latency.p99<50ms or errors.rate<1% (repeatable)")
	fs.BoolVar(&f.allowSessionErrors, "allow-session-errors", false, "accept failed sessions: without it (or a threshold on errors.* or sessions_failed) any failed session exits 99")
	fs.StringVar(&f.shard, "shard", "", "run shard i of n (\"i/n\", 0-based)")
	fs.StringVar(&f.interceptors, "interceptors", "default", "pion interceptors per session: default (NACK, RTCP reports, TWCC feedback), minimal (NACK, RTCP reports), reports (RTCP reports only), none")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the whole run to this file (read with go tool pprof)")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a Go heap profile (allocations since start, and live heap) to this file when the run ends")
	if err := fs.Parse(args); err != nil {
		return nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "reactor-harness load: unexpected argument %q\n", fs.Arg(0))
		return nil, exitUsage
	}
	// The scenario scripts the embedded mock only; with --target it would
	// be silently ignored and the run would not measure what was asked.
	if f.scenario != "" && f.target != "" {
		fmt.Fprintln(stderr, "reactor-harness load: --scenario configures the embedded mock and has no effect with --target; "+
			"to script a mock target, load the scenario into it (reactor-harness mock --scenario FILE, or PUT /__admin/scenario)")
		return nil, exitUsage
	}
	if _, err := client.ParseInterceptors(f.interceptors); err != nil {
		fmt.Fprintf(stderr, "reactor-harness load: --%v\n", err)
		return nil, exitUsage
	}
	if !flagSet(fs, "warmup") && f.duration < 2*defaultWarmup {
		f.warmup = 0
	}
	if err := validateLoadFlags(f); err != nil {
		fmt.Fprintln(stderr, "reactor-harness load:", err)
		return nil, exitUsage
	}
	if f.out == "" {
		f.out = filepath.Join("results", "load-"+time.Now().UTC().Format("20060102-150405"))
	}
	return f, -1
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
	return load.ClientSession(load.SessionConfig{
		Client:   client.Config{BaseURL: target, APIKey: key, Model: f.model, API: api, Codec: codec},
		Commands: steps, CommandInterval: f.commandInterval, PingInterval: f.pingInterval,
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

// flagSet reports whether the user gave flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// validateLoadFlags checks, before any mock starts or folder is written,
// what parsing alone cannot: every error names its flag.
func validateLoadFlags(f *loadFlags) error {
	if f.codec != "v0" && f.codec != "v1" {
		return fmt.Errorf("--codec must be v0 or v1, got %q", f.codec)
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
	if f.target != "" {
		if u, err := url.Parse(f.target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--target must be an http(s) URL such as https://api.example, got %q", f.target)
		}
	}
	return nil
}
