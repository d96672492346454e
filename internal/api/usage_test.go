package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
	"github.com/pnonboard/pnonboard/internal/testclock"
	"github.com/pnonboard/pnonboard/internal/usage"
)

// usageFixture is tenants with usage stored for last month (the report's default), as the sync
// leaves it: daily rows, their monthly figures, and the sync state.
type usageFixture struct {
	month   time.Time // the 1st of last month
	last    time.Time // its last day
	tenants []*tenants.Tenant
}

// seedUsage makes the tenants named, each with an app, daily values of every default metric
// for every day of last month (a function of tenant, day and metric), synced through the
// month's end, except the last tenant, synced through its 10th only.
func seedUsage(t *testing.T, ts *testServer, names ...string) *usageFixture {
	t.Helper()
	ctx := context.Background()
	f := &usageFixture{month: usage.Month(time.Now()).AddDate(0, -1, 0)}
	f.last = f.month.AddDate(0, 1, -1)
	for i, name := range names {
		ext := "usage-" + strconv.Itoa(i)
		_, _, err := ts.tenants.Create(ctx, tenants.CreateParams{ExternalID: ext, Name: name, Actor: "test"})
		require.NoError(t, err)
		tn, err := ts.tenants.GetByExternalID(ctx, ext)
		require.NoError(t, err)
		require.NoError(t, postgres.WithTx(ctx, ts.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
			locked, err := tenants.GetForUpdate(ctx, tx, tn.ID)
			if err != nil {
				return err
			}
			locked.AppID, locked.State = strconv.Itoa(1000001+i), tenants.StateActive
			return tenants.Save(ctx, tx, locked)
		}))
		// Signed up before the month (the report lists tenants that existed in it).
		tenantstest.SetCreatedAt(t, ts.db.Pool, tn.ExternalID, f.month.AddDate(0, 0, -1))
		through := f.last
		if i == len(names)-1 {
			through = f.month.AddDate(0, 0, 9)
		}
		_, err = ts.db.Pool.Exec(ctx, `
			INSERT INTO usage_daily (tenant_id, environment, day, metric, value)
			SELECT $1::bigint, '', d::date, m, CASE WHEN m LIKE 'mtd\_%' THEN 10 * extract(day FROM d) + $1::bigint ELSE (extract(day FROM d)::int * 7 + $1::bigint * 13) % 100 END
			FROM generate_series($2::date, $3::date, interval '1 day') AS d, unnest($4::text[]) AS m`,
			tn.ID, f.month, through, ts.usage.Metrics())
		require.NoError(t, err)
		_, err = ts.db.Pool.Exec(ctx, `INSERT INTO usage_sync_state (tenant_id, environment, metrics, synced_through) VALUES ($1, '', $2, $3)`,
			tn.ID, ts.usage.Metrics(), through)
		require.NoError(t, err)
		f.tenants = append(f.tenants, tn)
	}
	require.NoError(t, usage.RebuildMonthly(ctx, ts.db.Pool, f.month, f.month.AddDate(0, 1, 0)))
	return f
}

// get sends a GET with an Accept header and checks the answer against the spec.
func (ts *testServer) get(t *testing.T, path, key, accept string) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return ts.roundTrip(t, req)
}

type usageSeriesBody struct {
	ExternalID    string  `json:"externalId"`
	Environment   *string `json:"environment"`
	From, To      string
	SyncedThrough *string `json:"syncedThrough"`
	Metrics       []struct {
		Name      string  `json:"name"`
		TotalKind string  `json:"totalKind"`
		Total     float64 `json:"total"`
		Days      []struct {
			Date  string  `json:"date"`
			Value float64 `json:"value"`
		} `json:"days"`
	} `json:"metrics"`
}

