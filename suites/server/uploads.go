package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Uploads, PROTOCOL.md §1.2 and PLATFORM.md §4: POST /sessions/{id}/uploads
// reserves a slot (201 {presigned_id, presigned_url, path}); the client PUTs
// exactly the reserved bytes to presigned_url without Authorization; a slot
// takes bytes once; presigned URLs expire.

func init() {
	register(Case{ID: "upload/1", Section: "1.2", Check: uploadReserve,
		Requirement: "POST /sessions/{id}/uploads {name, size, mime_type} MUST answer 201 {presigned_id, presigned_url (absolute http(s) URL), path}"})
	register(Case{ID: "upload/2", Section: "1.2", Check: uploadPut,
		Requirement: "a PUT of exactly the reserved bytes to presigned_url, without Authorization, MUST answer 2xx"})
	register(Case{ID: "upload/3", Section: "1.2", Check: uploadSecondPut,
		Requirement: "a second PUT to a completed upload MUST be refused with 409 (single use)"})
	register(Case{ID: "upload/4", Section: "1.2", Check: uploadSizeMismatch,
		Requirement: "a PUT whose body is shorter or longer than the reserved size MUST be refused with 400"})
	register(Case{ID: "upload/5", Section: "1.2", Check: uploadUnknownID,
		Requirement: "a PUT to an upload id that was never reserved MUST answer 404"})
	register(Case{ID: "upload/6", Section: "1.2", Check: uploadTamperedSignature,
		Requirement: "a PUT to a presigned URL whose signature was altered MUST be refused with 403"})
	register(Case{ID: "upload/7", Section: "1.2", Destructive: true, Check: uploadExpired,
		Requirement: "a PUT to a presigned URL after it expired MUST be refused with 403"})
	register(Case{ID: "upload/8", Section: "1.2", Check: uploadBadReservation,
		Requirement: "a reservation with size 0, without name or without mime_type MUST be refused as a client error (400 or 422)"})
	register(Case{ID: "upload/9", Section: "1.2", Check: uploadUnknownSession,
		Requirement: "a reservation for a session that does not exist MUST answer 404"})
	register(Case{ID: "upload/10", Section: "1.2", Check: uploadNeedsAuth,
		Requirement: "a reservation without Authorization MUST be refused with 401 (or 403)"})
	register(Case{ID: "upload/11", Section: "1.2", Destructive: true, Check: uploadTerminalSession,
		Requirement: "a reservation for a CLOSED session MUST be refused (400 No session running, or 404/409), never 201"})
}

// reserve reserves an upload on session id and checks the 201 shape.
func (r *Run) reserve(ctx context.Context, id string, req wire.UploadRequest) (*wire.UploadResponse, *Resp, error) {
	resp, err := r.coord(ctx, http.MethodPost, wire.SessionPath(id)+"/uploads", req)
	if err != nil {
		return nil, nil, err
	}
	m, err := wantObject(resp, http.StatusCreated)
	if err != nil {
		return nil, resp, err
	}
	var p problems
	pid := requireString(&p, m, "presigned_id")
	purl := requireString(&p, m, "presigned_url")
	pth := requireString(&p, m, "path")
	if purl != "" {
		if u, err := url.Parse(purl); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("presigned_url %q is not an absolute http(s) URL", purl)
		}
	}
	if err := p.err(resp, "the reservation answer does not have the shape {presigned_id, presigned_url, path}"); err != nil {
		return nil, resp, err
	}
	return &wire.UploadResponse{PresignedID: pid, PresignedURL: purl, Path: pth}, resp, nil
}

// uploadFixture creates a ready session and reserves one upload on it.
func (r *Run) uploadFixture(ctx context.Context, size int) (string, *wire.UploadResponse, error) {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return "", nil, err
	}
	up, _, err := r.reserve(ctx, sr.SessionID, wire.UploadRequest{Name: "conformance.png", Size: int64(size), MimeType: "image/png"})
	if err != nil {
		return "", nil, err
	}
	return sr.SessionID, up, nil
}

