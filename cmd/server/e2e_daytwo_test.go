package main

import (
	"net/http"
	"testing"

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
	_, events := e.call(t, http.MethodGet, "/v1/events?limit=100", nil)
	var types []string
	for _, ev := range events["data"].([]any) {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	require.Contains(t, types, webhooks.TypeUpdated)
	require.Contains(t, types, webhooks.TypeDriftDetected)
}
