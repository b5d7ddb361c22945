package model

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Defaults for Config fields left zero.
const (
	DefaultChunkFrames = 33
	DefaultUploadWait  = 10 * time.Second
	DefaultMaxQueued   = 256
)

// Message is a model message: {"type": ..., "data": {...}} on the wire.
// Data holds only JSON-encodable values (string, bool, int64, float64, nil,
// map[string]any); the receiver owns it.
type Message struct {
	Type string
	Data map[string]any
}

// Command is one decoded client command.
type Command struct {
	Name string
	// Data is the command's data object; nil means {}. Numbers may be
	// float64 (encoding/json, protobuf Struct) or json.Number. The runtime
	// does not keep or modify it.
	Data map[string]any
	// Uploads are FileRefs that travel beside the arguments (v0 "uploads",
	// v1 Command.uploads), keyed by parameter name. They are merged into
	// Data before validation; an entry replaces a Data value of the same
	// name.
	Uploads map[string]wire.FileRef
	// RequestID is the v1 request id, empty for v0. It is only recorded
	// (StateSnapshot.Pending).
	RequestID string
}

// Result is an accepted command.
type Result struct {
	// CommandID is the id frames carry once the command has been applied:
	// 1, 2, 3, ... per runtime, in acceptance order.
	CommandID uint32
	// Reply is the body of the correlated v1 reply. nil is a bodyless ack
	// (PROTOCOL.md §3.3): the command is queued, and its effects arrive
	// later as model messages. Only the snapshot commands, applied at once,
	// answer with a body (snapshots.go).
	Reply *Message
}

// Frame describes one frame the frame source captured.
type Frame struct {
	// Seq is the frame's sequence number in its stream (informational).
	Seq uint32
	// Chunk is the frame source's chunk counter (informational).
	Chunk uint32
	// ChunkBoundary is true on the first frame of a chunk.
	ChunkBoundary bool
}

// Config configures a Runtime.
type Config struct {
	// Catalog is the model's compiled command contract, shared by all
	// sessions of the model. When nil, Commands is compiled for this
	// runtime alone (fine for tests, wasteful for hundreds of sessions).
	Catalog  *Catalog
	Commands []wire.CommandDef
	// Schema is the model's OpenAPI 3.1 document (for requestSchema,
	// modelSchema and GET /schema), typically mockserver.Model.OpenAPI()
	// built once and shared; it is never modified. When nil, Schema()
	// serves Catalog.OpenAPI().
	Schema map[string]any
	// ChunkFrames bounds a chunk: a frame starts a chunk when the frame
	// source says so (Frame.ChunkBoundary) or when ChunkFrames frames have
	// passed since the last start. Default 33 (Helios).
	ChunkFrames int
	// MaxQueued bounds the commands waiting for a chunk boundary; Submit
	// refuses more with queue_full. Default 256.
	MaxQueued int
	// ResolveUpload checks that a referenced upload exists, is complete
	// and matches ref (size, ...), waiting at most until ctx ends, which is
	// at most UploadWait after Submit started. nil accepts every FileRef.
	ResolveUpload func(ctx context.Context, ref wire.FileRef) error
	// UploadWait bounds the wait for each referenced upload. Default 10 s.
	UploadWait time.Duration
	// Emit receives unsolicited model messages, in order, never while the
	// runtime holds a lock; it may call back into the runtime. It runs on
	// whichever goroutine produced or drains the messages (the caller of
	// Submit or of OnFrame), so it must not block: the glue queues them for
	// the data channel. nil discards messages.
	Emit func(Message)
	// BodylessSnapshotReplies answers save_snapshot, list_snapshots and
	// rewind with a bodyless ack, as production does today
	// (PROTOCOL.md §9.6), instead of the documented reply bodies.
	BodylessSnapshotReplies bool
	// Semantics is the model's behaviour; the zero value is Helios.
	Semantics Semantics
	// Now is the clock for the timestamps in StateSnapshot; OnFrame calls
	// it under the runtime's lock at boundaries that apply commands, so it
	// must be cheap and must not call into the runtime. Default time.Now.
	Now func() time.Time
}