// putBytes PUTs body to a presigned URL the way JS does: Content-Length
// (possibly declared differently from the body), Content-Type, no auth.
func (r *Run) putBytes(ctx context.Context, u string, body []byte, declared int) (*Resp, error) {
	h := http.Header{}
	h.Set(wire.HeaderContentType, "image/png")
	h.Set(wire.HeaderContentLength, strconv.Itoa(declared))
	return r.send(ctx, http.MethodPut, u, h, body)
}

func payload(n int) []byte { return bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, (n+3)/4)[:n] }

func uploadReserve(ctx context.Context, r *Run) error {
	_, _, err := r.uploadFixture(ctx, 64)
	return err
}

func uploadPut(ctx context.Context, r *Run) error {
	_, up, err := r.uploadFixture(ctx, 64)
	if err != nil {
		return err
	}
	resp, err := r.putBytes(ctx, up.PresignedURL, payload(64), 64)
	if err != nil {
		return err
	}
	return want2xx(resp, http.StatusOK)
}

func uploadSecondPut(ctx context.Context, r *Run) error {
	_, up, err := r.uploadFixture(ctx, 64)
	if err != nil {
		return err
	}
	first, err := r.putBytes(ctx, up.PresignedURL, payload(64), 64)
	if err != nil {
		return err
	}
	if err := want2xx(first, http.StatusOK); err != nil {
		return fmt.Errorf("setup: the first PUT must succeed: %w", err)
	}
	second, err := r.putBytes(ctx, up.PresignedURL, payload(64), 64)
	if err != nil {
		return err
	}
	return wantStatus(second, http.StatusConflict)
}

func uploadSizeMismatch(ctx context.Context, r *Run) error {
	sid, up, err := r.uploadFixture(ctx, 64)
	if err != nil {
		return err
	}
	short, err := r.putBytes(ctx, up.PresignedURL, payload(32), 32)
	if err != nil {
		return err
	}
	if err := wantStatus(short, http.StatusBadRequest); err != nil {
		return fmt.Errorf("32 bytes for a 64-byte reservation: %w", err)
	}
	up2, _, err := r.reserve(ctx, sid, wire.UploadRequest{Name: "conformance.png", Size: 64, MimeType: "image/png"})
	if err != nil {
		return err
	}
	long, err := r.putBytes(ctx, up2.PresignedURL, payload(96), 96)
	if err != nil {
		return err
	}
	if err := wantStatus(long, http.StatusBadRequest); err != nil {
		return fmt.Errorf("96 bytes for a 64-byte reservation: %w", err)
	}
	return nil
}

// replaceUploadID swaps the upload id in a presigned URL's path for another.
func replaceUploadID(presigned, oldID, newID string) (string, error) {
	u, err := url.Parse(presigned)
	if err != nil {
		return "", err
	}
	dir, last := path.Split(u.Path)
	if last != oldID && !strings.Contains(u.Path, oldID) {
		return "", fmt.Errorf("presigned URL path %q does not contain the presigned_id %q", u.Path, oldID)
	}
	if last == oldID {
		u.Path = dir + newID
	} else {
		u.Path = strings.Replace(u.Path, oldID, newID, 1)
	}
	u.RawPath = ""
	return u.String(), nil
}

func uploadUnknownID(ctx context.Context, r *Run) error {
	_, up, err := r.uploadFixture(ctx, 16)
	if err != nil {
		return err
	}
	u, err := replaceUploadID(up.PresignedURL, up.PresignedID, "upl_conformance_"+randHex(8))
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	resp, err := r.putBytes(ctx, u, payload(16), 16)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusNotFound)
}

