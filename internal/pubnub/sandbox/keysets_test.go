package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestKeysets(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb    *sandbox.Sandbox
		clock *testclock.Clock
		appID string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		return &testBundle{sb: sb, clock: clock, appID: createApp(t, sb, "app").ID}
	}

	t.Run("Create", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := do(t, b.sb, http.MethodPost, "/v2/keysets", map[string]any{
			"keyset": map[string]any{"name": "prod", "appId": b.appID, "type": "production"},
			"config": map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": true}},
		})

		got := decode[createdKeysetJSON](t, res, http.StatusCreated)
		ks := got.Keyset
		require.Equal(t, "5000001", ks.ID)
		require.Equal(t, []string{"prod", b.appID, "production"}, []string{ks.Name, ks.AppID, ks.Type})
		uuid := `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
		require.Regexp(t, "^pub-c-"+uuid+"$", ks.PublishKey)
		require.Regexp(t, "^sub-c-"+uuid+"$", ks.SubscribeKey)
		require.Len(t, ks.SecretKeys, 1)
		require.Regexp(t, "^sec-c-[A-Za-z0-9]{48}$", ks.SecretKeys[0].SecretKey)
		require.Nil(t, ks.SecretKeys[0].ExpiresAt)
		require.Equal(t, true, got.Config["accessManager"]["enabled"])
		require.Equal(t, true, got.Config["accessManager"]["tokenRevoke"])
		require.Equal(t, float64(7), got.Config["messagePersistence"]["retention"], "defaults fill the rest")

		stored := b.sb.Keysets()
		require.Len(t, stored, 1)
		require.Equal(t, b.appID, stored[0].AppID)
		require.Equal(t, "production", stored[0].Type)
		require.True(t, stored[0].Config.AccessManager.Enabled)
		require.Equal(t, []sandbox.SecretKey{{Value: ks.SecretKeys[0].SecretKey}}, stored[0].SecretKeys)
	})

	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		created := createKeyset(t, b.sb, b.appID, nil)

		got := decode[keysetJSON](t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+created.Keyset.ID, nil), http.StatusOK)

		require.Equal(t, created.Keyset.keysetJSON, got)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/5000009", nil), http.StatusNotFound, "Keyset 5000009 not found")
		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/5000009/config", nil), http.StatusNotFound)
		requireError(t, do(t, b.sb, http.MethodPatch, "/v2/keysets/5000009/config", map[string]any{}), http.StatusNotFound)
	})

	t.Run("CreateValidation", func(t *testing.T) {
		t.Parallel()
		// keyset builds a valid keyset for appID, then edit changes it.
		keyset := func(appID string, edit func(map[string]any)) map[string]any {
			k := map[string]any{"name": "ks", "appId": appID, "type": "testing"}
			if edit != nil {
				edit(k)
			}
			return k
		}
		tests := []struct {
			name    string
			edit    func(k map[string]any)
			config  map[string]any
			status  int
			message string
		}{
			{"MissingName", func(k map[string]any) { delete(k, "name") }, nil, http.StatusBadRequest, "keyset.name is required"},
			{"MissingAppID", func(k map[string]any) { delete(k, "appId") }, nil, http.StatusBadRequest, "keyset.appId is required"},
			{"NumericAppID", func(k map[string]any) { k["appId"] = 1000001 }, nil, http.StatusBadRequest, "keyset.appId must be a string"},
			{"UnknownApp", func(k map[string]any) { k["appId"] = "1000099" }, nil, http.StatusNotFound, "App 1000099 not found"},
			{"MissingType", func(k map[string]any) { delete(k, "type") }, nil, http.StatusBadRequest, "keyset.type is required"},
			{"BadType", func(k map[string]any) { k["type"] = "staging" }, nil, http.StatusBadRequest, "keyset.type must be one of the following values: testing, production"},
			{"UnknownKeysetProperty", func(k map[string]any) { k["status"] = 0 }, nil, http.StatusBadRequest, "property status should not exist"},
			{"BadAppContextRegion", nil, map[string]any{"appContext": map[string]any{"enabled": true, "region": "us-east-1"}}, http.StatusBadRequest, "appContext.region must be one of: aws-iad-1, aws-pdx-1, aws-fra-1, aws-bom-1, aws-hnd-1"},
			{"AppContextWithoutRegion", nil, map[string]any{"appContext": map[string]any{"enabled": true}}, http.StatusBadRequest, "appContext.region is required when App Context is enabled"},
			{"BadFilesRegion", nil, map[string]any{"files": map[string]any{"enabled": true, "region": "aws-iad-1"}}, http.StatusBadRequest, "files.region must be one of: us-east-1, us-west-1, eu-central-1, ap-south-1, ap-northeast-1"},
			{"BadRetention", nil, map[string]any{"messagePersistence": map[string]any{"enabled": true, "retention": 14}}, http.StatusBadRequest, "messagePersistence.retention must be one of: 0 1 7 30 90 180 365"},
			{"BadFilesRetention", nil, map[string]any{"files": map[string]any{"retention": 14}}, http.StatusBadRequest, "files.retention must be one of: 0 1 7 30 90 180 365"},
			{"ChannelGroupLimit", nil, map[string]any{"streamController": map[string]any{"channelGroupLimit": 2001}}, http.StatusBadRequest, "streamController.channelGroupLimit must be between 1 and 2000"},
			{"PresenceAnnounceMaxOver", nil, map[string]any{"presence": map[string]any{"announceMax": 101}}, http.StatusBadRequest, "presence.announceMax must be between 0 and 100"},
			{"PresenceAnnounceMaxNegative", nil, map[string]any{"presence": map[string]any{"announceMax": -1}}, http.StatusBadRequest, "presence.announceMax must be between 0 and 100"},
			{"PresenceInterval", nil, map[string]any{"presence": map[string]any{"interval": 5}}, http.StatusBadRequest, "presence.interval must be between 10 and 300"},
			{"PresenceDebounce", nil, map[string]any{"presence": map[string]any{"debounce": -1}}, http.StatusBadRequest, "presence.debounce must not be negative"},
			{"BadDataSyncRegion", nil, map[string]any{"dataSync": map[string]any{"enabled": true, "region": "us-east-1"}}, http.StatusBadRequest, "dataSync.region must be one of: aws-iad-1, aws-pdx-1, aws-fra-1, aws-bom-1, aws-hnd-1"},
			{"UnknownConfigSection", nil, map[string]any{"history": map[string]any{"enabled": true}}, http.StatusBadRequest, "property history should not exist"},
			{"UnknownConfigField", nil, map[string]any{"accessManager": map[string]any{"enable": true}}, http.StatusBadRequest, "property enable should not exist"},
			{"WrongConfigType", nil, map[string]any{"accessManager": map[string]any{"enabled": "yes"}}, http.StatusBadRequest, "config.accessManager.enabled must be a boolean"},
			{"NullSection", nil, map[string]any{"presence": nil}, http.StatusBadRequest, "presence must be an object"},
			{"NullFlag", nil, map[string]any{"presence": map[string]any{"enabled": nil}}, http.StatusBadRequest, "presence.enabled must not be null"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)
				body := map[string]any{"keyset": keyset(b.appID, tt.edit)}
				if tt.config != nil {
					body["config"] = tt.config
				}

				requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", body), tt.status, tt.message)
				require.Empty(t, b.sb.Keysets())
			})
		}
	})

	t.Run("MissingKeysetObject", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", map[string]any{}), http.StatusBadRequest, "keyset is required")
		flat := map[string]any{"name": "ks"}
		requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets", flat), http.StatusBadRequest, "property name should not exist")
		require.Empty(t, b.sb.Keysets())
	})

	t.Run("SecretsOnlyFromCreate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		created := createKeyset(t, b.sb, b.appID, nil)
		id := created.Keyset.ID
		secret := created.Keyset.SecretKeys[0].SecretKey
		require.NotEmpty(t, secret)

		for _, path := range []string{"/v2/keysets/" + id, "/v2/keysets", "/v2/keysets/" + id + "/config", "/v2/apps", "/v2/apps/" + b.appID} {
			res := do(t, b.sb, http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, res.Status)
			require.NotContains(t, string(res.Body), "sec-c-", path)
			require.NotContains(t, string(res.Body), "secretKey", path)
		}
		res := do(t, b.sb, http.MethodPatch, "/v2/keysets/"+id+"/config", map[string]any{"presence": map[string]any{"enabled": true}})
		require.Equal(t, http.StatusOK, res.Status)
		require.NotContains(t, string(res.Body), "sec-c-")
		res = do(t, b.sb, http.MethodGet, "/v2/keysets/"+id+"/secret-keys", nil)
		require.Contains(t, string(res.Body), secret, "the secret-keys endpoint does return them")
	})
}
