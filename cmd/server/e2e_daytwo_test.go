package main

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// TestDayTwoEndToEnd changes a tenant, breaks it behind pnonboard's back as a person in the
// Admin Portal would, and has it checked and repaired, over HTTP against run().
func TestDayTwoEndToEnd(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	wait := []string{"Prefer", "wait=30"}
	status, tn := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "globex", "name": "Globex", "environments": []string{"development"}}, wait...)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, string(tenants.StateActive), tn["state"])

	status, tn = e.call(t, http.MethodPatch, "/v1/tenants/globex", map[string]any{"name": "Globex Corp", "environments": []string{"development", "staging"}}, wait...)
	require.Equal(t, http.StatusOK, status, "%v", tn)
	require.Equal(t, string(tenants.StateActive), tn["state"])
	require.Len(t, tn["keysets"], 2)
	staging := tn["keysets"].([]any)[1].(map[string]any)
	require.Equal(t, string(tenants.KeysetActive), staging["state"])
	require.Equal(t, "Globex Corp", e.sb.Customers()[0].Name)

	require.NoError(t, e.sb.DeleteKeyset(staging["keysetId"].(string)))
	status, tn = e.call(t, http.MethodPost, "/v1/tenants/globex/check", nil, wait...)
	require.Equal(t, http.StatusOK, status, "%v", tn)
	drift := tn["drift"].([]any)
	require.Len(t, drift, 1)
	require.Equal(t, string(tenants.DriftKeysetDeleted), drift[0].(map[string]any)["kind"])
	require.NotNil(t, tn["lastCheckedAt"])

	_, list := e.call(t, http.MethodGet, "/v1/tenants?drifted=true", nil)
	require.Len(t, list["data"], 1)

	status, tn = e.call(t, http.MethodPost, "/v1/tenants/globex/repair", nil, wait...)
	require.Equal(t, http.StatusOK, status, "%v", tn)
	require.Empty(t, tn["drift"])
	newStaging := tn["keysets"].([]any)[1].(map[string]any)
	require.NotEqual(t, staging["keysetId"], newStaging["keysetId"])
	require.Equal(t, string(tenants.StateActive), newStaging["state"])

	_, list = e.call(t, http.MethodGet, "/v1/tenants?drifted=true", nil)
	require.Empty(t, list["data"])
	// The repair re-made the keyset: the tenant settles as updated, and tenant.updated carries
	// the new keys.
	_, tl := e.call(t, http.MethodGet, "/v1/tenants/globex/events?limit=100", nil) // oldest first
	entries := tl["data"].([]any)
	require.Equal(t, string(tenants.ActionUpdated), entries[len(entries)-1].(map[string]any)["action"], "newest timeline entry")

	// Events are listed once every older transaction on the Postgres server has finished; other
	// tests' transactions share this server, so give the listing a moment.
	want := []string{webhooks.TypeProvisioned, webhooks.TypeUpdated, webhooks.TypeDriftDetected, webhooks.TypeUpdated}
	var types []string
	var last map[string]any
	require.Eventually(t, func() bool {
		_, events := e.call(t, http.MethodGet, "/v1/events?tenant=globex&limit=100", nil)
		types = types[:0]
		for _, ev := range events["data"].([]any) {
			types = append(types, ev.(map[string]any)["type"].(string))
			last = ev.(map[string]any)
		}
		return slices.Equal(types, want)
	}, 10*time.Second, 20*time.Millisecond, "want events %v", want)
	announced := last["payload"].(map[string]any)["data"].(map[string]any)["tenant"].(map[string]any)
	require.Equal(t, newStaging["keysetId"], announced["keysets"].([]any)[1].(map[string]any)["keysetId"], "tenant.updated carries the re-made keyset")
	require.Equal(t, newStaging["publishKey"], announced["keysets"].([]any)[1].(map[string]any)["publishKey"])
}
