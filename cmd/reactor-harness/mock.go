package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/reactor-harness/reactor-harness/internal/mockrun"
	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/spf13/cobra"
)

// mockFlags are the mock command's settings.
type mockFlags struct {
	listen, apiKey, scenario string
	json, stdinClose         bool
}

func newMockCmd() *cobra.Command {
	f := &mockFlags{}
	cmd := &cobra.Command{
		Use:   "mock [flags]",
		Short: "run the mock Reactor server",
		Long: `Runs the mock Reactor: tokens, sessions, both signalling generations, VP8 video with
capture stamps, v0/v1 data channels, a synthetic Helios, uploads, the local-runtime API and the
admin API under /__admin/. A scenario file scripts timings, limits, versions and faults.
It stops on SIGINT/SIGTERM, when its parent process dies, and with --exit-on-stdin-close when
its stdin closes, so a crashed test runner leaves no mock behind.`,
		Example: `  # on the default address with the documented platform behaviour
  reactor-harness mock

  # for a test suite: a free port, one JSON ready line on stdout, gone when the runner is
  reactor-harness mock --listen 127.0.0.1:0 --json --exit-on-stdin-close

  # slow GPU assignment, from an annotated example scenario
  reactor-harness mock --scenario fixtures/scenarios/slow-gpu.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return exit(runMock(f, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.listen, "listen", mockserver.DefaultListen, "address to listen on (`host:port`; port 0 picks a free one)")
	fs.StringVar(&f.apiKey, "api-key", envOr("REACTOR_API_KEY", mockserver.DefaultAPIKey), "API `key` the mock accepts (env REACTOR_API_KEY)")
	fs.StringVar(&f.scenario, "scenario", "", "scenario `file` (YAML or JSON); default: the documented platform behaviour")
	fs.BoolVar(&f.json, "json", false, "print one JSON ready line on stdout (base_url, api_key, admin_url, pid) and nothing else there")
	fs.BoolVar(&f.stdinClose, "exit-on-stdin-close", false, "exit when stdin closes (a test runner's pipe); the mock always exits when its parent process dies")
	groupFlags(fs, "Server", "listen", "api-key", "scenario")
	groupFlags(fs, "Embedding in a test suite", "json", "exit-on-stdin-close")
	return cmd
}

func runMock(f *mockFlags, stdout, stderr io.Writer) int {
	opts := []mockserver.Option{mockserver.WithAPIKey(f.apiKey)}
	if f.scenario != "" {
		sc, err := mockserver.LoadScenario(f.scenario)
		if err != nil {
			fmt.Fprintln(stderr, "reactor-harness mock:", err)
			return exitUsage
		}
		opts = append(opts, mockserver.WithScenario(sc))
	}
	srv, err := mockserver.New(opts...)
	if err != nil {
		fmt.Fprintln(stderr, "reactor-harness mock:", err)
		return exitUsage
	}
	if err := srv.Start(f.listen); err != nil {
		fmt.Fprintln(stderr, "reactor-harness mock:", err)
		return exitHarnessError
	}
	prose := stdout
	if f.json {
		prose = stderr
		if err := mockrun.NewReady(srv.URL(), srv.APIKey()).Write(stdout); err != nil {
			fmt.Fprintln(stderr, "reactor-harness mock:", err)
		}
	}
	fmt.Fprintf(prose, "mock Reactor listening on %s\n", srv.URL())
	fmt.Fprintf(prose, "api key: %s\n", srv.APIKey())
	fmt.Fprintf(prose, "scenario: %s (profile %s); admin API at %s/__admin/\n", srv.Scenario().Name, srv.Scenario().Profile, srv.URL())

	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tether := mockrun.Tether{WatchParent: true}
	if f.stdinClose {
		tether.Stdin = os.Stdin
	}
	ctx, untether := tether.Bind(sig)
	defer untether()
	<-ctx.Done()
	fmt.Fprintln(prose, "shutting down:", context.Cause(ctx))
	if err := srv.Close(); err != nil {
		fmt.Fprintln(stderr, "reactor-harness mock: shutdown:", err)
		return exitHarnessError
	}
	return exitOK
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
