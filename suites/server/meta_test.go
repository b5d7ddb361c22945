package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
)

// Meta tests: every area's checks are seen to FAIL, with a useful message,
// when the server breaks the requirement. Each test starts its own mock
// with a breaking scenario (a fault, a changed version range, the legacy
// profile, a lax token leeway), runs one catalog case's check against it and
// asserts that the error names what was expected and what was received.

// breaking starts a mock whose scenario is EmbeddedScenario changed by
// change, and returns a Target with the admin API enabled.
func breaking(t *testing.T, change func(*mockserver.Scenario)) *Target {
	t.Helper()
	sc := EmbeddedScenario()
	if change != nil {
		change(sc)
	}
	e, err := StartEmbedded(Config{ReadyTimeout: 3 * time.Second}, sc)
	if err != nil {
		t.Fatalf("starting the broken mock: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e.Target
}

func fault(route string, status int) mockserver.Fault {
	return mockserver.Fault{Route: route, Status: status, Detail: "broken on purpose by the meta test"}
}

// mustFail runs case id against tgt and requires an error containing every
// string in wants. The message is logged so `go test -v` shows what a
// maintainer would read.
func mustFail(t *testing.T, tgt *Target, id string, wants ...string) {
	t.Helper()
	c, ok := Lookup(id)
	if !ok {
		t.Fatalf("no case %s", id)
	}
	if c.Check == nil {
		t.Fatalf("%s has no check (pending: %s)", id, c.Pending)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := NewRun(tgt)
	err := c.Check(ctx, r)
	if cerr := r.Cleanup(ctx); cerr != nil {
		t.Logf("cleanup: %v", cerr)
	}
	if err == nil {
		t.Fatalf("%s passed against a server that breaks it; the check cannot fail\ntranscript:\n%s", id, r.Rec.Transcript())
	}
	msg := err.Error()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("%s failed, but its message lacks %q:\n%s", id, w, msg)
		}
	}
	if tr := r.Rec.Transcript(); tr == "" {
		t.Errorf("%s recorded no HTTP exchange to attach to the report", id)
	}
	t.Logf("%s fails as it should:\n%s", id, msg)
}

// mustPass runs case id and requires success (the control for mustFail).
func mustPass(t *testing.T, tgt *Target, id string) {
	t.Helper()
	c, _ := Lookup(id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := NewRun(tgt)
	defer func() { _ = r.Cleanup(ctx) }()
	if err := c.Check(ctx, r); err != nil {
		t.Fatalf("%s fails against a healthy mock: %v", id, err)
	}
}

func TestMetaTokens(t *testing.T) {
	t.Parallel()
	t.Run("token/1 body without jwt", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /tokens", 200)}
		})
		mustFail(t, tgt, "token/1", `"jwt" is missing`, `"expires_at" is missing`, "sent:     POST /tokens", "received: 200 OK")
	})
	t.Run("token/6 wrong key answered 200", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /tokens", 200)}
		})
		mustFail(t, tgt, "token/6", "401 Unauthorized (or 403 Forbidden)", "received 200 OK")
	})
	t.Run("token/10 expired token accepted (leeway 60s)", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Tokens.Leeway = mockserver.Duration(time.Minute) })
		mustFail(t, tgt, "token/10", "is still accepted", "expected 401 (or 403), received 404 Not Found")
	})
	t.Run("token/3 ceiling not applied", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Tokens.MaxTTL = mockserver.Duration(48 * time.Hour) })
		mustFail(t, tgt, "token/3", "expected + 6h0m0s", "expires_after is 100000, expected the granted 21600")
	})
}

