package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestUsageMetrics(t *testing.T) {
	t.Parallel()

	type metrics struct {
		Metrics []map[string]map[string]float64 `json:"metrics"`
	}
	type testBundle struct {
		sb    *sandbox.Sandbox
		appID string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, _ := newSandbox(t, nil)
		return &testBundle{sb: sb, appID: createApp(t, sb, "app").ID}
	}

	t.Run("ArrayShapeOneObjectPerMetric", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := "/v2/usage-metrics?entityType=app&entityId=" + b.appID + "&from=2026-01-30&to=2026-02-02&metrics=txn_total,mtd_uuid"

		got := decode[metrics](t, do(t, b.sb, http.MethodGet, path, nil), http.StatusOK)

		require.Len(t, got.Metrics, 2)
		require.Len(t, got.Metrics[0]["txn_total"], 3, "to is exclusive")
		require.Contains(t, got.Metrics[0]["txn_total"], "2026-02-01")
		require.NotContains(t, got.Metrics[0]["txn_total"], "2026-02-02")
		require.Contains(t, got.Metrics[1], "mtd_uuid")
		again := decode[metrics](t, do(t, b.sb, http.MethodGet, path, nil), http.StatusOK)
		require.Equal(t, got, again, "values are deterministic")
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, query, message string
		}{
			{"UnknownMetric", "entityType=account&entityId=1&from=2026-01-01&to=2026-01-02&metrics=txn_total,invalid_metric_name", "Invalid metrics: invalid_metric_name"},
			{"MissingMetrics", "entityType=account&entityId=1&from=2026-01-01&to=2026-01-02", "Invalid metrics: "},
			{"BadEntityType", "entityType=customer&entityId=1&from=2026-01-01&to=2026-01-02&metrics=txn_total", "entityType must be one of the following values: account, app, keyset"},
			{"BadFrom", "entityType=account&entityId=1&from=01/01/2026&to=2026-01-02&metrics=txn_total", "from must be a date in YYYY-MM-DD format"},
			{"EmptyRange", "entityType=account&entityId=1&from=2026-01-02&to=2026-01-02&metrics=txn_total", "to must be after from, at most 366 days later"},
			{"TooLong", "entityType=account&entityId=1&from=2024-01-01&to=2026-01-02&metrics=txn_total", "to must be after from, at most 366 days later"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				body := requireError(t, do(t, b.sb, http.MethodGet, "/v2/usage-metrics?"+tt.query, nil), http.StatusBadRequest, tt.message)
				require.Equal(t, "Bad Request", body.Error, "the usage endpoint uses the NestJS error text")
			})
		}
	})

	t.Run("UnknownEntity", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/usage-metrics?entityType=keyset&entityId=42&from=2026-01-01&to=2026-01-02&metrics=txn_total", nil), http.StatusNotFound)
	})
}
