package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/reactor-harness/reactor-harness/mockserver"
)

func runMock(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", mockserver.DefaultListen, "address to listen on (host:port; port 0 picks a free one)")
	apiKey := fs.String("api-key", envOr("REACTOR_API_KEY", mockserver.DefaultAPIKey), "API key the mock accepts (env REACTOR_API_KEY)")
	scenarioPath := fs.String("scenario", "", "scenario file (YAML or JSON); default: the documented platform behaviour")
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
	fmt.Fprintf(stdout, "mock Reactor listening on %s\n", srv.URL())
	fmt.Fprintf(stdout, "api key: %s\n", srv.APIKey())
	fmt.Fprintf(stdout, "scenario: %s (profile %s); admin API at %s/__admin/\n", srv.Scenario().Name, srv.Scenario().Profile, srv.URL())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stdout, "shutting down")
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
