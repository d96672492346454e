package sandbox_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestPortalChanges(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb     *sandbox.Sandbox
		clock  *testclock.Clock
		tenant sandbox.PrefilledTenant
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		tenants, err := sb.Prefill(1, nil)
		require.NoError(t, err)
		clock.Advance(time.Minute)
		return &testBundle{sb: sb, clock: clock, tenant: tenants[0]}
	}
	customerKeysets := func(t *testing.T, b *testBundle) []string {
		t.Helper()
		return b.sb.Customers()[0].KeysetIDs()
	}

	t.Run("DeleteKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ks := b.tenant.KeysetIDs

		require.NoError(t, b.sb.DeleteKeyset(ks[1]))

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+ks[1], nil), http.StatusNotFound)
		require.Equal(t, []string{ks[0], ks[2]}, customerKeysets(t, b))
		require.ErrorIs(t, b.sb.DeleteKeyset(ks[1]), sandbox.ErrNotFound)
	})

	t.Run("UnassignKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ks := b.tenant.KeysetIDs

		require.NoError(t, b.sb.UnassignKeyset(ks[0]))

		require.Equal(t, []string{ks[1], ks[2]}, customerKeysets(t, b))
		require.Empty(t, b.sb.Keysets()[0].CustomerID)
		require.Equal(t, b.clock.Now(), b.sb.Customers()[0].Updated)
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodGet, "/v2/keysets/"+ks[0], nil).Status, "the keyset stays")
		require.ErrorIs(t, b.sb.UnassignKeyset(ks[0]), sandbox.ErrNotFound, "no longer assigned")
		require.ErrorIs(t, b.sb.UnassignKeyset("5999999"), sandbox.ErrNotFound)
	})

	t.Run("Renames", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.NoError(t, b.sb.RenameApp(b.tenant.AppID, "app-renamed"))
		require.NoError(t, b.sb.RenameKeyset(b.tenant.KeysetIDs[0], "ks-renamed"))
		require.NoError(t, b.sb.RenameCustomer(b.tenant.CustomerID, "Renamed Inc"))

		app := decode[appJSON](t, do(t, b.sb, http.MethodGet, "/v2/apps/"+b.tenant.AppID, nil), http.StatusOK)
		ks := decode[keysetJSON](t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+b.tenant.KeysetIDs[0], nil), http.StatusOK)
		cust := decode[customerResult](t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+b.tenant.CustomerID, nil), http.StatusOK).Result
		require.Equal(t, []string{"app-renamed", "ks-renamed", "Renamed Inc", "prefill-000001"}, []string{app.Name, ks.Name, cust.Name, cust.ExternalID})
		require.Equal(t, "2026-03-01T12:01:00.000Z", app.UpdatedAt)
		require.Equal(t, "2026-03-01T12:01:00.000Z", ks.UpdatedAt)
		require.Equal(t, "2026-03-01T12:01:00.000Z", cust.Updated)
		require.ErrorIs(t, b.sb.RenameApp("1999999", "x"), sandbox.ErrNotFound)
		require.ErrorIs(t, b.sb.RenameKeyset("5999999", "x"), sandbox.ErrNotFound)
		require.ErrorIs(t, b.sb.RenameCustomer("nobody", "x"), sandbox.ErrNotFound)
		require.ErrorIs(t, b.sb.RenameApp(b.tenant.AppID, ""), sandbox.ErrInvalid)
		require.ErrorIs(t, b.sb.RenameCustomer(b.tenant.CustomerID, string(make([]byte, 256))), sandbox.ErrInvalid)
	})

	t.Run("SetAccessManager", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := b.tenant.KeysetIDs[2]

		require.NoError(t, b.sb.SetAccessManager(id, true))
		on := decode[sandbox.Config](t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+id+"/config", nil), http.StatusOK)
		require.NoError(t, b.sb.SetAccessManager(id, false))
		off := decode[sandbox.Config](t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+id+"/config", nil), http.StatusOK)

		require.True(t, on.AccessManager.Enabled)
		require.Equal(t, sandbox.DefaultConfig(), off, "nothing else changed")
		require.ErrorIs(t, b.sb.SetAccessManager("5999999", true), sandbox.ErrNotFound)
	})

	t.Run("DeleteCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.NoError(t, b.sb.DeleteCustomer(b.tenant.CustomerID))

		require.Empty(t, b.sb.Customers())
		require.Len(t, b.sb.Keysets(), 3)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+b.tenant.CustomerID, nil), http.StatusNotFound)
		require.ErrorIs(t, b.sb.DeleteCustomer(b.tenant.CustomerID), sandbox.ErrNotFound)
		_, err := b.sb.Prefill(1, nil)
		require.NoError(t, err, "its externalId is free again")
	})

	t.Run("DeleteApp", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other, err := b.sb.Prefill(1, &sandbox.PrefillOpts{ExternalIDFunc: func(int) string { return "other" }})
		require.NoError(t, err)

		require.NoError(t, b.sb.DeleteApp(b.tenant.AppID))

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps/"+b.tenant.AppID, nil), http.StatusNotFound)
		for _, id := range b.tenant.KeysetIDs {
			requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+id, nil), http.StatusNotFound)
		}
		require.Empty(t, b.sb.Customers()[0].KeysetIDs(), "its keysets' assignments went with them")
		require.Len(t, b.sb.Apps(), 1)
		require.Equal(t, other[0].KeysetIDs, b.sb.Customers()[1].KeysetIDs(), "another app is untouched")
		require.Len(t, b.sb.Keysets(), 3)
		require.ErrorIs(t, b.sb.DeleteApp(b.tenant.AppID), sandbox.ErrNotFound)
	})

	t.Run("AssignKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other, err := b.sb.Prefill(1, &sandbox.PrefillOpts{ExternalIDFunc: func(int) string { return "other" }})
		require.NoError(t, err)
		theirs := other[0].KeysetIDs[0]

		require.NoError(t, b.sb.AssignKeyset(theirs, b.tenant.CustomerID))

		require.Equal(t, append(slices.Clone(b.tenant.KeysetIDs), theirs), customerKeysets(t, b))
		require.Equal(t, other[0].KeysetIDs[1:], b.sb.Customers()[1].KeysetIDs(), "taken from its customer")
		require.Equal(t, b.clock.Now(), b.sb.Customers()[0].Updated)
		require.ErrorIs(t, b.sb.AssignKeyset(theirs, b.tenant.CustomerID), sandbox.ErrInvalid, "already held")
		require.NoError(t, b.sb.AssignKeyset(other[0].KeysetIDs[1], b.tenant.CustomerID))
		require.ErrorIs(t, b.sb.AssignKeyset(other[0].KeysetIDs[2], b.tenant.CustomerID), sandbox.ErrInvalid, "five at most")
		require.ErrorIs(t, b.sb.AssignKeyset("5999999", b.tenant.CustomerID), sandbox.ErrNotFound)
		require.ErrorIs(t, b.sb.AssignKeyset(theirs, "nobody"), sandbox.ErrNotFound)
	})

	t.Run("MoveKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other, err := b.sb.Prefill(1, &sandbox.PrefillOpts{ExternalIDFunc: func(int) string { return "other" }})
		require.NoError(t, err)
		id := b.tenant.KeysetIDs[1]

		require.NoError(t, b.sb.MoveKeyset(id, other[0].AppID))

		ks := decode[keysetJSON](t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+id, nil), http.StatusOK)
		require.Equal(t, other[0].AppID, ks.AppID)
		require.Equal(t, "2026-03-01T12:01:00.000Z", ks.UpdatedAt)
		require.Equal(t, b.tenant.KeysetIDs, customerKeysets(t, b), "still assigned")
		require.ErrorIs(t, b.sb.MoveKeyset(id, "1999999"), sandbox.ErrNotFound)
		require.ErrorIs(t, b.sb.MoveKeyset("5999999", b.tenant.AppID), sandbox.ErrNotFound)
	})

	t.Run("SetCustomerExternalID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.NoError(t, b.sb.SetCustomerExternalID(b.tenant.CustomerID, "someone-else"))

		cust := decode[customerResult](t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+b.tenant.CustomerID, nil), http.StatusOK).Result
		require.Equal(t, "someone-else", cust.ExternalID)
		require.Equal(t, "2026-03-01T12:01:00.000Z", cust.Updated)
		_, err := b.sb.Prefill(1, nil)
		require.NoError(t, err, "the old externalId is free again")
		require.ErrorIs(t, b.sb.SetCustomerExternalID(b.tenant.CustomerID, "prefill-000001"), sandbox.ErrInvalid, "taken")
		require.ErrorIs(t, b.sb.SetCustomerExternalID(b.tenant.CustomerID, "not valid!"), sandbox.ErrInvalid)
		require.ErrorIs(t, b.sb.SetCustomerExternalID("nobody", "x"), sandbox.ErrNotFound)
	})

	t.Run("BypassesThePipeline", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.RatePerMinute = 1 })
		tenants, err := sb.Prefill(2, nil)
		require.NoError(t, err)
		sb.InjectFault(sandbox.OpAny, sandbox.Fault{Kind: sandbox.FaultServerError}, -1)

		for _, tn := range tenants {
			require.NoError(t, sb.RenameApp(tn.AppID, "x"))
			require.NoError(t, sb.DeleteKeyset(tn.KeysetIDs[0]))
		}
		for range 3 {
			require.Equal(t, http.StatusOK, do(t, sb, http.MethodGet, sandbox.AdminPrefix+"/state", nil).Status)
		}

		require.Zero(t, sb.CallCount(), "nothing is recorded")
		res := do(t, sb, http.MethodGet, "/v2/apps", nil)
		require.Equal(t, http.StatusInternalServerError, res.Status, "the one API request was neither rate limited nor spent by the admin calls")
	})
}

