package provisioner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// sweep runs one drift sweep to its end, then waits for the checks it asked for, and returns
// the run.
func (h *harness) sweep(t *testing.T) *provisioner.DriftRun {
	t.Helper()
	ctx := context.Background()
	before, _, err := provisioner.LastDriftRun(ctx, h.db.Pool)
	require.NoError(t, err)
	// The last sweep's job may still be completing: one sweep at a time.
	require.Eventually(t, func() bool {
		res, err := h.inserter.Insert(ctx, provisioner.DriftSweepArgs{}, nil)
		require.NoError(t, err)
		return !res.UniqueSkippedAsDuplicate
	}, settle, 20*time.Millisecond)
	deadline := time.Now().Add(settle)
	for {
		run, ok, err := provisioner.LastDriftRun(ctx, h.db.Pool)
		require.NoError(t, err)
		if ok && (before == nil || run.ID != before.ID) {
			h.waitAtRest(t)
			return run
		}
		require.True(t, time.Now().Before(deadline), "drift sweep never finished")
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAtRest waits until no tenant has a check pending or is in flight, and no reconcile
// job is left (a check's safe repairs run in its job after the check).
func (h *harness) waitAtRest(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		busy := ""
		for _, tn := range h.all(t) {
			if tn.CheckRequested != "" || slices.Contains(tenants.InFlight(), tn.State) {
				busy = fmt.Sprintf("%s is %s (check %q)", tn.ExternalID, tn.State, tn.CheckRequested)
			}
		}
		var live int
		require.NoError(t, h.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'tenant_reconcile' AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&live))
		if live > 0 {
			busy = fmt.Sprintf("%d reconcile jobs live", live)
		}
		if busy == "" {
			return
		}
		if !time.Now().Before(deadline) {
			rows, _ := h.db.Pool.Query(context.Background(), `SELECT id, kind, state::text, args::text || ' sched ' || scheduled_at::text || ' created ' || created_at::text || ' now ' || now()::text, attempt, coalesce(errors::text,'') FROM river_job ORDER BY id`)
			for rows.Next() {
				var id int64
				var kind, state, args, errs string
				var attempt int
				_ = rows.Scan(&id, &kind, &state, &args, &attempt, &errs)
				t.Logf("job %d %s %s %s attempt %d %s", id, kind, state, args, attempt, errs)
			}
			rows.Close()
		}
		require.True(t, time.Now().Before(deadline), busy)
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) all(t *testing.T) []*tenants.Tenant {
	t.Helper()
	list, _, err := h.tenants.List(context.Background(), tenants.ListParams{Limit: 100})
	require.NoError(t, err)
	return list
}

func (h *harness) get(t *testing.T, externalID string) *tenants.Tenant {
	t.Helper()
	tn, err := h.tenants.GetByExternalID(context.Background(), externalID)
	require.NoError(t, err)
	return tn
}

// actions lists the tenant's timeline actions.
func (h *harness) actions(t *testing.T, externalID string) []tenants.Action {
	t.Helper()
	events, _, err := h.tenants.Events(context.Background(), externalID, 500, "")
	require.NoError(t, err)
	var out []tenants.Action
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func kinds(tn *tenants.Tenant) []tenants.DriftKind {
	var out []tenants.DriftKind
	for _, d := range tn.Drift {
		out = append(out, d.Kind)
	}
	return out
}

// driftOpts lift the sandbox's limit: these tests are about what is checked, and background
// work gets a fifth of what upstream allows.
func driftOpts() harnessOpts {
	return harnessOpts{sandbox: &sandbox.Opts{RatePerMinute: 6000}}
}

func TestDrift(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AnUntouchedAccountShowsNoDriftAndCostsOnlyListings", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, driftOpts())
		h.startReplica(t)
		for _, id := range []string{"a", "b", "c"} {
			h.create(t, id)
		}
		for _, id := range []string{"a", "b", "c"} {
			h.waitState(t, id, tenants.StateActive, settle)
		}
		_, err := h.tenants.Disable(ctx, "c", "", "test")
		require.NoError(t, err)
		h.waitState(t, "c", tenants.StateDisabled, settle)

		before := len(h.sb.Calls())
		run := h.sweep(t)
		// One customers listing, one page of apps, one of keysets, and the configs of the
		// disabled tenant's three keysets (to see Access Manager on).
		require.Equal(t, 1+1+1+3, len(h.sb.Calls())-before)
		require.Equal(t, 6, run.Calls)
		require.Zero(t, run.Suspects)
		for _, tn := range h.all(t) {
			require.Empty(t, tn.Drift, tn.ExternalID)
			require.NotNil(t, tn.LastCheckedAt, tn.ExternalID)
			require.WithinDuration(t, time.Now(), *tn.LastCheckedAt, settle)
		}
		// The configs read this run are not read again until the next run's turn comes.
		before = len(h.sb.Calls())
		h.sweep(t)
		require.Equal(t, 1+1+1+3, len(h.sb.Calls())-before)
	})

	t.Run("SafeDifferencesAreRepairedByTheSweep", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, driftOpts())
		h.startReplica(t)
		h.create(t, "unassigned", "development", "staging")
		h.create(t, "unlocked", "development")
		h.waitState(t, "unassigned", tenants.StateActive, settle)
		h.waitState(t, "unlocked", tenants.StateActive, settle)
		_, err := h.tenants.Disable(ctx, "unlocked", "", "test")
		require.NoError(t, err)
		h.waitState(t, "unlocked", tenants.StateDisabled, settle)

		staging := h.get(t, "unassigned").Keyset("staging").KeysetID
		require.NoError(t, h.sb.UnassignKeyset(staging))
		dev := h.get(t, "unlocked").Keyset("development").KeysetID
		require.NoError(t, h.sb.SetAccessManager(dev, false))

		run := h.sweep(t)
		require.Equal(t, 2, run.Suspects)

		tn := h.get(t, "unassigned")
		require.Empty(t, tn.Drift)
		require.Equal(t, tn.CustomerID, h.upstreamKeyset(t, staging).CustomerID, "assigned again")
		require.Contains(t, h.actions(t, "unassigned"), tenants.ActionDriftDetected)
		require.Contains(t, h.actions(t, "unassigned"), tenants.ActionDriftRepaired)
		require.Equal(t, tenants.StateActive, tn.State)

		tn = h.get(t, "unlocked")
		require.Empty(t, tn.Drift)
		require.True(t, h.upstreamKeyset(t, dev).Config.AccessManager.Enabled, "locked again")
		require.Contains(t, h.actions(t, "unlocked"), tenants.ActionDriftRepaired)
		require.Equal(t, tenants.StateDisabled, tn.State)
	})

	t.Run("DestructiveDifferencesAreReportedUntilRepaired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, driftOpts())
		h.startReplica(t)
		ids := []string{"keyset-gone", "renamed", "customer-gone", "app-renamed"}
		for _, id := range ids {
			h.create(t, id, "development", "staging")
		}
		for _, id := range ids {
			h.waitState(t, id, tenants.StateActive, settle)
		}
		gone := h.get(t, "keyset-gone").Keyset("staging")
		require.NoError(t, h.sb.DeleteKeyset(gone.KeysetID))
		renamed := h.get(t, "renamed")
		require.NoError(t, h.sb.RenameKeyset(renamed.Keyset("development").KeysetID, "someone's idea"))
		require.NoError(t, h.sb.RenameCustomer(renamed.CustomerID, "Renamed By Hand"))
		require.NoError(t, h.sb.DeleteCustomer(h.get(t, "customer-gone").CustomerID))
		require.NoError(t, h.sb.RenameApp(h.get(t, "app-renamed").AppID, "my app"))

		run := h.sweep(t)
		require.Equal(t, 4, run.Suspects)
		want := map[string][]tenants.DriftKind{
			"keyset-gone":   {tenants.DriftKeysetDeleted},
			"renamed":       {tenants.DriftKeysetRenamed, tenants.DriftCustomerRenamed},
			"customer-gone": {tenants.DriftCustomerDeleted},
			"app-renamed":   {tenants.DriftAppRenamed},
		}
		for id, kinds_ := range want {
			tn := h.get(t, id)
			require.ElementsMatch(t, kinds_, kinds(tn), id)
			require.Equal(t, tenants.StateActive, tn.State, "%s: reported, not failed", id)
			require.Contains(t, h.actions(t, id), tenants.ActionDriftDetected)
		}
		// Still reported on the next sweep, with the time it was first seen.
		first := h.get(t, "keyset-gone").Drift[0].DetectedAt
		h.sweep(t)
		require.Equal(t, first, h.get(t, "keyset-gone").Drift[0].DetectedAt)

		for id := range want {
			_, err := h.tenants.Repair(ctx, id, "test")
			require.NoError(t, err)
		}
		for id := range want {
			tn := h.waitState(t, id, tenants.StateActive, settle)
			require.Empty(t, tn.Drift, id)
			h.requireUpstreamExactlyOnce(t, tn)
		}
		tn := h.get(t, "keyset-gone")
		require.NotEqual(t, gone.KeysetID, tn.Keyset("staging").KeysetID, "made again, new keys")
		require.NotEqual(t, gone.PublishKey, tn.Keyset("staging").PublishKey)
		require.Equal(t, "Tenant renamed", h.sb.Customers()[slices.IndexFunc(h.sb.Customers(), func(c sandbox.Customer) bool { return c.ExternalID == "renamed" })].Name)

		// Repaired means in sync: the next sweep suspects nobody.
		run = h.sweep(t)
		require.Zero(t, run.Suspects)
	})

	t.Run("CheckNowReadsOneTenant", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, driftOpts())
		h.startReplica(t)
		tn := h.createActive(t, "read-back", "development")
		require.NoError(t, h.sb.RenameCustomer(tn.CustomerID, "Elsewhere"))

		before := len(h.sb.Calls())
		_, err := h.tenants.RequestCheck(ctx, "read-back", "test")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(h.get(t, "read-back").Drift) == 1 }, settle, 20*time.Millisecond)
		require.Equal(t, 3, len(h.sb.Calls())-before, "app, keyset and customer read back")
		tn = h.get(t, "read-back")
		require.Equal(t, tenants.DriftCustomerRenamed, tn.Drift[0].Kind)
		require.Equal(t, `"Elsewhere"`, tn.Drift[0].Actual)
		require.Equal(t, `"Tenant read-back"`, tn.Drift[0].Expected)
	})

	// A held resource that is gone blocks every later change until it is repaired.
	t.Run("AChangeOverAGoneResourceFailsNamingTheRepair", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, driftOpts())
		h.startReplica(t)
		tn := h.createActive(t, "blocked", "development")
		require.NoError(t, h.sb.DeleteKeyset(tn.Keyset("development").KeysetID))
		_, err := h.tenants.RequestCheck(ctx, "blocked", "test")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(h.get(t, "blocked").Drift) == 1 }, settle, 20*time.Millisecond)

		_, err = h.tenants.Disable(ctx, "blocked", "", "test")
		require.NoError(t, err)
		tn = h.waitState(t, "blocked", tenants.StateFailed, settle)
		require.Contains(t, tn.LastError, "no longer exists upstream")
		require.Contains(t, tn.LastError, "POST /v1/tenants/blocked/repair")

		_, err = h.tenants.Repair(ctx, "blocked", "test")
		require.NoError(t, err)
		tn = h.waitState(t, "blocked", tenants.StateDisabled, settle)
		require.Empty(t, tn.Drift)
		require.True(t, h.upstreamKeyset(t, tn.Keyset("development").KeysetID).Config.AccessManager.Enabled)
	})
}

