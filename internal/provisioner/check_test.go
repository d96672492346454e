package provisioner

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// A held resource named otherwise than pnonboard named it is a portal rename (reported,
// renamed back on repair) unless the name is one pnonboard derives for another tenant: then
// it is that tenant's, and blocks.
func TestCompareTellsARenameFromAnotherTenantsName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 255)
	tenant := func() *tenants.Tenant {
		return &tenants.Tenant{ExternalID: "acme", AppID: "1", Keysets: []tenants.Keyset{
			{Environment: "staging", KeysetID: "5", UpstreamName: tenants.KeysetName("acme", "staging")},
			{Environment: "production", KeysetID: "6", UpstreamName: tenants.KeysetName("acme", "production")},
		}}
	}
	observe := func(appName, stagingName string) observed {
		return observed{app: &pubnub.App{ID: "1", Name: appName}, keysets: map[string]*pubnub.Keyset{
			"5": {ID: "5", AppID: "1", Name: stagingName},
			"6": {ID: "6", AppID: "1", Name: tenants.KeysetName("acme", "production")},
		}}
	}
	kinds := func(o observed) []tenants.DriftKind {
		var out []tenants.DriftKind
		for _, d := range compare(tenant(), o) {
			out = append(out, d.Kind)
		}
		return out
	}
	ours := tenants.KeysetName("acme", "staging")
	for name, want := range map[string]tenants.DriftKind{
		"my app":                    tenants.DriftAppRenamed,
		"pnonboard-":                tenants.DriftAppRenamed, // no externalId in it
		"pnonboard-old app":         tenants.DriftAppRenamed, // not an externalId
		"pnonboard-victim":          tenants.DriftAppForeign,
		"pnonboard-acme-staging":    tenants.DriftAppForeign, // the app of externalId "acme-staging"
		tenants.AppName(long):       tenants.DriftAppForeign, // the hashed long form
		tenants.AppName(long)[:254]: tenants.DriftAppRenamed, // cut short: not a derived name
	} {
		require.Equal(t, []tenants.DriftKind{want}, kinds(observe(name, ours)), "app named %q", name)
	}
	for name, want := range map[string]tenants.DriftKind{
		"someone's idea":                         tenants.DriftKeysetRenamed,
		tenants.KeysetName("acme", "production"): tenants.DriftKeysetRenamed, // the tenant's own name
		tenants.AppName("acme"):                  tenants.DriftKeysetRenamed,
		tenants.KeysetName("victim", "staging"):  tenants.DriftKeysetForeign,
		tenants.KeysetName("victim", "dev"):      tenants.DriftKeysetForeign,
		tenants.KeysetName(long, "staging"):      tenants.DriftKeysetForeign,
		tenants.KeysetName("acme-eu", "staging"): tenants.DriftKeysetForeign,
	} {
		require.Equal(t, []tenants.DriftKind{want}, kinds(observe(tenants.AppName("acme"), name)), "keyset named %q", name)
	}
	require.Empty(t, kinds(observe(tenants.AppName("acme"), ours)))

	// A rename repair in progress does not hide another tenant's name.
	tn := tenant()
	tn.AppRenamePending = true
	found := compare(tn, observe("pnonboard-victim", ours))
	require.Len(t, found, 1)
	require.Equal(t, tenants.DriftAppForeign, found[0].Kind)
	require.Equal(t, `"pnonboard-acme", the app of tenant "acme"`, found[0].Expected)
	require.Equal(t, `"pnonboard-victim", the app of tenant "victim"`, found[0].Actual)
	require.Empty(t, compare(tn, observe("my app", ours)), "a rename being undone is not reported again")

	found = compare(tenant(), observe(tenants.AppName(long), ours))
	require.Equal(t, `"`+tenants.AppName(long)+`", another tenant's app`, found[0].Actual)
}
