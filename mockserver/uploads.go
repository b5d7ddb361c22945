package mockserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Upload flow (PROTOCOL.md §1.2, PLATFORM.md §4): a client reserves a slot
// with POST /sessions/{id}/uploads, PUTs the raw bytes to the presigned URL
// the mock hands back (served by the mock itself under /uploads/{id}), then
// references the upload by id in fileUploaded and in a command's uploads map.
// The store below keeps the reservations and the bytes; the data-channel and
// synthetic-model code reads them through lookup, bytes and waitCompleted.

// uploadWaitTimeout is how long the runtime waits for the bytes of an upload
// a command or fileUploaded references before rejecting it with
// unresolved_upload (PROTOCOL.md §1.2). Callers pass it to waitCompleted
// through a context deadline.
const uploadWaitTimeout = 10 * time.Second

// defaultUploadURLTTL is the documented presigned-URL lifetime (PLATFORM.md §4).
const defaultUploadURLTTL = 15 * time.Minute

// maxUploadIDLen bounds a caller-chosen upload_id.
const maxUploadIDLen = 128

// Errors waitCompleted reports besides the context's own.
var (
	errUploadNotFound = errors.New("upload not found")
	errUploadRemoved  = errors.New("upload removed before it completed")
)

// UploadInfo describes one reserved upload, without its bytes. It is what
// the admin API lists and what the runtime code resolves FileRefs against.
type UploadInfo struct {
	ID        string `json:"upload_id"`
	SessionID string `json:"session_id"`
	Name      string `json:"name"`
	MimeType  string `json:"mime_type"`
	Size      int64  `json:"size"`
	Path      string `json:"path"`
	// Signed is false for uploads the local runtime reserves: their PUT
	// needs no signature and they never expire.
	Signed     bool      `json:"signed"`
	ReservedAt time.Time `json:"reserved_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"` // presigned URL expiry; zero when unsigned
	// SHA256 is the lowercase hex digest of the stored bytes, once completed.
	SHA256      string    `json:"sha256,omitempty"`
	Completed   bool      `json:"completed"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// FileRef is the reference a client sends for this upload.
func (i UploadInfo) FileRef() wire.FileRef {
	return wire.FileRef{UploadID: i.ID, Name: i.Name, MimeType: i.MimeType, Size: i.Size}
}

// upload is one reservation. Fields other than done are guarded by the
// store's mutex; data is written once, on completion, and never modified.
type upload struct {
	info       UploadInfo
	requireSig bool
	seq        uint64
	data       []byte
	// done is closed when the upload completes or is removed from the store,
	// waking every waitCompleted on it.
	done    chan struct{}
	removed bool
}

// uploadStore holds reservations and uploaded bytes, keyed by upload id.
type uploadStore struct {
	s   *Server
	key []byte // HMAC key for presigned URLs, random per server

	mu  sync.Mutex
	m   map[string]*upload
	seq uint64
}

func newUploadStore(s *Server) *uploadStore {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return &uploadStore{s: s, key: key, m: make(map[string]*upload)}
}

// clear drops every reservation and every stored byte. Waiters wake with an
// error.
func (u *uploadStore) clear() {
	u.mu.Lock()
	old := u.m
	u.m = make(map[string]*upload)
	u.mu.Unlock()
	for _, up := range old {
		u.retire(up)
	}
}

// forgetSession drops the uploads of one session (for example when the
// session is deleted), so long load runs keep bounded memory.
func (u *uploadStore) forgetSession(sessionID string) int {
	var gone []*upload
	u.mu.Lock()
	for id, up := range u.m {
		if up.info.SessionID == sessionID {
			gone = append(gone, up)
			delete(u.m, id)
		}
	}
	u.mu.Unlock()
	for _, up := range gone {
		u.retire(up)
	}
	return len(gone)
}

// retire marks an upload removed, frees its bytes and wakes its waiters.
func (u *uploadStore) retire(up *upload) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if up.removed {
		return
	}
	up.removed = true
	up.data = nil
	if !up.info.Completed {
		close(up.done)
	}
}

// reserve creates an upload slot for a session whose existence the caller
// has checked. signed uploads get a presigned URL (HMAC, expiring after the
// scenario's uploads.url_ttl) built on the server's base URL; unsigned ones
// (the local runtime's) get a plain /uploads/{id} URL that never expires.
func (u *uploadStore) reserve(sessionID string, req wire.UploadRequest, signed bool) (wire.UploadResponse, *apiError) {
	return u.reserveAt(u.s.URL(), sessionID, req, signed)
}

// reserveAt is reserve with an explicit base URL (scheme://host[:port]) for
// the presigned URL, for servers mounted without a known base URL.
func (u *uploadStore) reserveAt(base, sessionID string, req wire.UploadRequest, signed bool) (wire.UploadResponse, *apiError) {
	if e := u.validate(req); e != nil {
		return wire.UploadResponse{}, e
	}
	now := u.s.now()
	var expires time.Time
	if signed {
		ttl := u.s.scn().Uploads.URLTTL.D()
		if ttl <= 0 {
			ttl = defaultUploadURLTTL
		}
		// The URL carries whole seconds; rounding down never grants more than the TTL.
		expires = time.Unix(now.Add(ttl).Unix(), 0).UTC()
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	id := req.UploadID
	if id != "" {
		if _, taken := u.m[id]; taken {
			return wire.UploadResponse{}, errf(http.StatusConflict, "Upload id already reserved")
		}
	} else {
		for i := 0; i < 8; i++ { // 128 random bits; a collision is practically impossible
			id = newUploadID()
			if _, taken := u.m[id]; !taken {
				break
			}
		}
		if _, taken := u.m[id]; taken {
			return wire.UploadResponse{}, errf(http.StatusConflict, "Upload id already reserved")
		}
	}
	u.seq++
	up := &upload{
		info: UploadInfo{
			ID: id, SessionID: sessionID, Name: req.Name, MimeType: req.MimeType, Size: req.Size,
			Path:   "uploads/" + sessionID + "/" + id + "/" + req.Name,
			Signed: signed, ReservedAt: now, ExpiresAt: expires,
		},
		requireSig: signed,
		seq:        u.seq,
		done:       make(chan struct{}),
	}
	u.m[id] = up

	putURL := strings.TrimRight(base, "/") + "/uploads/" + url.PathEscape(id)
	if signed {
		exp := strconv.FormatInt(expires.Unix(), 10)
		putURL += "?expires=" + exp + "&sig=" + u.sign(id, exp)
	}
	return wire.UploadResponse{PresignedID: id, PresignedURL: putURL, Path: up.info.Path}, nil
}

// validate applies the runtime's field checks (PROTOCOL.md §1.2) and the
// scenario's size limit.
func (u *uploadStore) validate(req wire.UploadRequest) *apiError {
	switch {
	case strings.TrimSpace(req.Name) == "":
		return errf(http.StatusBadRequest, "name is required")
	case strings.TrimSpace(req.MimeType) == "":
		return errf(http.StatusBadRequest, "mime_type is required")
	case req.Size <= 0:
		return errf(http.StatusBadRequest, "size must be > 0")
	}
	if limit := u.maxBytes(); req.Size > limit {
		return errf(http.StatusRequestEntityTooLarge,
			"size %d exceeds the upload limit of %d bytes (scenario uploads.max_bytes)", req.Size, limit)
	}
	if req.UploadID != "" && !validUploadID(req.UploadID) {
		return errf(http.StatusBadRequest,
			"upload_id must be 1-%d characters from A-Z a-z 0-9 . _ - ~ (and not \".\" or \"..\"), got %q",
			maxUploadIDLen, req.UploadID)
	}
	return nil
}

func (u *uploadStore) maxBytes() int64 {
	if n := u.s.scn().Uploads.MaxBytes; n > 0 {
		return n
	}
	return DefaultScenario().Uploads.MaxBytes
}

// validUploadID keeps caller-chosen ids safe as one URL path segment.
func validUploadID(id string) bool {
	if len(id) == 0 || len(id) > maxUploadIDLen || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}

func newUploadID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "upl_" + hex.EncodeToString(b)
}

// sign is the presigned URL's signature: hex HMAC-SHA256 over "id\nexpires".
func (u *uploadStore) sign(id, expires string) string {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte(id))
	m.Write([]byte{'\n'})
	m.Write([]byte(expires))
	return hex.EncodeToString(m.Sum(nil))
}

// checkSignature verifies a presigned URL's query: 403 when the signature
// is missing or wrong, or when the URL has expired.
func (u *uploadStore) checkSignature(id string, q url.Values, now time.Time) *apiError {
	exp, sig := q.Get("expires"), q.Get("sig")
	if exp == "" || sig == "" {
		return errf(http.StatusForbidden,
			"presigned URL signature missing: the URL must carry the expires and sig query parameters it was issued with")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mustHex(u.sign(id, exp))) {
		return errf(http.StatusForbidden,
			"signature does not match: the presigned URL's id, expires or sig was altered, or it was issued by another server")
	}
	secs, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		// Unreachable with a valid signature; kept so a bad value can never pass.
		return errf(http.StatusForbidden, "signature does not match: expires %q is not unix seconds", exp)
	}
	if at := time.Unix(secs, 0).UTC(); !now.Before(at) {
		return errf(http.StatusForbidden, "presigned URL expired at %s (now %s); reserve a new upload",
			at.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// begin checks that an upload may receive bytes now and returns its
// reserved size and session.
func (u *uploadStore) begin(id string, q url.Values, now time.Time) (size int64, sessionID string, e *apiError) {
	u.mu.Lock()
	up, ok := u.m[id]
	var requireSig, completed bool
	if ok {
		size, sessionID, requireSig, completed = up.info.Size, up.info.SessionID, up.requireSig, up.info.Completed
	}
	u.mu.Unlock()
	if !ok {
		return 0, "", errf(http.StatusNotFound, "Upload not found")
	}
	if requireSig {
		if e := u.checkSignature(id, q, now); e != nil {
			return 0, sessionID, e
		}
	}
	if completed {
		return 0, sessionID, errf(http.StatusConflict, "Upload already completed")
	}
	return size, sessionID, nil
}

// complete stores the bytes of an upload. The first complete wins; a later
// one gets 409 and changes nothing.
func (u *uploadStore) complete(id string, data []byte, now time.Time) *apiError {
	sum := sha256.Sum256(data)
	u.mu.Lock()
	defer u.mu.Unlock()
	up, ok := u.m[id]
	if !ok || up.removed {
		return errf(http.StatusNotFound, "Upload not found")
	}
	if up.info.Completed {
		return errf(http.StatusConflict, "Upload already completed")
	}
	up.data = data
	up.info.SHA256 = hex.EncodeToString(sum[:])
	up.info.Completed = true
	up.info.CompletedAt = now
	close(up.done)
	return nil
}

// lookup returns an upload's description (no bytes).
func (u *uploadStore) lookup(id string) (UploadInfo, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	up, ok := u.m[id]
	if !ok {
		return UploadInfo{}, false
	}
	return up.info, true
}

// bytes returns the stored bytes of a completed upload. The slice is shared
// with the store and must not be modified.
func (u *uploadStore) bytes(id string) ([]byte, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	up, ok := u.m[id]
	if !ok || !up.info.Completed {
		return nil, false
	}
	return up.data[:len(up.data):len(up.data)], true
}

// waitCompleted blocks until the upload has its bytes, the upload is
// removed, or ctx ends. An id that was never reserved fails at once with
// errUploadNotFound; a timeout returns an error wrapping ctx.Err().
func (u *uploadStore) waitCompleted(ctx context.Context, id string) (UploadInfo, error) {
	u.mu.Lock()
	up, ok := u.m[id]
	if !ok {
		u.mu.Unlock()
		return UploadInfo{}, fmt.Errorf("upload %q: %w", id, errUploadNotFound)
	}
	if up.info.Completed {
		info := up.info
		u.mu.Unlock()
		return info, nil
	}
	done := up.done
	u.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return UploadInfo{}, fmt.Errorf("upload %q has no bytes yet: %w", id, ctx.Err())
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if up.removed {
		return UploadInfo{}, fmt.Errorf("upload %q: %w", id, errUploadRemoved)
	}
	return up.info, nil
}

// snapshot lists every upload, oldest reservation first, without bytes.
func (u *uploadStore) snapshot() []UploadInfo {
	u.mu.Lock()
	ups := make([]*upload, 0, len(u.m))
	for _, up := range u.m {
		ups = append(ups, up)
	}
	sort.Slice(ups, func(i, j int) bool { return ups[i].seq < ups[j].seq })
	out := make([]UploadInfo, len(ups))
	for i, up := range ups {
		out[i] = up.info
	}
	u.mu.Unlock()
	return out
}

// handleReserveUpload serves POST /sessions/{id}/uploads.
func (s *Server) handleReserveUpload(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	var req wire.UploadRequest
	present, e := decodeBody(r, &req)
	if e != nil {
		return e
	}
	if !present {
		return errf(http.StatusUnprocessableEntity, "body is required: {name, size, mime_type}")
	}
	sess, e := s.sessionFor(rc, r.PathValue("id"))
	if e != nil {
		return e
	}
	if st := sess.State(); st.Terminal() {
		// The runtime's wording (PROTOCOL.md §1.2) for a session that is not running.
		return errf(http.StatusBadRequest, "No session running: session %s is %s", sess.id, st)
	}
	base := s.URL()
	if base == "" {
		base = requestBaseURL(r)
	}
	resp, e := s.uploads.reserveAt(base, sess.id, req, true)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// handlePutUpload serves PUT /uploads/{upload_id}: the presigned target.
// The body is read up to the reserved size plus one byte, never more.
func (s *Server) handlePutUpload(w http.ResponseWriter, r *http.Request, rc *reqCtx) *apiError {
	id := r.PathValue("upload_id")
	size, sessionID, e := s.uploads.begin(id, r.URL.Query(), s.now())
	if sessionID != "" {
		rc.sessionID = sessionID
	}
	if e != nil {
		drainBody(w, r) // so that the client reads the refusal
		e.Close = true
		return e
	}
	if r.ContentLength >= 0 && r.ContentLength != size {
		drainBody(w, r)
		return &apiError{Status: http.StatusBadRequest, Close: true, Detail: fmt.Sprintf("expected %d bytes, got %d", size, r.ContentLength)}
	}
	data, over, err := readExactly(r.Body, size)
	switch {
	case over:
		drainBody(w, r)
		return &apiError{Status: http.StatusBadRequest, Close: true, Detail: fmt.Sprintf("expected %d bytes, got at least %d", size, size+1)}
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return errf(http.StatusBadRequest, "expected %d bytes, got %d before the body failed: %v", size, len(data), err)
	case int64(len(data)) != size:
		return errf(http.StatusBadRequest, "expected %d bytes, got %d", size, len(data))
	}
	if e := s.uploads.complete(id, data, s.now()); e != nil {
		return e
	}
	w.Header().Set(wire.HeaderContentLength, "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// readExactly reads size bytes and probes for one more. over reports a body
// longer than size. Memory grows with the bytes that actually arrive, up to
// exactly size (no slack capacity is kept).
func readExactly(r io.Reader, size int64) (data []byte, over bool, err error) {
	if r == nil {
		return nil, false, nil
	}
	const first = 256 << 10
	buf := make([]byte, 0, min(size, first))
	idle := 0
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(size, 2*int64(cap(buf))))
			copy(nb, buf)
			buf = nb
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			return buf, false, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
		if n == 0 {
			if idle++; idle > 100 {
				return buf, false, io.ErrNoProgress
			}
		} else {
			idle = 0
		}
	}
	var one [1]byte
	for i := 0; i <= 100; i++ {
		n, rerr := r.Read(one[:])
		if n > 0 {
			return buf, true, nil
		}
		if rerr == io.EOF {
			return buf, false, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
	}
	return buf, false, io.ErrNoProgress
}

// requestBaseURL is scheme://host of the request, for servers mounted
// without a configured base URL (the runtime builds the presigned URL from
// the request's base URL, PROTOCOL.md §1.2).
func requestBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
