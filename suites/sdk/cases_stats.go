package sdk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/reactor-harness/reactor-harness/mockserver"
)

// Client stats (PROTOCOL.md §9.3): 1.13.0-generation SDKs send a v1
// ClientStats NOTIFICATION on control every 5 s once ready, one reading per
// track of the capabilities, measurements by name.

// statsPeriod and statsSlack are the documented cadence and the tolerance
// the case allows each gap.
const (
	statsPeriod = 5 * time.Second
	statsSlack  = time.Second
)

// documentedMetrics are the measurement names the platform's schema lists.
var documentedMetrics = []string{"bitrate_bps", "frames_per_second", "packets_lost", "packets_received", "jitter_ms",
	"round_trip_time_ms", "frames_decoded", "frames_dropped", "frame_width", "frame_height", "nack_count", "keyframe_requests"}

func init() {
	register(Case{
		ID:          "sdk/stats/1",
		Title:       "client stats every 5 s, naming the capability tracks",
		Requirement: "Once ready, an SDK that reports client stats MUST send a ClientStats notification on control every 5 s ± 1 s, each naming only tracks of the capabilities and carrying at least one documented metric (bitrate_bps, jitter_ms, frame_width, …)",
		Sections:    []string{"PROTOCOL.md §9.3"},
		Labels:      []string{"data-channel"},
		WebRTC:      true,
		Timeout:     75 * time.Second,
		Check:       checkStatsCadence,
	})
}

func checkStatsCadence(ctx context.Context, r *Run) error {
	if err := r.SetupExact(ctx, nil); err != nil {
		return err
	}
	if r.Legacy() {
		return NotApplicable("%s speaks the pre-overhaul protocol, which has no client stats", r.SDKName())
	}
	res, err := r.ConnectReady(ctx, ConnectOpts{})
	if err != nil {
		return err
	}
	reports, undecoded := r.waitStats(ctx, res.SID(), 4, 4*statsPeriod+2*statsSlack)
	if len(reports) == 0 && undecoded == 0 {
		return NotApplicable("%s sent no client_stats within %s of ready (SDKs before 1.13.0 do not report them)", r.SDKName(), 4*statsPeriod+2*statsSlack)
	}
	var p []string
	if undecoded > 0 {
		p = append(p, fmt.Sprintf("%d client_stats report(s) the mock could not decode", undecoded))
	}
	if len(reports) < 3 {
		p = append(p, fmt.Sprintf("only %d report(s) in %s, want one every %s", len(reports), 4*statsPeriod+2*statsSlack, statsPeriod))
	}
	p = append(p, statsGaps(reports)...)
	p = append(p, statsContent(reports, r.trackNames(res.SID()))...)
	if len(p) > 0 {
		return fmt.Errorf("%s client stats: %s", r.SDKName(), strings.Join(p, "; "))
	}
	first := reports[0].ClientStats
	r.Note("%d reports; first names %d track(s), e.g. %s with metrics %s", len(reports), len(first.Tracks),
		first.Tracks[0].Name, strings.Join(sortedKeys(first.Tracks[0].Metrics), ","))
	return nil
}

// waitStats collects the session's client_stats entries until n decoded
// ones arrived or within passed.
func (r *Run) waitStats(ctx context.Context, sid string, n int, within time.Duration) (decoded []mockserver.Entry, undecoded int) {
	deadline := time.Now().Add(within)
	for {
		decoded, undecoded = nil, 0
		for _, e := range r.DataChannel(sid) {
			if e.Channel != "control" || e.Type != "client_stats" {
				continue
			}
			if e.ClientStats == nil {
				undecoded++
			} else {
				decoded = append(decoded, e)
			}
		}
		if len(decoded) >= n || time.Now().After(deadline) {
			return decoded, undecoded
		}
		select {
		case <-ctx.Done():
			return decoded, undecoded
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// statsGaps checks the time between consecutive reports.
func statsGaps(reports []mockserver.Entry) []string {
	var p []string
	for i := 1; i < len(reports); i++ {
		a, err1 := time.Parse(time.RFC3339Nano, reports[i-1].Time)
		b, err2 := time.Parse(time.RFC3339Nano, reports[i].Time)
		if err1 != nil || err2 != nil {
			return []string{"journal times do not parse"}
		}
		if gap := b.Sub(a); gap < statsPeriod-statsSlack || gap > statsPeriod+statsSlack {
			p = append(p, fmt.Sprintf("report %d came %s after the previous one, want %s ± %s", i+1, gap.Round(time.Millisecond), statsPeriod, statsSlack))
		}
	}
	return p
}

// statsContent checks each report's tracks and metrics.
func statsContent(reports []mockserver.Entry, tracks []string) []string {
	var p []string
	for i, e := range reports {
		s := e.ClientStats
		if len(s.Tracks) == 0 {
			p = append(p, fmt.Sprintf("report %d names no track", i+1))
		}
		for _, t := range s.Tracks {
			if !slices.Contains(tracks, t.Name) {
				p = append(p, fmt.Sprintf("report %d names track %q, not one of the capabilities %v", i+1, t.Name, tracks))
			}
			if !slices.ContainsFunc(documentedMetrics, func(m string) bool { _, ok := t.Metrics[m]; return ok }) {
				p = append(p, fmt.Sprintf("report %d track %q carries none of the documented metrics (has %v)", i+1, t.Name, sortedKeys(t.Metrics)))
			}
		}
	}
	return p
}

// trackNames lists the capability tracks of the model the cases connect
// to (the mock's default, Helios).
func (r *Run) trackNames(string) []string {
	var names []string
	for _, t := range mockserver.HeliosModel().Capabilities().Tracks {
		names = append(names, t.Name)
	}
	return names
}
