package metrics_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/metrics"
)

func TestUsageMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Sources{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.UsageCall("ok")
	m.UsageCall("ok")
	m.UsageCall("no_budget")
	m.UsageProgress(time.Date(2030, 2, 28, 0, 0, 0, 0, time.UTC), map[string]int{"synced": 3, "failed": 1}, 2, false)

	out := scrape(t, m)
	for _, want := range []string{
		`pnonboard_usage_sync_calls_total{outcome="ok"} 2`,
		`pnonboard_usage_sync_calls_total{outcome="no_budget"} 1`,
		`pnonboard_usage_sync_targets{status="synced"} 3`,
		`pnonboard_usage_sync_targets{status="failed"} 1`,
		`pnonboard_usage_sync_lag_days 2`,
		`pnonboard_usage_sync_day_timestamp_seconds 1.8984672e+09`,
		`pnonboard_usage_sync_last_pass_completed_timestamp_seconds 0`,
	} {
		require.Contains(t, out, want)
	}
	m.UsageProgress(time.Date(2030, 2, 28, 0, 0, 0, 0, time.UTC), map[string]int{"synced": 4, "failed": 0}, 0, true)
	require.NotContains(t, scrape(t, m), `pnonboard_usage_sync_last_pass_completed_timestamp_seconds 0`)
}
