package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactor-harness/reactor-harness/client"
)

// CommandStep is one command a session sends: a name and its data.
type CommandStep struct {
	Name string
	Data map[string]any
}

// ParseCommandStep reads "name" or "name=JSON-object". A bare set_prompt
// gets a fresh prompt each time it is sent (see stepData).
func ParseCommandStep(s string) (CommandStep, error) {
	name, raw, hasData := strings.Cut(strings.TrimSpace(s), "=")
	if name == "" {
		return CommandStep{}, fmt.Errorf("command %q: empty name", s)
	}
	step := CommandStep{Name: name}
	if hasData {
		if err := json.Unmarshal([]byte(raw), &step.Data); err != nil || step.Data == nil {
			return CommandStep{}, fmt.Errorf("command %q: data must be a JSON object", s)
		}
	}
	return step, nil
}

// DefaultCommands make the synthetic model generate and keep changing: a
// prompt, start, then new prompts in rotation. Every accepted command bumps
// the command id stamped into frames, so command_to_effect is measured for each.
func DefaultCommands() []CommandStep {
	return []CommandStep{{Name: "set_prompt"}, {Name: "start"}, {Name: "set_prompt"}}
}

// SessionConfig is what each load session does with its client.
type SessionConfig struct {
	// Client is the template for every session's client (BaseURL, key,
	// model, codec, shared webrtc API); callbacks are set per session.
	Client client.Config
	// Commands are sent in rotation, the first right after ready, then one
	// every CommandInterval (0 = none after the first round).
	Commands        []CommandStep
	CommandInterval time.Duration
	// CommandSize pads the prompt of every bare set_prompt to this many
	// bytes (0 = short prompts): above 256 KiB a command needs data-channel
	// chunking, which the client negotiates (PROTOCOL.md §9.2).
	CommandSize int
	// PingInterval spaces data-channel round trips (0 = no pings); the
	// first is sent as soon as the session is ready.
	PingInterval time.Duration
	// FrameInterval is the emission interval for coordinated-omission
	// correction; 0 = from the session's capabilities (emission_fps).
	FrameInterval time.Duration
	// LateAfter marks a frame late when its latency exceeds it.
	LateAfter time.Duration
	// DisconnectTimeout bounds the closing DELETE.
	DisconnectTimeout time.Duration
}

// ClientSession returns a SessionFunc that runs one real WebRTC session per
// call with the Go client and records every phase, frame and command.
func ClientSession(cfg SessionConfig) SessionFunc {
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 100 * time.Millisecond
	}
	if cfg.DisconnectTimeout <= 0 {
		cfg.DisconnectTimeout = 5 * time.Second
	}
	return func(ctx context.Context, id int, rec *Recorder) error {
		return runClientSession(ctx, cfg, id, rec)
	}
}

func runClientSession(ctx context.Context, cfg SessionConfig, id int, rec *Recorder) error {
	fr := newFrameRecorder(rec.Fork(), cfg)
	ccfg := cfg.Client
	ccfg.WaitFirstFrame = true
	ccfg.OnFrame = fr.onFrame
	if ccfg.ClientStats {
		// A stats report the target cannot take (a closed channel, a
		// refused frame) is an error of the session.
		statsRec := rec.Fork()
		ccfg.OnClientStats = func(err error) {
			if err != nil && ctx.Err() == nil {
				statsRec.Error(ErrorClass(err))
			}
		}
	}
	// live ends when the ready transport is lost (the client then goes
	// disconnected), so a target that dies mid-run is an error of the
	// session rather than frames that silently stop.
	live, lost := context.WithCancel(ctx)
	defer lost()
	var wasReady atomic.Bool
	onStatus := ccfg.OnStatus
	ccfg.OnStatus = func(s client.Status) {
		switch s {
		case client.StatusReady:
			wasReady.Store(true)
		case client.StatusDisconnected:
			if wasReady.Load() {
				lost()
			}
		}
		if onStatus != nil {
			onStatus(s)
		}
	}
	c, err := client.New(ccfg)
	if err != nil {
		rec.Error("config")
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		recordTimings(rec, c.Timings())
		if ctx.Err() != nil {
			return nil // the run ended while connecting: not the session's fault
		}
		rec.Error(ErrorClass(err))
		disconnect(c, cfg.DisconnectTimeout)
		return err
	}
	recordTimings(rec, c.Timings())
	rec.Ready()
	fr.setInterval(frameInterval(cfg, c))
	err = drive(live, c, cfg, rec, fr, id)
	if err == nil && live.Err() != nil && ctx.Err() == nil {
		rec.Error(ClassTransportLost)
		err = errTransportLost
	}
	disconnect(c, cfg.DisconnectTimeout)
	return err
}

