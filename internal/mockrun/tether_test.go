package mockrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

func TestReadyLineIsOneJSONObject(t *testing.T) {
	var buf bytes.Buffer
	if err := NewReady("http://127.0.0.1:4321/", "rk_x").Write(&buf); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("want exactly one line, got %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"event": "ready", "base_url": "http://127.0.0.1:4321",
		"api_key": "rk_x", "admin_url": "http://127.0.0.1:4321/__admin"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if pid, _ := got["pid"].(float64); pid <= 0 {
		t.Errorf("pid = %v", got["pid"])
	}
}

func TestStdinEOFEndsTheContext(t *testing.T) {
	r, w := io.Pipe()
	ctx, cancel := Tether{Stdin: r}.Bind(context.Background())
	defer cancel()
	if _, err := w.Write([]byte("anything a runner writes is ignored\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
		t.Fatal("ended while stdin was open")
	case <-time.After(100 * time.Millisecond):
	}
	w.Close()
	waitCause(t, ctx, ErrStdinClosed)
}

func TestParentChangeEndsTheContext(t *testing.T) {
	var ppid atomic.Int64
	ppid.Store(4242)
	tether := Tether{WatchParent: true, Poll: 5 * time.Millisecond,
		getppid: func() int { return int(ppid.Load()) }}
	ctx, cancel := tether.Bind(context.Background())
	defer cancel()
	select {
	case <-ctx.Done():
		t.Fatal("ended while the parent lived")
	case <-time.After(50 * time.Millisecond):
	}
	ppid.Store(1) // re-parented to init: the runner is gone
	waitCause(t, ctx, ErrParentGone)
}

func TestStartedByInitIsNotWatched(t *testing.T) {
	var calls atomic.Int64
	tether := Tether{WatchParent: true, Poll: time.Millisecond,
		getppid: func() int { calls.Add(1); return 1 }}
	ctx, cancel := tether.Bind(context.Background())
	defer cancel()
	time.Sleep(30 * time.Millisecond)
	if ctx.Err() != nil || calls.Load() != 1 {
		t.Fatalf("err %v after %d getppid calls: a pid-1 parent must not be polled", ctx.Err(), calls.Load())
	}
}

func waitCause(t *testing.T, ctx context.Context, want error) {
	t.Helper()
	select {
	case <-ctx.Done():
		if got := context.Cause(ctx); !errors.Is(got, want) {
			t.Fatalf("cause %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("not ended within 10 s (want %v)", want)
	}
}