func TestMetaSessions(t *testing.T) {
	t.Parallel()
	t.Run("session/1 create answers 500", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /sessions", 500)}
		})
		mustFail(t, tgt, "session/1", "expected 201 Created, received 500 Internal Server Error", "sent:     POST /sessions", "broken on purpose")
	})
	t.Run("session/7 poll body without the slim fields", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET /sessions/{id}", 200)}
		})
		mustFail(t, tgt, "session/7", `"session_id" is missing`, `"cluster" is missing`, `"server_info.server_version" is missing`)
	})
	t.Run("session/3 unknown model created", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /sessions", 201)}
		})
		mustFail(t, tgt, "session/3", "expected 404 Not Found, received 201 Created")
	})
	t.Run("session/10 second DELETE answers 500", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("DELETE /sessions/{id}", 500)
			f.Nth = 2
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "session/10", "expected 404 Not Found (or 2xx), received 500")
	})
	t.Run("session/5 never ready", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Timings.PendingPolls = 1000 })
		mustFail(t, tgt, "session/5", "capabilities and selected_transport never both appeared", `last state "PENDING"`)
	})
}

func TestMetaStates(t *testing.T) {
	t.Parallel()
	t.Run("state/5 restart refused", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("PUT /sessions/{id}", 409)}
		})
		mustFail(t, tgt, "state/5", "expected 200 OK (any 2xx), received 409 Conflict", "sent:     PUT /sessions/")
	})
	t.Run("state/3 info hides the state", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET /sessions/{id}/info", 200)}
		})
		mustFail(t, tgt, "state/3", `the session was moved to INACTIVE (admin API) but the answer says state ""`)
	})
	t.Run("state/2 never ready (stays PENDING)", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Timings.PendingPolls = 1000 })
		mustFail(t, tgt, "state/2", "not ready after")
	})
}

func TestMetaVersioning(t *testing.T) {
	t.Parallel()
	t.Run("session/1 when the API range moved (current clients get 426)", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Versions.APIMin, sc.Versions.APIMax = 2, 2 })
		mustFail(t, tgt, "session/1", "expected 201 Created, received 426 Upgrade Required", "CLIENT_VERSION_TOO_OLD")
	})
	t.Run("version/3 a too-new version is served", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Versions.APIMax = 1000 })
		mustFail(t, tgt, "version/3", "expected 501 Not Implemented, received 201 Created")
	})
	t.Run("version/1 a header-less old client is served (legacy profile)", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Profile = mockserver.ProfileLegacy })
		mustFail(t, tgt, "version/1", "expected 426 Upgrade Required, received 201 Created")
	})
	t.Run("version/6 error without a detail", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{{Route: "GET /sessions/{id}", Status: 404, Detail: " "}}
		})
		mustFail(t, tgt, "version/6", `"detail" is empty`)
	})
}

func TestMetaUploads(t *testing.T) {
	t.Parallel()
	t.Run("upload/3 second PUT accepted", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("PUT /uploads/{upload_id}", 200)
			f.Nth = 2
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "upload/3", "expected 409 Conflict, received 200 OK", "sent:     PUT /uploads/")
	})
	t.Run("upload/6 tampered signature accepted", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("PUT /uploads/{upload_id}", 200)}
		})
		mustFail(t, tgt, "upload/6", "expected 403 Forbidden, received 200 OK", "sig=<redacted>")
	})
	t.Run("upload/1 reservation answers 500", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /sessions/{id}/uploads", 500)}
		})
		mustFail(t, tgt, "upload/1", "expected 201 Created, received 500 Internal Server Error")
	})
	t.Run("upload/7 expired URL accepted", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("PUT /uploads/{upload_id}", 200)
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "upload/7", "expected 403 Forbidden, received 200 OK")
	})
}

func TestMetaLimits(t *testing.T) {
	t.Parallel()
	t.Run("limits/1 third session admitted", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("POST /sessions", 201)
			f.Nth = 3
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "limits/1", "expected 429 Too Many Requests, received 201 Created")
	})
	t.Run("limits/1 429 without Retry-After", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("POST /sessions", 429)
			f.Nth = 3
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "limits/1", "Retry-After", "the header is missing")
	})
	t.Run("limits/3 rate not enforced", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("POST /sessions", 201)
			f.Nth = 3
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "limits/3", "expected 429 Too Many Requests, received 201 Created")
	})
}

