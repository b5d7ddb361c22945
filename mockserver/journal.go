package mockserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/reactor-harness/reactor-harness/wire"
	wirev1 "github.com/reactor-harness/reactor-harness/wire/v1"
)

// journalTime is RFC 3339 with milliseconds, the journal's time format.
const journalTime = "2006-01-02T15:04:05.000Z07:00"

// MaxJournalData bounds Entry.Data: a command's data is journaled whole up
// to this many bytes of compact JSON, cut beyond.
const MaxJournalData = 4 << 10

// Entry is one journaled event: an HTTP request the mock answered, or a
// data-channel frame it received (Channel set).
type Entry struct {
	Seq        int64             `json:"seq"`
	Time       string            `json:"time"` // RFC 3339 with milliseconds
	Method     string            `json:"method,omitempty"`
	Path       string            `json:"path,omitempty"`
	Query      string            `json:"query,omitempty"`
	Route      string            `json:"route,omitempty"` // the pattern that matched
	Status     int               `json:"status,omitempty"`
	DurationMS float64           `json:"duration_ms,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"` // secrets redacted
	// Auth says how the request authenticated: "none" (no Authorization
	// header), "empty" ("Bearer " with nothing), "bearer", or "api_key".
	Auth string `json:"auth,omitempty"`
	// TokenID is the jti of a verified JWT (not secret), so suites can see
	// which token each request used.
	TokenID   string `json:"token_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	// Body is a request body that is valid JSON in valid UTF-8, compact.
	// Any other body is never spliced into the journal: its first
	// MaxJournalData bytes are in BodyBase64 and BodyInvalid says why it is
	// not in Body ("not JSON" or "invalid UTF-8").
	Body          json.RawMessage `json:"body,omitempty"`
	BodyBase64    string          `json:"body_base64,omitempty"`
	BodyInvalid   string          `json:"body_invalid,omitempty"`
	BodyTruncated bool            `json:"body_truncated,omitempty"` // BodyBase64 holds a prefix
	BodyBytes     int             `json:"body_bytes,omitempty"`
	Detail        string          `json:"detail,omitempty"` // error detail sent back
	Fault         string          `json:"fault,omitempty"`  // injected fault, if any
	// CORS says what the CORS layer did with a request that carried an
	// Origin: a preflight answered, an origin allowed or refused.
	CORS string `json:"cors,omitempty"`

	// Data-channel entries.
	Channel      string `json:"channel,omitempty"` // data | control
	ConnectionID int    `json:"connection_id,omitempty"`
	Codec        string `json:"codec,omitempty"` // v0 | v1 | legacy
	Scope        string `json:"scope,omitempty"`
	Type         string `json:"type,omitempty"`
	RequestID    string `json:"request_id,omitempty"`
	// Data is a command's data object (every codec), compact JSON. One
	// longer than MaxJournalData bytes is cut: Data is then a JSON string
	// holding the first MaxJournalData bytes of the JSON text and
	// DataTruncated is set.
	Data          json.RawMessage `json:"data,omitempty"`
	DataTruncated bool            `json:"data_truncated,omitempty"`
	// Uploads are the FileRefs a command carried beside its data (v0
	// "uploads", v1 Command.uploads), keyed by parameter name (PROTOCOL.md
	// §3.2, §3.3). A FileRef the client left inside data shows in Data.
	Uploads map[string]wire.FileRef `json:"uploads,omitempty"`
	// Frames is how many data-channel frames a chunked message arrived in
	// (absent on plain channels); SHA256 is the hex SHA-256 of a command's
	// whole message as received, so a large command can be checked byte
	// for byte against what the client sent (PROTOCOL.md §9.2).
	Frames int    `json:"frames,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// DataSHA256 is DataDigest of a command's data as the model got it,
	// comparable whatever codec or SDK carried it.
	DataSHA256 string `json:"data_sha256,omitempty"`
	// ClientStats is a decoded client_stats report (PROTOCOL.md §9.3).
	ClientStats *wirev1.StatsReport `json:"client_stats,omitempty"`

	at time.Time
}

// journalBody fills e's body fields from a request body: valid JSON in
// valid UTF-8 goes in Body (compact); anything else as base64. encoding/json
// copies a RawMessage's bytes unchecked, so an invalid byte in Body would
// make the whole journal invalid JSON.
func (e *Entry) journalBody(raw []byte) {
	e.BodyBytes = len(raw)
	if len(raw) == 0 {
		return
	}
	var buf bytes.Buffer
	switch {
	case json.Compact(&buf, raw) != nil:
		e.BodyInvalid = "not JSON"
	case !utf8.Valid(raw):
		e.BodyInvalid = "invalid UTF-8"
	default:
		e.Body = json.RawMessage(buf.Bytes())
		return
	}
	if len(raw) > MaxJournalData {
		raw, e.BodyTruncated = raw[:MaxJournalData], true
	}
	e.BodyBase64 = base64.StdEncoding.EncodeToString(raw)
}

