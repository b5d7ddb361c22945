package htmlreport

import (
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are inline SVG written here rather than drawn by a JavaScript
// charting library: the report must open offline with no fetch, a
// library inlined into every report would weigh more than all its data
// (uPlot ~50 KB, Chart.js ~200 KB minified), and the plots needed — a
// handful of polylines on a linear or a log "1/(1-percentile)" axis — are
// a few dozen lines of Go. The output is static, prints, and renders with
// JavaScript disabled. Every text written into the SVG goes through
// template.HTMLEscapeString.

// palette is colour-blind friendly (Okabe–Ito), in series order.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

func color(i int) string { return palette[i%len(palette)] }

// series is one line of a chart.
type series struct {
	Name   string
	Color  string
	Points []Point
	Step   bool // draw as steps (a gauge)
	Dash   bool
}

type tick struct {
	V     float64
	Label string
}

type axis struct {
	Min, Max float64
	Ticks    []tick
	Title    string
}

type chart struct {
	Title  string
	Class  string // "dist" or "ts": used by the browser test and CSS
	X, Y   axis
	Series []series
	W, H   float64
}

const (
	mLeft, mRight, mTop, mBottom = 52.0, 36.0, 28.0, 40.0
)

func f1(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// svg renders c. Coordinates are rounded to 0.1 px to keep the file small.
func (c chart) svg() template.HTML {
	if c.W == 0 {
		c.W, c.H = 460, 250
	}
	pw, ph := c.W-mLeft-mRight, c.H-mTop-mBottom
	sx := func(v float64) float64 {
		if c.X.Max == c.X.Min {
			return mLeft
		}
		return mLeft + (v-c.X.Min)/(c.X.Max-c.X.Min)*pw
	}
	sy := func(v float64) float64 {
		if c.Y.Max == c.Y.Min {
			return mTop + ph
		}
		return mTop + ph - (v-c.Y.Min)/(c.Y.Max-c.Y.Min)*ph
	}
	esc := template.HTMLEscapeString
	var b strings.Builder
	b.WriteString(`<svg class="chart ` + esc(c.Class) + `" viewBox="0 0 ` + f1(c.W) + " " + f1(c.H) + `" role="img" aria-label="` + esc(c.Title) + `">`)
	b.WriteString(`<text class="ct" x="` + f1(mLeft) + `" y="16">` + esc(c.Title) + `</text>`)
	// Grid and ticks.
	b.WriteString(`<g class="grid">`)
	for _, t := range c.Y.Ticks {
		y := f1(sy(t.V))
		b.WriteString(`<line x1="` + f1(mLeft) + `" x2="` + f1(mLeft+pw) + `" y1="` + y + `" y2="` + y + `"/>`)
	}
	for _, t := range c.X.Ticks {
		x := f1(sx(t.V))
		b.WriteString(`<line x1="` + x + `" x2="` + x + `" y1="` + f1(mTop) + `" y2="` + f1(mTop+ph) + `"/>`)
	}
	b.WriteString(`</g><g class="ax">`)
	for _, t := range c.Y.Ticks {
		b.WriteString(`<text x="` + f1(mLeft-4) + `" y="` + f1(sy(t.V)+3.5) + `" text-anchor="end">` + esc(t.Label) + `</text>`)
	}
	for _, t := range c.X.Ticks {
		b.WriteString(`<text x="` + f1(sx(t.V)) + `" y="` + f1(mTop+ph+14) + `" text-anchor="middle">` + esc(t.Label) + `</text>`)
	}
	b.WriteString(`<text x="` + f1(mLeft+pw/2) + `" y="` + f1(c.H-6) + `" text-anchor="middle">` + esc(c.X.Title) + `</text>`)
	b.WriteString(`<text transform="translate(12 ` + f1(mTop+ph/2) + `) rotate(-90)" text-anchor="middle">` + esc(c.Y.Title) + `</text>`)
	b.WriteString(`<rect class="frame" x="` + f1(mLeft) + `" y="` + f1(mTop) + `" width="` + f1(pw) + `" height="` + f1(ph) + `"/></g>`)
	// Series.
	for i, s := range c.Series {
		if len(s.Points) == 0 {
			continue
		}
		col := s.Color
		if col == "" {
			col = color(i)
		}
		var d strings.Builder
		prevY := 0.0
		for j, p := range s.Points {
			x, y := sx(clamp(p.X, c.X.Min, c.X.Max)), sy(clamp(p.Y, c.Y.Min, c.Y.Max))
			switch {
			case j == 0:
				d.WriteString("M" + f1(x) + " " + f1(y))
			case s.Step:
				d.WriteString("H" + f1(x) + "V" + f1(y))
			default:
				d.WriteString("L" + f1(x) + " " + f1(y))
			}
			prevY = y
		}
		if len(s.Points) == 1 { // a lone point: draw a short tick so it shows
			d.WriteString("h2V" + f1(prevY))
		}
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="5 3"`
		}
		b.WriteString(`<path class="series" d="` + d.String() + `" stroke="` + esc(col) + `"` + dash + `><title>` + esc(s.Name) + `</title></path>`)
	}
	// Legend, right-aligned in the title row, when more than one series.
	if len(c.Series) > 1 {
		x := c.W - 6
		for i := len(c.Series) - 1; i >= 0; i-- {
			s := c.Series[i]
			col := s.Color
			if col == "" {
				col = color(i)
			}
			name := shorten(s.Name, 22)
			w := 6.4*float64(len([]rune(name))) + 22
			x -= w
			b.WriteString(`<g class="lg"><line x1="` + f1(x) + `" x2="` + f1(x+14) + `" y1="12.5" y2="12.5" stroke="` + esc(col) + `"/>`)
			b.WriteString(`<text x="` + f1(x+18) + `" y="16">` + esc(name) + `</text></g>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: every text above is escaped
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func clamp(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// niceAxis returns 0…a nice ceiling of hi with about n ticks.
func niceAxis(hi float64, n int, unit string) axis {
	if !(hi > 0) || math.IsInf(hi, 0) {
		hi = 1
	}
	step := niceStep(hi / float64(n))
	top := math.Ceil(hi/step) * step
	a := axis{Min: 0, Max: top}
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	for i := 0; float64(i)*step <= top+step/2; i++ {
		v := float64(i) * step
		a.Ticks = append(a.Ticks, tick{V: v, Label: strconv.FormatFloat(v, 'f', decimals, 64) + unit})
	}
	return a
}

func niceStep(raw float64) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		return mag
	case f <= 2:
		return 2 * mag
	case f <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// fmtNum prints a number with at most 3 significant decimals.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	}
	return trimZeros(strconv.FormatFloat(v, 'f', 3, 64))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// percentileX maps a percentile fraction to the HdrHistogram plot axis,
// log10(1/(1-p)): 0% → 0, 90% → 1, 99% → 2, 99.9% → 3, … p = 1 maps to
// the axis end (it is infinite).
func percentileX(p, end float64) float64 {
	if p >= 1 {
		return end
	}
	return math.Min(end, math.Log10(1/(1-p)))
}

// distChart draws percentile distributions on the log "1/(1-percentile)"
// axis: at least 0 … 99.99%, more decades when the data reaches them.
func distChart(title string, dists []*Distribution, names []string) chart {
	decades := 4.0
	maxY := 0.0
	for _, d := range dists {
		if d == nil {
			continue
		}
		for _, p := range d.Points {
			if p.X < 1 {
				decades = math.Max(decades, math.Min(6, math.Ceil(math.Log10(1/(1-p.X))-1e-9)))
			}
			maxY = math.Max(maxY, p.Y)
		}
	}
	c := chart{Title: title, Class: "dist", Y: niceAxis(maxY, 5, ""), X: axis{Min: 0, Max: decades, Title: "percentile (log scale of 1/(1−p))"}}
	c.Y.Title = "latency (ms)"
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	for i := 0; i <= int(decades); i++ {
		c.X.Ticks = append(c.X.Ticks, tick{V: float64(i), Label: labels[i]})
	}
	for i, d := range dists {
		if d == nil {
			continue
		}
		s := series{Name: names[i], Color: color(i)}
		for _, p := range d.Points {
			s.Points = append(s.Points, Point{X: percentileX(p.X, decades), Y: p.Y})
		}
		c.Series = append(c.Series, s)
	}
	return c
}

// timeAxis is 0 … the last time, in seconds.
func timeAxis(maxT float64) axis {
	a := niceAxis(maxT, 6, "")
	a.Title = "time since start (s)"
	return a
}
