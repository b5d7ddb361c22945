package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as a fake driver when FAKE_DRIVER is set: it
// answers hello, echoes, emits events, hangs or ignores quit on request.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_DRIVER"); mode != "" {
		fakeDriver(mode)
		return
	}
	os.Exit(m.Run())
}

func fakeDriver(mode string) {
	out := bufio.NewWriter(os.Stdout)
	start := time.Now()
	write := func(v any) {
		b, _ := json.Marshal(v)
		_, _ = out.Write(append(b, '\n'))
		_ = out.Flush()
	}
	tms := func() int64 { return time.Since(start).Milliseconds() }
	fmt.Fprintln(os.Stderr, "fake driver starting", mode)
	write(map[string]any{"event": "started", "t_ms": tms(), "data": map[string]any{"driver": "fake"}})
	if mode == "garbage" {
		_, _ = out.WriteString("this is not json\n")
		_ = out.Flush()
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var req struct {
			ID   int64          `json:"id"`
			Op   string         `json:"op"`
			Args map[string]any `json:"args"`
		}
		if json.Unmarshal(sc.Bytes(), &req) != nil {
			continue
		}
		switch req.Op {
		case "hello":
			write(map[string]any{"id": req.ID, "ok": true, "t_ms": tms(), "result": map[string]any{
				"driver": map[string]any{"name": "fake", "protocol": 1},
				"sdk":    map[string]any{"name": "fake-sdk", "version": "9.9.9", "protocol": "connections", "loaded": true},
				"surface": map[string]any{"has": map[string]any{"send_command": true, "send_message": false},
					"token_helper": nil},
				"ops": []string{"hello", "connect", "quit"}, "start_unix_ms": time.Now().UnixMilli(),
			}})
		case "connect":
			write(map[string]any{"event": "status", "t_ms": tms(), "data": "connecting"})
			time.Sleep(20 * time.Millisecond)
			write(map[string]any{"event": "status", "t_ms": tms(), "data": "ready"})
			write(map[string]any{"id": req.ID, "ok": true, "t_ms": tms(), "result": map[string]any{"status": "ready", "ready": true, "session_id": "s1"}})
		case "fail":
			write(map[string]any{"id": req.ID, "ok": false, "t_ms": tms(), "error": map[string]any{"code": "sdk_error", "message": "boom", "details": map[string]any{"status": 426}}})
		case "hang":
			// never answer
		case "quit":
			if mode == "stubborn" {
				continue // ignore quit and keep running
			}
			write(map[string]any{"id": req.ID, "ok": true, "t_ms": tms(), "result": map[string]any{"bye": true}})
			os.Exit(0)
		default:
			write(map[string]any{"id": req.ID, "ok": false, "t_ms": tms(), "error": map[string]any{"code": "unknown_op", "message": req.Op}})
		}
	}
	if mode == "stubborn" {
		time.Sleep(time.Hour)
	}
}

func startFake(t *testing.T, mode string) *Driver {
	t.Helper()
	dir := t.TempDir()
	grace := 5 * time.Second // the race detector slows the fake's exit down
	if mode == "stubborn" {
		grace = 300 * time.Millisecond
	}
	d, err := Start(Config{Command: []string{os.Args[0], "-test.run=^$"}, Env: []string{"FAKE_DRIVER=" + mode},
		QuitGrace:  grace,
		StderrPath: filepath.Join(dir, "stderr.log"), TranscriptPath: filepath.Join(dir, "transcript.log")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Kill("test end") })
	return d
}

func TestHelloConnectEventsQuit(t *testing.T) {
	ctx := context.Background()
	d := startFake(t, "ok")
	h, err := d.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.SDK.Name != "fake-sdk" || h.SDK.Version != "9.9.9" || !h.Surface.Has["send_command"] || h.Surface.TokenHelper != nil {
		t.Fatalf("hello decoded wrongly: %+v", h)
	}
	mark := d.EventCount()
	r, err := d.Connect(ctx, ConnectArgs{APIURL: "http://x", Model: "m"}, 5*time.Second)
	if err != nil || !r.Ready || r.SID() != "s1" {
		t.Fatalf("connect: %v %+v", err, r)
	}
	ev, err := d.WaitEvent(ctx, mark, time.Second, Status("ready"))
	if err != nil || ev.String() != "ready" {
		t.Fatalf("ready event: %v %v", ev, err)
	}
	if _, err := d.WaitEvent(ctx, ev.Seq+1, 100*time.Millisecond, Status("ready")); err == nil {
		t.Fatal("a second ready event was found")
	}
	_, err = d.Call(ctx, "fail", nil, time.Second)
	var oe *OpError
	if !errors.As(err, &oe) || oe.Code != "sdk_error" || oe.DetailsMap()["status"] != float64(426) {
		t.Fatalf("want sdk_error, got %v", err)
	}
	if p := d.Close(); p != "" {
		t.Fatalf("close: %s", p)
	}
	if d.Killed() != "" {
		t.Fatalf("killed: %s", d.Killed())
	}
	if len(d.Tail(0)) == 0 {
		t.Fatal("no transcript kept")
	}
}

func TestTimeoutKills(t *testing.T) {
	d := startFake(t, "ok")
	start := time.Now()
	_, err := d.Call(context.Background(), "hang", nil, 200*time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	select {
	case <-d.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("driver not dead after timeout")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("timeout took too long")
	}
	if !strings.Contains(d.ExitStatus(), "killed by the harness") {
		t.Fatalf("exit status: %s", d.ExitStatus())
	}
	if _, err := d.Call(context.Background(), "hello", nil, time.Second); !errors.Is(err, ErrExited) {
		t.Fatalf("call on a dead driver: %v", err)
	}
}

func TestStubbornDriverIsKilledOnClose(t *testing.T) {
	d := startFake(t, "stubborn")
	if _, err := d.Hello(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := d.Close()
	if !strings.Contains(p, "after quit") {
		t.Fatalf("close problem: %q", p)
	}
	select {
	case <-d.Exited():
	default:
		t.Fatal("still running")
	}
}

func TestGarbageLinesAreKept(t *testing.T) {
	d := startFake(t, "garbage")
	if _, err := d.Hello(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bl := d.BadLines(); len(bl) != 1 || bl[0] != "this is not json" {
		t.Fatalf("bad lines: %q", bl)
	}
	d.Close()
}

func TestStartFailure(t *testing.T) {
	if _, err := Start(Config{Command: []string{"/nonexistent/driver"}}); err == nil {
		t.Fatal("want an error")
	}
}

func TestWaitOrStop(t *testing.T) {
	d := startFake(t, "ok")
	ctx := context.Background()
	p, err := d.Go("hang", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.WaitOrStop(ctx, 5*time.Second, 50*time.Millisecond, func() string {
		if time.Since(start) > 200*time.Millisecond {
			return "pointless"
		}
		return ""
	})
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "pointless") {
		t.Fatalf("want ErrGaveUp, got %v", err)
	}
	if d.Killed() != "" {
		t.Fatal("giving up must not kill the driver")
	}
	// A reply that arrives while WaitOrStop watches is returned normally.
	p, err = d.Go("connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.WaitOrStop(ctx, 5*time.Second, 10*time.Millisecond, func() string { return "" })
	if err != nil || !strings.Contains(string(raw), `"ready":true`) {
		t.Fatalf("connect via WaitOrStop: %v %s", err, raw)
	}
	if p := d.Close(); p != "" {
		t.Fatal(p)
	}
}
