package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/reactor-harness/reactor-harness/livemetrics"
	"github.com/reactor-harness/reactor-harness/load"
)

// startLoadMetrics serves the run's live metrics on addr (no-op when empty).
// It listens before anything else starts, so a port in use is a usage
// error at once rather than a run without its metrics.
func startLoadMetrics(f *loadFlags, stdout io.Writer) ([]load.Option, func(), error) {
	if f.metricsListen == "" {
		return nil, func() {}, nil
	}
	ln, err := net.Listen("tcp", f.metricsListen)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	var opts []livemetrics.Option
	if f.shard != "" {
		i, n, err := parseShard(f.shard)
		if err != nil {
			_ = ln.Close()
			return nil, nil, err
		}
		opts = append(opts, livemetrics.WithShard(i, n))
	}
	e := livemetrics.New(append(opts, livemetrics.WithProcessMetrics())...)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stdout, "load: metrics server:", err)
		}
	}()
	fmt.Fprintf(stdout, "load: live metrics on http://%s/metrics\n", ln.Addr())
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return []load.Option{load.WithOutputs(e)}, stop, nil
}
