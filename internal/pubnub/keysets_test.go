package pubnub_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestKeysets(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*upstream
		appID string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		up := startSandbox(t, nil)
		app, err := up.client.CreateApp(t.Context(), "app")
		require.NoError(t, err)
		return &testBundle{upstream: up, appID: app.ID}
	}
	create := func(t *testing.T, b *testBundle, cfg *pubnub.KeysetConfig) *pubnub.CreatedKeyset {
		t.Helper()
		created, err := b.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: "acme-prod", AppID: b.appID, Type: pubnub.KeysetTypeProduction, Config: cfg})
		require.NoError(t, err)
		return created
	}

	t.Run("CreateWithConfig", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cfg := &pubnub.KeysetConfig{
			AccessManager: &pubnub.AccessManagerConfig{Enabled: new(true), TokenRevoke: new(true)},
			AppContext:    &pubnub.AppContextConfig{Enabled: new(true), Region: new("aws-fra-1")},
		}

		created := create(t, b, cfg)

		stored := b.sb.Keysets()[0]
		now := b.clock.Now()
		require.Equal(t, pubnub.Keyset{
			ID: stored.ID, Name: "acme-prod", AppID: b.appID, Type: pubnub.KeysetTypeProduction,
			PublishKey: stored.PublishKey, SubscribeKey: stored.SubscribeKey, CreatedAt: now, UpdatedAt: now,
		}, created.Keyset)
		require.Equal(t, []pubnub.SecretKey{{SecretKey: pubnub.Secret(stored.SecretKeys[0].Value)}}, created.SecretKeys)
		require.True(t, *created.Config.AccessManager.Enabled)
		require.Equal(t, "aws-fra-1", *created.Config.AppContext.Region)
		require.Equal(t, 7, *created.Config.MessagePersistence.Retention, "the answer is the full config")
		require.True(t, stored.Config.AccessManager.Enabled)
		require.JSONEq(t, `{
			"keyset": {"name": "acme-prod", "appId": "`+b.appID+`", "type": "production"},
			"config": {"accessManager": {"enabled": true, "tokenRevoke": true}, "appContext": {"enabled": true, "region": "aws-fra-1"}}
		}`, b.requests.last().Body)
	})

	t.Run("CreateAlwaysSendsNameAppIDAndType", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{AppID: b.appID})

		require.True(t, pubnub.IsPermanent(err))
		require.JSONEq(t, `{"keyset": {"name": "", "appId": "`+b.appID+`", "type": ""}}`, b.requests.last().Body)
		require.Contains(t, err.Error(), "keyset.name should not be empty")
	})

	t.Run("GetAndList", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		created := create(t, b, nil)

		got, err := b.client.GetKeyset(t.Context(), created.Keyset.ID)
		require.NoError(t, err)
		list, err := b.client.ListKeysets(t.Context())
		require.NoError(t, err)

		require.Equal(t, created.Keyset, *got)
		require.Equal(t, []pubnub.Keyset{created.Keyset}, list)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.GetKeyset(t.Context(), "5000999")

		require.True(t, pubnub.IsNotFound(err))
	})

	t.Run("ConfigGetAndPartialUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := create(t, b, nil).Keyset.ID

		before, err := b.client.GetKeysetConfig(t.Context(), id)
		require.NoError(t, err)
		after, err := b.client.UpdateKeysetConfig(t.Context(), id, &pubnub.KeysetConfig{
			AccessManager: &pubnub.AccessManagerConfig{Enabled: new(true)},
		})
		require.NoError(t, err)

		require.JSONEq(t, `{"accessManager":{"enabled":true}}`, b.requests.last().Body, "only the intended field is sent")
		require.False(t, *before.AccessManager.Enabled)
		require.True(t, *after.AccessManager.Enabled)
		before.AccessManager.Enabled = new(true)
		require.Equal(t, before, after, "nothing else changed")
		require.True(t, b.sb.Keysets()[0].Config.AccessManager.Enabled)
	})

	t.Run("ConfigImmutableRegion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		id := create(t, b, &pubnub.KeysetConfig{Files: &pubnub.FilesConfig{Enabled: new(true), Region: new("us-east-1")}}).Keyset.ID

		_, err := b.client.UpdateKeysetConfig(t.Context(), id, &pubnub.KeysetConfig{Files: &pubnub.FilesConfig{Region: new("eu-central-1")}})

		require.True(t, pubnub.IsPermanent(err))
		require.Contains(t, err.Error(), "files.region cannot be changed after initial setup")
	})

	t.Run("ConfigNilPatchRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.UpdateKeysetConfig(t.Context(), "5000001", nil)

		require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
	})
}

func TestKeysetAppField(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, body, appID string
	}{
		{"AppID", `{"id": "5", "appId": "100"}`, "100"},
		{"ApplicationIDAsNumber", `{"id": 5, "applicationId": 100}`, "100"},
		{"ApplicationIDAsString", `{"id": "5", "applicationId": "100"}`, "100"},
		{"BothPreferAppID", `{"id": "5", "appId": "100", "applicationId": 200}`, "100"},
		{"Neither", `{"id": "5"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tt.body)) })

			ks, err := client.GetKeyset(t.Context(), "5")

			require.NoError(t, err)
			require.Equal(t, pubnub.Keyset{ID: "5", AppID: tt.appID}, *ks)
		})
	}
}

func TestKeysetConfigDecoding(t *testing.T) {
	t.Parallel()

	// PubNub may add sections and fields; they are ignored, and nulls decode
	// as nil.
	client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{
			"accessManager": {"enabled": true, "tokenRevoke": null, "newFlag": 1},
			"presence": {"enabled": false, "enableLegacySomething": true},
			"illuminate": {"enabled": true}
		}`))
	})

	cfg, err := client.GetKeysetConfig(t.Context(), "1")

	require.NoError(t, err)
	require.Equal(t, &pubnub.KeysetConfig{
		AccessManager: &pubnub.AccessManagerConfig{Enabled: new(true)},
		Presence:      &pubnub.PresenceConfig{Enabled: new(false)},
	}, cfg)
}

func TestKeysetConfigEncodesOnlySetFields(t *testing.T) {
	t.Parallel()

	b, err := json.Marshal(pubnub.KeysetConfig{
		MessagePersistence: &pubnub.MessagePersistenceConfig{Enabled: new(false), Retention: new(0)},
		Presence:           &pubnub.PresenceConfig{},
	})

	require.NoError(t, err)
	require.JSONEq(t, `{"messagePersistence":{"enabled":false,"retention":0},"presence":{}}`, string(b), "false and 0 are sent when set")
}

// sandboxKeyset is used by tests that need a keyset without caring how.
func sandboxKeyset(t *testing.T, up *upstream) *pubnub.CreatedKeyset {
	t.Helper()
	app, err := up.client.CreateApp(t.Context(), "app")
	require.NoError(t, err)
	ks, err := up.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{Name: "ks", AppID: app.ID, Type: pubnub.KeysetTypeTesting})
	require.NoError(t, err)
	return ks
}
