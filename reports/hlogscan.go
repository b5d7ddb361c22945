package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HlogRecord is one data line of an interval log: an interval histogram
// (Histogram set, Counters nil) or a #[Counters] line (Counters set,
// Histogram nil). Times are absolute.
type HlogRecord struct {
	Tag        string
	Start, End time.Time
	// Histogram is the interval's histogram as encoded in the log, with the
	// geometry (lowest, highest, significant figures) it was written with.
	Histogram *hdr.PackedHistogram
	Counters  map[string]int64
}

// IsCounters reports whether r is a #[Counters] line.
func (r HlogRecord) IsCounters() bool { return r.Counters != nil }

// HlogScanner reads an interval log one record at a time, in file order,
// without merging anything: what a tool that rewrites or combines logs
// needs (ReadHlog merges per tag and keeps only percentiles per interval).
// It applies ReadHlog's rules: the same header handling, malformed lines
// skipped and counted, at most MaxHlogLines lines of at most
// MaxHlogLineBytes each.
type HlogScanner struct {
	sc                *bufio.Scanner
	startSec, baseSec float64
	haveStart         bool
	haveBase          bool
	lines             int
	rec               HlogRecord
	err               error

	// StartTime and RunStart are the header's #[StartTime] (whole
	// seconds) and #[RunStart] (exact), zero until read; Comments holds
	// the other comment lines seen so far, without the '#' (at most
	// MaxHlogComments). Skipped counts malformed lines ignored so far.
	StartTime, RunStart time.Time
	Comments            []string
	Skipped             int
}

// NewHlogScanner returns a scanner reading r.
func NewHlogScanner(r io.Reader) *HlogScanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxHlogLineBytes)
	return &HlogScanner{sc: sc}
}

// Scan advances to the next record; it returns false at the end of the log
// or on an error (see Err).
func (s *HlogScanner) Scan() bool {
	if s.err != nil {
		return false
	}
	for s.sc.Scan() {
		s.lines++
		if s.lines > MaxHlogLines {
			s.err = fmt.Errorf("reports: hlog: more than %d lines", MaxHlogLines)
			return false
		}
		line := strings.TrimRight(s.sc.Text(), "\r")
		switch {
		case line == "" || strings.HasPrefix(line, `"StartTimestamp"`):
		case strings.HasPrefix(line, "#[StartTime: "):
			if v, ok := leadingFloat(line[len("#[StartTime: "):]); ok {
				s.startSec, s.haveStart = v, true
				s.StartTime = secondsToTime(v)
			}
		case strings.HasPrefix(line, "#[BaseTime: "):
			if v, ok := leadingFloat(line[len("#[BaseTime: "):]); ok {
				s.baseSec, s.haveBase = v, true
			}
		case strings.HasPrefix(line, "#[RunStart: "):
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimSuffix(line[len("#[RunStart: "):], "]")); err == nil {
				s.RunStart = t
			}
		case strings.HasPrefix(line, "#[Counters: "):
			rel, length, values, ok := parseCounters(strings.TrimSuffix(line[len("#[Counters: "):], "]"))
			if !ok {
				s.Skipped++
				continue
			}
			start := s.abs(rel)
			s.rec = HlogRecord{Start: start, End: start.Add(secondsToDuration(length)), Counters: values}
			return true
		case line[0] == '#':
			if len(s.Comments) < MaxHlogComments {
				s.Comments = append(s.Comments, line[1:])
			}
		default:
			rec, err := s.interval(line)
			if err != nil {
				s.Skipped++
				continue
			}
			s.rec = rec
			return true
		}
	}
	if err := s.sc.Err(); err != nil {
		s.err = fmt.Errorf("reports: hlog: %w", err)
	}
	return false
}

// Record returns the record Scan advanced to.
func (s *HlogScanner) Record() HlogRecord { return s.rec }

// Err returns the error that stopped Scan, nil at a clean end.
func (s *HlogScanner) Err() error { return s.err }

// abs follows ReadHlog (and HdrHistogram): timestamps are relative to
// BaseTime, or to StartTime when there is no BaseTime and they are more
// than a year before it.
func (s *HlogScanner) abs(rel float64) time.Time {
	if !s.haveBase {
		if s.haveStart && rel < s.startSec-365*24*3600 {
			s.baseSec = s.startSec
		}
		s.haveBase = true
	}
	return secondsToTime(s.baseSec + rel)
}

func (s *HlogScanner) interval(line string) (HlogRecord, error) {
	tag := ""
	if strings.HasPrefix(line, "Tag=") {
		i := strings.IndexByte(line, ',')
		if i < 0 {
			return HlogRecord{}, errors.New("tag without fields")
		}
		tag, line = line[4:i], line[i+1:]
	}
	f := strings.SplitN(line, ",", 4)
	if len(f) != 4 {
		return HlogRecord{}, errors.New("want 4 fields")
	}
	start, err1 := strconv.ParseFloat(f[0], 64)
	length, err2 := strconv.ParseFloat(f[1], 64)
	if err := errors.Join(err1, err2); err != nil {
		return HlogRecord{}, err
	}
	p, err := hdr.DecodePacked([]byte(f[3]))
	if err != nil {
		return HlogRecord{}, err
	}
	st := s.abs(start)
	return HlogRecord{Tag: tag, Start: st, End: st.Add(secondsToDuration(length)), Histogram: p}, nil
}
