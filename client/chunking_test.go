package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire/dcchunk"
	wirev0 "github.com/reactor-harness/reactor-harness/wire/v0"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// startMock starts the real mock on loopback with sc (nil = default).
func startMock(t *testing.T, sc *mockserver.Scenario) *mockserver.Server {
	t.Helper()
	if sc == nil {
		sc = mockserver.DefaultScenario()
	}
	srv, err := mockserver.New(mockserver.WithScenario(sc))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func connectMock(t *testing.T, srv *mockserver.Server, mutate func(*Config)) *Client {
	t.Helper()
	api, err := NewAPI(APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BaseURL: srv.URL(), APIKey: srv.APIKey(), API: api, Codec: CodecV1}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func bigPrompt() map[string]any { return map[string]any{"prompt": strings.Repeat("m", 1<<20)} }

func TestClientSendsAMebibyteCommandWhenChunkingIsNegotiated(t *testing.T) {
	srv := startMock(t, nil)
	c := connectMock(t, srv, nil)
	if on, limit := c.Chunked(); !on || limit != dcchunk.DefaultMaxMessageSize {
		t.Fatalf("Chunked() = %v, %d; the mock answers chunking by default", on, limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.SendCommand(ctx, "set_prompt", bigPrompt()); err != nil {
		t.Fatalf("1 MiB command: %v", err)
	}
	// The bytes the client sent: its first command, marshalled
	// deterministically.
	m, _ := wirev1.NewCommand(wirev1.DataRequestID(1), "set_prompt", bigPrompt(), nil)
	raw, _ := wirev1.Marshal(m)
	sum := sha256.Sum256(raw)
	// The mock journals a command after replying to it.
	var entry *mockserver.Entry
	eventually(t, "the journaled command", func() bool {
		for _, e := range srv.Journal().Entries(mockserver.Filter{Channel: "data"}) {
			if e.Type == "set_prompt" {
				entry = &e
				return true
			}
		}
		return false
	})
	if e := entry; e != nil {
		if e.BodyBytes != len(raw) || e.SHA256 != hex.EncodeToString(sum[:]) ||
			e.Frames != dcchunk.FrameCount(len(raw), dcchunk.BrowserChunkSize) {
			t.Fatalf("journal: %d bytes in %d frames, sha256 %s; want %d bytes in %d frames, %x (detail %q)",
				e.BodyBytes, e.Frames, e.SHA256, len(raw), dcchunk.FrameCount(len(raw), dcchunk.BrowserChunkSize), sum, e.Detail)
		}
	}
}

func TestClientWithoutChunkingRefusesALargeCommand(t *testing.T) {
	off := false
	refusing := mockserver.DefaultScenario()
	refusing.Transport.DCChunking = &off
	for name, setup := range map[string]struct {
		sc     *mockserver.Scenario
		mutate func(*Config)
	}{
		"client opts out":   {nil, func(c *Config) { c.NoDCChunking = true }},
		"server refuses it": {refusing, nil},
	} {
		t.Run(name, func(t *testing.T) {
			srv := startMock(t, setup.sc)
			c := connectMock(t, srv, setup.mutate)
			if on, limit := c.Chunked(); on || limit != wirev0.MaxMessageBytes {
				t.Fatalf("Chunked() = %v, %d", on, limit)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.SendCommand(ctx, "set_prompt", bigPrompt())
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != CodeTooLarge {
				t.Fatalf("1 MiB command without chunking: %v, want %s", err, CodeTooLarge)
			}
			if _, err := c.SendCommand(ctx, "set_prompt", map[string]any{"prompt": "small"}); err != nil {
				t.Fatalf("small command: %v", err)
			}
		})
	}
}
