package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// adminJournal fetches GET /__admin/requests and fails unless the whole
// answer is valid JSON in valid UTF-8, as every SDK's test reader needs.
func adminJournal(t *testing.T, ts *testServer) []Entry {
	t.Helper()
	r := ts.do(t, "GET", "/__admin/requests", nil, nil)
	if r.Status != http.StatusOK || !utf8.Valid(r.Body) || !json.Valid(r.Body) {
		t.Fatalf("journal: %d, valid UTF-8 %v, valid JSON %v: %.300q", r.Status, utf8.Valid(r.Body), json.Valid(r.Body), r.Body)
	}
	var out []Entry
	r.JSON(t, &out)
	return out
}

// TestJournalStaysJSONOnHostileHTTP: invalid UTF-8 in a JSON body, a body
// that is not JSON, and invalid bytes in the path and a header leave the
// journal valid JSON; the bad bodies are kept byte-exact as base64.
func TestJournalStaysJSONOnHostileHTTP(t *testing.T) {
	ts := newTestServer(t)
	badUTF8 := "{\"model\":{\"name\":\"\xff\xfe\"}}"
	r := ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()), badUTF8)
	expectError(t, r, http.StatusBadRequest)
	notJSON := "plain \xff text"
	h := currentHeaders(ts.token(t, claims{}, time.Hour))
	h.Set("X-Odd", "v\xffalue")
	expectError(t, ts.do(t, "POST", "/sessions", h, notJSON), http.StatusBadRequest)
	expectError(t, ts.do(t, "GET", "/sessions/%ff%fe", h, nil), http.StatusNotFound)

	entries := adminJournal(t, ts)
	if len(entries) != 3 {
		t.Fatalf("%d entries, want 3", len(entries))
	}
	for i, tc := range []struct{ invalid, raw string }{{"invalid UTF-8", badUTF8}, {"not JSON", notJSON}} {
		e := entries[i]
		got, err := base64.StdEncoding.DecodeString(e.BodyBase64)
		if e.Body != nil || e.BodyInvalid != tc.invalid || err != nil || string(got) != tc.raw || e.BodyBytes != len(tc.raw) {
			t.Fatalf("entry %d: body %s, invalid %q, base64 %q (%v), %d bytes; want %q kept as base64", i, e.Body, e.BodyInvalid, got, err, e.BodyBytes, tc.raw)
		}
	}
	if !strings.Contains(entries[1].Headers["X-Odd"], "\uFFFD") || !strings.Contains(entries[2].Path, "\uFFFD") {
		t.Fatalf("header %q, path %q: invalid bytes not replaced", entries[1].Headers["X-Odd"], entries[2].Path)
	}
}

// TestJournalBodyKinds: a good JSON body stays JSON; a long non-JSON body
// keeps only a prefix, flagged.
func TestJournalBodyKinds(t *testing.T) {
	for _, tc := range []struct {
		raw, body, invalid string
		cut                bool
	}{
		{`{ "a" : "é" }`, `{"a":"é"}`, "", false},
		{"", "", "", false},
		{"[1,", "", "not JSON", false},
		{"\"\xff\"", "", "invalid UTF-8", false},
		{strings.Repeat("x", MaxJournalData+1), "", "not JSON", true},
	} {
		var e Entry
		e.journalBody([]byte(tc.raw))
		if string(e.Body) != tc.body || e.BodyInvalid != tc.invalid || e.BodyTruncated != tc.cut || e.BodyBytes != len(tc.raw) {
			t.Fatalf("journalBody(%.20q) = %+v", tc.raw, e)
		}
		if b, _ := json.Marshal(e); !utf8.Valid(b) {
			t.Fatalf("entry for %.20q encodes to invalid UTF-8", tc.raw)
		}
	}
}

// TestJournalDataInvalidUTF8: a v0 data-channel frame holding invalid
// UTF-8 is dropped and journaled as such, and the admin API still serves
// valid JSON; journalData itself replaces invalid bytes should any decoder
// let them through.
func TestJournalDataInvalidUTF8(t *testing.T) {
	if got, _ := journalData(json.RawMessage("{\"p\":\"a\xff\xfeb\"}"), nil); string(got) != "{\"p\":\"a\uFFFDb\"}" {
		t.Fatalf("journalData kept invalid bytes: %q", got)
	}
	ts := newRTCServer(t, nil, MediaPolicy{})
	c := ts.client(t, rtcClientOpts{})
	c.connect(ts.APIKey())
	defer c.close()
	c.send(c.data, []byte("{\"scope\":\"application\",\"data\":{\"type\":\"set_prompt\",\"data\":{\"prompt\":\"a\xff\xfeb\"}}}"))
	c.command("set_seed", map[string]any{"seed": 3}, nil)
	var dropped, next *Entry
	waitFor(t, "both frames journaled", func() bool {
		dropped, next = nil, nil
		for _, e := range ts.journal.Entries(Filter{SessionID: c.sid, Channel: "data"}) {
			switch {
			case strings.HasPrefix(e.Detail, "dropped: "):
				dropped = &e
			case e.Type == "set_seed":
				next = &e
			}
		}
		return dropped != nil && next != nil
	})
	if !strings.Contains(dropped.Detail, "UTF-8") || dropped.Data != nil {
		t.Fatalf("invalid frame journaled as %+v", *dropped)
	}
	if !strings.HasPrefix(next.Detail, "accepted") {
		t.Fatalf("the next command: %+v", *next)
	}
	adminJournal(t, ts)
}