func TestPrefill(t *testing.T) {
	t.Parallel()

	t.Run("TenTenantsTheWayPnonboardNamesThem", func(t *testing.T) {
		t.Parallel()
		sb, clock := newSandbox(t, nil)
		createApp(t, sb, "existing")

		tenants, err := sb.Prefill(10, nil)

		require.NoError(t, err)
		require.Len(t, tenants, 10)
		first := tenants[0]
		require.Equal(t, sandbox.PrefilledTenant{
			ExternalID: "prefill-000001", AppID: "1000002", CustomerID: first.CustomerID, KeysetIDs: []string{"5000001", "5000002", "5000003"},
		}, first)
		require.Equal(t, "1000011", tenants[9].AppID)
		ks := sb.Keysets()
		require.Len(t, ks, 30)
		require.Equal(t, []string{"pnonboard-prefill-000001-development", "testing", "1000002", first.CustomerID},
			[]string{ks[0].Name, ks[0].Type, ks[0].AppID, ks[0].CustomerID})
		require.Equal(t, []string{"pnonboard-prefill-000001-production", "production"}, []string{ks[2].Name, ks[2].Type})
		require.Len(t, ks[0].SecretKeys, 1)
		require.Equal(t, clock.Now(), ks[0].CreatedAt)
		require.Equal(t, "pnonboard-prefill-000010", sb.Apps()[10].Name)
		cust := sb.Customers()[9]
		require.Equal(t, []string{"prefill-000010", "prefill-000010"}, []string{cust.ExternalID, cust.Name})
		require.Equal(t, tenants[9].KeysetIDs, cust.KeysetIDs())
		// The API sees them like provisioned ones, and IDs continue.
		list := decode[struct {
			Result []struct {
				ExternalID  string `json:"externalId"`
				AppCount    int    `json:"appCount"`
				KeysetCount int    `json:"keysetCount"`
			} `json:"result"`
		}](t, do(t, sb, http.MethodGet, "/v2/oem/customers", nil), http.StatusOK)
		require.Len(t, list.Result, 10)
		require.Equal(t, []int{1, 3}, []int{list.Result[0].AppCount, list.Result[0].KeysetCount})
		require.Equal(t, "1000012", createApp(t, sb, "next").ID)
	})

	t.Run("Opts", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, nil)
		created := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
		cfg := sandbox.DefaultConfig()
		cfg.AccessManager.Enabled = true

		tenants, err := sb.Prefill(2, &sandbox.PrefillOpts{
			ExternalIDFunc:   func(i int) string { return fmt.Sprint("bench-", i) },
			Environments:     []string{"production"},
			AppNameFunc:      func(id string) string { return "app-" + id },
			KeysetNameFunc:   func(id, env string) string { return id + "/" + env },
			CustomerNameFunc: func(id string) string { return "Customer " + id },
			ConfigFunc:       func(string) sandbox.Config { return cfg },
			CreatedAt:        created,
		})

		require.NoError(t, err)
		require.Equal(t, "bench-1", tenants[1].ExternalID)
		k := sb.Keysets()[1]
		require.Equal(t, []string{"bench-1/production", "production"}, []string{k.Name, k.Type})
		require.True(t, k.Config.AccessManager.Enabled)
		require.Equal(t, created, k.CreatedAt)
		require.Equal(t, "app-bench-0", sb.Apps()[0].Name)
		require.Equal(t, "Customer bench-1", sb.Customers()[1].Name)
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			opts *sandbox.PrefillOpts
		}{
			{"TakenExternalID", &sandbox.PrefillOpts{ExternalIDFunc: func(i int) string { return fmt.Sprint("t", i%3) }}},
			{"BadExternalID", &sandbox.PrefillOpts{ExternalIDFunc: func(i int) string { return fmt.Sprint("t ", i) }}},
			{"TooManyEnvironments", &sandbox.PrefillOpts{Environments: []string{"a", "b", "c", "d", "e", "f"}}},
			{"NameTooLong", &sandbox.PrefillOpts{AppNameFunc: func(string) string { return string(make([]byte, 256)) }}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				sb, _ := newSandbox(t, nil)

				_, err := sb.Prefill(5, tt.opts)

				require.ErrorIs(t, err, sandbox.ErrInvalid)
				require.Empty(t, sb.Apps())
				require.Empty(t, sb.Customers())
				require.Equal(t, "1000001", createApp(t, sb, "a").ID, "no ID was spent")
			})
		}
	})

	t.Run("TenThousandTenants", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, nil)

		tenants, err := sb.Prefill(10_000, nil)

		require.NoError(t, err)
		require.Len(t, tenants, 10_000)
		page := decode[struct {
			Keysets []keysetJSON `json:"keysets"`
			Total   int          `json:"total"`
		}](t, do(t, sb, http.MethodGet, "/v2/keysets?page=300&limit=100", nil), http.StatusOK)
		require.Equal(t, 30_000, page.Total)
		require.Equal(t, "pnonboard-prefill-010000-production", page.Keysets[99].Name, "the newest tenant's keysets sort last")
	})
}