// The sweep's cost is its listings, 1 + ⌈apps/100⌉ + ⌈keysets/100⌉ calls however many
// tenants there are (the bench measures 10,000), and the configs of the locked keysets (here
// all of them: the listings leave room for far more under the goal of 500).
func TestDriftSweepCostsItsListings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, driftOpts())
	const n = 250
	made, err := h.sb.Prefill(n, nil)
	require.NoError(t, err)
	list := make([]tenants.Imported, n)
	envs := []string{"development", "staging", "production"}
	const disabled = 10 // every 25th
	for i, p := range made {
		im := tenants.Imported{ExternalID: p.ExternalID, Name: p.ExternalID, AppID: p.AppID, CustomerID: p.CustomerID, Disabled: i%25 == 0}
		for j, id := range p.KeysetIDs {
			im.Keysets = append(im.Keysets, tenants.ImportedKeyset{Environment: envs[j], Type: "testing", KeysetID: id})
			if im.Disabled {
				require.NoError(t, h.sb.SetAccessManager(id, true))
			}
		}
		list[i] = im
	}
	_, err = tenants.ImportProvisioned(context.Background(), h.db.Pool, list)
	require.NoError(t, err)
	time.Sleep(10 * time.Millisecond) // the sweep compares tenants unchanged since it began
	h.startReplica(t)
	before := len(h.sb.Calls())
	run := h.sweep(t)
	require.Equal(t, 1+3+8+3*disabled, len(h.sb.Calls())-before)
	require.Equal(t, 3*disabled, len(h.configsRead(before)))
	require.Equal(t, 1+3+8+3*disabled, run.Calls)
	require.Zero(t, run.Suspects)
	require.Equal(t, disabled, tenantstest.Count(t, h.db.Pool, tenants.StateDisabled))
	for _, tn := range tenantstest.All(t, h.db.Pool) {
		require.NotNil(t, tn.LastCheckedAt)
		require.Empty(t, tn.Drift)
	}
}

