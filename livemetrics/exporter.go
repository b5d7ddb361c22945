package livemetrics

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reactor-harness/reactor-harness/load"
)

// Namespace prefixes every metric name.
const Namespace = "reactor_harness"

// Buckets are the classic histogram buckets (seconds), for Prometheus
// servers that do not scrape native histograms: 100 µs to 30 s, spanning
// a loopback frame and a slow session start.
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// nativeFactor is the native histograms' bucket growth (schema 3: about
// 9 % between bucket bounds, the resolution Prometheus recommends).
const nativeFactor = 1.1

// Exporter is a load.Output serving the run on a Prometheus registry.
type Exporter struct {
	reg        *prometheus.Registry
	histograms []prometheus.Histogram
	metrics    []load.Metric
	counters   []prometheus.Counter
	errors     *prometheus.CounterVec

	mu   sync.Mutex
	last load.Snapshot
}

// Option configures an Exporter.
type Option func(*options)

type options struct {
	labels    prometheus.Labels
	goRuntime bool
}

// WithShard labels every metric shard="i" (of n), as `load --shard i/n` runs.
func WithShard(i, n int) Option {
	return func(o *options) {
		if n > 1 {
			o.labels["shard"] = strconv.Itoa(i)
		}
	}
}

// WithLabel adds a constant label to every metric (a run id, a region).
func WithLabel(name, value string) Option {
	return func(o *options) { o.labels[name] = value }
}

// WithProcessMetrics also serves the Go runtime and process collectors:
// the runner's own CPU and memory, the first suspect when numbers drift.
func WithProcessMetrics() Option { return func(o *options) { o.goRuntime = true } }

// New returns an Exporter with every metric registered (at zero until the
// first interval), so a scrape before the run starts already sees them.
func New(opts ...Option) *Exporter {
	o := options{labels: prometheus.Labels{}}
	for _, f := range opts {
		f(&o)
	}
	e := &Exporter{reg: prometheus.NewRegistry()}
	r := prometheus.WrapRegistererWith(o.labels, e.reg)
	if o.goRuntime {
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, m := range load.Metrics() {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Name: m.String() + "_seconds",
			Help:                        "The run's " + m.String() + " samples (load's metric of that name), in seconds.",
			Buckets:                     Buckets,
			NativeHistogramBucketFactor: nativeFactor,
		})
		r.MustRegister(h)
		e.histograms = append(e.histograms, h)
		e.metrics = append(e.metrics, m)
	}
	for _, c := range load.Counters() {
		pc := prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: c.String() + "_total",
			Help: "The run's " + c.String() + " count (load's counter of that name).",
		})
		r.MustRegister(pc)
		e.counters = append(e.counters, pc)
	}
	e.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "errors_total", Help: "Session errors by class.",
	}, []string{"class"})
	r.MustRegister(e.errors)
	e.registerState(r)
	return e
}

// registerState registers the gauges read from the last snapshot.
func (e *Exporter) registerState(r prometheus.Registerer) {
	gauge := func(name, help string, v func(s load.Snapshot) float64) {
		r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help},
			func() float64 {
				e.mu.Lock()
				defer e.mu.Unlock()
				return v(e.last)
			}))
	}
	gauge("sessions_active", "Sessions running now.", func(s load.Snapshot) float64 { return float64(s.Active) })
	gauge("sessions_planned", "Sessions this process will start.", func(s load.Snapshot) float64 { return float64(s.Planned) })
	gauge("elapsed_seconds", "Run time so far, warm-up included.", func(s load.Snapshot) float64 { return s.Elapsed.Seconds() })
	gauge("warmup", "1 while the run is in its warm-up (steady-state samples are not recorded).", func(s load.Snapshot) float64 {
		if s.Warmup {
			return 1
		}
		return 0
	})
}

// AddInterval records one interval (load.Output).
func (e *Exporter) AddInterval(iv *load.Interval, s load.Snapshot) {
	for i, m := range e.metrics {
		if h := iv.Histograms[m]; h != nil && h.TotalCount() > 0 {
			observeHDR(e.histograms[i], h)
		}
	}
	for i, c := range load.Counters() {
		if d := iv.Counters[c]; d > 0 {
			e.counters[i].Add(float64(d))
		}
	}
	for class, n := range iv.Errors {
		if n > 0 {
			e.errors.WithLabelValues(class).Add(float64(n))
		}
	}
	e.mu.Lock()
	e.last = s
	e.mu.Unlock()
}

// Registry is the registry the metrics live on (to add one's own).
func (e *Exporter) Registry() *prometheus.Registry { return e.reg }

// Handler serves the registry in the Prometheus exposition formats
// (protobuf when the scraper asks, which native histograms need).
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{Registry: e.reg})
}
