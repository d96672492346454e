package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()

	valid := map[string]string{
		"DATABASE_URL":             "postgres://u:hunter2@db:5432/pnonboard",
		"PNONBOARD_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"PNONBOARD_PUBNUB_API_KEY": "pn-admin-hunter3",
	}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(mapEnv(valid), modeServe)
		require.NoError(t, err)
		require.Equal(t, ":8080", cfg.Addr)
		require.Equal(t, roleAll, cfg.Role)
		require.Equal(t, slog.LevelInfo, cfg.LogLevel)
		require.Equal(t, "json", cfg.LogFormat)
		require.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
		require.Equal(t, "https://admin-api.pubnub.com/v2", cfg.PubNubURL)
		require.Equal(t, "https://ps.pndsn.com", cfg.PubNubOrigin)
		require.Equal(t, "2026-02-09", cfg.PubNubVersion)
		require.Equal(t, 120, cfg.PubNubRatePerMinute)
		require.Len(t, cfg.EncryptionKey, 32)
		require.Equal(t, []string{"txn_total", "mtd_uuid", "publish", "subscribe_msgs", "bytes_stored"}, cfg.UsageMetrics)
		require.False(t, cfg.UsageByEnvironment)
		require.Equal(t, 15*time.Minute, cfg.UsageSyncInterval)
	})

	t.Run("UsageSettings", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(mapEnv(withDefaults(map[string]string{
			"PNONBOARD_USAGE_METRICS":        "mtd_uuid, txn_total",
			"PNONBOARD_USAGE_BY_ENVIRONMENT": "true",
			"PNONBOARD_USAGE_SYNC_INTERVAL":  "1h",
		}, valid)), modeServe)
		require.NoError(t, err)
		require.Equal(t, []string{"mtd_uuid", "txn_total"}, cfg.UsageMetrics)
		require.True(t, cfg.UsageByEnvironment)
		require.Equal(t, time.Hour, cfg.UsageSyncInterval)
	})

	t.Run("PubNubKeyExpiry", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(mapEnv(valid), modeServe)
		require.NoError(t, err)
		require.True(t, cfg.PubNubAPIKeyExpires.IsZero(), "optional")
		cfg, err = parseConfig(mapEnv(withDefaults(map[string]string{"PNONBOARD_PUBNUB_API_KEY_EXPIRES": "2027-03-31"}, valid)), modeServe)
		require.NoError(t, err)
		require.Equal(t, time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), cfg.PubNubAPIKeyExpires)
	})

	t.Run("DoctorNeedsNoEncryptionKey", func(t *testing.T) {
		t.Parallel()
		env := withDefaults(nil, valid)
		delete(env, "PNONBOARD_ENCRYPTION_KEY")
		_, err := parseConfig(mapEnv(env), modeDoctor)
		require.NoError(t, err)
	})

	t.Run("APIOnlyReplicaNeedsNoPubNubKey", func(t *testing.T) {
		t.Parallel()
		env := withDefaults(map[string]string{"PNONBOARD_ROLE": "api"}, valid)
		delete(env, "PNONBOARD_PUBNUB_API_KEY")
		_, err := parseConfig(mapEnv(env), modeServe)
		require.NoError(t, err)
	})

	// Each bad or missing variable fails with one line that names it.
	tests := []struct {
		name, variable, value string
		mode                  configMode
	}{
		{name: "MissingDatabaseURL", variable: "DATABASE_URL", value: "", mode: modeServe},
		{name: "MissingDatabaseURLForMigrate", variable: "DATABASE_URL", value: "", mode: modeMigrate},
		{name: "NotAPostgresURL", variable: "DATABASE_URL", value: "mysql://x", mode: modeServe},
		{name: "BadRole", variable: "PNONBOARD_ROLE", value: "janitor", mode: modeServe},
		{name: "BadLogLevel", variable: "PNONBOARD_LOG_LEVEL", value: "loud", mode: modeServe},
		{name: "BadLogFormat", variable: "PNONBOARD_LOG_FORMAT", value: "xml", mode: modeServe},
		{name: "BadAddr", variable: "PNONBOARD_ADDR", value: "8080", mode: modeServe},
		{name: "BadShutdownTimeout", variable: "PNONBOARD_SHUTDOWN_TIMEOUT", value: "soon", mode: modeServe},
		{name: "MissingEncryptionKey", variable: "PNONBOARD_ENCRYPTION_KEY", value: "", mode: modeServe},
		{name: "ShortEncryptionKey", variable: "PNONBOARD_ENCRYPTION_KEY", value: "c2hvcnQ=", mode: modeServe},
		{name: "NotBase64EncryptionKey", variable: "PNONBOARD_ENCRYPTION_KEY", value: "hunter2!", mode: modeServe},
		{name: "BadPreviousKeys", variable: "PNONBOARD_ENCRYPTION_KEYS_PREVIOUS", value: "nope", mode: modeServe},
		{name: "MissingPubNubKey", variable: "PNONBOARD_PUBNUB_API_KEY", value: "", mode: modeServe},
		{name: "BadPubNubURL", variable: "PNONBOARD_PUBNUB_URL", value: "admin-api.pubnub.com", mode: modeServe},
		{name: "BadPubNubOrigin", variable: "PNONBOARD_PUBNUB_ORIGIN", value: "ps.pndsn.com", mode: modeServe},
		{name: "BadPubNubVersion", variable: "PNONBOARD_PUBNUB_VERSION", value: "latest", mode: modeServe},
		{name: "BadRate", variable: "PNONBOARD_PUBNUB_RATE_PER_MINUTE", value: "1", mode: modeServe},
		{name: "BadWorkers", variable: "PNONBOARD_WORKERS", value: "0", mode: modeServe},
		{name: "BadPubNubKeyExpiry", variable: "PNONBOARD_PUBNUB_API_KEY_EXPIRES", value: "next year", mode: modeServe},
		{name: "BadPubNubKeyExpiryForDoctor", variable: "PNONBOARD_PUBNUB_API_KEY_EXPIRES", value: "2027-02-30", mode: modeDoctor},
		{name: "MissingPubNubKeyForDoctor", variable: "PNONBOARD_PUBNUB_API_KEY", value: "", mode: modeDoctor},
		{name: "MissingDatabaseURLForDoctor", variable: "DATABASE_URL", value: "", mode: modeDoctor},
		{name: "UnknownUsageMetric", variable: "PNONBOARD_USAGE_METRICS", value: "txn_total,monthly_users", mode: modeServe},
		{name: "UnknownUsageMetricInDevMode", variable: "PNONBOARD_USAGE_METRICS", value: "bogus", mode: modeDev},
		{name: "NoUsageMetrics", variable: "PNONBOARD_USAGE_METRICS", value: ",", mode: modeServe},
		{name: "BadUsageByEnvironment", variable: "PNONBOARD_USAGE_BY_ENVIRONMENT", value: "per-keyset", mode: modeServe},
		{name: "ShortUsageSyncInterval", variable: "PNONBOARD_USAGE_SYNC_INTERVAL", value: "10s", mode: modeServe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := withDefaults(map[string]string{tt.variable: tt.value}, valid)
			if tt.value == "" {
				delete(env, tt.variable)
			}
			_, err := parseConfig(mapEnv(env), tt.mode)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.variable)
			require.NotContains(t, err.Error(), "\n")
			require.NotContains(t, err.Error(), "hunter")
		})
	}

	t.Run("AllProblemsInOneLine", func(t *testing.T) {
		t.Parallel()
		_, err := parseConfig(mapEnv(map[string]string{"PNONBOARD_ROLE": "x"}), modeServe)
		require.ErrorContains(t, err, "DATABASE_URL")
		require.ErrorContains(t, err, "PNONBOARD_ROLE")
		require.NotContains(t, err.Error(), "\n")
	})

	t.Run("RunFailsStartupNamingTheVariable", func(t *testing.T) {
		t.Parallel()
		err := run(context.Background(), []string{"server", "serve"}, mapEnv(withDefaults(map[string]string{"PNONBOARD_ROLE": "x"}, valid)), io.Discard, io.Discard)
		require.EqualError(t, err, `config: PNONBOARD_ROLE: must be one of all, api, worker (got "x")`)
	})

	t.Run("RunFailsStartupOnABadKeyExpiry", func(t *testing.T) {
		t.Parallel()
		env := mapEnv(withDefaults(map[string]string{"PNONBOARD_PUBNUB_API_KEY_EXPIRES": "31/03/2027"}, valid))
		for _, cmd := range []string{"serve", "doctor"} {
			err := run(context.Background(), []string{"server", cmd}, env, io.Discard, io.Discard)
			require.EqualError(t, err, `config: PNONBOARD_PUBNUB_API_KEY_EXPIRES: must be a date like 2027-03-31 (got "31/03/2027")`, cmd)
		}
	})

	t.Run("UnknownUsageMetricFailsStartUp", func(t *testing.T) {
		t.Parallel()
		err := run(context.Background(), []string{"server", "serve"},
			mapEnv(withDefaults(map[string]string{"PNONBOARD_USAGE_METRICS": "txn_total,bogus"}, valid)), io.Discard, io.Discard)
		require.EqualError(t, err, `config: PNONBOARD_USAGE_METRICS: unknown metric "bogus" (the names of PubNub's usage metrics, e.g. `+
			`txn_total,mtd_uuid,publish,subscribe_msgs,bytes_stored)`)
	})

	t.Run("LoggedWithSecretsMasked", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(mapEnv(valid), modeServe)
		require.NoError(t, err)
		var buf strings.Builder
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", cfg)
		require.NotContains(t, buf.String(), "hunter2")
		require.NotContains(t, buf.String(), "hunter3")
		require.NotContains(t, buf.String(), valid["PNONBOARD_ENCRYPTION_KEY"])
		require.Contains(t, buf.String(), "xxxxx")
	})
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	err := run(context.Background(), []string{"server", "frobnicate"}, mapEnv(nil), io.Discard, &stderr)
	require.EqualError(t, err, `unknown command "frobnicate"`)
	require.Contains(t, stderr.String(), "usage: server")

	var stdout strings.Builder
	require.NoError(t, run(context.Background(), []string{"server", "help"}, mapEnv(nil), &stdout, io.Discard))
	require.Contains(t, stdout.String(), "migrate up|down|status")
}

func TestBudgetConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"DATABASE_URL": "postgres://x", "PNONBOARD_ENCRYPTION_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "PNONBOARD_PUBNUB_API_KEY": "k"}
	cfg, err := parseConfig(mapEnv(base), modeServe)
	require.NoError(t, err)
	require.Equal(t, 0.2, cfg.BackgroundShare)
	require.Zero(t, cfg.PubNubRateMargin, "zero: the budget's default")
	require.Equal(t, 24*time.Hour, cfg.DriftInterval)
	cfg, err = parseConfig(mapEnv(withDefaults(map[string]string{"PNONBOARD_DRIFT_INTERVAL": "6h"}, base)), modeServe)
	require.NoError(t, err)
	require.Equal(t, 6*time.Hour, cfg.DriftInterval)

	for name, bad := range map[string]string{"PNONBOARD_PUBNUB_BACKGROUND_SHARE": "1.5", "PNONBOARD_PUBNUB_RATE_MARGIN": "120",
		"PNONBOARD_DRIFT_INTERVAL": "30s"} {
		_, err := parseConfig(mapEnv(withDefaults(map[string]string{name: bad}, base)), modeServe)
		require.ErrorContains(t, err, name)
	}
}
