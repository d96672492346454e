package provisioner_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
)

func TestBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("NeverExceedsTheRateAcrossReplicas", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		// Two "replicas" (two Budget values on one row), four callers each.
		var budgets []*provisioner.Budget
		for range 2 {
			b, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "shared", PerMinute: 600, MaxWait: time.Second})
			require.NoError(t, err)
			budgets = append(budgets, b)
		}
		const window = 2 * time.Second
		start := time.Now()
		var taken atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				b := budgets[i%2]
				for time.Since(start) < window {
					err := b.Take(ctx)
					if wait, ok := provisioner.IsNoBudget(err); ok {
						time.Sleep(min(wait, 50*time.Millisecond))
						continue
					}
					require.NoError(t, err)
					if time.Since(start) <= window {
						taken.Add(1)
					}
				}
			})
		}
		wg.Wait()
		// 594 tokens a minute (the limit less its 1% margin) plus the bucket's one.
		limit := 1 + 594.0/60*window.Seconds()
		t.Logf("took %d tokens in %s (limit %.1f)", taken.Load(), window, limit)
		require.LessOrEqual(t, float64(taken.Load()), limit)
		require.Greater(t, float64(taken.Load()), limit*0.5, "callers are not starved")
	})

	t.Run("WaitBeyondMaxWaitIsRefusedWithTheWait", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		b, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "slow", PerMinute: 60, MaxWait: 100 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, b.Take(ctx)) // the bucket's one token
		err = b.Take(ctx)
		wait, ok := provisioner.IsNoBudget(err)
		require.True(t, ok, "%v", err)
		require.Greater(t, wait, 500*time.Millisecond)
		require.LessOrEqual(t, wait, 2*time.Second)
	})

	t.Run("A429BlocksEveryCallerUntilTheReset", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		b, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "limited", PerMinute: 6000})
		require.NoError(t, err)
		var calls atomic.Int64
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("X-RateLimit-Reset", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		t.Cleanup(upstream.Close)
		var heard time.Duration
		client := &http.Client{Transport: &provisioner.Transport{Budget: b, Base: http.DefaultTransport, OnRateLimitedFunc: func(d time.Duration) { heard = d }}}

		resp, err := client.Get(upstream.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.Equal(t, 30*time.Second, heard)

		// Another replica's next call does not reach upstream: the budget is empty until the reset.
		other, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "limited", PerMinute: 6000})
		require.NoError(t, err)
		wait, ok := provisioner.IsNoBudget(other.Take(ctx))
		require.True(t, ok)
		require.InDelta(t, 30*time.Second, wait, float64(2*time.Second))
		_, err = (&http.Client{Transport: &provisioner.Transport{Budget: other, Base: http.DefaultTransport}}).Get(upstream.URL)
		require.Error(t, err)
		require.Equal(t, int64(1), calls.Load())
	})
}
