package sandbox_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

// deleteCustomerVersion is the PubNub-Version the customer delete needs.
var deleteCustomerVersion = withHeader("PubNub-Version", sandbox.MinDeleteCustomerVersion)

// TestDayTwoEndpoints covers the endpoints that change or remove what
// provisioning made: renames, keyset type, deletes, and the customer's
// keyset list.
func TestDayTwoEndpoints(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb       *sandbox.Sandbox
		clock    *testclock.Clock
		appID    string
		keysets  []int64 // three keysets of appID
		customer customerJSON
	}
	// setup makes an app with three keysets, the first two assigned to
	// customer "acme".
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		ids := createKeysets(t, sb, 3)
		c := decode[customerResult](t, do(t, sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "acme", "name": "Acme", "keysetIds": ids[:2]}), http.StatusOK).Result
		clock.Advance(time.Minute)
		return &testBundle{sb: sb, clock: clock, appID: sb.Apps()[0].ID, keysets: ids, customer: c}
	}
	ksPath := func(id int64) string { return fmt.Sprint("/v2/keysets/", id) }

	t.Run("UpdateApp", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got := decode[appJSON](t, do(t, b.sb, http.MethodPatch, "/v2/apps/"+b.appID, map[string]any{"name": "renamed"}), http.StatusOK)

		require.Equal(t, "renamed", got.Name)
		require.Equal(t, "2026-03-01T12:01:00.000Z", got.UpdatedAt)
		require.Equal(t, "2026-03-01T12:00:00.000Z", got.CreatedAt)
		require.Equal(t, got, decode[appJSON](t, do(t, b.sb, http.MethodGet, "/v2/apps/"+b.appID, nil), http.StatusOK))
	})

	t.Run("UpdateAppRefused", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, path string
			body       any
			status     int
			msg        string
		}{
			{"NotFound", "/v2/apps/1000999", map[string]any{"name": "x"}, http.StatusNotFound, "App 1000999 not found"},
			{"EmptyName", "", map[string]any{"name": ""}, http.StatusBadRequest, "name should not be empty"},
			{"MissingName", "", map[string]any{}, http.StatusBadRequest, "name is required"},
			{"OnlyNameChanges", "", map[string]any{"name": "x", "id": "1"}, http.StatusBadRequest, "property id should not exist"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				path := tt.path
				if path == "" {
					path = "/v2/apps/" + b.appID
				}

				requireError(t, do(t, b.sb, http.MethodPatch, path, tt.body), tt.status, tt.msg)
				require.Equal(t, "app", b.sb.Apps()[0].Name)
			})
		}
	})

	t.Run("UpdateKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		renamed := decode[keysetJSON](t, do(t, b.sb, http.MethodPatch, ksPath(b.keysets[0]), map[string]any{"name": "renamed"}), http.StatusOK)
		typed := decode[keysetJSON](t, do(t, b.sb, http.MethodPatch, ksPath(b.keysets[0]), map[string]any{"type": "production"}), http.StatusOK)
		both := decode[keysetJSON](t, do(t, b.sb, http.MethodPatch, ksPath(b.keysets[1]), map[string]any{"name": "n", "type": "production"}), http.StatusOK)

		require.Equal(t, []string{"renamed", "testing"}, []string{renamed.Name, renamed.Type})
		require.Equal(t, []string{"renamed", "production"}, []string{typed.Name, typed.Type})
		require.Equal(t, []string{"n", "production"}, []string{both.Name, both.Type})
		require.Equal(t, "2026-03-01T12:01:00.000Z", typed.UpdatedAt)
		require.NotContains(t, string(do(t, b.sb, http.MethodPatch, ksPath(b.keysets[2]), map[string]any{"name": "x"}).Body), "sec-c-", "no secrets")
		require.Equal(t, typed, decode[keysetJSON](t, do(t, b.sb, http.MethodGet, ksPath(b.keysets[0]), nil), http.StatusOK))
	})

	t.Run("UpdateKeysetRefused", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name   string
			id     int64
			body   any
			status int
			msg    string
		}{
			{"NotFound", 5000999, map[string]any{"name": "x"}, http.StatusNotFound, "Keyset 5000999 not found"},
			{"Neither", 0, map[string]any{}, http.StatusBadRequest, "name or type is required"},
			{"BadType", 0, map[string]any{"type": "staging"}, http.StatusBadRequest, "type must be one of the following values: testing, production"},
			{"EmptyName", 0, map[string]any{"name": ""}, http.StatusBadRequest, "name should not be empty"},
			{"AppCannotChange", 0, map[string]any{"appId": "1000001"}, http.StatusBadRequest, "property appId should not exist"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				id := tt.id
				if id == 0 {
					id = b.keysets[0]
				}

				requireError(t, do(t, b.sb, http.MethodPatch, ksPath(id), tt.body), tt.status, tt.msg)
				require.Equal(t, []string{"ks", "testing"}, []string{b.sb.Keysets()[0].Name, b.sb.Keysets()[0].Type})
			})
		}
	})

	t.Run("DeleteKeysetRemovesItsAssignment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := do(t, b.sb, http.MethodDelete, ksPath(b.keysets[0]), nil)

		require.Equal(t, http.StatusOK, res.Status)
		require.JSONEq(t, `{"success": true}`, string(res.Body))
		requireError(t, do(t, b.sb, http.MethodGet, ksPath(b.keysets[0]), nil), http.StatusNotFound)
		requireError(t, do(t, b.sb, http.MethodGet, ksPath(b.keysets[0])+"/config", nil), http.StatusNotFound)
		requireError(t, do(t, b.sb, http.MethodDelete, ksPath(b.keysets[0]), nil), http.StatusNotFound, fmt.Sprintf("Keyset %d not found", b.keysets[0]))
		got := decode[customerResult](t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+b.customer.ID, nil), http.StatusOK).Result
		require.Len(t, got.Keysets, 1, "the customer no longer holds it")
		require.Equal(t, b.keysets[1], got.Keysets[0].ID)
		require.Equal(t, "2026-03-01T12:01:00.000Z", got.Updated)
		require.Len(t, b.sb.Keysets(), 2)
		list := decode[struct {
			Keysets []keysetJSON `json:"keysets"`
			Total   int          `json:"total"`
		}](t, do(t, b.sb, http.MethodGet, "/v2/keysets", nil), http.StatusOK)
		require.Equal(t, 2, list.Total)
		require.Equal(t, []string{fmt.Sprint(b.keysets[1]), fmt.Sprint(b.keysets[2])}, []string{list.Keysets[0].ID, list.Keysets[1].ID}, "the others keep their order")
		next := createKeyset(t, b.sb, b.appID, nil)
		require.Equal(t, fmt.Sprint(b.keysets[2]+1), next.Keyset.ID, "IDs are not reused")
	})

	t.Run("UpdateCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := "/v2/oem/customers/" + b.customer.ID

		got := decode[customerResult](t, do(t, b.sb, http.MethodPut, path, map[string]any{"name": "Acme Inc"}), http.StatusOK).Result

		require.Equal(t, []string{"Acme Inc", "acme", "2026-03-01T12:01:00.000Z"}, []string{got.Name, got.ExternalID, got.Updated})
		require.Len(t, got.Keysets, 2)
		requireError(t, do(t, b.sb, http.MethodPut, path, map[string]any{"name": "x", "externalId": "other"}), http.StatusBadRequest, "property externalId should not exist")
		requireError(t, do(t, b.sb, http.MethodPut, path, map[string]any{}), http.StatusBadRequest, "name is required")
		requireError(t, do(t, b.sb, http.MethodPut, "/v2/oem/customers/nobody", map[string]any{"name": "x"}), http.StatusNotFound, "Customer nobody not found")
		require.Equal(t, "Acme Inc", b.sb.Customers()[0].Name)
	})

	t.Run("DeleteCustomerNeedsNewerVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		path := "/v2/oem/customers/" + b.customer.ID

		for _, v := range []string{sandbox.MinOEMVersion, "2026-03-01", "2026-05-26"} {
			requireError(t, do(t, b.sb, http.MethodDelete, path, nil, withHeader("PubNub-Version", v)), http.StatusBadRequest,
				"PubNub-Version "+v+" does not support this endpoint; the minimum version is 2026-09-03")
		}
		require.Len(t, b.sb.Customers(), 1)
	})

	t.Run("DeleteCustomerFreesKeysetsAndExternalID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := do(t, b.sb, http.MethodDelete, "/v2/oem/customers/"+b.customer.ID, nil, deleteCustomerVersion)

		require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		require.JSONEq(t, `{"success": true}`, string(res.Body))
		require.Empty(t, b.sb.Customers())
		require.Len(t, b.sb.Keysets(), 3, "the keysets stay")
		for _, k := range b.sb.Keysets() {
			require.Empty(t, k.CustomerID)
		}
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+b.customer.ID, nil), http.StatusNotFound)
		requireError(t, do(t, b.sb, http.MethodDelete, "/v2/oem/customers/"+b.customer.ID, nil, deleteCustomerVersion), http.StatusNotFound)
		again := decode[customerResult](t, do(t, b.sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "acme", "name": "Acme", "keysetIds": b.keysets[:2]}), http.StatusOK).Result
		require.NotEqual(t, b.customer.ID, again.ID, "the externalId and keysets are free again")
		require.Len(t, again.Keysets, 2)
	})

	t.Run("ListCustomerKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := createApp(t, b.sb, "other")
		ks := createKeyset(t, b.sb, other.ID, nil)
		res := do(t, b.sb, http.MethodPost, "/v2/oem/customers/"+b.customer.ID+"/keysets", map[string]any{"keysetIds": []string{ks.Keyset.ID}})
		require.Equal(t, http.StatusBadRequest, res.Status, "keysetIds are numbers")
		var ksID int64
		fmt.Sscan(ks.Keyset.ID, &ksID)
		require.Equal(t, http.StatusOK, do(t, b.sb, http.MethodPost, "/v2/oem/customers/"+b.customer.ID+"/keysets", map[string]any{"keysetIds": []int64{ksID}}).Status)
		type item struct {
			ID         int64  `json:"id"`
			AssignedAt string `json:"assignedAt"`
		}
		type list struct {
			Result []item `json:"result"`
		}

		all := decode[list](t, do(t, b.sb, http.MethodGet, "/v2/oem/keysets?customerId="+b.customer.ID, nil), http.StatusOK)
		inOther := decode[list](t, do(t, b.sb, http.MethodGet, "/v2/oem/keysets?customerId="+b.customer.ID+"&appId="+other.ID, nil), http.StatusOK)
		inNone := decode[list](t, do(t, b.sb, http.MethodGet, "/v2/oem/keysets?customerId="+b.customer.ID+"&appId=1000999", nil), http.StatusOK)

		require.Equal(t, []item{
			{b.keysets[0], "2026-03-01T12:00:00.000Z"}, {b.keysets[1], "2026-03-01T12:00:00.000Z"}, {ksID, "2026-03-01T12:01:00.000Z"},
		}, all.Result)
		require.Equal(t, []item{{ksID, "2026-03-01T12:01:00.000Z"}}, inOther.Result)
		require.NotNil(t, inNone.Result)
		require.Empty(t, inNone.Result)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/keysets", nil), http.StatusBadRequest, "customerId is required")
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/keysets?customerId=nobody", nil), http.StatusNotFound, "Customer nobody not found")
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/keysets?customerId="+b.customer.ID+"&appId=x", nil), http.StatusBadRequest, "appId must be a numeric string")
		// The third-party catalogue's path is not PubNub's, so it is not served.
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+b.customer.ID+"/keysets", nil), http.StatusNotFound, "Cannot GET /v2/oem/customers/"+b.customer.ID+"/keysets")
	})
}
