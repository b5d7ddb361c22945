package mockserver

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serverMetrics is the mock's own Prometheus registry, served at GET
// /metrics the way a runtime exposes its metrics: request counts and
// durations per route, sessions per state, live peer connections. One
// registry per Server, so several mocks in one process do not collide.
// /metrics needs no token and is not journaled (like /__admin/).
type serverMetrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

const mockNamespace = "reactor_mock"

func newServerMetrics(s *Server) *serverMetrics {
	m := &serverMetrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: mockNamespace, Name: "http_requests_total",
		Help: "Requests answered on protocol routes, by route pattern and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: mockNamespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer a protocol route, faults and scripted latency included.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), NativeHistogramBucketFactor: 1.1,
	}, []string{"route"})
	m.reg.MustRegister(m.requests, m.duration, &sessionCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one answered protocol request.
func (m *serverMetrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func (s *Server) metricsRoute() {
	h := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	s.mux.Handle("GET /metrics", h)
}

// sessionCollector reads the session store and the plane at scrape time,
// so the gauges are never stale and cost nothing between scrapes.
type sessionCollector struct{ s *Server }

var (
	sessionsDesc = prometheus.NewDesc(mockNamespace+"_sessions", "Sessions the mock holds, by state.", []string{"state"}, nil)
	connsDesc    = prometheus.NewDesc(mockNamespace+"_peer_connections", "Peer connections open now.", nil, nil)
	journalDesc  = prometheus.NewDesc(mockNamespace+"_journal_entries", "Entries in the request journal (a bounded ring).", nil, nil)
)

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- sessionsDesc
	ch <- connsDesc
	ch <- journalDesc
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	byState := map[string]int{}
	for _, ss := range c.s.sessions.snapshot() {
		byState[string(ss.State)]++
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(c.s.rtc.conns()))
	ch <- prometheus.MustNewConstMetric(journalDesc, prometheus.GaugeValue, float64(c.s.journal.Len()))
}
