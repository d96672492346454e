package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()

	t.Run("CRUDAndSecretsShownOnlyOnCreateAndRotate", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		key := ts.key(t, auth.ScopeWebhooksRead, auth.ScopeWebhooksWrite)

		resp := ts.do(t, http.MethodPost, "/v1/webhook-endpoints", key, map[string]any{
			"url": "https://hooks.example.com/pnonboard", "eventTypes": []string{webhooks.TypeProvisioned}, "description": "billing",
		})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		created := resp.JSON(t)
		secret := created["secret"].(string)
		require.True(t, strings.HasPrefix(secret, "whsec_"))
		id := created["id"].(string)
		require.Equal(t, true, created["enabled"])

		got := ts.do(t, http.MethodGet, "/v1/webhook-endpoints/"+id, key, nil)
		require.Equal(t, http.StatusOK, got.Status)
		require.NotContains(t, string(got.Body), secret[6:])
		list := ts.do(t, http.MethodGet, "/v1/webhook-endpoints", key, nil)
		require.Len(t, list.JSON(t)["data"], 1)
		require.NotContains(t, string(list.Body), "secret")

		patched := ts.do(t, http.MethodPatch, "/v1/webhook-endpoints/"+id, key, map[string]any{"enabled": false, "eventTypes": []string{}})
		require.Equal(t, http.StatusOK, patched.Status, string(patched.Body))
		require.Equal(t, false, patched.JSON(t)["enabled"])
		require.Equal(t, []any{}, patched.JSON(t)["eventTypes"])
		require.Equal(t, "billing", patched.JSON(t)["description"], "unset fields keep their values")
		require.Equal(t, http.StatusUnprocessableEntity, ts.do(t, http.MethodPatch, "/v1/webhook-endpoints/"+id, key, map[string]any{}).Status)

		rotated := ts.do(t, http.MethodPost, "/v1/webhook-endpoints/"+id+"/rotate-secret", key, nil)
		require.Equal(t, http.StatusOK, rotated.Status)
		require.NotEqual(t, secret, rotated.JSON(t)["secret"])
		require.NotNil(t, rotated.JSON(t)["previousSecretExpiresAt"])

		deliveries := ts.do(t, http.MethodGet, "/v1/webhook-endpoints/"+id+"/deliveries?status="+string(webhooks.DeliveryFailed), key, nil)
		require.Equal(t, http.StatusOK, deliveries.Status)
		require.Empty(t, deliveries.JSON(t)["data"])
		require.Equal(t, http.StatusUnprocessableEntity, ts.do(t, http.MethodGet, "/v1/webhook-endpoints/"+id+"/deliveries?status=lost", key, nil).Status)
		require.Equal(t, http.StatusNotFound, ts.do(t, http.MethodPost, "/v1/webhook-endpoints/"+id+"/deliveries/3b241101-e2bb-4255-8caf-4136c566a962/retry", key, nil).Status)

		require.Equal(t, http.StatusNoContent, ts.do(t, http.MethodDelete, "/v1/webhook-endpoints/"+id, key, nil).Status)
		require.Equal(t, http.StatusNotFound, ts.do(t, http.MethodGet, "/v1/webhook-endpoints/"+id, key, nil).Status)
		require.Equal(t, http.StatusNotFound, ts.do(t, http.MethodDelete, "/v1/webhook-endpoints/"+id, key, nil).Status)
		require.Equal(t, http.StatusNotFound, ts.do(t, http.MethodGet, "/v1/webhook-endpoints/not-a-uuid", key, nil).Status)

		require.NotContains(t, ts.logs.String(), secret[6:], "secrets never reach the logs")
	})

	t.Run("RegistrationRefusesInternalAndPlainHTTP", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t) // the default policy: https only, public addresses only
		key := ts.key(t, auth.ScopeWebhooksWrite)
		for _, url := range []string{
			"https://127.0.0.1/hook", "https://10.0.0.8/hook", "https://169.254.169.254/latest/meta-data",
			"https://localhost:8443/hook", "http://hooks.example.com/hook", "not a url",
		} {
			resp := ts.do(t, http.MethodPost, "/v1/webhook-endpoints", key, map[string]any{"url": url})
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, url)
			require.Equal(t, "url", resp.JSON(t)["errors"].([]any)[0].(map[string]any)["field"])
		}
		resp := ts.do(t, http.MethodPost, "/v1/webhook-endpoints", key, map[string]any{"url": "https://hooks.example.com/x", "eventTypes": []string{"tenant.deleted"}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status)
	})

	t.Run("EventsListingValidatesItsFilters", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		key := ts.key(t, auth.ScopeWebhooksRead)
		resp := ts.do(t, http.MethodGet, "/v1/events?type="+webhooks.TypeProvisioned+"&tenant=acme&limit=5", key, nil)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Empty(t, resp.JSON(t)["data"])
		for _, q := range []string{"type=nope", "limit=500", "createdAfter=soon", "cursor=zz"} {
			require.Equal(t, http.StatusUnprocessableEntity, ts.do(t, http.MethodGet, "/v1/events?"+q, key, nil).Status, q)
		}
	})
}
