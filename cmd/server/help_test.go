package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelp: server --help and server COMMAND --help, for every command, print the usage on
// stdout and exit 0, without reading any configuration (the environment here is empty).
func TestHelp(t *testing.T) {
	t.Parallel()
	names := make([]string, 0, len(commands()))
	for name := range commands() {
		names = append(names, name)
	}
	slices.Sort(names)
	helpOf := func(t *testing.T, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), append([]string{"server"}, args...), mapEnv(nil), &stdout, &stderr)
		require.NoError(t, err, "%v: stderr: %s", args, stderr.String())
		require.Empty(t, stderr.String(), "%v", args)
		return stdout.String()
	}

	t.Run("Top", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
			out := helpOf(t, args...)
			require.True(t, strings.HasPrefix(out, "usage: server [command] [flags]"), "%v: %s", args, out)
			for _, name := range names {
				require.Contains(t, out, "\n  "+name, "%v: the usage lists %s", args, name)
			}
		}
	})

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := "usage: server " + name
			if name == "serve" {
				want = "usage: server [serve]"
			}
			for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
				out := helpOf(t, args...)
				require.True(t, strings.HasPrefix(out, want), "%v: %s", args, out)
			}
		})
	}

	t.Run("AfterOtherArguments", func(t *testing.T) {
		t.Parallel()
		require.True(t, strings.HasPrefix(helpOf(t, "apikey", "create", "--help"), "usage: server apikey"))
		require.True(t, strings.HasPrefix(helpOf(t, "migrate", "up", "-h"), "usage: server migrate"))
		require.True(t, strings.HasPrefix(helpOf(t, "dev", "--addr", "127.0.0.1:1", "--help"), "usage: server dev"))
	})
}
