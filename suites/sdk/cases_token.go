package sdk

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
	"github.com/reactor-harness/reactor-harness/wire"
)

// Token lifetime (PROTOCOL.md §1.1, PLATFORM.md §1): tokens expire
// (expires_at, at most 6 h); a session can outlive its token, and uploads,
// reconnects and polls need auth. Does the SDK get a fresh token in time,
// and what happens at the 401?

func init() {
	register(Case{
		ID:          "sdk/token/1",
		Title:       "fresh token before expiry while the session is pending",
		Requirement: "An SDK SHOULD obtain a fresh token before the current one expires (expires_at) instead of running into 401: a session that waits for a GPU longer than the token lives MUST keep polling with a valid token",
		Sections:    []string{"PROTOCOL.md §1.1", "PLATFORM.md §1"},
		Labels:      []string{"auth", "polling"},
		Timeout:     45 * time.Second,
		Check:       checkRefreshWhilePending,
	})
	register(Case{
		ID:          "sdk/token/2",
		Title:       "what the SDK does at a 401",
		Requirement: "When the coordinator answers 401 (expired token), the SDK MUST surface an authentication error to the application, stop (no retry storm with the same token) and return to disconnected",
		Sections:    []string{"PROTOCOL.md §1.0", "PROTOCOL.md §1.1", "PLATFORM.md §1"},
		Labels:      []string{"auth", "polling"},
		Timeout:     45 * time.Second,
		Check:       checkAt401,
	})
	register(Case{
		ID:          "sdk/token/3",
		Title:       "upload and reconnect after the token expired",
		Requirement: "A session that outlives its token MUST still be able to upload and reconnect: the SDK SHOULD refresh the token instead of sending the expired one",
		Sections:    []string{"PROTOCOL.md §1.1", "PLATFORM.md §1", "PLATFORM.md §4"},
		Labels:      []string{"auth", "uploads", "reconnect"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkAfterExpiry,
	})
}

// tokenTTL is the lifetime the short-TTL scenarios grant.
const tokenTTL = 2 * time.Second

// shortTTL is a scenario whose tokens live tokenTTL whatever is asked.
func shortTTL(sc *mockserver.Scenario) {
	sc.Tokens.DefaultTTL = mockserver.Duration(tokenTTL)
	sc.Tokens.MaxTTL = mockserver.Duration(tokenTTL)
}

// expired401 are the SDK's requests refused because the JWT expired.
func (r *Run) expired401() []mockserver.Entry {
	var out []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Status == http.StatusUnauthorized && strings.Contains(e.Detail, "expired") {
			out = append(out, e)
		}
	}
	return out
}

// tokensUsed lists the distinct token ids the SDK's requests carried.
func (r *Run) tokensUsed() []string {
	var ids []string
	for _, e := range r.HTTP() {
		if e.TokenID != "" {
			ids = append(ids, e.TokenID)
		}
	}
	return uniq(ids)
}

// pendingPastExpiry connects the way apps are told to (AppAuth: a token
// resolver where the SDK takes one, else the API key) to a
// session that stays PENDING well past the token's lifetime, and waits
// until the connect call ends or the session would have become ready.
func pendingPastExpiry(ctx context.Context, r *Run) error {
	sc := PendingScenario("short-ttl-pending", 40, 3*tokenTTL)
	shortTTL(sc)
	if err := r.Setup(ctx, sc); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s does not poll the session (its legacy flow polls sdp_params, which the token lifetime check of sdk/token/3 covers)", r.SDKName())
	}
	_, err := r.Connect(ctx, ConnectOpts{Auth: r.AppAuth(), TTL: int(tokenTTL / time.Second), ReadyTimeout: 10 * time.Second, Bound: 35 * time.Second})
	if err != nil {
		r.Note("connect ended: %s", oneLine(ErrText(err), 300))
	}
	return nil
}

func checkRefreshWhilePending(ctx context.Context, r *Run) error {
	if err := pendingPastExpiry(ctx, r); err != nil {
		return err
	}
	used := r.tokensUsed()
	r.Note("the SDK's requests carried %d distinct token(s)", len(used))
	if bad := r.expired401(); len(bad) > 0 {
		return fmt.Errorf("%s kept polling with a token that expired %s after it was minted and got 401; it did not fetch a fresh token before expiry (tokens used: %d)\njournal:\n%s",
			r.SDKName(), tokenTTL, len(used), DescribeEntries(r.HTTP(), 30))
	}
	return nil
}

