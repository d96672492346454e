package pubnub_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestCustomers(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*upstream
		appID   string
		keysets []string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		up := startSandbox(t, nil)
		app, err := up.client.CreateApp(t.Context(), "app")
		require.NoError(t, err)
		b := &testBundle{upstream: up, appID: app.ID}
		for i := range 6 {
			ks, err := up.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: fmt.Sprint("ks", i), AppID: app.ID, Type: pubnub.KeysetTypeTesting})
			require.NoError(t, err)
			b.keysets = append(b.keysets, ks.Keyset.ID)
		}
		return b
	}

	t.Run("CreateWithKeysetsAndGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		created, err := b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "tenant_42", Name: "Acme", KeysetIDs: b.keysets[:2]})
		require.NoError(t, err)
		got, err := b.client.GetCustomer(t.Context(), created.ID)
		require.NoError(t, err)

		now := b.clock.Now()
		require.Equal(t, &pubnub.Customer{
			ID: b.sb.Customers()[0].ID, ExternalID: "tenant_42", Name: "Acme", Created: now, Updated: now,
			Keysets: []pubnub.CustomerKeyset{{ID: b.keysets[0], AssignedAt: now}, {ID: b.keysets[1], AssignedAt: now}},
		}, created)
		require.Equal(t, created, got)
		require.JSONEq(t, fmt.Sprintf(`{"externalId":"tenant_42","name":"Acme","keysetIds":[%s,%s]}`, b.keysets[0], b.keysets[1]),
			b.requests.all()[len(b.requests.all())-2].Body, "keyset ids go out as JSON numbers")
	})

	t.Run("CreateWithoutKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		created, err := b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t1", Name: "T"})

		require.NoError(t, err)
		require.Empty(t, created.Keysets)
		require.JSONEq(t, `{"externalId":"t1","name":"T"}`, b.requests.last().Body)
	})

	t.Run("Assign", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		created, err := b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t1", Name: "T", KeysetIDs: b.keysets[:1]})
		require.NoError(t, err)
		b.clock.Advance(time.Minute)

		assigned, err := b.client.AssignKeysets(t.Context(), created.ID, b.keysets[1:3])

		require.NoError(t, err)
		require.Equal(t, b.keysets[:3], []string{assigned.Keysets[0].ID, assigned.Keysets[1].ID, assigned.Keysets[2].ID})
		require.Equal(t, b.clock.Now(), assigned.Updated)
		require.Equal(t, b.keysets[:3], b.sb.Customers()[0].KeysetIDs())
	})

	t.Run("AssignBreakingARuleIsPermanent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		created, err := b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t1", Name: "T", KeysetIDs: b.keysets[:5]})
		require.NoError(t, err)

		_, err = b.client.AssignKeysets(t.Context(), created.ID, b.keysets[5:])

		require.True(t, pubnub.IsPermanent(err))
		require.Equal(t, http.StatusBadRequest, pubnub.StatusCode(err))
	})

	t.Run("NonNumericKeysetIDRefusedBeforeSending", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		before := b.sb.CallCount()

		_, errCreate := b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t", Name: "T", KeysetIDs: []string{b.keysets[0], "sub-c-123"}})
		_, errAssign := b.client.AssignKeysets(t.Context(), "cust", []string{"ks_1"})
		_, errEmpty := b.client.AssignKeysets(t.Context(), "cust", nil)
		_, errApp := b.client.ListCustomers(t.Context(), "app_1")

		for _, err := range []error{errCreate, errAssign, errEmpty, errApp} {
			require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
			require.True(t, pubnub.IsPermanent(err))
			require.False(t, pubnub.IsRetryable(err))
		}
		require.EqualError(t, errCreate, `pubnub: create customer: keyset id "sub-c-123" is not numeric, as OEM endpoints require: invalid argument`)
		require.Equal(t, before, b.sb.CallCount(), "nothing was sent")
	})

	t.Run("DuplicateExternalID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t1", Name: "T"})
		require.NoError(t, err)

		_, err = b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "t1", Name: "T"})

		require.True(t, pubnub.IsPermanent(err))
		require.Contains(t, err.Error(), `Customer with externalId "t1" already exists`)
	})

	t.Run("ListWithAndWithoutApp", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other, err := b.client.CreateApp(t.Context(), "other")
		require.NoError(t, err)
		_, err = b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "a", Name: "A", KeysetIDs: b.keysets[:2]})
		require.NoError(t, err)
		_, err = b.client.CreateCustomer(t.Context(), pubnub.CreateCustomerParams{ExternalID: "b", Name: "B"})
		require.NoError(t, err)

		all, err := b.client.ListCustomers(t.Context(), "")
		require.NoError(t, err)
		inApp, err := b.client.ListCustomers(t.Context(), b.appID)
		require.NoError(t, err)
		inOther, err := b.client.ListCustomers(t.Context(), other.ID)
		require.NoError(t, err)

		require.Len(t, all, 2)
		require.Equal(t, []int{1, 2}, []int{all[0].AppCount, all[0].KeysetCount})
		require.Equal(t, "b", all[1].ExternalID)
		require.Len(t, inApp, 1)
		require.Equal(t, "a", inApp[0].ExternalID)
		require.Empty(t, inOther)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.GetCustomer(t.Context(), "missing")

		require.True(t, pubnub.IsNotFound(err))
	})
}

func TestCustomerIDsDecodeAsStringOrNumber(t *testing.T) {
	t.Parallel()

	client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"result":{"id":77,"externalId":"x","name":"X","created":"2026-01-01T00:00:00.000Z","updated":null,
			"keysets":[{"id":"5000001","assignedAt":"2026-01-02T03:04:05Z"},{"id":5000002,"assignedAt":1767225600000}]}}`)
	})

	got, err := client.GetCustomer(t.Context(), "77")

	require.NoError(t, err)
	require.Equal(t, &pubnub.Customer{
		ID: "77", ExternalID: "x", Name: "X", Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Keysets: []pubnub.CustomerKeyset{
			{ID: "5000001", AssignedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			{ID: "5000002", AssignedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		},
	}, got)
}
