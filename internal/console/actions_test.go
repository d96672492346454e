package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// The state card's actions carried through: the button, its confirm page, the POST, and what
// the service did (the tenant, its job, its timeline with the person's key as actor).

// reconcileJob is the tenant's live reconcile job: its River state and when it runs.
func (b *testBundle) reconcileJob(t *testing.T, tenantID int64) (state string, scheduledAt time.Time) {
	t.Helper()
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
		SELECT state, scheduled_at FROM river_job
		WHERE kind = 'tenant_reconcile' AND (args->>'tenant_id')::bigint = $1 AND state NOT IN ('completed', 'cancelled', 'discarded')`,
		tenantID).Scan(&state, &scheduledAt))
	return state, scheduledAt
}

// confirmed opens the action's confirm page from the tenant page's button, and returns the
// form's CSRF token.
func (br *browser) confirmed(t *testing.T, externalID, action string) (csrf, body string) {
	t.Helper()
	page := br.get(t, "/console/tenants/"+externalID).Body
	require.Contains(t, page, `href="/console/tenants/`+externalID+`/`+action+`"`, "the %s button", action)
	confirm := br.get(t, "/console/tenants/"+externalID+"/"+action)
	require.Equal(t, http.StatusOK, confirm.Status, confirm.Body)
	require.Contains(t, confirm.Body, `action="/console/tenants/`+externalID+`/`+action+`"`)
	m := csrfInput.FindStringSubmatch(confirm.Body)
	require.NotNil(t, m)
	return m[1], confirm.Body
}

func TestActionsCarriedThrough(t *testing.T) {
	t.Parallel()

	t.Run("RetryAFailedTenant", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateFailed)
		tenantstest.SetFailure(t, b.db.Pool, "acme", "PubNub 403: keyset limit reached", "create_keyset:production")
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		csrf, confirm := br.confirmed(t, "acme", "retry")
		require.Contains(t, confirm, "Retry this tenant?")
		require.Contains(t, confirm, "starts again from the step that failed")

		resp := br.do(t, http.MethodPost, "/console/tenants/acme/retry", url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants/acme?done=retry", resp.Header.Get("Location"))
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Retry requested")
		require.Contains(t, after, `id="tenant-state">`+string(tenants.StatePending)+`<`, "resumed")
		require.NotContains(t, after, "PubNub 403: keyset limit reached", "the failure is cleared")
		require.Contains(t, after, "<code>"+string(tenants.ActionRetryRequested)+"</code>")

		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.StatePending, got.State)
		require.Empty(t, got.LastError)
		require.Empty(t, got.FailedStep)
		state, _ := b.reconcileJob(t, got.ID)
		require.Equal(t, "available", state, "its job is queued")
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionRetryRequested, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor, "the key is the actor, as the API records it")
		require.Equal(t, "create_keyset:production", ev.Detail["step"])
		require.Contains(t, after, k.Actor().String(), "the timeline shows the actor")
	})

	t.Run("RetryNowSkipsTheBackoff", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.tenant(t, "acme", "Acme", tenants.StateProvisioning)
		id := tenantstest.ID(t, b.db.Pool, "acme")
		// The job met an upstream fault and waits ten minutes before its next attempt.
		tenantstest.AddEvents(t, b.db.Pool, "acme", tenants.SystemEvent(tenants.ActionUpstreamError,
			map[string]any{"step": "create_app", "error": "PubNub 503", "retryable": true}))
		_, err := b.db.Pool.Exec(context.Background(), `
			UPDATE river_job SET state = 'retryable', attempt = 1, attempted_at = now(), scheduled_at = now() + interval '10 minutes'
			WHERE kind = 'tenant_reconcile' AND (args->>'tenant_id')::bigint = $1`, id)
		require.NoError(t, err)
		state, at := b.reconcileJob(t, id)
		require.Equal(t, "retryable", state)
		require.True(t, at.After(time.Now().Add(5*time.Minute)))

		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		csrf, _ := br.confirmed(t, "acme", "retry")
		resp := br.do(t, http.MethodPost, "/console/tenants/acme/retry", url.Values{"csrf": {csrf}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Retry requested: the tenant&#39;s job runs now.")
		require.Contains(t, after, "<code>"+string(tenants.ActionRetryNowRequested)+"</code>")

		state, at = b.reconcileJob(t, id)
		require.Equal(t, "available", state, "the waiting job runs now")
		require.False(t, at.After(time.Now().Add(time.Second)), "not in ten minutes: %v", at)
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.StateProvisioning, got.State, "still on its way, the same job")
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionRetryNowRequested, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor)
	})

	t.Run("EnableNeedsAReason", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		acme := b.provisioned(t, "acme", "Acme")
		tenantstest.Disabled(t, b.db.Pool, acme.ID)
		br, k := b.signedIn(t, "support: ana", auth.ScopeTenantsRead, auth.ScopeTenantsDisable)
		page := br.get(t, "/console/tenants/acme").Body
		require.NotContains(t, page, `href="/console/tenants/acme/disable"`, "already disabled")
		csrf, confirm := br.confirmed(t, "acme", "enable")
		require.Contains(t, confirm, `<label for="reason">`)

		for name, reason := range map[string]string{"Missing": "", "Blank": " \t ", "TooLong": strings.Repeat("x", 501)} {
			resp := br.do(t, http.MethodPost, "/console/tenants/acme/enable", url.Values{"csrf": {csrf}, "reason": {reason}})
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, name)
			require.Contains(t, resp.Body, `action="/console/tenants/acme/enable"`, "%s: the confirm page again", name)
			if name == "TooLong" {
				require.Contains(t, resp.Body, "at most 500 fit")
			} else {
				require.Contains(t, resp.Body, "A reason is required", name)
			}
		}
		got, err := b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.DesiredDisabled, got.Desired, "refused: nothing changed")
		require.NotEqual(t, tenants.ActionEnableRequested, lastEvent(t, b, "acme").Action)

		resp := br.do(t, http.MethodPost, "/console/tenants/acme/enable", url.Values{"csrf": {csrf}, "reason": {"invoice paid"}})
		require.Equal(t, http.StatusSeeOther, resp.Status, resp.Body)
		require.Equal(t, "/console/tenants/acme?done=enable", resp.Header.Get("Location"))
		after := br.get(t, resp.Header.Get("Location")).Body
		require.Contains(t, after, "Enable requested")
		require.Contains(t, after, "<code>"+string(tenants.ActionEnableRequested)+"</code>")
		require.Contains(t, after, "reason: invoice paid")
		require.Contains(t, after, `href="/console/tenants/acme/disable"`, "disable is offered again")

		got, err = b.tenants.GetByExternalID(context.Background(), "acme")
		require.NoError(t, err)
		require.Equal(t, tenants.DesiredActive, got.Desired)
		ev := lastEvent(t, b, "acme")
		require.Equal(t, tenants.ActionEnableRequested, ev.Action)
		require.Equal(t, k.Actor().String(), ev.Actor)
		require.Equal(t, "invoice paid", ev.Detail["reason"])
	})
}
