package mockserver

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/reactor-harness/reactor-harness/wire"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func keyHeader(k string) http.Header {
	h := http.Header{}
	h.Set(wire.HeaderAPIKey, k)
	return h
}

func TestMintTokenBodies(t *testing.T) {
	clk := newFakeClock()
	ts := newTestServer(t, WithClock(clk.Now))
	cases := []struct {
		name    string
		body    any
		status  int
		granted int64
	}{
		{"absent body", nil, 200, 21600},
		{"null body", "null", 200, 21600},
		{"empty object", "{}", 200, 21600},
		{"short ttl", `{"expires_after": 60}`, 200, 60},
		{"ttl clamped silently", `{"expires_after": 999999}`, 200, 21600},
		{"ttl at ceiling", `{"expires_after": 21600}`, 200, 21600},
		{"scoped", `{"authorization_details":[{"type":"session","resources":{"models":{"match":["helios"]}},"constraints":{"max_sessions":2}}]}`, 200, 21600},
		{"malformed json", `{"expires_after":`, 400, 0},
		{"ttl wrong type", `{"expires_after":"soon"}`, 422, 0},
		{"ttl fractional", `{"expires_after":1.5}`, 422, 0},
		{"ttl zero", `{"expires_after":0}`, 422, 0},
		{"ttl negative", `{"expires_after":-5}`, 422, 0},
		{"details wrong type", `{"authorization_details":{}}`, 422, 0},
		{"details unknown type", `{"authorization_details":[{"type":"admin"}]}`, 422, 0},
		{"empty model name", `{"authorization_details":[{"type":"session","resources":{"models":{"match":[""]}}}]}`, 422, 0},
		{"zero budget", `{"authorization_details":[{"type":"session","constraints":{"max_sessions":0}}]}`, 422, 0},
		{"body is array", `[]`, 422, 0},
		{"oversized", `{"x":"` + strings.Repeat("a", maxJSONBody) + `"}`, 413, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()), c.body)
			if c.status != 200 {
				expectError(t, r, c.status)
				return
			}
			var tr wire.TokenResponse
			r.JSON(t, &tr)
			if r.Status != 200 || tr.JWT == "" {
				t.Fatalf("status %d body %s", r.Status, r.Body)
			}
			if tr.ExpiresAfter != c.granted || tr.ExpiresAt != clk.Now().Unix()+c.granted {
				t.Fatalf("granted %d s expiring %d, want %d s from %d", tr.ExpiresAfter, tr.ExpiresAt, c.granted, clk.Now().Unix())
			}
			cl, e := ts.tokens.verify(tr.JWT)
			if e != nil {
				t.Fatalf("minted token does not verify: %v", e)
			}
			if cl.Subject != mockAccount || cl.TokenID == "" || cl.ExpiresAt.Unix() != tr.ExpiresAt {
				t.Fatalf("claims %+v", cl)
			}
		})
	}
}

func TestMintTokenScopeClaims(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()),
		`{"authorization_details":[{"type":"session","resources":{"models":{"match":["helios"]}},"constraints":{"max_sessions":2}}]}`)
	var tr wire.TokenResponse
	r.JSON(t, &tr)
	cl, e := ts.tokens.verify(tr.JWT)
	if e != nil {
		t.Fatal(e)
	}
	if !cl.scoped() || !cl.allowsModel("helios") || cl.allowsModel("other") || cl.MaxSessions == nil || *cl.MaxSessions != 2 {
		t.Fatalf("scope lost: %+v", cl)
	}
}

func TestMintTokenAPIKey(t *testing.T) {
	ts := newTestServer(t)
	legacy := http.Header{}
	legacy.Set(wire.HeaderLegacyAPIKey, ts.APIKey())
	for name, h := range map[string]http.Header{
		"missing key":       {},
		"wrong key":         keyHeader("rk_wrong"),
		"legacy header":     legacy,
		"prefix of the key": keyHeader(ts.APIKey()[:4]),
	} {
		t.Run(name, func(t *testing.T) {
			expectError(t, ts.do(t, "POST", "/tokens", h, nil), 401)
		})
	}
	r := ts.do(t, "POST", "/tokens", legacy, nil)
	if !strings.Contains(r.Detail(), "Reactor-API-Key") {
		t.Fatalf("detail should point at the new header: %q", r.Detail())
	}
}

func TestLegacyTokenFlow(t *testing.T) {
	ts := newTestServer(t)
	h := http.Header{}
	h.Set(wire.HeaderLegacyAPIKey, ts.APIKey())
	r := ts.do(t, "GET", "/tokens", h, nil)
	expectError(t, r, 405)
	if !strings.Contains(r.Detail(), "POST /tokens") || r.Header.Get("Allow") != "POST" {
		t.Fatalf("405 must name the POST flow: %q allow=%q", r.Detail(), r.Header.Get("Allow"))
	}

	sc := DefaultScenario()
	sc.Profile = ProfileLegacy
	if err := ts.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	r = ts.do(t, "GET", "/tokens", h, nil)
	var lt wire.LegacyTokenResponse
	r.JSON(t, &lt)
	if r.Status != 200 || lt.JWT == "" {
		t.Fatalf("legacy GET /tokens: %d %s", r.Status, r.Body)
	}
	expectError(t, ts.do(t, "GET", "/tokens", http.Header{}, nil), 401)
}