// journalData renders a command's data for Entry.Data: compact JSON when it
// fits MaxJournalData, else a JSON string of its first MaxJournalData bytes
// (cut at a rune boundary) and truncated set. raw is what the client sent
// (v0, legacy); without it obj is encoded (v1, whose data is a Struct).
// Invalid UTF-8 in raw (the JSON decoder lets it through inside strings) is
// replaced by U+FFFD so that the journal stays valid JSON.
func journalData(raw json.RawMessage, obj map[string]any) (data json.RawMessage, truncated bool) {
	var buf bytes.Buffer
	switch {
	case len(raw) > 0:
		if json.Compact(&buf, raw) != nil {
			return nil, false // cannot happen: the decoder checked it
		}
	case obj != nil:
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, false
		}
		buf.Write(b)
	default:
		return json.RawMessage(`{}`), false
	}
	b := buf.Bytes()
	if !utf8.Valid(b) {
		// Outside strings the JSON scanner admits only ASCII, so every
		// invalid byte is inside a string and the replacement keeps the
		// structure.
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	if len(b) <= MaxJournalData {
		return json.RawMessage(b), false
	}
	n := MaxJournalData
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	s, _ := json.Marshal(string(b[:n]))
	return json.RawMessage(s), true
}

// At is the entry's time.
func (e Entry) At() time.Time { return e.at }

// Journal is a bounded, ordered log of what the mock received. It is a ring:
// when full, each new entry overwrites the oldest, so long load runs stay in
// bounded memory and appending costs the same at any fill level.
type Journal struct {
	mu       sync.Mutex
	ring     []Entry // grows lazily up to capacity
	capacity int
	start    int // index of the oldest entry once the ring is full
	seq      int64
	dropped  int64
}

func newJournal(max int) *Journal {
	if max <= 0 {
		max = 10000
	}
	return &Journal{capacity: max}
}

// Add appends an entry, stamping its sequence number and time.
func (j *Journal) Add(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	if e.at.IsZero() {
		e.at = time.Now()
	}
	e.Time = e.at.UTC().Format(journalTime)
	switch {
	case len(j.ring) < j.capacity:
		j.ring = append(j.ring, e)
	default:
		j.ring[j.start] = e
		j.start = (j.start + 1) % len(j.ring)
		j.dropped++
	}
}

// Filter selects journal entries; zero fields match everything.
type Filter struct {
	SessionID  string
	PathPrefix string
	Method     string
	Channel    string
	SinceSeq   int64
}

func (f Filter) match(e Entry) bool {
	return (f.SessionID == "" || e.SessionID == f.SessionID) &&
		(f.PathPrefix == "" || strings.HasPrefix(e.Path, f.PathPrefix)) &&
		(f.Method == "" || strings.EqualFold(e.Method, f.Method)) &&
		(f.Channel == "" || e.Channel == f.Channel) &&
		e.Seq > f.SinceSeq
}

// Entries returns matching entries, oldest first.
func (j *Journal) Entries(f Filter) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, 0, len(j.ring))
	for i := range j.ring {
		if e := j.ring[(j.start+i)%len(j.ring)]; f.match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Clear empties the journal (sequence numbers keep increasing).
func (j *Journal) Clear() {
	j.mu.Lock()
	j.ring, j.start, j.dropped = nil, 0, 0
	j.mu.Unlock()
}

// Len reports how many entries the journal holds.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.ring)
}

// Dropped reports how many entries the bound discarded since the last Clear.
func (j *Journal) Dropped() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dropped
}

// redactHeaders copies request headers, hiding secrets but keeping enough to
// tell an empty bearer from a missing one.
func redactHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		v := strings.Join(vs, ", ")
		switch http.CanonicalHeaderKey(k) {
		case "Authorization":
			v = redactAuthorization(v)
		case "Reactor-Api-Key", "X-Api-Key":
			v = redactSecret(v)
		case "Cookie":
			v = "[redacted]"
		}
		out[k] = v
	}
	return out
}

func redactAuthorization(v string) string {
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || token == "" {
		return v // "Bearer" or "Bearer " carry no secret and must stay visible
	}
	return scheme + " " + redactSecret(token)
}

// redactSecret keeps a short prefix so a human can tell keys apart.
func redactSecret(v string) string {
	if len(v) <= 6 {
		return "[redacted]"
	}
	return v[:6] + "…[redacted]"
}

// authKind classifies the Authorization header for the journal.
func authKind(r *http.Request) string {
	v, ok := r.Header["Authorization"]
	if !ok || len(v) == 0 {
		return "none"
	}
	if strings.TrimSpace(strings.TrimPrefix(v[0], "Bearer")) == "" {
		return "empty"
	}
	return "bearer"
}
