package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/metrics"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// tenantsSeries is the pnonboard_tenants sample for state.
func tenantsSeries(state tenants.State, n int) string {
	return fmt.Sprintf("pnonboard_tenants{state=%q} %d", state, n)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	budget, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "pubnub-admin", PerMinute: 120})
	require.NoError(t, err)
	m := metrics.New(metrics.Sources{DB: db.Pool, Budget: budget}, slog.New(slog.NewTextHandler(io.Discard, nil)))

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
	m.JobOutcome("tenant_reconcile", metrics.JobCompleted)
	m.JobOutcome("tenant_reconcile", metrics.JobSnoozed)
	m.WebhookAttempt("succeeded")
	tenantstest.Insert(t, db.Pool, "a", tenants.StateActive, "production")
	tenantstest.Insert(t, db.Pool, "b", tenants.StateFailed, "production")
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
		tenantsSeries(tenants.StateActive, 1),
		tenantsSeries(tenants.StateFailed, 1),
		tenantsSeries(tenants.StatePending, 0),
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

func TestObserveRequestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	m := metrics.New(metrics.Sources{DB: db.Pool}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range 5000 {
		method := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}[i%7]
		if i%2 == 1 {
			method = fmt.Sprintf("X-%d", i) // made-up methods: one "other" series
		}
		m.ObserveRequest(method, "unmatched", []int{404, 405, 0, 1000, -1}[i%5], time.Millisecond)
	}
	n := 0
	for _, line := range strings.Split(scrape(t, m), "\n") {
		if strings.HasPrefix(line, "pnonboard_http_request_duration_seconds_count{") {
			n++
			require.Regexp(t, `method="(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|other)".*status="(404|405|other)"`, line)
		}
	}
	require.LessOrEqual(t, n, 8*3)
}
