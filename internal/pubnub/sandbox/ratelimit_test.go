package sandbox_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb    *sandbox.Sandbox
		clock *testclock.Clock
	}
	setup := func(t *testing.T, limit int) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, func(o *sandbox.Opts) { o.RatePerMinute = limit })
		return &testBundle{sb: sb, clock: clock}
	}
	headers := func(res response) []string {
		return []string{res.Header.Get("X-RateLimit-Limit"), res.Header.Get("X-RateLimit-Remaining"), res.Header.Get("X-RateLimit-Reset")}
	}

	t.Run("SixthRequestRefusedUntilWindowEnds", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 5)
		for i := range 5 {
			res := do(t, b.sb, http.MethodGet, "/v2/apps", nil)
			require.Equal(t, http.StatusOK, res.Status)
			require.Equal(t, []string{"5", strconv.Itoa(4 - i), strconv.Itoa(60 - i)}, headers(res))
			b.clock.Advance(time.Second)
		}

		res := do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"})

		body := requireError(t, res, http.StatusTooManyRequests)
		require.Equal(t, "TooManyRequests", body.Error)
		require.Equal(t, []string{"5", "0", "55"}, headers(res))
		require.Equal(t, "55", res.Header.Get("Retry-After"))
		require.Empty(t, b.sb.Apps(), "a refused request changes nothing")

		b.clock.Advance(54*time.Second + 500*time.Millisecond)
		res = do(t, b.sb, http.MethodGet, "/v2/apps", nil)
		requireError(t, res, http.StatusTooManyRequests)
		require.Equal(t, "1", res.Header.Get("X-RateLimit-Reset"), "reset rounds up and is at least 1")

		b.clock.Advance(500 * time.Millisecond)
		res = do(t, b.sb, http.MethodGet, "/v2/apps", nil)
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, []string{"5", "4", "60"}, headers(res))
	})

	t.Run("HeadersOnEveryAuthenticatedAnswer", func(t *testing.T) {
		t.Parallel()
		b := setup(t, 0)

		for _, res := range []response{
			do(t, b.sb, http.MethodGet, "/v2/apps/1", nil),
			do(t, b.sb, http.MethodGet, "/v2/apps", nil, withoutHeader("PubNub-Version")),
			do(t, b.sb, http.MethodGet, "/v2/nothing", nil),
		} {
			require.Equal(t, "120", res.Header.Get("X-RateLimit-Limit"), "default limit")
			require.NotEmpty(t, res.Header.Get("X-RateLimit-Remaining"))
			require.NotEmpty(t, res.Header.Get("X-RateLimit-Reset"))
			require.Empty(t, res.Header.Get("Retry-After"))
		}
		unauthenticated := do(t, b.sb, http.MethodGet, "/v2/apps", nil, withoutHeader("Authorization"))
		require.Empty(t, unauthenticated.Header.Get("X-RateLimit-Limit"))
		require.Equal(t, "116", do(t, b.sb, http.MethodGet, "/v2/apps", nil).Header.Get("X-RateLimit-Remaining"), "every authenticated request counted")
	})

	t.Run("Disabled", func(t *testing.T) {
		t.Parallel()
		b := setup(t, -1)

		for range 200 {
			res := do(t, b.sb, http.MethodGet, "/v2/apps", nil)
			require.Equal(t, http.StatusOK, res.Status)
			require.Empty(t, res.Header.Get("X-RateLimit-Limit"))
		}
	})

	t.Run("ShortWindow", func(t *testing.T) {
		t.Parallel()
		sb, clock := newSandbox(t, func(o *sandbox.Opts) { o.RatePerMinute, o.Window = 1, 10*time.Second })

		require.Equal(t, http.StatusOK, do(t, sb, http.MethodGet, "/v2/apps", nil).Status)
		requireError(t, do(t, sb, http.MethodGet, "/v2/apps", nil), http.StatusTooManyRequests)
		clock.Advance(10 * time.Second)
		require.Equal(t, http.StatusOK, do(t, sb, http.MethodGet, "/v2/apps", nil).Status)
	})
}
