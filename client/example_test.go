package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
)

// A load-runner style session: a shared API, v1 codec, frames counted on
// the reader goroutine, a command and a data-channel RTT, then teardown.
func Example() {
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	frames := 0
	c, err := client.New(client.Config{
		BaseURL:        "http://127.0.0.1:8080",
		APIKey:         "rk_mock_key",
		Model:          "helios",
		API:            api,
		Codec:          client.CodecV1,
		WaitFirstFrame: true,
		OnFrame: func(f client.Frame) {
			if f.Complete {
				frames++ // latency: f.Latency(), loss: f.SeqGapBefore
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		if e, ok := err.(*client.Error); ok {
			log.Printf("connect failed in %s: status %d code %s timeout %v", e.Phase, e.Status, e.Code, e.Timeout())
		}
		return
	}
	tm := c.Timings()
	fmt.Println("ready in", tm.Total, "first frame after", tm.FirstFrame)

	if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "a cat"}); err != nil {
		log.Print(err)
	}
	if rtt, err := c.Ping(ctx); err == nil {
		fmt.Println("dc_rtt", rtt)
	}
	_ = c.Disconnect(ctx, false) // DELETE /sessions/{id}
}
