package pubnub_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestUsageMetrics(t *testing.T) {
	t.Parallel()

	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		require.NoError(t, err)
		return d
	}

	t.Run("SandboxArrayShape", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)
		app, err := up.client.CreateApp(t.Context(), "app")
		require.NoError(t, err)

		got, err := up.client.GetUsageMetrics(t.Context(), pubnub.UsageQuery{
			EntityType: "app", EntityID: app.ID, From: day("2026-02-27"), To: day("2026-03-01"), Metrics: []string{"txn_total", "mtd_uuid"},
		})

		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Len(t, got["txn_total"], 2)
		require.Contains(t, got["mtd_uuid"], "2026-02-28")
		require.Equal(t, "entityId="+app.ID+"&entityType=app&from=2026-02-27&metrics=txn_total%2Cmtd_uuid&to=2026-03-01", up.requests.last().Query)
	})

	t.Run("ObjectShape", func(t *testing.T) {
		t.Parallel()
		client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"metrics":{"publish":{"2024-04-03":1234,"2024-04-04":1567},"mtd_uuid":{"2024-04-30":20480259}}}`)
		})

		got, err := client.GetUsageMetrics(t.Context(), pubnub.UsageQuery{EntityType: "keyset", EntityID: "1", From: day("2024-04-01"), To: day("2024-05-01"), Metrics: []string{"publish", "mtd_uuid"}})

		require.NoError(t, err)
		require.Equal(t, pubnub.UsageMetrics{"publish": {"2024-04-03": 1234, "2024-04-04": 1567}, "mtd_uuid": {"2024-04-30": 20480259}}, got)
	})

	t.Run("ArrayShapeMerged", func(t *testing.T) {
		t.Parallel()
		client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"metrics":[{"publish":{"2024-04-03":1234},"subscribe_msgs":{"2024-04-03":5678}},{"mtd_uuid":{"2024-04-30":20480259}},{"publish":{"2024-04-04":1567}}]}`)
		})

		got, err := client.GetUsageMetrics(t.Context(), pubnub.UsageQuery{EntityType: "keyset", EntityID: "1", From: day("2024-04-01"), To: day("2024-05-01"), Metrics: []string{"publish"}})

		require.NoError(t, err)
		require.Equal(t, pubnub.UsageMetrics{
			"publish":        {"2024-04-03": 1234, "2024-04-04": 1567},
			"subscribe_msgs": {"2024-04-03": 5678},
			"mtd_uuid":       {"2024-04-30": 20480259},
		}, got)
	})

	t.Run("BadRequestVariantBody", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)

		_, err := up.client.GetUsageMetrics(t.Context(), pubnub.UsageQuery{EntityType: "account", EntityID: "1", From: day("2026-01-01"), To: day("2026-01-02"), Metrics: []string{"invalid_metric_name"}})

		var apiErr *pubnub.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, pubnub.ErrorBody{StatusCode: 400, Error: "Bad Request", Message: []string{"Invalid metrics: invalid_metric_name"}}, apiErr.Body)
		require.True(t, pubnub.IsPermanent(err))
		require.EqualError(t, err, "pubnub: get usage metrics: GET /v2/usage-metrics: 400 Bad Request: Invalid metrics: invalid_metric_name")
	})

	t.Run("InvalidQueryRefusedBeforeSending", func(t *testing.T) {
		t.Parallel()
		up := startSandbox(t, nil)
		valid := pubnub.UsageQuery{EntityType: "account", EntityID: "1", From: day("2026-01-01"), To: day("2026-01-02"), Metrics: []string{"txn_total"}}
		noMetrics, noEntity, backwards := valid, valid, valid
		noMetrics.Metrics = nil
		noEntity.EntityID = ""
		backwards.From, backwards.To = valid.To, valid.From

		for _, q := range []pubnub.UsageQuery{noMetrics, noEntity, backwards} {
			_, err := up.client.GetUsageMetrics(t.Context(), q)
			require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
		}
		require.Zero(t, up.sb.CallCount())
	})
}
