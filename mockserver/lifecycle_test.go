package mockserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/wire"
)

// TestDeletedSessionForgetsItsUploads: once a session is CLOSED its
// presigned URLs stop working and its bytes are dropped.
func TestDeletedSessionForgetsItsUploads(t *testing.T) {
	ts := newTestServer(t)
	h := currentHeaders(ts.token(t, claims{}, time.Minute))
	var sess wire.SessionResponse
	ts.do(t, "POST", "/sessions", h, `{"model":{"name":"helios"}}`).JSON(t, &sess)
	var up wire.UploadResponse
	r := ts.do(t, "POST", "/sessions/"+sess.SessionID+"/uploads", h, `{"name":"a.png","size":3,"mime_type":"image/png"}`)
	r.JSON(t, &up)
	if r.Status != 201 {
		t.Fatalf("reserve: %d %s", r.Status, r.Body)
	}
	if r := ts.do(t, "DELETE", "/sessions/"+sess.SessionID, h, nil); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, known := ts.uploads.lookup(up.PresignedID)
		if !known {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("upload still stored 5 s after its session was deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	path := strings.TrimPrefix(up.PresignedURL, ts.URL())
	r = ts.do(t, "PUT", path, http.Header{wire.HeaderContentType: {"application/octet-stream"}}, []byte("abc"))
	expectError(t, r, 404)
}
