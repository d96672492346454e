package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// TestPermissionMissingFailsTheTenantNamingTheRow: a Service Integration key without the OEM
// permission row fails a signup at create_customer, and its lastError names the row to add and
// says what to do; once the row is granted, retry finishes the tenant.
func TestPermissionMissingFailsTheTenantNamingTheRow(t *testing.T) {
	t.Parallel()
	perms, err := sandbox.ParsePermissions("account:app:rw,account:keyset:rw,account:secret-key:rw")
	require.NoError(t, err)
	e := startE2EWith(t, nil, &sandbox.Opts{Permissions: perms})

	status, tn := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme Corp"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, "%v", tn)
	require.Equal(t, string(tenants.StateFailed), tn["state"], "%v", tn)
	require.Equal(t, "create_customer", tn["failedStep"])
	lastError, _ := tn["lastError"].(string)
	require.Contains(t, lastError, "PubNub refused create customer with 403")
	require.Contains(t, lastError, "give the PubNub Service Integration key the permission row account:oem-customer:rw")
	require.Contains(t, lastError, "then retry the tenant")
	require.Equal(t, 1, e.sb.CallCount(sandbox.OpCreateCustomer), "a missing permission is not retried")

	// The operator adds the row; retry resumes at the failed step.
	e.sb.SetPermissions(append(perms, sandbox.Permission{Level: sandbox.LevelAccount, Resource: sandbox.ResourceOEMCustomer, Access: sandbox.AccessReadWrite}))
	status, _ = e.call(t, http.MethodPost, "/v1/tenants/acme/retry", nil)
	require.Equal(t, http.StatusAccepted, status)
	tn = e.waitState(t, "acme", tenants.StateActive)
	require.Nil(t, tn["lastError"])
	require.Len(t, e.sb.Customers(), 1)
	require.Len(t, e.sb.Apps(), 1, "the retry made nothing twice")
}
