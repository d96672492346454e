package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUsageBenchFailsItsTargets: the usage bench's verdicts are errors (so `make bench` exits
// non-zero), not only a "NO" in its table.
func TestUsageBenchFailsItsTargets(t *testing.T) {
	t.Parallel()
	metrics := []string{"txn_total", "mtd_uuid"}

	t.Run("SumsAgree", func(t *testing.T) {
		t.Parallel()
		json := map[string]float64{"txn_total": 1500, "mtd_uuid": 42}
		require.NoError(t, sumsAgree(metrics, json, map[string]float64{"txn_total": 1500, "mtd_uuid": 42}))
		err := sumsAgree(metrics, json, map[string]float64{"txn_total": 1500, "mtd_uuid": 41})
		require.ErrorContains(t, err, "mtd_uuid")
		require.NotContains(t, err.Error(), "txn_total", "only the metric that differs")
		require.ErrorContains(t, sumsAgree(metrics, json, map[string]float64{"mtd_uuid": 42}), "txn_total", "a column missing from the CSV")
	})

	t.Run("CallsWithin", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, callsWithin(100, 100, []int{100, 99, 0}))
		require.ErrorContains(t, callsWithin(100, 100, []int{100, 101, 100}), "day +2")
		require.ErrorContains(t, callsWithin(100, 200, []int{100}), "backfill")
	})
}
