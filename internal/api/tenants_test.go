package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// tenantsBundle is a test server with a key holding every tenant scope.
type tenantsBundle struct {
	*testServer
	key string
}

func setupTenants(t *testing.T) *tenantsBundle {
	t.Helper()
	ts := newTestServer(t)
	return &tenantsBundle{testServer: ts, key: ts.key(t, auth.ScopeTenantsRead, auth.ScopeTenantsWrite, auth.ScopeTenantsDisable, auth.ScopeCredentialsRead)}
}

func (b *tenantsBundle) create(t *testing.T, body map[string]any) *response {
	t.Helper()
	return b.do(t, http.MethodPost, "/v1/tenants", b.key, body)
}

// jobCount is how many reconcile jobs exist for any tenant.
func (b *tenantsBundle) jobCount(t *testing.T) int {
	t.Helper()
	res, err := b.river.JobList(context.Background(), river.NewJobListParams().Kinds(provisioner.ReconcileArgs{}.Kind()).First(1000))
	require.NoError(t, err)
	return len(res.Jobs)
}

// setState moves a tenant as a worker would have, for testing what callers may do next.
func (b *tenantsBundle) setState(t *testing.T, externalID string, state tenants.State, desired tenants.Desired) {
	t.Helper()
	tenantstest.SetState(t, b.db.Pool, externalID, state, desired)
}