// ClassTransportLost is the error class of a session whose peer connection
// was lost (ICE disconnected or failed, or closed by the target) before
// the end of the run.
const ClassTransportLost = "transport_lost"

var errTransportLost = errors.New("load: the session's transport was lost before the end of the run")

func recordTimings(rec *Recorder, t client.Timings) {
	for m, d := range map[Metric]time.Duration{Token: t.Token, SessionCreate: t.Create, TimeToReady: t.Ready,
		Signalling: t.Signalling, ICEConnect: t.ICEConnect} {
		if d > 0 {
			rec.Record(m, d)
		}
	}
	if !t.FirstFrameAt.IsZero() { // 0 is a real value: the frame beat the ready event
		rec.Record(FirstFrame, t.FirstFrame)
	}
}

func frameInterval(cfg SessionConfig, c *client.Client) time.Duration {
	if cfg.FrameInterval > 0 {
		return cfg.FrameInterval
	}
	if caps := c.Capabilities(); caps != nil && caps.EmissionFPS != nil && *caps.EmissionFPS > 0 {
		return time.Duration(float64(time.Second) / *caps.EmissionFPS)
	}
	return time.Second / 30
}

// DefaultPingInterval is the load command's probe period: the JS SDK's own
// keep-alive period, so a probed session sends the target what an SDK
// session would. Each probe is a schema request, and the reply is the
// runtime's whole schema, several SCTP packets: at one per second the
// probes made ~45% of an embedded 300-session run's garbage, load a real
// client does not add.
const DefaultPingInterval = 5 * time.Second

// drive sends commands and pings until the run ends.
func drive(ctx context.Context, c *client.Client, cfg SessionConfig, rec *Recorder, fr *frameRecorder, id int) error {
	next, sent := 0, uint32(0)
	send := func() {
		if next >= len(cfg.Commands) && cfg.CommandInterval <= 0 {
			return
		}
		step := cfg.Commands[next%len(cfg.Commands)]
		next++
		at := time.Now()
		if _, err := c.SendCommand(ctx, step.Name, stepData(step, id, next, cfg.CommandSize)); err != nil {
			if ctx.Err() == nil {
				rec.Error(ErrorClass(err))
			}
			return
		}
		sent++ // accepted commands get ids 1, 2, … in order
		fr.expect(sent, at)
	}
	if len(cfg.Commands) > 0 {
		for range min(len(cfg.Commands), 2) { // a prompt and start right away
			send()
		}
	}
	ping := func() {
		if rtt, err := c.Ping(ctx); err == nil {
			rec.Record(DCRTT, rtt)
		} else if ctx.Err() == nil {
			rec.Error(ErrorClass(err))
		}
	}
	if cfg.PingInterval > 0 {
		ping() // a short run and the clock-offset estimate get a round trip
	}
	cmdTick := newTicker(cfg.CommandInterval)
	pingTick := newTicker(cfg.PingInterval)
	defer cmdTick.Stop()
	defer pingTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cmdTick.C:
			if len(cfg.Commands) > 0 {
				send()
			}
		case <-pingTick.C:
			ping()
		}
	}
}

// stepData fills a bare set_prompt with a distinct prompt of at least size
// bytes.
func stepData(s CommandStep, session, n, size int) map[string]any {
	if s.Data != nil {
		return s.Data
	}
	if s.Name == "set_prompt" {
		return map[string]any{"prompt": padPrompt(fmt.Sprintf("load session %d prompt %d", session, n), size)}
	}
	return map[string]any{}
}

// newTicker returns a ticker, or a never-firing one for d ≤ 0.
func newTicker(d time.Duration) *time.Ticker {
	if d <= 0 {
		t := time.NewTicker(time.Hour)
		t.Stop()
		return t
	}
	return time.NewTicker(d)
}

func disconnect(c *client.Client, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = c.Disconnect(ctx, false)
}

// frameRecorder turns frames into samples on the client's reader goroutine
// (its own forked Recorder, so the hot path takes no lock: the lock guarding
// pending commands is taken only while commands await their effect).
type frameRecorder struct {
	rec       *Recorder
	lateAfter time.Duration

	last       time.Time
	freezes    freezeDetector
	lastSeq    uint32
	minTransit time.Duration
	noted      bool

	interval atomic.Int64 // emission interval (ns), set once the session is ready
	npending atomic.Int32 // len(pending), read without the lock
	mu       sync.Mutex
	pending  []pendingCommand // commands sent whose effect has not shown yet
}

