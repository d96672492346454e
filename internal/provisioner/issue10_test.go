package provisioner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

func TestHeldResources(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// A tenant whose row holds a keyset that upstream is another tenant's (an upstream that
	// reused IDs, a restored backup, a hand edit) fails naming both, and nothing is assigned.
	t.Run("AnotherTenantsKeysetFailsAndNothingIsAssigned", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		victim := h.createActive(t, "victim", "staging")
		theirs := victim.Keysets[0].KeysetID

		// "mixed" holds its own app, but victim's keyset in place of its own.
		client := pubnub.New(h.sbURL, h.sb.APIKey(), "2026-02-09", nil)
		app, err := client.CreateApp(ctx, tenants.AppName("mixed"))
		require.NoError(t, err)
		mixed, _, err := h.tenants.Create(ctx, tenants.CreateParams{ExternalID: "mixed", Name: "Mixed", Environments: []string{"staging"}, Actor: "test"})
		require.NoError(t, err)
		tenantstest.HoldApp(t, h.db.Pool, mixed.ID, app.ID)
		tenantstest.HoldKeyset(t, h.db.Pool, mixed.ID, "staging", tenantstest.Keyset{KeysetID: theirs, PublishKey: "pub-c-x", SubscribeKey: "sub-c-x"})
		callsBefore := h.sb.CallCount(sandbox.OpCreateCustomer, sandbox.OpAssignKeysets)

		tn := h.waitState(t, "mixed", tenants.StateFailed, settle)
		require.Equal(t, "verify", tn.FailedStep)
		require.Contains(t, tn.LastError, "keyset "+theirs)
		require.Contains(t, tn.LastError, `"pnonboard-victim-staging" in app `+victim.AppID)
		require.Contains(t, tn.LastError, `"pnonboard-mixed-staging" in app `+app.ID)
		require.Contains(t, tn.LastError, "nothing was changed upstream")
		require.Equal(t, callsBefore, h.sb.CallCount(sandbox.OpCreateCustomer, sandbox.OpAssignKeysets), "nothing assigned")
		for _, k := range h.sb.Keysets() {
			if k.ID == theirs {
				require.Equal(t, victim.CustomerID, k.CustomerID, "still the victim's")
			}
		}
		require.Len(t, h.sb.Customers(), 1)
	})

	// A held app that upstream names as pnonboard names another tenant's app is that tenant's
	// (an upstream that reused an app ID): the tenant fails at the verify step naming both,
	// and nothing is created in the other tenant's app.
	t.Run("AnotherTenantsAppFails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		rc := h.startReplica(t)
		victim := h.createActive(t, "victim", "staging")
		require.NoError(t, rc.Stop(ctx)) // no job runs until "mixed" holds the victim's app

		mixed := h.create(t, "mixed", "staging")
		tenantstest.HoldApp(t, h.db.Pool, mixed.ID, victim.AppID)
		keysetsBefore := len(h.sb.Keysets())
		h.startReplica(t)

		tn := h.waitState(t, "mixed", tenants.StateFailed, settle)
		require.Equal(t, "verify", tn.FailedStep)
		require.Contains(t, tn.LastError, "app "+victim.AppID+":")
		require.Contains(t, tn.LastError, `"pnonboard-mixed", the app of tenant "mixed"`)
		require.Contains(t, tn.LastError, `"pnonboard-victim", the app of tenant "victim"`)
		require.Contains(t, tn.LastError, "nothing was changed upstream")
		require.Len(t, tn.Drift, 1)
		require.Equal(t, tenants.DriftAppForeign, tn.Drift[0].Kind)
		require.True(t, tn.Drift[0].Kind.Foreign())

		require.Len(t, h.sb.Keysets(), keysetsBefore, "no keyset created")
		for _, k := range h.sb.Keysets() {
			require.NotEqual(t, tenants.KeysetName("mixed", "staging"), k.Name)
			if k.AppID == victim.AppID {
				require.Equal(t, victim.Keysets[0].KeysetID, k.ID, "the victim's app holds only its own keyset")
			}
		}
		require.Len(t, h.sb.Customers(), 1, "no customer made for mixed")
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpCreateKeyset), "only the victim's keyset was ever created")
		victimNow, err := h.tenants.GetByExternalID(ctx, "victim")
		require.NoError(t, err)
		require.Equal(t, tenants.StateActive, victimNow.State)
	})

	// A keyset in the tenant's own app that upstream names as pnonboard names another tenant's
	// keyset is not the tenant's either: it fails at verify, and nothing is assigned.
	t.Run("AnotherTenantsKeysetNameInOwnAppFails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		client := pubnub.New(h.sbURL, h.sb.APIKey(), "2026-02-09", nil)
		app, err := client.CreateApp(ctx, tenants.AppName("mixed"))
		require.NoError(t, err)
		profile, ok := h.profiles.Get("staging")
		require.True(t, ok)
		theirs, err := client.CreateKeyset(ctx, pubnub.CreateKeysetParams{
			Name: tenants.KeysetName("victim", "staging"), AppID: app.ID, Type: profile.KeysetType, Config: profile.Config,
		})
		require.NoError(t, err)
		mixed := h.create(t, "mixed", "staging")
		tenantstest.HoldApp(t, h.db.Pool, mixed.ID, app.ID)
		tenantstest.HoldKeyset(t, h.db.Pool, mixed.ID, "staging", tenantstest.Keyset{KeysetID: theirs.Keyset.ID, PublishKey: "pub-c-x", SubscribeKey: "sub-c-x"})
		h.startReplica(t)

		tn := h.waitState(t, "mixed", tenants.StateFailed, settle)
		require.Equal(t, "verify", tn.FailedStep)
		require.Contains(t, tn.LastError, "keyset "+theirs.Keyset.ID+" (staging):")
		require.Contains(t, tn.LastError, `"pnonboard-mixed-staging" in app `+app.ID+`, the keyset of tenant "mixed"`)
		require.Contains(t, tn.LastError, `"pnonboard-victim-staging" in app `+app.ID+`, the keyset of tenant "victim"`)
		require.Len(t, tn.Drift, 1)
		require.Equal(t, tenants.DriftKeysetForeign, tn.Drift[0].Kind)
		require.Zero(t, h.sb.CallCount(sandbox.OpCreateCustomer, sandbox.OpAssignKeysets), "nothing assigned")
		require.Empty(t, h.sb.Customers())
	})

	// An operator's retry of a failed tenant reads its holdings back before using them, however
	// recently they were confirmed: here the keyset the tenant held when it failed was swapped
	// for another tenant's (a restored backup, an upstream that reused IDs), and the retry fails
	// at verify instead of creating the customer with someone else's keyset.
	t.Run("ARetryReadsTheHoldingsOfAFailedTenantBack", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		rc := h.startReplica(t)
		victim := h.createActive(t, "victim", "staging")
		h.sb.InjectFault(sandbox.OpCreateCustomer, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "no OEM permission yet"}, 1)
		h.create(t, "swapped", "staging")
		tn := h.waitState(t, "swapped", tenants.StateFailed, settle)
		require.Equal(t, "create_customer", tn.FailedStep)
		require.NotNil(t, tn.VerifiedAt, "its app and keyset were confirmed by their creation moments ago")
		require.NoError(t, rc.Stop(ctx))

		tenantstest.HoldKeyset(t, h.db.Pool, tn.ID, "staging", tenantstest.Keyset{KeysetID: victim.Keysets[0].KeysetID, PublishKey: "pub-c-x", SubscribeKey: "sub-c-x"})
		reads := h.sb.CallCount(sandbox.OpGetApp, sandbox.OpGetKeyset)
		creates := h.sb.CallCount(sandbox.OpCreateCustomer, sandbox.OpAssignKeysets)
		h.startReplica(t)
		_, err := h.tenants.Retry(ctx, "swapped", "test")
		require.NoError(t, err)

		tn = h.waitState(t, "swapped", tenants.StateFailed, settle)
		require.Equal(t, "verify", tn.FailedStep)
		require.Contains(t, tn.LastError, "keyset "+victim.Keysets[0].KeysetID)
		require.Contains(t, tn.LastError, `"pnonboard-victim-staging" in app `+victim.AppID)
		require.Contains(t, tn.LastError, `"pnonboard-swapped-staging" in app `+tn.AppID)
		require.Equal(t, reads+2, h.sb.CallCount(sandbox.OpGetApp, sandbox.OpGetKeyset), "the app and the keyset were read back")
		require.Equal(t, creates, h.sb.CallCount(sandbox.OpCreateCustomer, sandbox.OpAssignKeysets), "no customer made with the victim's keyset")
		require.Len(t, h.sb.Customers(), 1)
		for _, k := range h.sb.Keysets() {
			if k.ID == victim.Keysets[0].KeysetID {
				require.Equal(t, victim.CustomerID, k.CustomerID, "still the victim's alone")
			}
		}
	})

	t.Run("TwoCandidatesForALostCreateFailWithBothIDs", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		client := pubnub.New(h.sbURL, h.sb.APIKey(), "2026-02-09", nil)
		var ids []string
		for range 2 {
			app, err := client.CreateApp(ctx, tenants.AppName("twice"))
			require.NoError(t, err)
			ids = append(ids, app.ID)
		}
		tn := h.create(t, "twice")
		tenantstest.MarkAppPending(t, h.db.Pool, tn.ID) // a create whose answer was lost
		h.startReplica(t)
		tn = h.waitState(t, "twice", tenants.StateFailed, settle)
		require.Equal(t, "create_app", tn.FailedStep)
		require.Contains(t, tn.LastError, ids[0]+", "+ids[1])
		require.Len(t, h.sb.Apps(), 2, "no third app")
	})

	// A job trusts holdings confirmed within VerifyAfter (a day: the drift sweep keeps them
	// fresh), so a day-two change costs no reads; older ones it reads back before using them.
	// The happy path of provisioning never reads anything back.
	t.Run("AStaleConfirmationIsReadBackOnceAndProvisioningNeverIs", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		tn := h.create(t, "read-back", "staging")
		h.waitState(t, "read-back", tenants.StateActive, settle)
		reads := func() int { return h.sb.CallCount(sandbox.OpGetApp, sandbox.OpGetKeyset, sandbox.OpGetCustomer) }
		require.Zero(t, reads())
		_, err := h.tenants.Disable(ctx, "read-back", "", "test")
		require.NoError(t, err)
		h.waitState(t, "read-back", tenants.StateDisabled, settle)
		require.Zero(t, reads(), "confirmed by its creation a moment ago")

		tenantstest.AgeConfirmation(t, h.db.Pool, tn.ID, 26*time.Hour)
		_, err = h.tenants.Enable(ctx, "read-back", "", "test")
		require.NoError(t, err)
		h.waitState(t, "read-back", tenants.StateActive, settle)
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpGetApp))
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpGetKeyset))
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpGetCustomer))
		require.Zero(t, h.sb.CallCount(sandbox.OpGetKeysetConfig), "enabled: Access Manager may be either way")
	})
}

