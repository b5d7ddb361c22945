package dcchunk

import (
	"errors"
	"strings"
	"testing"
)

const plainOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"

func TestDeclareGoesBeforeTheFirstMediaSection(t *testing.T) {
	out := Declare(plainOffer, Local(1024))
	at := func(s string) int { return strings.Index(out, s) }
	line := "a=x-reactor-dc-chunking:1 max-message-size=1024\r\n"
	if at(line) < 0 || at("t=0 0") > at(line) || at(line) > at("m=application") {
		t.Fatalf("attribute not at session level:\n%s", out)
	}
	if Declare(out, Local(2048)) != out {
		t.Error("Declare is not idempotent")
	}
	if Declare("", Local(1)) != "" {
		t.Error("empty description changed")
	}
	if got := Declare("v=0\r\ns=-\r\n", Local(7)); !strings.HasSuffix(got, "a=x-reactor-dc-chunking:1 max-message-size=7\r\n") {
		t.Errorf("no media section: %q", got)
	}
}

func TestParseReadsWhatDeclareWrites(t *testing.T) {
	p, err := Parse(Declare(plainOffer, Local(DefaultMaxMessageSize)))
	if err != nil || p != Local(DefaultMaxMessageSize) {
		t.Fatalf("got %+v, %v", p, err)
	}
	// LF-only line endings, as some hand-written offers have.
	p, err = Parse(strings.ReplaceAll(Declare(plainOffer, Local(9)), "\r\n", "\n"))
	if err != nil || p.MaxMessageSize != 9 {
		t.Fatalf("LF endings: %+v, %v", p, err)
	}
}

func TestParseOutcomes(t *testing.T) {
	cases := []struct {
		line    string
		want    error
		size    uint64
		hasSize bool
	}{
		{"", ErrNotDeclared, 0, false},
		{"a=x-reactor-dc-chunking:1 max-message-size=67108864", nil, 67108864, true},
		{"a=x-reactor-dc-chunking:1", nil, 0, false},
		{"a=x-reactor-dc-chunking:1 future-key=abc;max-message-size=42; other=1", nil, 42, true},
		{"a=x-reactor-dc-chunking:1\tmax-message-size=5", nil, 5, true},
		{"a=x-reactor-dc-chunking:1 ;;", nil, 0, false},
		{"a=x-reactor-dc-chunking:2 max-message-size=42", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:0", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:one", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:-1", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:1 max-message-size=lots", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:1 max-message-size=-5", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:1 max-message-size=99999999999999999999", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:1 max-message-size", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking:", ErrMalformed, 0, false},
		{"a=x-reactor-dc-chunking", ErrNotDeclared, 0, false},
	}
	for _, c := range cases {
		sdp := plainOffer
		if c.line != "" {
			sdp = strings.Replace(plainOffer, "m=", c.line+"\r\nm=", 1)
		}
		p, err := Parse(sdp)
		if !errors.Is(err, c.want) {
			t.Errorf("%q: error %v, want %v", c.line, err, c.want)
			continue
		}
		if err == nil && (p.MaxMessageSize != c.size || p.HasMaxMessageSize != c.hasSize) {
			t.Errorf("%q: got %+v", c.line, p)
		}
		if Present(sdp) != (c.want != ErrNotDeclared) {
			t.Errorf("%q: Present = %v", c.line, Present(sdp))
		}
	}
}

func TestEffectiveLimitIsTheSmallerSide(t *testing.T) {
	if got := EffectiveLimit(500, Local(1000)); got != 500 {
		t.Errorf("got %d", got)
	}
	if got := EffectiveLimit(5000, Local(1000)); got != 1000 {
		t.Errorf("got %d", got)
	}
	if got := EffectiveLimit(DefaultMaxMessageSize, Params{Version: 1}); got != LegacyMaxMessageSize {
		t.Errorf("absent parameter: got %d, want the legacy limit", got)
	}
	huge := Params{Version: 1, MaxMessageSize: 1 << 63, HasMaxMessageSize: true}
	if got := EffectiveLimit(DefaultMaxMessageSize, huge); got != DefaultMaxMessageSize {
		t.Errorf("huge remote: got %d", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("a=x-reactor-dc-chunking:1 max-message-size=67108864")
	f.Add("a=x-reactor-dc-chunking:1 a=b;max-message-size=")
	f.Fuzz(func(t *testing.T, line string) {
		p, err := Parse(plainOffer + line + "\r\n")
		if err == nil && p.Version != Version {
			t.Fatalf("accepted version %d", p.Version)
		}
	})
}
