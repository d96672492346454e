package pubnub_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// TestDayTwo covers the calls that change or remove what provisioning made,
// against the sandbox.
func TestDayTwo(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*upstream
		app      *pubnub.App
		keysets  []string // three keysets of app; the first two assigned
		customer *pubnub.Customer
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		up := startSandbox(t, nil)
		app, err := up.client.CreateApp(t.Context(), "pnonboard-acme")
		require.NoError(t, err)
		b := &testBundle{upstream: up, app: app}
		for _, env := range []string{"dev", "prod", "staging"} {
			ks, err := up.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: "pnonboard-acme-" + env, AppID: app.ID, Type: pubnub.KeysetTypeTesting})
			require.NoError(t, err)
			b.keysets = append(b.keysets, ks.Keyset.ID)
		}
		b.customer, err = up.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "acme", Name: "Acme", KeysetIDs: b.keysets[:2]})
		require.NoError(t, err)
		up.clock.Advance(time.Minute)
		return b
	}

	t.Run("UpdateApp", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got, err := b.client.UpdateApp(t.Context(), b.app.ID, "renamed")

		require.NoError(t, err)
		require.Equal(t, &pubnub.App{ID: b.app.ID, Name: "renamed", CreatedAt: b.app.CreatedAt, UpdatedAt: b.clock.Now()}, got)
		require.Equal(t, "renamed", b.sb.Apps()[0].Name)
		last := b.requests.last()
		require.Equal(t, http.MethodPatch, last.Method)
		require.JSONEq(t, `{"name":"renamed"}`, last.Body)
		_, err = b.client.UpdateApp(t.Context(), "1000999", "x")
		require.True(t, pubnub.IsNotFound(err))
		_, err = b.client.UpdateApp(t.Context(), "", "x")
		require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
	})

	t.Run("UpdateKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		renamed, err := b.client.UpdateKeyset(t.Context(), b.keysets[0], pubnub.UpdateKeysetParams{Name: "pnonboard-acme-qa"})
		require.NoError(t, err)
		require.JSONEq(t, `{"name":"pnonboard-acme-qa"}`, b.requests.last().Body, "only the set field is sent")
		typed, err := b.client.UpdateKeyset(t.Context(), b.keysets[0], pubnub.UpdateKeysetParams{Type: pubnub.KeysetTypeProduction})
		require.NoError(t, err)
		require.JSONEq(t, `{"type":"production"}`, b.requests.last().Body)

		require.Equal(t, "pnonboard-acme-qa", renamed.Name)
		require.Equal(t, pubnub.KeysetTypeTesting, renamed.Type)
		require.Equal(t, pubnub.KeysetTypeProduction, typed.Type)
		require.Equal(t, b.app.ID, typed.AppID)
		require.Equal(t, b.clock.Now(), typed.UpdatedAt)
		_, err = b.client.UpdateKeyset(t.Context(), b.keysets[0], pubnub.UpdateKeysetParams{})
		require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
		_, err = b.client.UpdateKeyset(t.Context(), "5000999", pubnub.UpdateKeysetParams{Name: "x"})
		require.True(t, pubnub.IsNotFound(err))
	})

	t.Run("DeleteKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.NoError(t, b.client.DeleteKeyset(t.Context(), b.keysets[0]))

		_, err := b.client.GetKeyset(t.Context(), b.keysets[0])
		require.True(t, pubnub.IsNotFound(err))
		cust, err := b.client.GetCustomer(t.Context(), b.customer.ID)
		require.NoError(t, err)
		require.Equal(t, []string{b.keysets[1]}, keysetIDs(cust.Keysets), "its assignment is gone")
		require.True(t, pubnub.IsNotFound(b.client.DeleteKeyset(t.Context(), b.keysets[0])), "a second delete is a 404")
	})

	t.Run("UpdateCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got, err := b.client.UpdateCustomer(t.Context(), b.customer.ID, "Acme Inc")

		require.NoError(t, err)
		want := *b.customer
		want.Name, want.Updated = "Acme Inc", b.clock.Now()
		require.Equal(t, &want, got)
		last := b.requests.last()
		require.Equal(t, http.MethodPut, last.Method)
		require.JSONEq(t, `{"name":"Acme Inc"}`, last.Body)
		_, err = b.client.UpdateCustomer(t.Context(), "nobody", "x")
		require.True(t, pubnub.IsNotFound(err))
	})

	t.Run("DeleteCustomerSendsItsVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.NoError(t, b.client.DeleteCustomer(t.Context(), b.customer.ID))

		require.Equal(t, pubnub.DeleteCustomerVersion, b.requests.last().Header.Get("PubNub-Version"))
		require.Empty(t, b.sb.Customers())
		require.Empty(t, b.sb.Keysets()[0].CustomerID, "the keysets stay, unassigned")
		require.Len(t, b.sb.Keysets(), 3)
		require.True(t, pubnub.IsNotFound(b.client.DeleteCustomer(t.Context(), b.customer.ID)))
		_, err := b.client.ListApps(t.Context())
		require.NoError(t, err)
		require.Equal(t, pubnub.DefaultVersion, b.requests.last().Header.Get("PubNub-Version"), "other calls keep the client's version")
	})

	t.Run("DeleteCustomerKeepsANewerVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		client := pubnub.New(b.srv.URL+"/v2", testKey, "2027-01-01", b.srv.Client())

		require.NoError(t, client.DeleteCustomer(t.Context(), b.customer.ID))

		require.Equal(t, "2027-01-01", b.requests.last().Header.Get("PubNub-Version"))
	})

	t.Run("ListCustomerKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other, err := b.client.CreateApp(t.Context(), "other")
		require.NoError(t, err)
		ks, err := b.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: "o", AppID: other.ID, Type: pubnub.KeysetTypeTesting})
		require.NoError(t, err)
		_, err = b.client.AssignKeysets(t.Context(), b.customer.ID, []string{ks.Keyset.ID})
		require.NoError(t, err)

		all, err := b.client.ListCustomerKeysets(t.Context(), b.customer.ID, "")
		require.NoError(t, err)
		inOther, err := b.client.ListCustomerKeysets(t.Context(), b.customer.ID, other.ID)
		require.NoError(t, err)

		created := b.clock.Now().Add(-time.Minute)
		require.Equal(t, []pubnub.CustomerKeyset{
			{ID: b.keysets[0], AssignedAt: created}, {ID: b.keysets[1], AssignedAt: created}, {ID: ks.Keyset.ID, AssignedAt: b.clock.Now()},
		}, all)
		require.Equal(t, []pubnub.CustomerKeyset{{ID: ks.Keyset.ID, AssignedAt: b.clock.Now()}}, inOther)
		require.Equal(t, "appId="+other.ID+"&customerId="+b.customer.ID, b.requests.last().Query)
		_, err = b.client.ListCustomerKeysets(t.Context(), "nobody", "")
		require.True(t, pubnub.IsNotFound(err))
		_, err = b.client.ListCustomerKeysets(t.Context(), "", "")
		require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
		_, err = b.client.ListCustomerKeysets(t.Context(), b.customer.ID, "app_1")
		require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
	})
}

func keysetIDs(keysets []pubnub.CustomerKeyset) []string {
	out := make([]string, len(keysets))
	for i, k := range keysets {
		out[i] = k.ID
	}
	return out
}
