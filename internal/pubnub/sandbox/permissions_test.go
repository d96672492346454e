package sandbox_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestParsePermissions(t *testing.T) {
	t.Parallel()

	t.Run("TheDocumentedExample", func(t *testing.T) {
		t.Parallel()
		const s = "account:app:rw,account:keyset:rw,account:secret-key:rw,account:oem-customer:rw"

		got, err := sandbox.ParsePermissions(s)

		require.NoError(t, err)
		require.Equal(t, []sandbox.Permission{
			{Level: "account", Resource: sandbox.ResourceApp, Access: sandbox.AccessReadWrite},
			{Level: "account", Resource: sandbox.ResourceKeyset, Access: sandbox.AccessReadWrite},
			{Level: "account", Resource: sandbox.ResourceSecretKey, Access: sandbox.AccessReadWrite},
			{Level: "account", Resource: sandbox.ResourceOEMCustomer, Access: sandbox.AccessReadWrite},
		}, got)
		var back []string
		for _, p := range got {
			back = append(back, p.String())
		}
		require.Equal(t, s, strings.Join(back, ","))
	})

	t.Run("LevelsWithIDs", func(t *testing.T) {
		t.Parallel()

		got, err := sandbox.ParsePermissions(" app/1000001:keyset:r , keyset/5000001:secret-key:rw,account:usage:r")

		require.NoError(t, err)
		require.Equal(t, []sandbox.Permission{
			{Level: "app", LevelID: "1000001", Resource: sandbox.ResourceKeyset, Access: sandbox.AccessRead},
			{Level: "keyset", LevelID: "5000001", Resource: sandbox.ResourceSecretKey, Access: sandbox.AccessReadWrite},
			{Level: "account", Resource: sandbox.ResourceUsage, Access: sandbox.AccessRead},
		}, got)
		require.Equal(t, "app/1000001:keyset:r", got[0].String())
	})

	t.Run("EmptyIsFullAccessNoneIsNothing", func(t *testing.T) {
		t.Parallel()

		empty, err := sandbox.ParsePermissions("")
		require.NoError(t, err)
		none, err := sandbox.ParsePermissions("none")
		require.NoError(t, err)

		require.Nil(t, empty)
		require.NotNil(t, none)
		require.Empty(t, none)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		tests := []struct{ name, in, msg string }{
			{"TwoParts", "account:app", `"account:app" is not level:resource:access`},
			{"UnknownLevel", "org:app:rw", "level must be account, app/<appId> or keyset/<keysetId>"},
			{"AppWithoutID", "app:keyset:rw", "level must be account"},
			{"AccountWithID", "account/1:keyset:rw", "level must be account"},
			{"NonNumericID", "app/app_1:keyset:rw", `app ID "app_1" is not numeric`},
			{"UnknownResource", "account:channel:rw", "resource must be app, keyset, secret-key, usage or oem-customer"},
			{"WriteOnly", "account:app:w", "access must be r or rw"},
			{"OEMBelowAccount", "app/1:oem-customer:r", "oem-customer rows exist at account level only"},
			{"AppAtKeysetLevel", "keyset/1:app:r", "app rows exist at account and app level only"},
			{"UsageWrite", "account:usage:rw", "usage is read only"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()

				_, err := sandbox.ParsePermissions("account:app:r," + tt.in)

				require.ErrorContains(t, err, tt.msg)
			})
		}
	})
}

