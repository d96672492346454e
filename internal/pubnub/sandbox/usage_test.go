package sandbox_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestUsageMetrics(t *testing.T) {
	t.Parallel()

	type objectShape struct {
		Metrics map[string]map[string]float64 `json:"metrics"`
	}
	type arrayShape struct {
		Metrics []map[string]map[string]float64 `json:"metrics"`
	}
	type testBundle struct {
		sb    *sandbox.Sandbox
		clock *testclock.Clock
		appID string
		early string // keyset created 2026-01-10 10:00
		late  string // keyset created 2026-01-20 23:30, same app
		other string // keyset of another app, created 2026-02-10
	}
	// setup creates the app on 2026-01-10 and moves the clock to
	// 2026-03-01 12:00, when the last day with data is 2026-02-28.
	setup := func(t *testing.T, edit func(*sandbox.Opts)) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, edit)
		start := clock.Now()
		clock.Advance(time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC).Sub(start))
		b := &testBundle{sb: sb, clock: clock, appID: createApp(t, sb, "app").ID}
		b.early = createKeyset(t, sb, b.appID, nil).Keyset.ID
		clock.Advance(10*24*time.Hour + 13*time.Hour + 30*time.Minute)
		b.late = createKeyset(t, sb, b.appID, nil).Keyset.ID
		clock.Advance(time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC).Sub(clock.Now()))
		b.other = createKeyset(t, sb, createApp(t, sb, "other").ID, nil).Keyset.ID
		clock.Advance(start.Sub(clock.Now()))
		return b
	}
	get := func(t *testing.T, b *testBundle, query string) response {
		t.Helper()
		return do(t, b.sb, http.MethodGet, "/v2/usage-metrics?"+query, nil)
	}
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		require.NoError(t, err)
		return d
	}
	days := func(from, to string) []string {
		var out []string
		for d := day(from); d.Before(day(to)); d = d.AddDate(0, 0, 1) {
			out = append(out, d.Format(time.DateOnly))
		}
		return out
	}

	t.Run("KeysetValuesFollowTheDocumentedFunction", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		got := decode[objectShape](t, get(t, b, "entityType=keyset&entityId="+b.early+"&from=2026-01-01&to=2026-03-05&metrics=txn_total"), http.StatusOK)

		want := map[string]float64{}
		for _, d := range days("2026-01-10", "2026-03-01") {
			want[d] = sandbox.KeysetDailyUsage(b.early, "txn_total", day(d))
			require.GreaterOrEqual(t, want[d], 1.0)
			require.LessOrEqual(t, want[d], 1000.0)
		}
		require.Equal(t, map[string]map[string]float64{"txn_total": want}, got.Metrics,
			"from the creation day (10 a.m. counts) to the last day with data, 2026-02-28")
	})

	t.Run("AppIsTheSumOfItsKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		got := decode[objectShape](t, get(t, b, "entityType=app&entityId="+b.appID+"&from=2026-01-01&to=2026-02-01&metrics=publish,mtd_uuid"), http.StatusOK)

		for _, m := range []string{"publish", "mtd_uuid"} {
			require.Len(t, got.Metrics[m], 22, "2026-01-10 to 2026-01-31")
			for d, v := range got.Metrics[m] {
				early, ok := b.sb.UsageValue("keyset", b.early, m, day(d))
				require.True(t, ok)
				late, lateOK := b.sb.UsageValue("keyset", b.late, m, day(d))
				require.Equal(t, d >= "2026-01-20", lateOK, d)
				require.Equal(t, early+late, v, "%s on %s", m, d)
				appValue, ok := b.sb.UsageValue("app", b.appID, m, day(d))
				require.True(t, ok)
				require.Equal(t, v, appValue, "UsageValue agrees with the endpoint")
			}
		}
		require.Equal(t, sandbox.KeysetDailyUsage(b.early, "publish", day("2026-01-19")), got.Metrics["publish"]["2026-01-19"], "before the second keyset existed")
	})

	t.Run("AccountIsTheSumOfAllKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		got := decode[objectShape](t, get(t, b, "entityType=account&entityId=1&from=2026-01-09&to=2026-02-12&metrics=txn_total"), http.StatusOK)

		require.Equal(t, 0.0, got.Metrics["txn_total"]["2026-01-09"], "an account has data before its first keyset: zero")
		k := func(id, d string) float64 { return sandbox.KeysetDailyUsage(id, "txn_total", day(d)) }
		require.Equal(t, k(b.early, "2026-02-11")+k(b.late, "2026-02-11")+k(b.other, "2026-02-11"), got.Metrics["txn_total"]["2026-02-11"])
		require.Equal(t, k(b.early, "2026-02-09")+k(b.late, "2026-02-09"), got.Metrics["txn_total"]["2026-02-09"])
	})

	t.Run("MonthToDateIsCumulativeAndRestartsOnTheFirst", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		k := func(d string) float64 { return sandbox.KeysetDailyUsage(b.early, "mtd_txn_total", day(d)) }

		jan := decode[objectShape](t, get(t, b, "entityType=keyset&entityId="+b.early+"&from=2026-01-01&to=2026-02-01&metrics=mtd_txn_total"), http.StatusOK).Metrics["mtd_txn_total"]
		midFeb := decode[objectShape](t, get(t, b, "entityType=keyset&entityId="+b.early+"&from=2026-02-15&to=2026-02-17&metrics=mtd_txn_total"), http.StatusOK).Metrics["mtd_txn_total"]

		require.Equal(t, k("2026-01-10"), jan["2026-01-10"], "the creation day starts the sum")
		require.Equal(t, k("2026-01-10")+k("2026-01-11"), jan["2026-01-11"])
		sum := 0.0
		for _, d := range days("2026-01-10", "2026-02-01") {
			sum += k(d)
			require.Equal(t, sum, jan[d], d)
		}
		febSum := 0.0
		for _, d := range days("2026-02-01", "2026-02-16") {
			febSum += k(d)
		}
		require.Equal(t, map[string]float64{"2026-02-15": febSum, "2026-02-16": febSum + k("2026-02-16")}, midFeb, "a mid-month range still counts from the 1st")
		first, ok := b.sb.UsageValue("keyset", b.early, "mtd_txn_total", day("2026-02-01"))
		require.True(t, ok)
		require.Equal(t, k("2026-02-01"), first, "reset on the 1st")
		across := decode[objectShape](t, get(t, b, "entityType=keyset&entityId="+b.early+"&from=2026-01-30&to=2026-02-03&metrics=mtd_txn_total"), http.StatusOK).Metrics["mtd_txn_total"]
		require.Equal(t, map[string]float64{
			"2026-01-30": jan["2026-01-30"], "2026-01-31": jan["2026-01-31"],
			"2026-02-01": k("2026-02-01"), "2026-02-02": k("2026-02-01") + k("2026-02-02"),
		}, across, "a range across months restarts on the 1st")
	})

	t.Run("FromInclusiveToExclusive", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		got := decode[objectShape](t, get(t, b, "entityType=keyset&entityId="+b.early+"&from=2026-01-30&to=2026-02-02&metrics=txn_total"), http.StatusOK)

		require.Len(t, got.Metrics["txn_total"], 3)
		require.Contains(t, got.Metrics["txn_total"], "2026-01-30")
		require.Contains(t, got.Metrics["txn_total"], "2026-02-01")
		require.NotContains(t, got.Metrics["txn_total"], "2026-02-02")
	})

	t.Run("DelayedByFourHours", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.clock.Advance(time.Date(2026, 3, 2, 3, 59, 0, 0, time.UTC).Sub(b.clock.Now()))

		_, before := b.sb.UsageValue("keyset", b.early, "txn_total", day("2026-03-01"))
		_, feb28 := b.sb.UsageValue("keyset", b.early, "txn_total", day("2026-02-28"))
		b.clock.Advance(time.Minute)
		_, after := b.sb.UsageValue("keyset", b.early, "txn_total", day("2026-03-01"))
		_, today := b.sb.UsageValue("keyset", b.early, "txn_total", day("2026-03-02"))

		require.False(t, before, "at 03:59 the previous day is not in yet")
		require.True(t, feb28)
		require.True(t, after, "at 04:00 it is")
		require.False(t, today, "today never has data")
	})

	t.Run("NothingBeforeCreation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		got := decode[objectShape](t, get(t, b, "entityType=keyset&entityId="+b.late+"&from=2025-12-01&to=2026-01-20&metrics=txn_total,mtd_uuid"), http.StatusOK)

		require.Equal(t, map[string]map[string]float64{"txn_total": {}, "mtd_uuid": {}}, got.Metrics, "every metric asked for is present, without days")
		_, ok := b.sb.UsageValue("app", b.appID, "txn_total", day("2026-01-09"))
		require.False(t, ok)
	})

	t.Run("ObjectShapeByDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		res := get(t, b, "entityType=app&entityId="+b.appID+"&from=2026-02-27&to=2026-03-01&metrics=txn_total,mtd_uuid,txn_total")

		var raw map[string]map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(res.Body, &raw))
		got := decode[objectShape](t, res, http.StatusOK)
		require.Len(t, got.Metrics, 2, "a metric named twice is answered once")
		require.Len(t, got.Metrics["txn_total"], 2)
		require.Len(t, got.Metrics["mtd_uuid"], 2)
	})

	t.Run("ArrayShapeOneObjectPerMetric", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *sandbox.Opts) { o.UsageShape = sandbox.UsageShapeArray })
		object := setup(t, nil)
		query := "&from=2026-01-30&to=2026-02-02&metrics=txn_total,mtd_uuid"

		got := decode[arrayShape](t, get(t, b, "entityType=keyset&entityId="+b.early+query), http.StatusOK)
		want := decode[objectShape](t, get(t, object, "entityType=keyset&entityId="+object.early+query), http.StatusOK)

		require.Equal(t, []map[string]map[string]float64{
			{"txn_total": want.Metrics["txn_total"]}, {"mtd_uuid": want.Metrics["mtd_uuid"]},
		}, got.Metrics, "same values, in the order asked")
		require.Len(t, got.Metrics[0]["txn_total"], 3)
	})

	t.Run("Deterministic", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		query := "entityType=app&entityId=" + b.appID + "&from=2026-01-01&to=2026-03-01&metrics=txn_total,mtd_uuid"

		require.Equal(t, get(t, b, query).Body, get(t, b, query).Body)
		require.Equal(t, sandbox.KeysetDailyUsage("5000001", "txn_total", day("2026-02-03")), sandbox.KeysetDailyUsage("5000001", "txn_total", time.Date(2026, 2, 3, 23, 0, 0, 0, time.UTC)))
		require.NotEqual(t, sandbox.KeysetDailyUsage("5000001", "txn_total", day("2026-02-03")), sandbox.KeysetDailyUsage("5000001", "txn_total", day("2026-02-04")))
	})

	t.Run("InvalidMetricExactBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		res := get(t, b, "entityType=keyset&entityId="+b.early+"&from=2026-01-01&to=2026-01-02&metrics=invalid_metric_name")

		require.Equal(t, http.StatusBadRequest, res.Status)
		require.Equal(t, `{"statusCode":400,"message":["Invalid metrics: invalid_metric_name"],"error":"Bad Request"}`+"\n", string(res.Body), "the documented body, in the documented order")
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
				b := setup(t, nil)

				body := requireError(t, get(t, b, tt.query), http.StatusBadRequest, tt.message)
				require.Equal(t, "Bad Request", body.Error, "the usage endpoint uses the NestJS error text")
			})
		}
	})

	t.Run("UnknownEntity", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		requireError(t, get(t, b, "entityType=keyset&entityId=42&from=2026-01-01&to=2026-01-02&metrics=txn_total"), http.StatusNotFound)
		requireError(t, get(t, b, "entityType=app&entityId="+b.early+"&from=2026-01-01&to=2026-01-02&metrics=txn_total"), http.StatusNotFound, "app "+b.early+" not found")
		_, ok := b.sb.UsageValue("keyset", "42", "txn_total", day("2026-02-01"))
		require.False(t, ok)
		_, ok = b.sb.UsageValue("keyset", b.early, "no_such_metric", day("2026-02-01"))
		require.False(t, ok)
	})
}

func TestParseUsageShape(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]sandbox.UsageShape{"": sandbox.UsageShapeObject, "object": sandbox.UsageShapeObject, " Array ": sandbox.UsageShapeArray} {
		got, err := sandbox.ParseUsageShape(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := sandbox.ParseUsageShape("list")
	require.EqualError(t, err, `usage shape "list": want object or array`)
	require.Equal(t, "array", sandbox.UsageShapeArray.String())
	require.Equal(t, "object", sandbox.UsageShapeObject.String())
}

func BenchmarkUsageAppMonth(b *testing.B) {
	sb := sandbox.New(&sandbox.Opts{APIKey: testKey, RatePerMinute: -1})
	if _, err := sb.Prefill(10_000, &sandbox.PrefillOpts{CreatedAt: time.Now().AddDate(0, -2, 0)}); err != nil {
		b.Fatal(err)
	}
	from := time.Now().AddDate(0, -1, 0)
	for b.Loop() {
		for _, m := range []string{"txn_total", "mtd_uuid", "publish", "subscribe_msgs", "bytes_stored"} {
			sb.UsageValue("app", "1005000", m, from)
		}
	}
}
