package load_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/reactor-harness/reactor-harness/load"
)

// The CLI wraps the WebRTC client in a SessionFunc; this one fakes a
// 30 fps stream.
func Example() {
	session := func(ctx context.Context, id int, rec *load.Recorder) error {
		rec.Record(load.Token, 3*time.Millisecond)
		rec.Ready()
		frames := rec.Fork() // a client delivers frames on its own goroutine
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				latency := 4 * time.Millisecond
				frames.Record(load.FrameLatency, latency)
				frames.RecordCorrected(load.FrameLatencyCorrected, latency, 33*time.Millisecond)
				frames.Count(load.Frames, 1)
			}
		}
	}
	r, err := load.New(session,
		load.WithSessions(10), load.WithRamp(time.Second), load.WithDuration(3*time.Second),
		load.WithOutDir(os.TempDir()+"/reactor-load-example"),
		load.WithThresholds("frame_latency.p99<50ms", "errors.rate<1%"),
		load.WithProgress(load.NewProgress(os.Stderr)))
	if err != nil {
		os.Exit(load.ExitCode(nil, err)) // 2: usage
	}
	res, err := r.Run(context.Background())
	if res != nil {
		res.WriteText(os.Stdout)
	}
	fmt.Println("exit", load.ExitCode(res, err))
}
