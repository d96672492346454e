package console

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDetailPairs(t *testing.T) {
	got := detailPairs(map[string]any{
		"reason": "unpaid",
		"drift":  []any{map[string]any{"kind": "keyset_deleted", "actual": "deleted"}},
		"before": map[string]any{"name": "Acme"},
		"count":  float64(3),
	})
	require.Equal(t, []string{
		`before: {"name":"Acme"}`,
		"count: 3",
		`drift: [{"actual":"deleted","kind":"keyset_deleted"}]`,
		"reason: unpaid",
	}, got)
}
