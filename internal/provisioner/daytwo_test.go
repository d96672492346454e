package provisioner_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// patch applies a change through the domain service, as PATCH /v1/tenants/{id} does.
func (h *harness) patch(t *testing.T, externalID string, p tenants.Patch) *tenants.Tenant {
	t.Helper()
	p.Actor = "test"
	tn, err := h.tenants.Update(context.Background(), externalID, p)
	require.NoError(t, err)
	return tn
}

// upstreamKeyset is the sandbox's keyset id.
func (h *harness) upstreamKeyset(t *testing.T, id string) sandbox.Keyset {
	t.Helper()
	for _, k := range h.sb.Keysets() {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no keyset %s upstream", id)
	return sandbox.Keyset{}
}

func TestDayTwo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RenameCostsOneCall", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		h.createActive(t, "renamed", "staging")
		before := len(h.sb.Calls())

		tn := h.patch(t, "renamed", tenants.Patch{Name: new("Renamed Inc")})
		require.Equal(t, tenants.StateUpdating, tn.State)
		tn = h.waitState(t, "renamed", tenants.StateActive, settle)
		require.Equal(t, "Renamed Inc", tn.Name)
		require.Equal(t, 1, len(h.sb.Calls())-before, "one call: PUT /oem/customers/{id}")
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpUpdateCustomer))
		require.Equal(t, "Renamed Inc", h.sb.Customers()[0].Name)

		// The same patch again changes nothing and starts no job.
		tn = h.patch(t, "renamed", tenants.Patch{Name: new("Renamed Inc")})
		require.Equal(t, tenants.StateActive, tn.State)
		time.Sleep(200 * time.Millisecond)
		require.Equal(t, 1, len(h.sb.Calls())-before)
	})

	t.Run("AddRetireAndReAddAnEnvironment", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		h.createActive(t, "grows", "staging")
		before := len(h.sb.Calls())

		h.patch(t, "grows", tenants.Patch{Environments: []string{"staging", "development"}})
		tn := h.waitState(t, "grows", tenants.StateActive, settle)
		require.Equal(t, 2, len(h.sb.Calls())-before, "one create and one assign")
		require.Equal(t, 1, h.sb.CallCount(sandbox.OpAssignKeysets))
		dev := tn.Keyset("development")
		require.NotNil(t, dev)
		require.Equal(t, tenants.KeysetActive, dev.State())
		require.False(t, h.upstreamKeyset(t, dev.KeysetID).Config.AccessManager.Enabled, "development's profile")
		h.requireUpstreamExactlyOnce(t, tn)

		// Removed: retired, locked as a disable locks it, still assigned.
		secretBefore := mainSecret(h.upstreamKeyset(t, dev.KeysetID))
		h.patch(t, "grows", tenants.Patch{Environments: []string{"staging"}})
		tn = h.waitState(t, "grows", tenants.StateActive, settle)
		require.Equal(t, []string{"staging"}, tn.Environments)
		dev = tn.Keyset("development")
		require.Equal(t, tenants.KeysetRetired, dev.State())
		up := h.upstreamKeyset(t, dev.KeysetID)
		require.True(t, up.Config.AccessManager.Enabled)
		require.NotEqual(t, secretBefore, mainSecret(up), "secret rotated")
		require.Equal(t, tn.CustomerID, up.CustomerID, "still assigned")
		require.Equal(t, tn.Keyset("staging").RotatedFor, 0, "the other is untouched")
		h.requireUpstreamExactlyOnce(t, tn)

		// Added again: the same keyset, open again.
		h.patch(t, "grows", tenants.Patch{Environments: []string{"development", "staging"}})
		tn = h.waitState(t, "grows", tenants.StateActive, settle)
		require.Equal(t, dev.KeysetID, tn.Keyset("development").KeysetID)
		require.Equal(t, tenants.KeysetActive, tn.Keyset("development").State())
		require.Equal(t, "development", tn.Keysets[0].Environment, "in the new order")
		require.False(t, h.upstreamKeyset(t, dev.KeysetID).Config.AccessManager.Enabled, "open again, as its profile has it")
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpCreateKeyset), "no keyset made twice")

		events, _, err := h.tenants.Events(ctx, "grows", 200, "")
		require.NoError(t, err)
		var requested, updated int
		for _, e := range events {
			switch e.Action {
			case tenants.ActionUpdateRequested:
				requested++
				require.Contains(t, e.Detail, "before")
				require.Contains(t, e.Detail, "after")
			case tenants.ActionUpdated:
				updated++
			}
		}
		require.Equal(t, 3, requested)
		require.Equal(t, 3, updated)
	})

	// The acceptance's case: staging added (Access Manager on, from its profile at create)
	// costs exactly one create and one assign.
	t.Run("AddStagingCostsOneCreateAndOneAssign", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		h.createActive(t, "staged", "development")
		before := len(h.sb.Calls())
		creates, assigns := h.sb.CallCount(sandbox.OpCreateKeyset), h.sb.CallCount(sandbox.OpAssignKeysets)

		h.patch(t, "staged", tenants.Patch{Environments: []string{"development", "staging"}})
		tn := h.waitState(t, "staged", tenants.StateActive, settle)
		require.Equal(t, 2, len(h.sb.Calls())-before, "one create and one assign, nothing else")
		require.Equal(t, creates+1, h.sb.CallCount(sandbox.OpCreateKeyset))
		require.Equal(t, assigns+1, h.sb.CallCount(sandbox.OpAssignKeysets))
		staging := tn.Keyset("staging")
		require.NotNil(t, staging)
		require.Equal(t, tenants.KeysetActive, staging.State())
		require.Equal(t, []string{"development", "staging"}, tn.Environments)
		up := h.upstreamKeyset(t, staging.KeysetID)
		require.True(t, up.Config.AccessManager.Enabled, "staging's profile, set at create")
		require.Equal(t, tn.CustomerID, up.CustomerID, "assigned")
		h.requireUpstreamExactlyOnce(t, tn)
		requirePatchBy(t, h, "staged", "test")
	})

	t.Run("SixEnvironmentsAreRefused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.startReplica(t)
		h.createActive(t, "five", "development", "staging")
		// Retire staging: its keyset still counts against the customer's five.
		h.patch(t, "five", tenants.Patch{Environments: []string{"development"}})
		h.waitState(t, "five", tenants.StateActive, settle)
		_, err := h.tenants.Update(ctx, "five", tenants.Patch{Environments: []string{"development", "production", "qa", "demo", "sandbox"}, Actor: "test"})
		fields, ok := invalid.FieldsOf(err)
		require.True(t, ok, "%v", err)
		require.Contains(t, fields["environments"], "6 keysets")
	})

	t.Run("NotWhileFailed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		h.sb.InjectFault(sandbox.OpCreateApp, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, -1)
		h.startReplica(t)
		h.create(t, "broken", "development")
		h.waitState(t, "broken", tenants.StateFailed, settle)
		_, err := h.tenants.Update(ctx, "broken", tenants.Patch{Name: new("Other"), Actor: "test"})
		var se *tenants.StateError
		require.ErrorAs(t, err, &se)
		// Metadata is pnonboard's alone: it changes in any state.
		tn := h.patch(t, "broken", tenants.Patch{Metadata: map[string]*string{"plan": new("pro")}})
		require.Equal(t, "pro", tn.Metadata["plan"])
		tn = h.patch(t, "broken", tenants.Patch{Metadata: map[string]*string{"plan": nil}})
		require.NotContains(t, tn.Metadata, "plan")
	})

	// Every new step is leak-safe: a lost answer on each still ends with one of everything.
	for _, op := range []sandbox.Operation{sandbox.OpCreateKeyset, sandbox.OpAssignKeysets, sandbox.OpUpdateCustomer} {
		t.Run("LostAnswer"+string(op), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOpts{retryBase: 50 * time.Millisecond})
			h.startReplica(t)
			h.createActive(t, "lossy", "development")
			h.sb.InjectFault(op, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
			h.patch(t, "lossy", tenants.Patch{Name: new("Lossy Ltd"), Environments: []string{"development", "staging"}})
			tn := h.waitState(t, "lossy", tenants.StateActive, settle)
			h.requireUpstreamExactlyOnce(t, tn)
			require.Equal(t, "Lossy Ltd", h.sb.Customers()[0].Name)
			require.Equal(t, "Lossy Ltd", tn.CustomerName)
		})
	}
}

