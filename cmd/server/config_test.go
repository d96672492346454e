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

	valid := map[string]string{"DATABASE_URL": "postgres://u:hunter2@db:5432/pnonboard"}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(mapEnv(valid), modeServe)
		require.NoError(t, err)
		require.Equal(t, ":8080", cfg.Addr)
		require.Equal(t, roleAll, cfg.Role)
		require.Equal(t, slog.LevelInfo, cfg.LogLevel)
		require.Equal(t, "json", cfg.LogFormat)
		require.Equal(t, 30*time.Second, cfg.ShutdownTimeout)
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
			require.NotContains(t, err.Error(), "hunter2")
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
		err := run(context.Background(), []string{"server", "serve"}, mapEnv(map[string]string{"PNONBOARD_ROLE": "x", "DATABASE_URL": "postgres://localhost/x"}), io.Discard, io.Discard)
		require.EqualError(t, err, `config: PNONBOARD_ROLE: must be one of all, api, worker (got "x")`)
	})

	t.Run("LoggedWithSecretsMasked", func(t *testing.T) {
		t.Parallel()
		cfg, err := parseConfig(mapEnv(valid), modeServe)
		require.NoError(t, err)
		var buf strings.Builder
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", cfg)
		require.NotContains(t, buf.String(), "hunter2")
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