func TestLongestExternalIDProvisions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	h.startReplica(t)
	id := strings.Repeat("a", 200) + strings.Repeat("Z9_-", 13) + "end" // 255 characters
	require.Len(t, id, 255)
	_, _, err := h.tenants.Create(context.Background(), tenants.CreateParams{ExternalID: id, Name: "Longest", Actor: "test"})
	require.NoError(t, err)
	tn := h.waitState(t, id, tenants.StateActive, settle)
	h.requireUpstreamExactlyOnce(t, tn)
	for _, a := range h.sb.Apps() {
		require.LessOrEqual(t, len(a.Name), 255)
	}
}

// Retry on a tenant backing off after an upstream fault runs its job now: with a backoff of
// ten minutes (the cap), the tenant is active within seconds.
func TestRetryNowSkipsTheBackoff(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{retryBase: time.Hour})
	h.sb.InjectFault(sandbox.OpCreateApp, sandbox.Fault{Kind: sandbox.FaultServerError}, 1)
	rc := h.startReplica(t)
	h.create(t, "hurry")
	require.Eventually(t, func() bool {
		j := onlyJob(t, rc)
		return j.State == "retryable" && j.ScheduledAt.After(time.Now().Add(5*time.Minute))
	}, settle, 20*time.Millisecond, "the job backs off for minutes")

	tn, err := h.tenants.Retry(context.Background(), "hurry", "test")
	require.NoError(t, err)
	require.Equal(t, tenants.StateProvisioning, tn.State)
	tn = h.waitState(t, "hurry", tenants.StateActive, 10*time.Second)
	h.requireUpstreamExactlyOnce(t, tn)
	events, _, err := h.tenants.Events(context.Background(), "hurry", 100, "")
	require.NoError(t, err)
	require.Contains(t, actions(events), tenants.ActionRetryNowRequested)
}

