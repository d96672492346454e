package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuthorization(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		opt    reqOption
		status int
	}{
		{"Valid", withHeader("Authorization", testKey), http.StatusOK},
		{"Missing", withoutHeader("Authorization"), http.StatusUnauthorized},
		{"Wrong", withHeader("Authorization", "not-the-key"), http.StatusUnauthorized},
		{"BearerPrefix", withHeader("Authorization", "Bearer "+testKey), http.StatusUnauthorized},
		{"KeyWithSpace", withHeader("Authorization", testKey+" "), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, _ := newSandbox(t, nil)

			res := do(t, sb, http.MethodGet, "/v2/apps", nil, tt.opt)

			require.Equal(t, tt.status, res.Status, "body: %s", res.Body)
			if tt.status == http.StatusUnauthorized {
				body := requireError(t, res, http.StatusUnauthorized)
				require.Equal(t, "Unauthorized", body.Error)
			}
		})
	}

	t.Run("UnauthorizedChangesNothing", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, nil)

		res := do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}, withHeader("Authorization", "Bearer "+testKey))

		requireError(t, res, http.StatusUnauthorized)
		require.Empty(t, sb.Apps())
	})

	t.Run("GeneratedKey", func(t *testing.T) {
		t.Parallel()
		generated := newSandboxWithoutKey(t)

		require.NotEmpty(t, generated.APIKey())
		res := do(t, generated, http.MethodGet, "/v2/apps", nil, withHeader("Authorization", generated.APIKey()))
		require.Equal(t, http.StatusOK, res.Status)
		res = do(t, generated, http.MethodGet, "/v2/apps", nil)
		requireError(t, res, http.StatusUnauthorized)
	})
}

func TestVersionHeader(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		path    string
		version string // "" removes the header
		status  int
		message string
	}{
		{"CoreCurrent", "/v2/apps", "2025-11-15", http.StatusOK, ""},
		{"CoreLater", "/v2/apps", "2026-09-03", http.StatusOK, ""},
		{"Missing", "/v2/apps", "", http.StatusBadRequest, "PubNub-Version header is required"},
		{"NotADate", "/v2/apps", "latest", http.StatusBadRequest, `PubNub-Version "latest" is not a date in YYYY-MM-DD format`},
		{"NoDashes", "/v2/apps", "20260209", http.StatusBadRequest, `PubNub-Version "20260209" is not a date in YYYY-MM-DD format`},
		{"ShortMonth", "/v2/apps", "2026-2-09", http.StatusBadRequest, `PubNub-Version "2026-2-09" is not a date in YYYY-MM-DD format`},
		{"ImpossibleDate", "/v2/apps", "2026-02-30", http.StatusBadRequest, `PubNub-Version "2026-02-30" is not a date in YYYY-MM-DD format`},
		{"CoreTooOld", "/v2/apps", "2025-11-01", http.StatusBadRequest, "PubNub-Version 2025-11-01 does not support this endpoint; the minimum version is 2025-11-15"},
		{"ConfigTooOld", "/v2/keysets/5000001/config", "2025-11-14", http.StatusBadRequest, "PubNub-Version 2025-11-14 does not support this endpoint; the minimum version is 2025-11-15"},
		{"UsageTooOld", "/v2/usage-metrics?entityType=app&entityId=1000001&from=2026-01-01&to=2026-01-02&metrics=txn_total", "2025-11-01", http.StatusBadRequest, "PubNub-Version 2025-11-01 does not support this endpoint; the minimum version is 2025-11-15"},
		{"ListKeysetsFromFirstDocSet", "/v2/keysets", "2025-11-01", http.StatusOK, ""},
		{"ListKeysetsTooOld", "/v2/keysets", "2025-10-31", http.StatusBadRequest, "PubNub-Version 2025-10-31 does not support this endpoint; the minimum version is 2025-11-01"},
		{"OEMTooOld", "/v2/oem/customers", "2025-11-15", http.StatusBadRequest, "PubNub-Version 2025-11-15 does not support this endpoint; the minimum version is 2026-02-09"},
		{"OEMDayBefore", "/v2/oem/customers", "2026-02-08", http.StatusBadRequest, "PubNub-Version 2026-02-08 does not support this endpoint; the minimum version is 2026-02-09"},
		{"OEMMinimum", "/v2/oem/customers", "2026-02-09", http.StatusOK, ""},
		{"OEMBetweenDocSets", "/v2/oem/customers", "2026-03-23", http.StatusOK, ""},
		{"SecretKeysFromFirstDocSet", "/v2/keysets/5000001/secret-keys", "2025-11-01", http.StatusOK, ""},
		{"SecretKeysBetweenDocSets", "/v2/keysets/5000001/secret-keys", "2025-11-07", http.StatusOK, ""},
		{"SecretKeysTooOld", "/v2/keysets/5000001/secret-keys", "2025-10-31", http.StatusBadRequest, "PubNub-Version 2025-10-31 does not support this endpoint; the minimum version is 2025-11-01"},
		{"CoreBetweenDocSets", "/v2/keysets/5000001", "2026-03-23", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, _ := newSandbox(t, nil)
			createKeysets(t, sb, 1)
			opt := withHeader("PubNub-Version", tt.version)
			if tt.version == "" {
				opt = withoutHeader("PubNub-Version")
			}

			res := do(t, sb, http.MethodGet, tt.path, nil, opt)

			if tt.status != http.StatusOK {
				requireError(t, res, tt.status, tt.message)
				return
			}
			require.Equal(t, http.StatusOK, res.Status, "body: %s", res.Body)
		})
	}

	t.Run("RefusedChangesNothing", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, nil)

		res := do(t, sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "x", "name": "X"}, withHeader("PubNub-Version", "2025-11-15"))

		requireError(t, res, http.StatusBadRequest)
		require.Empty(t, sb.Customers())
	})
}
