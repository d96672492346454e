package sandbox_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestApps(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		sb    *sandbox.Sandbox
		clock *testclock.Clock
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		return &testBundle{sb: sb, clock: clock}
	}

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		created := createApp(t, b.sb, "Acme")

		want := appJSON{ID: "1000001", Name: "Acme", CreatedAt: "2026-03-01T12:00:00.000Z", UpdatedAt: "2026-03-01T12:00:00.000Z"}
		require.Equal(t, want, created)
		got := decode[appJSON](t, do(t, b.sb, http.MethodGet, "/v2/apps/1000001", nil), http.StatusOK)
		require.Equal(t, want, got)
		require.Equal(t, []sandbox.App{{ID: "1000001", Name: "Acme", CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}}, b.sb.Apps())
	})

	t.Run("DuplicateNamesAllowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		first, second := createApp(t, b.sb, "Acme"), createApp(t, b.sb, "Acme")

		require.NotEqual(t, first.ID, second.ID)
		require.Len(t, b.sb.Apps(), 2)
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps/42", nil), http.StatusNotFound, "App 42 not found")
	})

	t.Run("NonNumericID", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps/app_1", nil), http.StatusBadRequest)
	})

	t.Run("CreateValidation", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name    string
			body    any
			message string
		}{
			{"MissingName", map[string]any{}, "name is required"},
			{"EmptyName", map[string]any{"name": ""}, "name should not be empty"},
			{"LongName", map[string]any{"name": string(make([]byte, 256))}, "name must be shorter than or equal to 255 characters"},
			{"NumberName", map[string]any{"name": 5}, "name must be a string"},
			{"UnknownProperty", map[string]any{"name": "a", "owner": "me"}, "property owner should not exist"},
			{"MalformedJSON", `{"name":`, "request body is not valid JSON"},
			{"TrailingData", `{"name":"a"} {}`, "request body must hold a single JSON object"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				requireError(t, do(t, b.sb, http.MethodPost, "/v2/apps", tt.body), http.StatusBadRequest, tt.message)
				require.Empty(t, b.sb.Apps())
			})
		}
	})

	t.Run("ContentTypeRequired", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}, withHeader("Content-Type", "text/plain"))

		requireError(t, res, http.StatusBadRequest, "Content-Type must be application/json")
		require.Empty(t, b.sb.Apps())
	})

	t.Run("BodyTooLarge", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		res := do(t, b.sb, http.MethodPost, "/v2/apps", map[string]any{"name": string(make([]byte, 2<<20))})

		requireError(t, res, http.StatusRequestEntityTooLarge)
	})
}

func TestPagination(t *testing.T) {
	t.Parallel()

	type page struct {
		Apps    []appJSON    `json:"apps"`
		Keysets []keysetJSON `json:"keysets"`
		Total   int          `json:"total"`
		Page    int          `json:"page"`
		Limit   int          `json:"limit"`
	}
	type testBundle struct {
		sb *sandbox.Sandbox
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, _ := newSandbox(t, nil)
		for i := range 12 {
			createApp(t, sb, fmt.Sprint("app", i))
		}
		return &testBundle{sb: sb}
	}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/apps", nil), http.StatusOK)

		require.Len(t, got.Apps, 10)
		require.Equal(t, []int{12, 1, 10}, []int{got.Total, got.Page, got.Limit})
		require.Equal(t, "app0", got.Apps[0].Name)
	})

	t.Run("SecondPage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/apps?page=2&limit=5", nil), http.StatusOK)

		require.Equal(t, []string{"app5", "app6", "app7", "app8", "app9"}, names(got.Apps))
		require.Equal(t, []int{12, 2, 5}, []int{got.Total, got.Page, got.Limit})
	})

	t.Run("PastTheEnd", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/apps?page=9&limit=100", nil), http.StatusOK)

		require.Empty(t, got.Apps)
		require.NotNil(t, got.Apps)
		require.Equal(t, 12, got.Total)
	})

	// New resources sort last: the newest is the last item of the last page,
	// for apps and keysets, and a page past the end answers the true total.
	t.Run("OldestFirstNewestOnLastPage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ids := createKeysets(t, b.sb, 7) // app "app" is the 13th app
		newest := createApp(t, b.sb, "newest")

		apps := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/apps?page=3&limit=5", nil), http.StatusOK)
		keysets := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/keysets?page=2&limit=5", nil), http.StatusOK)
		all := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/keysets?limit=100", nil), http.StatusOK)
		past := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/keysets?page=3&limit=5", nil), http.StatusOK)

		require.Equal(t, 14, apps.Total)
		require.Equal(t, []string{"app10", "app11", "app", "newest"}, names(apps.Apps))
		require.Equal(t, newest.ID, apps.Apps[len(apps.Apps)-1].ID)
		require.Equal(t, 7, keysets.Total)
		require.Len(t, keysets.Keysets, 2)
		require.Equal(t, fmt.Sprint(ids[6]), keysets.Keysets[1].ID, "the newest keyset is last")
		for i, k := range all.Keysets {
			require.Equal(t, fmt.Sprint(ids[i]), k.ID, "creation order")
		}
		require.Empty(t, past.Keysets)
		require.NotNil(t, past.Keysets)
		require.Equal(t, 7, past.Total)
	})

	t.Run("KeysetsPaged", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		createKeysets(t, b.sb, 3)

		got := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/keysets?page=2&limit=2", nil), http.StatusOK)

		require.Len(t, got.Keysets, 1)
		require.Equal(t, []int{3, 2, 2}, []int{got.Total, got.Page, got.Limit})
	})

	t.Run("InvalidParameters", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, query, message string
		}{
			{"LimitAboveMax", "limit=101", "limit must be an integer from 1 to 100"},
			{"LimitZero", "limit=0", "limit must be an integer from 1 to 100"},
			{"LimitNotANumber", "limit=ten", "limit must be an integer from 1 to 100"},
			{"PageZero", "page=0", "page must be an integer not less than 1"},
			{"UndocumentedFilter", "appId=1000001", "property appId should not exist"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				requireError(t, do(t, b.sb, http.MethodGet, "/v2/apps?"+tt.query, nil), http.StatusBadRequest, tt.message)
				requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets?"+tt.query, nil), http.StatusBadRequest, tt.message)
			})
		}
	})

	t.Run("MaxLimitAccepted", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		got := decode[page](t, do(t, b.sb, http.MethodGet, "/v2/apps?limit=100", nil), http.StatusOK)

		require.Len(t, got.Apps, 12)
	})
}

func names(apps []appJSON) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.Name
	}
	return out
}