// Runtime is one session's synthetic model. All methods are safe for
// concurrent use; OnFrame is expected from one goroutine at a time (the
// frame source), and is cheap and non-blocking.
type Runtime struct {
	cat         *Catalog
	schema      map[string]any
	chunkFrames int
	maxQueued   int
	resolve     func(context.Context, wire.FileRef) error
	uploadWait  time.Duration
	emitFn      func(Message)
	now         func() time.Time
	bodyless    bool

	applied atomic.Uint32

	mu            sync.Mutex
	b             behaviour
	queue         []pending
	lastID        uint32
	sinceBoundary int
	frames        uint64
	lastSeq       uint32
	lastAppliedAt time.Time
	// outbox holds messages not yet handed to Emit; draining is true while
	// one goroutine hands them over (see flush). spare is the drainer's
	// other buffer.
	outbox, spare []Message
	draining      bool
}

// pending is a queued command.
type pending struct {
	id          uint32
	name        string
	requestID   string
	submittedAt time.Time
	op          op
}

// New makes a runtime in the idle state Helios has at ready.
func New(cfg Config) (*Runtime, error) {
	cat := cfg.Catalog
	if cat == nil {
		var err error
		if cat, err = NewCatalog(cfg.Commands); err != nil {
			return nil, err
		}
	}
	r := &Runtime{
		cat:         cat,
		schema:      cfg.Schema,
		chunkFrames: cfg.ChunkFrames,
		maxQueued:   cfg.MaxQueued,
		resolve:     cfg.ResolveUpload,
		uploadWait:  cfg.UploadWait,
		emitFn:      cfg.Emit,
		now:         cfg.Now,
		bodyless:    cfg.BodylessSnapshotReplies,
		b:           cfg.Semantics.build(),
	}
	if r.chunkFrames <= 0 {
		r.chunkFrames = DefaultChunkFrames
	}
	if r.maxQueued <= 0 {
		r.maxQueued = DefaultMaxQueued
	}
	if r.uploadWait <= 0 {
		r.uploadWait = DefaultUploadWait
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Catalog returns the runtime's command contract.
func (r *Runtime) Catalog() *Catalog { return r.cat }

// Submit validates a command and queues it for the next chunk boundary. It
// checks, in order: the name, the data (with Uploads merged in) against the
// command's schema, and every referenced upload through ResolveUpload
// (FileRefs in Uploads and the FileRef parameters of the schema, such as
// Helios's image). A refusal returns a *CommandError (invalid_command,
// unresolved_upload, queue_full) and also emits a command_error message,
// since v0 clients get no correlated errors. Submit may wait for uploads
// (up to UploadWait each); it never waits for a chunk boundary.
func (r *Runtime) Submit(ctx context.Context, c Command) (Result, error) {
	res, cerr := r.submit(ctx, c)
	if cerr != nil {
		r.push(commandErrorMessage(c.Name, cerr))
		r.flush()
		return Result{}, cerr
	}
	return res, nil
}

func commandErrorMessage(name string, e *CommandError) Message {
	return Message{Type: TypeCommandError, Data: map[string]any{
		"command": clip(name, 64), "code": e.Code, "message": e.Message,
	}}
}

func (r *Runtime) submit(ctx context.Context, c Command) (Result, *CommandError) {
	cc, cerr := r.cat.lookup(c.Name)
	if cerr != nil {
		return Result{}, cerr
	}
	data := c.Data
	if len(c.Uploads) > 0 {
		data = make(map[string]any, len(c.Data)+len(c.Uploads))
		maps.Copy(data, c.Data)
		for k, ref := range c.Uploads {
			data[k] = fileRefValue(ref)
		}
	}
	if cerr := cc.validate(data); cerr != nil {
		return Result{}, cerr
	}
	o, cerr := decodeOp(c.Name, data)
	if cerr != nil {
		return Result{}, cerr
	}
	if cerr := r.resolveUploads(ctx, cc, c.Uploads, data); cerr != nil {
		return Result{}, cerr
	}
	if isSnapshotOp(o.kind) {
		return r.snapshotNow(c.Name, &o)
	}

	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) >= r.maxQueued {
		return Result{}, cmdErr(CodeQueueFull, fmt.Sprintf(
			"%s: %d commands are already waiting for the next chunk boundary", c.Name, len(r.queue)))
	}
	r.lastID++
	r.queue = append(r.queue, pending{id: r.lastID, name: c.Name, requestID: c.RequestID, submittedAt: now, op: o})
	return Result{CommandID: r.lastID}, nil
}

// resolveUploads resolves the FileRefs of a validated command, parameters
// in sorted order, each within UploadWait.
func (r *Runtime) resolveUploads(ctx context.Context, cc *catalogCommand, uploads map[string]wire.FileRef, data map[string]any) *CommandError {
	if r.resolve == nil {
		return nil
	}
	params := slices.Collect(maps.Keys(uploads))
	for _, p := range cc.fileRefParams {
		if _, ok := uploads[p]; !ok {
			if _, present := data[p]; present {
				params = append(params, p)
			}
		}
	}
	slices.Sort(params)
	for _, p := range params {
		ref, ok := asFileRef(data[p])
		if !ok {
			return cmdErr(CodeInvalidCommand, fmt.Sprintf("%s: /%s: want a FileRef", cc.def.Name, p))
		}
		if err := r.resolveOne(ctx, ref); err != nil {
			return cmdErr(CodeUnresolvedUpload, fmt.Sprintf("%s: /%s: upload %q: %v",
				cc.def.Name, p, clip(ref.UploadID, 128), err))
		}
	}
	return nil
}

// resolveOne calls ResolveUpload with a deadline, and stops waiting at the
// deadline even if the callback ignores its context.
func (r *Runtime) resolveOne(ctx context.Context, ref wire.FileRef) error {
	ctx, cancel := context.WithTimeout(ctx, r.uploadWait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.resolve(ctx, ref) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("not complete after %v: %w", r.uploadWait, ctx.Err())
		}
		return ctx.Err()
	}
}