type usageReportBody struct {
	Month   string `json:"month"`
	Metrics []struct {
		Name      string `json:"name"`
		TotalKind string `json:"totalKind"`
	} `json:"metrics"`
	Data []struct {
		ExternalID    string             `json:"externalId"`
		Name          string             `json:"name"`
		State         string             `json:"state"`
		Complete      bool               `json:"complete"`
		SyncedThrough *string            `json:"syncedThrough"`
		Usage         map[string]float64 `json:"usage"`
	} `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

func TestUsage(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		ts  *testServer
		key string
		f   *usageFixture
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		ts := newTestServer(t)
		f := seedUsage(t, ts, "Acme, Inc.", "=HYPERLINK(\"x\")", "Globex", "Initech", "Umbrella")
		return &testBundle{ts: ts, key: ts.key(t, auth.ScopeUsageRead), f: f}
	}

	t.Run("SeriesWithTotals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tn := b.f.tenants[0]
		from, to := b.f.month.Format(time.DateOnly), b.f.month.AddDate(0, 1, 0).Format(time.DateOnly)

		resp := b.ts.get(t, "/v1/tenants/"+tn.ExternalID+"/usage?from="+from+"&to="+to, b.key, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var got usageSeriesBody
		require.NoError(t, json.Unmarshal(resp.Body, &got))
		require.Nil(t, got.Environment)
		require.Equal(t, b.f.last.Format(time.DateOnly), *got.SyncedThrough)
		var names []string
		for _, m := range got.Metrics {
			names = append(names, m.Name)
			require.Len(t, m.Days, b.f.last.Day())
			sum := 0.0
			for _, d := range m.Days {
				sum += d.Value
			}
			if m.Name == "mtd_uuid" {
				require.Equal(t, "last", m.TotalKind, "mtd_* are month to date: the total is the last day's")
				require.Equal(t, m.Days[len(m.Days)-1].Value, m.Total)
				require.NotEqual(t, sum, m.Total)
			} else {
				require.Equal(t, "sum", m.TotalKind)
				require.Equal(t, sum, m.Total)
			}
		}
		require.Equal(t, b.ts.usage.Metrics(), names, "every synced metric, in config order")

		// The defaults are this month; asking for two metrics and a week returns just those.
		resp = b.ts.get(t, "/v1/tenants/"+tn.ExternalID+"/usage", b.key, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.NoError(t, json.Unmarshal(resp.Body, &got))
		require.Equal(t, usage.Month(time.Now()).Format(time.DateOnly), got.From)
		week := b.f.month.AddDate(0, 0, 7).Format(time.DateOnly)
		resp = b.ts.get(t, "/v1/tenants/"+tn.ExternalID+"/usage?from="+from+"&to="+week+"&metrics=mtd_uuid,txn_total", b.key, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		got = usageSeriesBody{}
		require.NoError(t, json.Unmarshal(resp.Body, &got))
		require.Len(t, got.Metrics, 2)
		require.Equal(t, "mtd_uuid", got.Metrics[0].Name)
		require.Len(t, got.Metrics[1].Days, 7)
	})

	t.Run("SeriesRefusals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		base := "/v1/tenants/" + b.f.tenants[0].ExternalID + "/usage?"
		for query, field := range map[string]string{
			"from=2026-13-01":                       "from",
			"from=2026-1-1":                         "from",
			"from=2026-11-05&to=2026-11-05":         "to",
			"from=2025-01-01&to=2026-11-05":         "to",
			"metrics=txn_total,history_msgs":        "metrics",
			"metrics=nope":                          "metrics",
			"environment=production":                "environment",
			"from=2026-11-01&from=2026-11-02":       "from",
			"to=" + url.QueryEscape("2026-11-01\n"): "to",
		} {
			resp := b.ts.get(t, base+query, b.key, "")
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "%s: %s", query, resp.Body)
			require.Equal(t, field, resp.JSON(t)["errors"].([]any)[0].(map[string]any)["field"], query)
		}
		resp := b.ts.get(t, "/v1/tenants/nobody/usage", b.key, "")
		require.Equal(t, http.StatusNotFound, resp.Status)
		require.Equal(t, "tenant_not_found", resp.JSON(t)["code"])
	})

	t.Run("ReportJSONAndCSVAgree", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		month := b.f.month.Format("2006-01")

		// JSON, two rows a page.
		var rows []map[string]any
		sums := map[string]float64{}
		var body usageReportBody
		path := "/v1/usage?month=" + month + "&limit=2"
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			resp := b.ts.get(t, path, b.key, "")
			require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
			body = usageReportBody{}
			require.NoError(t, json.Unmarshal(resp.Body, &body))
			require.LessOrEqual(t, len(body.Data), 2)
			for _, r := range body.Data {
				rows = append(rows, map[string]any{"externalId": r.ExternalID, "name": r.Name, "complete": r.Complete})
				for m, v := range r.Usage {
					sums[m] += v
				}
			}
			if body.NextCursor == nil {
				break
			}
			path = "/v1/usage?month=" + month + "&limit=2&cursor=" + url.QueryEscape(*body.NextCursor)
		}
		require.Len(t, rows, 5)
		require.Equal(t, month, body.Month)
		require.Equal(t, "last", body.Metrics[1].TotalKind)
		require.Equal(t, map[string]any{"externalId": "usage-4", "name": "Umbrella", "complete": false}, rows[4], "synced only through the 10th")
		require.Equal(t, true, rows[0]["complete"])

		// The month's figures are the series' totals.
		for _, tn := range b.f.tenants {
			resp := b.ts.get(t, "/v1/tenants/"+tn.ExternalID+"/usage?from="+b.f.month.Format(time.DateOnly), b.key, "")
			var s usageSeriesBody
			require.NoError(t, json.Unmarshal(resp.Body, &s))
			for _, m := range s.Metrics {
				sums[m.Name+"/series"] += m.Total
			}
		}

		// CSV, the whole month.
		resp := b.ts.get(t, "/v1/usage?month="+month, b.key, "text/csv")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, `attachment; filename="usage-`+month+`.csv"`, resp.Header.Get("Content-Disposition"))
		records, err := csv.NewReader(bytes.NewReader(resp.Body)).ReadAll()
		require.NoError(t, err)
		require.Equal(t, append([]string{"externalId", "name", "state", "complete", "syncedThrough"}, b.ts.usage.Metrics()...), records[0])
		require.Len(t, records, 1+5)
		require.Equal(t, "Acme, Inc.", records[1][1])
		require.Equal(t, `'=HYPERLINK("x")`, records[2][1], "no formula for a spreadsheet to run")
		require.Equal(t, []string{"usage-4", "Umbrella", string(tenants.StateActive), "false", b.f.month.AddDate(0, 0, 9).Format(time.DateOnly)}, records[5][:5])
		csvSums := map[string]float64{}
		for _, rec := range records[1:] {
			for i, m := range b.ts.usage.Metrics() {
				v, err := strconv.ParseFloat(rec[5+i], 64)
				require.NoError(t, err)
				csvSums[m] += v
			}
		}
		for _, m := range b.ts.usage.Metrics() {
			require.Positive(t, csvSums[m], m)
			require.Equal(t, sums[m], csvSums[m], "%s: the CSV's sum is the JSON's", m)
			require.Equal(t, sums[m+"/series"], csvSums[m], "%s: and the series' totals'", m)
		}
	})

	t.Run("AcceptChoosesTheFormat", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for accept, want := range map[string]string{
			"":                                 "application/json",
			"*/*":                              "application/json",
			"application/json":                 "application/json",
			"text/csv":                         "text/csv; charset=utf-8",
			"text/*":                           "text/csv; charset=utf-8",
			"text/csv;q=0.5, application/json": "application/json",
			"application/json;q=0.5, text/csv": "text/csv; charset=utf-8",
			"text/csv, */*":                    "text/csv; charset=utf-8",
			"text/csv;q=0":                     "application/json",
			"text/html":                        "application/json",
		} {
			resp := b.ts.get(t, "/v1/usage", b.key, accept)
			require.Equal(t, http.StatusOK, resp.Status, accept)
			require.Equal(t, want, resp.Header.Get("Content-Type"), "Accept: %s", accept)
		}
	})

	t.Run("ReportRefusals", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, query := range []string{"month=2026-13", "month=2026-1", "month=1999-01", "cursor=nope", "limit=0", "limit=1001"} {
			for _, accept := range []string{"", "text/csv"} {
				resp := b.ts.get(t, "/v1/usage?"+query, b.key, accept)
				require.Equal(t, http.StatusUnprocessableEntity, resp.Status, "%s %s", query, accept)
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				require.Empty(t, resp.Header.Get("Content-Disposition"))
			}
		}
	})

	// The CSV is written as the report is read: with two tenants a page, the answer is flushed
	// after each page, each flush holding more rows, before the handler ends.
	t.Run("CSVStreams", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		handler := api.NewServer(&api.ServerOpts{
			Logger: slog.New(slog.DiscardHandler), Ready: func(context.Context) error { return nil },
			Keys: b.ts.keys, Tenants: b.ts.tenants, Webhooks: b.ts.webhooks, OpenAPI: pnonboard.OpenAPI(),
			Usage: usage.NewService(usage.ServiceOpts{Pool: b.ts.db.Pool, PageSize: 2}),
		})
		req := httptest.NewRequest(http.MethodGet, "/v1/usage?month="+b.f.month.Format("2006-01"), nil)
		req.Header.Set("Authorization", "Bearer "+b.key)
		req.Header.Set("Accept", "text/csv")
		rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
		handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		require.GreaterOrEqual(t, len(rec.flushed), 3, "a flush per page of tenants (5 tenants, 2 a page)")
		lines := func(n int) int { return bytes.Count(rec.Body.Bytes()[:n], []byte("\n")) }
		require.Equal(t, 1+2, lines(rec.flushed[0]), "the header and the first page's rows went out first")
		require.Equal(t, 1+4, lines(rec.flushed[1]))
		require.Equal(t, 1+5, lines(rec.Body.Len()))
	})
}