func uploadTamperedSignature(ctx context.Context, r *Run) error {
	_, up, err := r.uploadFixture(ctx, 16)
	if err != nil {
		return err
	}
	u, err := url.Parse(up.PresignedURL)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	q := u.Query()
	key := ""
	for _, k := range []string{"sig", "signature", "X-Amz-Signature"} {
		if q.Get(k) != "" {
			key = k
			break
		}
	}
	if key == "" {
		return fmt.Errorf("setup: the presigned URL carries no sig/signature/X-Amz-Signature query parameter to tamper with (query keys: %s)", queryKeys(q))
	}
	sig := []byte(q.Get(key))
	if sig[0] == '0' {
		sig[0] = '1'
	} else {
		sig[0] = '0'
	}
	q.Set(key, string(sig))
	u.RawQuery = q.Encode()
	resp, err := r.putBytes(ctx, u.String(), payload(16), 16)
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusForbidden)
}

func queryKeys(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	return strings.Join(sortedStrings(keys), ", ")
}

func uploadExpired(ctx context.Context, r *Run) error {
	const ttl = time.Second
	if err := r.MutateScenario(ctx, func(sc *mockserver.Scenario) {
		sc.Uploads.URLTTL = mockserver.Duration(ttl)
	}); err != nil {
		return err
	}
	_, up, err := r.uploadFixture(ctx, 16)
	if err != nil {
		return err
	}
	// The URL carries whole seconds: it is dead at most ttl+1 s from now.
	if err := sleep(ctx, ttl+1100*time.Millisecond); err != nil {
		return err
	}
	resp, err := r.putBytes(ctx, up.PresignedURL, payload(16), 16)
	if err != nil {
		return err
	}
	if err := wantStatus(resp, http.StatusForbidden); err != nil {
		return fmt.Errorf("with uploads.url_ttl %s the URL was used %s after reservation: %w", ttl, ttl+1100*time.Millisecond, err)
	}
	return nil
}

func uploadBadReservation(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	bad := []struct {
		what string
		body any
	}{
		{"size 0", wire.UploadRequest{Name: "a.png", Size: 0, MimeType: "image/png"}},
		{"no name", map[string]any{"size": 10, "mime_type": "image/png"}},
		{"no mime_type", map[string]any{"name": "a.png", "size": 10}},
	}
	for _, b := range bad {
		resp, err := r.coord(ctx, http.MethodPost, wire.SessionPath(sr.SessionID)+"/uploads", b.body)
		if err != nil {
			return err
		}
		if err := wantStatus(resp, http.StatusBadRequest, http.StatusUnprocessableEntity); err != nil {
			return fmt.Errorf("a reservation with %s: %w", b.what, err)
		}
	}
	return nil
}

func uploadUnknownSession(ctx context.Context, r *Run) error {
	resp, err := r.coord(ctx, http.MethodPost, wire.SessionPath(randomUUID())+"/uploads",
		wire.UploadRequest{Name: "a.png", Size: 10, MimeType: "image/png"})
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusNotFound)
}

func uploadNeedsAuth(ctx context.Context, r *Run) error {
	sr, _, err := r.CreateSession(ctx)
	if err != nil {
		return err
	}
	resp, err := r.send(ctx, http.MethodPost, wire.SessionPath(sr.SessionID)+"/uploads", apiHeaders(),
		wire.UploadRequest{Name: "a.png", Size: 10, MimeType: "image/png"})
	if err != nil {
		return err
	}
	return wantRefused(resp, "an upload reservation without Authorization")
}

func uploadTerminalSession(ctx context.Context, r *Run) error {
	sr, err := r.ReadySession(ctx)
	if err != nil {
		return err
	}
	if err := r.ForceState(ctx, sr.SessionID, wire.StateClosed); err != nil {
		return err
	}
	resp, err := r.coord(ctx, http.MethodPost, wire.SessionPath(sr.SessionID)+"/uploads",
		wire.UploadRequest{Name: "a.png", Size: 10, MimeType: "image/png"})
	if err != nil {
		return err
	}
	return wantStatus(resp, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict)
}
