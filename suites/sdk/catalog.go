// Package sdk is the SDK behaviour suite: it drives REAL published Reactor
// SDKs through their drivers (drivers/PROTOCOL.md) against the in-process
// mock (package mockserver) and judges what they do from the driver's events
// and the mock's request journal.
//
// Every case has a stable ID (sdk/<area>/<n>), a MUST/SHOULD requirement and
// the PROTOCOL.md / PLATFORM.md sections it rests on. A case runs once per SDK
// target (JS 2.9.0, JS 2.2.1, Python 1.x, Python 0.x, or a driver a
// maintainer brings) and yields a verdict: pass, fail (with a message a
// maintainer can act on) or not applicable. The Ginkgo suite in this folder
// compares each verdict with the target's expectations file
// (expectations/<target>.txt, the protobuf conformance failure-list habit):
// an unlisted failure or a listed pass (a stale entry) fails the run.
package sdk

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Check is a case's body. It returns nil when the SDK meets the
// requirement, an error that says what the SDK did otherwise, or an error
// made with NotApplicable when the case does not apply to this SDK.
type Check func(ctx context.Context, r *Run) error

// Case is one entry of the catalog.
type Case struct {
	ID          string // sdk/<area>/<n>
	Title       string // a few words
	Requirement string // one MUST/SHOULD sentence
	Sections    []string
	Labels      []string
	// WebRTC marks cases that need the mock's WebRTC plane (the SDK must
	// reach ready); they fail while the plane is missing.
	WebRTC bool
	// Timeout bounds the case (default 60 s); the spec adds a grace period.
	Timeout time.Duration
	Check   Check
}

// Area groups cases.
type Area struct {
	Name  string // ID segment and label
	Title string
}

// Areas in report order.
var Areas = []Area{
	{"breaking", "Breaking changes of the platform changelog (PLATFORM.md §8)"},
	{"token", "Token lifetime and refresh (PROTOCOL.md §1.1, PLATFORM.md §1)"},
	{"waiting", "Commands outside ready: the waiting state (PLATFORM.md §3)"},
	{"lifecycle", "Session lifecycle, signalling and uploads (PROTOCOL.md §1, §6, §7)"},
	{"chunking", "Data-channel chunking: commands over 256 KiB (PROTOCOL.md §9.2)"},
	{"stats", "Client stats on the control channel (PROTOCOL.md §9.3)"},
	{"model", "Hosted models beside Helios (PROTOCOL.md §9.6)"},
}

// LabelWebRTC is added to cases that need the WebRTC plane.
const LabelWebRTC = "webrtc"

// KnownLabels are the labels cases may carry (besides the area names).
var KnownLabels = []string{"auth", "headers", "versioning", "polling", "signalling", "media",
	"data-channel", "uploads", "reconnect", "disconnect", "surface", "legacy", LabelWebRTC}

var registry []*Case

func register(c Case) {
	area := areaName(c.ID)
	if area != "" && !slices.Contains(c.Labels, area) {
		c.Labels = append([]string{area}, c.Labels...)
	}
	if c.WebRTC && !slices.Contains(c.Labels, LabelWebRTC) {
		c.Labels = append(c.Labels, LabelWebRTC)
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	cc := c
	registry = append(registry, &cc)
}

func areaName(id string) string {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

func areaIndex(id string) int {
	a := areaName(id)
	for i, ar := range Areas {
		if ar.Name == a {
			return i
		}
	}
	return len(Areas)
}

func idNumber(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndex(id, "/")+1:])
	return n
}

// Catalog returns every case ordered by area and number.
func Catalog() []*Case {
	out := append([]*Case(nil), registry...)
	sort.SliceStable(out, func(i, j int) bool {
		ai, aj := areaIndex(out[i].ID), areaIndex(out[j].ID)
		if ai != aj {
			return ai < aj
		}
		return idNumber(out[i].ID) < idNumber(out[j].ID)
	})
	return out
}

// Lookup finds a case by ID.
func Lookup(id string) (*Case, bool) {
	for _, c := range registry {
		if c.ID == id {
			return c, true
		}
	}
	return nil, false
}

// SpecText is the case's Ginkgo text for one target.
func (c *Case) SpecText(target string) string {
	return fmt.Sprintf("[%s] %s: %s (%s)", target, c.ID, c.Requirement, strings.Join(c.Sections, "; "))
}

var (
	idRe       = regexp.MustCompile(`^sdk/[a-z]+/[1-9][0-9]*$`)
	sectionRe  = regexp.MustCompile(`^(PROTOCOL|PLATFORM)\.md §[0-9]+(\.[0-9]+)*( item [0-9]+(–[0-9]+)?)?$`)
	badLabelRe = regexp.MustCompile(`[&|!,()/ ]`)
)

// ValidateCatalog checks IDs, sections, requirements and labels.
func ValidateCatalog() error {
	var errs []error
	seen := map[string]bool{}
	areas := map[string]bool{}
	for _, a := range Areas {
		areas[a.Name] = true
	}
	for _, c := range registry {
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", c.ID, fmt.Sprintf(format, a...)))
		}
		if !idRe.MatchString(c.ID) {
			bad("ID must look like sdk/<area>/<n>")
		}
		if !areas[areaName(c.ID)] {
			bad("unknown area %q", areaName(c.ID))
		}
		if seen[c.ID] {
			bad("duplicate ID")
		}
		seen[c.ID] = true
		if c.Title == "" {
			bad("no title")
		}
		if len(c.Sections) == 0 {
			bad("no PROTOCOL.md/PLATFORM.md section")
		}
		for _, s := range c.Sections {
			if !sectionRe.MatchString(s) {
				bad("section %q must look like \"PROTOCOL.md §7 item 2\" or \"PLATFORM.md §8\"", s)
			}
		}
		if !strings.Contains(c.Requirement, "MUST") && !strings.Contains(c.Requirement, "SHOULD") {
			bad("requirement must be MUST/SHOULD-style: %q", c.Requirement)
		}
		if strings.ContainsAny(c.Requirement+c.Title, "\n\r|") {
			bad("requirement and title must be one line without '|'")
		}
		for _, l := range c.Labels {
			if badLabelRe.MatchString(l) || (!slices.Contains(KnownLabels, l) && !areas[l]) {
				bad("unknown or malformed label %q", l)
			}
		}
		if c.Check == nil {
			bad("no check")
		}
	}
	return errors.Join(errs...)
}

// NotApplicableError says a case does not apply to an SDK (its protocol
// generation, or a feature it does not have).
type NotApplicableError struct{ Reason string }

func (e *NotApplicableError) Error() string { return "not applicable: " + e.Reason }

// NotApplicable returns a NotApplicableError.
func NotApplicable(format string, a ...any) error {
	return &NotApplicableError{Reason: fmt.Sprintf(format, a...)}
}