// signWith builds a token with arbitrary claims, method and key.
func signWith(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBearerVerification(t *testing.T) {
	clk := newFakeClock()
	ts := newTestServer(t, WithClock(clk.Now))
	other := newTestServer(t, WithClock(clk.Now))
	good := ts.token(t, claims{}, time.Minute)
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), mockAccount, "acct_evil", 1))) + "." + parts[2]
	valid := jwt.RegisteredClaims{Issuer: tokenIssuerName, Subject: mockAccount, ID: "tok_x",
		IssuedAt: jwt.NewNumericDate(clk.Now()), ExpiresAt: jwt.NewNumericDate(clk.Now().Add(time.Hour))}
	noExp := valid
	noExp.ExpiresAt = nil
	wrongIss := valid
	wrongIss.Issuer = "someone-else"

	cases := map[string]http.Header{
		"missing header":  {},
		"empty bearer":    {"Authorization": {"Bearer "}},
		"bare scheme":     {"Authorization": {"Bearer"}},
		"basic scheme":    {"Authorization": {"Basic dXNlcjpwYXNz"}},
		"malformed":       {"Authorization": {"Bearer not.a.jwt"}},
		"garbage":         {"Authorization": {"Bearer %%%"}},
		"tampered":        {"Authorization": {"Bearer " + tampered}},
		"alg none":        {"Authorization": {"Bearer " + signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)}},
		"wrong alg HS512": {"Authorization": {"Bearer " + signWith(t, jwt.SigningMethodHS512, ts.tokens.key, valid)}},
		"wrong key":       {"Authorization": {"Bearer " + other.token(t, claims{}, time.Minute)}},
		"no exp":          {"Authorization": {"Bearer " + signWith(t, jwt.SigningMethodHS256, ts.tokens.key, noExp)}},
		"wrong issuer":    {"Authorization": {"Bearer " + signWith(t, jwt.SigningMethodHS256, ts.tokens.key, wrongIss)}},
		"api key instead": {"Authorization": {"Bearer " + ts.APIKey()}},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			h.Set(wire.HeaderAPIVersion, "1")
			expectError(t, ts.do(t, "GET", "/sessions/abc", h, nil), 401)
		})
	}
	t.Run("valid token passes auth", func(t *testing.T) {
		r := ts.do(t, "GET", "/sessions/abc", currentHeaders(good), nil)
		if r.Status == 401 {
			t.Fatalf("valid token refused: %s", r.Body)
		}
	})
}

func TestTokenExpiryExactToTheSecond(t *testing.T) {
	clk := newFakeClock()
	ts := newTestServer(t, WithClock(clk.Now))
	tok := ts.token(t, claims{}, 10*time.Second)
	check := func(wantOK bool) {
		t.Helper()
		_, e := ts.tokens.verify(tok)
		if (e == nil) != wantOK {
			t.Fatalf("at +%v: verify err=%v, want ok=%v", clk.Now().Sub(time.Unix(1_800_000_000, 0)), e, wantOK)
		}
	}
	clk.Advance(9 * time.Second)
	check(true)
	clk.Advance(999 * time.Millisecond)
	check(true)
	clk.Advance(time.Millisecond) // exactly exp
	check(false)
	r := ts.do(t, "GET", "/sessions/abc", currentHeaders(tok), nil)
	expectError(t, r, 401)
	if !strings.Contains(r.Detail(), "expired") {
		t.Fatalf("detail should say expired: %q", r.Detail())
	}

	sc := DefaultScenario()
	sc.Tokens.Leeway = Duration(5 * time.Second)
	if err := ts.SetScenario(sc); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	check(true)
	clk.Advance(time.Second)
	check(false)
}

func TestFixedSecretSharesTokens(t *testing.T) {
	sc := DefaultScenario()
	sc.Tokens.Secret = "shared-test-secret"
	a := newTestServer(t, WithScenario(sc))
	b := newTestServer(t, WithScenario(sc.Clone()))
	if _, e := b.tokens.verify(a.token(t, claims{}, time.Minute)); e != nil {
		t.Fatalf("token from a peer with the same secret refused: %v", e)
	}
}

func FuzzVerifyJWT(f *testing.F) {
	ts := newTestServer(f)
	f.Add(ts.token(f, claims{}, time.Minute))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, e := ts.tokens.verify(tok)
		if (c == nil) == (e == nil) {
			t.Fatalf("verify must return exactly one of claims or error: %v %v", c, e)
		}
		if e != nil && (e.Status != 401 || e.Detail == "") {
			t.Fatalf("bad error %+v", e)
		}
	})
}

func FuzzTokenRequestBody(f *testing.F) {
	ts := newTestServer(f)
	for _, s := range []string{"", "null", "{}", `{"expires_after":60}`, `{"authorization_details":[{"type":"session"}]}`, "[", `{"expires_after":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := ts.do(t, "POST", "/tokens", keyHeader(ts.APIKey()), body)
		if r.Status >= 500 {
			t.Fatalf("5xx for body %q: %s", body, r.Body)
		}
		if r.Status >= 400 && r.Detail() == "" {
			t.Fatalf("error without detail for %q: %s", body, r.Body)
		}
	})
}

func BenchmarkMintToken(b *testing.B) {
	ts := newTestServer(b)
	h := keyHeader(ts.APIKey())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := ts.do(b, "POST", "/tokens", h, `{"expires_after":60}`); r.Status != 200 {
			b.Fatal(r.Status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkVerifyJWT(b *testing.B) {
	ts := newTestServer(b)
	tok := ts.token(b, claims{}, time.Hour)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, e := ts.tokens.verify(tok); e != nil {
			b.Fatal(e)
		}
	}
}
