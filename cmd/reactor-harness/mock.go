package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/reactor-harness/reactor-harness/internal/mockrun"
	"github.com/reactor-harness/reactor-harness/mockserver"
)

func runMock(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", mockserver.DefaultListen, "address to listen on (host:port; port 0 picks a free one)")
	apiKey := fs.String("api-key", envOr("REACTOR_API_KEY", mockserver.DefaultAPIKey), "API key the mock accepts (env REACTOR_API_KEY)")
	scenarioPath := fs.String("scenario", "", "scenario file (YAML or JSON); default: the documented platform behaviour")
	jsonReady := fs.Bool("json", false, "print one JSON ready line on stdout (base_url, api_key, admin_url, pid) and nothing else there")
	stdinClose := fs.Bool("exit-on-stdin-close", false, "exit when stdin closes (a test runner's pipe); the mock always exits when its parent process dies")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	opts := []mockserver.Option{mockserver.WithAPIKey(*apiKey)}
	if *scenarioPath != "" {
		sc, err := mockserver.LoadScenario(*scenarioPath)
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
	if err := srv.Start(*listen); err != nil {
		fmt.Fprintln(stderr, "reactor-harness mock:", err)
		return exitHarnessError
	}
	prose := stdout
	if *jsonReady {
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
	if *stdinClose {
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