// authErrorRe is what counts as an authentication error in SDK reports.
var authErrorRe = regexp.MustCompile(`(?i)\b401\b|UNAUTHORI[SZ]ED|AUTHENTICATION|expired|Unauthori[sz]ed`)

func checkAt401(ctx context.Context, r *Run) error {
	if err := pendingPastExpiry(ctx, r); err != nil {
		return err
	}
	bad := r.expired401()
	if len(bad) == 0 {
		return NotApplicable("%s never met a 401 (it refreshed its token); nothing to observe", r.SDKName())
	}
	first := bad[0]
	reported := r.Reported(0)
	all := strings.Join(reported, "\n")
	var problems []string
	if !authErrorRe.MatchString(all) {
		problems = append(problems, fmt.Sprintf("no authentication error reached the application (it reported: %s)", strings.Join(reported, " | ")))
	}
	if _, err := r.WaitStatus(ctx, 0, 5*time.Second, "disconnected"); err != nil {
		problems = append(problems, "did not return to disconnected: "+err.Error())
	}
	var after []mockserver.Entry
	for _, e := range r.HTTP() {
		if e.Seq > first.Seq {
			after = append(after, e)
		}
	}
	retries := 0
	for _, e := range after {
		if e.Method == first.Method && e.Path == first.Path {
			retries++
		}
	}
	if retries > 1 {
		problems = append(problems, fmt.Sprintf("repeated %s %s %d more times after the 401", first.Method, first.Path, retries))
	}
	r.Note("first 401: %s; then %d request(s): %s", DescribeEntry(first, time.Time{}), len(after), describeBrief(after))
	for _, e := range after {
		if e.Method == http.MethodDelete && e.Status == http.StatusUnauthorized {
			r.Note("the DELETE that ends the session was refused too (401, same expired token): the session is left to time out on the server")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s at the 401 (%s): %s", r.SDKName(), DescribeEntry(first, time.Time{}), strings.Join(problems, "; "))
	}
	return nil
}

func describeBrief(es []mockserver.Entry) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s %s → %d", e.Method, shortPath(e.Path), e.Status))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// shortPath abbreviates session ids in a path.
func shortPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if len(s) == 36 && strings.Count(s, "-") == 4 {
			parts[i] = "{sid}"
		}
	}
	return strings.Join(parts, "/")
}

func checkAfterExpiry(ctx context.Context, r *Run) error {
	sc := ReadyScenario("short-ttl-ready")
	shortTTL(sc)
	sc.Tokens.DefaultTTL = mockserver.Duration(3 * time.Second)
	sc.Tokens.MaxTTL = mockserver.Duration(3 * time.Second)
	if err := r.Setup(ctx, sc); err != nil {
		return err
	}
	minted := time.Now()
	res, err := r.ConnectReady(ctx, ConnectOpts{Auth: r.AppAuth()})
	if err != nil {
		return err
	}
	sid := res.SID()
	if wait := time.Until(minted.Add(3*time.Second + 700*time.Millisecond)); wait > 0 {
		time.Sleep(wait)
	}
	mark := r.JournalMark()
	var steps []string
	did := 0
	if r.Has("upload_file") {
		did++
		up, err := r.Drv.Upload(ctx, "after expiry", "late.txt", "text/plain", 20*time.Second)
		if err != nil {
			steps = append(steps, "upload failed: "+oneLine(ErrText(err), 200))
		} else {
			steps = append(steps, "upload ok ("+up.UploadID+")")
		}
	}
	if r.Has("reconnect") {
		did++
		if err := r.reconnectFromReady(ctx); err != nil {
			steps = append(steps, "reconnect failed: "+oneLine(err.Error(), 200))
		} else {
			steps = append(steps, "reconnect ok")
		}
	}
	if did == 0 {
		return NotApplicable("%s has neither upload_file nor reconnect", r.SDKName())
	}
	r.Note("after expiry: %s", strings.Join(steps, "; "))
	var expired []string
	for _, e := range After(r.expired401(), mark) {
		expired = append(expired, fmt.Sprintf("%s %s", e.Method, shortPath(e.Path)))
	}
	if len(expired) > 0 {
		return fmt.Errorf("%s sent its expired token after the session outlived it (session %s): %s → 401; it did not refresh (%s)",
			r.SDKName(), sid, strings.Join(uniq(expired), ", "), strings.Join(steps, "; "))
	}
	for _, e := range After(r.HTTP(), mark) {
		if e.Path == wire.PathTokens {
			r.Note("minted a fresh token: %s", DescribeEntry(e, time.Time{}))
		}
	}
	return nil
}
