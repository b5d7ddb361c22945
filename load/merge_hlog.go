package load

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/reactor-harness/reactor-harness/reports"
)

// logHead is the next record of one shard's interval log.
type logHead struct {
	sh  *shardIn
	idx int
	f   *os.File
	sc  *reports.HlogScanner
	rec reports.HlogRecord
	ok  bool
}

// mergeLogs streams every shard's run.hlog once, in time order (a k-way
// merge on interval end times, so memory does not grow with the run's
// length): each interval histogram is checked for geometry, merged into its
// metric's total (dropped values counted) and, with an output folder,
// rewritten with reports.HlogWriter into one log on the earliest shard's
// time base; counter lines are copied likewise (each stays its own shard's
// running totals: the values of one interval add up across shards).
func (m *merger) mergeLogs() (err error) {
	m.totals = map[string]*hdr.Histogram{}
	m.dropped = map[string]int64{}
	heads := make([]*logHead, len(m.shards))
	defer func() {
		for _, h := range heads {
			if h != nil && h.f != nil {
				h.f.Close()
			}
		}
	}()
	for i, sh := range m.shards {
		f, err := os.Open(sh.hlog)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		h := &logHead{sh: sh, idx: i, f: f, sc: reports.NewHlogScanner(f)}
		heads[i] = h
		if err := h.advance(); err != nil {
			return err
		}
		start := h.sc.RunStart
		if start.IsZero() {
			start = sh.sum.Start
		}
		if !start.IsZero() && (m.runStart.IsZero() || start.Before(m.runStart)) {
			m.runStart = start
		}
	}

	var w *reports.HlogWriter
	var tmp *os.File
	if m.out != "" {
		if err := os.MkdirAll(m.out, 0o755); err != nil {
			return fmt.Errorf("merge: output folder: %w", err)
		}
		if tmp, err = os.CreateTemp(m.out, "."+hlogName+".*.tmp"); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		m.tmpHlog = tmp.Name()
		defer func() {
			if cerr := tmp.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("merge: %w", cerr)
			}
			if err != nil {
				m.discard()
			}
		}()
		if w, err = reports.NewHlogWriter(tmp, m.runStart, m.hlogComments()...); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}

	var scratch *hdr.Histogram
	limit := len(heads) * (reports.MaxHlogLines + 1)
	for n := 0; n < limit; n++ {
		h := nextHead(heads)
		if h == nil {
			break
		}
		rec := h.rec
		if rec.IsCounters() {
			if w != nil {
				if err := w.WriteCounters(rec.Start, rec.End, rec.Counters); err != nil {
					return fmt.Errorf("merge: %w", err)
				}
			}
		} else {
			if err := m.checkGeometry(h.sh, rec.Tag, rec.Histogram); err != nil {
				return err
			}
			tot := m.totals[rec.Tag]
			if tot == nil {
				tot = m.newHistogram()
				m.totals[rec.Tag] = tot
			}
			m.dropped[rec.Tag] += rec.Histogram.MergeInto(tot)
			h.sh.counts[rec.Tag] += rec.Histogram.TotalCount()
			if w != nil {
				if scratch == nil {
					scratch = m.newHistogram()
				} else {
					scratch.Reset()
				}
				m.dropped[rec.Tag] += rec.Histogram.MergeInto(scratch)
				if err := w.WriteInterval(rec.Tag, rec.Start, rec.End, scratch); err != nil {
					return fmt.Errorf("merge: %w", err)
				}
			}
		}
		if err := h.advance(); err != nil {
			return err
		}
	}
	if w != nil {
		if err := w.Close(); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	for _, h := range heads {
		if h.sc.Skipped > 0 {
			m.note("%s: %d malformed lines of run.hlog skipped (a run killed while writing?)", h.sh.dir, h.sc.Skipped)
		}
		m.checkCounts(h.sh)
	}
	return nil
}

// advance reads the head's next record.
func (h *logHead) advance() error {
	h.ok = h.sc.Scan()
	h.rec = h.sc.Record()
	if err := h.sc.Err(); err != nil {
		return fmt.Errorf("merge: %s: %w", h.sh.hlog, err)
	}
	return nil
}

// nextHead returns the head whose record comes first: the earliest interval
// end, interval lines before the counter line of the same harvest, then the
// shard's position on the command line.
func nextHead(heads []*logHead) *logHead {
	var best *logHead
	for _, h := range heads {
		if !h.ok {
			continue
		}
		if best == nil || headLess(h, best) {
			best = h
		}
	}
	return best
}

func headLess(a, b *logHead) bool {
	if !a.rec.End.Equal(b.rec.End) {
		return a.rec.End.Before(b.rec.End)
	}
	if ac, bc := a.rec.IsCounters(), b.rec.IsCounters(); ac != bc {
		return !ac
	}
	return a.idx < b.idx
}

func (m *merger) hlogComments() []string {
	ks := make([]string, len(m.shards))
	model := ""
	for i, sh := range m.shards {
		ks[i] = fmt.Sprintf("%d/%d", sh.sum.Shard.Index, sh.sum.Shard.Count)
		if model == "" {
			model = sh.sum.Params.Model
		}
	}
	return []string{
		"[Merged: shards " + strings.Join(ks, " ") + " by reactor-harness merge; counter lines are per shard, add up the lines of one interval]",
		"[Model: " + model + "]",
	}
}

// checkCounts compares a shard's interval log with its summary.json: they
// agree unless the run was killed between writing the two.
func (m *merger) checkCounts(sh *shardIn) {
	tags := map[string]bool{}
	for t := range sh.counts {
		tags[t] = true
	}
	for t, ms := range sh.sum.Metrics {
		if ms.Count > 0 {
			tags[t] = true
		}
	}
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if inLog, inSum := sh.counts[t], sh.sum.Metrics[t].Count; inLog != inSum {
			m.note("%s: run.hlog holds %d %s samples but summary.json %d; the merged histograms come from run.hlog", sh.dir, inLog, t, inSum)
		}
	}
}

// writeJSONIndented encodes v as reports.WriteSummaryJSON does.
func writeJSONIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
