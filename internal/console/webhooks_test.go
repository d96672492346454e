package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestWebhookPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type fixture struct {
		*testBundle
		endpoint, delivery string
	}
	setupWebhooks := func(t *testing.T) *fixture {
		t.Helper()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateActive)
		f := &fixture{testBundle: b}
		require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, description, secret_sealed) VALUES ('https://hooks.example/p', 'partner <prod>', '\x00') RETURNING id::text`).Scan(&f.endpoint))
		_, err := b.db.Pool.Exec(ctx, `INSERT INTO events (id, type, tenant_external_id, payload) VALUES
			('evt_a', $1, 'acme', jsonb_build_object('type', $1::text, 'data', '{"tenant":{"externalId":"acme"}}'::jsonb)),
			('evt_b', $2, 'other', '{}')`, webhooks.TypeProvisioned, webhooks.TypeDisabled)
		require.NoError(t, err)
		require.NoError(t, b.db.Pool.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, status) VALUES ($1, 'evt_a', $2) RETURNING id::text`, f.endpoint, webhooks.DeliveryFailed).Scan(&f.delivery))
		_, err = b.db.Pool.Exec(ctx, `INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, response_excerpt) VALUES ($1, now(), 503, 41, '<h1>down</h1>')`, f.delivery)
		require.NoError(t, err)
		return f
	}

	t.Run("EndpointsAndDeliveries", func(t *testing.T) {
		t.Parallel()
		f := setupWebhooks(t)
		br, _ := f.signedIn(t, "ana", auth.ScopeWebhooksRead)
		list := br.get(t, "/console/webhooks").Body
		require.Contains(t, list, "https://hooks.example/p")
		require.Contains(t, list, "partner &lt;prod&gt;")
		page := br.get(t, "/console/webhooks/"+f.endpoint)
		require.Equal(t, http.StatusOK, page.Status)
		for _, want := range []string{webhooks.TypeProvisioned, "evt_a", "delivery-failed", `<td data-label="Status">503</td>`, "41 ms", "&lt;h1&gt;down&lt;/h1&gt;"} {
			require.Contains(t, page.Body, want)
		}
		require.NotContains(t, page.Body, "/redeliver", "no webhooks:write, no button")
		require.Equal(t, http.StatusForbidden, br.do(t, http.MethodPost, "/console/webhooks/"+f.endpoint+"/deliveries/"+f.delivery+"/redeliver", url.Values{"csrf": {csrfOf(t, page.Body)}}).Status)
		require.Contains(t, br.get(t, "/console/webhooks/"+f.endpoint+"?status=succeeded").Body, "No deliveries with status succeeded")
		require.Equal(t, http.StatusNotFound, br.get(t, "/console/webhooks/00000000-0000-0000-0000-000000000000").Status)
		require.Equal(t, http.StatusNotFound, br.get(t, "/console/webhooks/not-a-uuid").Status)
	})

	t.Run("Redeliver", func(t *testing.T) {
		t.Parallel()
		f := setupWebhooks(t)
		br, _ := f.signedIn(t, "ana", auth.ScopeWebhooksRead, auth.ScopeWebhooksWrite)
		page := br.get(t, "/console/webhooks/"+f.endpoint).Body
		path := "/console/webhooks/" + f.endpoint + "/deliveries/" + f.delivery + "/redeliver"
		require.Contains(t, page, `href="`+path+`"`)
		confirm := br.get(t, path)
		require.Equal(t, http.StatusOK, confirm.Status)
		require.Contains(t, confirm.Body, "Redeliver this webhook?")
		resp := br.do(t, http.MethodPost, path, url.Values{"csrf": {csrfOf(t, confirm.Body)}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Redelivery requested")
		require.Contains(t, after, "delivery-pending")
	})

	t.Run("EventLogWithFilters", func(t *testing.T) {
		t.Parallel()
		f := setupWebhooks(t)
		br, _ := f.signedIn(t, "ana", auth.ScopeWebhooksRead)
		all := eventually(t, br, "/console/events", "evt_b")
		require.Contains(t, all, "evt_a")
		require.Contains(t, all, "evt_b")
		require.Contains(t, all, "&#34;externalId&#34;: &#34;acme&#34;", "the payload, indented and escaped")
		byTenant := br.get(t, "/console/events?tenant=acme").Body
		require.Contains(t, byTenant, "evt_a")
		require.NotContains(t, byTenant, "evt_b")
		byType := br.get(t, "/console/events?type="+webhooks.TypeDisabled).Body
		require.NotContains(t, byType, "evt_a")
		require.Contains(t, byType, "evt_b")
		require.Equal(t, http.StatusBadRequest, br.get(t, "/console/events?type=nope").Status)
		require.NotContains(t, all, `href="/console/tenants/acme"`, "no link to tenants for a key that cannot read them")
	})

	t.Run("SentForTheTenant", func(t *testing.T) {
		t.Parallel()
		f := setupWebhooks(t)
		br, _ := f.signedIn(t, "ana", auth.ScopeTenantsRead, auth.ScopeWebhooksRead)
		page := eventually(t, br, "/console/tenants/acme", "evt_a")
		require.Contains(t, page, "Webhooks sent")
		require.Contains(t, page, "evt_a")
		require.NotContains(t, page, "evt_b")
		require.Contains(t, page, `href="/console/webhooks/`+f.endpoint+`">https://hooks.example/p</a>: <span class="delivery delivery-failed">failed</span>, 1 attempt(s)`)
	})

	t.Run("NeedsWebhooksRead", func(t *testing.T) {
		t.Parallel()
		f := setupWebhooks(t)
		br, _ := f.signedIn(t, "ana", auth.ScopeTenantsRead)
		for _, path := range []string{"/console/webhooks", "/console/webhooks/" + f.endpoint, "/console/events"} {
			require.Equal(t, http.StatusForbidden, br.get(t, path).Status, path)
		}
		require.NotContains(t, br.get(t, "/console/tenants").Body, `href="/console/webhooks"`)
	})
}

// eventually gets path until its body contains want: events are listed only once every older
// transaction in the cluster has ended (webhooks.Service.ListEvents), other tests' included.
func eventually(t *testing.T, br *browser, path, want string) string {
	t.Helper()
	var body string
	require.Eventually(t, func() bool {
		body = br.get(t, path).Body
		return strings.Contains(body, want)
	}, 30*time.Second, 100*time.Millisecond, "%s never showed %s", path, want)
	return body
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	return m[1]
}
