package pubnub_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// TestPermissionResources: every call the client makes, refused for a missing permission row,
// names the resources of the rows the sandbox's permission table says the call needs, so a
// tenant's lastError and server doctor name the right row.
func TestPermissionResources(t *testing.T) {
	t.Parallel()
	up := startSandbox(t, func(o *sandbox.Opts) { o.Permissions = []sandbox.Permission{} })
	c := up.client
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	calls := map[string]func(ctx context.Context) error{
		"CreateApp":  func(ctx context.Context) error { _, err := c.CreateApp(ctx, "a"); return err },
		"GetApp":     func(ctx context.Context) error { _, err := c.GetApp(ctx, "1000001"); return err },
		"UpdateApp":  func(ctx context.Context) error { _, err := c.UpdateApp(ctx, "1000001", "b"); return err },
		"ListApps":   func(ctx context.Context) error { _, err := c.ListApps(ctx); return err },
		"AppsPage":   func(ctx context.Context) error { _, _, err := c.ListAppsPage(ctx, 1, 1); return err },
		"KeysetPage": func(ctx context.Context) error { _, _, err := c.ListKeysetsPage(ctx, 1, 1); return err },
		"CreateKeyset": func(ctx context.Context) error {
			_, err := c.CreateKeyset(ctx, pubnub.CreateKeysetParams{Name: "k", AppID: "1000001", Type: pubnub.KeysetTypeTesting})
			return err
		},
		"GetKeyset": func(ctx context.Context) error { _, err := c.GetKeyset(ctx, "5000001"); return err },
		"UpdateKeyset": func(ctx context.Context) error {
			_, err := c.UpdateKeyset(ctx, "5000001", pubnub.UpdateKeysetParams{Name: "k2"})
			return err
		},
		"DeleteKeyset":    func(ctx context.Context) error { return c.DeleteKeyset(ctx, "5000001") },
		"ListKeysets":     func(ctx context.Context) error { _, err := c.ListKeysets(ctx); return err },
		"GetKeysetConfig": func(ctx context.Context) error { _, err := c.GetKeysetConfig(ctx, "5000001"); return err },
		"UpdateKeysetConfig": func(ctx context.Context) error {
			_, err := c.UpdateKeysetConfig(ctx, "5000001", &pubnub.KeysetConfig{Presence: &pubnub.PresenceConfig{Enabled: new(true)}})
			return err
		},
		"ListSecretKeys":  func(ctx context.Context) error { _, err := c.ListSecretKeys(ctx, "5000001", true); return err },
		"RotateSecretKey": func(ctx context.Context) error { _, err := c.RotateSecretKey(ctx, "5000001", nil); return err },
		"CreateCustomer": func(ctx context.Context) error {
			_, err := c.CreateCustomer(ctx, pubnub.CreateCustomerParams{ExternalID: "acme", Name: "Acme"})
			return err
		},
		"GetCustomer":    func(ctx context.Context) error { _, err := c.GetCustomer(ctx, "1"); return err },
		"ListCustomers":  func(ctx context.Context) error { _, err := c.ListCustomers(ctx, ""); return err },
		"AssignKeysets":  func(ctx context.Context) error { _, err := c.AssignKeysets(ctx, "1", []string{"5000001"}); return err },
		"UpdateCustomer": func(ctx context.Context) error { _, err := c.UpdateCustomer(ctx, "1", "n"); return err },
		"DeleteCustomer": func(ctx context.Context) error { return c.DeleteCustomer(ctx, "1") },
		"ListCustomerKeysets": func(ctx context.Context) error {
			_, err := c.ListCustomerKeysets(ctx, "1", "")
			return err
		},
		"GetUsageMetrics": func(ctx context.Context) error {
			_, err := c.GetUsageMetrics(ctx, pubnub.UsageQuery{EntityType: "app", EntityID: "1000001", From: day, To: day.AddDate(0, 0, 1), Metrics: []string{"txn_total"}})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := call(t.Context())
			require.True(t, pubnub.IsForbidden(err), "%v", err)
			var apiErr *pubnub.Error
			require.ErrorAs(t, err, &apiErr)

			var want []string
			for _, call := range up.sb.Calls() {
				if call.Method == apiErr.Method && call.Path == apiErr.Path && call.Status == http.StatusForbidden {
					for _, p := range sandbox.RequiredPermissions(call.Op) {
						want = append(want, string(p.Resource))
					}
				}
			}
			want = slices.Compact(want) // the same call may be in the log more than once
			require.NotEmpty(t, want)
			require.Equal(t, want, apiErr.PermissionResources())
		})
	}

	t.Run("UnknownOperation", func(t *testing.T) {
		t.Parallel()
		require.Nil(t, (&pubnub.Error{Op: "something new"}).PermissionResources())
	})
}