func BenchmarkPrefill10000(b *testing.B) {
	for b.Loop() {
		sb := sandbox.New(&sandbox.Opts{RatePerMinute: -1})
		if _, err := sb.Prefill(10_000, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb     *sandbox.Sandbox
		tenant sandbox.PrefilledTenant
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, _ := newSandbox(t, nil)
		tenants, err := sb.Prefill(1, nil)
		require.NoError(t, err)
		return &testBundle{sb: sb, tenant: tenants[0]}
	}
	admin := func(t *testing.T, b *testBundle, method, path string, body any, opts ...reqOption) response {
		t.Helper()
		// No PubNub-Version: the admin routes do not need one.
		return do(t, b.sb, method, sandbox.AdminPrefix+path, body, append([]reqOption{withoutHeader("PubNub-Version")}, opts...)...)
	}

	t.Run("EachChange", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tn := b.tenant

		app := decode[sandbox.App](t, admin(t, b, http.MethodPatch, "/apps/"+tn.AppID, map[string]any{"name": "a2"}), http.StatusOK)
		ks := decode[sandbox.Keyset](t, admin(t, b, http.MethodPatch, "/keysets/"+tn.KeysetIDs[0], map[string]any{"name": "k2", "accessManager": true}), http.StatusOK)
		unassigned := decode[sandbox.Keyset](t, admin(t, b, http.MethodDelete, "/keysets/"+tn.KeysetIDs[1]+"/customer", nil), http.StatusOK)
		deleted := admin(t, b, http.MethodDelete, "/keysets/"+tn.KeysetIDs[2], nil)
		cust := decode[sandbox.Customer](t, admin(t, b, http.MethodPatch, "/customers/"+tn.CustomerID, map[string]any{"name": "C2"}), http.StatusOK)

		require.Equal(t, "a2", app.Name)
		require.Equal(t, "k2", ks.Name)
		require.True(t, ks.Config.AccessManager.Enabled)
		require.Empty(t, unassigned.CustomerID)
		require.JSONEq(t, `{"success": true}`, string(deleted.Body))
		require.Equal(t, "C2", cust.Name)
		require.Equal(t, []string{tn.KeysetIDs[0]}, cust.KeysetIDs())
		state := decode[sandbox.State](t, admin(t, b, http.MethodGet, "/state", nil), http.StatusOK)
		require.Equal(t, b.sb.Snapshot(), state)
		require.JSONEq(t, `{"success": true}`, string(admin(t, b, http.MethodDelete, "/customers/"+tn.CustomerID, nil).Body))
		require.Empty(t, b.sb.Customers())
	})

	t.Run("SupportOnlyChanges", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		tn := b.tenant
		more, err := b.sb.Prefill(1, &sandbox.PrefillOpts{ExternalIDFunc: func(int) string { return "other" }})
		require.NoError(t, err)
		other := more[0]

		moved := decode[sandbox.Keyset](t, admin(t, b, http.MethodPatch, "/keysets/"+tn.KeysetIDs[0], map[string]any{"appId": other.AppID}), http.StatusOK)
		assigned := decode[sandbox.Keyset](t, admin(t, b, http.MethodPut, "/keysets/"+tn.KeysetIDs[1]+"/customer", map[string]any{"customerId": other.CustomerID}), http.StatusOK)
		cust := decode[sandbox.Customer](t, admin(t, b, http.MethodPatch, "/customers/"+tn.CustomerID, map[string]any{"externalId": "renamed-ext"}), http.StatusOK)

		require.Equal(t, other.AppID, moved.AppID)
		require.Equal(t, tn.CustomerID, moved.CustomerID, "a moved keyset keeps its assignment")
		require.Equal(t, other.CustomerID, assigned.CustomerID)
		require.Equal(t, "renamed-ext", cust.ExternalID)
		require.Equal(t, []string{tn.KeysetIDs[0], tn.KeysetIDs[2]}, cust.KeysetIDs(), "the assigned keyset left its old customer")
		byID := map[string]sandbox.Customer{}
		for _, c := range b.sb.Customers() {
			byID[c.ID] = c
		}
		require.Equal(t, append(slices.Clone(other.KeysetIDs), tn.KeysetIDs[1]), byID[other.CustomerID].KeysetIDs())

		requireError(t, admin(t, b, http.MethodPut, "/keysets/"+tn.KeysetIDs[0]+"/customer", map[string]any{"customerId": tn.CustomerID}), http.StatusBadRequest)
		requireError(t, admin(t, b, http.MethodPatch, "/customers/"+tn.CustomerID, map[string]any{"externalId": other.ExternalID}), http.StatusBadRequest, `externalId "other" is taken: invalid`)
		require.JSONEq(t, `{"success": true}`, string(admin(t, b, http.MethodDelete, "/apps/"+tn.AppID, nil).Body))
		apps := b.sb.Apps()
		require.Len(t, apps, 1)
		require.Equal(t, other.AppID, apps[0].ID)
		var left []string
		for _, k := range b.sb.Keysets() {
			left = append(left, k.ID)
		}
		require.ElementsMatch(t, append(slices.Clone(other.KeysetIDs), tn.KeysetIDs[0]), left, "deleting the app deleted its keysets, not the one moved away")
		require.Equal(t, []string{tn.KeysetIDs[0]}, b.sb.Customers()[0].KeysetIDs(), "the deleted keysets' assignments are gone")
		require.Zero(t, b.sb.CallCount())
	})

	t.Run("Prefill", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := admin(t, b, http.MethodPost, "/prefill", map[string]any{"tenants": 3, "environments": []string{"production"}, "externalIdPrefix": "bench-"})

		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		require.JSONEq(t, `{"tenants": 3}`, string(res.Body))
		require.Len(t, b.sb.Customers(), 4)
		require.Equal(t, "bench-000003", b.sb.Customers()[3].ExternalID)
		require.Len(t, b.sb.Keysets(), 6)
		requireError(t, admin(t, b, http.MethodPost, "/prefill", map[string]any{"tenants": 1, "externalIdPrefix": "bench-"}), http.StatusBadRequest)
		requireError(t, admin(t, b, http.MethodPost, "/prefill", map[string]any{"tenants": 100_001}), http.StatusBadRequest, "tenants must be at most 100000 per call")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, method, path string
			body               any
			status             int
		}{
			{"UnknownKeyset", http.MethodDelete, "/keysets/5999999", nil, http.StatusNotFound},
			{"UnknownCustomer", http.MethodPatch, "/customers/nobody", map[string]any{"name": "x"}, http.StatusNotFound},
			{"EmptyName", http.MethodPatch, "/apps/1000001", map[string]any{"name": ""}, http.StatusBadRequest},
			{"NothingToChange", http.MethodPatch, "/keysets/5000001", map[string]any{}, http.StatusBadRequest},
			{"UnknownField", http.MethodPatch, "/keysets/5000001", map[string]any{"type": "production"}, http.StatusBadRequest},
			{"UnknownRoute", http.MethodGet, "/nothing", nil, http.StatusNotFound},
			{"WrongMethod", http.MethodGet, "/keysets/5000001", nil, http.StatusNotFound},
			{"UnknownApp", http.MethodDelete, "/apps/1999999", nil, http.StatusNotFound},
			{"MoveToUnknownApp", http.MethodPatch, "/keysets/5000001", map[string]any{"appId": "1999999"}, http.StatusNotFound},
			{"AssignToUnknownCustomer", http.MethodPut, "/keysets/5000001/customer", map[string]any{"customerId": "nobody"}, http.StatusNotFound},
			{"AssignToNoCustomer", http.MethodPut, "/keysets/5000001/customer", nil, http.StatusBadRequest},
			{"CustomerNothingToChange", http.MethodPatch, "/customers/nobody", map[string]any{}, http.StatusBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				requireError(t, admin(t, b, tt.method, tt.path, tt.body), tt.status)
				require.Zero(t, b.sb.CallCount())
			})
		}
	})

	t.Run("NeedsTheAPIKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, admin(t, b, http.MethodDelete, "/keysets/"+b.tenant.KeysetIDs[0], nil, withHeader("Authorization", "wrong")), http.StatusUnauthorized)
		requireError(t, admin(t, b, http.MethodGet, "/nothing", nil, withoutHeader("Authorization")), http.StatusUnauthorized)
		require.Len(t, b.sb.Keysets(), 3)
	})
}
