package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	l := newLimiter(3, 10*time.Minute, func() time.Time { return now })

	for range 3 {
		require.Zero(t, l.wait("10.0.0.1"))
		l.fail("10.0.0.1")
		now = now.Add(time.Minute)
	}
	require.Equal(t, 7*time.Minute, l.wait("10.0.0.1"), "until the oldest of the three leaves the window")
	require.Zero(t, l.wait("10.0.0.2"), "per address")
	now = now.Add(7 * time.Minute)
	require.Zero(t, l.wait("10.0.0.1"))
	l.fail("10.0.0.1")
	require.Equal(t, time.Minute, l.wait("10.0.0.1"), "a sliding window")
	now = now.Add(time.Hour)
	require.Zero(t, l.wait("10.0.0.1"))
	require.Empty(t, l.failures, "old failures are forgotten")
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"/console/tenants?q=a":        "/console/tenants?q=a",
		"/console/tenants/acme#x":     "/console/tenants/acme",
		"":                            "/console/",
		"/console":                    "/console/",
		"https://evil.example/":       "/console/",
		"//evil.example/console/":     "/console/",
		"/\\evil.example":             "/console/",
		"/console/\\x":                "/console/",
		"/v1/tenants":                 "/console/",
		"javascript:alert(1)":         "/console/",
		"http:/console/x":             "/console/",
		"/console/x\r\nSet-Cookie: a": "/console/",
	} {
		require.Equal(t, want, safeNext(next), next)
	}
}
