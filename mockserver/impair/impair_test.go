package impair

import (
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want Traffic
	}{
		{[]byte{0x00, 0x01}, TrafficSTUN}, {[]byte{0x01, 0x01}, TrafficSTUN},
		{[]byte{22, 0xfe}, TrafficDTLS}, {[]byte{23, 0xfe}, TrafficDTLS},
		{[]byte{0x80, 96}, TrafficRTP}, {[]byte{0x90, 0xe0}, TrafficRTP}, // marker bit + PT 96
		{[]byte{0x80, 200}, TrafficRTCP}, {[]byte{0x81, 201}, TrafficRTCP}, {[]byte{0x81, 206}, TrafficRTCP},
		{[]byte{64}, TrafficOther}, {nil, TrafficOther}, {[]byte{255}, TrafficOther},
	} {
		if got := Classify(tc.b); got != tc.want {
			t.Errorf("Classify(% x) = %b, want %b", tc.b, got, tc.want)
		}
	}
}

func TestTimelineRefusesBadWindows(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ws    []Window
		field string
	}{
		{"loss over 100", []Window{{Loss: 101}}, "impairments[0].loss"},
		{"negative loss", []Window{{Loss: -1}}, "impairments[0].loss"},
		{"negative jitter", []Window{{Delay: time.Millisecond, Jitter: -time.Millisecond}}, "impairments[0].delay"},
		{"jitter over delay", []Window{{Delay: time.Millisecond, Jitter: 2 * time.Millisecond}}, "impairments[0].delay"},
		{"negative at", []Window{{At: -time.Second, Blackout: true}}, "impairments[0].at"},
		{"negative for", []Window{{For: -time.Second, Blackout: true}}, "impairments[0].for"},
		{"nothing", []Window{{At: time.Second}}, "impairments[0].loss"},
		{"two kinds", []Window{{Loss: 5, Blackout: true}}, "impairments[0].loss"},
		{"bad traffic", []Window{{Loss: 5, Traffic: "video"}}, "impairments[0].traffic"},
		{"bad direction", []Window{{Loss: 5, Direction: "up"}}, "impairments[0].direction"},
		{"overlapping losses", []Window{{At: 0, For: 10 * time.Second, Loss: 5}, {At: 5 * time.Second, Loss: 10}}, "impairments[1].at"},
	} {
		_, err := NewTimeline(0, tc.ws)
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), tc.field+":") {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	// Different kinds, traffic or directions may overlap; windows that
	// only touch do not overlap.
	if _, err := NewTimeline(0, []Window{{At: 0, For: 10 * time.Second, Loss: 5}, {At: 5 * time.Second, Blackout: true},
		{At: 10 * time.Second, Loss: 1, Traffic: "rtp"}, {At: 0, Delay: time.Millisecond},
		{At: 10 * time.Second, For: time.Second, Loss: 2, Traffic: "sctp"}}); err != nil {
		t.Errorf("compatible windows refused: %v", err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestEngine(t *testing.T, seed uint64, ws ...Window) (*Engine, *fakeClock) {
	t.Helper()
	tl, err := NewTimeline(seed, ws)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(tl)
	clk := &fakeClock{t: time.Unix(1000, 0)}
	e.now = clk.now
	return e, clk
}

var (
	rtp   = []byte{0x80, 96, 0, 1}
	rtcp  = []byte{0x81, 201, 0, 7}
	stun  = []byte{0, 1, 0, 0}
	alice = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	bob   = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}
)

// A blackout drops everything from At to At+For of each remote's own
// clock, and the journal callback hears it begin and end.
func TestEngineBlackoutWindow(t *testing.T) {
	e, clk := newTestEngine(t, 1, Window{At: 2 * time.Second, For: 3 * time.Second, Blackout: true})
	var events []string
	e.OnChange(func(remote, label string, active bool) {
		events = append(events, remote+" "+label+map[bool]string{true: " on", false: " off"}[active])
	})
	if e.decide(alice, rtp, Send).drop {
		t.Fatal("dropped before the window")
	}
	clk.add(2 * time.Second)
	if e.decide(bob, stun, Recv).drop {
		t.Fatal("bob's clock starts at his first datagram: not in the window yet")
	}
	for _, b := range [][]byte{rtp, rtcp, stun} {
		for _, d := range []Direction{Send, Recv} {
			if !e.decide(alice, b, d).drop {
				t.Fatalf("blackout let % x through (%d)", b, d)
			}
		}
	}
	clk.add(3 * time.Second)
	if e.decide(alice, rtp, Send).drop {
		t.Fatal("dropped after the window")
	}
	if !e.decide(bob, rtp, Send).drop {
		t.Fatal("bob at 3 s of his clock is in his blackout")
	}
	want := []string{"127.0.0.1:40000 blackout from 2s on", "127.0.0.1:40000 blackout from 2s off", "127.0.0.1:40001 blackout from 2s on"}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", events, want)
	}
}

// Random loss drops its share of the chosen traffic and direction only,
// the same datagrams for the same seed.
func TestEngineLossRateAndScope(t *testing.T) {
	run := func(seed uint64) (dropped int, pattern []bool) {
		e, _ := newTestEngine(t, seed, Window{Loss: 5, Traffic: "media", Direction: "send"})
		for range 20000 {
			d := e.decide(alice, rtp, Send).drop
			pattern = append(pattern, d)
			if d {
				dropped++
			}
			if e.decide(alice, rtp, Recv).drop || e.decide(alice, stun, Send).drop {
				t.Fatal("loss outside its traffic or direction")
			}
		}
		return dropped, pattern
	}
	n, p1 := run(7)
	if rate := float64(n) / 20000; rate < 0.045 || rate > 0.055 {
		t.Fatalf("loss rate %.4f, want 5 %% ± 0.5", rate)
	}
	_, p2 := run(7)
	_, p3 := run(8)
	if !equal(p1, p2) || equal(p1, p3) {
		t.Fatal("the seed does not fix the draws")
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Through real loopback sockets: the wrapped sender loses its share and
// delays what it sends.
func TestPacketConnOnLoopback(t *testing.T) {
	recv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	raw, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, _ := NewTimeline(3, []Window{{Loss: 20}, {Delay: 30 * time.Millisecond}})
	send := WrapPacketConn(raw, NewEngine(tl))
	defer send.Close()
	const n = 500
	start := time.Now()
	for i := range n {
		if _, err := send.WriteTo(append([]byte(nil), 0x80, 96, byte(i>>8), byte(i)), recv.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			time.Sleep(2 * time.Millisecond) // stay under the socket buffer
		}
	}
	got, first := 0, time.Duration(0)
	buf := make([]byte, 64)
	_ = recv.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, _, err := recv.ReadFrom(buf); err != nil {
			break
		}
		if got == 0 {
			first = time.Since(start)
		}
		got++
		_ = recv.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	}
	if got < n*70/100 || got > n*90/100 {
		t.Fatalf("%d of %d datagrams arrived with 20 %% loss", got, n)
	}
	if first < 30*time.Millisecond {
		t.Fatalf("first datagram after %v, before the 30 ms delay", first)
	}
}

// An empty timeline costs one atomic load per datagram.
func BenchmarkDecideEmpty(b *testing.B) {
	e := NewEngine(nil)
	for b.Loop() {
		e.decide(alice, rtp, Send)
	}
}

func BenchmarkDecideLoss(b *testing.B) {
	tl, _ := NewTimeline(1, []Window{{Loss: 5}})
	e := NewEngine(tl)
	for b.Loop() {
		e.decide(alice, rtp, Send)
	}
}

// BenchmarkDelayPrecision sends datagrams through a 50 ms ± 10 ms delay on
// loopback and reports how far each arrival is from its drawn delay: the
// p50 and p99 error in µs (go test -bench DelayPrecision -benchtime 400x).
func BenchmarkDelayPrecision(b *testing.B) {
	recv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	raw, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	tl, _ := NewTimeline(1, []Window{{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}})
	eng := NewEngine(tl)
	send := WrapPacketConn(raw, eng)
	defer send.Close()
	// Replay the engine's draws with the same seed to know each datagram's
	// intended delay.
	ref := NewEngine(tl)
	var errs []time.Duration
	buf := make([]byte, 16)
	for i := 0; b.Loop(); i++ {
		want := ref.decide(recv.LocalAddr(), []byte{0x80, 96}, Send).delay
		at := time.Now()
		_, _ = send.WriteTo([]byte{0x80, 96, byte(i)}, recv.LocalAddr())
		_ = recv.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := recv.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
		d := time.Since(at) - want
		if d < 0 {
			d = -d
		}
		errs = append(errs, d)
	}
	slices.Sort(errs)
	b.ReportMetric(float64(errs[len(errs)/2].Microseconds()), "p50-err-µs")
	b.ReportMetric(float64(errs[len(errs)*99/100].Microseconds()), "p99-err-µs")
}
