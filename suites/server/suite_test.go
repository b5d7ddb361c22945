package server

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// The Ginkgo suite: one spec per catalog case, grouped by area. The target
// comes from REACTOR_BASE_URL / REACTOR_API_KEY or the --reactor.* flags;
// without a base URL, process 1 starts an embedded mock that every
// parallel process shares.

var config = ConfigFromEnv()

func init() { config.BindFlags(flag.CommandLine) }

func TestServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Reactor server conformance")
}

var (
	target   *Target
	embedded *Embedded
	current  *Run // the run of the spec in progress (one spec at a time per process)
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	t, e, err := ResolveTarget(config)
	if err != nil {
		Fail("resolving the target: " + err.Error())
	}
	embedded = e
	if e == nil {
		// Fail fast, with one clear message, when the target is unreachable
		// or the key is wrong, instead of failing every case the same way.
		r := NewRun(t)
		_, _, err := r.MintToken(ctx, nil)
		if err != nil {
			AddReportEntry("HTTP exchanges (secrets redacted)", r.Rec.Transcript())
			Fail(fmt.Sprintf("the target %s must mint a token with the configured API key before any case can run: %v", t.BaseURL, err))
		}
	}
	raw, err := json.Marshal(t)
	Expect(err).NotTo(HaveOccurred())
	return raw
}, func(raw []byte) {
	target = &Target{}
	Expect(json.Unmarshal(raw, target)).To(Succeed())
	AddReportEntry("target", target.Describe())
}, NodeTimeout(60*time.Second))

var _ = SynchronizedAfterSuite(func() {}, func() {
	if embedded != nil {
		Expect(embedded.Close()).To(Succeed())
	}
})

// specTimeout bounds one case: polling to readiness twice plus slack.
func specTimeout() time.Duration {
	c := config
	_ = c.Validate()
	return 2*c.ReadyTimeout + 45*time.Second
}

var _ = Describe("Reactor server", func() {
	JustAfterEach(func() {
		if current != nil && CurrentSpecReport().Failed() {
			if tr := current.Rec.Transcript(); tr != "" {
				AddReportEntry("HTTP exchanges (secrets redacted)", tr)
			}
		}
	})

	for _, area := range Areas {
		cases := CasesOf(area)
		if len(cases) == 0 {
			continue
		}
		Describe(area.Title, Label(area.Label), func() {
			for _, c := range cases {
				declareCase(c)
			}
		})
	}
})

func declareCase(c Case) {
	args := []any{Label(c.Labels...)}
	if c.File != "" {
		// Point reports at the case's registration in its catalog file; it
		// also keeps the run order the catalog's (file, then line).
		args = append(args, types.CodeLocation{FileName: c.File, LineNumber: c.Line})
	}
	text := c.SpecText()
	if c.Pending != "" {
		args = append(args, Pending)
		text += " (pending: " + c.Pending + ")"
	}
	if c.Destructive || c.Serial {
		args = append(args, Serial)
	}
	args = append(args, SpecTimeout(specTimeout()), func(ctx SpecContext) {
		if c.Destructive && !target.Admin {
			Skip(fmt.Sprintf("destructive case: it needs the reactor-harness mock's admin API (/__admin/) to change scenarios, faults or states; the target is an %s. Run against the embedded mock, or pass --reactor.admin-api for an external reactor-harness mock", target.Describe()))
		}
		run := NewRun(target)
		current = run
		DeferCleanup(func(ctx context.Context) {
			if err := run.Cleanup(ctx); err != nil {
				GinkgoWriter.Printf("cleanup after %s: %v\n", c.ID, err)
			}
			current = nil
		}, NodeTimeout(30*time.Second))
		err := c.Check(ctx, run)
		var skip *SkipError
		if errors.As(err, &skip) {
			Skip(skip.Reason)
		}
		if err != nil {
			Fail(fmt.Sprintf("%s failed: %s\n  requirement: %s [PROTOCOL.md §%s]\n  target: %s", c.ID, err, c.Requirement, c.Section, target.Describe()))
		}
	})
	It(text, args...)
}
