package sandbox_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestKeysetConfig(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb       *sandbox.Sandbox
		clock    *testclock.Clock
		keysetID string
	}
	setup := func(t *testing.T, config map[string]any) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		app := createApp(t, sb, "app")
		return &testBundle{sb: sb, clock: clock, keysetID: createKeyset(t, sb, app.ID, config).Keyset.ID}
	}
	configOf := func(t *testing.T, res response) sandbox.Config {
		t.Helper()
		return decode[sandbox.Config](t, res, http.StatusOK)
	}

	t.Run("GetReturnsFullConfigWithDefaults", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		res := do(t, b.sb, http.MethodGet, "/v2/keysets/"+b.keysetID+"/config", nil)

		require.Equal(t, sandbox.DefaultConfig(), configOf(t, res))
		var raw map[string]map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(res.Body, &raw))
		require.Len(t, raw, 9, "every section is present")
		require.Equal(t, "null", string(raw["accessManager"]["tokenRevoke"]), "nullable fields are present as null")
		require.Equal(t, "null", string(raw["appContext"]["region"]))
	})

	t.Run("PatchIsPartialAndReturnsFullConfig", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]any{"presence": map[string]any{"enabled": true, "interval": 30}})
		b.clock.Advance(time.Minute)

		res := do(t, b.sb, http.MethodPatch, "/v2/keysets/"+b.keysetID+"/config", map[string]any{
			"accessManager": map[string]any{"enabled": true, "tokenRevoke": true},
			"presence":      map[string]any{"announceMax": 50},
		})

		want := sandbox.DefaultConfig()
		want.AccessManager = sandbox.AccessManagerConfig{Enabled: true, TokenRevoke: new(true)}
		want.Presence.Enabled, want.Presence.Interval, want.Presence.AnnounceMax = true, 30, 50
		require.Equal(t, want, configOf(t, res))
		require.Equal(t, want, configOf(t, do(t, b.sb, http.MethodGet, "/v2/keysets/"+b.keysetID+"/config", nil)))
		stored := b.sb.Keysets()[0]
		require.Equal(t, want, stored.Config)
		require.Equal(t, b.clock.Now(), stored.UpdatedAt)
	})

	t.Run("PatchNullClearsNullableField", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]any{"presence": map[string]any{"activeNoticeChannel": "notices"}})

		res := do(t, b.sb, http.MethodPatch, "/v2/keysets/"+b.keysetID+"/config", map[string]any{"presence": map[string]any{"activeNoticeChannel": nil}})

		require.Nil(t, configOf(t, res).Presence.ActiveNoticeChannel)
	})

	t.Run("PatchRefusedChangesNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		res := do(t, b.sb, http.MethodPatch, "/v2/keysets/"+b.keysetID+"/config", map[string]any{
			"accessManager":      map[string]any{"enabled": true},
			"messagePersistence": map[string]any{"retention": 2},
		})

		requireError(t, res, http.StatusBadRequest, "messagePersistence.retention must be one of: 0 1 7 30 90 180 365")
		require.Equal(t, sandbox.DefaultConfig(), b.sb.Keysets()[0].Config)
	})

	t.Run("RegionsImmutableOnceSet", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			initial map[string]any
			patch   map[string]any
			message string
		}{
			{"AppContext", map[string]any{"appContext": map[string]any{"enabled": true, "region": "aws-iad-1"}}, map[string]any{"appContext": map[string]any{"region": "aws-fra-1"}}, "appContext.region cannot be changed after initial setup"},
			{"AppContextToNull", map[string]any{"appContext": map[string]any{"region": "aws-iad-1"}}, map[string]any{"appContext": map[string]any{"region": nil}}, "appContext.region cannot be changed after initial setup"},
			{"Files", map[string]any{"files": map[string]any{"enabled": true, "region": "us-east-1"}}, map[string]any{"files": map[string]any{"region": "eu-central-1"}}, "files.region cannot be changed after initial setup"},
			{"DataSync", map[string]any{"dataSync": map[string]any{"enabled": true, "region": "aws-iad-1"}}, map[string]any{"dataSync": map[string]any{"region": "aws-pdx-1"}}, "dataSync.region cannot be changed after initial setup"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, tt.initial)
				before := b.sb.Keysets()[0].Config

				res := do(t, b.sb, http.MethodPatch, "/v2/keysets/"+b.keysetID+"/config", tt.patch)

				requireError(t, res, http.StatusBadRequest, tt.message)
				require.Equal(t, before, b.sb.Keysets()[0].Config)
			})
		}
	})

	t.Run("RegionCanBeSetOnceAndRepeated", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		path := "/v2/keysets/" + b.keysetID + "/config"
		patch := map[string]any{"appContext": map[string]any{"enabled": true, "region": "aws-fra-1"}}

		require.Equal(t, "aws-fra-1", *configOf(t, do(t, b.sb, http.MethodPatch, path, patch)).AppContext.Region)
		require.Equal(t, "aws-fra-1", *configOf(t, do(t, b.sb, http.MethodPatch, path, patch)).AppContext.Region, "the same value is not a change")
	})

	// Values the docs accept must not be refused: each is taken at create and
	// by PATCH. Runtime rules (DataSync needs Access Manager and a region to
	// work) are not config refusals, and only App Context needs a region.
	t.Run("AcceptedByTheDocs", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name   string
			config map[string]any
		}{
			{"DataSyncWithoutAccessManager", map[string]any{"dataSync": map[string]any{"enabled": true, "region": "aws-iad-1"}}},
			{"DataSyncWithoutRegion", map[string]any{"dataSync": map[string]any{"enabled": true}}},
			{"FilesWithoutRegion", map[string]any{"files": map[string]any{"enabled": true}}},
			{"FilesRetention90", map[string]any{"files": map[string]any{"retention": 90}}},
			{"FilesRetention180", map[string]any{"files": map[string]any{"retention": 180}}},
			{"FilesRetention365", map[string]any{"files": map[string]any{"retention": 365}}},
			{"FilesRetentionUnlimited", map[string]any{"files": map[string]any{"retention": 0}}},
			{"AnnounceMaxZero", map[string]any{"presence": map[string]any{"enabled": true, "announceMax": 0}}},
			{"AnnounceMaxHundred", map[string]any{"presence": map[string]any{"announceMax": 100}}},
			{"AppContextWithRegion", map[string]any{"appContext": map[string]any{"enabled": true, "region": "aws-pdx-1"}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, tt.config)
				other := setup(t, nil)

				res := do(t, other.sb, http.MethodPatch, "/v2/keysets/"+other.keysetID+"/config", tt.config)

				require.Equal(t, b.sb.Keysets()[0].Config, configOf(t, res), "create and PATCH agree")
			})
		}
	})

	t.Run("AppContextNeedsRegion", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		res := do(t, b.sb, http.MethodPatch, "/v2/keysets/"+b.keysetID+"/config", map[string]any{"appContext": map[string]any{"enabled": true}})

		requireError(t, res, http.StatusBadRequest, "appContext.region is required when App Context is enabled")
	})

	t.Run("NonNumericID", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/sub-c-1/config", nil), http.StatusBadRequest)
	})
}