// flushRecorder records how much of the body had been written at each Flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushed []int
}

func (r *flushRecorder) Flush() {
	r.flushed = append(r.flushed, r.Body.Len())
	r.ResponseRecorder.Flush()
}

// TestUsageOfOneEnvironment: with the by-environment sync on, GET
// /v1/tenants/{externalId}/usage?environment=<env> is that keyset's series: after a real sync
// against the sandbox, exactly the sandbox's values for that keyset, every day and metric,
// with totals as the series' kind says; without environment, the app's (the keysets' sum).
func TestUsageOfOneEnvironment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTestServer(t)
	metrics := ts.usage.Metrics()
	// Signed up on 2030-01-10; on 2030-03-01 at noon the last day PubNub has is 2030-02-28.
	signedUp := time.Date(2030, 1, 10, 10, 0, 0, 0, time.UTC)
	clock := testclock.New(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))
	sb := sandbox.New(&sandbox.Opts{APIKey: sandboxKey, RatePerMinute: -1, Now: clock.Now})
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)

	envs := []string{"development", "staging", "production"}
	made, err := sb.Prefill(1, &sandbox.PrefillOpts{
		ExternalIDFunc: func(int) string { return "envs" }, Environments: envs,
		AppNameFunc: tenants.AppName, KeysetNameFunc: tenants.KeysetName, CreatedAt: signedUp,
	})
	require.NoError(t, err)
	im := tenants.Imported{ExternalID: "envs", Name: "Envs", AppID: made[0].AppID, CustomerID: made[0].CustomerID, CreatedAt: signedUp}
	profiles := provisioner.DefaultProfiles()
	for i, env := range envs {
		p, ok := profiles.Get(env)
		require.True(t, ok, env)
		im.Keysets = append(im.Keysets, tenants.ImportedKeyset{Environment: env, Type: string(p.KeysetType), KeysetID: made[0].KeysetIDs[i]})
	}
	_, err = tenants.ImportProvisioned(ctx, ts.db.Pool, []tenants.Imported{im})
	require.NoError(t, err)

	syncer := usage.NewSyncer(usage.SyncerOpts{Pool: ts.db.Pool, Upstream: pubnub.New(sbSrv.URL+"/v2", sb.APIKey(), "", nil),
		Metrics: metrics, ByEnvironment: true, Now: clock.Now})
	var cur usage.Cursor
	require.NoError(t, syncer.Pass(ctx, &cur, time.Time{}))
	require.Equal(t, len(envs), sb.CallCount(sandbox.OpGetUsageMetrics), "one call per keyset")

	// The API as a server with PNONBOARD_USAGE_BY_ENVIRONMENT=true serves it.
	byEnv := *ts
	byEnv.srv = httptest.NewServer(api.NewServer(&api.ServerOpts{
		Logger: slog.New(slog.DiscardHandler), Ready: func(context.Context) error { return nil },
		Keys: ts.keys, Tenants: ts.tenants, Webhooks: ts.webhooks, OpenAPI: pnonboard.OpenAPI(),
		Usage: usage.NewService(usage.ServiceOpts{Pool: ts.db.Pool, Metrics: metrics, ByEnvironment: true, Now: clock.Now}),
	}))
	t.Cleanup(byEnv.srv.Close)
	key := ts.key(t, auth.ScopeUsageRead)

	// requireSandboxSeries gets the series of env ("" for the app) and checks it against the
	// sandbox's values of entity on every day since sign-up.
	requireSandboxSeries := func(t *testing.T, env, entityType, entityID string) {
		t.Helper()
		path := "/v1/tenants/envs/usage?from=2030-01-10&to=2030-03-01"
		if env != "" {
			path += "&environment=" + env
		}
		resp := byEnv.get(t, path, key, "")
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var got usageSeriesBody
		require.NoError(t, json.Unmarshal(resp.Body, &got))
		if env == "" {
			require.Nil(t, got.Environment)
		} else {
			require.Equal(t, env, *got.Environment)
		}
		require.Equal(t, "2030-02-28", *got.SyncedThrough)
		require.Len(t, got.Metrics, len(metrics))
		for i, m := range got.Metrics {
			require.Equal(t, metrics[i], m.Name)
			require.Len(t, m.Days, 31+28-9, "%s %s: every day from the 10th of January to the end of February", env, m.Name)
			want := 0.0
			for j, d := range m.Days {
				day := signedUp.AddDate(0, 0, j)
				require.Equal(t, day.Format(time.DateOnly), d.Date)
				v, ok := sb.UsageValue(entityType, entityID, m.Name, day)
				require.True(t, ok, "%s %s %s", entityType, m.Name, d.Date)
				require.Equal(t, v, d.Value, "%s %s %s: the sandbox's value", env, m.Name, d.Date)
				if m.TotalKind == "sum" {
					want += v
				} else {
					want = v
				}
			}
			require.Equal(t, want, m.Total, "%s %s total (%s)", env, m.Name, m.TotalKind)
		}
	}
	for i, env := range envs {
		t.Run(env, func(t *testing.T) { requireSandboxSeries(t, env, "keyset", made[0].KeysetIDs[i]) })
	}
	t.Run("App", func(t *testing.T) { requireSandboxSeries(t, "", "app", made[0].AppID) })

	// The environments' series differ from each other (so each is its own keyset's).
	stagingDay, _ := sb.UsageValue("keyset", made[0].KeysetIDs[1], "txn_total", signedUp.AddDate(0, 0, 1))
	productionDay, _ := sb.UsageValue("keyset", made[0].KeysetIDs[2], "txn_total", signedUp.AddDate(0, 0, 1))
	require.NotEqual(t, stagingDay, productionDay, "the sandbox gives each keyset its own values")
}
