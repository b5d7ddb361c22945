package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HlogWriter appends to an HdrHistogram interval log (format version 1.3, as
// read by HdrHistogram's HistogramLogReader in Go and Java and by
// HistogramLogAnalyzer). The header is
//
//	#[Histogram log format version 1.3]
//	#[StartTime: 1767225600 (seconds since epoch), 2026-01-01T00:00:00Z]
//	#[BaseTime: 1767225600 (seconds since epoch)]
//	#[RunStart: 2026-01-01T00:00:00.123Z]
//	#[Values in microseconds; Interval_Max in milliseconds]
//	#<each comment given to the constructor>
//	"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//
// then, per interval, one line per tag (metric) with data,
//
//	Tag=frame_latency,12.000,1.000,9.850,HISTFAAAA…
//
// (start relative to BaseTime in s, length in s, max in ms, V2-compressed
// histogram in base64), and one counter comment line,
//
//	#[Counters: 12.000,1.000 frames=1234 sessions_active=48 …]
//
// which HdrHistogram readers skip as a comment and ReadHlog parses.
//
// StartTime and BaseTime are the run start truncated to a whole second,
// because the library's writer prints whole seconds; RunStart keeps the exact
// start. Interval lines are written by this type rather than by
// HistogramLogWriter.OutputIntervalHistogram because that method scales
// Interval_Max for nanosecond values and its options are not exported; the
// line format is the same. An HlogWriter is not safe for concurrent use.
type HlogWriter struct {
	f    *os.File
	bw   *bufio.Writer
	base time.Time
	err  error
	enc  v2Encoder
}

// CreateHlog creates (truncates) the log file at path and writes its header.
func CreateHlog(path string, start time.Time, comments ...string) (*HlogWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	w, err := newHlogWriter(f, start, comments)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.f = f
	return w, nil
}

// NewHlogWriter writes the header to w and returns a writer that appends to
// it. Close flushes but does not close w.
func NewHlogWriter(w io.Writer, start time.Time, comments ...string) (*HlogWriter, error) {
	return newHlogWriter(w, start, comments)
}

func newHlogWriter(w io.Writer, start time.Time, comments []string) (*HlogWriter, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	base := start.Truncate(time.Second)
	hw := &HlogWriter{bw: bw, base: base}
	lw := hdr.NewHistogramLogWriter(bw)
	steps := []func() error{
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputStartTime(base.UnixMilli()) },
		func() error { return lw.OutputBaseTime(base.UnixMilli()) },
		func() error {
			return lw.OutputComment("[RunStart: " + start.UTC().Format("2006-01-02T15:04:05.000Z07:00") + "]")
		},
		func() error { return lw.OutputComment("[Values in microseconds; Interval_Max in milliseconds]") },
	}
	for _, c := range comments {
		c = strings.NewReplacer("\n", " ", "\r", " ").Replace(c)
		steps = append(steps, func() error { return lw.OutputComment(c) })
	}
	steps = append(steps, lw.OutputLegend, bw.Flush)
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("reports: writing hlog header: %w", err)
		}
	}
	return hw, nil
}

// Base returns the time interval timestamps are relative to.
func (w *HlogWriter) Base() time.Time { return w.base }

// WriteInterval appends one interval histogram (values in µs) tagged tag.
// Tags may not contain commas, spaces or line breaks. Empty histograms are
// written too; callers usually skip them.
func (w *HlogWriter) WriteInterval(tag string, start, end time.Time, h *hdr.Histogram) error {
	if w.err != nil {
		return w.err
	}
	if strings.ContainsAny(tag, ", \r\n") {
		return fmt.Errorf("reports: hlog tag %q contains a comma, space or line break", tag)
	}
	payload, err := w.enc.encode(h)
	if err != nil {
		return fmt.Errorf("reports: encoding %s: %w", tag, err)
	}
	prefix := ""
	if tag != "" {
		prefix = "Tag=" + tag + ","
	}
	_, err = fmt.Fprintf(w.bw, "%s%.3f,%.3f,%.3f,%s\n", prefix,
		start.Sub(w.base).Seconds(), end.Sub(start).Seconds(), float64(h.Max())/1000.0, payload)
	return w.sticky(err)
}

