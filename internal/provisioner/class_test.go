package provisioner_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// classRecorder is the transport under the budget's: it records the budget class each request
// carries (the one the budget took its slot for), and sends it on.
type classRecorder struct {
	mu    sync.Mutex
	calls []classedCall
}

type classedCall struct {
	Class provisioner.Class
	Call  string // method and path
}

func (r *classRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.calls = append(r.calls, classedCall{provisioner.ClassOf(req.Context()), req.Method + " " + req.URL.Path})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// take returns the calls recorded since the last take.
func (r *classRecorder) take() []classedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// classes counts calls by class.
func classes(calls []classedCall) map[provisioner.Class]int {
	out := map[provisioner.Class]int{}
	for _, c := range calls {
		out[c.Class]++
	}
	return out
}

// waitChecked waits until the tenant's requested check has run and its job is done.
func (h *harness) waitChecked(t *testing.T, externalID string) *tenants.Tenant {
	t.Helper()
	var tn *tenants.Tenant
	require.Eventually(t, func() bool {
		var err error
		tn, err = h.tenants.GetByExternalID(context.Background(), externalID)
		require.NoError(t, err)
		var live int
		require.NoError(t, h.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'tenant_reconcile' AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&live))
		return tn.CheckRequested == "" && tn.LastCheckedAt != nil && live == 0
	}, settle, 20*time.Millisecond)
	return tn
}

// The budget class of every upstream call, as the real callers set it: a signup's provisioning
// is signup (a customer is waiting), an operator's disable, enable, check and retry of a
// provisioned tenant are operator, the drift sweep and the checks it asks for are background.
func TestCallersUseTheirBudgetClass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	rec := &classRecorder{}
	h.startReplicaVia(t, rec)
	only := func(t *testing.T, want provisioner.Class, calls []classedCall, atLeast int) {
		t.Helper()
		require.GreaterOrEqual(t, len(calls), atLeast, "calls: %v", calls)
		require.Equal(t, map[provisioner.Class]int{want: len(calls)}, classes(calls), "calls: %v", calls)
	}

	h.createActive(t, "acme", "staging", "production")
	only(t, provisioner.ClassSignup, rec.take(), 2+2)

	_, err := h.tenants.Disable(ctx, "acme", "", "test")
	require.NoError(t, err)
	h.waitState(t, "acme", tenants.StateDisabled, settle)
	only(t, provisioner.ClassOperator, rec.take(), 2) // a config update and a rotation a keyset

	_, err = h.tenants.Enable(ctx, "acme", "", "test")
	require.NoError(t, err)
	h.waitState(t, "acme", tenants.StateActive, settle)
	only(t, provisioner.ClassOperator, rec.take(), 2)

	_, err = h.tenants.RequestCheck(ctx, "acme", "test")
	require.NoError(t, err)
	h.waitChecked(t, "acme")
	only(t, provisioner.ClassOperator, rec.take(), 1+2+1) // the app, each keyset, the customer

	// A disable refused upstream fails the tenant; the operator's retry is operator work.
	h.sb.InjectFault(sandbox.OpUpdateKeysetConfig, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "no"}, 1)
	_, err = h.tenants.Disable(ctx, "acme", "", "test")
	require.NoError(t, err)
	h.waitState(t, "acme", tenants.StateFailed, settle)
	only(t, provisioner.ClassOperator, rec.take(), 1)
	_, err = h.tenants.Retry(ctx, "acme", "test")
	require.NoError(t, err)
	h.waitState(t, "acme", tenants.StateDisabled, settle)
	only(t, provisioner.ClassOperator, rec.take(), 1+2+1+2) // read back, then the disable

	// The drift sweep reads the listings in the background, and so does the check it asks
	// for of a tenant whose app was renamed by hand.
	require.NoError(t, h.sb.RenameApp(h.sbApp(t, "acme"), "my app"))
	before, _, err := provisioner.LastDriftRun(ctx, h.db.Pool)
	require.NoError(t, err)
	_, err = h.inserter.Insert(ctx, provisioner.DriftSweepArgs{}, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		run, ok, err := provisioner.LastDriftRun(ctx, h.db.Pool)
		require.NoError(t, err)
		return ok && (before == nil || run.ID != before.ID) && run.FinishedAt != nil
	}, settle, 20*time.Millisecond)
	tn := h.waitChecked(t, "acme")
	require.Len(t, tn.Drift, 1, "the sweep's check ran")
	calls := rec.take()
	only(t, provisioner.ClassBackground, calls, 1+1+1+1+2+1) // three listings, then the check's reads
	var reads int
	for _, c := range calls {
		if c.Call == "GET /v2/apps/"+tn.AppID {
			reads++
		}
	}
	require.Equal(t, 1, reads, "the check's read of the app is among them: %v", calls)
}

// A retry of a tenant that never finished provisioning is still a signup: its customer is
// still waiting (classOf), whoever asked for it.
func TestARetriedSignupStaysASignup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	rec := &classRecorder{}
	h.startReplicaVia(t, rec)
	h.sb.InjectFault(sandbox.OpCreateCustomer, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 403, Message: "no"}, 1)
	h.create(t, "late", "staging")
	h.waitState(t, "late", tenants.StateFailed, settle)
	rec.take()
	_, err := h.tenants.Retry(ctx, "late", "test")
	require.NoError(t, err)
	h.waitState(t, "late", tenants.StateActive, settle)
	calls := rec.take()
	require.GreaterOrEqual(t, len(calls), 1+1+1, "the app and keyset read back, then the customer: %v", calls)
	require.Equal(t, map[provisioner.Class]int{provisioner.ClassSignup: len(calls)}, classes(calls), "calls: %v", calls)
}

// sbApp is the sandbox's ID of the tenant's app.
func (h *harness) sbApp(t *testing.T, externalID string) string {
	t.Helper()
	tn, err := h.tenants.GetByExternalID(context.Background(), externalID)
	require.NoError(t, err)
	require.NotEmpty(t, tn.AppID)
	return tn.AppID
}