func TestMetaLegacy(t *testing.T) {
	t.Parallel()
	t.Run("legacy/1 old create served by a current server", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Profile = mockserver.ProfileLegacy })
		mustFail(t, tgt, "legacy/1", "expected 426 Upgrade Required, received 200 OK")
	})
	t.Run("legacy/6 legacy create answers 500", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /sessions", 500)}
		})
		mustFail(t, tgt, "legacy/6", "expected 200 OK (any 2xx), received 500")
	})
	t.Run("legacy/5 GET /tokens refused", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET /tokens", 405)}
		})
		mustFail(t, tgt, "legacy/5", "expected 200 OK, received 405 Method Not Allowed")
	})
}

// TestMetaHealthyControl runs a few of the same checks against a healthy
// mock, so the failures above are due to the breakage.
func TestMetaHealthyControl(t *testing.T) {
	t.Parallel()
	tgt := breaking(t, nil)
	for _, id := range []string{"token/1", "token/6", "session/1", "session/7", "state/5", "version/3", "upload/3", "limits/1", "legacy/1", "legacy/6"} {
		mustPass(t, tgt, id)
	}
}

// TestDestructiveNeedsAdmin shows a destructive check refuses to run
// without the admin API instead of silently passing.
func TestDestructiveNeedsAdmin(t *testing.T) {
	t.Parallel()
	tgt := breaking(t, nil)
	noAdmin := *tgt
	noAdmin.Admin = false
	c, _ := Lookup("limits/1")
	r := NewRun(&noAdmin)
	err := c.Check(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "admin API") {
		t.Fatalf("limits/1 without the admin API: err = %v", err)
	}
}

const tb = "/sessions/{id}/transport/webrtc"

func TestMetaSignalling(t *testing.T) {
	t.Parallel()
	t.Run("signal/4 offer answered 200 instead of 202", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST "+tb+"/connections/{cid}/sdp_params", 200)}
		})
		mustFail(t, tgt, "signal/4", "expected 202 Accepted, received 200 OK", "sent:     POST /sessions/", "Reactor-WebRTC-Version")
	})
	t.Run("signal/2 registration answered 200", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST "+tb+"/connections", 200)}
		})
		mustFail(t, tgt, "signal/2", "expected 201 Created, received 200 OK")
	})
	t.Run("signal/5 answer poll answers 404", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET "+tb+"/connections/{cid}/sdp_params", 404)}
		})
		mustFail(t, tgt, "signal/5", "may only answer 202 (pending) or 200 (answer); received 404 Not Found")
	})
	t.Run("version/7 transport header not required (legacy profile)", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Profile = mockserver.ProfileLegacy })
		mustFail(t, tgt, "version/7", "expected 426 Upgrade Required, received 200 OK")
	})
}

func TestMetaMediaAndData(t *testing.T) {
	t.Parallel()
	t.Run("media/3 tracks stream before resume_track (auto_stream)", func(t *testing.T) {
		sc := EmbeddedScenario()
		e, err := StartEmbedded(Config{ReadyTimeout: 3 * time.Second}, sc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		if err := e.Server.SetMediaPolicy(mockserver.MediaPolicy{AutoStream: true}); err != nil {
			t.Fatal(err)
		}
		mustFail(t, e.Target, "media/3", "arrived on \"main_video\" although the client never sent resume_track")
	})
	t.Run("media/1 no answer to the offer", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET "+tb+"/connections/{cid}/sdp_params", 202)}
		})
		mustFail(t, tgt, "media/1", "could not connect")
	})
	t.Run("data/1 offer answered 200 instead of 202", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST "+tb+"/connections/{cid}/sdp_params", 200)}
		})
		mustFail(t, tgt, "data/1", "could not connect", "200")
	})
}

