package mockserver

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/reactor-harness/reactor-harness/mockserver/impair"
)

// ImpairmentWindow is one window of media.impairments: a bad network for a
// span of each session, timed from the session's first datagram:
//
//	impairments:
//	  - {at: 10s, for: 6s, blackout: true}   # nothing either way
//	  - {at: 20s, for: 10s, loss: 5%, traffic: media, direction: send}
//	  - {at: 30s, delay: 80ms, jitter: 20ms}
type ImpairmentWindow struct {
	At        Duration `json:"at"`
	For       Duration `json:"for,omitempty"`
	Loss      Percent  `json:"loss,omitempty"`
	Delay     Duration `json:"delay,omitempty"`
	Jitter    Duration `json:"jitter,omitempty"`
	Blackout  bool     `json:"blackout,omitempty"`
	Traffic   string   `json:"traffic,omitempty"`
	Direction string   `json:"direction,omitempty"`
}

// Percent is a percentage written 5, 5.5 or "5%".
type Percent float64

// UnmarshalJSON reads a number or a string ending in %.
func (p *Percent) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*p = Percent(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("impairment loss: a percentage is a number or a string like \"5%%\", got %s", b)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil {
		return fmt.Errorf("impairment loss: a percentage is a number or a string like \"5%%\", got %q", s)
	}
	*p = Percent(f)
	return nil
}

// impairTimeline checks the policy's impairments and builds their timeline.
func (p MediaPolicy) impairTimeline() (*impair.Timeline, error) {
	ws := make([]impair.Window, len(p.Impairments))
	for i, w := range p.Impairments {
		ws[i] = impair.Window{At: w.At.D(), For: w.For.D(), Loss: float64(w.Loss), Delay: w.Delay.D(),
			Jitter: w.Jitter.D(), Blackout: w.Blackout, Traffic: w.Traffic, Direction: w.Direction}
	}
	return impair.NewTimeline(p.ImpairSeed, ws)
}

// journalImpairment records a remote entering or leaving a window, so a
// test reads from the journal what the network did and when.
func (s *Server) journalImpairment(remote, label string, active bool) {
	what := "ended"
	if active {
		what = "began"
	}
	s.journal.Add(Entry{Type: "impairment", Detail: fmt.Sprintf("%s %s for %s", label, what, remote)})
}
