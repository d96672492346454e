package sandbox_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

type customerResult struct {
	Result customerJSON `json:"result"`
}

func TestCustomers(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb      *sandbox.Sandbox
		clock   *testclock.Clock
		keysets []int64 // seven unassigned keysets of one app
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		return &testBundle{sb: sb, clock: clock, keysets: createKeysets(t, sb, 7)}
	}
	create := func(t *testing.T, b *testBundle, body map[string]any) response {
		t.Helper()
		return do(t, b.sb, http.MethodPost, "/v2/oem/customers", body)
	}
	assign := func(t *testing.T, b *testBundle, customerID string, ids []int64) response {
		t.Helper()
		return do(t, b.sb, http.MethodPost, "/v2/oem/customers/"+customerID+"/keysets", map[string]any{"keysetIds": ids})
	}

	t.Run("CreateWithKeysets", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got := decode[customerResult](t, create(t, b, map[string]any{"externalId": "tenant_42", "name": "Acme", "keysetIds": b.keysets[:2]}), http.StatusOK).Result

		require.Regexp(t, `^[0-9a-f-]{36}$`, got.ID)
		require.Equal(t, []string{"tenant_42", "Acme", "2026-03-01T12:00:00.000Z"}, []string{got.ExternalID, got.Name, got.Created})
		require.Len(t, got.Keysets, 2)
		require.Equal(t, b.keysets[0], got.Keysets[0].ID, "keyset ids are JSON numbers in /v2/oem")
		stored := b.sb.Customers()
		require.Len(t, stored, 1)
		require.Equal(t, []string{strconv.FormatInt(b.keysets[0], 10), strconv.FormatInt(b.keysets[1], 10)}, stored[0].KeysetIDs())
		require.Equal(t, got.ID, b.sb.Keysets()[0].CustomerID)
	})

	t.Run("GetAndAssign", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := decode[customerResult](t, create(t, b, map[string]any{"externalId": "t1", "name": "T"}), http.StatusOK).Result
		require.Empty(t, c.Keysets)
		require.NotNil(t, c.Keysets, "keysets is an empty array, not null")
		b.clock.Advance(time.Minute)

		assigned := decode[customerResult](t, assign(t, b, c.ID, b.keysets[:3]), http.StatusOK).Result

		require.Len(t, assigned.Keysets, 3)
		require.Equal(t, "2026-03-01T12:01:00.000Z", assigned.Updated)
		got := decode[customerResult](t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/"+c.ID, nil), http.StatusOK).Result
		require.Equal(t, assigned, got)
	})

	t.Run("AssignAppends", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := decode[customerResult](t, create(t, b, map[string]any{"externalId": "t1", "name": "T", "keysetIds": b.keysets[:1]}), http.StatusOK).Result

		got := decode[customerResult](t, assign(t, b, c.ID, b.keysets[1:2]), http.StatusOK).Result

		require.Equal(t, []int64{b.keysets[0], b.keysets[1]}, []int64{got.Keysets[0].ID, got.Keysets[1].ID})
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/customers/nope", nil), http.StatusNotFound, "Customer nope not found")
		requireError(t, assign(t, b, "nope", b.keysets[:1]), http.StatusNotFound, "Customer nope not found")
	})

	t.Run("ExternalIDRules", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name       string
			externalID any // nil: absent
			message    string
		}{
			{"Missing", nil, "externalId is required"},
			{"Empty", "", "externalId should not be empty"},
			{"Space", "a b", "externalId must match /^[a-zA-Z0-9_-]+$/ regular expression"},
			{"Slash", "a/b", "externalId must match /^[a-zA-Z0-9_-]+$/ regular expression"},
			{"NonASCII", "käse", "externalId must match /^[a-zA-Z0-9_-]+$/ regular expression"},
			{"Dot", "a.b", "externalId must match /^[a-zA-Z0-9_-]+$/ regular expression"},
			{"TooLong", strings.Repeat("a", 256), "externalId must be shorter than or equal to 255 characters"},
			{"Number", 42, "externalId must be a string"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				body := map[string]any{"name": "N"}
				if tt.externalID != nil {
					body["externalId"] = tt.externalID
				}

				requireError(t, create(t, b, body), http.StatusBadRequest, tt.message)
				require.Empty(t, b.sb.Customers())
			})
		}
	})

	t.Run("ExternalIDLimitsAccepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		decode[customerResult](t, create(t, b, map[string]any{"externalId": strings.Repeat("a", 255), "name": "N"}), http.StatusOK)
		decode[customerResult](t, create(t, b, map[string]any{"externalId": "aZ09_-", "name": "N"}), http.StatusOK)
	})

	t.Run("NameRules", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, create(t, b, map[string]any{"externalId": "x"}), http.StatusBadRequest, "name is required")
		requireError(t, create(t, b, map[string]any{"externalId": "x", "name": ""}), http.StatusBadRequest, "name should not be empty")
		requireError(t, create(t, b, map[string]any{"externalId": "x", "name": strings.Repeat("n", 256)}), http.StatusBadRequest, "name must be shorter than or equal to 255 characters")
		require.Empty(t, b.sb.Customers())
	})

	t.Run("DuplicateExternalID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		first := decode[customerResult](t, create(t, b, map[string]any{"externalId": "tenant_42", "name": "Acme"}), http.StatusOK).Result

		res := create(t, b, map[string]any{"externalId": "tenant_42", "name": "Other", "keysetIds": b.keysets[:1]})

		requireError(t, res, http.StatusBadRequest, `Customer with externalId "tenant_42" already exists`)
		require.Len(t, b.sb.Customers(), 1)
		require.Equal(t, first.ID, b.sb.Customers()[0].ID)
		require.Empty(t, b.sb.Keysets()[0].CustomerID, "the keyset of the refused call stays unassigned")
	})

	t.Run("AtMostFiveKeysetsOnCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := create(t, b, map[string]any{"externalId": "t", "name": "T", "keysetIds": b.keysets[:6]})

		requireError(t, res, http.StatusBadRequest, "A customer can have at most 5 keysets (has 0, 6 requested)")
		require.Empty(t, b.sb.Customers())
		requireUnassigned(t, b.sb)
		decode[customerResult](t, create(t, b, map[string]any{"externalId": "t", "name": "T", "keysetIds": b.keysets[:5]}), http.StatusOK)
	})

	t.Run("AtMostFiveKeysetsOnAssign", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := decode[customerResult](t, create(t, b, map[string]any{"externalId": "t", "name": "T", "keysetIds": b.keysets[:4]}), http.StatusOK).Result

		res := assign(t, b, c.ID, b.keysets[4:6])

		requireError(t, res, http.StatusBadRequest, "A customer can have at most 5 keysets (has 4, 2 requested)")
		require.Len(t, b.sb.Customers()[0].Keysets, 4)
		for _, ks := range b.sb.Keysets()[4:] {
			require.Empty(t, ks.CustomerID)
		}
	})

	t.Run("KeysetBelongsToOneCustomer", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		owner := decode[customerResult](t, create(t, b, map[string]any{"externalId": "owner", "name": "O", "keysetIds": b.keysets[:1]}), http.StatusOK).Result
		other := decode[customerResult](t, create(t, b, map[string]any{"externalId": "other", "name": "X"}), http.StatusOK).Result
		taken := b.keysets[0]

		res := assign(t, b, other.ID, []int64{b.keysets[1], taken})

		requireError(t, res, http.StatusBadRequest, "Keyset "+strconv.FormatInt(taken, 10)+" is already assigned to a customer")
		requireError(t, create(t, b, map[string]any{"externalId": "third", "name": "3", "keysetIds": []int64{taken}}), http.StatusBadRequest)
		requireError(t, assign(t, b, owner.ID, []int64{taken}), http.StatusBadRequest, "Keyset "+strconv.FormatInt(taken, 10)+" is already assigned to a customer")
		customers := b.sb.Customers()
		require.Len(t, customers, 2)
		require.Len(t, customers[0].Keysets, 1)
		require.Empty(t, customers[1].Keysets, "the valid keyset of the refused call was not assigned")
	})

	t.Run("UnknownKeysetIsNotFoundAndAtomic", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := decode[customerResult](t, create(t, b, map[string]any{"externalId": "t", "name": "T"}), http.StatusOK).Result

		res := assign(t, b, c.ID, []int64{b.keysets[0], 9_999_999})

		requireError(t, res, http.StatusNotFound, "Keyset 9999999 not found")
		requireError(t, create(t, b, map[string]any{"externalId": "u", "name": "U", "keysetIds": []int64{b.keysets[1], 9_999_999}}), http.StatusNotFound)
		require.Len(t, b.sb.Customers(), 1)
		requireUnassigned(t, b.sb)
	})

	t.Run("AssignValidation", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := decode[customerResult](t, create(t, b, map[string]any{"externalId": "t", "name": "T"}), http.StatusOK).Result
		path := "/v2/oem/customers/" + c.ID + "/keysets"

		requireError(t, do(t, b.sb, http.MethodPost, path, map[string]any{}), http.StatusBadRequest, "keysetIds should not be empty")
		requireError(t, do(t, b.sb, http.MethodPost, path, map[string]any{"keysetIds": []string{strconv.FormatInt(b.keysets[0], 10)}}), http.StatusBadRequest, "keysetIds must be a number")
		requireError(t, assign(t, b, c.ID, []int64{b.keysets[0], b.keysets[0]}), http.StatusBadRequest)
		requireUnassigned(t, b.sb)
	})

	t.Run("ListWithAppFilter", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		otherApp := createApp(t, b.sb, "other")
		otherKeyset, err := strconv.ParseInt(createKeyset(t, b.sb, otherApp.ID, nil).Keyset.ID, 10, 64)
		require.NoError(t, err)
		decode[customerResult](t, create(t, b, map[string]any{"externalId": "a", "name": "A", "keysetIds": []int64{b.keysets[0], b.keysets[1], otherKeyset}}), http.StatusOK)
		decode[customerResult](t, create(t, b, map[string]any{"externalId": "b", "name": "B", "keysetIds": b.keysets[2:3]}), http.StatusOK)
		decode[customerResult](t, create(t, b, map[string]any{"externalId": "c", "name": "C"}), http.StatusOK)
		type item struct {
			ExternalID  string `json:"externalId"`
			AppCount    int    `json:"appCount"`
			KeysetCount int    `json:"keysetCount"`
		}
		type list struct {
			Result []item `json:"result"`
		}

		all := decode[list](t, do(t, b.sb, http.MethodGet, "/v2/oem/customers", nil), http.StatusOK)
		filtered := decode[list](t, do(t, b.sb, http.MethodGet, "/v2/oem/customers?appId="+otherApp.ID, nil), http.StatusOK)

		require.Equal(t, []item{{"a", 2, 3}, {"b", 1, 1}, {"c", 0, 0}}, all.Result)
		require.Equal(t, []item{{"a", 2, 3}}, filtered.Result)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/customers?appId=abc", nil), http.StatusBadRequest)
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/oem/customers?externalId=a", nil), http.StatusBadRequest, "property externalId should not exist")
	})
}

// requireUnassigned requires that no keyset belongs to a customer.
func requireUnassigned(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	for _, ks := range sb.Keysets() {
		require.Empty(t, ks.CustomerID, "keyset %s", ks.ID)
	}
	for _, c := range sb.Customers() {
		require.Empty(t, c.Keysets, "customer %s", c.ExternalID)
	}
}
