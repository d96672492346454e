package webhooks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// TestListEventsPagesInXIDOrderAcrossDigitCounts: issue 11 saw events at xids 886, 891, 893,
// 912 and 1347 listed 1347 first (the listing sorted the xid's text while its cursor compared
// numbers), so limit=1 showed one event of five and limit=2 one event four times. The events
// here carry xids of one to five digits, set explicitly (all long committed, below any running
// transaction), and every page size must list each once, in numeric xid order.
func TestListEventsPagesInXIDOrderAcrossDigitCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool})

	var current uint64
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&current))
	// A fresh cluster has used some 700 xids before any test runs.
	xids := []uint64{9, 10, 11, 99, 100, 101, 650}
	require.Greater(t, current, xids[len(xids)-1], "every explicit xid must be long committed")
	// Inserted in text order, the order the bug listed them in.
	for _, x := range []uint64{10, 100, 101, 11, 650, 9, 99} {
		_, err := db.Pool.Exec(ctx, `
			INSERT INTO events (id, type, tenant_external_id, payload, xid)
			VALUES ($1, 'tenant.provisioned', 'acme', '{}', $2::text::xid8)`, fmt.Sprintf("evt_%d", x), fmt.Sprint(x))
		require.NoError(t, err)
	}
	// And one at a real, current xid (three or more digits): it sorts last.
	_, err := db.Pool.Exec(ctx, `INSERT INTO events (id, type, tenant_external_id, payload) VALUES ('evt_now', 'tenant.provisioned', 'acme', '{}')`)
	require.NoError(t, err)
	var want []string
	for _, x := range xids {
		want = append(want, fmt.Sprintf("evt_%d", x))
	}
	want = append(want, "evt_now")

	for _, limit := range []int{1, 2, 3, 5, 100} {
		t.Run(fmt.Sprintf("Limit%d", limit), func(t *testing.T) {
			t.Parallel()
			pageAll := func() []string {
				var got []string
				cursor := ""
				for page := 0; ; page++ {
					require.Less(t, page, 50)
					list, next, err := svc.ListEvents(ctx, webhooks.EventFilter{Limit: limit, Cursor: cursor})
					require.NoError(t, err)
					for _, e := range list {
						got = append(got, e.ID)
					}
					if next == "" {
						return got
					}
					cursor = next
				}
			}
			got := pageAll()
			// evt_now waits for every older transaction in the cluster (other tests') to end.
			for try := 0; len(got) == len(want)-1 && try < 100; try++ {
				require.Equal(t, want[:len(want)-1], got)
				time.Sleep(50 * time.Millisecond)
				got = pageAll()
			}
			require.Equal(t, want, got)
		})
	}
}