// configsRead lists the keysets whose config the calls since before read, in order.
func (h *harness) configsRead(before int) []string {
	var ids []string
	for _, c := range h.sb.Calls()[before:] {
		if c.Op == sandbox.OpGetKeysetConfig {
			ids = append(ids, strings.TrimSuffix(strings.TrimPrefix(c.Path, "/v2/keysets/"), "/config"))
		}
	}
	return ids
}

// A sweep reads only as many locked keysets' configs as its call goal leaves room for,
// longest unread first, and stamps lastCheckedAt only on tenants it checked in full: one
// whose config waits for a later sweep keeps its old lastCheckedAt, and Access Manager turned
// off there is found when its turn comes.
func TestDriftSweepReadsLockedConfigsInTurn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := driftOpts()
	opts.driftCallGoal = 4 // three listings (one page each) leave room for one config a sweep
	h := newHarness(t, opts)
	h.startReplica(t)
	for _, id := range []string{"locked-a", "locked-b"} {
		h.createActive(t, id, "development")
	}
	h.createActive(t, "retires", "development", "staging")
	h.createActive(t, "open", "development")
	for _, id := range []string{"locked-a", "locked-b"} {
		_, err := h.tenants.Disable(ctx, id, "", "test")
		require.NoError(t, err)
		h.waitState(t, id, tenants.StateDisabled, settle)
	}
	h.patch(t, "retires", tenants.Patch{Environments: []string{"development"}})
	h.waitState(t, "retires", tenants.StateActive, settle)

	lockedA := h.get(t, "locked-a").Keyset("development").KeysetID
	lockedB := h.get(t, "locked-b").Keyset("development").KeysetID
	retired := h.get(t, "retires").Keyset("staging")
	require.Equal(t, tenants.KeysetRetired, retired.State())
	// Behind pnonboard's back: Access Manager off on a disabled tenant's keyset and on a
	// retired environment's, neither of which the first sweep has room to read.
	require.NoError(t, h.sb.SetAccessManager(lockedB, false))
	require.NoError(t, h.sb.SetAccessManager(retired.KeysetID, false))
	checkedBefore := map[string]*time.Time{}
	for _, tn := range h.all(t) {
		checkedBefore[tn.ExternalID] = tn.LastCheckedAt
	}

	// First sweep: locked-a's config only.
	before := len(h.sb.Calls())
	run := h.sweep(t)
	require.Equal(t, []string{lockedA}, h.configsRead(before))
	require.Equal(t, 4, run.Calls)
	require.Zero(t, run.Suspects, "the keysets turned off are not read yet")
	for _, id := range []string{"locked-a", "open"} {
		tn := h.get(t, id)
		require.NotNil(t, tn.LastCheckedAt, id)
		require.True(t, tn.LastCheckedAt.After(run.StartedAt), "%s: every check of it was done", id)
	}
	for _, id := range []string{"locked-b", "retires"} {
		tn := h.get(t, id)
		require.Equal(t, checkedBefore[id], tn.LastCheckedAt, "%s: its locked keyset's config was not read, so it is not checked", id)
		require.Empty(t, tn.Drift, id)
	}
	require.False(t, h.upstreamKeyset(t, lockedB).Config.AccessManager.Enabled, "not found yet")

	// Second sweep: the next never read, locked-b's: found and turned on again.
	before = len(h.sb.Calls())
	run = h.sweep(t)
	require.Equal(t, []string{lockedB}, h.configsRead(before)[:1])
	require.Equal(t, 1, run.Suspects)
	tn := h.get(t, "locked-b")
	require.Empty(t, tn.Drift)
	require.True(t, tn.LastCheckedAt.After(run.StartedAt))
	require.True(t, h.upstreamKeyset(t, lockedB).Config.AccessManager.Enabled, "locked again")
	require.Contains(t, h.actions(t, "locked-b"), tenants.ActionDriftDetected)
	require.Contains(t, h.actions(t, "locked-b"), tenants.ActionDriftRepaired)
	require.Equal(t, checkedBefore["retires"], h.get(t, "retires").LastCheckedAt, "still waiting for its turn")
	require.False(t, h.upstreamKeyset(t, retired.KeysetID).Config.AccessManager.Enabled)

	// Third sweep: the retired environment's keyset, repaired as a disabled tenant's is.
	before = len(h.sb.Calls())
	run = h.sweep(t)
	require.Equal(t, []string{retired.KeysetID}, h.configsRead(before)[:1])
	require.Equal(t, 1, run.Suspects)
	tn = h.get(t, "retires")
	require.Empty(t, tn.Drift)
	require.Equal(t, tenants.StateActive, tn.State)
	require.Equal(t, tenants.KeysetRetired, tn.Keyset("staging").State())
	require.True(t, tn.LastCheckedAt.After(run.StartedAt))
	require.True(t, h.upstreamKeyset(t, retired.KeysetID).Config.AccessManager.Enabled, "locked again")
	events, _, err := h.tenants.Events(ctx, "retires", 200, "")
	require.NoError(t, err)
	var detected, repaired bool
	for _, e := range events {
		switch e.Action {
		case tenants.ActionDriftDetected:
			detected = strings.Contains(fmt.Sprint(e.Detail["drift"]), string(tenants.DriftAccessManagerOff))
		case tenants.ActionDriftRepaired:
			repaired = e.Detail["kind"] == string(tenants.DriftAccessManagerOff) && e.Detail["keysetId"] == retired.KeysetID
		}
	}
	require.True(t, detected, "drift_detected names access_manager_off")
	require.True(t, repaired, "drift_repaired names the retired keyset")

	// Fourth sweep: every locked keyset has been read once; the longest ago comes first.
	before = len(h.sb.Calls())
	h.sweep(t)
	require.Equal(t, []string{lockedA}, h.configsRead(before))
}