// OnFrame advances the model by one frame and returns the id of the last
// applied command (what the frame should be stamped with; 0 for none).
//
// On a chunk boundary it first completes the chunk in progress, if the
// model is running (chunk_complete, then state), then applies every queued
// command in submission order (each followed by state; start adds
// generation_started, pause generation_paused, set_image and
// set_conditioning image_accepted, a refusal command_error instead of
// state), and then, if running, begins the next chunk with this frame.
// Messages are emitted after the lock is released. Between boundaries, and
// on boundaries with nothing to do, OnFrame neither allocates nor emits.
func (r *Runtime) OnFrame(f Frame) uint32 {
	r.mu.Lock()
	r.frames++
	r.lastSeq = f.Seq
	b := r.b
	boundary := f.ChunkBoundary || r.sinceBoundary >= r.chunkFrames
	if !boundary {
		r.sinceBoundary++
		if b.running() {
			b.advance()
		}
		r.mu.Unlock()
		return r.applied.Load()
	}
	r.sinceBoundary = 1
	emit := r.emitFn != nil
	if b.running() {
		if msgs := b.completeChunk(nil); emit {
			r.outbox = append(r.outbox, msgs...)
		}
	}
	if len(r.queue) > 0 {
		var msgs []Message
		for i := range r.queue {
			p := &r.queue[i]
			msgs = b.apply(&p.op, p.name, p.id, msgs[:0])
			if emit {
				r.outbox = append(r.outbox, msgs...)
			}
		}
		r.applied.Store(r.queue[len(r.queue)-1].id)
		r.lastAppliedAt = r.now()
		clear(r.queue)
		r.queue = r.queue[:0]
	}
	if b.running() {
		b.begin()
	}
	flush := len(r.outbox) > 0 && !r.draining
	r.mu.Unlock()
	if flush {
		r.flush()
	}
	return r.applied.Load()
}

// AppliedCommandID is the id of the last command taken off the queue at a
// chunk boundary (applied, or refused at application time with a
// command_error message), 0 before any. It changes only inside OnFrame.
func (r *Runtime) AppliedCommandID() uint32 { return r.applied.Load() }

// push queues a message for Emit.
func (r *Runtime) push(m Message) {
	if r.emitFn == nil {
		return
	}
	r.mu.Lock()
	r.outbox = append(r.outbox, m)
	r.mu.Unlock()
}

