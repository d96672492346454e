// Package metrics is pnonboard's Prometheus instrumentation: one registry per process, the
// collectors every part reports to, and the /metrics handler. Gauges that describe shared
// state (tenants by state, the rate budget) are read from Postgres at scrape time, so every
// replica reports the same truth.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Metrics holds the registry and the collectors the service updates.
type Metrics struct {
	registry         *prometheus.Registry
	httpDuration     *prometheus.HistogramVec
	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	rateLimited      prometheus.Counter
	jobs             *prometheus.CounterVec
	webhooks         *prometheus.CounterVec
	opPattern        *regexp.Regexp
	usage            *usageCollectors
}

// New registers every collector. src feeds the scrape-time gauges; logger hears of scrape
// errors.
func New(src Sources, logger *slog.Logger) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pnonboard_http_request_duration_seconds", Help: "HTTP requests by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method", "status"}),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pnonboard_upstream_requests_total", Help: "PubNub Admin API requests by operation and status (0: no answer).",
		}, []string{"operation", "status"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pnonboard_upstream_request_duration_seconds", Help: "PubNub Admin API request latency by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pnonboard_upstream_rate_limited_total", Help: "429 answers from the PubNub Admin API.",
		}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pnonboard_jobs_total", Help: "Finished job attempts by kind and outcome (completed, failed, cancelled, snoozed, discarded, rescued).",
		}, []string{"kind", "outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pnonboard_webhook_deliveries_total", Help: "Webhook delivery attempts by outcome (succeeded, retrying, failed).",
		}, []string{"outcome"}),
		// Path segments that are IDs: numbers, UUIDs, keys.
		opPattern: regexp.MustCompile(`^([0-9]+|[0-9a-fA-F-]{36}|sec-c-[A-Za-z0-9]+)$`),
	}
	reg.MustRegister(m.httpDuration, m.upstreamRequests, m.upstreamDuration, m.rateLimited, m.jobs, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&dbCollector{src: src, logger: logger,
			tenants:   prometheus.NewDesc("pnonboard_tenants", "Tenants by state.", []string{"state"}, nil),
			used:      prometheus.NewDesc("pnonboard_rate_budget_used", "Admin API calls in the shared budget's last 61 seconds.", nil, nil),
			reserved:  prometheus.NewDesc("pnonboard_rate_budget_reserved", "Admin API calls reserved ahead (signups waiting for their slot).", nil, nil),
			perWindow: prometheus.NewDesc("pnonboard_rate_budget_per_window", "The most calls any 60 seconds may hold.", nil, nil),
			blocked:   prometheus.NewDesc("pnonboard_rate_budget_blocked_seconds", "Seconds until a 429's block on the budget ends (0: not blocked).", nil, nil),
			upstream:  prometheus.NewDesc("pnonboard_rate_budget_upstream_remaining", "What PubNub last said was left in its window, less what was granted since (-1: unknown).", nil, nil),
			drifted:   prometheus.NewDesc("pnonboard_tenants_drifted", "Tenants whose last check found drift of a kind.", []string{"kind"}, nil),
			sweepAge:  prometheus.NewDesc("pnonboard_drift_sweep_age_seconds", "Seconds since the last full drift sweep finished (-1: none has).", nil, nil),
			up:        prometheus.NewDesc("pnonboard_database_up", "Whether the scrape could read the database.", nil, nil),
		})
	m.usage = newUsageCollectors(reg)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRequest records one finished HTTP request (api.ServerOpts.OnRequestFunc). route must be
// a route pattern (or "unmatched"), never a raw path. Every label takes a bounded set of
// values, whatever the callers send, so the series cannot grow without bound: a method
// outside the standard few is "other", a status outside 100–599 is "other".
func (m *Metrics) ObserveRequest(method, route string, status int, elapsed time.Duration) {
	m.httpDuration.WithLabelValues(route, MethodLabel(method), statusLabel(status)).Observe(elapsed.Seconds())
}

// MethodLabel is the method label of a request: the method itself when it is one of GET,
// HEAD, POST, PUT, PATCH, DELETE and OPTIONS; "other" for anything else a client sends.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status)
}

// RateLimited counts a 429 from upstream.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }

// JobOutcome is how a job attempt ended, as the jobs counter labels it.
type JobOutcome string

