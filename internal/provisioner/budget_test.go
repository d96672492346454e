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
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// Two replicas' transports share one budget row in front of the sandbox's fixed-window
	// limiter: once the first answer has shown the headers, the window's whole room goes at
	// once, and not one call is refused.
	t.Run("RoomGoesAtOnceAndTwoReplicasNeverHit429", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		sb := sandbox.New(&sandbox.Opts{APIKey: "k", RatePerMinute: 60})
		srv := httptest.NewServer(sb)
		t.Cleanup(srv.Close)
		var clients []*http.Client
		for range 2 {
			b, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "shared", PerMinute: 60})
			require.NoError(t, err)
			clients = append(clients, &http.Client{Transport: &provisioner.Transport{Budget: b, Base: http.DefaultTransport}})
		}
		get := func(c *http.Client) int {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v2/apps", nil)
			req.Header.Set("Authorization", "k")
			req.Header.Set("PubNub-Version", "2026-02-09")
			resp, err := c.Do(req)
			if err != nil {
				_, noBudget := provisioner.IsNoBudget(err)
				require.True(t, noBudget, "%v", err)
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		require.Equal(t, http.StatusOK, get(clients[0]), "the first call shows the headers")

		start := time.Now()
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for time.Since(start) < 2*time.Second {
					switch get(clients[i%2]) {
					case http.StatusOK:
						ok.Add(1)
					case 0:
						refused.Add(1)
						time.Sleep(20 * time.Millisecond)
					default:
						t.Errorf("upstream refused a call")
						return
					}
				}
			})
		}
		wg.Wait()
		require.Equal(t, int64(60-2-1), ok.Load(), "the window's room, less the margin and the first call, at once")
		for _, c := range sb.Calls() {
			require.NotEqual(t, http.StatusTooManyRequests, c.Status)
		}
	})

	t.Run("ASignupWaitsForItsSlotAndALaterClassIsRefused", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		// No headers ever: calls are spaced out at one a second.
		b, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "spaced", PerMinute: 30, MaxWait: 5 * time.Second})
		require.NoError(t, err)
		_, err = b.Take(ctx, provisioner.ClassSignup)
		require.NoError(t, err)
		_, err = b.Take(ctx, provisioner.ClassSignup) // sleeps until the next second
		require.NoError(t, err)
		_, err = b.Take(ctx, provisioner.ClassBackground)
		wait, ok := provisioner.IsNoBudget(err)
		require.True(t, ok, "%v", err)
		require.LessOrEqual(t, wait, 2*time.Second)

		s, err := b.Snapshot(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, s.Used)
		require.False(t, s.Burst)
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

		// Another replica's next call does not reach upstream: the budget is blocked until the reset.
		other, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "limited", PerMinute: 6000})
		require.NoError(t, err)
		_, err = other.Take(ctx, provisioner.ClassSignup)
		wait, ok := provisioner.IsNoBudget(err)
		require.True(t, ok, "%v", err)
		require.InDelta(t, 30*time.Second, wait, float64(2*time.Second))
		_, err = (&http.Client{Transport: &provisioner.Transport{Budget: other, Base: http.DefaultTransport}}).Get(upstream.URL)
		require.Error(t, err)
		require.Equal(t, int64(1), calls.Load())
		s, err := other.Snapshot(ctx)
		require.NoError(t, err)
		require.InDelta(t, 30, s.Blocked.Seconds(), 2)
	})
}