func TestCreateTenant(t *testing.T) {
	t.Parallel()

	t.Run("NewThenReplayThenConflict", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		body := map[string]any{"externalId": "acme-42", "name": "Acme Corp", "metadata": map[string]string{"plan": "pro"}}

		first := b.create(t, body)
		require.Equal(t, http.StatusAccepted, first.Status, string(first.Body))
		require.Equal(t, "/v1/tenants/acme-42", first.Header.Get("Location"))
		tn := requireDecode[tenants.View](t, first)
		require.Equal(t, tenants.StatePending, tn.State)
		require.Equal(t, tenants.DesiredActive, tn.DesiredState)
		require.Equal(t, []string{"development", "staging", "production"}, tn.Environments)
		require.Len(t, tn.Keysets, 3)
		require.Equal(t, 1, b.jobCount(t))

		again := b.create(t, body)
		require.Equal(t, http.StatusOK, again.Status)
		require.JSONEq(t, string(first.Body), string(again.Body), "a replay answers the same tenant")
		require.Equal(t, 1, b.jobCount(t), "a replay starts no second job")

		for name, change := range map[string]map[string]any{
			"name":         {"name": "Acme Inc"},
			"environments": {"environments": []string{"production"}},
			"metadata":     {"metadata": map[string]string{"plan": "free"}},
		} {
			changed := map[string]any{}
			for k, v := range body {
				changed[k] = v
			}
			for k, v := range change {
				changed[k] = v
			}
			resp := b.create(t, changed)
			require.Equal(t, http.StatusConflict, resp.Status, name)
			p := resp.JSON(t)
			require.Equal(t, "tenant_conflict", p["code"])
			require.Equal(t, []any{name}, p["conflictingFields"])
		}
	})

	t.Run("FiftyConcurrentIdenticalCreates", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		body := map[string]any{"externalId": "burst", "name": "Burst Ltd", "environments": []string{"staging", "production"}}
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses []int
			bodies   []string
		)
		for range 50 {
			wg.Go(func() {
				resp := b.create(t, body)
				mu.Lock()
				defer mu.Unlock()
				statuses = append(statuses, resp.Status)
				bodies = append(bodies, string(resp.Body))
			})
		}
		wg.Wait()
		require.Equal(t, 1, count(statuses, http.StatusAccepted), "exactly one create")
		require.Equal(t, 49, count(statuses, http.StatusOK), "the rest are replays")
		for _, body := range bodies {
			require.JSONEq(t, bodies[0], body)
		}
		require.Equal(t, 1, b.jobCount(t))
		require.Len(t, tenantstest.All(t, b.db.Pool), 1)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		six := []string{"development", "staging", "production", "development", "staging", "production"}
		tests := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"ExternalIDBadChars", map[string]any{"externalId": "acme corp", "name": "x"}, 422, "externalId"},
			{"ExternalIDTooLong", map[string]any{"externalId": strings.Repeat("a", 256), "name": "x"}, 422, "externalId"},
			{"ExternalIDMissing", map[string]any{"name": "x"}, 422, "externalId"},
			{"NameEmpty", map[string]any{"externalId": "a", "name": "  "}, 422, "name"},
			{"UnknownEnvironment", map[string]any{"externalId": "a", "name": "x", "environments": []string{"production", "qa"}}, 422, "environments[1]"},
			{"DuplicateEnvironment", map[string]any{"externalId": "a", "name": "x", "environments": []string{"staging", "staging"}}, 422, "environments[1]"},
			{"TooManyEnvironments", map[string]any{"externalId": "a", "name": "x", "environments": six}, 422, "environments"},
			{"NoEnvironments", map[string]any{"externalId": "a", "name": "x", "environments": []string{}}, 422, "environments"},
			{"UnknownField", map[string]any{"externalId": "a", "name": "x", "plan": "pro"}, 422, "plan"},
			{"MetadataNotStrings", map[string]any{"externalId": "a", "name": "x", "metadata": map[string]any{"seats": 5}}, 422, "metadata.seats"},
			{"MalformedJSON", `{"externalId": "a",`, 400, ""},
			{"NotAnObject", `["a"]`, 400, ""},
			{"TwoObjects", `{"externalId":"a","name":"x"} {}`, 400, ""},
			{"Oversized", `{"externalId":"a","name":"` + strings.Repeat("x", 65<<10) + `"}`, 413, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp := b.do(t, http.MethodPost, "/v1/tenants", b.key, tt.body)
				require.Equal(t, tt.status, resp.Status, string(resp.Body))
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				if tt.field != "" {
					var fields []string
					for _, e := range resp.JSON(t)["errors"].([]any) {
						fields = append(fields, e.(map[string]any)["field"].(string))
					}
					require.Contains(t, fields, tt.field)
				}
			})
		}
		t.Run("WrongContentType", func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/tenants", strings.NewReader("externalId=a"))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+b.key)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
		})
		require.Zero(t, b.jobCount(t), "nothing invalid was enqueued")
	})

	t.Run("PreferWaitAnswersWithCurrentStateWhenTimeRunsOut", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t) // no worker: the tenant stays pending
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/tenants", strings.NewReader(`{"externalId":"slow","name":"Slow"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+b.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "wait=1")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		require.Equal(t, "wait=1", resp.Header.Get("Preference-Applied"))
		require.GreaterOrEqual(t, time.Since(start), time.Second)
	})

	// The commit that makes the tenant active wakes the waiting create at once, through
	// LISTEN/NOTIFY: the poll here is ten minutes, so only the notification can answer.
	t.Run("PreferWaitAnswersOnTheCommitThatSettlesTheTenant", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		type answer struct {
			at   time.Time
			body []byte
			err  error
		}
		answered := make(chan answer, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/tenants", strings.NewReader(`{"externalId":"woken","name":"Woken"}`))
			req.Header.Set("Authorization", "Bearer "+b.key)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Prefer", "wait=30")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answered <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			at := time.Now()
			body, err := io.ReadAll(resp.Body)
			answered <- answer{at: at, body: body, err: err}
		}()
		require.Eventually(t, func() bool { return len(tenantstest.All(t, b.db.Pool)) == 1 }, 10*time.Second, 5*time.Millisecond)
		time.Sleep(100 * time.Millisecond) // the create is waiting by now
		committed := time.Now()
		tenantstest.SetState(t, b.db.Pool, "woken", tenants.StateActive, tenants.DesiredActive)
		var a answer
		select {
		case a = <-answered:
		case <-time.After(40 * time.Second):
			t.Fatal("Prefer: wait never answered")
		}
		require.NoError(t, a.err)
		t.Logf("answered %s after the commit", a.at.Sub(committed))
		require.Less(t, a.at.Sub(committed), 5*time.Second, "woken by the commit, not by a poll")
		require.Equal(t, tenants.StateActive, requireDecode[tenants.View](t, &response{Body: a.body}).State)
	})
}

