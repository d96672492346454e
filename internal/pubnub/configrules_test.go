package pubnub_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// TestConfigProblems: KeysetConfig.Problems, the local check server doctor runs on profiles,
// refuses exactly the create-keyset configs the sandbox refuses with 400, and names the field.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	up := startSandbox(t, nil)
	app, err := up.client.CreateApp(t.Context(), "rules")
	require.NoError(t, err)

	tests := []struct {
		name  string
		cfg   *pubnub.KeysetConfig
		field string // "" when valid
	}{
		{"Nil", nil, ""},
		{"Empty", &pubnub.KeysetConfig{}, ""},
		{"DefaultProfileLike", &pubnub.KeysetConfig{
			AccessManager:      &pubnub.AccessManagerConfig{Enabled: new(true), TokenRevoke: new(true)},
			MessagePersistence: &pubnub.MessagePersistenceConfig{Enabled: new(true), Retention: new(7)},
			AppContext:         &pubnub.AppContextConfig{Enabled: new(true), Region: new("aws-iad-1")},
			Presence:           &pubnub.PresenceConfig{Enabled: new(true)},
		}, ""},
		{"EveryEdgeValue", &pubnub.KeysetConfig{
			MessagePersistence: &pubnub.MessagePersistenceConfig{Retention: new(0)},
			Files:              &pubnub.FilesConfig{Enabled: new(true), Retention: new(365), Region: new("ap-northeast-1")},
			StreamController:   &pubnub.StreamControllerConfig{ChannelGroupLimit: new(2000)},
			Presence:           &pubnub.PresenceConfig{AnnounceMax: new(0), Interval: new(300), Debounce: new(0)},
			DataSync:           &pubnub.DataSyncConfig{Enabled: new(true)}, // runtime rules, not refusals
		}, ""},
		{"FilesWithoutRegion", &pubnub.KeysetConfig{Files: &pubnub.FilesConfig{Enabled: new(true)}}, ""},
		{"PersistenceRetention", &pubnub.KeysetConfig{MessagePersistence: &pubnub.MessagePersistenceConfig{Retention: new(14)}}, "messagePersistence.retention"},
		{"AppContextRegion", &pubnub.KeysetConfig{AppContext: &pubnub.AppContextConfig{Region: new("us-east-1")}}, "appContext.region"},
		{"AppContextWithoutRegion", &pubnub.KeysetConfig{AppContext: &pubnub.AppContextConfig{Enabled: new(true)}}, "appContext.region"},
		{"FilesRetention", &pubnub.KeysetConfig{Files: &pubnub.FilesConfig{Retention: new(2)}}, "files.retention"},
		{"FilesRegion", &pubnub.KeysetConfig{Files: &pubnub.FilesConfig{Region: new("aws-iad-1")}}, "files.region"},
		{"ChannelGroupLimitLow", &pubnub.KeysetConfig{StreamController: &pubnub.StreamControllerConfig{ChannelGroupLimit: new(0)}}, "streamController.channelGroupLimit"},
		{"ChannelGroupLimitHigh", &pubnub.KeysetConfig{StreamController: &pubnub.StreamControllerConfig{ChannelGroupLimit: new(2001)}}, "streamController.channelGroupLimit"},
		{"AnnounceMax", &pubnub.KeysetConfig{Presence: &pubnub.PresenceConfig{AnnounceMax: new(101)}}, "presence.announceMax"},
		{"IntervalLow", &pubnub.KeysetConfig{Presence: &pubnub.PresenceConfig{Interval: new(9)}}, "presence.interval"},
		{"IntervalHigh", &pubnub.KeysetConfig{Presence: &pubnub.PresenceConfig{Interval: new(301)}}, "presence.interval"},
		{"Debounce", &pubnub.KeysetConfig{Presence: &pubnub.PresenceConfig{Debounce: new(-1)}}, "presence.debounce"},
		{"DataSyncRegion", &pubnub.KeysetConfig{DataSync: &pubnub.DataSyncConfig{Region: new("mars-1")}}, "dataSync.region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problems := tt.cfg.Problems()
			_, err := up.client.CreateKeyset(t.Context(), pubnub.CreateKeysetParams{
				Name: "rules-" + tt.name, AppID: app.ID, Type: pubnub.KeysetTypeTesting, Config: tt.cfg,
			})
			if tt.field == "" {
				require.Empty(t, problems)
				require.NoError(t, err, "the sandbox accepts it too")
				return
			}
			require.Len(t, problems, 1, "%v", problems)
			require.Contains(t, problems[0], tt.field)
			require.Equal(t, http.StatusBadRequest, pubnub.StatusCode(err), "the sandbox refuses it too: %v", err)
		})
	}
}
