package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// hookReceiver records verified webhooks the way a partner's backend would receive them.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	hooks  []hook
	secret string
}

type hook struct {
	id, eventType string
	verifyErr     error
	body          map[string]any
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	hr := &hookReceiver{}
	hr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hr.mu.Lock()
		defer hr.mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(hr.secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		var payload map[string]any
		_ = json.Unmarshal(body, &payload)
		typ, _ := payload["type"].(string)
		hr.hooks = append(hr.hooks, hook{id: r.Header.Get("webhook-id"), eventType: typ, verifyErr: err, body: payload})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hr.Close)
	return hr
}

func (hr *hookReceiver) setSecret(s string) {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	hr.secret = s
}

func (hr *hookReceiver) received() []hook {
	hr.mu.Lock()
	defer hr.mu.Unlock()
	return append([]hook(nil), hr.hooks...)
}

func (hr *hookReceiver) waitFor(t *testing.T, n int) []hook {
	t.Helper()
	require.Eventually(t, func() bool { return len(hr.received()) >= n }, 30*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // and no duplicate follows
	return hr.received()
}

func TestEndToEndWebhooks(t *testing.T) {
	t.Parallel()
	allow := map[string]string{"PNONBOARD_WEBHOOK_ALLOW_HTTP": "true", "PNONBOARD_WEBHOOK_ALLOW_PRIVATE": "true"}

	register := func(t *testing.T, e *e2e, hr *hookReceiver) string {
		t.Helper()
		status, ep := e.call(t, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": hr.URL + "/hooks"})
		require.Equal(t, http.StatusCreated, status, "%v\n%s", ep, e.srv.Stderr)
		hr.setSecret(ep["secret"].(string))
		return ep["id"].(string)
	}

	t.Run("ProvisionedDisabledEnabledEachOnceAndVerified", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, allow)
		hr := newHookReceiver(t)
		endpointID := register(t, e, hr)

		status, _ := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "hooked", "name": "Hooked"}, "Prefer", "wait=30")
		require.Equal(t, http.StatusAccepted, status)
		got := hr.waitFor(t, 1)
		require.Len(t, got, 1, "exactly one tenant.provisioned, delivered once")
		require.Equal(t, webhooks.TypeProvisioned, got[0].eventType)
		require.NoError(t, got[0].verifyErr, "the receiver verifies it with the Standard Webhooks library")
		tenant := got[0].body["data"].(map[string]any)["tenant"].(map[string]any)
		require.Equal(t, "hooked", tenant["externalId"])
		require.Equal(t, string(tenants.StateActive), tenant["state"])
		require.Len(t, tenant["keysets"], 3)

		_, deliveries := e.call(t, http.MethodGet, "/v1/webhook-endpoints/"+endpointID+"/deliveries", nil)
		require.Len(t, deliveries["data"], 1)
		d := deliveries["data"].([]any)[0].(map[string]any)
		require.Equal(t, "succeeded", d["status"])
		require.Equal(t, got[0].id, d["eventId"])
		require.Len(t, d["attempts"], 1)

		e.call(t, http.MethodPost, "/v1/tenants/hooked/disable", nil)
		e.waitState(t, "hooked", tenants.StateDisabled)
		e.call(t, http.MethodPost, "/v1/tenants/hooked/enable", nil)
		e.waitState(t, "hooked", tenants.StateActive)
		got = hr.waitFor(t, 3)
		require.Len(t, got, 3)
		require.Equal(t, []string{webhooks.TypeProvisioned, webhooks.TypeDisabled, webhooks.TypeEnabled}, []string{got[0].eventType, got[1].eventType, got[2].eventType})
		for _, h := range got {
			require.NoError(t, h.verifyErr)
		}

		// Events are listed once every older transaction on the server has finished; other
		// tests' transactions share this server, so give the listing a moment.
		var events map[string]any
		require.Eventually(t, func() bool {
			_, events = e.call(t, http.MethodGet, "/v1/events?tenant=hooked", nil)
			return len(events["data"].([]any)) == 3
		}, 10*time.Second, 20*time.Millisecond)
		require.Equal(t, got[1].id, events["data"].([]any)[1].(map[string]any)["id"])
	})

	t.Run("FailedProvisioningIsAnnouncedWithTheError", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, allow)
		hr := newHookReceiver(t)
		register(t, e, hr)
		e.sb.InjectFault(sandbox.OpCreateCustomer, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "not an OEM partner"}, -1)

		e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "doomed", "name": "Doomed"})
		e.waitState(t, "doomed", tenants.StateFailed)
		got := hr.waitFor(t, 1)
		require.Len(t, got, 1)
		require.Equal(t, webhooks.TypeProvisioningFailed, got[0].eventType)
		require.NoError(t, got[0].verifyErr)
		tenant := got[0].body["data"].(map[string]any)["tenant"].(map[string]any)
		require.Contains(t, tenant["lastError"], "not an OEM partner")
		require.Equal(t, "create_customer", tenant["failedStep"])
	})

	t.Run("InternalReceiversRefusedUnlessAllowed", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, map[string]string{"PNONBOARD_WEBHOOK_ALLOW_HTTP": "true"})
		for _, url := range []string{"http://127.0.0.1:9/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data"} {
			status, p := e.call(t, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": url})
			require.Equal(t, http.StatusUnprocessableEntity, status, url)
			require.Contains(t, p["errors"].([]any)[0].(map[string]any)["message"], "not allowed")
		}
	})
}
