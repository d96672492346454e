package provisioner_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestProfiles(t *testing.T) {
	t.Parallel()
	write := func(t *testing.T, name, content string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		ps := provisioner.DefaultProfiles()
		require.Equal(t, []string{"development", "staging", "production"}, ps.Names())
		require.NoError(t, ps.Validate())
		prod, ok := ps.Get("production")
		require.True(t, ok)
		require.Equal(t, pubnub.KeysetTypeProduction, prod.KeysetType)
		require.True(t, *prod.Config.AccessManager.Enabled)
		require.True(t, *prod.Config.AccessManager.TokenRevoke)
		dev, _ := ps.Get("development")
		require.False(t, *dev.Config.AccessManager.Enabled)
	})

	t.Run("YAML", func(t *testing.T) {
		t.Parallel()
		ps, err := provisioner.LoadProfiles(write(t, "p.yaml", `
profiles:
  - name: sandbox
    keysetType: testing
  - name: live
    keysetType: production
    config:
      accessManager: {enabled: true, tokenRevoke: true}
      messagePersistence: {enabled: true, retention: 30}
`))
		require.NoError(t, err)
		require.Equal(t, []string{"sandbox", "live"}, ps.Names())
		live, _ := ps.Get("live")
		require.Equal(t, 30, *live.Config.MessagePersistence.Retention)
	})

	t.Run("JSONList", func(t *testing.T) {
		t.Parallel()
		ps, err := provisioner.LoadProfiles(write(t, "p.json", `[{"name": "qa", "keysetType": "testing", "config": {"presence": {"enabled": true}}}]`))
		require.NoError(t, err)
		require.Equal(t, []string{"qa"}, ps.Names())
	})

	t.Run("Refusals", func(t *testing.T) {
		t.Parallel()
		for name, content := range map[string]string{
			"typo.yaml":    "- name: qa\n  keysetType: testing\n  config: {acessManager: {enabled: true}}\n",
			"type.json":    `[{"name": "qa", "keysetType": "gold"}]`,
			"dup.json":     `[{"name": "qa", "keysetType": "testing"}, {"name": "qa", "keysetType": "testing"}]`,
			"empty.json":   `[]`,
			"badname.json": `[{"name": "Q A", "keysetType": "testing"}]`,
			"notjson.json": `{`,
		} {
			_, err := provisioner.LoadProfiles(write(t, name, content))
			require.Error(t, err, name)
		}
		_, err := provisioner.LoadProfiles(filepath.Join(t.TempDir(), "missing.yaml"))
		require.Error(t, err)
	})
}