func TestPermissions(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb     *sandbox.Sandbox
		tenant sandbox.PrefilledTenant
	}
	// setup prefills one tenant (app 1000001, keysets 5000001-5000003), adds
	// an unassigned keyset 5000004 to its app, and then grants rows (a
	// comma-separated list; "" keeps full access).
	setup := func(t *testing.T, rows string) *testBundle {
		t.Helper()
		sb, _ := newSandbox(t, nil)
		tenants, err := sb.Prefill(1, nil)
		require.NoError(t, err)
		createKeyset(t, sb, tenants[0].AppID, nil)
		if rows != "" {
			perms, err := sandbox.ParsePermissions(rows)
			require.NoError(t, err)
			sb.SetPermissions(perms)
		}
		return &testBundle{sb: sb, tenant: tenants[0]}
	}
	full := func() []string {
		var rows []string
		for _, p := range sandbox.FullAccess() {
			rows = append(rows, p.String())
		}
		return rows
	}
	// without drops the full-access row for row's level and resource, so
	// that neither r nor rw is left for it.
	without := func(row string) string {
		resource := row[:strings.LastIndex(row, ":")+1]
		return strings.Join(slices.DeleteFunc(full(), func(r string) bool { return strings.HasPrefix(r, resource) }), ",")
	}

	// Each endpoint, the row it needs, and a request that would succeed with
	// full access.
	type endpoint struct {
		name, method, path string
		body               any
		rows               []string
	}
	newKeyset := map[string]any{"keyset": map[string]any{"name": "k", "appId": "1000001", "type": "testing"}}
	endpoints := []endpoint{
		{"CreateApp", http.MethodPost, "/v2/apps", map[string]any{"name": "a"}, []string{"account:app:rw"}},
		{"ListApps", http.MethodGet, "/v2/apps", nil, []string{"account:app:r"}},
		{"GetApp", http.MethodGet, "/v2/apps/1000001", nil, []string{"account:app:r"}},
		{"UpdateApp", http.MethodPatch, "/v2/apps/1000001", map[string]any{"name": "a"}, []string{"account:app:rw"}},
		{"CreateKeyset", http.MethodPost, "/v2/keysets", newKeyset, []string{"account:keyset:rw", "account:secret-key:r"}},
		{"ListKeysets", http.MethodGet, "/v2/keysets", nil, []string{"account:keyset:r"}},
		{"GetKeyset", http.MethodGet, "/v2/keysets/5000001", nil, []string{"account:keyset:r"}},
		{"UpdateKeyset", http.MethodPatch, "/v2/keysets/5000001", map[string]any{"name": "k"}, []string{"account:keyset:rw"}},
		{"DeleteKeyset", http.MethodDelete, "/v2/keysets/5000001", nil, []string{"account:keyset:rw"}},
		{"GetKeysetConfig", http.MethodGet, "/v2/keysets/5000001/config", nil, []string{"account:keyset:r"}},
		{"UpdateKeysetConfig", http.MethodPatch, "/v2/keysets/5000001/config", map[string]any{}, []string{"account:keyset:rw"}},
		{"ListSecretKeys", http.MethodGet, "/v2/keysets/5000001/secret-keys", nil, []string{"account:secret-key:r"}},
		{"RotateSecretKey", http.MethodPost, "/v2/keysets/5000001/secret-keys", nil, []string{"account:secret-key:rw"}},
		{"CreateCustomer", http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "x", "name": "X"}, []string{"account:oem-customer:rw"}},
		{"ListCustomers", http.MethodGet, "/v2/oem/customers", nil, []string{"account:oem-customer:r"}},
		{"GetCustomer", http.MethodGet, "/v2/oem/customers/{customer}", nil, []string{"account:oem-customer:r"}},
		{"UpdateCustomer", http.MethodPut, "/v2/oem/customers/{customer}", map[string]any{"name": "X"}, []string{"account:oem-customer:rw"}},
		{"DeleteCustomer", http.MethodDelete, "/v2/oem/customers/{customer}", nil, []string{"account:oem-customer:rw"}},
		{"AssignKeysets", http.MethodPost, "/v2/oem/customers/{customer}/keysets", map[string]any{"keysetIds": []int{5000004}}, []string{"account:oem-customer:rw"}},
		{"ListCustomerKeysets", http.MethodGet, "/v2/oem/keysets?customerId={customer}", nil, []string{"account:oem-customer:r"}},
		{"GetUsageMetrics", http.MethodGet, "/v2/usage-metrics?entityType=keyset&entityId=5000001&from=2026-01-01&to=2026-01-02&metrics=txn_total", nil, []string{"account:usage:r"}},
	}
	send := func(t *testing.T, b *testBundle, ep endpoint) response {
		t.Helper()
		return do(t, b.sb, ep.method, strings.ReplaceAll(ep.path, "{customer}", b.tenant.CustomerID), ep.body, withHeader("PubNub-Version", sandbox.MinDeleteCustomerVersion))
	}

	t.Run("EachEndpointNamesItsMissingRow", func(t *testing.T) {
		t.Parallel()
		for _, ep := range endpoints {
			t.Run(ep.name, func(t *testing.T) {
				t.Parallel()
				for _, row := range ep.rows {
					b := setup(t, without(row))
					before := b.sb.Snapshot()

					body := requireError(t, send(t, b, ep), http.StatusForbidden)

					require.Equal(t, errorBody{StatusCode: 403, Error: "Forbidden", Message: []string{"Service Integration lacks permission " + row}}, body)
					require.Equal(t, before, b.sb.Snapshot(), "a refused request changes nothing")
				}
				require.Equal(t, ep.rows, rowStrings(sandbox.RequiredPermissions(sandbox.Operation(ep.name))), "RequiredPermissions agrees")
			})
		}
	})

	t.Run("FullAccessByDefault", func(t *testing.T) {
		t.Parallel()
		for _, ep := range endpoints {
			t.Run(ep.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, "")

				res := send(t, b, ep)

				require.NotEqual(t, http.StatusForbidden, res.Status, "body: %s", res.Body)
				require.Less(t, res.Status, 300, "body: %s", res.Body)
			})
		}
	})

	t.Run("ExactErrorBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "account:app:rw,account:keyset:rw,account:secret-key:rw")

		res := do(t, b.sb, http.MethodGet, "/v2/oem/customers", nil)

		require.Equal(t, http.StatusForbidden, res.Status)
		require.JSONEq(t, `{"statusCode":403,"error":"Forbidden","message":["Service Integration lacks permission account:oem-customer:r"]}`, string(res.Body))
	})

	t.Run("CreateKeysetNamesBothRows", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "account:app:rw")

		body := requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", newKeyset), http.StatusForbidden)

		require.Equal(t, []string{"Service Integration lacks permission account:keyset:rw", "Service Integration lacks permission account:secret-key:r"}, body.Message)
	})

	t.Run("ReadDoesNotGrantWrite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "account:keyset:r")

		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/keysets/5000001/config", nil).Status)
		requireError(t, do(t, b.sb, http.MethodPatch, "/v2/keysets/5000001/config", map[string]any{}), http.StatusForbidden, "Service Integration lacks permission account:keyset:rw")
	})

	t.Run("AppLevelCoversTheAppAndItsKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "app/1000001:app:rw,app/1000001:keyset:rw,app/1000001:secret-key:r,app/1000001:usage:r")
		_, err := b.sb.Prefill(1, &sandbox.PrefillOpts{ExternalIDFunc: func(int) string { return "other" }}) // app 1000002, keysets 5000005-7
		require.NoError(t, err)

		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodPatch, "/v2/apps/1000001", map[string]any{"name": "x"}).Status)
		require.Equal(t, http.StatusCreated, do(t, b.sb, http.MethodPost, "/v2/keysets", newKeyset).Status)
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/keysets/5000002/secret-keys", nil).Status)
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/usage-metrics?entityType=app&entityId=1000001&from=2026-01-01&to=2026-01-02&metrics=txn_total", nil).Status)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps/1000002", nil), http.StatusForbidden, "Service Integration lacks permission account:app:r")
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/5000005", nil), http.StatusForbidden)
		requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", map[string]any{"keyset": map[string]any{"name": "k", "appId": "1000002", "type": "testing"}}), http.StatusForbidden)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusForbidden, "Service Integration lacks permission account:app:r")
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/usage-metrics?entityType=account&entityId=1&from=2026-01-01&to=2026-01-02&metrics=txn_total", nil), http.StatusForbidden)
	})

	t.Run("KeysetLevelCoversThatKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "keyset/5000002:keyset:r,keyset/5000002:secret-key:rw")

		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/keysets/5000002", nil).Status)
		require.Equal(t, http.StatusCreated, do(t, b.sb, http.MethodPost, "/v2/keysets/5000002/secret-keys", nil).Status)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/5000001", nil), http.StatusForbidden)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/5999999", nil), http.StatusForbidden, "Service Integration lacks permission account:keyset:r")
	})

	t.Run("NoneRefusesEverything", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "")
		b.sb.SetPermissions([]sandbox.Permission{})

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusForbidden)
		b.sb.SetPermissions(nil)
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/apps", nil).Status, "nil restores full access")
	})

	t.Run("CheckedAfterAuthAndVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t, "account:app:r")

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets", nil, withoutHeader("Authorization")), http.StatusUnauthorized)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets", nil, withoutHeader("PubNub-Version")), http.StatusBadRequest)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/nothing", nil), http.StatusNotFound)
	})

	t.Run("FromOptions", func(t *testing.T) {
		t.Parallel()
		perms, err := sandbox.ParsePermissions("account:app:r")
		require.NoError(t, err)
		sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.Permissions = perms })

		require.Equal(t, http.StatusOK, do(t, sb, http.MethodGet, "/v2/apps", nil).Status)
		requireError(t, do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}), http.StatusForbidden, "Service Integration lacks permission account:app:rw")
	})
}

func rowStrings(rows []sandbox.Permission) []string {
	var out []string
	for _, p := range rows {
		out = append(out, p.String())
	}
	return out
}
