package httprec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const fakeJWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2N0In0.c2lnbmF0dXJl"

func TestRecorderRedactsAndKeepsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"jwt":"` + fakeJWT + `","echo":` + string(body) + `}`))
	}))
	defer srv.Close()

	rec := New(nil)
	c := rec.Client(5 * time.Second)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/tokens?sig=abcdef&expires=1", strings.NewReader(`{"key":"rk_live_secret"}`))
	req.Header.Set("Reactor-API-Key", "rk_live_secret")
	req.Header.Set("Authorization", "Bearer "+fakeJWT)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(got), fakeJWT) {
		t.Fatalf("caller must get the unredacted body, got %s", got)
	}
	tr := rec.Transcript()
	for _, secret := range []string{"rk_live_secret", "c2lnbmF0dXJl", "eyJzdWIiOiJhY2N0In0", "abcdef"} {
		if strings.Contains(tr, secret) {
			t.Errorf("transcript leaks %q:\n%s", secret, tr)
		}
	}
	for _, want := range []string{"POST", "/tokens", "201 Created", "rk_<redacted>", "sig=<redacted>", "Bearer eyJhbGciOiJIUzI1NiJ9.<jwt"} {
		if !strings.Contains(tr, want) {
			t.Errorf("transcript lacks %q:\n%s", want, tr)
		}
	}
	ex, ok := rec.Last()
	if !ok || ex.Status != 201 || !strings.Contains(ex.Line(), "→ 201 Created") {
		t.Errorf("Last() = %+v", ex)
	}
}

func TestExcerptBounds(t *testing.T) {
	long := strings.Repeat("é", MaxExcerpt)
	got := Excerpt([]byte(long), "text/plain")
	if len(got) > MaxExcerpt+40 || !strings.Contains(got, "more bytes") {
		t.Errorf("excerpt not bounded: %d bytes", len(got))
	}
	if got := Excerpt([]byte{0, 1, 2, 3}, "application/octet-stream"); got != "<4 bytes of application/octet-stream>" {
		t.Errorf("binary excerpt = %q", got)
	}
	if got := RedactHeaders(http.Header{"Authorization": {"Bearer "}}).Get("Authorization"); got != "Bearer " {
		t.Errorf("an empty bearer must stay visible, got %q", got)
	}
}