func TestMetaLocal(t *testing.T) {
	t.Parallel()
	t.Run("local/1 start answers a body that is not a descriptor", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("POST /start_session", 200)}
		})
		mustFail(t, tgt, "local/1", `"session_id" is missing`, `"state" is missing`, "sent:     POST /start_session")
	})
	t.Run("local/2 second start admitted", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			f := fault("POST /start_session", 200)
			f.Nth = 2
			sc.Faults = []mockserver.Fault{f}
		})
		mustFail(t, tgt, "local/2", "expected 409 Conflict, received 200 OK")
	})
	t.Run("local/6 health without state", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET /health", 200)}
		})
		mustFail(t, tgt, "local/6", `status is ""`, `state is ""`)
	})
	t.Run("local/4 transport needs auth under the fixed id", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{fault("GET "+tb+"/ice_servers", 401)}
		})
		mustFail(t, tgt, "local/4", "expected 200 OK, received 401 Unauthorized")
	})
}

// TestMetaTokenScopes: the §9.1 checks fail against a coordinator that mints
// what it must refuse, lets a bound token create or reach other sessions, or
// never ends a duration-limited session; and pass against the healthy mock.
func TestMetaTokenScopes(t *testing.T) {
	t.Parallel()
	mintsAnything := func(sc *mockserver.Scenario) { sc.Faults = []mockserver.Fault{fault("POST /tokens", 200)} }
	for _, c := range []struct{ id, want string }{
		{"token/18", "does not exist must be refused at mint"},
		{"token/20", "max_session_duration_seconds 0"},
		{"token/23", "unknown field"},
		{"token/24", "match []"},
	} {
		t.Run(c.id+" mints anything", func(t *testing.T) {
			mustFail(t, breaking(t, mintsAnything), c.id, c.want, "received 200 OK")
		})
	}
	t.Run("token/21 bound token creates", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{{Route: "POST /sessions", Status: 201, Detail: "created anyway", Nth: 2}}
		})
		mustFail(t, tgt, "token/21", "created a new session", "expected 403 Forbidden, received 201 Created")
	})
	t.Run("token/22 bound token reads another session", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{{Route: "GET /sessions/{id}", Status: 200, Detail: "here it is", Nth: 2}}
		})
		mustFail(t, tgt, "token/22", "read another session", "received 200 OK")
	})
	t.Run("token/25 never terminated", func(t *testing.T) {
		tgt := breaking(t, func(sc *mockserver.Scenario) {
			sc.Faults = []mockserver.Fault{{Route: "GET /sessions/{id}/info", Status: 200, Detail: "still here"}}
		})
		mustFail(t, tgt, "token/25", "must force-terminate it")
	})
	healthy := breaking(t, nil)
	for _, id := range []string{"token/18", "token/19", "token/20", "token/21", "token/22", "token/23", "token/24", "token/25"} {
		t.Run(id+" healthy", func(t *testing.T) { mustPass(t, healthy, id) })
	}
}

// TestMetaSnapshots: data/10 fails against production's bodyless snapshot
// acks (the scenario switch) and passes against the documented replies.
func TestMetaSnapshots(t *testing.T) {
	t.Parallel()
	tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Models.SnapshotReplies = mockserver.SnapshotRepliesBodyless })
	mustFail(t, tgt, "data/10", "save_snapshot was answered with a bodyless ack")
	mustPass(t, breaking(t, nil), "data/10")
}

func TestMetaCORSRefusedOrigin(t *testing.T) {
	tgt := breaking(t, func(sc *mockserver.Scenario) { sc.CORS.AllowedOrigins = []string{"http://only.example"} })
	mustFail(t, tgt, "cors/1", "preflight for POST /tokens", "403")
	mustFail(t, tgt, "cors/4", "Access-Control-Allow-Origin")
}

func TestMetaChunking(t *testing.T) {
	t.Parallel()
	off := false
	tgt := breaking(t, func(sc *mockserver.Scenario) { sc.Transport.DCChunking = &off })
	t.Run("chunk/1 attribute not answered", func(t *testing.T) {
		mustFail(t, tgt, "chunk/1", "does not declare a=x-reactor-dc-chunking", "MessageTooLargeError")
	})
	t.Run("chunk/3 large command without chunking", func(t *testing.T) {
		mustFail(t, tgt, "chunk/3", "did not declare a=x-reactor-dc-chunking")
	})
	t.Run("chunk/2 control", func(t *testing.T) { mustPass(t, tgt, "chunk/2") })
}
