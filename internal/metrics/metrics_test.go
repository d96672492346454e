package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/metrics"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// sources reads the tenants and the budget as the service does.
func sources(db *pgxpool.Pool, budget *provisioner.Budget) metrics.Sources {
	return metrics.Sources{
		CountTenants: func(ctx context.Context) (map[string]int, error) {
			counts, err := tenants.CountByState(ctx, db)
			out := map[string]int{}
			for st, n := range counts {
				out[string(st)] = n
			}
			return out, err
		},
		Budget: func(ctx context.Context) (metrics.BudgetState, error) {
			s, err := budget.Snapshot(ctx)
			return metrics.BudgetState{Used: s.Used, Reserved: s.Reserved, PerWindow: s.PerWindow, Blocked: s.Blocked, UpstreamRemaining: s.UpstreamRemaining}, err
		},
	}
}

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	budget, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "pubnub-admin", PerMinute: 120})
	require.NoError(t, err)
	m := metrics.New(sources(db.Pool, budget), slog.New(slog.NewTextHandler(io.Discard, nil)))

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/config") {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(upstream.Close)
	client := &http.Client{Transport: m.UpstreamTransport(http.DefaultTransport)}
	for _, path := range []string{"/v2/keysets/5000001/config", "/v2/keysets/5000002/config", "/v2/oem/customers/3b241101-e2bb-4255-8caf-4136c566a962"} {
		resp, err := client.Get(upstream.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
	}
	_, err = client.Get("http://127.0.0.1:1/v2/apps") // nothing listens: no answer
	require.Error(t, err)

	m.RateLimited()
	m.JobOutcome("tenant_reconcile", "completed")
	m.JobOutcome("tenant_reconcile", "snoozed")
	m.WebhookAttempt("succeeded")
	_, err = db.Pool.Exec(context.Background(), `
		INSERT INTO tenants (external_id, name, environments, state, desired_state) VALUES
		('a', 'A', '{production}', 'active', 'active'), ('b', 'B', '{production}', 'failed', 'active')`)
	require.NoError(t, err)
	_, err = budget.Take(context.Background(), provisioner.ClassSignup)
	require.NoError(t, err)

	body := scrape(t, m)
	for _, want := range []string{
		`pnonboard_upstream_requests_total{operation="GET /keysets/{id}/config",status="429"} 2`,
		`pnonboard_upstream_requests_total{operation="GET /oem/customers/{id}",status="200"} 1`,
		`pnonboard_upstream_requests_total{operation="GET /apps",status="0"} 1`,
		`pnonboard_upstream_rate_limited_total 1`,
		`pnonboard_jobs_total{kind="tenant_reconcile",outcome="completed"} 1`,
		`pnonboard_jobs_total{kind="tenant_reconcile",outcome="snoozed"} 1`,
		`pnonboard_webhook_deliveries_total{outcome="succeeded"} 1`,
		`pnonboard_tenants{state="active"} 1`,
		`pnonboard_tenants{state="failed"} 1`,
		`pnonboard_tenants{state="pending"} 0`,
		`pnonboard_rate_budget_used 1`,
		`pnonboard_rate_budget_reserved 0`,
		`pnonboard_rate_budget_per_window 118`,
		`pnonboard_rate_budget_upstream_remaining -1`,
		`pnonboard_rate_budget_blocked_seconds 0`,
		`pnonboard_database_up 1`,
		`process_resident_memory_bytes`,
	} {
		require.Contains(t, body, want)
	}

	db.Pool.Close() // the database goes away: the scrape says so instead of failing
	require.Contains(t, scrape(t, m), `pnonboard_database_up 0`)
}