// The job outcomes.
const (
	JobCompleted JobOutcome = "completed"
	JobFailed    JobOutcome = "failed"
	JobDiscarded JobOutcome = "discarded"
	JobCancelled JobOutcome = "cancelled"
	JobSnoozed   JobOutcome = "snoozed"
	JobRescued   JobOutcome = "rescued" // taken back from a replica that died mid-attempt
)

// JobOutcome counts a finished job attempt.
func (m *Metrics) JobOutcome(kind string, outcome JobOutcome) {
	m.jobs.WithLabelValues(kind, string(outcome)).Inc()
}

// WebhookAttempt counts a webhook delivery attempt's outcome.
func (m *Metrics) WebhookAttempt(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

// UpstreamTransport wraps base so every request to PubNub is counted by operation and status.
// Put it under the rate budget's transport: what it counts is what reached upstream.
func (m *Metrics) UpstreamTransport(base http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		op := m.operation(req)
		start := time.Now()
		resp, err := base.RoundTrip(req)
		m.upstreamDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
		status := "0"
		if err == nil {
			status = strconv.Itoa(resp.StatusCode)
		}
		m.upstreamRequests.WithLabelValues(op, status).Inc()
		return resp, err
	})
}

// operation names a request by method and path with IDs replaced: "PATCH /keysets/{id}/config".
func (m *Metrics) operation(req *http.Request) string {
	path := req.URL.Path
	if i := strings.Index(path, "/v2/"); i >= 0 {
		path = path[i+3:]
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if m.opPattern.MatchString(s) {
			segs[i] = "{id}"
		}
	}
	return req.Method + " " + strings.Join(segs, "/")
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Sources feed the gauges read at scrape time; a nil field leaves its gauges out.
type Sources struct {
	// DB is where tenants are counted by state.
	DB postgres.DBTX
	// Budget is the shared upstream rate budget.
	Budget interface {
		Snapshot(ctx context.Context) (provisioner.BudgetSnapshot, error)
	}
	// Drift is what the drift checks found.
	Drift interface {
		CountDrift(ctx context.Context) (map[tenants.DriftKind]int, error)
		// LastSweep is when the last full drift sweep finished (false: none has).
		LastSweep(ctx context.Context) (time.Time, bool, error)
	}
}

// dbCollector reads shared state at scrape time.
type dbCollector struct {
	src                                                   Sources
	logger                                                *slog.Logger
	tenants, used, reserved, perWindow, blocked, upstream *prometheus.Desc
	drifted, sweepAge, up                                 *prometheus.Desc
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tenants, c.used, c.reserved, c.perWindow, c.blocked, c.upstream, c.drifted, c.sweepAge, c.up} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 1.0
	defer func() { ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up) }()

	if c.src.DB != nil {
		counts, err := tenants.CountByState(ctx, c.src.DB)
		if err != nil {
			up = 0
			c.logger.Warn("metrics: cannot count tenants", "err", err)
			return
		}
		for state, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.tenants, prometheus.GaugeValue, float64(n), string(state))
		}
	}
	if c.src.Budget != nil {
		b, err := c.src.Budget.Snapshot(ctx)
		if err != nil {
			up = 0
			c.logger.Warn("metrics: cannot read the rate budget", "err", err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(b.Used))
		ch <- prometheus.MustNewConstMetric(c.reserved, prometheus.GaugeValue, float64(b.Reserved))
		ch <- prometheus.MustNewConstMetric(c.perWindow, prometheus.GaugeValue, float64(b.PerWindow))
		ch <- prometheus.MustNewConstMetric(c.blocked, prometheus.GaugeValue, b.Blocked.Seconds())
		ch <- prometheus.MustNewConstMetric(c.upstream, prometheus.GaugeValue, float64(b.UpstreamRemaining))
	}
	if c.src.Drift != nil {
		counts, err := c.src.Drift.CountDrift(ctx)
		if err != nil {
			up = 0
			c.logger.Warn("metrics: cannot count drift", "err", err)
			return
		}
		for kind, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.drifted, prometheus.GaugeValue, float64(n), string(kind))
		}
		age := -1.0
		at, ok, err := c.src.Drift.LastSweep(ctx)
		if err != nil {
			up = 0
			c.logger.Warn("metrics: cannot read the last drift sweep", "err", err)
			return
		}
		if ok {
			age = time.Since(at).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.sweepAge, prometheus.GaugeValue, age)
	}
}