// requireLost checks that a call of op was answered 500 (the lost fault fired).
func requireLost(t *testing.T, h *harness, op sandbox.Operation) {
	t.Helper()
	for _, c := range h.sb.Calls() {
		if c.Op == op && c.Status == 500 {
			return
		}
	}
	t.Fatalf("no answer of %s was lost", op)
}

// requirePatchBy checks the tenant's timeline records its (last) PATCH as asked by actor,
// with what it was before and after.
func requirePatchBy(t *testing.T, h *harness, externalID, actor string) {
	t.Helper()
	events, _, err := h.tenants.Events(context.Background(), externalID, 200, "")
	require.NoError(t, err)
	for _, e := range events {
		if e.Action == tenants.ActionUpdateRequested {
			require.Equal(t, actor, e.Actor)
			require.Contains(t, e.Detail, "before")
			require.Contains(t, e.Detail, "after")
			return
		}
	}
	t.Fatalf("no %s on the timeline of %s", tenants.ActionUpdateRequested, externalID)
}

// The steps a repair and a retirement take are leak-safe too: an answer lost after upstream
// did the work still ends with one of everything, the work done once.
func TestDayTwoLostAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lossy := func(t *testing.T) *harness {
		h := newHarness(t, harnessOpts{retryBase: 50 * time.Millisecond})
		h.startReplica(t)
		return h
	}
	// checkThenRepair has a check find what portal did, then repairs it with op's answer lost once.
	checkThenRepair := func(t *testing.T, h *harness, id string, kind tenants.DriftKind, op sandbox.Operation) *tenants.Tenant {
		t.Helper()
		_, err := h.tenants.RequestCheck(ctx, id, "test")
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(h.get(t, id).Drift) == 1 }, settle, 20*time.Millisecond)
		require.Equal(t, kind, h.get(t, id).Drift[0].Kind)
		h.sb.InjectFault(op, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
		_, err = h.tenants.Repair(ctx, id, "operator-1")
		require.NoError(t, err)
		tn := h.waitState(t, id, tenants.StateActive, settle)
		requireLost(t, h, op)
		require.Empty(t, tn.Drift)
		h.requireUpstreamExactlyOnce(t, tn)
		events, _, err := h.tenants.Events(ctx, id, 200, "")
		require.NoError(t, err)
		var repaired bool
		for _, e := range events {
			if e.Action == tenants.ActionRepairRequested {
				require.Equal(t, "operator-1", e.Actor)
				repaired = true
			}
		}
		require.True(t, repaired, "the repair is on the timeline")
		return tn
	}

	t.Run("LostAnswerRenameApp", func(t *testing.T) {
		t.Parallel()
		h := lossy(t)
		tn := h.createActive(t, "app", "development")
		require.NoError(t, h.sb.RenameApp(tn.AppID, "my app"))
		checkThenRepair(t, h, "app", tenants.DriftAppRenamed, sandbox.OpUpdateApp)
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpUpdateApp), "the lost rename, then the same again")
		require.Equal(t, tenants.AppName("app"), h.sb.Apps()[0].Name)
	})

	t.Run("LostAnswerRenameKeyset", func(t *testing.T) {
		t.Parallel()
		h := lossy(t)
		tn := h.createActive(t, "keyset", "development", "staging")
		staging := tn.Keyset("staging").KeysetID
		require.NoError(t, h.sb.RenameKeyset(staging, "someone's idea"))
		checkThenRepair(t, h, "keyset", tenants.DriftKeysetRenamed, sandbox.OpUpdateKeyset)
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpUpdateKeyset), "the lost rename, then the same again")
		require.Equal(t, tenants.KeysetName("keyset", "staging"), h.upstreamKeyset(t, staging).Name)
	})

	t.Run("LostAnswerRecreateCustomer", func(t *testing.T) {
		t.Parallel()
		h := lossy(t)
		tn := h.createActive(t, "customer", "development", "staging")
		require.NoError(t, h.sb.DeleteCustomer(tn.CustomerID))
		after := checkThenRepair(t, h, "customer", tenants.DriftCustomerDeleted, sandbox.OpCreateCustomer)
		require.NotEqual(t, tn.CustomerID, after.CustomerID, "made again")
		require.Len(t, h.sb.Customers(), 1, "once, though its answer was lost")
		require.Equal(t, 2, h.sb.CallCount(sandbox.OpCreateCustomer), "the first provisioning and the lost one: found, not sent again")
		require.Equal(t, "customer", h.sb.Customers()[0].ExternalID)
		require.Contains(t, h.actions(t, "customer"), tenants.ActionCustomerAdopted, "the lost create found by its externalId")
	})

	// Retiring locks the keyset: Access Manager on, then the secret rotated. Either answer lost.
	for _, op := range []sandbox.Operation{sandbox.OpUpdateKeysetConfig, sandbox.OpRotateSecretKey} {
		t.Run("LostAnswerRetireKeyset"+string(op), func(t *testing.T) {
			t.Parallel()
			h := lossy(t)
			tn := h.createActive(t, "retiring", "development", "staging")
			staging := tn.Keyset("staging").KeysetID
			secretBefore := mainSecret(h.upstreamKeyset(t, staging))
			rotations := h.sb.CallCount(sandbox.OpRotateSecretKey)

			h.sb.InjectFault(op, sandbox.Fault{Kind: sandbox.FaultLost}, 1)
			h.patch(t, "retiring", tenants.Patch{Environments: []string{"development"}})
			tn = h.waitState(t, "retiring", tenants.StateActive, settle)
			requireLost(t, h, op)
			require.Equal(t, tenants.KeysetRetired, tn.Keyset("staging").State())
			up := h.upstreamKeyset(t, staging)
			require.True(t, up.Config.AccessManager.Enabled)
			require.NotEqual(t, secretBefore, mainSecret(up), "secret rotated")
			require.Equal(t, rotations+1, h.sb.CallCount(sandbox.OpRotateSecretKey), "rotated once, not again after the lost answer")
			require.Len(t, up.SecretKeys, 1, "no second rotation left a secret expiring")
			h.requireUpstreamExactlyOnce(t, tn) // the stored secret is the real, rotated one
			requirePatchBy(t, h, "retiring", "test")
		})
	}
}
