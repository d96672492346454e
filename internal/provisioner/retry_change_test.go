package provisioner_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// outcomes records what the worker announces, per tenant.
type outcomes struct {
	mu  sync.Mutex
	got map[string][]tenants.Outcome
}

func (o *outcomes) Announce(_ context.Context, _ pgx.Tx, outcome tenants.Outcome, t *tenants.Tenant) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.got == nil {
		o.got = map[string][]tenants.Outcome{}
	}
	o.got[t.ExternalID] = append(o.got[t.ExternalID], outcome)
	return nil
}

func (o *outcomes) of(externalID string) []tenants.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]tenants.Outcome(nil), o.got[externalID]...)
}

// A change to a provisioned tenant that fails and is retried is still a change: it settles as
// updated and is announced as tenant.updated, not as an unannounced "enabled".
func TestRetryOfAFailedChangeSettlesAsUpdated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &outcomes{}
	h := newHarness(t, harnessOpts{announcer: rec})
	h.startReplica(t)
	h.createActive(t, "changes", "development")

	h.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, -1)
	h.patch(t, "changes", tenants.Patch{Environments: []string{"development", "staging"}})
	failed := h.waitState(t, "changes", tenants.StateFailed, settle)
	require.NotEmpty(t, failed.FailedStep)

	h.sb.ClearFaults()
	_, err := h.tenants.Retry(ctx, "changes", "test")
	require.NoError(t, err)
	tn := h.waitState(t, "changes", tenants.StateActive, settle)
	require.Len(t, tn.Keysets, 2)
	h.requireUpstreamExactlyOnce(t, tn)

	events, _, err := h.tenants.Events(ctx, "changes", 200, "")
	require.NoError(t, err)
	require.Equal(t, tenants.ActionUpdated, events[len(events)-1].Action, "the retried change settles as updated")
	require.Equal(t, []tenants.Outcome{tenants.OutcomeProvisioned, tenants.OutcomeUpdated}, rec.of("changes"))
}

// The same for a disabled tenant: the retried change settles it disabled again, as updated,
// and announces tenant.updated, not a second tenant.disabled.
func TestRetryOfAFailedChangeToADisabledTenantSettlesAsUpdated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &outcomes{}
	h := newHarness(t, harnessOpts{announcer: rec})
	h.startReplica(t)
	h.createActive(t, "resting", "development")
	_, err := h.tenants.Disable(ctx, "resting", "unpaid", "test")
	require.NoError(t, err)
	disabled := h.waitState(t, "resting", tenants.StateDisabled, settle)
	require.NotNil(t, disabled.DisabledAt)

	h.sb.InjectFault(sandbox.OpCreateKeyset, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403}, -1)
	h.patch(t, "resting", tenants.Patch{Environments: []string{"development", "staging"}})
	h.waitState(t, "resting", tenants.StateFailed, settle)

	h.sb.ClearFaults()
	_, err = h.tenants.Retry(ctx, "resting", "test")
	require.NoError(t, err)
	tn := h.waitState(t, "resting", tenants.StateDisabled, settle)
	require.Len(t, tn.Keysets, 2)
	require.Equal(t, disabled.DisabledAt.UTC(), tn.DisabledAt.UTC(), "still disabled since the disable")

	events, _, err := h.tenants.Events(ctx, "resting", 200, "")
	require.NoError(t, err)
	require.Equal(t, tenants.ActionUpdated, events[len(events)-1].Action, "the retried change settles as updated")
	require.Equal(t, []tenants.Outcome{tenants.OutcomeProvisioned, tenants.OutcomeDisabled, tenants.OutcomeUpdated}, rec.of("resting"))
}
