package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

func TestPatchTenant(t *testing.T) {
	t.Parallel()
	b := setupTenants(t)
	require.Equal(t, http.StatusAccepted, b.create(t, map[string]any{"externalId": "acme", "name": "Acme", "environments": []string{"development"},
		"metadata": map[string]string{"plan": "free", "region": "eu"}}).Status)
	jobs := b.jobCount(t)

	t.Run("MetadataMergesInAnyState", func(t *testing.T) {
		resp := b.do(t, http.MethodPatch, "/v1/tenants/acme", b.key, `{"metadata": {"plan": "pro", "region": null, "seats": "12"}}`)
		require.Equal(t, http.StatusAccepted, resp.Status, "still provisioning: %s", resp.Body)
		v := requireDecode[tenants.View](t, resp)
		require.Equal(t, map[string]string{"plan": "pro", "seats": "12"}, v.Metadata)
		require.Equal(t, tenants.StatePending, v.State, "metadata alone starts nothing")
		require.Equal(t, jobs, b.jobCount(t))
	})

	t.Run("UpstreamChangesWaitForARestingTenant", func(t *testing.T) {
		resp := b.do(t, http.MethodPatch, "/v1/tenants/acme", b.key, `{"name": "Acme Two"}`)
		require.Equal(t, http.StatusConflict, resp.Status)
		require.Equal(t, "invalid_state", resp.JSON(t)["code"])
	})

	t.Run("ARestingTenantIsUpdating", func(t *testing.T) {
		b.setState(t, "acme", tenants.StateActive, tenants.DesiredActive)
		resp := b.do(t, http.MethodPatch, "/v1/tenants/acme", b.key, `{"name": "Acme Two", "environments": ["development", "staging"]}`)
		require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
		v := requireDecode[tenants.View](t, resp)
		require.Equal(t, tenants.StateUpdating, v.State)
		require.Equal(t, "Acme Two", v.Name)
		require.Equal(t, []string{"development", "staging"}, v.Environments)
		require.Len(t, v.Keysets, 2)
		require.Equal(t, "/v1/tenants/acme", resp.Header.Get("Location"))

		// The same patch again changes nothing.
		before := b.jobCount(t)
		resp = b.do(t, http.MethodPatch, "/v1/tenants/acme", b.key, `{"name": "Acme Two", "environments": ["development", "staging"]}`)
		require.Equal(t, http.StatusAccepted, resp.Status, "still updating")
		require.Equal(t, before, b.jobCount(t))
	})

	t.Run("InvalidValuesAre422", func(t *testing.T) {
		for body, field := range map[string]string{
			`{"name": null}`:              "name",
			`{"name": ""}`:                "name",
			`{"name": 7}`:                 "name",
			`{"environments": null}`:      "environments",
			`{"environments": []}`:        "environments",
			`{"environments": "staging"}`: "environments",
			`{"environments": ["mars"]}`:  "environments[0]",
			`{"metadata": null}`:          "metadata",
			`{"metadata": {"k": 1}}`:      "metadata.k",
			`{"environments": ["development", "staging", "production", "qa", "demo", "x"]}`: "environments",
		} {
			resp := b.do(t, http.MethodPatch, "/v1/tenants/acme", b.key, body)
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, body)
			var fields []string
			for _, e := range resp.JSON(t)["errors"].([]any) {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			require.Contains(t, fields, field, body)
		}
		resp := b.do(t, http.MethodPatch, "/v1/tenants/acme", b.key, `{"externalId": "other"}`)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, resp.Status, "the externalId cannot change")
		resp = b.do(t, http.MethodPatch, "/v1/tenants/nobody", b.key, `{"name": "X"}`)
		require.Equal(t, http.StatusNotFound, resp.Status)
	})

	t.Run("MergePatchMediaType", func(t *testing.T) {
		resp := b.sendType(t, http.MethodPatch, "/v1/tenants/acme", b.key, "application/merge-patch+json", `{"metadata": {"via": "merge-patch"}}`)
		require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
		require.Equal(t, "merge-patch", requireDecode[tenants.View](t, resp).Metadata["via"])
	})

	t.Run("NeedsTenantsWrite", func(t *testing.T) {
		reader := b.testServer.key(t, auth.ScopeTenantsRead)
		require.Equal(t, http.StatusForbidden, b.do(t, http.MethodPatch, "/v1/tenants/acme", reader, `{"name": "X"}`).Status)
		require.Equal(t, http.StatusForbidden, b.do(t, http.MethodPost, "/v1/tenants/acme/repair", reader, nil).Status)
		// A check only reads: tenants:read may ask (acme holds nothing yet, hence 409, not 403).
		require.Equal(t, http.StatusConflict, b.do(t, http.MethodPost, "/v1/tenants/acme/check", reader, nil).Status)
	})
}

func TestCheckAndRepair(t *testing.T) {
	t.Parallel()
	b := setupTenants(t)
	b.create(t, map[string]any{"externalId": "fresh", "name": "Fresh", "environments": []string{"development"}})

	t.Run("NothingHeldNothingToCheck", func(t *testing.T) {
		resp := b.do(t, http.MethodPost, "/v1/tenants/fresh/check", b.key, nil)
		require.Equal(t, http.StatusConflict, resp.Status)
		require.Contains(t, resp.JSON(t)["detail"], "holds nothing upstream")
	})
	t.Run("RepairWhileInFlightIs409", func(t *testing.T) {
		require.Equal(t, http.StatusConflict, b.do(t, http.MethodPost, "/v1/tenants/fresh/repair", b.key, nil).Status)
	})
	t.Run("RepairWithNoDriftIsANoop", func(t *testing.T) {
		b.setState(t, "fresh", tenants.StateActive, tenants.DesiredActive)
		resp := b.do(t, http.MethodPost, "/v1/tenants/fresh/repair", b.key, nil)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Empty(t, requireDecode[tenants.View](t, resp).Drift)
	})
	t.Run("DriftedFilter", func(t *testing.T) {
		resp := b.do(t, http.MethodGet, "/v1/tenants?drifted=true", b.key, nil)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Empty(t, resp.JSON(t)["data"])
		resp = b.do(t, http.MethodGet, "/v1/tenants?drifted=false", b.key, nil)
		require.Len(t, resp.JSON(t)["data"], 1)
		require.Equal(t, http.StatusUnprocessableEntity, b.do(t, http.MethodGet, "/v1/tenants?drifted=yes", b.key, nil).Status)
	})
}