// The kinds a person in the portal (or PubNub support) makes that leave a tenant holding
// something that is not its own, and a deleted app: the sweep finds each, the check reports
// it as check.go names it. A deleted app is made again on repair, keysets and all; what is
// someone else's is not repairable (repair has nothing to do), and a change that would use it
// fails the tenant naming both sides, changing nothing upstream.
func TestDriftForeignKindsAndADeletedApp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, driftOpts())
	h.startReplica(t)
	ids := []string{"extra-keyset", "moved", "foreign", "app-gone"}
	for _, id := range ids {
		h.create(t, id, "development")
	}
	for _, id := range ids {
		h.waitState(t, id, tenants.StateActive, settle)
	}
	// Resources pnonboard never made: another partner's customer, app and keysets.
	stranger, err := h.sb.Prefill(1, &sandbox.PrefillOpts{ExternalIDFunc: func(int) string { return "stranger" }})
	require.NoError(t, err)
	strangerKeyset, strangerApp := stranger[0].KeysetIDs[0], stranger[0].AppID

	extra := h.get(t, "extra-keyset")
	require.NoError(t, h.sb.AssignKeyset(strangerKeyset, extra.CustomerID))
	moved := h.get(t, "moved")
	movedKeyset := moved.Keyset("development").KeysetID
	require.NoError(t, h.sb.MoveKeyset(movedKeyset, strangerApp))
	foreign := h.get(t, "foreign")
	require.NoError(t, h.sb.SetCustomerExternalID(foreign.CustomerID, "somebody-else"))
	appGone := h.get(t, "app-gone")
	require.NoError(t, h.sb.DeleteApp(appGone.AppID))

	run := h.sweep(t)
	require.Equal(t, 4, run.Suspects)
	want := map[string]tenants.Drift{
		"extra-keyset": {Kind: tenants.DriftCustomerKeysets, Resource: tenants.CustomerResource(extra.CustomerID),
			Expected: "only this tenant's keysets (" + extra.Keyset("development").KeysetID + ")", Actual: "also keysets " + strangerKeyset},
		"moved": {Kind: tenants.DriftKeysetElsewhere, Resource: tenants.KeysetResource(moved.Keyset("development")),
			Expected: fmt.Sprintf("%q in app %s", tenants.KeysetName("moved", "development"), moved.AppID),
			Actual:   fmt.Sprintf("%q in app %s", tenants.KeysetName("moved", "development"), strangerApp)},
		"foreign": {Kind: tenants.DriftCustomerForeign, Resource: tenants.CustomerResource(foreign.CustomerID),
			Expected: `externalId "foreign"`, Actual: `externalId "somebody-else"`},
		"app-gone": {Kind: tenants.DriftAppDeleted, Resource: tenants.AppResource(appGone.AppID),
			Expected: fmt.Sprintf("%q", tenants.AppName("app-gone")), Actual: "deleted"},
	}
	for id, d := range want {
		tn := h.get(t, id)
		require.Len(t, tn.Drift, 1, "%s: %v", id, tn.Drift)
		got := tn.Drift[0]
		got.DetectedAt = time.Time{}
		require.Equal(t, d, got, id)
		require.Equal(t, tenants.StateActive, tn.State, "%s: reported, not failed", id)
		require.Contains(t, h.actions(t, id), tenants.ActionDriftDetected, id)
		require.NotContains(t, h.actions(t, id), tenants.ActionDriftRepaired, "%s: not safe, not repaired", id)
	}
	require.Equal(t, moved.AppID, h.get(t, "moved").AppID, "nothing adopted")

	// Repair: the app is made again, with its keyset, assigned to the same customer.
	_, err = h.tenants.Repair(ctx, "app-gone", "test")
	require.NoError(t, err)
	tn := h.waitState(t, "app-gone", tenants.StateActive, settle)
	require.Empty(t, tn.Drift)
	require.NotEqual(t, appGone.AppID, tn.AppID)
	require.NotEqual(t, appGone.Keyset("development").KeysetID, tn.Keyset("development").KeysetID)
	require.Equal(t, appGone.CustomerID, tn.CustomerID, "the customer keeps its place")
	h.requireUpstreamExactlyOnce(t, tn)

	// What is someone else's has nothing repair can do; a change over it fails, naming both
	// sides, and nothing is changed upstream.
	for _, id := range []string{"extra-keyset", "moved", "foreign"} {
		before := h.sb.CallCount()
		tn, err := h.tenants.Repair(ctx, id, "test")
		require.NoError(t, err)
		require.Equal(t, tenants.StateActive, tn.State, "%s: nothing to repair", id)
		require.Len(t, tn.Drift, 1, id)
		require.Equal(t, want[id].Kind, tn.Drift[0].Kind)
		require.Contains(t, h.actions(t, id), tenants.ActionRepairRequested)

		_, err = h.tenants.Disable(ctx, id, "", "test")
		require.NoError(t, err)
		tn = h.waitState(t, id, tenants.StateFailed, settle)
		require.Contains(t, tn.LastError, want[id].Resource, id)
		require.Contains(t, tn.LastError, "this tenant's is "+want[id].Expected, id)
		require.Contains(t, tn.LastError, "upstream it is "+want[id].Actual, id)
		require.Contains(t, tn.LastError, "nothing was changed upstream", id)
		require.Zero(t, h.sb.CallCount(sandbox.OpUpdateKeysetConfig)+h.sb.CallCount(sandbox.OpRotateSecretKey), "%s: nothing locked", id)
		require.Zero(t, h.sb.CallCount()-before, "%s: no call upstream", id)
	}
	require.False(t, h.upstreamKeyset(t, movedKeyset).Config.AccessManager.Enabled, "the moved keyset is left alone")
}