func TestTenantLifecycleCalls(t *testing.T) {
	t.Parallel()

	t.Run("GetAndCredentials", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		require.Equal(t, http.StatusAccepted, b.create(t, map[string]any{"externalId": "keys", "name": "Keys", "environments": []string{"production"}}).Status)
		require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/tenants/nobody", b.key, nil).Status)
		require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/tenants/"+url.PathEscape("bad id!"), b.key, nil).Status)

		// A provisioned keyset, as the worker stores it.
		id := tenantstest.ID(t, b.db.Pool, "keys")
		sealed := b.keyring.Seal([]byte("sec-c-topsecret"), tenants.SecretAAD(id, "production"))
		tenantstest.HoldKeyset(t, b.db.Pool, id, "production", tenantstest.Keyset{KeysetID: "77", PublishKey: "pub-c-1", SubscribeKey: "sub-c-1", SecretKeySealed: sealed})

		got := b.do(t, http.MethodGet, "/v1/tenants/keys", b.key, nil)
		require.Equal(t, http.StatusOK, got.Status)
		require.NotContains(t, string(got.Body), "sec-c-", "the tenant body never holds secret keys")
		ks := requireDecode[tenants.View](t, got).Keysets[0]
		require.Equal(t, "pub-c-1", *ks.PublishKey)
		require.Equal(t, tenants.KeysetCreated, ks.State)

		creds := b.do(t, http.MethodGet, "/v1/tenants/keys/credentials", b.key, nil)
		require.Equal(t, http.StatusOK, creds.Status)
		require.Equal(t, "no-store", creds.Header.Get("Cache-Control"))
		require.Equal(t, "sec-c-topsecret", creds.JSON(t)["data"].([]any)[0].(map[string]any)["secretKey"])
		require.NotContains(t, b.logs.String(), "sec-c-topsecret")
	})

	t.Run("TransitionsAndTheirConflicts", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		require.Equal(t, http.StatusAccepted, b.create(t, map[string]any{"externalId": "life", "name": "Life"}).Status)
		post := func(action string, body any) *response {
			return b.do(t, http.MethodPost, "/v1/tenants/life/"+action, b.key, body)
		}
		requireConflict := func(resp *response, current tenants.State) problemBody {
			t.Helper()
			require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
			p := requireDecode[problemBody](t, resp)
			require.Equal(t, "invalid_state", p.Code)
			require.Equal(t, current, p.CurrentState)
			require.Contains(t, p.Detail, string(current))
			return p
		}
		state := func(resp *response) tenants.View {
			t.Helper()
			return requireDecode[tenants.View](t, resp)
		}

		requireConflict(post("disable", nil), tenants.StatePending)
		requireConflict(post("enable", nil), tenants.StatePending)
		// Retry on a tenant in flight runs its waiting job now; while that job runs, 409.
		resp := post("retry", nil)
		require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
		require.Equal(t, tenants.StatePending, state(resp).State)
		require.Equal(t, 1, b.jobCount(t), "the same job, moved up")
		_, err := b.db.Pool.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now()`)
		require.NoError(t, err)
		p := requireConflict(post("retry", nil), tenants.StatePending)
		require.Contains(t, p.Detail, "running right now")

		// As if a worker had provisioned the tenant and its job had been cleaned away.
		b.setState(t, "life", tenants.StateActive, tenants.DesiredActive)
		_, err = b.db.Pool.Exec(context.Background(), `DELETE FROM river_job`)
		require.NoError(t, err)
		resp = post("disable", map[string]any{"reason": "unpaid invoice"})
		require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
		require.Equal(t, tenants.StateDisabling, state(resp).State)
		require.Equal(t, tenants.DesiredDisabled, state(resp).DesiredState)
		require.Equal(t, 1, b.jobCount(t), "the change enqueued its job")
		require.Equal(t, http.StatusAccepted, post("disable", nil).Status, "already disabling: unchanged")
		require.Equal(t, 1, b.jobCount(t))
		require.Equal(t, http.StatusAccepted, post("retry", nil).Status, "disabling: its job runs now")
		require.Equal(t, 1, b.jobCount(t))

		require.Equal(t, http.StatusUnprocessableEntity, post("disable", map[string]any{"reason": strings.Repeat("x", 501)}).Status)
		require.Equal(t, http.StatusUnprocessableEntity, post("disable", map[string]any{"why": "x"}).Status)

		resp = post("enable", nil)
		require.Equal(t, http.StatusAccepted, resp.Status)
		require.Equal(t, tenants.StateEnabling, state(resp).State)

		b.setState(t, "life", tenants.StateFailed, tenants.DesiredActive)
		requireConflict(post("disable", nil), tenants.StateFailed)
		resp = post("retry", nil)
		require.Equal(t, http.StatusAccepted, resp.Status)
		require.Equal(t, tenants.StatePending, state(resp).State)

		require.Equal(t, http.StatusNotFound, b.do(t, http.MethodPost, "/v1/tenants/ghost/disable", b.key, nil).Status)

		// The timeline holds every caller action, with who and why.
		events := b.do(t, http.MethodGet, "/v1/tenants/life/events", b.key, nil)
		require.Equal(t, http.StatusOK, events.Status)
		var acts []tenants.Action
		for _, ev := range requireDecode[eventsBody](t, events).Data {
			acts = append(acts, ev.Action)
			require.Contains(t, ev.Actor, "key:test")
			if ev.Action == tenants.ActionDisableRequested && ev.Detail["reason"] != nil {
				require.Equal(t, "unpaid invoice", ev.Detail["reason"])
			}
		}
		require.Equal(t, []tenants.Action{
			tenants.ActionCreated, tenants.ActionDisableRefused, tenants.ActionEnableRefused, tenants.ActionRetryNowRequested,
			tenants.ActionRetryRefused, tenants.ActionDisableRequested, tenants.ActionDisableRequested,
			tenants.ActionRetryNowRequested, tenants.ActionEnableRequested, tenants.ActionDisableRefused,
			tenants.ActionRetryRequested,
		}, acts)
	})

	t.Run("DeleteExplainsDisable", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		resp := b.do(t, http.MethodDelete, "/v1/tenants/acme", b.key, nil)
		require.Equal(t, http.StatusMethodNotAllowed, resp.Status)
		require.Equal(t, "GET, PATCH", resp.Header.Get("Allow"))
		p := resp.JSON(t)
		require.Equal(t, "delete_not_supported", p["code"])
		require.Equal(t, "/v1/tenants/acme/disable", p["disable"])
		require.Contains(t, p["detail"], "never deleted")
	})

	t.Run("EventsPaginate", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t)
		body := map[string]any{"externalId": "chatty", "name": "Chatty"}
		for range 7 {
			b.create(t, body) // 1 create + 6 replays = 7 events
		}
		var seen []float64
		cursor := ""
		for page := 0; ; page++ {
			// Pages are cut short (even empty) while another test's transaction runs.
			require.Less(t, page, 400)
			if page >= 3 {
				time.Sleep(5 * time.Millisecond)
			}
			resp := b.do(t, http.MethodGet, "/v1/tenants/chatty/events?limit=3&cursor="+url.QueryEscape(cursor), b.key, nil)
			require.Equal(t, http.StatusOK, resp.Status)
			j := resp.JSON(t)
			for _, e := range j["data"].([]any) {
				seen = append(seen, e.(map[string]any)["id"].(float64))
			}
			if j["nextCursor"] == nil {
				break
			}
			cursor = j["nextCursor"].(string)
		}
		require.Len(t, seen, 7)
		require.True(t, slices.IsSorted(seen))
		require.Equal(t, http.StatusUnprocessableEntity, b.do(t, http.MethodGet, "/v1/tenants/chatty/events?cursor=zzz", b.key, nil).Status)
		require.Equal(t, http.StatusUnprocessableEntity, b.do(t, http.MethodGet, "/v1/tenants/chatty/events?limit=0", b.key, nil).Status)
		require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/tenants/nobody/events", b.key, nil).Status)
	})
}

// TestTenantTimelineCommitOrder: the timeline paged by identity id, so an event whose
// transaction committed after a younger one was skipped by a reader already past it (issue
// 11). Here a transaction writes an event and stays open while two later events commit and a
// reader takes the first page; it then commits, and the reader, paging on, must see every
// event exactly once.
func TestTenantTimelineCommitOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupTenants(t)
	require.Equal(t, http.StatusAccepted, b.create(t, map[string]any{"externalId": "late", "name": "Late"}).Status)
	id := tenantstest.ID(t, b.db.Pool, "late")
	add := func(tx pgx.Tx, action tenants.Action) {
		t.Helper()
		require.NoError(t, tenants.AddEvents(ctx, tx, id, tenants.Event{Actor: "test", Action: action}))
	}
	slow, err := b.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = slow.Rollback(context.WithoutCancel(ctx)) }()
	add(slow, "committed_late") // takes its id (and xid) now
	for _, action := range []tenants.Action{"committed_first", "committed_second"} {
		tx, err := b.db.Pool.Begin(ctx)
		require.NoError(t, err)
		add(tx, action)
		require.NoError(t, tx.Commit(ctx))
	}

	var seen []tenants.Action
	page := func(cursor string) (string, bool) {
		t.Helper()
		resp := b.do(t, http.MethodGet, "/v1/tenants/late/events?limit=2&cursor="+url.QueryEscape(cursor), b.key, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		body := requireDecode[eventsBody](t, resp)
		for _, e := range body.Data {
			seen = append(seen, e.Action)
		}
		if body.NextCursor == nil {
			return "", false
		}
		return *body.NextCursor, true
	}
	cursor, more := page("")
	require.True(t, more, "three events are committed: there is a second page")
	require.NoError(t, slow.Commit(ctx))
	for try := 0; more; try++ {
		require.Less(t, try, 400, "paging never ended: %v", seen)
		if cursor, more = page(cursor); more {
			time.Sleep(5 * time.Millisecond) // an empty page waits out another test's transaction
		}
	}
	require.Equal(t, []tenants.Action{tenants.ActionCreated, "committed_late", "committed_first", "committed_second"}, seen)
}

// TestListTenants proves filters and pagination on 250 tenants.
func TestListTenants(t *testing.T) {
	t.Parallel()
	b := setupTenants(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 250 {
		name := fmt.Sprintf("Acme %03d", i)
		if i%2 == 1 {
			name = fmt.Sprintf("Globex %03d", i)
		}
		_, _, err := b.tenants.Create(ctx, tenants.CreateParams{ExternalID: fmt.Sprintf("t-%03d", i), Name: name, Actor: "test"})
		require.NoError(t, err)
	}
	// Known creation times (10 pairs share a timestamp, to prove ties page correctly) and states.
	for i := range 250 {
		id := fmt.Sprintf("t-%03d", i)
		tenantstest.SetCreatedAt(t, b.db.Pool, id, base.Add(time.Duration(i/2*2)*time.Minute))
		switch {
		case i%5 == 0:
			tenantstest.SetState(t, b.db.Pool, id, tenants.StateActive, tenants.DesiredActive)
		case i%7 == 0:
			tenantstest.SetState(t, b.db.Pool, id, tenants.StateFailed, tenants.DesiredActive)
		}
	}

	// pageAll follows nextCursor and returns the externalIds in order.
	pageAll := func(t *testing.T, query string, limit int) []string {
		t.Helper()
		var ids []string
		cursor := ""
		for page := 0; ; page++ {
			require.Less(t, page, 300)
			resp := b.do(t, http.MethodGet, fmt.Sprintf("/v1/tenants?limit=%d&%s&cursor=%s", limit, query, url.QueryEscape(cursor)), b.key, nil)
			require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
			j := resp.JSON(t)
			data := j["data"].([]any)
			require.LessOrEqual(t, len(data), limit)
			for _, d := range data {
				ids = append(ids, d.(map[string]any)["externalId"].(string))
			}
			if j["nextCursor"] == nil {
				return ids
			}
			cursor = j["nextCursor"].(string)
		}
	}
	unique := func(ids []string) bool {
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				return false
			}
			seen[id] = true
		}
		return true
	}

	t.Run("AllPagesNoDuplicatesNoGapsStableOrder", func(t *testing.T) {
		t.Parallel()
		ids := pageAll(t, "", 7)
		require.Len(t, ids, 250)
		require.True(t, unique(ids))
		// Newest first; within one timestamp, higher id first.
		require.Equal(t, "t-249", ids[0])
		require.Equal(t, "t-248", ids[1])
		require.Equal(t, "t-000", ids[249])
		require.Equal(t, ids, pageAll(t, "", 100), "the order does not depend on the page size")
	})

	t.Run("NewTenantsDuringPagingDoNotShiftPages", func(t *testing.T) {
		t.Parallel()
		b := setupTenants(t) // its own: it creates tenants while paging
		for i := range 60 {
			_, _, err := b.tenants.Create(ctx, tenants.CreateParams{ExternalID: fmt.Sprintf("p-%02d", i), Name: "P", Actor: "test"})
			require.NoError(t, err)
		}
		first := b.do(t, http.MethodGet, "/v1/tenants?limit=50", b.key, nil).JSON(t)
		cursor := first["nextCursor"].(string)
		_, _, err := b.tenants.Create(ctx, tenants.CreateParams{ExternalID: "t-new", Name: "Newcomer", Actor: "test"})
		require.NoError(t, err)
		next := b.do(t, http.MethodGet, "/v1/tenants?limit=50&cursor="+url.QueryEscape(cursor), b.key, nil).JSON(t)
		require.Len(t, next["data"], 10, "the rest, exactly")
		firstIDs := map[string]bool{}
		for _, d := range first["data"].([]any) {
			firstIDs[d.(map[string]any)["externalId"].(string)] = true
		}
		for _, d := range next["data"].([]any) {
			id := d.(map[string]any)["externalId"].(string)
			require.False(t, firstIDs[id], "%s on two pages", id)
			require.NotEqual(t, "t-new", id)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		t.Parallel()
		ids := pageAll(t, "state="+string(tenants.StateActive), 9)
		require.Len(t, ids, 50) // multiples of 5
		for _, id := range ids {
			var n int
			_, err := fmt.Sscanf(id, "t-%d", &n)
			require.NoError(t, err)
			require.Zero(t, n%5)
		}
		require.Len(t, pageAll(t, "state="+string(tenants.StateFailed), 9), 28) // multiples of 7 (36) that are not multiples of 35 (8)

		prefix := pageAll(t, "q=t-1", 30)
		require.Len(t, prefix, 100)
		for _, id := range prefix {
			require.True(t, strings.HasPrefix(id, "t-1"))
		}
		require.Len(t, pageAll(t, "q=acme", 30), 125, "name prefix, any case")
		require.Len(t, pageAll(t, "q=GLOBEX%2012", 30), 5, "Globex 121..129 odd")
		require.Empty(t, pageAll(t, "q=%25", 30), "LIKE wildcards are literal")

		after := base.Add(100 * time.Minute).Format(time.RFC3339)
		before := base.Add(110 * time.Minute).Format(time.RFC3339)
		window := pageAll(t, "createdAfter="+after+"&createdBefore="+before, 3)
		require.Equal(t, []string{"t-109", "t-108", "t-107", "t-106", "t-105", "t-104", "t-103", "t-102", "t-101", "t-100"}, window)
		require.Len(t, pageAll(t, "state="+string(tenants.StateActive)+"&q=t-1&createdAfter="+after, 4), 20) // t-100..t-195, every fifth
	})

	t.Run("BadParameters", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "state=sleeping", "createdAfter=yesterday", "cursor=not-a-cursor", "q=" + strings.Repeat("a", 256)} {
			resp := b.do(t, http.MethodGet, "/v1/tenants?"+q, b.key, nil)
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, q)
			require.NotEmpty(t, resp.JSON(t)["errors"], q)
		}
	})
}

func count[T comparable](list []T, v T) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}