// WriteCounters appends a "#[Counters: start,length k=v …]" comment line
// (keys sorted). Values are written as given: the load runner writes running
// totals plus gauges such as sessions_active.
func (w *HlogWriter) WriteCounters(start, end time.Time, counters map[string]int64) error {
	if w.err != nil {
		return w.err
	}
	keys := make([]string, 0, len(counters))
	for k := range counters {
		if strings.ContainsAny(k, " =]\r\n") {
			return fmt.Errorf("reports: hlog counter name %q contains a space, '=', ']' or line break", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "#[Counters: %.3f,%.3f", start.Sub(w.base).Seconds(), end.Sub(start).Seconds())
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, counters[k])
	}
	b.WriteString("]\n")
	_, err := w.bw.WriteString(b.String())
	return w.sticky(err)
}

// Flush writes buffered lines to the file (no fsync).
func (w *HlogWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	return w.sticky(w.bw.Flush())
}

// Close flushes and, for CreateHlog, closes the file.
func (w *HlogWriter) Close() error {
	err := w.Flush()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("reports: %w", cerr)
		}
		w.f = nil
	}
	return err
}

func (w *HlogWriter) sticky(err error) error {
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("reports: writing hlog: %w", err)
	}
	return w.err
}

// Hlog is what ReadHlog reconstructs from one or more interval logs.
type Hlog struct {
	// StartTime is the log's #[StartTime] (whole seconds), or the first
	// interval's start when the log has none. RunStart is the exact start
	// from #[RunStart], zero when absent.
	StartTime, RunStart time.Time
	// Metrics holds one merged histogram (µs) per tag; untagged lines merge
	// under "".
	Metrics map[string]*hdr.Histogram
	// Intervals summarises every interval line in file order (the time
	// series of a report); Counters holds every #[Counters] line.
	Intervals []HlogInterval
	Counters  []HlogCounters
	// Comments holds the other comment lines, without the leading '#'
	// (at most MaxHlogComments).
	Comments []string
	// First and Last bound the union of the intervals read (zero when none).
	First, Last time.Time
	// Dropped counts values lost merging (0 unless a log used a wider
	// geometry than HistogramHighest). Skipped counts malformed lines that
	// were ignored, such as a line torn by a killed writer.
	Dropped int64
	Skipped int
}

// HlogInterval summarises one interval line. Percentiles are in µs.
type HlogInterval struct {
	Tag           string
	Start, End    time.Time
	Count         int64
	P50, P90, P99 int64
	Max           int64
}

// HlogCounters is one #[Counters] line.
type HlogCounters struct {
	Start, End time.Time
	Values     map[string]int64
}

// Limits of ReadHlog, so that a corrupt or hostile file cannot make it run
// away: the longest line, the number of lines, and the comments kept.
const (
	MaxHlogLineBytes = 64 << 20
	MaxHlogLines     = 1 << 26
	MaxHlogComments  = 1000
)

// ReadHlogFile reads the interval log at path; see ReadHlog.
func ReadHlogFile(path string) (*Hlog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer f.Close()
	l, err := ReadHlog(f)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w", path, err)
	}
	return l, nil
}