type pendingCommand struct {
	id uint32
	at time.Time
}

func newFrameRecorder(rec *Recorder, cfg SessionConfig) *frameRecorder {
	f := &frameRecorder{rec: rec, lateAfter: cfg.LateAfter}
	f.interval.Store(int64(time.Second / 30))
	return f
}

func (f *frameRecorder) setInterval(d time.Duration) { f.interval.Store(int64(d)) }

func (f *frameRecorder) expect(id uint32, at time.Time) {
	f.mu.Lock()
	f.pending = append(f.pending, pendingCommand{id, at})
	f.npending.Store(int32(len(f.pending)))
	f.mu.Unlock()
}

// onFrame records a video frame: its counters and samples go in one batch
// of the recorder. An incomplete frame counts only its packets and the
// losses before it, so packets_lost is every sequence gap, not only those
// of frames that completed anyway.
func (f *frameRecorder) onFrame(fr client.Frame) {
	if fr.Kind != "video" {
		return
	}
	if !fr.Complete {
		b, c := f.rec.begin()
		b.Count(Packets, int64(fr.Packets))
		b.Count(PacketsLost, int64(fr.SeqGapBefore))
		b.Count(PacketsRecovered, int64(fr.Recovered))
		f.rec.end(c)
		return
	}
	if fr.Stamp == nil && !f.noted {
		f.rec.Note("target does not stamp capture times; frame_latency is replaced by one_way_delay_variation (RTP timestamps)")
		f.noted = true
	}
	var buf [4]time.Duration
	effects := buf[:0]
	if fr.Stamp != nil && f.npending.Load() > 0 {
		effects = f.effects(fr, effects)
	}
	b, c := f.rec.begin()
	b.Count(Frames, 1)
	b.Count(Packets, int64(fr.Packets))
	b.Count(PacketsLost, int64(fr.SeqGapBefore))
	b.Count(PacketsRecovered, int64(fr.Recovered))
	if !f.last.IsZero() {
		gap := fr.Arrival.Sub(f.last)
		b.Record(InterFrameGap, gap)
		if f.freezes.observe(gap) {
			b.Count(Freezes, 1)
			b.Record(FreezeDuration, gap)
		}
	}
	if !fr.Read.IsZero() {
		b.Record(ReceiveLag, fr.Read.Sub(fr.Arrival))
	}
	f.last = fr.Arrival
	if fr.Stamp == nil {
		f.delayVariation(b, fr)
	} else {
		for _, d := range effects {
			b.Record(CommandToEffect, d)
		}
		f.stamped(b, fr)
	}
	f.rec.end(c)
}

// effects appends to out the command-to-effect times of the commands
// fr's stamp shows took effect, and forgets those commands.
func (f *frameRecorder) effects(fr client.Frame, out []time.Duration) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.pending) > 0 && fr.Stamp.CommandID >= f.pending[0].id {
		out = append(out, fr.Arrival.Sub(f.pending[0].at))
		f.pending = f.pending[1:]
	}
	f.npending.Store(int32(len(f.pending)))
	return out
}

func (f *frameRecorder) stamped(b recBatch, fr client.Frame) {
	lat := fr.Arrival.Sub(fr.Stamp.CaptureTime())
	b.Record(FrameLatency, lat)
	b.RecordCorrected(FrameLatencyCorrected, lat, time.Duration(f.interval.Load()))
	if lat > f.lateAfter {
		b.Count(LateFrames, 1)
	}
	if f.lastSeq != 0 && fr.Stamp.Seq > f.lastSeq+1 {
		b.Count(MissingFrames, int64(fr.Stamp.Seq-f.lastSeq-1))
	}
	f.lastSeq = fr.Stamp.Seq
}

// delayVariation is the fallback for targets that stamp no capture time:
// transit = arrival − RTP time, reported relative to the smallest transit
// seen, which is the one-way delay variation of RFC 5481 (PDV).
func (f *frameRecorder) delayVariation(b recBatch, fr client.Frame) {
	transit := time.Duration(fr.Arrival.UnixNano()) - time.Duration(int64(fr.RTPTimestamp)*int64(time.Second)/90000)
	if f.minTransit == 0 || transit < f.minTransit {
		f.minTransit = transit
	}
	b.Record(OneWayDelayVariation, transit-f.minTransit)
}