// flush hands queued messages to Emit without holding the lock. One
// goroutine drains at a time, so messages keep the order they were queued
// in (which is the order of the state changes); a caller that finds
// another draining leaves its messages to it and returns at once, so
// neither OnFrame nor Submit waits for another goroutine's Emit, and Emit
// may call back into the runtime. Each round hands over at least one
// message, so the loop ends once producers stop.
func (r *Runtime) flush() {
	r.mu.Lock()
	if r.draining || len(r.outbox) == 0 {
		r.mu.Unlock()
		return
	}
	r.draining = true
	ok := false
	defer func() {
		if !ok { // Emit panicked: let a later flush drain the rest
			r.mu.Lock()
			r.draining = false
			r.mu.Unlock()
		}
	}()
	for {
		batch := r.outbox
		r.outbox = r.spare[:0]
		r.mu.Unlock()
		for _, m := range batch {
			r.emitFn(m)
		}
		clear(batch)
		r.mu.Lock()
		r.spare = batch[:0]
		if len(r.outbox) == 0 {
			r.draining = false
			ok = true
			r.mu.Unlock()
			return
		}
	}
}

// PendingCommand is a command waiting for a chunk boundary.
type PendingCommand struct {
	ID          uint32    `json:"id"`
	Name        string    `json:"name"`
	RequestID   string    `json:"request_id,omitempty"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// ScheduledPrompt is a prompt waiting for a future chunk.
type ScheduledPrompt = scheduledPrompt

// StateSnapshot is the runtime's state for the admin API.
type StateSnapshot struct {
	Started       bool    `json:"started"`
	Running       bool    `json:"running"`
	Paused        bool    `json:"paused"`
	CurrentPrompt *string `json:"current_prompt"`
	// CurrentChunk is the chunk being generated (or generated next);
	// CurrentFrame counts frames generated since start.
	CurrentChunk  int64         `json:"current_chunk"`
	CurrentFrame  int64         `json:"current_frame"`
	ImageSet      bool          `json:"image_set"`
	Image         *wire.FileRef `json:"image,omitempty"`
	ImageStrength float64       `json:"image_strength"`
	SRScale       string        `json:"sr_scale"`
	Seed          int64         `json:"seed"`
	// ActiveSeed is the seed read at start (a drawn one when Seed is -1).
	ActiveSeed       int64             `json:"active_seed,omitempty"`
	ScheduledPrompts []ScheduledPrompt `json:"scheduled_prompts"`
	Pending          []PendingCommand  `json:"pending"`
	// LastCommandID is the last id Submit assigned; AppliedCommandID the
	// last one applied, at LastAppliedAt.
	LastCommandID    uint32    `json:"last_command_id"`
	AppliedCommandID uint32    `json:"applied_command_id"`
	LastAppliedAt    time.Time `json:"last_applied_at,omitzero"`
	// Phase is the runtime state for models that name one (LingBot:
	// WAITING, GENERATING, PAUSED); Controls are model-specific settings.
	Phase    string         `json:"phase,omitempty"`
	Controls map[string]any `json:"controls,omitempty"`
	// Frames counts OnFrame calls; LastFrameSeq is the last Frame.Seq.
	Frames       uint64 `json:"frames"`
	LastFrameSeq uint32 `json:"last_frame_seq"`
}

// State returns a snapshot of the model and its queue.
func (r *Runtime) State() StateSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := StateSnapshot{
		Pending:       make([]PendingCommand, len(r.queue)),
		LastCommandID: r.lastID, AppliedCommandID: r.applied.Load(), LastAppliedAt: r.lastAppliedAt,
		Frames: r.frames, LastFrameSeq: r.lastSeq,
	}
	r.b.fill(&s)
	if s.ScheduledPrompts == nil {
		s.ScheduledPrompts = []ScheduledPrompt{}
	}
	for i, p := range r.queue {
		s.Pending[i] = PendingCommand{ID: p.id, Name: p.name, RequestID: p.requestID, SubmittedAt: p.submittedAt}
	}
	return s
}

// Schema returns the model's OpenAPI document (Config.Schema, or the
// catalog's minimal one), as a fresh copy the caller may modify. The
// document never changes during the runtime's life, so callers may encode
// it once (peer.Conn.SendSchema does).
func (r *Runtime) Schema() map[string]any {
	if r.schema == nil {
		return r.cat.OpenAPI()
	}
	out, _ := deepCopy(r.schema).(map[string]any)
	return out
}
