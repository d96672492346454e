package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/testclock"
	"github.com/pnonboard/pnonboard/internal/usage"
)

// usageBench measures the usage report and sync for N tenants (-usage-tenants, default 10,000):
//
//  1. The monthly CSV over HTTP: N tenants and a month of daily usage of the default metrics
//     seeded straight into Postgres (COPY and one generate_series INSERT), the monthly figures
//     rolled up by usage.RebuildMonthly, then GET /v1/usage?month=... with Accept: text/csv
//     timed against an API-only server process.
//  2. The calls the sync makes: the sandbox prefilled with the same N tenants (names as
//     pnonboard makes them, tenants rows pointing at those IDs), then passes of the real sync
//     in-process on a fake clock: the backfill, then each day, counting what reaches upstream.
func (e *benchEnv) usage(ctx context.Context) error {
	n := e.opts.usageTenants
	metrics, err := usage.ParseMetrics(usage.DefaultMetrics)
	if err != nil {
		return err
	}
	month := usage.Month(time.Now()).AddDate(0, -1, 0)
	signedUp := month.AddDate(0, 0, -1).Add(9 * time.Hour)
	fmt.Fprintf(e.stdout, "\n## Usage: %d tenants × 3 environments, %s, metrics %s\n", n, month.Format("2006-01"), strings.Join(metrics, ","))

	dbURL, err := e.database(ctx, "usage")
	if err != nil {
		return err
	}
	key, err := e.prepare(ctx, dbURL)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	// The sandbox holds the tenants' apps and keysets, made the day before the month.
	clock := testclock.New(signedUp)
	sb := sandbox.New(&sandbox.Opts{APIKey: "bench-sandbox", RatePerMinute: -1, Now: clock.Now})
	sbSrv := httptest.NewServer(sb)
	defer sbSrv.Close()
	t0 := time.Now()
	made, err := sb.Prefill(n, &sandbox.PrefillOpts{
		ExternalIDFunc: func(i int) string { return fmt.Sprintf("bench-%06d", i+1) },
		AppNameFunc:    tenants.AppName, KeysetNameFunc: tenants.KeysetName, CreatedAt: signedUp,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sandbox prefilled with %d tenants in %s\n", n, time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	ids, err := seedTenants(ctx, pool, made, signedUp)
	if err != nil {
		return fmt.Errorf("seed tenants: %w", err)
	}
	rows, err := seedUsage(ctx, pool, ids, month, metrics)
	if err != nil {
		return fmt.Errorf("seed usage: %w", err)
	}
	if err := usage.RebuildMonthly(ctx, pool, month, month.AddDate(0, 1, 0)); err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d tenants and %d daily rows (plus their monthly figures) in %s\n", n, rows, time.Since(t0).Round(time.Millisecond))

	// --- 1. The CSV of the whole month, over HTTP, from an API-only server process.
	srv, err := e.start(ctx, append(e.baseEnv(dbURL), "PNONBOARD_ROLE=api"))
	if err != nil {
		return err
	}
	target := srv.url + "/v1/usage?month=" + month.Format("2006-01")
	var times []time.Duration
	var size, lines int
	for run := range 6 { // the first warms the server's pool and Postgres's cache
		d, b, l, err := fetchCSV(ctx, target, key)
		if err != nil {
			return err
		}
		if run > 0 {
			times = append(times, d)
		}
		size, lines = b, l
	}
	if lines != n+1 {
		return fmt.Errorf("the CSV has %d lines, want %d", lines, n+1)
	}
	jsonSums, err := reportSums(ctx, target, key, metrics)
	if err != nil {
		return err
	}
	csvSums, err := csvSums(ctx, target, key, metrics)
	if err != nil {
		return err
	}
	slices.Sort(times)
	fmt.Fprintf(e.stdout, "\n| monthly CSV, GET /v1/usage (Accept: text/csv) | measured | target |\n|---|---|---|\n")
	fmt.Fprintf(e.stdout, "| whole month, %d rows, %.1f MB | median %s (min %s, max %s, 5 runs) | < 1 s |\n",
		lines-1, float64(size)/1e6, ms(times[len(times)/2]), ms(times[0]), ms(times[len(times)-1]))
	// A failed target is printed in its table and returned, so the bench exits non-zero.
	var failed []error
	agree := "yes"
	if err := sumsAgree(metrics, jsonSums, csvSums); err != nil {
		agree = "NO (the bench fails, saying which)"
		failed = append(failed, err)
	}
	fmt.Fprintf(e.stdout, "| CSV column sums equal the JSON pages' sums | %s | yes |\n", agree)
	srv.stop()

	// --- 2. The sync's calls, in-process against the prefilled sandbox.
	if _, err := pool.Exec(ctx, `TRUNCATE usage_daily, usage_monthly, usage_sync_state`); err != nil {
		return err
	}
	budget, err := provisioner.NewBudget(pool, provisioner.BudgetOpts{Name: "bench-usage", PerMinute: 10_000_000})
	if err != nil {
		return err
	}
	client := provisioner.NewClient(provisioner.ClientOpts{Budget: budget, BaseURL: sbSrv.URL + "/v2", APIKey: sb.APIKey(), Version: pubnub.DefaultVersion, Timeout: 10 * time.Second})
	var calls atomic.Int64
	syncer := func(byEnv bool) *usage.Syncer {
		return usage.NewSyncer(usage.SyncerOpts{Pool: pool, Upstream: client, Metrics: metrics, ByEnvironment: byEnv, Now: clock.Now,
			OnCallFunc: func(string) { calls.Add(1) }})
	}
	today := usage.Day(time.Now())
	fmt.Fprintf(e.stdout, "\n| sync pass (fake clock) | calls | upstream requests | took |\n|---|---|---|---|\n")
	pass := func(label string, at time.Time, s *usage.Syncer) (int, error) {
		clock.Set(at)
		calls.Store(0)
		before := sb.CallCount(sandbox.OpGetUsageMetrics)
		start := time.Now()
		var cur usage.Cursor
		if err := s.Pass(ctx, &cur, time.Time{}); err != nil {
			return 0, err
		}
		got := sb.CallCount(sandbox.OpGetUsageMetrics) - before
		fmt.Fprintf(e.stdout, "| %s, %s | %d | %d | %s |\n", label, at.Format("2006-01-02 15:04"), calls.Load(), got, time.Since(start).Round(time.Millisecond))
		return got, nil
	}
	app := syncer(false)
	backfill, err := pass("first sync: backfill since sign-up, app level", today.Add(5*time.Hour), app)
	if err != nil {
		return err
	}
	again, err := pass("same day, 6 h later", today.Add(11*time.Hour), app)
	if err != nil {
		return err
	}
	var perDay []int
	for d := 1; d <= 3; d++ {
		for _, h := range []int{2, 5, 13, 21} { // four passes a day; only the one after 04:00 calls
			got, err := pass(fmt.Sprintf("day +%d", d), today.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour), app)
			if err != nil {
				return err
			}
			if len(perDay) < d {
				perDay = append(perDay, 0)
			}
			perDay[d-1] += got
		}
	}
	byEnv, err := pass("PNONBOARD_USAGE_BY_ENVIRONMENT=true (its own backfill)", today.AddDate(0, 0, 4).Add(5*time.Hour), syncer(true))
	if err != nil {
		return err
	}
	byEnvDay, err := pass("by environment, the next day", today.AddDate(0, 0, 5).Add(5*time.Hour), syncer(true))
	if err != nil {
		return err
	}
	share := int(0.2 * float64(120-provisioner.DefaultMargin(120)))
	fmt.Fprintf(e.stdout, "\n| sync calls for %d tenants | measured | target |\n|---|---|---|\n", n)
	fmt.Fprintf(e.stdout, "| backfill of %d days (one call per tenant) | %d | %d |\n", days(signedUp, today), backfill, n)
	fmt.Fprintf(e.stdout, "| calls per day at app level (days +1, +2, +3) | %v | ≤ %d |\n", perDay, n)
	fmt.Fprintf(e.stdout, "| a second pass the same day | %d | 0 |\n", again)
	fmt.Fprintf(e.stdout, "| calls per day by environment (E = 3) | %d (backfill %d) | %d |\n", byEnvDay, byEnv, 3*n)
	fmt.Fprintf(e.stdout, "| time a day's app-level calls take at the default budget (120/min, background share %d/min) | %.1f h (computed) | |\n",
		share, float64(n)/float64(share)/60)
	if err := callsWithin(n, backfill, perDay); err != nil {
		failed = append(failed, err)
	}
	return errors.Join(failed...)
}

// sumsAgree is nil when every metric's CSV column adds up to what the JSON pages add up to.
func sumsAgree(metrics []string, jsonSums, csvSums map[string]float64) error {
	var errs []error
	for _, m := range metrics {
		if jsonSums[m] != csvSums[m] {
			errs = append(errs, fmt.Errorf("%s: the CSV sums to %v, the JSON pages to %v", m, csvSums[m], jsonSums[m]))
		}
	}
	return errors.Join(errs...)
}

// callsWithin is nil when the app-level sync of n tenants kept to one call per tenant: for the
// backfill, and on each day of perDay.
func callsWithin(n, backfill int, perDay []int) error {
	var errs []error
	if backfill > n {
		errs = append(errs, fmt.Errorf("the backfill of %d tenants made %d calls, more than one per tenant", n, backfill))
	}
	for d, got := range perDay {
		if got > n {
			errs = append(errs, fmt.Errorf("day +%d: the app-level sync of %d tenants made %d calls, more than %d", d+1, n, got, n))
		}
	}
	return errors.Join(errs...)
}

func days(from, to time.Time) int { return int(usage.Day(to).Sub(usage.Day(from)).Hours() / 24) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// seedTenants writes the prefilled tenants as pnonboard would have them once provisioned:
// active, with the sandbox's app, customer and keyset IDs, signed up at signedUp. It returns
// their IDs.
func seedTenants(ctx context.Context, pool *pgxpool.Pool, made []sandbox.PrefilledTenant, signedUp time.Time) ([]int64, error) {
	envs := []string{"development", "staging", "production"}
	list := make([]tenants.Imported, len(made))
	for i, m := range made {
		im := tenants.Imported{ExternalID: m.ExternalID, Name: "Customer " + m.ExternalID, AppID: m.AppID, CustomerID: m.CustomerID, CreatedAt: signedUp}
		for e, env := range envs {
			typ := "testing"
			if env == "production" {
				typ = "production"
			}
			im.Keysets = append(im.Keysets, tenants.ImportedKeyset{Environment: env, Type: typ, KeysetID: m.KeysetIDs[e]})
		}
		list[i] = im
	}
	return tenants.ImportProvisioned(ctx, pool, list)
}

// seedUsage writes every tenant's daily app-level figures of metrics for every day of month
// (mtd_* increasing through the month, the others anything), synced through its last day.
func seedUsage(ctx context.Context, pool *pgxpool.Pool, ids []int64, month time.Time, metrics []string) (int64, error) {
	last := month.AddDate(0, 1, -1)
	tag, err := pool.Exec(ctx, `
		INSERT INTO usage_daily (tenant_id, environment, day, metric, value)
		SELECT t.id, '', d::date, m,
			CASE WHEN m LIKE 'mtd\_%' THEN extract(day FROM d) * 100 + t.id % 97
			     ELSE (t.id * 31 + extract(day FROM d)::bigint * 17 + length(m)) % 1000 + 1 END
		FROM unnest($4::bigint[]) AS t(id), generate_series($1::date, $2::date, interval '1 day') AS d, unnest($3::text[]) AS m`,
		month, last, metrics, ids)
	if err != nil {
		return 0, err
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO usage_sync_state (tenant_id, environment, metrics, synced_through, synced_at)
		SELECT id, '', $1, $2, now() FROM unnest($3::bigint[]) AS t(id)`, metrics, last, ids); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// fetchCSV downloads the CSV and returns how long it took to the last byte, its size and lines.
func fetchCSV(ctx context.Context, target, key string) (time.Duration, int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/csv")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, 0, fmt.Errorf("GET %s: %d %s", target, resp.StatusCode, b)
	}
	return elapsed, len(b), strings.Count(string(b), "\n"), nil
}

// csvSums adds up each metric's column of the CSV.
func csvSums(ctx context.Context, target, key string, metrics []string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	sums := map[string]float64{}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fields := strings.Split(line, ",") // the bench's names have no commas
		if i == 0 {
			continue
		}
		for j, m := range metrics {
			v, err := strconv.ParseFloat(fields[len(fields)-len(metrics)+j], 64)
			if err != nil {
				return nil, err
			}
			sums[m] += v
		}
	}
	return sums, nil
}

// reportSums walks the JSON pages of the report and adds up each metric.
func reportSums(ctx context.Context, target, key string, metrics []string) (map[string]float64, error) {
	sums := map[string]float64{}
	page := target + "&limit=1000"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var body struct {
			Data []struct {
				Usage map[string]float64 `json:"usage"`
			} `json:"data"`
			NextCursor *string `json:"nextCursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		for _, r := range body.Data {
			for _, m := range metrics {
				sums[m] += r.Usage[m]
			}
		}
		if body.NextCursor == nil {
			return sums, nil
		}
		page = target + "&limit=1000&cursor=" + url.QueryEscape(*body.NextCursor)
	}
}
