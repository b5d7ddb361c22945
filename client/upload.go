package client

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/reactor-harness/reactor-harness/wire"
)

// Upload stores a file for later commands: POST /sessions/{id}/uploads
// (expects 201), PUT of the bytes to the presigned URL (no Authorization,
// Content-Length and Content-Type set; any 2xx), then the fileUploaded
// notice on the data channels. Reference the returned FileRef as a
// SendCommand argument. Empty files are refused client-side.
func (c *Client) Upload(ctx context.Context, name, mime string, data []byte) (wire.FileRef, error) {
	cn, err := c.ready(PhaseUpload)
	if err != nil {
		return wire.FileRef{}, err
	}
	if len(data) == 0 {
		return wire.FileRef{}, newErr(PhaseUpload, wire.CodeBadRequest, errors.New("empty file"))
	}
	body := wire.UploadRequest{Name: name, Size: int64(len(data)), MimeType: mime}
	var slot wire.UploadResponse
	if _, err := c.do(ctx, request{phase: PhaseUpload, method: http.MethodPost, path: wire.SessionPath(c.SessionID()) + "/uploads",
		body: body, auth: true, api: true, want: []int{http.StatusCreated}, out: &slot}); err != nil {
		return wire.FileRef{}, err
	}
	if slot.PresignedID == "" || slot.PresignedURL == "" {
		return wire.FileRef{}, newErr(PhaseUpload, CodeProtocol, errors.New("upload slot without presigned_id or presigned_url"))
	}
	target := slot.PresignedURL
	if !strings.Contains(target, "://") {
		target = c.baseURL + "/" + strings.TrimLeft(target, "/")
	}
	if _, err := c.do(ctx, request{phase: PhaseUpload, method: http.MethodPut, url: target, raw: data, contentType: mime}); err != nil {
		return wire.FileRef{}, err
	}
	ref := wire.FileRef{UploadID: slot.PresignedID, Name: name, MimeType: mime, Size: int64(len(data))}
	if err := cn.sendFileUploaded(ref); err != nil {
		return ref, err
	}
	return ref, nil
}
