package pubnub_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestUsageMetrics(t *testing.T) {
	t.Parallel()

	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		require.NoError(t, err)
		return d
	}

	// Against the sandbox in both of its answer shapes: the decoded values
	// are exactly the sandbox's, and an app's are the sum of its keysets'.
	for _, shape := range []sandbox.UsageShape{sandbox.UsageShapeObject, sandbox.UsageShapeArray} {
		t.Run(fmt.Sprint("SandboxShape", shape), func(t *testing.T) {
			t.Parallel()
			up := startSandbox(t, func(o *sandbox.Opts) { o.UsageShape = shape })
			tenants, err := up.sb.Prefill(1, &sandbox.PrefillOpts{CreatedAt: day("2026-01-15")})
			require.NoError(t, err)
			tn := tenants[0]
			metrics := []string{"txn_total", "mtd_uuid", "publish", "subscribe_msgs", "bytes_stored"}

			app, err := up.client.GetUsageMetrics(t.Context(), pubnub.UsageQuery{EntityType: "app", EntityID: tn.AppID, From: day("2026-02-01"), To: day("2026-03-01"), Metrics: metrics})
			require.NoError(t, err)
			require.Equal(t, "entityId="+tn.AppID+"&entityType=app&from=2026-02-01&metrics=txn_total%2Cmtd_uuid%2Cpublish%2Csubscribe_msgs%2Cbytes_stored&to=2026-03-01", up.requests.last().Query)
			perKeyset := make([]pubnub.UsageMetrics, len(tn.KeysetIDs))
			for i, id := range tn.KeysetIDs {
				perKeyset[i], err = up.client.GetUsageMetrics(t.Context(), pubnub.UsageQuery{EntityType: "keyset", EntityID: id, From: day("2026-02-01"), To: day("2026-03-01"), Metrics: metrics})
				require.NoError(t, err)
			}

			require.Len(t, app, len(metrics))
			for _, m := range metrics {
				require.Len(t, app[m], 28, m)
				for d, v := range app[m] {
					want, ok := up.sb.UsageValue("app", tn.AppID, m, day(d))
					require.True(t, ok)
					require.Equal(t, want, v, "%s %s", m, d)
					sum := 0.0
					for _, ks := range perKeyset {
						sum += ks[m][d]
					}
					require.Equal(t, v, sum, "app = sum of keysets, %s %s", m, d)
				}
			}
		})
	}

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