// A lost answer on a create is found on the listing's last pages, in an account already
// holding a thousand tenants that pnonboard does not know of (so its first guess, page 1, is
// wrong and only teaches it the total), without walking it: two pages for the app and two for
// the keyset, of 11 and 31 (and one call to read the keyset's secret back).
func TestAdoptionReadsTheNewestPagesOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	_, err := h.sb.Prefill(1000, &sandbox.PrefillOpts{CreatedAt: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	h.sb.InjectFault(sandbox.OpCreateApp, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
	h.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
	h.startReplica(t)
	tn := h.createActive(t, "needle", "staging")
	h.requireUpstreamExactlyOnce(t, tn)
	require.LessOrEqual(t, h.sb.CallCount(sandbox.OpListApps), 2, "apps: %d pages read of 11", h.sb.CallCount(sandbox.OpListApps))
	require.LessOrEqual(t, h.sb.CallCount(sandbox.OpListKeysets), 2, "keysets: %d pages read of 31", h.sb.CallCount(sandbox.OpListKeysets))
	require.Equal(t, 1, h.sb.CallCount(sandbox.OpListSecretKeys))
	events, _, err := h.tenants.Events(context.Background(), "needle", 100, "")
	require.NoError(t, err)
	require.Contains(t, actions(events), tenants.ActionAppAdopted)
	require.Contains(t, actions(events), tenants.ActionKeysetAdopted)
}
