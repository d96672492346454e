package tenants_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

func TestValidExternalID(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "acme-42", "ACME_42", strings.Repeat("x", 255)} {
		require.True(t, tenants.ValidExternalID(ok), ok)
	}
	for _, bad := range []string{"", "acme 42", "acme/42", "acme.42", "ácme", strings.Repeat("x", 256), "a\n"} {
		require.False(t, tenants.ValidExternalID(bad), bad)
	}
}

func TestKeysetState(t *testing.T) {
	t.Parallel()
	k := tenants.Keyset{}
	require.Equal(t, tenants.KeysetPending, k.State())
	k.KeysetID = "1"
	require.Equal(t, tenants.KeysetCreated, k.State())
	k.Assigned = true
	require.Equal(t, tenants.KeysetActive, k.State())
	k.AccessLocked = true
	require.Equal(t, tenants.KeysetDisabled, k.State())

	k.RotateFor = 1
	require.False(t, k.Locked(), "locked means access on AND the secret rotated for this disable")
	k.RotatedFor = 1
	require.True(t, k.Locked())
	k.RotateFor = 2
	require.False(t, k.Locked(), "a later disable needs a new rotation")

	k.RetiredAt = new(time.Now())
	require.Equal(t, tenants.KeysetRetired, k.State())
}

func TestProvisioned(t *testing.T) {
	t.Parallel()
	tn := &tenants.Tenant{AppID: "1", CustomerID: "c", Keysets: []tenants.Keyset{{KeysetID: "1", Assigned: true}, {KeysetID: "2"}}}
	require.False(t, tn.Provisioned())
	tn.Keysets[1].Assigned = true
	require.True(t, tn.Provisioned())
	tn.CustomerID = ""
	require.False(t, tn.Provisioned())
}

func TestView(t *testing.T) {
	t.Parallel()
	tn := &tenants.Tenant{ExternalID: "a", Keysets: []tenants.Keyset{{Environment: "production", Type: "production", SecretKeySealed: []byte("sealed")}}}
	v := tn.View()
	require.Nil(t, v.AppID)
	require.Equal(t, map[string]string{}, v.Metadata)
	require.Equal(t, tenants.KeysetPending, v.Keysets[0].State)
	require.Nil(t, v.Keysets[0].PublishKey)
}

func TestUpstreamNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "pnonboard-acme", tenants.AppName("acme"))
	require.Equal(t, "pnonboard-acme-staging", tenants.KeysetName("acme", "staging"))

	// Every accepted externalId gives names PubNub takes, deterministic and distinct.
	long := strings.Repeat("x", 255)
	other := strings.Repeat("x", 254) + "y"
	for _, env := range []string{"", "development", strings.Repeat("e", 32)} {
		name := func(id string) string {
			if env == "" {
				return tenants.AppName(id)
			}
			return tenants.KeysetName(id, env)
		}
		require.LessOrEqual(t, len(name(long)), tenants.MaxUpstreamName, env)
		require.Equal(t, name(long), name(long), "deterministic")
		require.NotEqual(t, name(long), name(other), "distinct IDs, distinct names")
		require.True(t, strings.HasPrefix(name(long), "pnonboard-xxxx"), "readable: %s", name(long))
		if env != "" {
			require.True(t, strings.HasSuffix(name(long), "-"+env), "environment kept: %s", name(long))
		}
	}
	// A name that fits is never changed.
	fits := strings.Repeat("z", 255-len("pnonboard-"))
	require.Equal(t, "pnonboard-"+fits, tenants.AppName(fits))
}
