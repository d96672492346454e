package pubnub_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestApps(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*upstream
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{startSandbox(t, nil)}
	}

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		created, err := b.client.CreateApp(t.Context(), "Acme")
		require.NoError(t, err)
		got, err := b.client.GetApp(t.Context(), created.ID)
		require.NoError(t, err)

		now := b.clock.Now()
		want := &pubnub.App{ID: "1000001", Name: "Acme", CreatedAt: now, UpdatedAt: now}
		require.Equal(t, want, created)
		require.Equal(t, want, got)
		require.JSONEq(t, `{"name":"Acme"}`, b.requests.all()[0].Body)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.GetApp(t.Context(), "1000009")

		require.True(t, pubnub.IsNotFound(err))
		require.True(t, pubnub.IsPermanent(err))
		require.False(t, pubnub.IsRetryable(err))
		require.EqualError(t, err, "pubnub: get app: GET /v2/apps/1000009: 404 NotFound: App 1000009 not found")
	})

	t.Run("GetEmptyIDRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.GetApp(t.Context(), "")

		require.ErrorIs(t, err, pubnub.ErrInvalidArgument)
		require.True(t, pubnub.IsPermanent(err))
		require.Zero(t, b.sb.CallCount())
	})

	t.Run("ListWalksAllPages", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for i := range 205 {
			_, err := b.client.CreateApp(t.Context(), fmt.Sprint("app", i))
			require.NoError(t, err)
		}

		apps, err := b.client.ListApps(t.Context())

		require.NoError(t, err)
		require.Len(t, apps, 205)
		require.Equal(t, "app0", apps[0].Name)
		require.Equal(t, "app204", apps[204].Name)
		var queries []string
		for _, c := range b.sb.Calls() {
			if c.Op == sandbox.OpListApps {
				queries = append(queries, c.Query)
			}
		}
		require.Equal(t, []string{"limit=100&page=1", "limit=100&page=2", "limit=100&page=3"}, queries)
	})

	t.Run("ListEmpty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		apps, err := b.client.ListApps(t.Context())

		require.NoError(t, err)
		require.Empty(t, apps)
		require.Equal(t, 1, b.sb.CallCount(sandbox.OpListApps))
	})

	t.Run("CreateRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.CreateApp(t.Context(), "")

		require.EqualError(t, err, "pubnub: create app: POST /v2/apps: 400 BadRequest: name should not be empty")
		require.True(t, pubnub.IsPermanent(err))
	})
}

func TestListStopsOnShortTotal(t *testing.T) {
	t.Parallel()

	// An upstream whose total is wrong (too high) and that repeats its last
	// page must not make the client loop forever.
	var calls atomic.Int32
	client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprint(w, `{"apps":[{"id":1,"name":"only","createdAt":"2026-01-01T00:00:00Z"}],"total":50,"page":1,"limit":100}`)
	})

	apps, err := client.ListApps(t.Context())

	require.NoError(t, err)
	require.Equal(t, []pubnub.App{{ID: "1", Name: "only", CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}, apps, "numeric ids are accepted")
	require.Equal(t, int32(2), calls.Load())
}

func TestListWithoutTotalStopsOnShortPage(t *testing.T) {
	t.Parallel()

	// Should an answer lack total, the walk goes on while pages are full.
	client, _ := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "1" {
			fmt.Fprint(w, `{"apps":[`)
			for i := range 100 {
				if i > 0 {
					fmt.Fprint(w, ",")
				}
				fmt.Fprintf(w, `{"id":"%d"}`, i+1)
			}
			fmt.Fprint(w, `]}`)
			return
		}
		fmt.Fprint(w, `{"apps":[{"id":"101"}]}`)
	})

	apps, err := client.ListApps(t.Context())

	require.NoError(t, err)
	require.Len(t, apps, 101)
}
