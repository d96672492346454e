package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// usageCollectors are the usage sync's series (issue 15). The replica running the sync job sets
// the gauges as the pass goes; other replicas keep their last values (0 if they never ran it).
type usageCollectors struct {
	calls    *prometheus.CounterVec
	targets  *prometheus.GaugeVec
	lag      prometheus.Gauge
	day      prometheus.Gauge
	lastPass prometheus.Gauge
}

func newUsageCollectors(reg prometheus.Registerer) *usageCollectors {
	u := &usageCollectors{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pnonboard_usage_sync_calls_total",
			Help: "Usage calls the sync tried, by outcome (ok, failed, rate_limited, no_budget: refused by the budget, nothing sent).",
		}, []string{"outcome"}),
		targets: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pnonboard_usage_sync_targets",
			Help: "Apps (or keysets) seen by the current or last usage sync pass, by status (synced, up_to_date, waiting: backing off, failed).",
		}, []string{"status"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pnonboard_usage_sync_lag_days",
			Help: "The most days any app (or keyset) seen by the pass is behind the last day PubNub has.",
		}),
		day: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pnonboard_usage_sync_day_timestamp_seconds",
			Help: "The day (UTC midnight) the current or last usage sync pass syncs through.",
		}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pnonboard_usage_sync_last_pass_completed_timestamp_seconds",
			Help: "When a usage sync pass last saw every tenant.",
		}),
	}
	reg.MustRegister(u.calls, u.targets, u.lag, u.day, u.lastPass)
	return u
}

// UsageCall counts one usage sync call by outcome (usage.SyncerOpts.OnCallFunc).
func (m *Metrics) UsageCall(outcome string) { m.usage.calls.WithLabelValues(outcome).Inc() }

// UsageProgress records where a usage sync pass stands (from usage.SyncerOpts.OnProgressFunc):
// the day it syncs through, its targets by status, its lag in days, and whether it is done.
func (m *Metrics) UsageProgress(day time.Time, targets map[string]int, lagDays int, done bool) {
	for status, n := range targets {
		m.usage.targets.WithLabelValues(status).Set(float64(n))
	}
	m.usage.lag.Set(float64(lagDays))
	m.usage.day.Set(float64(day.Unix()))
	if done {
		m.usage.lastPass.SetToCurrentTime()
	}
}