// ReadHlog reads an interval log and merges its interval histograms per tag
// (histograms are merged, percentiles never averaged). Malformed interval
// lines are skipped and counted, so the log of a run that was killed while
// writing still reads; an I/O error or a line longer than MaxHlogLineBytes is
// an error.
func ReadHlog(r io.Reader) (*Hlog, error) {
	l := &Hlog{Metrics: map[string]*hdr.Histogram{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxHlogLineBytes)
	var startSec, baseSec float64
	var haveStart, haveBase bool
	abs := func(rel float64) time.Time {
		if !haveBase {
			// HdrHistogram's rule: timestamps more than a year before the
			// start time are relative to it.
			if haveStart && rel < startSec-365*24*3600 {
				baseSec = startSec
			}
			haveBase = true
		}
		return secondsToTime(baseSec + rel)
	}
	for n := 0; sc.Scan(); n++ {
		if n >= MaxHlogLines {
			return nil, fmt.Errorf("more than %d lines", MaxHlogLines)
		}
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case line == "" || strings.HasPrefix(line, `"StartTimestamp"`):
		case strings.HasPrefix(line, "#[StartTime: "):
			if v, ok := leadingFloat(line[len("#[StartTime: "):]); ok {
				startSec, haveStart = v, true
				l.StartTime = secondsToTime(v)
			}
		case strings.HasPrefix(line, "#[BaseTime: "):
			if v, ok := leadingFloat(line[len("#[BaseTime: "):]); ok {
				baseSec, haveBase = v, true
			}
		case strings.HasPrefix(line, "#[RunStart: "):
			s := strings.TrimSuffix(line[len("#[RunStart: "):], "]")
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				l.RunStart = t
			}
		case strings.HasPrefix(line, "#[Counters: "):
			rel, length, values, ok := parseCounters(strings.TrimSuffix(line[len("#[Counters: "):], "]"))
			if !ok {
				l.Skipped++
				continue
			}
			c := HlogCounters{Start: abs(rel), Values: values}
			c.End = c.Start.Add(secondsToDuration(length))
			l.Counters = append(l.Counters, c)
		case line[0] == '#':
			if len(l.Comments) < MaxHlogComments {
				l.Comments = append(l.Comments, line[1:])
			}
		default:
			if err := l.addInterval(line, abs); err != nil {
				l.Skipped++
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if l.StartTime.IsZero() {
		l.StartTime = l.First
	}
	return l, nil
}

func (l *Hlog) addInterval(line string, abs func(float64) time.Time) error {
	tag := ""
	if strings.HasPrefix(line, "Tag=") {
		i := strings.IndexByte(line, ',')
		if i < 0 {
			return errors.New("tag without fields")
		}
		tag, line = line[4:i], line[i+1:]
	}
	f := strings.SplitN(line, ",", 4)
	if len(f) != 4 {
		return errors.New("want 4 fields")
	}
	start, err1 := strconv.ParseFloat(f[0], 64)
	length, err2 := strconv.ParseFloat(f[1], 64)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	p, err := hdr.DecodePacked([]byte(f[3]))
	if err != nil {
		return err
	}
	h := l.Metrics[tag]
	if h == nil {
		h = NewHistogram()
		l.Metrics[tag] = h
	}
	l.Dropped += p.MergeInto(h)
	iv := HlogInterval{Tag: tag, Start: abs(start), Count: p.TotalCount(), Max: p.Max()}
	iv.End = iv.Start.Add(secondsToDuration(length))
	if q := p.ValueAtPercentilesSlice([]float64{50, 90, 99}); len(q) == 3 {
		iv.P50, iv.P90, iv.P99 = q[0], q[1], q[2]
	}
	l.Intervals = append(l.Intervals, iv)
	l.widen(iv.Start, iv.End)
	return nil
}

func (l *Hlog) widen(start, end time.Time) {
	if l.First.IsZero() || start.Before(l.First) {
		l.First = start
	}
	if end.After(l.Last) {
		l.Last = end
	}
}

// Merge adds other's histograms, intervals and counters to l (for logs of
// shards of one run) and widens l's time window to the union of both.
func (l *Hlog) Merge(other *Hlog) {
	for tag, h := range other.Metrics {
		dst := l.Metrics[tag]
		if dst == nil {
			dst = NewHistogram()
			l.Metrics[tag] = dst
		}
		l.Dropped += dst.Merge(h)
	}
	l.Intervals = append(l.Intervals, other.Intervals...)
	l.Counters = append(l.Counters, other.Counters...)
	l.Dropped += other.Dropped
	l.Skipped += other.Skipped
	if !other.First.IsZero() {
		l.widen(other.First, other.Last)
	}
	if l.StartTime.IsZero() || (!other.StartTime.IsZero() && other.StartTime.Before(l.StartTime)) {
		l.StartTime = other.StartTime
	}
	if l.RunStart.IsZero() || (!other.RunStart.IsZero() && other.RunStart.Before(l.RunStart)) {
		l.RunStart = other.RunStart
	}
}

// parseCounters parses "12.000,1.000 a=1 b=2": the start relative to the
// base time and the length, both in seconds, and the values.
func parseCounters(s string) (rel, length float64, values map[string]int64, ok bool) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, 0, nil, false
	}
	se := strings.SplitN(fields[0], ",", 2)
	if len(se) != 2 {
		return 0, 0, nil, false
	}
	rel, err1 := strconv.ParseFloat(se[0], 64)
	length, err2 := strconv.ParseFloat(se[1], 64)
	if err1 != nil || err2 != nil {
		return 0, 0, nil, false
	}
	values = make(map[string]int64, len(fields)-1)
	for _, kv := range fields[1:] {
		k, v, found := strings.Cut(kv, "=")
		if !found {
			return 0, 0, nil, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, nil, false
		}
		values[k] = n
	}
	return rel, length, values, true
}

func secondsToDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

func leadingFloat(s string) (float64, bool) {
	end := 0
	for end < len(s) && (s[end] == '.' || (s[end] >= '0' && s[end] <= '9')) {
		end++
	}
	v, err := strconv.ParseFloat(s[:end], 64)
	return v, err == nil
}

func secondsToTime(s float64) time.Time {
	sec, frac := math.Modf(s)
	// Log timestamps carry milliseconds; rounding removes float noise.
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
}
